/* SPDX-License-Identifier: MIT */
/*
 * Counters and their text forms. One table, fr_counters, gives each counter its name,
 * where it lives, its kind, its help line and its scope; the /stats JSON, the /metrics
 * Prometheus text and the SIGUSR1 log lines are all written from it, so a new counter
 * is a field in one of the structs below and one row in src/stats.c. Pure: structs in,
 * text out.
 */
#ifndef FR_STATS_H
#define FR_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fr/buf.h"

/*
 * A histogram: how many observations fell at or below each of its bounds (kept apart,
 * in its row of the counter table, ascending) and above the last, with their count and
 * sum, as a Prometheus histogram reports them.
 */
#define FR_HISTOGRAM_MAX_BUCKETS 16

struct fr_histogram {
	uint64_t buckets[FR_HISTOGRAM_MAX_BUCKETS];	/* not cumulative; [n_bounds]: above all */
	uint64_t count;
	double sum;
};

/* Counts v in h, whose bounds are bounds[0 .. n_bounds), n_bounds < FR_HISTOGRAM_MAX_BUCKETS. */
void fr_histogram_observe(struct fr_histogram *h, const double *bounds, size_t n_bounds,
    double v);

/* The bounds of frame_age_seconds, in seconds: 5 ms to 10 s. */
#define FR_STATS_FRAME_AGE_BOUNDS 11
extern const double fr_stats_frame_age_bounds[FR_STATS_FRAME_AGE_BOUNDS];

/* Process-wide counters, kept by the registry. */
struct fr_process_counters {
	uint64_t connections_denied;	/* closed at accept by --allow, on every listener */
	uint64_t streams_expired;	/* pushed streams removed by --stream-idle-timeout */
	uint64_t pending_evicted;	/* closed by --max-pending or --max-pending-per-peer */
	uint64_t connections_pending;	/* HTTP connections not handed on (--max-pending) */
};

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
	uint64_t frames_scaled;		/* made by the scaler: once per frame per size */
	uint64_t scale_cpu_ns;		/* scaler CPU time spent making them */
	uint64_t dropped_scale_invalid;	/* source frames that did not scale, per size */
	/* Seconds from a frame's arrival to its last byte going to a subscriber, one
	 * observation per frame sent to each subscriber. */
	struct fr_histogram frame_age_seconds;
};

/* Federation over NATS (--nats), kept by nats.c. */
struct fr_nats_counters {
	uint64_t connected;		/* 1 while connected to a NATS server */
	uint64_t reconnects;		/* connections re-established after a loss */
	uint64_t subscriptions;		/* stream subjects subscribed to now */
	uint64_t frames_published;	/* frames handed to the server */
	uint64_t bytes_published;
	uint64_t frames_received;	/* messages that became frames of a local stream */
	uint64_t bytes_received;
	uint64_t dropped_slow_consumer;	/* received, given way to newer ones before the loop
					 * took it, or dropped by the client's pending limit */
	uint64_t dropped_publish;	/* not published: disconnected, or the publisher was
					 * still sending an older frame of the stream */
	uint64_t dropped_too_large;	/* above the server's max_payload: not published */
	uint64_t dropped_invalid;	/* messages that held no whole JPEG frame */
	uint64_t dropped_stale;		/* older than a frame already taken (a late JetStream
					 * answer, a duplicate) */
	uint64_t errors;		/* asynchronous errors the client reported */
};

struct fr_client_counters {
	uint64_t frames_sent;
	uint64_t frames_dropped;	/* skipped because the client was slow */
	uint64_t frames_dropped_fps_cap; /* skipped to honour the client's ?fps= */
	uint64_t bytes_sent;
	uint64_t frame_age_ms;		/* age of the last frame sent, when its write completed */
	uint64_t frame_age_max_ms;	/* the largest such age over the last 10 to 20 s */
};

/* A pulled stream's source (--stream NAME,from=URL), kept by its puller (pull.c). */
struct fr_upstream_counters {
	uint64_t attempts;		/* connection attempts begun (redirects not counted) */
	uint64_t connects;		/* attempts that began streaming */
	uint64_t failures_dns;		/* and the other reasons of enum fr_upstream_failure */
	uint64_t failures_refused;
	uint64_t failures_timeout;
	uint64_t failures_http_status;
	uint64_t failures_bad_content_type;
	uint64_t failures_bad_response;
	uint64_t failures_closed;
};

