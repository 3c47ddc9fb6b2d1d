/* SPDX-License-Identifier: MIT */
/*
 * The puller's state machine on the loop:
 *
 *   idle -> resolving -> connecting -> requesting -> head -> streaming -> (failure) backoff
 *                ^                                             |  still images:     |
 *                |                                             v                    |
 *                +---------------------- poll wait <-----------+                    |
 *                +--------------------------------------------------- retry --------+
 *
 * plus paused (a pushed producer has the stream). One ev_io for the socket, one timer
 * for whatever the state waits for (the attempt's deadline, the backoff, the next poll),
 * a watchdog for frames while streaming, and a linger timer for on-demand. The bytes go
 * to the ingest as they come: tcp:// as they are, http:// through the response head
 * parser, a chunked decoder and the multipart parser, so only JPEG bytes reach it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fr/http_response.h"
#include "fr/log.h"
#include "fr/multipart_parse.h"
#include "fr/net.h"
#include "fr/pull.h"
#include "fr/util.h"

#define PULL_BUF_BYTES (64 * 1024)	/* > any response head (16 KiB) */
#define PULL_READS_PER_EVENT 8		/* as ingest.c: drain a burst, let others run */
#define PULL_ATTEMPT_TIMEOUT_S 10.0	/* with --producer-timeout 0 */
#define PULL_MAX_REDIRECTS 3
/* A connection that has streamed this long and delivered a frame ends the run of
 * failures: an upstream that sends one frame and hangs up still backs off. */
#define PULL_HEALTHY_AFTER_S 1.0
#define PULL_REQUEST_MAX 2048

enum state {
	P_IDLE,			/* on-demand without subscribers */
	P_RESOLVING,
	P_CONNECTING,
	P_REQUESTING,		/* sending the GET */
	P_HEAD,			/* reading the response head */
	P_STREAMING,		/* feeding the stream (or reading one still image) */
	P_POLL_WAIT,		/* a still image arrived; the next is due later */
	P_BACKOFF,
	P_PAUSED,		/* a pushed producer has the stream */
};

/* What /stats says: the steps of one attempt are all "connecting". */
static const char *const state_names[] = {
	[P_IDLE] = "idle", [P_RESOLVING] = "connecting", [P_CONNECTING] = "connecting",
	[P_REQUESTING] = "connecting", [P_HEAD] = "connecting", [P_STREAMING] = "streaming",
	[P_POLL_WAIT] = "streaming", [P_BACKOFF] = "backoff", [P_PAUSED] = "paused",
};

enum body_kind {
	BODY_RAW,		/* JPEGs back to back (tcp://, or sniffed) */
	BODY_MULTIPART,
	BODY_STILL,		/* one JPEG per response */
	BODY_SNIFF,		/* no useful Content-Type: the first byte decides */
};

struct fr_pull {
	struct ev_loop *loop;
	struct fr_resolver *resolver;
	struct fr_stream *stream;
	struct fr_ingest *ingest;
	struct fr_pull_config cfg;
	struct fr_pull_params params;
	enum state state;
	struct fr_url url;		/* this attempt's, after redirects */
	unsigned redirects;		/* in this attempt */
	struct fr_resolve *lookup;
	struct fr_addr addrs[FR_RESOLVE_MAX_ADDRS];
	size_t n_addrs, addr_i;		/* tried in order until one connects */
	char connect_error[96];		/* the last address's failure */
	int fd;
	ev_io io;
	ev_timer timer;			/* the state's deadline, the backoff, the next poll */
	ev_timer watchdog;		/* no frame for timeout_s while attached */
	ev_timer linger;		/* on-demand: since the last subscriber left */
	bool is_attached;		/* the stream's producer */
	bool has_demand;		/* the stream has subscribers */
	double attached_at;
	double last_frame_at;		/* 0 until this upstream sends a frame */
	uint64_t bytes_since_frame;
	double retry_at;		/* P_BACKOFF: when the next attempt begins */
	double poll_at;			/* still images: when the last request went out */
	unsigned failures_in_row;
	uint64_t rng;
	/* the HTTP exchange */
	struct fr_http_response_parser rp;
	struct fr_http_response resp;
	enum body_kind body;
	bool is_chunked;
	struct fr_http_chunked chunked;
	bool has_body_length;
	uint64_t body_left;
	bool is_keep_alive;		/* the socket may carry the next poll */
	struct fr_multipart_parser mp;
	char out[PULL_REQUEST_MAX];
	size_t out_len, out_sent;
	uint8_t *in;			/* PULL_BUF_BYTES; a head accumulates, a body passes */
	size_t in_len;
	/* what /stats shows */
	struct fr_upstream_counters counters;
	char last_error[192];
	struct fr_ratelimit log;
};

