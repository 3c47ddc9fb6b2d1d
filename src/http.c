/* SPDX-License-Identifier: MIT */
/*
 * HTTP connections: read a request head, route it, answer it. A connection lives
 * here only until it is answered or handed on: GET /stream/NAME hands its socket to
 * a multipart subscriber (sub.c) and PUT /ingest/NAME feeds its body to the
 * stream's producer slot (ingest.c). Responses are written from a small buffer
 * plus, for snapshots, straight from the shared frame; a snapshot with ?wait= waits
 * on its stream's list until the next frame. Who may do what with which token is
 * access.c's rule, applied here per stream.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fr/access.h"
#include "fr/buf.h"
#include "fr/config.h"
#include "fr/defer.h"
#include "fr/http.h"
#include "fr/http_parse.h"
#include "fr/listener.h"
#include "fr/log.h"
#include "fr/multipart.h"
#include "fr/page.h"
#include "fr/sub.h"
#include "fr/util.h"
#include "fr/xmalloc.h"

/* The request head limit (431 beyond) plus room to read part of a body with it. */
#define CONN_IN_MAX (FR_HTTP_HEAD_MAX_DEFAULT + 8192)

enum conn_state {
	CONN_HEAD,		/* waiting for a complete request head */
	CONN_RESPOND,		/* writing a response */
	CONN_BODY,		/* feeding an ingest body to a stream */
	CONN_SCALING,		/* a scaled snapshot: waiting for the scaler */
	CONN_WAIT,		/* a snapshot waiting for its stream's next frame (?wait=) */
};

struct conn {
	struct fr_list link;		/* in fr_http.conns */
	struct fr_admit_pending pending;	/* in the budget until handed on */
	struct fr_defer defer;
	struct fr_http *http;
	int fd;
	int is_closed;
	enum conn_state state;
	ev_io read_io, write_io;
	ev_timer timer;			/* head timeout, then write-progress timeout */
	struct fr_addr peer;
	struct fr_http_parser parser;
	struct fr_http_request req;
	uint8_t in[CONN_IN_MAX];
	size_t in_len;
	/* CONN_RESPOND */
	struct fr_buf out;
	size_t out_off;
	struct fr_frame *body_frame;	/* a snapshot's frame, written after out */
	size_t frame_off;
	int close_after;
	/* CONN_SCALING */
	struct fr_scale_waiter waiter;
	/* CONN_BODY */
	struct fr_registry_entry *producing;	/* NULL once replaced or done */
	struct fr_http_chunked chunked;
	uint64_t body_left;		/* Content-Length bodies */
	/* CONN_WAIT: on the stream's waiting list until a frame or the timer comes */
	struct fr_stream_waiter frame_waiter;
	double wait_s;
	struct fr_registry_entry *waiting_on;	/* alive while it can wake us */
	struct fr_scale_spec waiting_spec;	/* the ?scale= to answer in */
};

struct fr_http {
	struct ev_loop *loop;
	struct fr_listener *listener;
	struct fr_http_params params;
	struct fr_list conns;
};

static void conn_close(struct conn *c, const char *why);
static void snapshot_not_in_time(struct conn *c);
static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void process_input(struct conn *c);
static void evict_cb(void *arg, const char *why);

static const char *
status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- timers ---- */

static void
arm_timer(struct conn *c, double after_s)
{
	ev_timer_stop(c->http->loop, &c->timer);
	ev_timer_set(&c->timer, after_s, 0.);
	ev_timer_start(c->http->loop, &c->timer);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = FR_CONTAINER_OF(w, struct conn, timer);

	(void)loop, (void)revents;
	if (c->state == CONN_HEAD)
		conn_close(c, "no complete request head in time");
	else if (c->state == CONN_SCALING)
		conn_close(c, "the scaled snapshot was not ready in time");
	else if (c->state == CONN_WAIT)
		snapshot_not_in_time(c);
	else
		conn_close(c, "no write progress within --client-timeout");
}

/* ---- writing responses ---- */

static void
wait_for_request(struct conn *c)
{
	if (!c->pending.is_pending)	/* back from feeding a stream */
		fr_admit_pending_begin(c->http->params.admit, &c->pending, &c->peer, evict_cb, c);
	c->state = CONN_HEAD;
	fr_http_parser_init(&c->parser, FR_HTTP_HEAD_MAX_DEFAULT);
	memset(&c->req, 0, sizeof c->req);
	ev_io_start(c->http->loop, &c->read_io);
	arm_timer(c, c->http->params.head_timeout_s);
}

static void
response_done(struct conn *c)
{
	ev_io_stop(c->http->loop, &c->write_io);
	fr_frame_unref(c->body_frame);
	c->body_frame = NULL;
	c->out.len = c->out_off = c->frame_off = 0;
	if (c->close_after) {
		/* Half-close, so a client still sending is not answered with an RST that
		 * could discard the response before it reads it. */
		shutdown(c->fd, SHUT_WR);
		conn_close(c, "response sent");
		return;
	}
	/* A pipelined request may be waiting: process_input's loop, or the write
	 * callback that finished this response, takes it (no recursion per request). */
	wait_for_request(c);
}