/* Why an attempt to pull an upstream failed, or a pulled stream ended; each reason is
 * one upstream counter (failures_REASON). */
enum fr_upstream_failure {
	FR_UPSTREAM_DNS,		/* the host name did not resolve */
	FR_UPSTREAM_REFUSED,		/* no connection: refused or unreachable */
	FR_UPSTREAM_TIMEOUT,		/* no answer, or no frame, in --producer-timeout */
	FR_UPSTREAM_HTTP_STATUS,	/* an error status, or a redirect not followed */
	FR_UPSTREAM_BAD_CONTENT_TYPE,	/* neither MJPEG nor a JPEG image */
	FR_UPSTREAM_BAD_RESPONSE,	/* a malformed or endless head, broken framing */
	FR_UPSTREAM_CLOSED,		/* the upstream closed the connection */
	FR_UPSTREAM_FAILURES,
};

/* Why a stream dropped a frame; each reason is one stream counter (dropped_REASON). */
enum fr_drop_reason {
	FR_DROP_SLOW_CLIENT,
	FR_DROP_FPS_CAP,
	FR_DROP_INVALID,
	FR_DROP_OVERSIZE,
	FR_DROP_TRUNCATED,
	FR_DROP_SCALE_INVALID,	/* a size's scaler could not decode the source frame */
	FR_DROP_REASONS,
};

/* Which struct a counter lives in. */
enum fr_counter_scope {
	FR_SCOPE_PROCESS,	/* struct fr_process_counters: top level of /stats and /metrics */
	FR_SCOPE_STREAM,	/* struct fr_stream_counters: per stream; /metrics label stream */
	FR_SCOPE_CLIENT,	/* struct fr_client_counters: per client, never in /metrics */
	FR_SCOPE_UPSTREAM,	/* struct fr_upstream_counters: per pulled stream, in its
				 * "upstream" object; /metrics label stream, pulled streams only */
	FR_SCOPE_NATS,		/* struct fr_nats_counters: /stats "nats", framerouter_nats_* */
	FR_SCOPES,
};

enum fr_counter_kind {
	FR_COUNTER,	/* only grows: a Prometheus counter, framerouter_NAME_total */
	FR_GAUGE,	/* a level, up and down: a Prometheus gauge, framerouter_NAME */
	FR_FLAG,	/* a gauge that is 0 or 1; true or false in /stats */
	/* A struct fr_histogram, its bucket bounds in the row: a Prometheus histogram,
	 * {"count", "sum", "buckets": {le: cumulative count}} in /stats, NAME_count and
	 * NAME_sum in the SIGUSR1 line. */
	FR_HISTOGRAM,
};

/*
 * One row of the counter table. A counter is a uint64_t at offset in its scope's
 * struct, called name in the SIGUSR1 line and in /stats; a histogram (FR_HISTOGRAM) is a
 * struct fr_histogram there instead, its bounds in the row. A group row (members !=
 * NULL) has no value of its own: it is one JSON object {key: value, ...} called name and
 * one Prometheus family over its members, told apart by label, and each member is a
 * counter of the same scope and kind whose SIGUSR1 name is its own.
 */
struct fr_counter {
	const char *name;
	enum fr_counter_scope scope;
	enum fr_counter_kind kind;	/* of a group: its members' */
	size_t offset;			/* of the uint64_t (fr_histogram); unused in a group row */
	const char *help;		/* one line: the /metrics HELP text and the docs */
	const char *family;		/* the Prometheus name when not NAME ("frames_dropped") */
	const char *label;		/* group: the Prometheus label that names a member */
	const struct fr_counter *members; /* group: its counters, in output order */
	size_t n_members;
	const char *key;		/* group member: its JSON key and label value */
	bool is_logged_last;		/* the SIGUSR1 line has always listed it last */
	bool is_nanoseconds;		/* the value counts ns; every output shows seconds */
	const double *bounds;		/* histogram: its buckets' upper bounds, ascending */
	size_t n_bounds;
};

/* Every counter, in output order within each scope. */
extern const struct fr_counter fr_counters[];
extern const size_t fr_n_counters;

