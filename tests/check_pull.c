/* SPDX-License-Identifier: MIT */
/*
 * Loop tests for pulled streams: a real libev loop, a real resolver, a stream and its
 * ingest, and small upstream servers run by the test on 127.0.0.1 (raw MJPEG, multipart
 * with Content-Length, ffmpeg's chunked octet-stream, still images, redirects, and the
 * bad ones). Every wait is for a condition, bounded by a watchdog; the only clock the
 * tests read is the backoff's, whose bounds are the contract.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "fr/defer.h"
#include "fr/ingest.h"
#include "fr/log.h"
#include "fr/net.h"
#include "fr/pull.h"
#include "fr/resolve.h"
#include "fr/stream.h"
#include "fr/util.h"

#include "helpers.h"
#include "loop_wait.h"
#include "sockets.h"
#include "suite.h"

#define WAIT_S 10.0

static struct ev_loop *loop;
static struct fr_stream *stream;
static struct fr_ingest *ingest;
static struct fr_resolver *resolver;
static struct fr_pull *pull;
static uint8_t frame[16384];	/* fixtures/ffmpeg-frame.jpg */
static size_t frame_len;
/* Runs the loop until cond holds; fails the test if WAIT_S pass first. */
#define WAIT_UNTIL(cond) LOOP_WAIT_UNTIL(loop, WAIT_S, cond)

/* ---- the upstream server ---- */

enum mode {
	SRV_RAW,		/* three JPEGs back to back, then silence */
	SRV_MULTIPART,		/* multipart with Content-Length, three parts */
	SRV_CHUNKED,		/* ffmpeg's listen mode: octet-stream, chunked, mpjpeg */
	SRV_STILL,		/* one image per request, kept alive */
	SRV_REDIRECT,		/* "/" -> 302 /real, which is SRV_MULTIPART */
	SRV_CLOSE,		/* accepts and closes */
	SRV_STATUS,		/* 404 */
	SRV_HTML,		/* 200 text/html */
	SRV_SILENT,		/* accepts and says nothing */
};

enum { MAX_CONNS = 32 };

struct conn {
	ev_io io;
	int fd;
	char req[2048];
	size_t req_len;
};

static struct {
	enum mode mode;
	int lfd;
	unsigned port;
	ev_io accept_io;
	unsigned accepted;
	unsigned requests;
	unsigned eofs;		/* connections the puller closed */
	char last_request[2048];
	struct conn conns[MAX_CONNS];
} srv;

static void
send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* the puller went away */
		b += w;
		n -= (size_t)w;
	}
}

static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static void
send_multipart(int fd, bool is_chunked)
{
	char head[160];

	for (int i = 0; i < 3; i++) {
		snprintf(head, sizeof head, "--b\r\nContent-Type: image/jpeg\r\nContent-Length: %zu"
		    "\r\n\r\n", frame_len);
		if (is_chunked) {	/* one chunk per part, as ffmpeg writes them */
			char size[16];

			snprintf(size, sizeof size, "%zx\r\n", strlen(head) + frame_len + 2);
			send_str(fd, size);
		}
		send_str(fd, head);
		send_all(fd, frame, frame_len);
		send_str(fd, is_chunked ? "\r\n\r\n" : "\r\n");
	}
}

static void
answer(struct conn *c)
{
	char head[256];

	srv.requests++;
	memcpy(srv.last_request, c->req, sizeof srv.last_request);
	switch (srv.mode) {
	case SRV_REDIRECT:
		if (strncmp(c->req, "GET / ", 6) == 0) {
			send_str(c->fd, "HTTP/1.1 302 Found\r\nLocation: /real\r\n"
			    "Content-Length: 0\r\n\r\n");
			return;
		}
		/* FALLTHROUGH */
	case SRV_MULTIPART:
		send_str(c->fd, "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;"
		    "boundary=b\r\n\r\n");
		send_multipart(c->fd, false);
		return;
	case SRV_CHUNKED:
		send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
		send_multipart(c->fd, true);
		return;
	case SRV_STILL:
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
		    "Content-Length: %zu\r\n\r\n", frame_len);
		send_str(c->fd, head);
		send_all(c->fd, frame, frame_len);
		return;
	case SRV_STATUS:
		send_str(c->fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		return;
	case SRV_HTML:
		send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>");
		return;
	default:
		return;
	}
}