static void
flush_response(struct conn *c)
{
	for (;;) {
		struct iovec iov[2];
		int n_iov = 0;

		if (c->out_off < c->out.len)
			iov[n_iov++] = (struct iovec){ c->out.data + c->out_off,
				c->out.len - c->out_off };
		if (c->body_frame != NULL && c->frame_off < c->body_frame->len)
			iov[n_iov++] = (struct iovec){ c->body_frame->data + c->frame_off,
				c->body_frame->len - c->frame_off };
		if (n_iov == 0) {
			response_done(c);
			return;
		}
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n_iov };
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ev_io_start(c->http->loop, &c->write_io);
				return;
			}
			conn_close(c, strerror(errno));
			return;
		}
		size_t left = (size_t)n;
		size_t take = c->out.len - c->out_off < left ? c->out.len - c->out_off : left;
		c->out_off += take;
		c->frame_off += left - take;
		arm_timer(c, c->http->params.client_timeout_s);
	}
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = FR_CONTAINER_OF(w, struct conn, write_io);

	(void)loop, (void)revents;
	flush_response(c);
	process_input(c);
}

/*
 * Stops reading requests until this response is out. The response is under
 * --client-timeout from now on, also if its first byte already finds the socket
 * full: not under what is left of the head timeout, nor (after an ingest body,
 * whose timer ingest.c kept) under no timer at all.
 */
static void
begin_response(struct conn *c)
{
	ev_io_stop(c->http->loop, &c->read_io);
	c->state = CONN_RESPOND;
	arm_timer(c, c->http->params.client_timeout_s);
}

/* Writes what begin_response() and the caller put in c->out (and body_frame). */
static void
send_response(struct conn *c)
{
	if (c->out.has_failed) {
		conn_close(c, "out of memory for a response");
		return;
	}
	flush_response(c);
}

/*
 * Sends a response: status line, the common headers, extra (zero or more whole
 * "Name: value\r\n" lines), then body (copied) or frame (referenced). HEAD gets the
 * same headers without the body.
 */
static void
respond(struct conn *c, int status, const char *extra, const char *content_type,
    const void *body, size_t body_len, struct fr_frame *frame)
{
	size_t len = frame != NULL ? frame->len : body_len;

	if (!c->req.is_keep_alive)
		c->close_after = 1;
	begin_response(c);
	fr_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nServer: framerouter/%s\r\n", status,
	    status_text(status), PACKAGE_VERSION);
	if (content_type != NULL)
		fr_buf_printf(&c->out, "Content-Type: %s\r\n", content_type);
	/* RFC 9110 8.6: no Content-Length in a 204. */
	if (status != 204)
		fr_buf_printf(&c->out, "Content-Length: %zu\r\n", len);
	/* RFC 9112 9.3: HTTP/1.0 closes unless both sides say keep-alive. */
	fr_buf_printf(&c->out, "%s%s\r\n", extra ? extra : "",
	    c->close_after ? "Connection: close\r\n" :
	    c->req.minor_version == 0 ? "Connection: keep-alive\r\n" : "");
	if (c->req.method != FR_HTTP_METHOD_HEAD) {
		if (frame != NULL)
			c->body_frame = fr_frame_ref(frame);
		else
			fr_buf_append(&c->out, body, body_len);
	}
	send_response(c);
}

/* Sends a complete, ready-made response head with no body. */
static void
respond_head(struct conn *c, const char *head, size_t len)
{
	begin_response(c);
	fr_buf_append(&c->out, head, len);
	send_response(c);
}

/* An error answer with a one-line plain-text body saying what went wrong. */
static void
respond_error(struct conn *c, int status, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
respond_error(struct conn *c, int status, const char *extra, const char *fmt, ...)
{
	char body[512];
	va_list ap;

	int n = snprintf(body, sizeof body, "%d %s: ", status, status_text(status));
	va_start(ap, fmt);
	vsnprintf(body + n, sizeof body - (size_t)n - 1, fmt, ap);
	va_end(ap);
	log_debug("http %s: %s", c->peer.text, body);
	strcat(body, "\n");
	/* An unread request body would be taken for the next request. */
	if (c->state == CONN_HEAD && (c->req.is_chunked || c->req.content_length > 0))
		c->close_after = 1;
	respond(c, status, extra, "text/plain; charset=utf-8", body, strlen(body), NULL);
}

/* ---- routing ---- */

/*
 * "/stream" -> "default", "/stream/NAME" -> "NAME" (%-decoded); NULL when the path is
 * not one. A name that does not decode comes back as "", which no stream is called.
 */
static const char *
stream_name(const char *path, const char *prefix, char *name, size_t name_len)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0)
		return NULL;
	if (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'))
		return snprintf(name, name_len, "%s", FR_DEFAULT_STREAM), name;
	if (path[n] != '/' || strchr(path + n + 1, '/') != NULL)
		return NULL;
	fr_http_path_decode(path + n + 1, strlen(path + n + 1), name, name_len);
	return name;
}