static void start_attempt(struct fr_pull *p);
static void connect_to_url(struct fr_pull *p);

/* ---- helpers ---- */

double
fr_pull_backoff_s(unsigned failures, double max_s, double u)
{
	double base = FR_PULL_BACKOFF_MIN_S;

	for (unsigned i = 1; i < failures && base < max_s; i++)
		base *= 2;
	if (base > max_s)
		base = max_s;
	return base * (0.75 + 0.25 * u);
}

/* xorshift64*: the jitter only has to differ between pullers and attempts. */
static double
next_uniform(struct fr_pull *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return (double)((p->rng * 0x2545f4914f6cdd1dULL) >> 11) * 0x1.0p-53;
}

static double
attempt_timeout_s(const struct fr_pull *p)
{
	return p->params.timeout_s > 0 ? p->params.timeout_s : PULL_ATTEMPT_TIMEOUT_S;
}

static void
watch(struct fr_pull *p, int events)
{
	ev_io_stop(p->loop, &p->io);
	ev_io_set(&p->io, p->fd, events);
	ev_io_start(p->loop, &p->io);
}

static void
set_timer(struct fr_pull *p, double after_s)
{
	ev_timer_stop(p->loop, &p->timer);
	ev_timer_set(&p->timer, after_s > 0 ? after_s : 0., 0.);
	ev_timer_start(p->loop, &p->timer);
}

/* Closes the socket and forgets the lookup; the feed is the caller's business. */
static void
close_upstream(struct fr_pull *p)
{
	fr_resolve_cancel(p->lookup);
	p->lookup = NULL;
	if (p->fd >= 0) {
		ev_io_stop(p->loop, &p->io);
		close(p->fd);
		p->fd = -1;
	}
	ev_timer_stop(p->loop, &p->timer);
	p->in_len = 0;
}

static void
detach(struct fr_pull *p, const char *why)
{
	if (!p->is_attached)
		return;
	p->is_attached = false;
	ev_timer_stop(p->loop, &p->watchdog);
	/* Calls vacant_cb, which ignores it: we are not paused. */
	fr_ingest_end_feed(p->ingest, why);
}

/* ---- failures and the backoff ---- */

static void failure(struct fr_pull *p, enum fr_upstream_failure reason, const char *fmt, ...)
    FR_PRINTF(3, 4);

static void
failure(struct fr_pull *p, enum fr_upstream_failure reason, const char *fmt, ...)
{
	double now = ev_now(p->loop);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->last_error, sizeof p->last_error, fmt, ap);
	va_end(ap);
	(*fr_stats_upstream_failure_counter(&p->counters, reason))++;
	close_upstream(p);
	detach(p, p->last_error);
	double delay = fr_pull_backoff_s(++p->failures_in_row, p->cfg.reconnect_max_s,
	    next_uniform(p));
	p->retry_at = now + delay;
	p->state = P_BACKOFF;
	set_timer(p, delay);
	fr_log_limited(&p->log, now, FR_LOG_WARN, "stream %s: upstream %s: %s: %s; retrying in "
	    "%.1f s", p->stream->name, p->cfg.url.text, fr_stats_upstream_failure_name(reason),
	    p->last_error, delay);
}

/* Untrusted text from the upstream (a reason phrase, a Content-Type), for the log. */
static const char *
escaped(const char *s, char *buf, size_t len)
{
	fr_log_escape(buf, len, s, strlen(s));
	return buf;
}

/* ---- the stream's producer slot ---- */