static void
conn_close(struct conn *c)
{
	ev_io_stop(loop, &c->io);
	close(c->fd);
	c->fd = -1;
}

static void
conn_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct conn *c = FR_CONTAINER_OF(w, struct conn, io);
	ssize_t n = recv(c->fd, c->req + c->req_len, sizeof c->req - 1 - c->req_len, 0);

	(void)l, (void)revents;
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		srv.eofs++;
		conn_close(c);
		return;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	char *end;
	while ((end = strstr(c->req, "\r\n\r\n")) != NULL) {	/* one request per head */
		size_t head_len = (size_t)(end + 4 - c->req);

		answer(c);
		memmove(c->req, c->req + head_len, c->req_len - head_len + 1);
		c->req_len -= head_len;
	}
}

static void
accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct fr_addr peer;
	int fd = fr_net_accept(w->fd, &peer);

	(void)revents;
	if (fd < 0)
		return;
	srv.accepted++;
	if (srv.mode == SRV_CLOSE || srv.accepted > MAX_CONNS) {
		close(fd);
		return;
	}
	struct conn *c = &srv.conns[srv.accepted - 1];
	c->fd = fd;
	c->req_len = 0;
	if (srv.mode == SRV_RAW)
		for (int i = 0; i < 3; i++)
			send_all(fd, frame, frame_len);
	ev_io_init(&c->io, conn_cb, fd, EV_READ);
	ev_io_start(l, &c->io);
}

/* Listens on a free port of 127.0.0.1 (or takes one and closes it: nothing listens). */
static void
server_start(enum mode mode, bool is_listening)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;

	srv.mode = mode;
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(srv.lfd, 0);
	ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(srv.lfd, 16), 0);
	ck_assert_int_eq(getsockname(srv.lfd, (struct sockaddr *)&sin, &len), 0);
	srv.port = ntohs(sin.sin_port);
	if (!is_listening) {
		close(srv.lfd);
		srv.lfd = -1;
		return;
	}
	ev_io_init(&srv.accept_io, accept_cb, srv.lfd, EV_READ);
	ev_io_start(loop, &srv.accept_io);
}

static void
server_stop(void)
{
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (srv.conns[i].fd >= 0)
			conn_close(&srv.conns[i]);
	if (srv.lfd >= 0) {
		ev_io_stop(loop, &srv.accept_io);
		close(srv.lfd);
		srv.lfd = -1;
	}
}

/* ---- the puller ---- */

static struct fr_pull_config
config(const char *url_fmt)
{
	struct fr_pull_config c = { .poll_fps = 1, .linger_s = 5, .reconnect_max_s = 5 };
	char url[256], err[FR_ERR_LEN];

	/* "%u" in the template is the server's port (spliced in: -Wformat-nonliteral). */
	const char *at = strstr(url_fmt, "%u");
	ck_assert_ptr_nonnull(at);
	snprintf(url, sizeof url, "%.*s%u%s", (int)(at - url_fmt), url_fmt, srv.port, at + 2);
	ck_assert_msg(fr_url_parse(&c.url, url, err) == 0, "%s: %s", url, err);
	return c;
}

static void
start_pull(const struct fr_pull_config *c, double timeout_s)
{
	struct fr_pull_params params = { .timeout_s = timeout_s };

	pull = fr_pull_new(loop, resolver, stream, ingest, c, &params);
	ck_assert_ptr_nonnull(pull);
}

static struct fr_stats_upstream
info(void)
{
	struct fr_stats_upstream u;

	fr_pull_get_info(pull, ev_now(loop), &u);
	return u;
}

static bool
is_state(const char *state)
{
	return strcmp(info().state, state) == 0;
}

static uint64_t
failures(enum fr_upstream_failure reason)
{
	struct fr_stats_upstream u = info();

	return *fr_stats_upstream_failure_counter(&u.counters, reason);
}

static void
setup(void)
{
	struct fr_ingest_params ip = { .max_frame_bytes = 1 << 20, .idle_timeout_s = 10 };
	char err[FR_ERR_LEN];

	fr_log_init(FR_LOG_ERROR, 0);
	loop = ev_loop_new(EVFLAG_AUTO);
	fr_defer_init(loop);
	stream = fr_stream_new("cam");
	ingest = fr_ingest_new(loop, stream, &ip);
	resolver = fr_resolver_new(loop, err);
	ck_assert_msg(resolver != NULL, "%s", err);
	struct bytes b = { 0 };
	frame_len = add_fixture(&b, "ffmpeg-frame.jpg");
	ck_assert_uint_le(frame_len, sizeof frame);
	memcpy(frame, b.p, frame_len);
	bytes_free(&b);
	memset(&srv, 0, sizeof srv);
	srv.lfd = -1;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		srv.conns[i].fd = -1;
}