/* The token the request presents: Bearer, or ?token= for clients that cannot set
 * headers (an <img>, Home Assistant); NULL when it has none. */
static const char *
presented_token(const struct conn *c, char *buf, size_t len)
{
	if (strncasecmp(c->req.authorization, "Bearer ", 7) == 0)
		return c->req.authorization + 7;
	if (fr_http_query_get(c->req.query, "token", buf, len) == FR_HTTP_QUERY_FOUND)
		return buf;
	return NULL;
}

/* Whether the token the request presents opens what global and own guard. */
static bool
opens(const struct conn *c, const char *global, const char *own)
{
	char buf[FR_HTTP_AUTHORIZATION_MAX + 1];

	return fr_access_allows(global, own, presented_token(c, buf, sizeof buf));
}

/* Whether the request may read stream e (NULL: one that does not exist, which only
 * the global token may learn). */
static bool
may_read(const struct conn *c, const struct fr_registry_entry *e)
{
	return opens(c, c->http->params.subscribe_token, e ? e->subscribe_token : NULL);
}

static bool
may_see_cb(const struct fr_registry_entry *e, void *arg)
{
	return may_read(arg, e);
}

/* A token that opens some stream of its own (not the global one). */
static bool
opens_own_cb(const struct fr_registry_entry *e, void *arg)
{
	return e->subscribe_token != NULL && *e->subscribe_token != '\0' && may_read(arg, e);
}

static void
respond_unauthorized(struct conn *c)
{
	respond_error(c, 401, "WWW-Authenticate: Bearer realm=\"framerouter\"\r\n",
	    "a valid token is required (Authorization: Bearer TOKEN)");
}

/*
 * The page, /stats, /metrics and /stats/history list what the token may see: anyone
 * may ask without a global subscribe token; with one, a request must present it or a
 * stream's own token. Answers 401 and returns false otherwise.
 */
static bool
check_list_auth(struct conn *c)
{
	if (may_read(c, NULL) || fr_registry_any(c->http->params.registry, opens_own_cb, c))
		return true;
	respond_unauthorized(c);
	return false;
}

/* Stream name, for reading: 401 when the token does not open it, 404 when there is
 * none (after the token check, so that only a global token learns which exist). */
static struct fr_registry_entry *
readable_stream(struct conn *c, const char *name)
{
	const struct fr_http_params *p = &c->http->params;
	struct fr_registry_entry *e = fr_registry_find(p->registry, name);
	char safe[96];

	/* A stream not here may be found elsewhere (NATS), for a token that may learn it. */
	if (e == NULL && p->discover != NULL && may_read(c, NULL) &&
	    fr_config_is_valid_stream_name(name))
		e = p->discover(p->hook_arg, name);
	if (!may_read(c, e)) {
		respond_unauthorized(c);
		return NULL;
	}
	if (e == NULL) {
		fr_log_escape(safe, sizeof safe, name, strlen(name));
		respond_error(c, 404, NULL, "no stream '%s'", safe);
	}
	return e;
}

/* Whether the request may push into stream e (NULL: a new one, which it would create). */
static bool
may_ingest(const struct conn *c, const struct fr_registry_entry *e)
{
	return opens(c, c->http->params.ingest_token, e ? e->ingest_token : NULL);
}

static int
is_get(const struct conn *c)
{
	return c->req.method == FR_HTTP_METHOD_GET || c->req.method == FR_HTTP_METHOD_HEAD;
}

static void
serve_stats(struct conn *c, enum fr_registry_format format)
{
	struct fr_buf body;

	fr_buf_init(&body);
	fr_registry_format_stats_for(c->http->params.registry, format, may_see_cb, c, &body);
	if (body.has_failed) {
		fr_buf_fini(&body);
		respond_error(c, 500, NULL, "out of memory");
		return;
	}
	respond(c, 200, "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n",
	    format == FR_REGISTRY_JSON ? "application/json" :
	    "text/plain; version=0.0.4; charset=utf-8", body.data, body.len, NULL);
	fr_buf_fini(&body);
}

/* ?name=NUMBER: 0 when absent, 1 with *v set, -1 when not a number. */
static int
query_number(const struct conn *c, const char *name, double *v)
{
	char value[32], *end;

	switch (fr_http_query_get(c->req.query, name, value, sizeof value)) {
	case FR_HTTP_QUERY_ABSENT:
		return 0;
	case FR_HTTP_QUERY_FOUND:
		break;
	default:
		return -1;
	}
	*v = strtod(value, &end);
	return end == value || *end != '\0' ? -1 : 1;
}