static void
pause_pulling(struct fr_pull *p)
{
	close_upstream(p);
	ev_timer_stop(p->loop, &p->watchdog);
	p->state = P_PAUSED;
	fr_log_limited(&p->log, ev_now(p->loop), FR_LOG_INFO, "stream %s: a pushed producer has "
	    "the stream: pulling %s paused until it leaves", p->stream->name, p->cfg.url.text);
}

/* Another producer took the slot (ingest.c has already let us go). */
static void
replaced_cb(void *arg)
{
	struct fr_pull *p = arg;

	p->is_attached = false;
	pause_pulling(p);
}

/* The slot is free again: a pushed producer left (or we did; then we are not paused). */
static void
vacant_cb(void *arg)
{
	struct fr_pull *p = arg;

	if (p->state != P_PAUSED)
		return;
	p->failures_in_row = 0;
	if (p->cfg.is_on_demand && !p->has_demand) {
		p->state = P_IDLE;
		return;
	}
	start_attempt(p);
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_pull *p = FR_CONTAINER_OF(w, struct fr_pull, watchdog);
	/* Still images come one poll interval apart at best. */
	double timeout_s =
	    p->params.timeout_s + (p->body == BODY_STILL ? 1.0 / p->cfg.poll_fps : 0);
	double since = p->last_frame_at > p->attached_at ? p->last_frame_at : p->attached_at;
	double silent_s = ev_now(loop) - since;

	(void)revents;
	if (p->params.timeout_s <= 0)
		return;
	if (silent_s < timeout_s) {
		ev_timer_set(w, timeout_s - silent_s, 0.);
		ev_timer_start(loop, w);
		return;
	}
	failure(p, FR_UPSTREAM_TIMEOUT, "no frame for %.1f s (%llu bytes since)", silent_s,
	    (unsigned long long)p->bytes_since_frame);
}

/* Becomes the stream's producer; false (and paused) if a pushed one has it. */
static bool
attach(struct fr_pull *p)
{
	struct fr_addr peer;

	if (p->is_attached)
		return true;
	if (fr_ingest_has_producer(p->ingest)) {
		pause_pulling(p);
		return false;
	}
	memset(&peer, 0, sizeof peer);
	/* The producer /stats names: the URL, cut to fit if it must be. */
	snprintf(peer.text, sizeof peer.text, "%.*s", (int)sizeof peer.text - 1, p->cfg.url.text);
	p->is_attached = true;
	p->attached_at = ev_now(p->loop);
	p->bytes_since_frame = 0;
	p->counters.connects++;
	fr_ingest_attach_source(p->ingest, &peer, replaced_cb, p);
	if (p->params.timeout_s > 0) {
		ev_timer_set(&p->watchdog, p->params.timeout_s, 0.);
		ev_timer_start(p->loop, &p->watchdog);
	}
	return true;
}

/* JPEG bytes (or what should be) for the ingest. */
static void
feed(struct fr_pull *p, const uint8_t *data, size_t len)
{
	uint64_t before = p->stream->counters.frames_in;
	double now = ev_now(p->loop);

	fr_ingest_feed(p->ingest, data, len);
	p->bytes_since_frame += len;
	if (p->stream->counters.frames_in == before)
		return;
	p->last_frame_at = now;
	p->bytes_since_frame = 0;
	if (now - p->attached_at >= PULL_HEALTHY_AFTER_S)
		p->failures_in_row = 0;
}

/* ---- on-demand ---- */

static void
go_idle(struct fr_pull *p)
{
	close_upstream(p);
	detach(p, "no subscribers (on-demand)");
	p->failures_in_row = 0;
	p->state = P_IDLE;
}

static void
linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_pull *p = FR_CONTAINER_OF(w, struct fr_pull, linger);

	(void)loop, (void)revents;
	if (p->has_demand || p->state == P_IDLE || p->state == P_PAUSED)
		return;
	fr_log_limited(&p->log, ev_now(p->loop), FR_LOG_INFO, "stream %s: no subscribers for "
	    "%.1f s: upstream %s disconnected (on-demand)", p->stream->name, p->cfg.linger_s,
	    p->cfg.url.text);
	go_idle(p);
}

