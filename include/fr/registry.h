/* SPDX-License-Identifier: MIT */
/*
 * The streams of this daemon by name, each with its producer slot. Streams come from
 * the configuration (declared: they live as long as the daemon) or, pushed over HTTP,
 * into being on first push, up to --max-streams; those expire after
 * --stream-idle-timeout without a producer or a subscriber. Also gathers every
 * counter into one snapshot for /stats and /metrics.
 */
#ifndef FR_REGISTRY_H
#define FR_REGISTRY_H

#include <stdbool.h>

#include <ev.h>

#include "fr/buf.h"
#include "fr/history.h"
#include "fr/ingest.h"
#include "fr/pull.h"
#include "fr/scale.h"
#include "fr/stats.h"
#include "fr/stream.h"

/*
 * A stream and its producer slot. A declared entry lives until fr_registry_free; any
 * other may be freed by the registry's expiry timer once it has had no producer and
 * no subscriber for the idle timeout, so it must not be kept beyond a callback unless
 * it has one of those (an HTTP producer keeps the entry it feeds alive).
 */
struct fr_nats_feed;

struct fr_registry_entry {
	struct fr_stream *stream;
	struct fr_ingest *ingest;
	struct fr_scale *scale;		/* its scaled sizes */
	struct fr_pull *pull;		/* from=: the stream's puller, NULL if none; set by the
					 * caller (main.c), freed with the entry */
	struct fr_nats_feed *nats_feed;	/* the watcher's (nats.c) state for it, or NULL */
	bool is_declared;		/* --stream, or default: never expires */
	double idle_since;		/* unused since then; 0 while in use */
	/* This stream's own tokens (--stream NAME,subscribe-token=T,ingest-token=T),
	 * accepted besides the global ones; NULL or "" for none. Borrowed: whoever sets
	 * them keeps them alive (main.c: the running configuration). */
	const char *subscribe_token;
	const char *ingest_token;
	double stale_after_s;		/* this stream's --stale-after; 0: the global one */
	struct fr_history *history;	/* the last ten minutes, one sample a second */
};

/* Whether whoever asks may see entry e (its name, counters and history). */
typedef bool (*fr_registry_filter_fn)(const struct fr_registry_entry *e, void *arg);

struct fr_registry;

enum fr_registry_error {
	FR_REGISTRY_OK,
	FR_REGISTRY_BAD_NAME,		/* not a valid stream name */
	FR_REGISTRY_EXISTS,
	FR_REGISTRY_FULL,		/* --max-streams reached */
	FR_REGISTRY_NO_MEMORY,
};

struct fr_registry *fr_registry_new(struct ev_loop *loop, const struct fr_ingest_params *params,
    size_t max_streams);

/*
 * Someone told of every stream as it comes and goes (federation, nats.c): added(e)
 * once a stream exists, removed(e) just before it is freed (expiry or shutdown),
 * stats() to add its own counters to each /stats and /metrics snapshot, and
 * log_counters() to log them after the process's on SIGUSR1.
 */
struct fr_registry_watcher {
	void (*added)(struct fr_registry_entry *e, void *arg);
	void (*removed)(struct fr_registry_entry *e, void *arg);
	void (*stats)(struct fr_stats_snapshot *snap, void *arg);
	void (*log_counters)(void *arg);
	void *arg;
};

/* Sets the one watcher (NULL: none) and tells it of every stream that exists now. */
void fr_registry_watch(struct fr_registry *reg, const struct fr_registry_watcher *w);

/* Frees every stream, closing its producer and subscribers. NULL does nothing. */
void fr_registry_free(struct fr_registry *reg);

/* The stream called name, or NULL. */
struct fr_registry_entry *fr_registry_find(struct fr_registry *reg, const char *name);

/*
 * Adds a stream called name (declared: never expires) and stores it in *out. On
 * failure returns why, with one line in err (FR_ERR_LEN bytes) for the log or reply.
 */
enum fr_registry_error fr_registry_add(struct fr_registry *reg, const char *name,
    bool is_declared, struct fr_registry_entry **out, char *err);

/*
 * Streams that are not declared expire after idle_timeout_s without a producer and
 * without a subscriber (0: never): removed, counted in streams_expired and logged.
 */
void fr_registry_set_idle_timeout(struct fr_registry *reg, double idle_timeout_s);

/* New producer limits (SIGHUP), for every stream now and every stream created later. */
void fr_registry_set_ingest_params(struct fr_registry *reg, const struct fr_ingest_params *params);

/* The process-wide counters (stats.h), for whoever counts them to bump. */
struct fr_process_counters *fr_registry_counters(struct fr_registry *reg);

/* The process-wide count of connections refused by --allow, for listeners to bump. */
uint64_t *fr_registry_connections_denied(struct fr_registry *reg);

/* True when fn(e, arg) holds for some stream e. */
bool fr_registry_any(struct fr_registry *reg, fr_registry_filter_fn fn, void *arg);

/* Subscribers connected to all streams together. */
uint64_t fr_registry_clients(const struct fr_registry *reg);

enum fr_registry_format { FR_REGISTRY_JSON, FR_REGISTRY_PROMETHEUS };

/* Every counter of every stream and subscriber, formatted into b. */
void fr_registry_format_stats(struct fr_registry *reg, enum fr_registry_format format,
    struct fr_buf *b);

/* The same for the streams may_see(e, arg) accepts only (may_see NULL: all). */
void fr_registry_format_stats_for(struct fr_registry *reg, enum fr_registry_format format,
    fr_registry_filter_fn may_see, void *arg, struct fr_buf *b);

/*
 * GET /stats/history: one JSON object, {"interval_s": 1, "seconds": 600, "next": N,
 * "streams": {NAME: history, ...}} with each stream's samples numbered since and
 * later (see fr_history_format_json), for the stream called only (NULL: every stream
 * that may_see accepts; may_see NULL: all). Samples are numbered alike for every
 * stream; N is the number of the next, for the next poll's since.
 */
void fr_registry_format_history(struct fr_registry *reg, const char *only, uint64_t since,
    fr_registry_filter_fn may_see, void *arg, struct fr_buf *b);

/*
 * Takes a history sample of every stream at now (wall clock, as ev_now): what the
 * history timer does once a second; a late call takes one per second it missed, an
 * early one (under half a second) none. Never allocates.
 */
void fr_registry_sample_history(struct fr_registry *reg, double now);

/* Starts the one timer that samples every stream's history once a second. */
void fr_registry_start_history(struct fr_registry *reg);

/* --stale-after: a stream whose newest frame is older is stale (0: never). */
void fr_registry_set_stale_after(struct fr_registry *reg, double stale_after_s);

/* The limit that applies to e: its own stale-after, else --stale-after; 0: none. */
double fr_registry_stale_after(const struct fr_registry *reg, const struct fr_registry_entry *e);

/* True when e has a frame and it is older than e's limit at now. */
bool fr_registry_is_stale(const struct fr_registry *reg, const struct fr_registry_entry *e,
    double now);

/* Writes every counter to the log (SIGUSR1). */
void fr_registry_log_counters(struct fr_registry *reg);

#endif /* FR_REGISTRY_H */