/*
 * ?scale= and ?q= into spec. Returns 0; or answers 400 for a value that is not one,
 * 501 or 503 when the stream cannot scale now (fr_scale_check), and returns -1.
 */
static int
scale_request(struct conn *c, struct fr_registry_entry *e, struct fr_scale_spec *spec)
{
	char scale[16], q[16], err[FR_ERR_LEN];
	enum fr_http_query_result has_scale = fr_http_query_get(c->req.query, "scale", scale,
	    sizeof scale);
	enum fr_http_query_result has_q = fr_http_query_get(c->req.query, "q", q, sizeof q);

	if ((has_scale != FR_HTTP_QUERY_FOUND && has_scale != FR_HTTP_QUERY_ABSENT) ||
	    (has_q != FR_HTTP_QUERY_FOUND && has_q != FR_HTTP_QUERY_ABSENT) ||
	    fr_scale_spec_parse(spec, has_scale == FR_HTTP_QUERY_FOUND ? scale : NULL,
	    has_q == FR_HTTP_QUERY_FOUND ? q : NULL, err) < 0) {
		respond_error(c, 400, NULL, "%s", has_scale != FR_HTTP_QUERY_FOUND &&
		    has_scale != FR_HTTP_QUERY_ABSENT ? "scale must be 1/2, 1/4, 1/8, 1/1 or auto" :
		    has_q != FR_HTTP_QUERY_FOUND && has_q != FR_HTTP_QUERY_ABSENT ?
		    "q must be a whole number from 1 to 100" : err);
		return -1;
	}
	if (fr_scale_spec_is_plain(spec))
		return 0;
	int status = fr_scale_check(e->scale, spec, err);
	if (status != 0) {
		respond_error(c, status, status == 503 ? "Retry-After: 1\r\n" : NULL, "%s", err);
		return -1;
	}
	return 0;
}

/* ---- snapshots ---- */

/* The longest ?wait= a snapshot may hold its connection (and pending slot) for. */
#define SNAPSHOT_WAIT_MAX_S 30.0

/*
 * Last-Modified (the frame's arrival, wall clock, as an HTTP-date: RFC 9110 5.6.7) and
 * X-Frame-Age (seconds since then, three decimals), each a whole header line.
 */
static void
frame_age_headers(char *buf, size_t len, const struct fr_frame *f, double now)
{
	time_t at = (time_t)f->received_at;
	struct tm tm;
	char date[64] = "";
	double age = now > f->received_at ? now - f->received_at : 0;

	if (gmtime_r(&at, &tm) != NULL)
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(buf, len, "Last-Modified: %s\r\nX-Frame-Age: %.3f\r\n", date, age);
}

static void
respond_frame(struct conn *c, struct fr_frame *f)
{
	char extra[256], age[128];

	frame_age_headers(age, sizeof age, f, ev_now(c->http->loop));
	snprintf(extra, sizeof extra, "Cache-Control: no-cache, no-store\r\n"
	    "Access-Control-Allow-Origin: *\r\n"
	    "Access-Control-Expose-Headers: Last-Modified, X-Frame-Age\r\n%s", age);
	respond(c, 200, extra, "image/jpeg", NULL, 0, f);
}

/* The scaler has made the snapshot's frame, or could not. */
static void
snapshot_scaled_cb(void *arg, struct fr_frame *f, const char *why)
{
	struct conn *c = arg;

	if (f != NULL)
		respond_frame(c, f);
	else
		respond_error(c, 503, "Retry-After: 1\r\n", "%s", why);
	if (!c->is_closed)
		process_input(c);	/* a request pipelined behind this one */
}

static void
serve_health(struct conn *c)
{
	const struct fr_http_params *p = &c->http->params;
	char why[128] = "";

	if (p->is_healthy == NULL || p->is_healthy(p->hook_arg, why, sizeof why)) {
		static const char ok[] = "ok\n";
		respond(c, 200, "Cache-Control: no-cache\r\n", "text/plain; charset=utf-8", ok,
		    sizeof ok - 1, NULL);
		return;
	}
	respond_error(c, 503, "Cache-Control: no-cache\r\n", "%s", why);
}

/* e's latest frame as spec asks: at once when it is the frame itself or its scaled
 * size is ready, else when the scaler has made it (CONN_SCALING). */
static void
answer_snapshot(struct conn *c, struct fr_registry_entry *e, const struct fr_scale_spec *spec)
{
	if (fr_scale_spec_is_plain(spec)) {
		respond_frame(c, e->stream->latest);
		return;
	}
	struct fr_frame *f = fr_scale_snapshot(e->scale, spec, &c->waiter, snapshot_scaled_cb, c);
	if (f != NULL) {
		respond_frame(c, f);
		return;
	}
	/* Until the worker is done: no reading, and not forever. */
	ev_io_stop(c->http->loop, &c->read_io);
	c->state = CONN_SCALING;
	arm_timer(c, c->http->params.client_timeout_s);
}

