/* SPDX-License-Identifier: MIT */
/*
 * Text forms of the counters: the SIGUSR1 log lines, the /stats JSON and the /metrics
 * Prometheus text, all built from structs the caller gathered, so the names stay spelled
 * alike everywhere. Also the growable buffer they are written into. Pure: no I/O.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/failpoint.h"
#include "fr/stats.h"

/* ---- fr_buf ---- */

enum { BUF_MIN_CAP = 4096 };

static struct fr_failpoint alloc_failpoint;

#ifdef FR_TESTING
void
fr_buf_fail_alloc_after(unsigned n)
{
	alloc_failpoint.after = n;
}
#endif

void
fr_buf_init(struct fr_buf *b)
{
	*b = (struct fr_buf){0};
}

void
fr_buf_fini(struct fr_buf *b)
{
	free(b->data);
	*b = (struct fr_buf){0};
}

/*
 * Makes room for extra more bytes plus the NUL that always follows the contents. On
 * failure the buffer keeps what it had and refuses everything from then on.
 */
static int
buf_reserve(struct fr_buf *b, size_t extra)
{
	if (b->has_failed)
		return -1;
	if (extra < b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX - 1 - b->len)
		goto fail;
	size_t need = b->len + extra + 1;
	size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = fr_failpoint_hit(&alloc_failpoint) ? NULL : realloc(b->data, cap);
	if (p == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->has_failed = 1;
	return -1;
}

void
fr_buf_append(struct fr_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
fr_buf_printf(struct fr_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->has_failed)
		return;
	/* Most calls fit in the room left; vsnprintf reports the full length if not. */
	size_t room = b->cap - b->len;
	va_start(ap, fmt);
	int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= room && buf_reserve(b, (size_t)n) == 0) {
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || b->has_failed) {
		/* The first try may have left a truncated tail past len: cut it off. */
		b->has_failed = 1;
		if (b->data != NULL)
			b->data[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

static void
buf_puts(struct fr_buf *b, const char *s)
{
	fr_buf_append(b, s, strlen(s));
}

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
			buf_puts(b, esc);
			p++;
		} else {
			buf_puts(b, mode == ESC_JSON ? "\\ufffd" : "\xef\xbf\xbd");
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
	buf_puts(b, "\"");
	put_escaped(b, s, ESC_JSON);
	buf_puts(b, "\"");
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
		buf_puts(b, "null");
	else
		put_double(b, v);
}

/* ---- shared tables ---- */

/* The reasons a stream drops frames: the JSON keys and the Prometheus reason label. */
static const struct {
	const char *reason;
	size_t offset; /* of the uint64_t in struct fr_stream_counters */
} drop_reasons[] = {
    {"slow_client", offsetof(struct fr_stream_counters, dropped_slow_client)},
    {"fps_cap", offsetof(struct fr_stream_counters, dropped_fps_cap)},
    {"invalid", offsetof(struct fr_stream_counters, dropped_invalid)},
    {"oversize", offsetof(struct fr_stream_counters, dropped_oversize)},
    {"truncated", offsetof(struct fr_stream_counters, dropped_truncated)},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t
counter_at(const struct fr_stream_counters *c, size_t offset)
{
	uint64_t v;

	memcpy(&v, (const char *)c + offset, sizeof v);
	return v;
}

/* Whether the stream has a latest frame; either field says "none" (see stats.h). */
static int
has_frame(const struct fr_stats_stream *s)
{
	return s->latest_bytes > 0 && !(s->latest_age_s < 0);
}

/* ---- JSON (/stats) ---- */

static void
json_client(struct fr_buf *b, const struct fr_stats_client *cl)
{
	const struct fr_client_counters *c = &cl->counters;

	buf_puts(b, "{\"peer\": ");
	put_json_str(b, cl->peer);
	buf_puts(b, ", \"protocol\": ");
	put_json_str(b, cl->protocol);
	buf_puts(b, ", \"connected_s\": ");
	put_double(b, cl->connected_s);
	fr_buf_printf(b,
	    ", \"frames_sent\": %" PRIu64 ", \"bytes_sent\": %" PRIu64
	    ", \"dropped\": {\"slow_client\": %" PRIu64 ", \"fps_cap\": %" PRIu64 "}",
	    c->frames_sent, c->bytes_sent, c->frames_dropped, c->frames_dropped_fps_cap);
	buf_puts(b, ", \"frame_age_s\": ");
	put_double_or_null(b, cl->sending_age_s);
	buf_puts(b, "}");
}

/* Width and height are null when unknown (0: the frame was not decoded). */
static void
json_latest_frame(struct fr_buf *b, const struct fr_stats_stream *s)
{
	if (!has_frame(s)) {
		buf_puts(b, "null");
		return;
	}
	fr_buf_printf(b, "{\"bytes\": %zu, \"width\": ", s->latest_bytes);
	if (s->latest_width > 0)
		fr_buf_printf(b, "%d", s->latest_width);
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"height\": ");
	if (s->latest_height > 0)
		fr_buf_printf(b, "%d", s->latest_height);
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"age_s\": ");
	put_double(b, s->latest_age_s);
	buf_puts(b, "}");
}

static void
json_stream(struct fr_buf *b, const struct fr_stats_stream *s)
{
	const struct fr_stream_counters *c = &s->counters;

	fr_buf_printf(b,
	    "{\"frames_in\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"frames_out\": %" PRIu64
	    ", \"bytes_out\": %" PRIu64 ", \"dropped\": {",
	    c->frames_in, c->bytes_in, c->frames_out, c->bytes_out);
	for (size_t i = 0; i < N_ELEMS(drop_reasons); i++)
		fr_buf_printf(b, "%s\"%s\": %" PRIu64, i ? ", " : "", drop_reasons[i].reason,
		    counter_at(c, drop_reasons[i].offset));
	fr_buf_printf(b,
	    "}, \"garbage_bytes\": %" PRIu64 ", \"clients\": %" PRIu64
	    ", \"clients_refused\": %" PRIu64 ", \"producer_connected\": %s"
	    ", \"producer_connects\": %" PRIu64 ", \"producer\": ",
	    c->garbage_bytes, c->clients, c->clients_refused,
	    c->producer_connected ? "true" : "false", c->producer_connects);
	if (s->producer != NULL)
		put_json_str(b, s->producer);
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"input_fps\": ");
	put_double(b, s->input_fps);
	buf_puts(b, ", \"latest_frame\": ");
	json_latest_frame(b, s);
	buf_puts(b, ", \"client_list\": [");
	for (size_t i = 0; i < s->n_clients; i++) {
		if (i > 0)
			buf_puts(b, ", ");
		json_client(b, &s->clients[i]);
	}
	buf_puts(b, "], \"stale_after_s\": ");
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
	buf_puts(b, "{\"version\": ");
	put_json_str(b, snap->version);
	buf_puts(b, ", \"uptime_s\": ");
	put_double(b, snap->uptime_s);
	fr_buf_printf(b, ", \"connections_denied\": %" PRIu64, snap->connections_denied);
	buf_puts(b, ", \"streams\": {");
	for (size_t i = 0; i < snap->n_streams; i++) {
		if (i > 0)
			buf_puts(b, ", ");
		put_json_str(b, snap->streams[i].name);
		buf_puts(b, ": ");
		json_stream(b, &snap->streams[i]);
	}
	buf_puts(b, "}}\n");
}

