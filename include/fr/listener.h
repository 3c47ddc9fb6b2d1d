/* SPDX-License-Identifier: MIT */
/*
 * A listening socket on the loop. It accepts in batches and hands each connection
 * to a callback; when the process runs out of file descriptors it pauses
 * accepting for a moment instead of spinning on a readable listen socket.
 */
#ifndef FR_LISTENER_H
#define FR_LISTENER_H

#include <ev.h>

#include "fr/acl.h"
#include "fr/addr.h"

struct fr_listener;

/* Owns fd from now on; must close it or hand it on. */
typedef void (*fr_listener_accept_fn)(int fd, const struct fr_addr *peer, void *arg);

/*
 * Binds and listens on addr. Returns NULL with one line in err (FR_ERR_LEN bytes)
 * naming the option and address, e.g. "--listen 127.0.0.1:12346: Address in use".
 */
struct fr_listener *fr_listener_new(struct ev_loop *loop, const char *option,
    const struct fr_addr *addr, fr_listener_accept_fn on_accept, void *arg, char *err);

/*
 * Accept only peers acl permits (borrowed; may change between events). Others are
 * closed at once, counted in *denied and logged at most once a second.
 */
void fr_listener_set_acl(struct fr_listener *l, const struct fr_acl *acl, uint64_t *denied);

/* Starts accepting connections. */
void fr_listener_start(struct fr_listener *l);

/* Stops accepting and closes the socket (and removes a unix socket file). */
void fr_listener_free(struct fr_listener *l);

/* The bound address (the real port when the address asked for port 0). */
const struct fr_addr *fr_listener_addr(const struct fr_listener *l);

#endif /* FR_LISTENER_H */