/* The latest frame; 503 while there is none, or while it is older than --stale-after. */
static void
respond_latest(struct conn *c, struct fr_registry_entry *e, const struct fr_scale_spec *spec)
{
	struct fr_frame *f = e->stream->latest;
	double now = ev_now(c->http->loop);
	char extra[192];

	if (f == NULL) {
		respond_error(c, 503, "Retry-After: 1\r\n", "stream '%s' has no frame yet",
		    e->stream->name);
		return;
	}
	if (fr_registry_is_stale(c->http->params.registry, e, now)) {
		char age[128];

		frame_age_headers(age, sizeof age, f, now);
		snprintf(extra, sizeof extra, "%sRetry-After: 1\r\n", age);
		respond_error(c, 503, extra, "stream '%s' is stale: its newest frame is %.3f s "
		    "old (stale after %g s)", e->stream->name, now - f->received_at,
		    fr_registry_stale_after(c->http->params.registry, e));
		return;
	}
	answer_snapshot(c, e, spec);
}

/* ?wait=SECONDS: 0 when absent, -1 when not a number from 0 to SNAPSHOT_WAIT_MAX_S. */
static double
snapshot_wait(const struct conn *c)
{
	double wait_s = 0;
	int r = query_number(c, "wait", &wait_s);

	return r < 0 || !(wait_s >= 0 && wait_s <= SNAPSHOT_WAIT_MAX_S) ? -1 : wait_s;
}

/*
 * After a waiting snapshot's answer: requests that came while it waited are taken up
 * by the read callback, not from here, which may run inside the stream's publish.
 */
static void
after_waiting(struct conn *c)
{
	if (!c->is_closed && c->state == CONN_HEAD && c->in_len > 0)
		ev_feed_event(c->http->loop, &c->read_io, EV_READ);
}

/* The next frame of the stream a waiting snapshot asked for has come (the stream's
 * latest now), or the stream is going away (f NULL). */
static void
snapshot_woken(struct fr_stream_waiter *w, struct fr_frame *f)
{
	struct conn *c = FR_CONTAINER_OF(w, struct conn, frame_waiter);
	const struct fr_scale_spec *spec = &c->waiting_spec;
	char err[FR_ERR_LEN];
	int status = 0;

	/* A scaled size is checked again: the one checked before the wait may be gone. */
	if (f != NULL && !fr_scale_spec_is_plain(spec))
		status = fr_scale_check(c->waiting_on->scale, spec, err);
	if (f == NULL)
		respond_error(c, 503, "Retry-After: 1\r\n", "the stream was removed");
	else if (status != 0)
		respond_error(c, status, status == 503 ? "Retry-After: 1\r\n" : NULL, "%s", err);
	else
		answer_snapshot(c, c->waiting_on, spec);
	after_waiting(c);
}

static void
snapshot_not_in_time(struct conn *c)
{
	fr_stream_cancel_wait(&c->frame_waiter);
	respond_error(c, 503, "Retry-After: 1\r\n", "no new frame within %g s", c->wait_s);
	after_waiting(c);
}

/*
 * Holds the request until the stream publishes a frame (newer than the request, so
 * never the latest one it has) or wait_s passes. The connection stays in the pending
 * budget meanwhile: waiting snapshots are bounded like any unanswered request.
 */
static void
wait_for_frame(struct conn *c, struct fr_registry_entry *e, const struct fr_scale_spec *spec,
    double wait_s)
{
	c->state = CONN_WAIT;
	c->wait_s = wait_s;
	c->waiting_on = e;
	c->waiting_spec = *spec;
	c->frame_waiter.on_frame = snapshot_woken;
	fr_stream_wait_frame(e->stream, &c->frame_waiter);
	arm_timer(c, wait_s);
}

static void
serve_snapshot(struct conn *c, const char *name)
{
	struct fr_registry_entry *e = readable_stream(c, name);
	double wait_s = snapshot_wait(c);
	struct fr_scale_spec spec;

	if (e == NULL || scale_request(c, e, &spec) < 0)
		return;
	if (spec.is_auto)
		respond_error(c, 400, NULL, "scale=auto is for /stream; a snapshot takes 1/2, "
		    "1/4, 1/8 or 1/1");
	else if (wait_s < 0)
		respond_error(c, 400, NULL, "wait must be a number of seconds from 0 to %g",
		    SNAPSHOT_WAIT_MAX_S);
	else if (wait_s > 0)
		wait_for_frame(c, e, &spec, wait_s);
	else
		respond_latest(c, e, &spec);
}

/* ---- history ---- */