static void
demand_cb(struct fr_stream *s, bool has_demand, void *arg)
{
	struct fr_pull *p = arg;

	(void)s;
	p->has_demand = has_demand;
	if (has_demand) {
		ev_timer_stop(p->loop, &p->linger);
		if (p->state == P_IDLE)
			start_attempt(p);
		return;
	}
	ev_timer_set(&p->linger, p->cfg.linger_s, 0.);
	ev_timer_start(p->loop, &p->linger);
}

/* ---- still images ---- */

static void
build_request(struct fr_pull *p)
{
	const struct fr_url *u = &p->url;
	char host[FR_URL_HOST_MAX + 10];
	char auth[FR_TOKEN_MAX + FR_URL_BASIC_MAX + 40] = "";

	fr_url_host_header(u, host, sizeof host);
	if (u->basic[0] != '\0')
		snprintf(auth, sizeof auth, "Authorization: Basic %s\r\n", u->basic);
	else if (p->cfg.token[0] != '\0' && strcmp(u->host, p->cfg.url.host) == 0 &&
	    u->port == p->cfg.url.port)	/* the token goes to its own server only */
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", p->cfg.token);
	int n = snprintf(p->out, sizeof p->out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: framerouter/" PACKAGE_VERSION "\r\n"
	    "Accept: multipart/x-mixed-replace, image/jpeg, */*;q=0.5\r\n%s\r\n", u->target, host,
	    auth);
	p->out_len = n > 0 && (size_t)n < sizeof p->out ? (size_t)n : 0;
	p->out_sent = 0;
	memset(auth, 0, sizeof auth);
}

static void send_request(struct fr_pull *p);

static void
next_poll(struct fr_pull *p)
{
	if (p->fd < 0) {	/* the server closed it, or never keeps them */
		connect_to_url(p);
		return;
	}
	build_request(p);
	p->state = P_REQUESTING;
	set_timer(p, attempt_timeout_s(p));
	send_request(p);
}

static void
end_image(struct fr_pull *p)
{
	double now = ev_now(p->loop);
	double next = p->poll_at + 1.0 / p->cfg.poll_fps;

	fr_ingest_end_unit(p->ingest);
	if (!p->is_keep_alive && p->fd >= 0) {
		ev_io_stop(p->loop, &p->io);
		close(p->fd);
		p->fd = -1;
	}
	p->state = P_POLL_WAIT;
	p->in_len = 0;
	if (p->fd >= 0)
		watch(p, EV_READ);	/* to notice the server closing it meanwhile */
	set_timer(p, next - now);
}

/* ---- the HTTP body ---- */

static void
body_from_multipart(struct fr_pull *p, const uint8_t *in, size_t len)
{
	size_t at = 0;

	for (;;) {
		const uint8_t *data;
		size_t used, n;
		enum fr_multipart_result r = fr_multipart_parse(&p->mp, in + at, len - at, &used,
		    &data, &n);

		at += used;
		switch (r) {
		case FR_MULTIPART_MORE:
			return;
		case FR_MULTIPART_DATA:
			feed(p, data, n);
			break;
		case FR_MULTIPART_PART_END:
			fr_ingest_end_unit(p->ingest);
			break;
		case FR_MULTIPART_DONE:
			failure(p, FR_UPSTREAM_CLOSED, "the upstream ended the multipart stream");
			return;
		case FR_MULTIPART_ERROR:
			failure(p, FR_UPSTREAM_BAD_RESPONSE, "broken multipart body: %s",
			    p->mp.error);
			return;
		}
		if (p->state != P_STREAMING)
			return;
	}
}

/* No Content-Type to go by: JPEG bytes, or a boundary line, must come first. */
static bool
sniff(struct fr_pull *p, const uint8_t *in, size_t len)
{
	char ct[64];
	size_t i = 0;

	while (i < len && (in[i] == '\r' || in[i] == '\n' || in[i] == ' ' || in[i] == '\t'))
		i++;
	if (i == len)
		return true;	/* nothing telling yet */
	if (in[i] == 0xff) {
		p->body = BODY_RAW;
	} else if (in[i] == '-') {
		p->body = BODY_MULTIPART;
		fr_multipart_parser_init(&p->mp, NULL);
	} else {
		failure(p, FR_UPSTREAM_BAD_CONTENT_TYPE, "the body (Content-Type %s) is neither "
		    "JPEG nor multipart", p->resp.content_type[0] ?
		    escaped(p->resp.content_type, ct, sizeof ct) : "absent");
		return false;
	}
	return true;
}

