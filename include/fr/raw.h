/* SPDX-License-Identifier: MIT */
/*
 * A stream's raw TCP ports: producers push a raw MJPEG byte stream to its --ingest
 * address, subscribers read one from its --listen address. Subscribers are admitted
 * through admit.c like HTTP ones; a producer replaces the stream's current one.
 */
#ifndef FR_RAW_H
#define FR_RAW_H

#include <ev.h>

#include "fr/acl.h"
#include "fr/addr.h"
#include "fr/admit.h"
#include "fr/registry.h"

struct fr_raw;

/*
 * Binds e's raw ports: ingest and/or listen (NULL: none). Returns NULL with one line
 * in err (FR_ERR_LEN bytes) naming the option and address when one cannot be bound.
 * e and admit are borrowed and must outlive it.
 */
struct fr_raw *fr_raw_new(struct ev_loop *loop, struct fr_registry_entry *e,
    struct fr_admit *admit, const struct fr_addr *ingest, const struct fr_addr *listen,
    char *err);

/* Starts accepting and logs where. */
void fr_raw_start(struct fr_raw *r);

/* Subscribers on the listen port get the frames scaled as spec asks (copied; plain:
 * as they are). Check fr_scaler_is_available() first. */
void fr_raw_set_listen_scale(struct fr_raw *r, const struct fr_scale_spec *spec);

/* Who may connect (borrowed; may change between events); refusals bump *denied. */
void fr_raw_set_acls(struct fr_raw *r, const struct fr_acl *ingest, const struct fr_acl *listen,
    uint64_t *denied);

/* Closes the listening sockets (connections already made go on). NULL does nothing. */
void fr_raw_free(struct fr_raw *r);

/* The bound --ingest address, or NULL when the stream has none. */
const struct fr_addr *fr_raw_ingest_addr(const struct fr_raw *r);

#endif /* FR_RAW_H */