/* GET /stats/history[/NAME][?since=N]: one stream (name) or every one the token sees. */
static void
serve_history(struct conn *c, const char *name)
{
	char value[32], *end;
	uint64_t since = 0;
	struct fr_buf body;

	if (name != NULL ? readable_stream(c, name) == NULL : !check_list_auth(c))
		return;
	switch (fr_http_query_get(c->req.query, "since", value, sizeof value)) {
	case FR_HTTP_QUERY_ABSENT:
		break;
	case FR_HTTP_QUERY_FOUND:
		errno = 0;
		since = strtoull(value, &end, 10);
		if (end != value && *end == '\0' && value[0] != '-' && errno == 0)
			break;
		/* fall through */
	default:
		respond_error(c, 400, NULL, "since must be a sample number (0 or more)");
		return;
	}
	fr_buf_init(&body);
	fr_registry_format_history(c->http->params.registry, name, since, may_see_cb, c, &body);
	if (body.has_failed)
		respond_error(c, 500, NULL, "out of memory");
	else
		respond(c, 200, "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n",
		    "application/json", body.data, body.len, NULL);
	fr_buf_fini(&body);
}

/* ?fps=N as a minimum interval between frames; 0 without a cap, < 0 if invalid. */
static double
fps_interval(const struct conn *c)
{
	double fps;

	switch (query_number(c, "fps", &fps)) {
	case 0:
		return 0;
	case 1:
		if (fps > 0 && fps <= 1000)
			return 1.0 / fps;
	}
	return -1;
}

static void conn_forget(struct conn *c);

static void
serve_stream(struct conn *c, const char *name)
{
	char flag[8];
	int is_advance = fr_http_query_get(c->req.query, "advance_headers", flag, sizeof flag) ==
	    FR_HTTP_QUERY_FOUND && strcmp(flag, "1") == 0;
	struct fr_registry_entry *e = readable_stream(c, name);
	double interval = fps_interval(c);
	struct fr_scale_spec spec;

	if (e == NULL)
		return;
	if (interval < 0) {
		respond_error(c, 400, NULL, "fps must be a number above 0 and at most 1000");
		return;
	}
	if (scale_request(c, e, &spec) < 0)
		return;
	if (!fr_admit_has_room(c->http->params.admit, e, &c->peer)) {
		respond_error(c, 503, "Retry-After: 1\r\n", "--max-clients reached");
		return;
	}
	if (c->req.method == FR_HTTP_METHOD_HEAD) {
		/* The head a GET gets, without the endless body: no Content-Length,
		 * the body would end when the connection does (RFC 9110 8.6). */
		size_t len;
		const char *head = fr_multipart_response_head(&len);

		c->close_after = 1;
		respond_head(c, head, len);
		return;
	}
	int fd = c->fd;
	struct fr_addr peer = c->peer;

	conn_forget(c);	/* the socket is the subscriber's now */
	fr_admit_subscribe(c->http->params.admit, e, fd, &peer,
	    is_advance ? FR_SUB_MULTIPART_ADVANCE_HEADERS : FR_SUB_MULTIPART, interval, &spec);
}

/* ---- ingest bodies ---- */

static void
producer_replaced_cb(void *arg)
{
	struct conn *c = arg;

	c->producing = NULL;
	conn_close(c, "replaced by another producer");
}

static int
is_multipart(const char *content_type)
{
	return strncasecmp(content_type, "multipart/", 10) == 0;
}

/* Feeds what the buffer holds of the body. Returns 1 when the body has ended, 0
 * when more is to come, -1 on a broken chunked encoding. */
static int
feed_body(struct conn *c)
{
	struct fr_ingest *ing = c->producing->ingest;
	size_t at = 0;
	int is_done = 0;

	while (at < c->in_len && !is_done) {
		if (!c->req.is_chunked) {
			size_t n = c->in_len - at;
			if (n > c->body_left)
				n = (size_t)c->body_left;
			fr_ingest_feed(ing, c->in + at, n);
			at += n;
			c->body_left -= n;
			is_done = c->body_left == 0;
			continue;
		}
		size_t used, off, len;
		enum fr_http_chunked_result r = fr_http_chunked_feed(&c->chunked, c->in + at,
		    c->in_len - at, &used, &off, &len);
		if (r == FR_HTTP_CHUNKED_ERROR) {
			c->in_len = 0;
			return -1;
		}
		if (r == FR_HTTP_CHUNKED_DATA)
			fr_ingest_feed(ing, c->in + at + off, len);
		at += used;
		is_done = r == FR_HTTP_CHUNKED_DONE;
	}
	/* What follows the body is the next request. */
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
	return is_done || (!c->req.is_chunked && c->body_left == 0);
}

static void
body_input(struct conn *c)
{
	int r = feed_body(c);

	if (r == 0)
		return;
	struct fr_registry_entry *e = c->producing;
	c->producing = NULL;
	if (r < 0) {
		fr_ingest_end_feed(e->ingest, "bad chunked body");
		c->close_after = 1;
		respond_error(c, 400, NULL, "bad chunked encoding: %s", c->chunked.error);
		return;
	}
	fr_ingest_end_feed(e->ingest, "end of request body");
	respond(c, 204, NULL, NULL, NULL, 0, NULL);
}

