/* sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET, which may
 * name the abstract namespace with a leading '@'. */
#include "egressd.h"
#include "state.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void notify_systemd(const char *msg)
{
	static bool warned;
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || !path[0])
		return;
	len = strlen(path);
	if (len >= sizeof(sun.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
			     offsetof(struct sockaddr_un, sun_path) + len) < 0) {
		if (!warned)
			log_warn("notify: cannot tell systemd '%s'", msg);
		warned = true;
	}
	if (fd >= 0)
		close(fd);
}