static void
teardown(void)
{
	fr_pull_free(pull);
	pull = NULL;
	server_stop();
	fr_ingest_free(ingest);
	fr_stream_free(stream);
	fr_resolver_free(resolver);
	fr_defer_fini();
	ev_loop_destroy(loop);
}

static bool
latest_is_fixture(void)
{
	return stream->latest != NULL && stream->latest->len == frame_len &&
	    memcmp(stream->latest->data, frame, frame_len) == 0;
}

/* ---- sources ---- */

START_TEST(test_tcp)
{
	server_start(SRV_RAW, true);
	struct fr_pull_config c = config("tcp://127.0.0.1:%u");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert(latest_is_fixture());
	ck_assert(is_state("streaming"));
	ck_assert_uint_eq(info().counters.attempts, 1);
	ck_assert_uint_eq(info().counters.connects, 1);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	char want[64];
	snprintf(want, sizeof want, "tcp://127.0.0.1:%u", srv.port);
	ck_assert_str_eq(fr_ingest_producer(ingest), want);
	ck_assert_str_eq(info().url, want);
	ck_assert_str_eq(info().last_error, "");
}
END_TEST

START_TEST(test_multipart_basic_auth)
{
	char want[128];

	server_start(SRV_MULTIPART, true);
	struct fr_pull_config c = config("http://user:pw@127.0.0.1:%u/video?token=x");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert(latest_is_fixture());
	/* The part heads and boundaries are framing, not garbage. */
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_uint_eq(stream->counters.bytes_in, 3 * frame_len);
	snprintf(want, sizeof want, "GET /video?token=x HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n",
	    srv.port);
	ck_assert_msg(strncmp(srv.last_request, want, strlen(want)) == 0, "%s", srv.last_request);
	ck_assert_ptr_nonnull(strstr(srv.last_request, "Authorization: Basic dXNlcjpwdw==\r\n"));
	/* Neither the password nor the query reaches /stats. */
	snprintf(want, sizeof want, "http://127.0.0.1:%u/video?...", srv.port);
	ck_assert_str_eq(info().url, want);
}
END_TEST

START_TEST(test_bearer_token)
{
	server_start(SRV_MULTIPART, true);
	struct fr_pull_config c = config("http://127.0.0.1:%u/");
	snprintf(c.token, sizeof c.token, "t0k3n");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert_ptr_nonnull(strstr(srv.last_request, "Authorization: Bearer t0k3n\r\n"));
}
END_TEST

/* ffmpeg -f mpjpeg -listen 1 http://...: octet-stream, chunked, a learnt boundary. */
START_TEST(test_chunked_octet_stream)
{
	server_start(SRV_CHUNKED, true);
	struct fr_pull_config c = config("http://127.0.0.1:%u/");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert(latest_is_fixture());
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
}
END_TEST

/* A still image is fetched again at poll-fps over the same connection. */
START_TEST(test_still_poll)
{
	server_start(SRV_STILL, true);
	struct fr_pull_config c = config("http://127.0.0.1:%u/still.jpg");
	c.poll_fps = 50;
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in >= 5);
	ck_assert(latest_is_fixture());
	ck_assert_uint_eq(srv.accepted, 1);
	ck_assert_uint_ge(srv.requests, 5);
	ck_assert_uint_eq(info().counters.connects, 1);
	ck_assert(is_state("streaming"));
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
}
END_TEST

START_TEST(test_redirect)
{
	server_start(SRV_REDIRECT, true);
	struct fr_pull_config c = config("http://127.0.0.1:%u/");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert_uint_eq(srv.requests, 2);
	ck_assert_ptr_nonnull(strstr(srv.last_request, "GET /real HTTP/1.1\r\n"));
	ck_assert_uint_eq(info().counters.attempts, 1);
	ck_assert_uint_eq(info().counters.connects, 1);
}
END_TEST

/* A host name, resolved through /etc/hosts; localhost may say ::1 first, where nothing
 * listens: the next address is tried. */