static void
serve_ingest(struct conn *c, const char *name)
{
	struct fr_registry_entry *e = fr_registry_find(c->http->params.registry, name);
	char err[FR_ERR_LEN];
	enum fr_registry_error why;

	if (!may_ingest(c, e)) {
		respond_unauthorized(c);
		return;
	}
	if (!c->req.is_chunked && !c->req.has_content_length) {
		respond_error(c, 411, NULL, "send the body chunked or with a Content-Length");
		return;
	}
	if (e == NULL && (why = fr_registry_add(c->http->params.registry, name, false, &e,
	    err)) != FR_REGISTRY_OK) {
		respond_error(c, why == FR_REGISTRY_BAD_NAME ? 400 : 503, NULL, "%s", err);
		return;
	}
	if (c->req.expects_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		/* Fits any fresh socket buffer; a client that cannot take it is gone. */
		if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL) != (ssize_t)sizeof cont - 1) {
			conn_close(c, "cannot send 100 Continue");
			return;
		}
	}
	c->state = CONN_BODY;
	c->producing = e;
	/* A producer is handed on: out of the budget of connections yet to be served. */
	fr_admit_pending_end(c->http->params.admit, &c->pending);
	c->body_left = c->req.is_chunked ? UINT64_MAX : c->req.content_length;
	fr_http_chunked_init(&c->chunked);
	ev_timer_stop(c->http->loop, &c->timer);	/* ingest.c watches producers */
	fr_ingest_attach_feed(e->ingest, &c->peer, is_multipart(c->req.content_type),
	    producer_replaced_cb, c);
	body_input(c);
}

/* /stats/history alone is every stream's, not "default"'s as /stream alone would be. */
static bool
is_history_of_all(const char *path)
{
	return strcmp(path, "/stats/history") == 0 || strcmp(path, "/stats/history/") == 0;
}

static void
route(struct conn *c)
{
	const char *path = c->req.path;
	char name[FR_HTTP_PATH_MAX + 1];
	static const char allow_get[] = "Allow: GET, HEAD\r\n";

	if (c->req.method == FR_HTTP_METHOD_OTHER) {
		/* RFC 9110 15.6.2: a method the server does not recognise at all. */
		respond_error(c, 501, NULL, "method not implemented");
	} else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		if (!is_get(c))
			respond_error(c, 405, allow_get, "use GET");
		else if (check_list_auth(c))
			respond(c, 200, "Cache-Control: no-cache\r\n", "text/html; charset=utf-8",
			    fr_page_html, strlen(fr_page_html), NULL);
	} else if (strcmp(path, "/healthz") == 0) {
		/* No token: a load balancer's probe learns nothing but up or down. */
		if (!is_get(c))
			respond_error(c, 405, allow_get, "use GET");
		else
			serve_health(c);
	} else if (strcmp(path, "/stats") == 0 || strcmp(path, "/metrics") == 0) {
		if (!is_get(c))
			respond_error(c, 405, allow_get, "use GET");
		else if (check_list_auth(c))
			serve_stats(c, path[1] == 's' ? FR_REGISTRY_JSON : FR_REGISTRY_PROMETHEUS);
	} else if (is_history_of_all(path) ||
	    stream_name(path, "/stats/history", name, sizeof name) != NULL) {
		if (!is_get(c))
			respond_error(c, 405, allow_get, "use GET");
		else
			serve_history(c, is_history_of_all(path) ? NULL : name);
	} else if (stream_name(path, "/stream", name, sizeof name) != NULL) {
		if (!is_get(c))
			respond_error(c, 405, allow_get, "use GET");
		else
			serve_stream(c, name);
	} else if (stream_name(path, "/snapshot", name, sizeof name) != NULL) {
		if (!is_get(c))
			respond_error(c, 405, allow_get, "use GET");
		else
			serve_snapshot(c, name);
	} else if (stream_name(path, "/ingest", name, sizeof name) != NULL) {
		if (c->req.method != FR_HTTP_METHOD_PUT && c->req.method != FR_HTTP_METHOD_POST)
			respond_error(c, 405, "Allow: PUT, POST\r\n", "use PUT or POST");
		else
			serve_ingest(c, name);
	} else {
		respond_error(c, 404, NULL, "no such path");
	}
}

/* Routes the request whose head has arrived; false when it needs more bytes. */
static bool
process_request(struct conn *c)
{
	switch (fr_http_parse_head(&c->parser, c->in, c->in_len, &c->req)) {
	case FR_HTTP_PARSE_MORE:
		return false;
	case FR_HTTP_PARSE_ERROR:
		c->close_after = 1;
		c->in_len = 0;
		respond_error(c, c->parser.status, NULL, "%s", c->parser.error);
		return true;
	case FR_HTTP_PARSE_DONE:
		break;
	}
	/* Keep only what follows the head: a body, or a pipelined request. */
	memmove(c->in, c->in + c->parser.head_len, c->in_len - c->parser.head_len);
	c->in_len -= c->parser.head_len;
	if (c->req.method != FR_HTTP_METHOD_PUT && c->req.method != FR_HTTP_METHOD_POST &&
	    (c->req.has_content_length || c->req.is_chunked)) {
		/* A body we would have to skip: simpler to answer and close. */
		c->close_after = 1;
	}
	route(c);
	return true;
}

