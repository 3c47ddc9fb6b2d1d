/* SPDX-License-Identifier: MIT */
/*
 * Counters, named exactly as /stats, /metrics and the SIGUSR1 dump name them, and
 * their text formatting. Pure: structs in, text out.
 */
#ifndef FR_STATS_H
#define FR_STATS_H

#include <stddef.h>
#include <stdint.h>

struct fr_stream_counters {
	uint64_t frames_in;		/* whole frames published */
	uint64_t bytes_in;		/* every byte a producer sent */
	uint64_t frames_out;		/* frames fully written to a subscriber */
	uint64_t bytes_out;		/* bytes written to subscribers */
	uint64_t dropped_slow_client;	/* frames a subscriber skipped */
	uint64_t dropped_fps_cap;	/* frames skipped to honour a client's ?fps= */
	uint64_t dropped_invalid;	/* broken structure, or rejected by --validate */
	uint64_t dropped_oversize;	/* larger than --max-frame-size */
	uint64_t dropped_truncated;	/* producer left mid-frame */
	uint64_t garbage_bytes;		/* bytes outside any frame */
	uint64_t clients;		/* subscribers connected now */
	uint64_t clients_refused;	/* refused by --max-clients */
	uint64_t producer_connects;	/* producer connections accepted */
	uint64_t producer_connected;	/* 1 while a producer is connected */
	uint64_t arena_fallbacks;	/* frames sent from the heap: the arena had no room */
};

struct fr_client_counters {
	uint64_t frames_sent;
	uint64_t frames_dropped;	/* skipped because the client was slow */
	uint64_t frames_dropped_fps_cap; /* skipped to honour the client's ?fps= */
	uint64_t bytes_sent;
};

/* A growable text buffer for responses built in memory. */
struct fr_buf {
	char *data;
	size_t len, cap;
	int has_failed;		/* an allocation failed: the contents are incomplete */
};

void fr_buf_init(struct fr_buf *b);
void fr_buf_fini(struct fr_buf *b);
/* Appends formatted text; on ENOMEM sets has_failed and appends nothing more. */
void fr_buf_printf(struct fr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fr_buf_append(struct fr_buf *b, const void *p, size_t n);

/* Test builds: make the Nth buffer allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_buf_fail_alloc_after(unsigned n);
#endif

/* What /stats and /metrics report, gathered by the caller at one instant. */
struct fr_stats_client {
	const char *peer;		/* "127.0.0.1:5000" */
	const char *protocol;		/* "raw" or "http" */
	double connected_s;
	double sending_age_s;		/* age of the frame being written now; < 0: none */
	struct fr_client_counters counters;
};

struct fr_stats_stream {
	const char *name;
	struct fr_stream_counters counters;
	const char *producer;		/* producer address, NULL when none */
	double input_fps;		/* frames per second over the last seconds */
	size_t latest_bytes;		/* 0 when there is no frame yet */
	int latest_width, latest_height; /* 0 when unknown (no --validate) */
	double latest_age_s;		/* < 0 when there is no frame yet */
	double stale_after_s;		/* --stale-after for this stream; 0: none */
	int is_stale;			/* the latest frame is older than stale_after_s */
	size_t n_clients;
	const struct fr_stats_client *clients;
};

struct fr_stats_snapshot {
	const char *version;
	double uptime_s;
	uint64_t connections_denied;	/* refused by --allow, on every listener */
	size_t n_streams;
	const struct fr_stats_stream *streams;
};

/* The snapshot as one JSON object (the /stats body). */
void fr_stats_format_json(struct fr_buf *b, const struct fr_stats_snapshot *snap);

/* The snapshot in Prometheus text exposition format 0.0.4 (the /metrics body). */
void fr_stats_format_prometheus(struct fr_buf *b, const struct fr_stats_snapshot *snap);

/* One line "frames_in=… bytes_in=… …" of every stream counter, always NUL-terminated. */
void fr_stats_format_stream(char *buf, size_t len, const struct fr_stream_counters *c);

/* One line "frames_sent=… frames_dropped=… bytes_sent=…". */
void fr_stats_format_client(char *buf, size_t len, const struct fr_client_counters *c);

#endif /* FR_STATS_H */