/* Body bytes after any chunked coding. */
static void
body_decoded(struct fr_pull *p, const uint8_t *in, size_t len)
{
	if (p->body == BODY_SNIFF && !sniff(p, in, len))
		return;
	switch (p->body) {
	case BODY_SNIFF:	/* still nothing telling */
		break;
	case BODY_MULTIPART:
		body_from_multipart(p, in, len);
		break;
	case BODY_RAW:
	case BODY_STILL:
		feed(p, in, len);
		break;
	}
}

/* The response body has ended (its Content-Length, the last chunk, or EOF). */
static void
body_end(struct fr_pull *p)
{
	if (p->body == BODY_STILL)
		end_image(p);
	else
		failure(p, FR_UPSTREAM_CLOSED, "the upstream ended the stream");
}

static void
body_input(struct fr_pull *p, const uint8_t *in, size_t len)
{
	if (p->is_chunked) {
		size_t at = 0;

		while (p->state == P_STREAMING) {
			size_t used, off, n;
			enum fr_http_chunked_result r = fr_http_chunked_feed(&p->chunked, in + at,
			    len - at, &used, &off, &n);

			if (r == FR_HTTP_CHUNKED_DATA)
				body_decoded(p, in + at + off, n);
			at += used;
			if (r == FR_HTTP_CHUNKED_MORE)
				return;
			if (r == FR_HTTP_CHUNKED_DONE) {
				body_end(p);
				return;
			}
			if (r == FR_HTTP_CHUNKED_ERROR) {
				failure(p, FR_UPSTREAM_BAD_RESPONSE, "broken chunked body: %s",
				    p->chunked.error);
				return;
			}
		}
		return;
	}
	if (!p->has_body_length) {
		body_decoded(p, in, len);
		return;
	}
	size_t n = len < p->body_left ? len : (size_t)p->body_left;
	p->body_left -= n;
	body_decoded(p, in, n);
	if (p->state == P_STREAMING && p->body_left == 0)
		body_end(p);
}

/* ---- the response head ---- */

static bool
is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void
follow_redirect(struct fr_pull *p)
{
	struct fr_url next;
	char err[FR_ERR_LEN];

	if (++p->redirects > PULL_MAX_REDIRECTS) {
		failure(p, FR_UPSTREAM_HTTP_STATUS, "more than %d redirects", PULL_MAX_REDIRECTS);
		return;
	}
	if (fr_url_resolve(&next, &p->url, p->resp.location, err) < 0) {
		char buf[FR_ERR_LEN];

		failure(p, FR_UPSTREAM_HTTP_STATUS, "HTTP %d: %s", p->resp.status,
		    escaped(err, buf, sizeof buf));
		return;
	}
	fr_log_limited(&p->log, ev_now(p->loop), FR_LOG_INFO, "stream %s: upstream %s: HTTP %d, "
	    "following the redirect to %s", p->stream->name, p->url.text, p->resp.status,
	    next.text);
	p->url = next;
	close_upstream(p);
	connect_to_url(p);
}

/* Decides how to read the body from the Content-Type. False after a failure. */
static bool
choose_body(struct fr_pull *p)
{
	const char *ct = p->resp.content_type;
	char boundary[FR_MULTIPART_BOUNDARY_MAX + 1];
	char buf[96];

	if (fr_http_media_type_is(ct, "multipart/*")) {
		p->body = BODY_MULTIPART;
		fr_multipart_parser_init(&p->mp, fr_http_boundary(ct, boundary, sizeof boundary) ?
		    boundary : NULL);
	} else if (fr_http_media_type_is(ct, "image/jpeg") ||
	    fr_http_media_type_is(ct, "image/jpg") || fr_http_media_type_is(ct, "image/pjpeg")) {
		p->body = BODY_STILL;
	} else if (ct[0] == '\0' || fr_http_media_type_is(ct, "application/octet-stream") ||
	    fr_http_media_type_is(ct, "video/x-motion-jpeg") ||
	    fr_http_media_type_is(ct, "video/mjpeg") ||
	    fr_http_media_type_is(ct, "video/x-mjpeg")) {
		p->body = BODY_SNIFF;	/* ffmpeg's own HTTP server says octet-stream */
	} else {
		failure(p, FR_UPSTREAM_BAD_CONTENT_TYPE, "Content-Type %s is neither MJPEG nor a "
		    "JPEG image", escaped(ct, buf, sizeof buf));
		return false;
	}
	return true;
}