START_TEST(test_host_name)
{
	server_start(SRV_RAW, true);
	struct fr_pull_config c = config("tcp://localhost:%u");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert_uint_eq(failures(FR_UPSTREAM_REFUSED), 0);
}
END_TEST

/* ---- failures ---- */

static void
expect_failure(enum mode mode, bool is_listening, enum fr_upstream_failure reason,
    const char *url, const char *error)
{
	server_start(mode, is_listening);
	struct fr_pull_config c = config(url);
	start_pull(&c, 0.3);
	WAIT_UNTIL(failures(reason) >= 1);
	ck_assert(is_state("backoff"));
	struct fr_stats_upstream u = info();
	ck_assert_msg(strstr(u.last_error, error) != NULL, "'%s', want '%s'", u.last_error,
	    error);
	/* The first retry waits 0.075-0.1 s. */
	ck_assert_msg(u.retry_in_s > 0 && u.retry_in_s <= 0.1, "retry in %f", u.retry_in_s);
	ck_assert_uint_eq(u.counters.connects, 0);
	ck_assert_uint_eq(stream->counters.frames_in, 0);
	ck_assert_uint_eq(stream->counters.producer_connected, 0);
	for (int r = 0; r < FR_UPSTREAM_FAILURES; r++)
		if (r != (int)reason)
			ck_assert_uint_eq(*fr_stats_upstream_failure_counter(&u.counters, r), 0);
}

START_TEST(test_refused)
{
	expect_failure(SRV_RAW, false, FR_UPSTREAM_REFUSED, "tcp://127.0.0.1:%u",
	    "Connection refused");
}
END_TEST

START_TEST(test_closed)
{
	expect_failure(SRV_CLOSE, true, FR_UPSTREAM_CLOSED, "http://127.0.0.1:%u/",
	    "closed the connection without an answer");
}
END_TEST

START_TEST(test_http_status)
{
	expect_failure(SRV_STATUS, true, FR_UPSTREAM_HTTP_STATUS, "http://127.0.0.1:%u/",
	    "HTTP 404 Not Found");
}
END_TEST

START_TEST(test_html)
{
	expect_failure(SRV_HTML, true, FR_UPSTREAM_BAD_CONTENT_TYPE, "http://127.0.0.1:%u/",
	    "Content-Type text/html is neither MJPEG nor a JPEG image");
}
END_TEST

START_TEST(test_silent)
{
	expect_failure(SRV_SILENT, true, FR_UPSTREAM_TIMEOUT, "http://127.0.0.1:%u/",
	    "timed out after 0.3 s waiting for the answer");
}
END_TEST

START_TEST(test_dns)
{
	expect_failure(SRV_RAW, false, FR_UPSTREAM_DNS, "tcp://no-such-host.invalid:%u",
	    "cannot resolve no-such-host.invalid");
}
END_TEST

/* The delays themselves: doubling from 0.1 s to the cap, jitter in [0.75, 1]. */
START_TEST(test_backoff_schedule)
{
	static const double base[] = { 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5 };

	for (unsigned i = 0; i < sizeof base / sizeof base[0]; i++) {
		ck_assert_double_eq_tol(fr_pull_backoff_s(i + 1, 5, 0), 0.75 * base[i], 1e-9);
		ck_assert_double_eq_tol(fr_pull_backoff_s(i + 1, 5, 0.999999), base[i], 1e-5);
	}
	ck_assert_double_eq_tol(fr_pull_backoff_s(1000, 5, 0.5), 5 * 0.875, 1e-9);
	ck_assert_double_eq_tol(fr_pull_backoff_s(1, 0.05, 0), 0.05 * 0.75, 1e-9);
}
END_TEST

/* A server that closes at once never gets more than one attempt per interval. */
START_TEST(test_backoff_holds)
{
	server_start(SRV_CLOSE, true);
	struct fr_pull_config c = config("http://127.0.0.1:%u/");
	c.reconnect_max_s = 0.4;
	start_pull(&c, 5);
	loop_run_for(loop, 1.5);
	/* The shortest schedule: 0.075 0.15 0.3 0.3 0.3 0.3 ... s: attempts at 0, 0.075,
	 * 0.225, 0.525, 0.825, 1.125, 1.425; so at most 7 in 1.5 s. */
	ck_assert_uint_le(srv.accepted, 7);
	ck_assert_uint_ge(srv.accepted, 2);
	ck_assert_uint_eq(info().counters.attempts, srv.accepted);
	ck_assert_uint_eq(failures(FR_UPSTREAM_CLOSED), srv.accepted);
}
END_TEST

