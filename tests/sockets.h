/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the Check binaries that talk to the code under test over sockets of
 * their own: making a socketpair and reading a nonblocking socket. Header-only; include
 * it after <check.h>. It knows nothing about the code under test.
 */
#ifndef FR_TESTS_SOCKETS_H
#define FR_TESTS_SOCKETS_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/* What small_buffers sets SO_SNDBUF and SO_RCVBUF to: a few frames' worth of KB fill it. */
enum { SOCKET_SMALL_BUFFER = 4096 };

/*
 * A nonblocking, close-on-exec AF_UNIX stream pair in sv; fails the test if it cannot be
 * made. With small_buffers, sv[0] sends and sv[1] receives through SOCKET_SMALL_BUFFER
 * bytes.
 */
static inline void
socket_pair(int sv[2], bool small_buffers)
{
	int size = SOCKET_SMALL_BUFFER;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
	    0);
	if (!small_buffers)
		return;
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
}

/*
 * One recv() of at most cap bytes from the nonblocking socket fd into buf, again after
 * EINTR. Returns the number of bytes read; 0 when there are none yet; -1 at EOF or on an
 * error (ECONNRESET), after which the caller stops reading.
 */
static inline ssize_t
socket_recv(int fd, void *buf, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, buf, cap, 0);

		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
}

#endif /* FR_TESTS_SOCKETS_H */