static void
on_head(struct fr_pull *p)
{
	const struct fr_http_response *r = &p->resp;
	char buf[96];

	if (is_redirect(r->status)) {
		follow_redirect(p);
		return;
	}
	if (r->status != 200) {
		failure(p, FR_UPSTREAM_HTTP_STATUS, "HTTP %d %s", r->status,
		    escaped(r->reason, buf, sizeof buf));
		return;
	}
	if (!choose_body(p))
		return;
	p->is_chunked = r->is_chunked;
	if (p->is_chunked)
		fr_http_chunked_init(&p->chunked);
	p->has_body_length = r->has_content_length;
	p->body_left = r->content_length;
	p->is_keep_alive = r->is_keep_alive && (p->is_chunked || p->has_body_length);
	if (!attach(p))
		return;
	p->state = P_STREAMING;
	if (p->body != BODY_STILL)
		ev_timer_stop(p->loop, &p->timer);	/* the watchdog takes over */
	if (p->has_body_length && p->body_left == 0)
		body_end(p);
}

/* ---- the socket ---- */

static void
on_eof(struct fr_pull *p)
{
	switch (p->state) {
	case P_HEAD:
	case P_REQUESTING:
		failure(p, FR_UPSTREAM_CLOSED, "closed the connection without an answer");
		break;
	case P_POLL_WAIT:	/* a kept-alive connection closed between polls */
		ev_io_stop(p->loop, &p->io);
		close(p->fd);
		p->fd = -1;
		break;
	default:
		if (p->body == BODY_STILL && !p->is_chunked && !p->has_body_length)
			end_image(p);
		else
			failure(p, FR_UPSTREAM_CLOSED, "closed the connection");
		break;
	}
}

/* What was read into in[0, in_len). */
static void
process_input(struct fr_pull *p)
{
	if (p->state == P_POLL_WAIT) {	/* nothing is due: a stray line end, say */
		p->in_len = 0;
		return;
	}
	if (p->state != P_HEAD) {
		size_t n = p->in_len;

		p->in_len = 0;
		body_input(p, p->in, n);
		return;
	}
	switch (fr_http_response_parse(&p->rp, p->in, p->in_len, &p->resp)) {
	case FR_HTTP_PARSE_MORE:
		return;
	case FR_HTTP_PARSE_ERROR:
		failure(p, FR_UPSTREAM_BAD_RESPONSE, "bad response head: %s", p->rp.error);
		return;
	case FR_HTTP_PARSE_DONE:
		break;
	}
	size_t head_len = p->rp.head_len, n = p->in_len;
	on_head(p);
	if (p->state == P_STREAMING && n > head_len) {
		/* The body's first bytes: move them out of the way of the next read. */
		p->in_len = 0;
		memmove(p->in, p->in + head_len, n - head_len);
		body_input(p, p->in, n - head_len);
	} else if (p->state == P_STREAMING || p->state == P_POLL_WAIT) {
		p->in_len = 0;
	}
}

static void
on_readable(struct fr_pull *p)
{
	int fd = p->fd;

	for (int i = 0; i < PULL_READS_PER_EVENT; i++) {
		size_t room = PULL_BUF_BYTES - p->in_len;
		ssize_t n = recv(fd, p->in + p->in_len, room, 0);

		if (n == 0) {
			on_eof(p);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (p->state == P_HEAD)
				failure(p, FR_UPSTREAM_CLOSED, "closed the connection without an "
				    "answer (%s)", strerror(errno));
			else
				failure(p, FR_UPSTREAM_CLOSED, "%s", strerror(errno));
			return;
		}
		p->in_len += (size_t)n;
		process_input(p);
		if (p->fd != fd || (size_t)n < room)
			return;	/* closed or moved on, or drained */
	}
}

