/* connrate: short-lived TCP connections, one after another, to measure
 * what a ruleset costs per new connection.  The server ends each
 * connection with a reset, so neither side keeps TIME_WAIT state and the
 * client's ports never run out, however many connections a run makes.
 *
 * usage: connrate serve PORT
 *        connrate connect ADDR PORT SECONDS MAX
 * connect stops after SECONDS or MAX connections and prints
 *   connections seconds failures */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int serve(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4096) < 0) {
		perror("connrate: serve");
		return 1;
	}
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("connrate: accept");
			return 1;
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(c);
	}
}

/* One connection: handshake, then wait for the server's reset, so that
 * the next connect never races an accept queue that is filling up. */
static bool one_connection(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char b;
	bool ok;

	if (fd < 0) {
		perror("connrate: socket");
		return false;
	}
	/* A reset that beats connect() back to us still ends a handshake
	 * that completed: a port nobody listens on is ECONNREFUSED. */
	ok = connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0;
	if (!ok && errno == ECONNRESET)
		ok = true;
	else if (!ok)
		perror("connrate: connect");
	else if (read(fd, &b, 1) < 0 && errno != ECONNRESET) {
		perror("connrate: read");
		ok = false;
	}
	close(fd);
	return ok;
}

static int connect_loop(const char *addr, int port, double secs, long max)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	long done = 0, failed = 0;
	double t0, t = 0;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "connrate: bad address '%s'\n", addr);
		return 2;
	}
	t0 = now_s();
	do {
		if (one_connection(&sin))
			done++;
		else if (++failed > 10)
			break;
		t = now_s() - t0;
	} while (t < secs && done < max);
	printf("%ld %.6f %ld\n", done, t, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "connect"))
		return connect_loop(argv[2], atoi(argv[3]), atof(argv[4]), atol(argv[5]));
	fprintf(stderr, "usage: connrate serve PORT\n"
		"       connrate connect ADDR PORT SECONDS MAX\n");
	return 2;
}