/* ---- Prometheus (/metrics) ---- */

enum prom_kind {
	PROM_U64,     /* the uint64_t at offset in the stream counters */
	PROM_DROPPED, /* one sample per drop reason */
	PROM_INPUT_FPS,
	PROM_LATEST_BYTES,
	PROM_LATEST_AGE, /* no sample for a stream without a frame */
};

/* The per-stream families, in output order. Counters end in _total, as the format asks. */
static const struct {
	const char *name, *type, *help;
	enum prom_kind kind;
	size_t offset;
} prom_families[] = {
#define OFF(f) offsetof(struct fr_stream_counters, f)
    {"framerouter_frames_in_total", "counter", "Whole JPEG frames received from producers.",
        PROM_U64, OFF(frames_in)},
    {"framerouter_bytes_in_total", "counter", "Bytes received from producers.", PROM_U64,
        OFF(bytes_in)},
    {"framerouter_frames_out_total", "counter", "Frames completely written to subscribers.",
        PROM_U64, OFF(frames_out)},
    {"framerouter_bytes_out_total", "counter", "Bytes written to subscribers.", PROM_U64,
        OFF(bytes_out)},
    {"framerouter_frames_dropped_total", "counter",
        "Frames dropped, by reason: skipped for a slow subscriber or a subscriber's fps cap, "
        "or rejected as invalid, oversize or truncated input.",
        PROM_DROPPED, 0},
    {"framerouter_garbage_bytes_total", "counter", "Bytes from producers outside any JPEG frame.",
        PROM_U64, OFF(garbage_bytes)},
    {"framerouter_clients", "gauge", "Subscribers connected now.", PROM_U64, OFF(clients)},
    {"framerouter_clients_refused_total", "counter",
        "Subscribers refused because the server was full.", PROM_U64, OFF(clients_refused)},
    {"framerouter_producer_connected", "gauge", "1 while a producer is connected, else 0.",
        PROM_U64, OFF(producer_connected)},
    {"framerouter_producer_connects_total", "counter", "Producer connections accepted.", PROM_U64,
        OFF(producer_connects)},
    {"framerouter_input_fps", "gauge", "Frames per second received over the last seconds.",
        PROM_INPUT_FPS, 0},
    {"framerouter_latest_frame_bytes", "gauge",
        "Size of the latest frame in bytes, 0 when there is none.", PROM_LATEST_BYTES, 0},
    {"framerouter_latest_frame_age_seconds", "gauge",
        "Seconds since the latest frame arrived; absent when there is none.", PROM_LATEST_AGE, 0},
#undef OFF
};