static void
send_request(struct fr_pull *p)
{
	while (p->out_sent < p->out_len) {
		ssize_t n = send(p->fd, p->out + p->out_sent, p->out_len - p->out_sent,
		    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch(p, EV_WRITE);
			return;
		}
		if (n < 0) {
			failure(p, FR_UPSTREAM_CLOSED, "closed the connection without an answer "
			    "(sending the request: %s)", strerror(errno));
			return;
		}
		p->out_sent += (size_t)n;
	}
	p->poll_at = ev_now(p->loop);
	p->state = P_HEAD;
	p->in_len = 0;
	fr_http_response_parser_init(&p->rp, 0);
	watch(p, EV_READ);
}

/* The TCP connection is up. */
static void
connected(struct fr_pull *p)
{
	fr_net_set_nodelay(p->fd);
	if (p->url.scheme == FR_URL_TCP) {
		if (!attach(p))
			return;
		ev_timer_stop(p->loop, &p->timer);
		p->body = BODY_RAW;
		p->is_chunked = p->has_body_length = false;
		p->state = P_STREAMING;
		p->in_len = 0;
		watch(p, EV_READ);
		return;
	}
	build_request(p);
	if (p->out_len == 0) {
		failure(p, FR_UPSTREAM_BAD_RESPONSE, "the request does not fit %d bytes",
		    PULL_REQUEST_MAX);
		return;
	}
	p->state = P_REQUESTING;
	send_request(p);
}

/* Connects to addrs[addr_i], or the next one that does not fail at once. */
static void
try_connect(struct fr_pull *p)
{
	for (; p->addr_i < p->n_addrs; p->addr_i++) {
		const struct fr_addr *a = &p->addrs[p->addr_i];
		int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			snprintf(p->connect_error, sizeof p->connect_error, "%s: socket: %s",
			    a->text, strerror(errno));
			continue;
		}
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ||
		    errno == EINPROGRESS) {
			p->fd = fd;
			p->state = P_CONNECTING;
			watch(p, EV_WRITE);
			return;
		}
		snprintf(p->connect_error, sizeof p->connect_error, "%s: %s", a->text,
		    strerror(errno));
		close(fd);
	}
	failure(p, FR_UPSTREAM_REFUSED, "%s", p->connect_error);
}

static void
connect_done(struct fr_pull *p)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		connected(p);
		return;
	}
	snprintf(p->connect_error, sizeof p->connect_error, "%s: %s", p->addrs[p->addr_i].text,
	    strerror(err));
	ev_io_stop(p->loop, &p->io);
	close(p->fd);
	p->fd = -1;
	p->addr_i++;
	try_connect(p);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fr_pull *p = FR_CONTAINER_OF(w, struct fr_pull, io);

	(void)loop, (void)revents;
	switch (p->state) {
	case P_CONNECTING:
		connect_done(p);
		break;
	case P_REQUESTING:
		send_request(p);
		break;
	default:
		on_readable(p);
		break;
	}
}

static void
resolved_cb(void *arg, const struct fr_addr *addrs, size_t n, const char *error)
{
	struct fr_pull *p = arg;

	p->lookup = NULL;
	if (n == 0) {
		failure(p, FR_UPSTREAM_DNS, "cannot resolve %s: %s", p->url.host, error);
		return;
	}
	memcpy(p->addrs, addrs, n * sizeof *addrs);
	p->n_addrs = n;
	p->addr_i = 0;
	snprintf(p->connect_error, sizeof p->connect_error, "no address");
	try_connect(p);
}

/* Resolves p->url's host afresh (every connection does) and connects. */
static void
connect_to_url(struct fr_pull *p)
{
	p->state = P_RESOLVING;
	set_timer(p, attempt_timeout_s(p));
	p->lookup = fr_resolver_lookup(p->resolver, p->url.host, p->url.port, resolved_cb, p);
	if (p->lookup == NULL)
		failure(p, FR_UPSTREAM_DNS, "cannot resolve %s: out of memory", p->url.host);
}

