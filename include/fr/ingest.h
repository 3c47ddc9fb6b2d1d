/* SPDX-License-Identifier: MIT */
/*
 * A stream's producer slot: at most one producer at a time. Bytes are read from the
 * producer's socket straight into the frame under construction; the splitter finds
 * where it ends, and the frame is published as it is, without a copy.
 */
#ifndef FR_INGEST_H
#define FR_INGEST_H

#include <ev.h>

#include "fr/addr.h"
#include "fr/stream.h"

struct fr_ingest;

struct fr_ingest_params {
	size_t max_frame_bytes;
	int validate;		/* check each frame with libjpeg-turbo */
	double idle_timeout_s;	/* disconnect a producer silent this long; 0: never */
};

/* A producer slot feeding s (borrowed; must outlive it). NULL on ENOMEM. */
struct fr_ingest *fr_ingest_new(struct ev_loop *loop, struct fr_stream *s,
    const struct fr_ingest_params *params);

/*
 * New limits (SIGHUP): --validate and --producer-timeout apply at once; a new
 * --max-frame-size from the next producer on, so a frame keeps the limit it began under.
 */
void fr_ingest_set_params(struct fr_ingest *ing, const struct fr_ingest_params *params);

/* Disconnects the producer (a partial frame counts as truncated). NULL does nothing. */
void fr_ingest_free(struct fr_ingest *ing);

/*
 * Takes ownership of fd, a connected non-blocking socket, as the stream's producer.
 * A current producer is disconnected first and its partial frame dropped as truncated.
 */
void fr_ingest_attach(struct fr_ingest *ing, int fd, const struct fr_addr *peer);

/* Called when another producer takes over an external one; see below. */
typedef void (*fr_ingest_replaced_fn)(void *arg);

/*
 * Makes an external source (an HTTP request body) the stream's producer; it pushes
 * bytes with fr_ingest_feed() and ends with fr_ingest_end_feed(). A current producer
 * is disconnected first. If another producer takes over later, replaced(arg) is
 * called and the source must stop feeding. is_framed: the body is
 * multipart/x-mixed-replace, so bytes between frames are part headers, not garbage.
 */
void fr_ingest_attach_feed(struct fr_ingest *ing, const struct fr_addr *peer, int is_framed,
    fr_ingest_replaced_fn replaced, void *arg);

/*
 * Like fr_ingest_attach_feed() for a source that pulls the stream from elsewhere (an
 * upstream camera, pull.c) and feeds only JPEG bytes (is_framed 0): it watches its own
 * upstream for stalls, so --producer-timeout does not apply to it. replaced(arg) is
 * called only when another producer takes over (or at fr_ingest_free).
 */
void fr_ingest_attach_source(struct fr_ingest *ing, const struct fr_addr *peer,
    fr_ingest_replaced_fn replaced, void *arg);

/* Bytes from the external producer (copied into the frame under construction). */
void fr_ingest_feed(struct fr_ingest *ing, const uint8_t *data, size_t len);

/*
 * The external producer's current unit (a multipart part, a polled image) has ended:
 * a frame still in progress is dropped as truncated, and the next bytes start afresh,
 * so a broken part never swallows the frame in the next one.
 */
void fr_ingest_end_unit(struct fr_ingest *ing);

/* The external producer is done (why: for the log); a partial frame is truncated. */
void fr_ingest_end_feed(struct fr_ingest *ing, const char *why);

/* Called when the producer slot has become empty; see fr_ingest_watch_vacancy(). */
typedef void (*fr_ingest_vacant_fn)(void *arg);

/*
 * The hook a pulled stream's source needs to yield to pushed producers: a producer that
 * connects to the stream's ingest address (or PUTs to /ingest/NAME) replaces the source
 * (its replaced callback) and wins while it is there; fn(arg) is called each time a
 * producer leaves and the slot stays empty (end of stream, an error, --producer-timeout,
 * fr_ingest_end_feed, including the source's own), so that the source can take the slot
 * again. Not called when one producer replaces another, nor by fr_ingest_free. fn may
 * attach a producer. One watcher per ingest; NULL stops watching.
 */
void fr_ingest_watch_vacancy(struct fr_ingest *ing, fr_ingest_vacant_fn fn, void *arg);

/* True while a producer is connected. */
int fr_ingest_has_producer(const struct fr_ingest *ing);

/* The producer's address, or NULL when none is connected. */
const char *fr_ingest_producer(const struct fr_ingest *ing);

#endif /* FR_INGEST_H */