/* Answers every request that has arrived whole, as long as each is answered at once
 * (pipelining); a response that must wait for the socket resumes in write_cb. */
static void
process_input(struct conn *c)
{
	while (!c->is_closed && c->state == CONN_HEAD && c->in_len > 0)
		if (!process_request(c))
			return;
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = FR_CONTAINER_OF(w, struct conn, read_io);

	(void)loop, (void)revents;
	if (c->in_len == sizeof c->in) {	/* the parser caps heads well below this */
		ev_io_stop(loop, w);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
	if (n == 0 && c->state == CONN_WAIT) {
		/* Half-closed after its request: answered all the same, then closed. */
		ev_io_stop(loop, w);
		c->close_after = 1;
		return;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		conn_close(c, n == 0 ? "closed by peer" : strerror(errno));
		return;
	}
	if (n < 0) {
		/* Also fed by a waiting snapshot's answer: requests read while it waited. */
		process_input(c);
		return;
	}
	c->in_len += (size_t)n;
	if (c->state == CONN_BODY)
		body_input(c);
	process_input(c);
}

/* ---- connection lifetime ---- */

static void
free_deferred(struct fr_defer *d)
{
	struct conn *c = FR_CONTAINER_OF(d, struct conn, defer);

	fr_buf_fini(&c->out);
	free(c);
}

/* Stops everything and unlinks; the caller owns the socket now. */
static void
conn_forget(struct conn *c)
{
	struct ev_loop *loop = c->http->loop;

	c->is_closed = 1;
	ev_io_stop(loop, &c->read_io);
	ev_io_stop(loop, &c->write_io);
	ev_timer_stop(loop, &c->timer);
	fr_stream_cancel_wait(&c->frame_waiter);
	fr_admit_pending_end(c->http->params.admit, &c->pending);
	fr_scale_snapshot_cancel(&c->waiter);
	if (c->producing != NULL) {
		struct fr_registry_entry *e = c->producing;

		c->producing = NULL;
		fr_ingest_end_feed(e->ingest, "connection closed");
	}
	fr_frame_unref(c->body_frame);
	c->body_frame = NULL;
	fr_list_remove(&c->link);
	fr_defer_free(&c->defer, free_deferred);
}

static void
conn_close(struct conn *c, const char *why)
{
	if (c->is_closed)
		return;
	log_debug("http %s: closed: %s", c->peer.text, why);
	int fd = c->fd;
	conn_forget(c);
	close(fd);
}

static void
evict_cb(void *arg, const char *why)
{
	conn_close(arg, why);
}

static void
on_accept(int fd, const struct fr_addr *peer, void *arg)
{
	struct fr_http *h = arg;
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL) {
		log_warnx("http: out of memory for a connection from %s", peer->text);
		close(fd);
		return;
	}
	c->http = h;
	c->fd = fd;
	c->peer = *peer;
	fr_buf_init(&c->out);
	fr_list_append(&h->conns, &c->link);
	ev_io_init(&c->read_io, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->write_io, write_cb, fd, EV_WRITE);
	ev_timer_init(&c->timer, timer_cb, h->params.head_timeout_s, 0.);
	fr_list_init(&c->frame_waiter.link);
	wait_for_request(c);
}

struct fr_http *
fr_http_new(struct ev_loop *loop, const struct fr_addr *addr, const struct fr_http_params *params,
    char *err)
{
	struct fr_http *h = fr_xcalloc(1, sizeof *h);

	h->loop = loop;
	h->params = *params;
	fr_list_init(&h->conns);
	h->listener = fr_listener_new(loop, "--http", addr, on_accept, h, err);
	if (h->listener == NULL) {
		free(h);
		return NULL;
	}
	fr_http_set_params(h, params);
	return h;
}

void
fr_http_start(struct fr_http *h)
{
	fr_listener_start(h->listener);
}

void
fr_http_set_params(struct fr_http *h, const struct fr_http_params *params)
{
	h->params = *params;
	if (params->allow != NULL)
		fr_listener_set_acl(h->listener, params->allow, params->connections_denied);
}

void
fr_http_free(struct fr_http *h)
{
	if (h == NULL)
		return;
	fr_listener_free(h->listener);
	while (!fr_list_is_empty(&h->conns))
		conn_close(FR_CONTAINER_OF(h->conns.next, struct conn, link), "shutting down");
	free(h);
}

const struct fr_addr *
fr_http_addr(const struct fr_http *h)
{
	return fr_listener_addr(h->listener);
}
