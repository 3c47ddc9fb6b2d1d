/* SPDX-License-Identifier: MIT */
/*
 * Federation over NATS (--nats). Every frame this node ingests is published on
 * PREFIX.NAME, whole, with headers naming its origin; a stream this node serves but
 * does not ingest is fed from its subject, and only while it has subscribers. nats.c
 * (libnats) runs its own threads: they never touch a frame or a stream. Messages
 * reach the loop through an ev_async and a bounded newest-wins inbox per stream;
 * frames to publish leave it through a newest-wins slot per stream, to a publisher
 * thread, so the loop never waits on NATS.
 */
#ifndef FR_NATS_H
#define FR_NATS_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "fr/registry.h"
#include "fr/stats.h"

/* Room left below the server's max_payload for the headers of a frame's message. */
#define FR_NATS_HEADER_ROOM 1024

/* Headers of every frame message (NATS headers need nats-server 2.2 or later). */
#define FR_NATS_HDR_ORIGIN "Framerouter-Origin"	/* --node-id of the ingesting node */
#define FR_NATS_HDR_INSTANCE "Framerouter-Instance"	/* changes when that node restarts */
#define FR_NATS_HDR_SEQ "Framerouter-Seq"	/* per stream and instance, from 0 */
#define FR_NATS_HDR_TIME "Framerouter-Time"	/* ingest time, Unix seconds, microseconds */

struct fr_nats;

struct fr_nats_params {
	const char *urls;		/* "URL[,URL]...": nats://, tls:// or HOST:PORT */
	const char *creds_file;		/* NULL or "": none */
	const char *token;		/* NULL or "": none */
	const char *ca_file, *cert_file, *key_file;	/* TLS; NULL or "": none */
	const char *prefix;		/* subjects are PREFIX.NAME */
	const char *node_id;		/* this node in the Origin header */
	bool jetstream;			/* keep each subject's latest frame in JetStream */
	size_t max_frame_bytes;		/* --max-frame-size: must fit the server's max_payload */
};

/* True when this build supports --nats (libnats headers were found at configure time). */
bool fr_nats_is_available(void);

/* "libnats 3.4.1" once loaded, else what this build would load. */
const char *fr_nats_library(void);

/*
 * Loads libnats and prepares the connection options (reading TLS files): what can
 * fail because of the operator's input fails here, before anything is bound.
 * Connects nothing and starts no thread. NULL with one line in err (FR_ERR_LEN bytes).
 */
struct fr_nats *fr_nats_new(struct ev_loop *loop, const struct fr_nats_params *params,
    char *err);

/*
 * Serves reg's streams (borrowed; must outlive n or be freed first): every stream that
 * exists now or later publishes its frames and, while it has subscribers and no local
 * producer, is fed from NATS. Call once, before fr_nats_start().
 */
void fr_nats_serve(struct fr_nats *n, struct fr_registry *reg);

/*
 * Connects (one attempt through the server list, blocking up to the connect timeout)
 * and starts the threads; after a failed attempt nats.c keeps trying in the
 * background, forever, with backoff. Call after daemon(): threads do not survive a
 * fork. Returns -1 with one line in err when the server's max_payload cannot hold
 * a frame of --max-frame-size.
 */
int fr_nats_start(struct fr_nats *n, char *err);

/* Stops the threads, closes the connection, frees everything. Every stream must have
 * been removed (fr_registry_free) first. NULL does nothing. */
void fr_nats_free(struct fr_nats *n);

/* True while connected to a server (for GET /healthz). */
bool fr_nats_is_connected(const struct fr_nats *n);

/* The connection's state, as /stats names it: "connecting", "connected", ... */
const char *fr_nats_state(const struct fr_nats *n);

#endif /* FR_NATS_H */