/* ---- sharing the stream ---- */

/* A pushed producer takes the stream from the puller; the puller resumes after it. */
START_TEST(test_pushed_producer_wins)
{
	int sv[2];
	struct fr_addr peer = { .text = "pusher" };

	server_start(SRV_RAW, true);
	struct fr_pull_config c = config("tcp://127.0.0.1:%u");
	start_pull(&c, 10);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	socket_pair(sv, false);
	fr_ingest_attach(ingest, sv[0], &peer);
	ck_assert(is_state("paused"));
	ck_assert_str_eq(fr_ingest_producer(ingest), "pusher");
	WAIT_UNTIL(srv.eofs == 1);	/* the upstream connection was closed */
	send_all(sv[1], frame, frame_len);
	WAIT_UNTIL(stream->counters.frames_in == 4);
	close(sv[1]);	/* the pusher leaves: the puller comes back */
	WAIT_UNTIL(stream->counters.frames_in == 7);
	ck_assert(is_state("streaming"));
	ck_assert_uint_eq(srv.accepted, 2);
	ck_assert_uint_eq(info().counters.attempts, 2);
	for (int r = 0; r < FR_UPSTREAM_FAILURES; r++)
		ck_assert_uint_eq(failures(r), 0);
}
END_TEST

/* on-demand: no connection without subscribers; one with; none linger s after. */
START_TEST(test_on_demand)
{
	server_start(SRV_RAW, true);
	struct fr_pull_config c = config("tcp://127.0.0.1:%u");
	c.is_on_demand = 1;
	c.linger_s = 0.2;
	start_pull(&c, 10);
	ck_assert(is_state("idle"));
	loop_run_for(loop, 0.3);
	ck_assert_uint_eq(srv.accepted, 0);
	ck_assert_uint_eq(info().counters.attempts, 0);
	/* What the stream does when its first subscriber comes and its last one goes. */
	stream->on_demand(stream, true, stream->on_demand_arg);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	ck_assert_uint_eq(srv.accepted, 1);
	stream->on_demand(stream, false, stream->on_demand_arg);
	WAIT_UNTIL(srv.eofs == 1);
	ck_assert(is_state("idle"));
	ck_assert_uint_eq(stream->counters.producer_connected, 0);
	/* Back within the linger: the connection stays. */
	stream->on_demand(stream, true, stream->on_demand_arg);
	WAIT_UNTIL(stream->counters.frames_in == 6);
	stream->on_demand(stream, false, stream->on_demand_arg);
	stream->on_demand(stream, true, stream->on_demand_arg);
	loop_run_for(loop, 0.4);
	ck_assert_uint_eq(srv.accepted, 2);
	ck_assert(is_state("streaming"));
}
END_TEST

/* Freed mid-attempt: the lookup, the socket and the timers all go. */
START_TEST(test_free_midway)
{
	server_start(SRV_SILENT, true);
	struct fr_pull_config c = config("http://localhost:%u/");
	start_pull(&c, 10);
	fr_pull_free(pull);	/* while resolving */
	pull = NULL;
	start_pull(&c, 10);
	WAIT_UNTIL(srv.accepted == 1);
	WAIT_UNTIL(srv.requests == 1);	/* asked, and unanswered */
	ck_assert(is_state("connecting"));
	fr_pull_free(pull);	/* waiting for the answer */
	pull = NULL;
	WAIT_UNTIL(srv.eofs == 1);
}
END_TEST

/* A test case of the tests listed, each with its own loop and upstream servers. */
static void
pull_tcase(Suite *s, const char *name, const TTest *const *tests)
{
	TCase *tc = fr_tcase(s, name, tests);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
}

int
main(void)
{
	Suite *s = suite_create("pull");

	pull_tcase(s, "sources", FR_TESTS(test_tcp, test_multipart_basic_auth, test_bearer_token,
	    test_chunked_octet_stream, test_still_poll, test_redirect, test_host_name));
	pull_tcase(s, "failures", FR_TESTS(test_refused, test_closed, test_http_status, test_html,
	    test_silent, test_dns, test_backoff_schedule, test_backoff_holds));
	pull_tcase(s, "sharing", FR_TESTS(test_pushed_producer_wins, test_on_demand,
	    test_free_midway));
	return fr_run_suite(s);
}