static void
start_attempt(struct fr_pull *p)
{
	p->counters.attempts++;
	p->url = p->cfg.url;
	p->redirects = 0;
	connect_to_url(p);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_pull *p = FR_CONTAINER_OF(w, struct fr_pull, timer);
	static const char *const waiting_for[] = {
		[P_RESOLVING] = "resolving the host name", [P_CONNECTING] = "connecting",
		[P_REQUESTING] = "sending the request", [P_HEAD] = "waiting for the answer",
		[P_STREAMING] = "reading the image",
	};

	(void)loop, (void)revents;
	switch (p->state) {
	case P_BACKOFF:
		start_attempt(p);
		break;
	case P_POLL_WAIT:
		next_poll(p);
		break;
	case P_RESOLVING:
	case P_CONNECTING:
	case P_REQUESTING:
	case P_HEAD:
	case P_STREAMING:
		failure(p, FR_UPSTREAM_TIMEOUT, "timed out after %.1f s %s", attempt_timeout_s(p),
		    waiting_for[p->state]);
		break;
	default:
		break;
	}
}

/* ---- the puller ---- */

struct fr_pull *
fr_pull_new(struct ev_loop *loop, struct fr_resolver *resolver, struct fr_stream *s,
    struct fr_ingest *ing, const struct fr_pull_config *cfg, const struct fr_pull_params *params)
{
	struct fr_pull *p = calloc(1, sizeof *p);

	if (p == NULL || (p->in = malloc(PULL_BUF_BYTES)) == NULL) {
		free(p);
		return NULL;
	}
	p->loop = loop;
	p->resolver = resolver;
	p->stream = s;
	p->ingest = ing;
	p->cfg = *cfg;
	p->params = *params;
	p->fd = -1;
	p->rng = (uint64_t)(uintptr_t)p ^ (uint64_t)time(NULL) << 20 ^ 0x9e3779b97f4a7c15ULL;
	fr_ratelimit_init(&p->log, 1.0);
	fr_ratelimit_set_burst(&p->log, 5);
	ev_init(&p->io, io_cb);
	ev_init(&p->timer, timer_cb);
	ev_init(&p->watchdog, watchdog_cb);
	ev_init(&p->linger, linger_cb);
	fr_ingest_watch_vacancy(ing, vacant_cb, p);
	p->has_demand = s->counters.clients > 0;
	if (cfg->is_on_demand)
		fr_stream_watch_demand(s, demand_cb, p);
	if (cfg->is_on_demand && !p->has_demand)
		p->state = P_IDLE;
	else if (fr_ingest_has_producer(ing))
		p->state = P_PAUSED;	/* a pushed producer was there first */
	else
		start_attempt(p);
	return p;
}

void
fr_pull_free(struct fr_pull *p)
{
	if (p == NULL)
		return;
	fr_ingest_watch_vacancy(p->ingest, NULL, NULL);
	if (p->cfg.is_on_demand)
		fr_stream_watch_demand(p->stream, NULL, NULL);
	close_upstream(p);
	detach(p, "no longer pulled");
	ev_timer_stop(p->loop, &p->linger);
	memset(p->cfg.token, 0, sizeof p->cfg.token);
	free(p->in);
	free(p);
}

void
fr_pull_set_params(struct fr_pull *p, const struct fr_pull_params *params)
{
	p->params = *params;
	if (p->is_attached && params->timeout_s > 0) {
		/* watchdog_cb measures from the last frame and re-arms for the rest. */
		ev_timer_stop(p->loop, &p->watchdog);
		ev_timer_set(&p->watchdog, 0., 0.);
		ev_timer_start(p->loop, &p->watchdog);
	}
}

const struct fr_pull_config *
fr_pull_config_of(const struct fr_pull *p)
{
	return &p->cfg;
}

void
fr_pull_get_info(const struct fr_pull *p, double now, struct fr_stats_upstream *out)
{
	*out = (struct fr_stats_upstream){
		.url = p->cfg.url.text,
		.state = state_names[p->state],
		.last_error = p->last_error,
		.counters = p->counters,
		.last_frame_age_s = p->last_frame_at > 0 ? now - p->last_frame_at : -1,
		.retry_in_s = p->state == P_BACKOFF ? (p->retry_at > now ? p->retry_at - now : 0)
						    : -1,
		.is_on_demand = p->cfg.is_on_demand,
	};
}
