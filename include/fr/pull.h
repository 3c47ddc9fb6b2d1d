/* SPDX-License-Identifier: MIT */
/*
 * A pulled stream's source (--stream NAME,from=URL): framerouter as the client of an
 * upstream camera or MJPEG server, feeding what it receives into the stream's producer
 * slot like any pushed producer. It resolves, connects, asks, and reads on the loop,
 * reconnects with exponential backoff and jitter, polls still images, follows redirects,
 * optionally pulls only while the stream has subscribers, and steps aside while a
 * pushed producer has the stream. It does not parse JPEG: the ingest's splitter does.
 */
#ifndef FR_PULL_H
#define FR_PULL_H

#include <ev.h>

#include "fr/config.h"
#include "fr/ingest.h"
#include "fr/resolve.h"
#include "fr/stats.h"
#include "fr/stream.h"

/* Settings every puller shares, from the process's options (they change on SIGHUP). */
struct fr_pull_params {
	/* --producer-timeout: an attempt that has not begun streaming by then, and a
	 * streaming upstream that has sent no frame for this long, are given up on;
	 * 0 means 10 s for attempts and no limit while streaming. */
	double timeout_s;
};

/* The first retry waits this long; each failure in a row doubles it, up to reconnect-max. */
#define FR_PULL_BACKOFF_MIN_S 0.1

struct fr_pull;

/*
 * A source for stream s through its producer slot ing (both borrowed, outliving the
 * puller), pulling as cfg says (copied). Starts at once, or, with on-demand, when the
 * stream has its first subscriber. Takes the stream's demand watch (on-demand) and the
 * ingest's vacancy watch. NULL on ENOMEM.
 */
struct fr_pull *fr_pull_new(struct ev_loop *loop, struct fr_resolver *resolver,
    struct fr_stream *s, struct fr_ingest *ing, const struct fr_pull_config *cfg,
    const struct fr_pull_params *params);

/* Closes the upstream connection and ends the feed (a partial frame is truncated),
 * releases the watches, and frees p. NULL does nothing. */
void fr_pull_free(struct fr_pull *p);

/* New shared settings (SIGHUP); they apply from the next deadline on. */
void fr_pull_set_params(struct fr_pull *p, const struct fr_pull_params *params);

/* What p was made with, to compare with a reloaded configuration. */
const struct fr_pull_config *fr_pull_config_of(const struct fr_pull *p);

/* p's state and counters for /stats and /metrics at time now; the strings are p's. */
void fr_pull_get_info(const struct fr_pull *p, double now, struct fr_stats_upstream *out);

/*
 * The delay before retry number failures (1 for the first retry): FR_PULL_BACKOFF_MIN_S
 * doubled for each failure after the first, capped at max_s, then scaled by a jitter
 * factor in [0.75, 1] drawn from u (uniform in [0, 1)). Pure.
 */
double fr_pull_backoff_s(unsigned failures, double max_s, double u);

#endif /* FR_PULL_H */