/* The field of c that a frame dropped for reason (< FR_DROP_REASONS) bumps. */
uint64_t *fr_stats_drop_counter(struct fr_stream_counters *c, enum fr_drop_reason reason);

/* The name of reason as /stats and /metrics spell it: "oversize". */
const char *fr_stats_drop_name(enum fr_drop_reason reason);

/* The field of c that a failure for reason (< FR_UPSTREAM_FAILURES) bumps. */
uint64_t *fr_stats_upstream_failure_counter(struct fr_upstream_counters *c,
    enum fr_upstream_failure reason);

/* The name of reason as /stats, /metrics and the log spell it: "http_status". */
const char *fr_stats_upstream_failure_name(enum fr_upstream_failure reason);

/* What /stats and /metrics report, gathered by the caller at one instant. */
struct fr_stats_client {
	const char *peer;		/* "127.0.0.1:5000" */
	const char *protocol;		/* "raw" or "http" */
	const char *scale;		/* "1/2", "auto:1/4", …; NULL: the frames as they are */
	double connected_s;
	struct fr_client_counters counters;
};

/* A pulled stream's upstream (pull.c's fr_pull_get_info). */
struct fr_stats_upstream {
	const char *url;		/* without credentials */
	const char *state;		/* idle, connecting, streaming, backoff or paused */
	const char *last_error;		/* "" before the first failure */
	struct fr_upstream_counters counters;
	double last_frame_age_s;	/* since its last frame; < 0 when it sent none */
	double retry_in_s;		/* backoff: until the next attempt; else < 0 */
	int is_on_demand;
};

/* One scaled size of a stream (scale.c). */
struct fr_stats_scaled {
	char scale[24];			/* "1/2", "1/4,q=50" */
	uint64_t clients;		/* its subscribers now */
	uint64_t frames;		/* scaled frames published to them */
	uint64_t frames_scaled;		/* made (a few may be replaced before they go out) */
	double cpu_s;			/* worker CPU time spent on them */
	uint64_t dropped_invalid;	/* source frames that did not scale */
	size_t latest_bytes;		/* 0: none (nobody watches) */
	int latest_width, latest_height, latest_quality;
};

struct fr_stats_stream {
	const char *name;
	const struct fr_stats_upstream *upstream;	/* NULL unless pulled */
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
	size_t n_scaled;
	const struct fr_stats_scaled *scaled;
};

/* Federation over NATS (--nats): the connection and what travelled over it. */
struct fr_stats_nats {
	const char *state;		/* "connecting", "connected", "reconnecting", "closed" */
	const char *server;		/* the URL connected to (no credentials), "" when none */
	const char *node_id;
	bool jetstream;			/* --nats-jetstream */
	struct fr_nats_counters counters;
};

struct fr_stats_snapshot {
	const char *version;
	double uptime_s;
	struct fr_process_counters counters;
	size_t n_streams;
	const struct fr_stats_stream *streams;
	const struct fr_stats_nats *nats;	/* NULL without --nats */
};

/* The snapshot as one JSON object (the /stats body). */
void fr_stats_format_json(struct fr_buf *b, const struct fr_stats_snapshot *snap);

/* The snapshot in Prometheus text exposition format 0.0.4 (the /metrics body). */
void fr_stats_format_prometheus(struct fr_buf *b, const struct fr_stats_snapshot *snap);

/*
 * The SIGUSR1 lines: "NAME=VALUE" for every counter of the scope, separated by
 * spaces, truncated to fit len and always NUL-terminated (when len > 0). A buffer of
 * FR_STATS_LINE_MAX bytes holds the process or stream line with every value at its
 * largest (tests/check_stats checks).
 */
#define FR_STATS_LINE_MAX 1024

void fr_stats_format_process(char *buf, size_t len, const struct fr_process_counters *c);
void fr_stats_format_stream(char *buf, size_t len, const struct fr_stream_counters *c);
void fr_stats_format_client(char *buf, size_t len, const struct fr_client_counters *c);
/* "state=STATE " and the upstream counters (a pulled stream's SIGUSR1 line). */
void fr_stats_format_upstream(char *buf, size_t len, const struct fr_stats_upstream *u);
void fr_stats_format_nats(char *buf, size_t len, const struct fr_nats_counters *c);

#endif /* FR_STATS_H */
