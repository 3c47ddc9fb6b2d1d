/* SPDX-License-Identifier: MIT */
/*
 * Socket helpers (redis anet.c style): they return -1 and describe the failure in
 * the caller's err buffer instead of logging, so startup can print one line and exit.
 */
#ifndef FR_NET_H
#define FR_NET_H

#include <stddef.h>

#include "fr/addr.h"

/* A non-blocking, close-on-exec listening socket bound to a. Returns the fd, or -1. */
int fr_net_listen(const struct fr_addr *a, int backlog, char *err);

/* A blocking connected socket to a. Returns the fd, or -1. */
int fr_net_connect(const struct fr_addr *a, char *err);

/* accept4() a non-blocking, close-on-exec socket; fills peer. -1 with errno set. */
int fr_net_accept(int listen_fd, struct fr_addr *peer);

/* TCP_NODELAY on TCP sockets; does nothing on unix sockets. */
void fr_net_set_nodelay(int fd);

/*
 * TCP_NOTSENT_LOWAT (Linux): the socket takes more bytes only while fewer than about
 * this many of its bytes are still unsent (one segment more may slip in), and polls
 * writable only below half of it. -1 with errno set, e.g. on a unix socket.
 */
int fr_net_set_notsent_lowat(int fd, size_t bytes);

/* The address a socket is bound to (useful with port 0 in tests). */
int fr_net_local_addr(int fd, struct fr_addr *a);

#endif /* FR_NET_H */