static void
prom_header(struct fr_buf *b, const char *name, const char *type, const char *help)
{
	fr_buf_printf(b, "# HELP %s ", name);
	put_escaped(b, help, ESC_HELP);
	fr_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* Starts a sample line: name{stream="…" and the closing brace is the caller's. */
static void
prom_sample_start(struct fr_buf *b, const char *name, const struct fr_stats_stream *s)
{
	fr_buf_printf(b, "%s{stream=\"", name);
	put_escaped(b, s->name, ESC_LABEL);
	buf_puts(b, "\"");
}

static void
prom_stream_samples(struct fr_buf *b, size_t fam, const struct fr_stats_stream *s)
{
	const char *name = prom_families[fam].name;

	switch (prom_families[fam].kind) {
	case PROM_U64:
		prom_sample_start(b, name, s);
		fr_buf_printf(
		    b, "} %" PRIu64 "\n", counter_at(&s->counters, prom_families[fam].offset));
		break;
	case PROM_DROPPED:
		for (size_t i = 0; i < N_ELEMS(drop_reasons); i++) {
			prom_sample_start(b, name, s);
			fr_buf_printf(b, ",reason=\"%s\"} %" PRIu64 "\n", drop_reasons[i].reason,
			    counter_at(&s->counters, drop_reasons[i].offset));
		}
		break;
	case PROM_INPUT_FPS:
		prom_sample_start(b, name, s);
		buf_puts(b, "} ");
		put_double(b, s->input_fps);
		buf_puts(b, "\n");
		break;
	case PROM_LATEST_BYTES:
		prom_sample_start(b, name, s);
		fr_buf_printf(b, "} %zu\n", has_frame(s) ? s->latest_bytes : (size_t)0);
		break;
	case PROM_LATEST_AGE:
		if (!has_frame(s))
			break;
		prom_sample_start(b, name, s);
		buf_puts(b, "} ");
		put_double(b, s->latest_age_s);
		buf_puts(b, "\n");
		break;
	}
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
	for (size_t f = 0; f < N_ELEMS(prom_families); f++) {
		prom_header(b, prom_families[f].name, prom_families[f].type, prom_families[f].help);
		for (size_t i = 0; i < snap->n_streams; i++)
			prom_stream_samples(b, f, &snap->streams[i]);
	}
	prom_header(b, "framerouter_uptime_seconds", "gauge", "Seconds since framerouter started.");
	buf_puts(b, "framerouter_uptime_seconds ");
	put_double(b, snap->uptime_s);
	buf_puts(b, "\n");
	prom_header(b, "framerouter_connections_denied_total", "counter",
	    "Connections closed at accept because --allow does not admit the address.");
	fr_buf_printf(b, "framerouter_connections_denied_total %" PRIu64 "\n",
	    snap->connections_denied);
	prom_header(b, "framerouter_build_info", "gauge",
	    "Always 1; the version label says which framerouter this is.");
	buf_puts(b, "framerouter_build_info{version=\"");
	put_escaped(b, snap->version, ESC_LABEL);
	buf_puts(b, "\"} 1\n");
}

/* ---- log lines ---- */

void
fr_stats_format_stream(char *buf, size_t len, const struct fr_stream_counters *c)
{
	snprintf(buf, len,
	    "frames_in=%" PRIu64 " bytes_in=%" PRIu64 " frames_out=%" PRIu64 " bytes_out=%" PRIu64
	    " dropped_slow_client=%" PRIu64 " dropped_fps_cap=%" PRIu64 " dropped_invalid=%" PRIu64
	    " dropped_oversize=%" PRIu64 " dropped_truncated=%" PRIu64 " garbage_bytes=%" PRIu64
	    " clients=%" PRIu64 " clients_refused=%" PRIu64 " producer_connected=%" PRIu64
	    " producer_connects=%" PRIu64,
	    c->frames_in, c->bytes_in, c->frames_out, c->bytes_out, c->dropped_slow_client,
	    c->dropped_fps_cap, c->dropped_invalid, c->dropped_oversize, c->dropped_truncated,
	    c->garbage_bytes, c->clients, c->clients_refused, c->producer_connected,
	    c->producer_connects);
}

void
fr_stats_format_client(char *buf, size_t len, const struct fr_client_counters *c)
{
	snprintf(buf, len,
	    "frames_sent=%" PRIu64 " frames_dropped=%" PRIu64 " frames_dropped_fps_cap=%" PRIu64
	    " bytes_sent=%" PRIu64,
	    c->frames_sent, c->frames_dropped, c->frames_dropped_fps_cap, c->bytes_sent);
}
