/* SPDX-License-Identifier: MIT */
/*
 * Listening, accepting and connecting. Errors go to the caller's buffer with the
 * address they concern ("127.0.0.1:12345: Address already in use").
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fr/net.h"

/*
 * A unix socket file left by a dead process would make bind fail forever. Remove
 * it only if it is a socket and nobody answers on it.
 */
static void
unlink_stale_unix(const struct fr_addr *a)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
	struct stat st;

	if (stat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno == ECONNREFUSED)
		unlink(sun->sun_path);
	close(fd);
}

int
fr_net_listen(const struct fr_addr *a, int backlog, char *err)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, FR_ERR_LEN, "%s: socket: %s", a->text, strerror(errno));
		return -1;
	}
	if (fr_addr_is_unix(a))
		unlink_stale_unix(a);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		snprintf(err, FR_ERR_LEN, "%s: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) < 0) {
		snprintf(err, FR_ERR_LEN, "%s: listen: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
fr_net_connect(const struct fr_addr *a, char *err)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, FR_ERR_LEN, "%s: socket: %s", a->text, strerror(errno));
		return -1;
	}
	while (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno == EINTR)
			continue;
		snprintf(err, FR_ERR_LEN, "%s: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
fr_net_accept(int listen_fd, struct fr_addr *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0)
		fr_addr_from_sockaddr(peer, (struct sockaddr *)&ss, len);
	return fd;
}

void
fr_net_set_nodelay(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int one = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int
fr_net_set_notsent_lowat(int fd, size_t bytes)
{
	int v = bytes > INT_MAX ? INT_MAX : (int)bytes;

	return setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v);
}

int
fr_net_local_addr(int fd, struct fr_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	fr_addr_from_sockaddr(a, (struct sockaddr *)&ss, len);
	return 0;
}
