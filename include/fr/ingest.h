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
};

/* A producer slot feeding s (borrowed; must outlive it). NULL on ENOMEM. */
struct fr_ingest *fr_ingest_new(struct ev_loop *loop, struct fr_stream *s,
    const struct fr_ingest_params *params);

/* Disconnects the producer (a partial frame counts as truncated). NULL does nothing. */
void fr_ingest_free(struct fr_ingest *ing);

/*
 * Takes ownership of fd, a connected non-blocking socket, as the stream's producer.
 * A current producer is disconnected first and its partial frame dropped as truncated.
 */
void fr_ingest_attach(struct fr_ingest *ing, int fd, const struct fr_addr *peer);

/* True while a producer is connected. */
int fr_ingest_has_producer(const struct fr_ingest *ing);

#endif /* FR_INGEST_H */
