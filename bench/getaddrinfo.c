/* getaddrinfo: the baseline for resolving many hosts.  Resolves every name
 * of a file, one after another, the way a program that loops over
 * getaddrinfo() would; both families, like egressd.
 *
 * usage: getaddrinfo NAMES_FILE
 * prints: names resolved, addresses, failures */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static size_t count_addrs(const struct addrinfo *ai)
{
	size_t n = 0;

	for (; ai; ai = ai->ai_next)
		n++;
	return n;
}

int main(int argc, char **argv)
{
	/* One socket type, so each address is listed once, not per type. */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	size_t names = 0, addrs = 0, failed = 0;
	char name[256];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: getaddrinfo NAMES_FILE\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(name, sizeof(name), f)) {
		struct addrinfo *res;

		name[strcspn(name, "\r\n")] = '\0';
		if (!name[0])
			continue;
		names++;
		if (getaddrinfo(name, "443", &hints, &res) != 0) {
			failed++;
			continue;
		}
		addrs += count_addrs(res);
		freeaddrinfo(res);
	}
	fclose(f);
	printf("%zu %zu %zu\n", names, addrs, failed);
	return failed ? 1 : 0;
}
