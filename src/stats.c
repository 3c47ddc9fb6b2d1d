/* SPDX-License-Identifier: MIT */
/*
 * The counter table and the text forms written from it: the SIGUSR1 log lines, the
 * /stats JSON and the /metrics Prometheus text, all from structs the caller gathered, so
 * each counter is named, typed and described in one row. The snapshot's other facts
 * (names, addresses, rates, the latest frame) are written by hand around the counters,
 * because each output shows them differently. Pure: no I/O.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fr/stats.h"

/* ---- strings ---- */

enum esc_mode {
	ESC_JSON,  /* inside "…" in JSON (RFC 8259 section 7) */
	ESC_LABEL, /* a Prometheus label value: \\, \" and \n */
	ESC_HELP,  /* Prometheus HELP text: \\ and \n */
};

/*
 * At s, the length of one well-formed UTF-8 sequence (Unicode table 3-7: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0 with *bad set to the length of the
 * maximal ill-formed subpart, which is replaced by one U+FFFD (Unicode 3.9, "U+FFFD
 * substitution of maximal subparts"). s is NUL-terminated, and NUL is never a
 * continuation byte, so this never reads past the end.
 */
static size_t
utf8_len(const unsigned char *s, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* shorter forms are overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* ED A0..BF are surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*bad = 1; /* 80..C1 and F5..FF never start a sequence */
		return 0;
	}
	for (size_t i = 1; i < need; i++) {
		if (s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

/* The escape for byte c in mode, or NULL if c goes out as it is. */
static const char *
esc_of(unsigned char c, enum esc_mode mode, char tmp[static 7])
{
	switch (c) {
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '"':
		return mode == ESC_HELP ? NULL : "\\\"";
	}
	if (mode != ESC_JSON || c >= 0x20)
		return NULL;
	switch (c) {
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	}
	snprintf(tmp, 7, "\\u%04x", (unsigned)c);
	return tmp;
}

/*
 * Appends s escaped for mode; NULL counts as "". Well-formed UTF-8 goes out as it is;
 * each ill-formed subpart becomes U+FFFD ("\ufffd" in JSON, the raw bytes in Prometheus,
 * whose format has no \u escape). Replacing instead of escaping the byte as \u00XX keeps
 * the output honest: \u00ff would claim the name contained "ÿ".
 */
static void
put_escaped(struct fr_buf *b, const char *s, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *run = p; /* bytes not yet appended that need no escape */
	char tmp[7];

	while (*p != '\0') {
		size_t bad = 0;
		size_t n = utf8_len(p, &bad);
		const char *esc = NULL;

		if (n > 1) {
			p += n;
			continue;
		}
		if (n == 1 && (esc = esc_of(*p, mode, tmp)) == NULL) {
			p++;
			continue;
		}
		fr_buf_append(b, run, (size_t)(p - run));
		if (n == 1) {
			fr_buf_puts(b, esc);
			p++;
		} else {
			fr_buf_puts(b, mode == ESC_JSON ? "\\ufffd" : "\xef\xbf\xbd");
			p += bad;
		}
		run = p;
	}
	fr_buf_append(b, run, (size_t)(p - run));
}

/* A JSON string literal, quotes included. */
static void
put_json_str(struct fr_buf *b, const char *s)
{
	fr_buf_puts(b, "\"");
	put_escaped(b, s, ESC_JSON);
	fr_buf_puts(b, "\"");
}

/*
 * Doubles print with %.3f. NaN and infinities are not JSON, so they print as 0, and so do
 * values that would round to "-0.000".
 */
static void
put_double(struct fr_buf *b, double v)
{
	if (!isfinite(v) || fabs(v) < 0.0005)
		v = 0;
	fr_buf_printf(b, "%.3f", v);
}

/* A value that is absent when negative: null. */
static void
put_double_or_null(struct fr_buf *b, double v)
{
	if (v < 0)
		fr_buf_puts(b, "null");
	else
		put_double(b, v);
}

/* ---- histograms ---- */

const double fr_stats_frame_age_bounds[FR_STATS_FRAME_AGE_BOUNDS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void
fr_histogram_observe(struct fr_histogram *h, const double *bounds, size_t n_bounds, double v)
{
	size_t i = 0;

	while (i < n_bounds && v > bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

/* The histogram of row c in counters, the struct of c's scope. */
static const struct fr_histogram *
histogram_of(const struct fr_counter *c, const void *counters)
{
	return (const struct fr_histogram *)(const void *)((const char *)counters + c->offset);
}

/* Cumulative bucket counts stop at UINT64_MAX rather than wrap. */
static uint64_t
add_saturating(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* A bucket's upper bound as /stats keys and /metrics le labels spell it: 0.005, 10. */
static void
put_bound(struct fr_buf *b, const struct fr_counter *c, size_t i)
{
	if (i < c->n_bounds)
		fr_buf_printf(b, "%g", c->bounds[i]);
	else
		fr_buf_puts(b, "+Inf");
}

/* ---- the counter table ---- */

#define PROCESS(f)                                                                                 \
	.name = #f, .scope = FR_SCOPE_PROCESS, .offset = offsetof(struct fr_process_counters, f)
#define STREAM(f)                                                                                  \
	.name = #f, .scope = FR_SCOPE_STREAM, .offset = offsetof(struct fr_stream_counters, f)
#define CLIENT(f)                                                                                  \
	.name = #f, .scope = FR_SCOPE_CLIENT, .offset = offsetof(struct fr_client_counters, f)
#define UPSTREAM(f)                                                                                \
	.name = #f, .scope = FR_SCOPE_UPSTREAM, .offset = offsetof(struct fr_upstream_counters, f)
/* In /metrics as framerouter_nats_NAME: a family of its own, beside the process's. */
#define NATS(f)                                                                                    \
	.name = #f, .scope = FR_SCOPE_NATS, .offset = offsetof(struct fr_nats_counters, f),        \
	.family = "nats_" #f
#define NATS_MEMBER(f)                                                                             \
	.name = #f, .scope = FR_SCOPE_NATS, .offset = offsetof(struct fr_nats_counters, f)

/* The stream's "dropped" group, by reason: what fr_stream_note_drop() bumps. */
static const struct fr_counter drop_counters[FR_DROP_REASONS] = {
	[FR_DROP_SLOW_CLIENT] = {STREAM(dropped_slow_client), .kind = FR_COUNTER,
	    .key = "slow_client",
	    .help = "Frames a subscriber skipped because it had not finished the previous one."},
	[FR_DROP_FPS_CAP] = {STREAM(dropped_fps_cap), .kind = FR_COUNTER, .key = "fps_cap",
	    .help = "Frames skipped to honour a subscriber's ?fps=N."},
	[FR_DROP_INVALID] = {STREAM(dropped_invalid), .kind = FR_COUNTER, .key = "invalid",
	    .help = "Frames with a broken marker structure, or rejected by --validate."},
	[FR_DROP_OVERSIZE] = {STREAM(dropped_oversize), .kind = FR_COUNTER, .key = "oversize",
	    .help = "Frames larger than --max-frame-size."},
	[FR_DROP_TRUNCATED] = {STREAM(dropped_truncated), .kind = FR_COUNTER, .key = "truncated",
	    .help = "Frames cut short because their producer disconnected or was replaced."},
	[FR_DROP_SCALE_INVALID] = {STREAM(dropped_scale_invalid), .kind = FR_COUNTER,
	    .key = "scale_invalid",
	    .help = "Source frames that could not be scaled, once per size that wanted them."},
};

/* A client's "dropped" group: the same reasons, for the frames it skipped. */
static const struct fr_counter client_drop_counters[] = {
	{CLIENT(frames_dropped), .kind = FR_COUNTER, .key = "slow_client",
	    .help = "Frames this subscriber skipped because it had not finished the previous one."},
	{CLIENT(frames_dropped_fps_cap), .kind = FR_COUNTER, .key = "fps_cap",
	    .help = "Frames skipped to honour this subscriber's ?fps=N."},
};

/* A pulled stream's "failures" group, by reason: what pull.c's failure() bumps. */
static const struct fr_counter upstream_failure_counters[FR_UPSTREAM_FAILURES] = {
	[FR_UPSTREAM_DNS] = {UPSTREAM(failures_dns), .kind = FR_COUNTER, .key = "dns",
	    .help = "The upstream's host name did not resolve."},
	[FR_UPSTREAM_REFUSED] = {UPSTREAM(failures_refused), .kind = FR_COUNTER, .key = "refused",
	    .help = "The connection was refused, or the upstream unreachable."},
	[FR_UPSTREAM_TIMEOUT] = {UPSTREAM(failures_timeout), .kind = FR_COUNTER, .key = "timeout",
	    .help = "No answer, or no frame, within --producer-timeout."},
	[FR_UPSTREAM_HTTP_STATUS] = {UPSTREAM(failures_http_status), .kind = FR_COUNTER,
	    .key = "http_status", .help = "An HTTP error status, or a redirect not followed."},
	[FR_UPSTREAM_BAD_CONTENT_TYPE] = {UPSTREAM(failures_bad_content_type), .kind = FR_COUNTER,
	    .key = "bad_content_type", .help = "An answer that is neither MJPEG nor a JPEG image."},
	[FR_UPSTREAM_BAD_RESPONSE] = {UPSTREAM(failures_bad_response), .kind = FR_COUNTER,
	    .key = "bad_response",
	    .help = "A malformed or endless response head, or broken chunked or multipart "
		    "framing."},
	[FR_UPSTREAM_CLOSED] = {UPSTREAM(failures_closed), .kind = FR_COUNTER, .key = "closed",
	    .help = "The upstream closed the connection."},
};

/* NATS's "dropped" group: frames lost on the way between nodes, by reason. */
static const struct fr_counter nats_drop_counters[] = {
	{NATS_MEMBER(dropped_slow_consumer), .kind = FR_COUNTER, .key = "slow_consumer",
	    .help = "Received frames that gave way to newer ones before the loop took them, or "
		    "that the client's pending limit dropped."},
	{NATS_MEMBER(dropped_publish), .kind = FR_COUNTER, .key = "publish",
	    .help = "Frames not published: disconnected, or the stream's previous frame was "
		    "still being sent."},
	{NATS_MEMBER(dropped_too_large), .kind = FR_COUNTER, .key = "too_large",
	    .help = "Frames above the server's max_payload, not published."},
	{NATS_MEMBER(dropped_invalid), .kind = FR_COUNTER, .key = "invalid",
	    .help = "Messages with no whole JPEG frame in them."},
	{NATS_MEMBER(dropped_stale), .kind = FR_COUNTER, .key = "stale",
	    .help = "Messages older than a frame already taken."},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A group row: the JSON object NAME over members, in SCOPE. */
#define GROUP(scope_, name_, members_)                                                             \
	.name = #name_, .scope = FR_SCOPE_##scope_, .members = members_,                           \
	.n_members = N_ELEMS(members_)

/*
 * Every counter, in the order /stats, /metrics and the SIGUSR1 lines show them within
 * their scope. A new counter is a uint64_t in its scope's struct (stats.h), a row here,
 * and the code that bumps it. tests/check_stats fails until every field has a row, and
 * FR_GOLDEN_UPDATE=1 tests/check_stats rewrites the golden files in tests/golden.
 */
const struct fr_counter fr_counters[] = {
	{PROCESS(connections_denied), .kind = FR_COUNTER,
	    .help = "Connections closed at accept because --allow does not admit the address."},
	{PROCESS(streams_expired), .kind = FR_COUNTER,
	    .help = "Streams created by an HTTP push and removed after --stream-idle-timeout."},
	{PROCESS(pending_evicted), .kind = FR_COUNTER,
	    .help = "HTTP connections not handed on that were closed to make room because the "
		    "--max-pending budget, in all or per address, was full."},
	{PROCESS(connections_pending), .kind = FR_GAUGE,
	    .help = "HTTP connections not handed on to a subscriber or producer yet."},

	{STREAM(frames_in), .kind = FR_COUNTER,
	    .help = "Whole JPEG frames received from producers."},
	{STREAM(bytes_in), .kind = FR_COUNTER, .help = "Bytes received from producers."},
	{STREAM(frames_out), .kind = FR_COUNTER,
	    .help = "Frames completely written to subscribers."},
	{STREAM(bytes_out), .kind = FR_COUNTER, .help = "Bytes written to subscribers."},
	{GROUP(STREAM, dropped, drop_counters), .kind = FR_COUNTER, .family = "frames_dropped",
	    .label = "reason",
	    .help = "Frames dropped, by reason: skipped for a slow subscriber or a subscriber's "
		    "fps cap, rejected as invalid, oversize or truncated input, or not scalable "
		    "for a size."},
	{STREAM(garbage_bytes), .kind = FR_COUNTER,
	    .help = "Bytes from producers outside any JPEG frame."},
	{STREAM(clients), .kind = FR_GAUGE, .help = "Subscribers connected now."},
	{STREAM(clients_refused), .kind = FR_COUNTER,
	    .help = "Subscribers refused because the server was full."},
	{STREAM(producer_connected), .kind = FR_FLAG,
	    .help = "1 while a producer is connected, else 0."},
	{STREAM(producer_connects), .kind = FR_COUNTER, .help = "Producer connections accepted."},
	{STREAM(arena_fallbacks), .kind = FR_COUNTER,
	    .help = "Frames sent from the heap because the memfd arena had no room."},
	{STREAM(frames_scaled), .kind = FR_COUNTER,
	    .help = "Scaled frames made for ?scale=, ?q= and listen-scale= subscribers and "
		    "snapshots: one per frame per size, however many subscribers."},
	{.name = "scale_cpu_s", .scope = FR_SCOPE_STREAM,
	    .offset = offsetof(struct fr_stream_counters, scale_cpu_ns), .kind = FR_COUNTER,
	    .is_nanoseconds = true, .family = "scale_cpu_seconds",
	    .help = "CPU seconds the scaler thread spent making scaled frames."},
	{STREAM(frame_age_seconds), .kind = FR_HISTOGRAM, .bounds = fr_stats_frame_age_bounds,
	    .n_bounds = FR_STATS_FRAME_AGE_BOUNDS,
	    .help = "Seconds from a frame's arrival to its last byte being written to a "
		    "subscriber, for every frame sent to every subscriber."},

	{CLIENT(frames_sent), .kind = FR_COUNTER,
	    .help = "Frames completely written to this subscriber."},
	{CLIENT(bytes_sent), .kind = FR_COUNTER, .is_logged_last = true,
	    .help = "Bytes written to this subscriber."},
	{GROUP(CLIENT, dropped, client_drop_counters), .kind = FR_COUNTER,
	    .help = "Frames this subscriber skipped, by reason."},
	{CLIENT(frame_age_ms), .kind = FR_GAUGE,
	    .help = "Milliseconds from the arrival of the last frame sent to this subscriber to "
		    "its last byte being written."},
	{CLIENT(frame_age_max_ms), .kind = FR_GAUGE,
	    .help = "The largest frame_age_ms of this subscriber over the last 10 to 20 seconds."},

	{UPSTREAM(attempts), .kind = FR_COUNTER, .family = "upstream_attempts",
	    .help = "Attempts to reach a pulled stream's upstream (the hops of a redirect are "
		    "one)."},
	{UPSTREAM(connects), .kind = FR_COUNTER, .family = "upstream_connects",
	    .help = "Attempts that began streaming."},
	{GROUP(UPSTREAM, failures, upstream_failure_counters), .kind = FR_COUNTER,
	    .family = "upstream_failures", .label = "reason",
	    .help = "Failed attempts and ended streams of a pulled stream, by reason."},

	{NATS(connected), .kind = FR_FLAG, .help = "1 while connected to a NATS server, else 0."},
	{NATS(reconnects), .kind = FR_COUNTER,
	    .help = "NATS connections re-established after a loss."},
	{NATS(subscriptions), .kind = FR_GAUGE,
	    .help = "Stream subjects this node subscribes to now."},
	{NATS(frames_published), .kind = FR_COUNTER,
	    .help = "Frames this node ingested and published on NATS."},
	{NATS(bytes_published), .kind = FR_COUNTER,
	    .help = "Bytes of the frames published on NATS."},
	{NATS(frames_received), .kind = FR_COUNTER,
	    .help = "NATS messages that became frames of a local stream."},
	{NATS(bytes_received), .kind = FR_COUNTER,
	    .help = "Bytes of the NATS messages that became frames."},
	{GROUP(NATS, dropped, nats_drop_counters), .kind = FR_COUNTER,
	    .family = "nats_frames_dropped", .label = "reason",
	    .help = "Frames lost between nodes, by reason: a slow consumer, not published, too "
		    "large for the server, no JPEG in the message, or stale."},
	{NATS(errors), .kind = FR_COUNTER, .help = "Asynchronous errors the NATS client reported."},
};

const size_t fr_n_counters = N_ELEMS(fr_counters);

uint64_t *
fr_stats_drop_counter(struct fr_stream_counters *c, enum fr_drop_reason reason)
{
	return (uint64_t *)((char *)c + drop_counters[reason].offset);
}

const char *
fr_stats_drop_name(enum fr_drop_reason reason)
{
	return drop_counters[reason].key;
}

uint64_t *
fr_stats_upstream_failure_counter(struct fr_upstream_counters *c, enum fr_upstream_failure reason)
{
	return (uint64_t *)((char *)c + upstream_failure_counters[reason].offset);
}

const char *
fr_stats_upstream_failure_name(enum fr_upstream_failure reason)
{
	if ((unsigned)reason >= FR_UPSTREAM_FAILURES)
		return "?";
	return upstream_failure_counters[reason].key;
}

/* The value of counter c in counters, the struct of c's scope. */
static uint64_t
value_of(const struct fr_counter *c, const void *counters)
{
	uint64_t v;

	memcpy(&v, (const char *)counters + c->offset, sizeof v);
	return v;
}

/* Whether the stream has a latest frame; either field says "none" (see stats.h). */
static int
has_frame(const struct fr_stats_stream *s)
{
	return s->latest_bytes > 0 && !(s->latest_age_s < 0);
}

/* ---- JSON (/stats) ---- */

/* A counter of nanoseconds as seconds: "%.6f". */
static int
print_seconds(char *buf, size_t len, uint64_t ns)
{
	return snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, ns / 1000000000u,
	    ns % 1000000000u / 1000u);
}

static void
json_value(struct fr_buf *b, const struct fr_counter *c, const void *counters)
{
	uint64_t v = value_of(c, counters);
	char s[32];

	if (c->is_nanoseconds) {
		print_seconds(s, sizeof s, v);
		fr_buf_puts(b, s);
	} else if (c->kind == FR_FLAG)
		fr_buf_puts(b, v ? "true" : "false");
	else
		fr_buf_printf(b, "%" PRIu64, v);
}

/* {"count": N, "sum": S, "buckets": {"0.005": n, ..., "+Inf": N}}, the buckets cumulative
 * as Prometheus has them. */
static void
json_histogram(struct fr_buf *b, const struct fr_counter *c, const void *counters)
{
	const struct fr_histogram *h = histogram_of(c, counters);
	uint64_t below = 0;

	fr_buf_printf(b, "{\"count\": %" PRIu64 ", \"sum\": ", h->count);
	put_double(b, h->sum);
	fr_buf_puts(b, ", \"buckets\": {");
	for (size_t i = 0; i <= c->n_bounds; i++) {
		below = add_saturating(below, h->buckets[i]);
		fr_buf_puts(b, i ? ", \"" : "\"");
		put_bound(b, c, i);
		fr_buf_printf(b, "\": %" PRIu64, below);
	}
	fr_buf_puts(b, "}}");
}

/*
 * The counters of scope as "name": value pairs, a group as "name": {"key": value, ...},
 * separated by ", ", and preceded by one unless they come first in their object.
 */
static void
json_counters(struct fr_buf *b, enum fr_counter_scope scope, const void *counters, bool is_first)
{
	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *c = &fr_counters[i];

		if (c->scope != scope)
			continue;
		fr_buf_printf(b, "%s\"%s\": ", is_first ? "" : ", ", c->name);
		is_first = false;
		if (c->kind == FR_HISTOGRAM) {
			json_histogram(b, c, counters);
			continue;
		}
		if (c->members == NULL) {
			json_value(b, c, counters);
			continue;
		}
		fr_buf_puts(b, "{");
		for (size_t m = 0; m < c->n_members; m++) {
			fr_buf_printf(b, "%s\"%s\": ", m ? ", " : "", c->members[m].key);
			json_value(b, &c->members[m], counters);
		}
		fr_buf_puts(b, "}");
	}
}

static void
json_client(struct fr_buf *b, const struct fr_stats_client *cl)
{
	fr_buf_puts(b, "{\"peer\": ");
	put_json_str(b, cl->peer);
	fr_buf_puts(b, ", \"protocol\": ");
	put_json_str(b, cl->protocol);
	fr_buf_puts(b, ", \"connected_s\": ");
	put_double(b, cl->connected_s);
	json_counters(b, FR_SCOPE_CLIENT, &cl->counters, false);
	fr_buf_puts(b, ", \"scale\": ");
	if (cl->scale != NULL)
		put_json_str(b, cl->scale);
	else
		fr_buf_puts(b, "null");
	fr_buf_puts(b, "}");
}

/* A number of seconds, or null when negative (there is none). */
static void
put_seconds_or_null(struct fr_buf *b, double v)
{
	if (v < 0)
		fr_buf_puts(b, "null");
	else
		put_double(b, v);
}

/* A pulled stream's "upstream" object: what it pulls, how it goes, and its counters. */
static void
json_upstream(struct fr_buf *b, const struct fr_stats_upstream *u)
{
	fr_buf_puts(b, "{\"url\": ");
	put_json_str(b, u->url);
	fr_buf_puts(b, ", \"state\": ");
	put_json_str(b, u->state);
	fr_buf_printf(b, ", \"on_demand\": %s", u->is_on_demand ? "true" : "false");
	json_counters(b, FR_SCOPE_UPSTREAM, &u->counters, false);
	fr_buf_puts(b, ", \"last_error\": ");
	if (u->last_error[0] != '\0')
		put_json_str(b, u->last_error);
	else
		fr_buf_puts(b, "null");
	fr_buf_puts(b, ", \"last_frame_age_s\": ");
	put_seconds_or_null(b, u->last_frame_age_s);
	fr_buf_puts(b, ", \"retry_in_s\": ");
	put_seconds_or_null(b, u->retry_in_s);
	fr_buf_puts(b, "}");
}

/* The scaled sizes in use: [{"scale": "1/2", …}, …]. */
static void
json_scaled(struct fr_buf *b, const struct fr_stats_stream *s)
{
	fr_buf_puts(b, "[");
	for (size_t i = 0; i < s->n_scaled; i++) {
		const struct fr_stats_scaled *z = &s->scaled[i];

		fr_buf_puts(b, i > 0 ? ", {\"scale\": " : "{\"scale\": ");
		put_json_str(b, z->scale);
		fr_buf_printf(b,
		    ", \"clients\": %" PRIu64 ", \"frames\": %" PRIu64
		    ", \"frames_scaled\": %" PRIu64 ", \"scale_cpu_s\": ", z->clients, z->frames,
		    z->frames_scaled);
		put_double(b, z->cpu_s);
		fr_buf_printf(b, ", \"dropped_invalid\": %" PRIu64 ", \"latest_frame\": ",
		    z->dropped_invalid);
		if (z->latest_bytes == 0)
			fr_buf_puts(b, "null}");
		else
			fr_buf_printf(b, "{\"bytes\": %zu, \"width\": %d, \"height\": %d, "
			    "\"quality\": %d}}", z->latest_bytes, z->latest_width, z->latest_height,
			    z->latest_quality);
	}
	fr_buf_puts(b, "]");
}

/* Width and height are null when unknown (0: the frame was not decoded). */
static void
json_latest_frame(struct fr_buf *b, const struct fr_stats_stream *s)
{
	if (!has_frame(s)) {
		fr_buf_puts(b, "null");
		return;
	}
	fr_buf_printf(b, "{\"bytes\": %zu, \"width\": ", s->latest_bytes);
	if (s->latest_width > 0)
		fr_buf_printf(b, "%d", s->latest_width);
	else
		fr_buf_puts(b, "null");
	fr_buf_puts(b, ", \"height\": ");
	if (s->latest_height > 0)
		fr_buf_printf(b, "%d", s->latest_height);
	else
		fr_buf_puts(b, "null");
	fr_buf_puts(b, ", \"age_s\": ");
	put_double(b, s->latest_age_s);
	fr_buf_puts(b, "}");
}

static void
json_stream(struct fr_buf *b, const struct fr_stats_stream *s)
{
	fr_buf_puts(b, "{");
	json_counters(b, FR_SCOPE_STREAM, &s->counters, true);
	fr_buf_puts(b, ", \"producer\": ");
	if (s->producer != NULL)
		put_json_str(b, s->producer);
	else
		fr_buf_puts(b, "null");
	if (s->upstream != NULL) {
		fr_buf_puts(b, ", \"upstream\": ");
		json_upstream(b, s->upstream);
	}
	fr_buf_puts(b, ", \"input_fps\": ");
	put_double(b, s->input_fps);
	fr_buf_puts(b, ", \"latest_frame\": ");
	json_latest_frame(b, s);
	fr_buf_puts(b, ", \"scaled\": ");
	json_scaled(b, s);
	fr_buf_puts(b, ", \"client_list\": [");
	for (size_t i = 0; i < s->n_clients; i++) {
		if (i > 0)
			fr_buf_puts(b, ", ");
		json_client(b, &s->clients[i]);
	}
	fr_buf_puts(b, "], \"stale_after_s\": ");
	put_double_or_null(b, s->stale_after_s > 0 ? s->stale_after_s : -1);
	fr_buf_printf(b, ", \"stale\": %s}", s->is_stale ? "true" : "false");
}

/*
 * One line of JSON and a newline. Stream names are keys, so the caller keeps them unique
 * (stream.c does: names are the stream's identity).
 */
void
fr_stats_format_json(struct fr_buf *b, const struct fr_stats_snapshot *snap)
{
	fr_buf_puts(b, "{\"version\": ");
	put_json_str(b, snap->version);
	fr_buf_puts(b, ", \"uptime_s\": ");
	put_double(b, snap->uptime_s);
	json_counters(b, FR_SCOPE_PROCESS, &snap->counters, false);
	fr_buf_puts(b, ", \"streams\": {");
	for (size_t i = 0; i < snap->n_streams; i++) {
		if (i > 0)
			fr_buf_puts(b, ", ");
		put_json_str(b, snap->streams[i].name);
		fr_buf_puts(b, ": ");
		json_stream(b, &snap->streams[i]);
	}
	fr_buf_puts(b, "}");
	if (snap->nats != NULL) {
		const struct fr_stats_nats *n = snap->nats;

		fr_buf_puts(b, ", \"nats\": {");
		json_counters(b, FR_SCOPE_NATS, &n->counters, true);
		fr_buf_puts(b, ", \"state\": ");
		put_json_str(b, n->state);
		fr_buf_puts(b, ", \"server\": ");
		put_json_str(b, n->server);
		fr_buf_puts(b, ", \"node_id\": ");
		put_json_str(b, n->node_id);
		fr_buf_printf(b, ", \"jetstream\": %s}", n->jetstream ? "true" : "false");
	}
	fr_buf_puts(b, "}\n");
}

/* ---- Prometheus (/metrics) ---- */

static void
prom_header(struct fr_buf *b, const char *name, const char *type, const char *help)
{
	fr_buf_printf(b, "# HELP %s ", name);
	put_escaped(b, help, ESC_HELP);
	fr_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/*
 * Starts a sample line: name, then {stream="…" when stream is not NULL, and the
 * label="value" pair when label is not NULL. Returns whether a brace was opened, for
 * the caller to close.
 */
static bool
prom_sample_start(struct fr_buf *b, const char *name, const char *stream, const char *label,
    const char *value)
{
	fr_buf_puts(b, name);
	if (stream != NULL) {
		fr_buf_puts(b, "{stream=\"");
		put_escaped(b, stream, ESC_LABEL);
		fr_buf_puts(b, "\"");
	}
	if (label != NULL) {
		fr_buf_printf(b, "%s%s=\"", stream != NULL ? "," : "{", label);
		put_escaped(b, value, ESC_LABEL);
		fr_buf_puts(b, "\"");
	}
	return stream != NULL || label != NULL;
}

static void
prom_sample(struct fr_buf *b, const struct fr_counter *c, const char *name, const char *stream,
	const char *label, const char *key, uint64_t v)
{
	bool has_labels = prom_sample_start(b, name, stream, label, key);
	char s[32];

	if (c->is_nanoseconds)
		print_seconds(s, sizeof s, v);
	else
		snprintf(s, sizeof s, "%" PRIu64, v);
	fr_buf_printf(b, "%s %s\n", has_labels ? "}" : "", s);
}

/* Writes the HELP and TYPE of counter c's family, whose name goes into name. */
static void
prom_family_start(struct fr_buf *b, const struct fr_counter *c, char *name, size_t len)
{
	static const char *const types[] = {
		[FR_COUNTER] = "counter",
		[FR_GAUGE] = "gauge",
		[FR_FLAG] = "gauge",
		[FR_HISTOGRAM] = "histogram",
	};

	snprintf(name, len, "framerouter_%s%s", c->family ? c->family : c->name,
	    c->kind == FR_COUNTER ? "_total" : "");
	prom_header(b, name, types[c->kind], c->help);
}

/* A histogram's samples: NAME_bucket{…,le="…"} cumulative up to +Inf, NAME_sum, NAME_count. */
static void
prom_histogram_samples(struct fr_buf *b, const struct fr_counter *c, const char *name,
	const char *stream, const void *counters)
{
	const struct fr_histogram *h = histogram_of(c, counters);
	char sample[160];
	uint64_t below = 0;

	snprintf(sample, sizeof sample, "%s_bucket", name);
	for (size_t i = 0; i <= c->n_bounds; i++) {
		below = add_saturating(below, h->buckets[i]);
		prom_sample_start(b, sample, stream, NULL, NULL);
		fr_buf_printf(b, "%sle=\"", stream != NULL ? "," : "{");
		put_bound(b, c, i);
		fr_buf_printf(b, "\"} %" PRIu64 "\n", below);
	}
	snprintf(sample, sizeof sample, "%s_sum", name);
	fr_buf_printf(b, "%s", prom_sample_start(b, sample, stream, NULL, NULL) ? "} " : " ");
	put_double(b, h->sum);
	fr_buf_puts(b, "\n");
	snprintf(sample, sizeof sample, "%s_count", name);
	prom_sample(b, c, sample, stream, NULL, NULL, h->count);
}

/* Counter c's samples: one, or one per member of a group; stream is NULL for none. */
static void
prom_counter_samples(struct fr_buf *b, const struct fr_counter *c, const char *name,
	const char *stream, const void *counters)
{
	if (c->kind == FR_HISTOGRAM) {
		prom_histogram_samples(b, c, name, stream, counters);
		return;
	}
	if (c->members == NULL) {
		prom_sample(b, c, name, stream, NULL, NULL, value_of(c, counters));
		return;
	}
	for (size_t m = 0; m < c->n_members; m++)
		prom_sample(b, &c->members[m], name, stream, c->label, c->members[m].key,
		    value_of(&c->members[m], counters));
}

/* Per-stream gauges that are not counters: what the snapshot says of the stream itself. */
enum stream_gauge {
	GAUGE_INPUT_FPS,
	GAUGE_LATEST_BYTES,
	GAUGE_LATEST_AGE, /* no sample for a stream without a frame */
	GAUGE_STALE,
};

static const struct {
	const char *name, *help;
} stream_gauges[] = {
	[GAUGE_INPUT_FPS] = {"framerouter_input_fps",
	    "Frames per second received over the last seconds."},
	[GAUGE_LATEST_BYTES] = {"framerouter_latest_frame_bytes",
	    "Size of the latest frame in bytes, 0 when there is none."},
	[GAUGE_LATEST_AGE] = {"framerouter_latest_frame_age_seconds",
	    "Seconds since the latest frame arrived; absent when there is none."},
	[GAUGE_STALE] = {"framerouter_stale",
	    "1 while the latest frame is older than the stream's --stale-after, else 0."},
};

static void
prom_stream_gauge(struct fr_buf *b, enum stream_gauge g, const struct fr_stats_stream *s)
{
	const char *name = stream_gauges[g].name;

	if (g == GAUGE_LATEST_AGE && !has_frame(s))
		return;
	prom_sample_start(b, name, s->name, NULL, NULL);
	fr_buf_puts(b, "} ");
	if (g == GAUGE_LATEST_BYTES)
		fr_buf_printf(b, "%zu", has_frame(s) ? s->latest_bytes : (size_t)0);
	else if (g == GAUGE_STALE)
		fr_buf_puts(b, s->is_stale ? "1" : "0");
	else
		put_double(b, g == GAUGE_INPUT_FPS ? s->input_fps : s->latest_age_s);
	fr_buf_puts(b, "\n");
}

/* The states pull.c reports, for the Prometheus state set. */
static const char *const upstream_states[] = {
	"idle", "connecting", "streaming", "backoff", "paused",
};

/*
 * A pulled stream's families, only when some stream is pulled: the upstream counters of
 * the table, then its URL (an info family), its state (a state set) and the age of its
 * last frame.
 */
static void
prom_upstreams(struct fr_buf *b, const struct fr_stats_snapshot *snap)
{
	char name[128];
	size_t n = 0;

	for (size_t k = 0; k < snap->n_streams; k++)
		n += snap->streams[k].upstream != NULL;
	if (n == 0)
		return;
	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *c = &fr_counters[i];

		if (c->scope != FR_SCOPE_UPSTREAM)
			continue;
		prom_family_start(b, c, name, sizeof name);
		for (size_t k = 0; k < snap->n_streams; k++)
			if (snap->streams[k].upstream != NULL)
				prom_counter_samples(b, c, name, snap->streams[k].name,
				    &snap->streams[k].upstream->counters);
	}
	prom_header(b, "framerouter_upstream_info", "gauge",
	    "Always 1 for a pulled stream; the url label is its upstream, without credentials.");
	for (size_t k = 0; k < snap->n_streams; k++)
		if (snap->streams[k].upstream != NULL) {
			prom_sample_start(b, "framerouter_upstream_info", snap->streams[k].name,
			    "url", snap->streams[k].upstream->url);
			fr_buf_puts(b, "} 1\n");
		}
	prom_header(b, "framerouter_upstream_state", "gauge",
	    "1 for the state a pulled stream's puller is in (idle, connecting, streaming, "
	    "backoff, paused), 0 for the others.");
	for (size_t k = 0; k < snap->n_streams; k++) {
		const struct fr_stats_upstream *u = snap->streams[k].upstream;

		for (size_t st = 0; u != NULL && st < N_ELEMS(upstream_states); st++) {
			prom_sample_start(b, "framerouter_upstream_state", snap->streams[k].name,
			    "state", upstream_states[st]);
			fr_buf_printf(b, "} %d\n", strcmp(u->state, upstream_states[st]) == 0);
		}
	}
	prom_header(b, "framerouter_upstream_last_frame_age_seconds", "gauge",
	    "Seconds since a pulled stream's upstream sent its last frame; absent before its "
	    "first.");
	for (size_t k = 0; k < snap->n_streams; k++) {
		const struct fr_stats_upstream *u = snap->streams[k].upstream;

		if (u == NULL || u->last_frame_age_s < 0)
			continue;
		prom_sample_start(b, "framerouter_upstream_last_frame_age_seconds",
		    snap->streams[k].name, NULL, NULL);
		fr_buf_puts(b, "} ");
		put_double(b, u->last_frame_age_s);
		fr_buf_puts(b, "\n");
	}
}

/* The NATS connection: its counters, and what it is connected to as an info gauge. */
static void
prom_nats(struct fr_buf *b, const struct fr_stats_nats *n)
{
	char name[128];

	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *c = &fr_counters[i];

		if (c->scope != FR_SCOPE_NATS)
			continue;
		prom_family_start(b, c, name, sizeof name);
		prom_counter_samples(b, c, name, NULL, &n->counters);
	}
	prom_header(b, "framerouter_nats_info", "gauge",
	    "Always 1; the labels say the NATS connection's state, its server and this node.");
	prom_sample_start(b, "framerouter_nats_info", NULL, "state", n->state);
	fr_buf_puts(b, ",server=\"");
	put_escaped(b, n->server, ESC_LABEL);
	fr_buf_puts(b, "\",node=\"");
	put_escaped(b, n->node_id, ESC_LABEL);
	fr_buf_puts(b, "\"} 1\n");
}

/*
 * Families outer, streams inner: the format wants each family's samples together, after
 * its one HELP and TYPE. Per-client data stays out (one series per client connection
 * would grow without bound); /stats has it. Stream names must be unique, or two samples
 * would carry the same labels.
 */
void
fr_stats_format_prometheus(struct fr_buf *b, const struct fr_stats_snapshot *snap)
{
	char name[128];

	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *c = &fr_counters[i];

		if (c->scope != FR_SCOPE_STREAM)
			continue;
		prom_family_start(b, c, name, sizeof name);
		for (size_t k = 0; k < snap->n_streams; k++)
			prom_counter_samples(
			    b, c, name, snap->streams[k].name, &snap->streams[k].counters);
	}
	for (size_t g = 0; g < N_ELEMS(stream_gauges); g++) {
		prom_header(b, stream_gauges[g].name, "gauge", stream_gauges[g].help);
		for (size_t k = 0; k < snap->n_streams; k++)
			prom_stream_gauge(b, (enum stream_gauge)g, &snap->streams[k]);
	}
	prom_upstreams(b, snap);
	prom_header(b, "framerouter_uptime_seconds", "gauge", "Seconds since framerouter started.");
	fr_buf_puts(b, "framerouter_uptime_seconds ");
	put_double(b, snap->uptime_s);
	fr_buf_puts(b, "\n");
	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *c = &fr_counters[i];

		if (c->scope != FR_SCOPE_PROCESS)
			continue;
		prom_family_start(b, c, name, sizeof name);
		prom_counter_samples(b, c, name, NULL, &snap->counters);
	}
	if (snap->nats != NULL)
		prom_nats(b, snap->nats);
	prom_header(b, "framerouter_build_info", "gauge",
	    "Always 1; the version label says which framerouter this is.");
	prom_sample_start(b, "framerouter_build_info", NULL, "version", snap->version);
	fr_buf_puts(b, "} 1\n");
}

/* ---- log lines ---- */

/*
 * Appends " name=value" (no space first) to the line of len bytes, used of them taken.
 * Returns false once the line is full: snprintf has truncated and terminated it.
 */
static bool
line_add(char *buf, size_t len, size_t *used, const struct fr_counter *c, const void *counters)
{
	char v[32];
	int n;

	if (c->kind == FR_HISTOGRAM) {
		const struct fr_histogram *h = histogram_of(c, counters);
		double sum = isfinite(h->sum) ? h->sum : 0;

		n = snprintf(buf + *used, len - *used, "%s%s_count=%" PRIu64 " %s_sum=%.3f",
		    *used ? " " : "", c->name, h->count, c->name, sum);
	} else {
		if (c->is_nanoseconds)
			print_seconds(v, sizeof v, value_of(c, counters));
		else
			snprintf(v, sizeof v, "%" PRIu64, value_of(c, counters));
		n = snprintf(buf + *used, len - *used, "%s%s=%s", *used ? " " : "", c->name, v);
	}

	if (n < 0 || (size_t)n >= len - *used)
		return false;
	*used += (size_t)n;
	return true;
}

/* The counters of scope in table order, groups by their members, the last ones last. */
static void
format_line(char *buf, size_t len, enum fr_counter_scope scope, const void *counters)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (int last = 0; last < 2; last++) {
		for (size_t i = 0; i < fr_n_counters; i++) {
			const struct fr_counter *c = &fr_counters[i];

			if (c->scope != scope || c->is_logged_last != (last == 1))
				continue;
			if (c->members == NULL && !line_add(buf, len, &used, c, counters))
				return;
			for (size_t m = 0; m < c->n_members; m++)
				if (!line_add(buf, len, &used, &c->members[m], counters))
					return;
		}
	}
}

void
fr_stats_format_process(char *buf, size_t len, const struct fr_process_counters *c)
{
	format_line(buf, len, FR_SCOPE_PROCESS, c);
}

void
fr_stats_format_stream(char *buf, size_t len, const struct fr_stream_counters *c)
{
	format_line(buf, len, FR_SCOPE_STREAM, c);
}

void
fr_stats_format_client(char *buf, size_t len, const struct fr_client_counters *c)
{
	format_line(buf, len, FR_SCOPE_CLIENT, c);
}

void
fr_stats_format_upstream(char *buf, size_t len, const struct fr_stats_upstream *u)
{
	int n = snprintf(buf, len, "state=%s ", u->state);

	if (n > 0 && (size_t)n < len)
		format_line(buf + n, len - (size_t)n, FR_SCOPE_UPSTREAM, &u->counters);
}

void
fr_stats_format_nats(char *buf, size_t len, const struct fr_nats_counters *c)
{
	format_line(buf, len, FR_SCOPE_NATS, c);
}
