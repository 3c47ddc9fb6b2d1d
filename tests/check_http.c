/* SPDX-License-Identifier: MIT */
/*
 * Loop tests for the HTTP front end (http.c) and the pending budget (admit.c): a real
 * libev loop runs a registry, an admit and fr_http on 127.0.0.1 port 0 in this
 * process, and the test talks to it over plain TCP sockets of its own, on the same
 * loop. Responses are compared byte for byte. Every wait is for a condition, bounded
 * by an ev_timer watchdog and the Check timeout, never for a fixed duration.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#ifdef HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif
#include "fr/admit.h"
#include "fr/arena.h"
#include "fr/buf.h"
#include "fr/defer.h"
#include "fr/frame.h"
#include "fr/http.h"
#include "fr/log.h"
#include "fr/multipart.h"
#include "fr/page.h"
#include "fr/registry.h"
#include "fr/stats.h"
#include "fr/util.h"

#include "loop_wait.h"
#include "sockets.h"
#include "suite.h"

#ifndef FR_FIXTURES_DIR
#error "build with -DFR_FIXTURES_DIR='\"/path/to/fixtures\"'"
#endif

/* How long any single wait may take before the test fails. */
#define WAIT_S 10.0
/* Streams the registry has room for: default and three more. */
enum { MAX_STREAMS = 4 };

/* What every response begins with after its status line. */
#define SERVER "Server: framerouter/" PACKAGE_VERSION "\r\n"
#define TEXT_PLAIN "Content-Type: text/plain; charset=utf-8\r\n"
#define CLOSE "Connection: close\r\n"
#define KEEP_ALIVE "Connection: keep-alive\r\n"
#define AUTH_REALM "WWW-Authenticate: Bearer realm=\"framerouter\"\r\n"

/* ---- what the daemon does with sendmsg() (linked with --wrap=sendmsg) ---- */

/*
 * http.c writes every response with sendmsg(). The wrapper counts the writes that
 * found the socket full, and the lowest and highest stack frame it was called from:
 * answering pipelined requests one level deeper each (recursion) shows as a spread of
 * about a megabyte for 5000 requests, a loop as a few kilobytes.
 */
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);

static uint64_t sendmsg_calls, sendmsg_eagain;
static uintptr_t stack_lo, stack_hi;
/* While set, every sendmsg() finds the socket full: a response stalls from its first
 * byte, which a real socket does only by chance. */
static bool sendmsg_is_full;

ssize_t
__wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);

	sendmsg_calls++;
	if (stack_lo == 0 || frame < stack_lo)
		stack_lo = frame;
	if (frame > stack_hi)
		stack_hi = frame;
	if (sendmsg_is_full) {
		sendmsg_eagain++;
		errno = EAGAIN;
		return -1;
	}
	ssize_t n = __real_sendmsg(fd, msg, flags);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		sendmsg_eagain++;
	return n;
}

/* ---- the loop, the server under test and the watchdog ---- */

static struct ev_loop *loop;
static struct fr_registry *reg;
static struct fr_admit *admit;
static struct fr_http *http;
static struct fr_registry_entry *def;	/* the stream "default" */
static struct fr_admit_params admit_params;
static struct fr_http_params http_params;
static struct sockaddr_in server_sin;
/* Runs the loop until cond holds; fails the test if WAIT_S pass first. */
#define WAIT_UNTIL(cond) LOOP_WAIT_UNTIL(loop, WAIT_S, cond)

/* New limits and tokens, as a SIGHUP gives them: tests change the structs first. */
static void
apply_params(void)
{
	fr_admit_set_params(admit, &admit_params);
	fr_http_set_params(http, &http_params);
}

/* ---- what a test owns (released in teardown, also when it fails) ---- */

enum { MAX_OWNED = 128 };
static struct fr_buf owned_bufs[MAX_OWNED];
static size_t n_owned_bufs;
static struct fr_frame *owned_frames[MAX_OWNED];
static size_t n_owned_frames;

static struct fr_buf *
new_buf(void)
{
	ck_assert_uint_lt(n_owned_bufs, MAX_OWNED);
	fr_buf_init(&owned_bufs[n_owned_bufs]);
	return &owned_bufs[n_owned_bufs++];
}

static const struct fr_buf *
read_fixture(const char *name)
{
	char path[512], chunk[8192];
	struct fr_buf *b = new_buf();
	size_t n;

	snprintf(path, sizeof path, "%s/%s", FR_FIXTURES_DIR, name);
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		fr_buf_append(b, chunk, n);
	fclose(fp);
	ck_assert(!b->has_failed);
	return b;
}

/* A sealed frame holding bytes (copied); the test keeps one reference. */
static struct fr_frame *
make_frame(const void *bytes, size_t len)
{
	struct fr_frame *f = fr_frame_new(len);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_lt(n_owned_frames, MAX_OWNED);
	owned_frames[n_owned_frames++] = f;
	memcpy(f->data, bytes, len);
	fr_frame_seal(f, len);
	return f;
}

/* Publishes the fixture file as one frame of stream e, as a producer would. */
static void
publish_fixture(struct fr_registry_entry *e, const struct fr_buf *jpeg)
{
	struct fr_frame *f = make_frame(jpeg->data, jpeg->len);

	ev_now_update(loop);
	f->received_at = ev_now(loop);	/* as ingest.c stamps it */
	fr_stream_publish(e->stream, f);
}

/* ---- the test's clients ---- */

struct client {
	int fd;
	ev_io read_io, write_io;
	struct fr_buf out;	/* queued to send, from out_off on */
	size_t out_off;
	struct fr_buf in;	/* received; the test has taken everything before in_off */
	size_t in_off;
	size_t max_per_read;	/* 0: read everything there is at once */
	bool saw_eof;		/* EOF, or ECONNRESET */
};

enum { MAX_CLIENTS = 16 };
static struct client clients[MAX_CLIENTS];
static size_t n_clients;

static void
client_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct client *c = FR_CONTAINER_OF(w, struct client, read_io);
	static uint8_t chunk[64 * 1024];

	(void)revents;
	for (;;) {
		size_t want = c->max_per_read ? c->max_per_read : sizeof chunk;
		ssize_t n = socket_recv(c->fd, chunk, want);

		if (n == 0)
			return;
		if (n < 0) {
			c->saw_eof = true;
			ev_io_stop(l, w);
			return;
		}
		fr_buf_append(&c->in, chunk, (size_t)n);
		ck_assert(!c->in.has_failed);
		if (c->max_per_read)
			return;
	}
}

static void
client_write_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct client *c = FR_CONTAINER_OF(w, struct client, write_io);

	(void)revents;
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(l, w);
			return;
		}
		if (n < 0) {	/* the server closed: what is left will never be read */
			c->out_off = c->out.len;
			break;
		}
		c->out_off += (size_t)n;
	}
	ev_io_stop(l, w);
	c->out.len = c->out_off = 0;
}

/*
 * A non-blocking TCP connection to the server from the address from (NULL: any),
 * with a receive buffer of rcvbuf bytes (0: the default).
 */
static struct client *
client_connect(const char *from, int rcvbuf)
{
	ck_assert_uint_lt(n_clients, MAX_CLIENTS);
	struct client *c = &clients[n_clients++];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(c, 0, sizeof *c);
	c->fd = fd;
	fr_buf_init(&c->out);
	fr_buf_init(&c->in);
	if (rcvbuf > 0)	/* before connect(), so the window is scaled for it */
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
	if (from != NULL) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		ck_assert_int_eq(inet_pton(AF_INET, from, &sin.sin_addr), 1);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	}
	int r = connect(fd, (struct sockaddr *)&server_sin, sizeof server_sin);
	ck_assert_msg(r == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
	ev_io_init(&c->read_io, client_read_cb, fd, EV_READ);
	ev_io_init(&c->write_io, client_write_cb, fd, EV_WRITE);
	ev_io_start(loop, &c->read_io);
	return c;
}

static struct client *
client_new(void)
{
	return client_connect(NULL, 0);
}

static void
client_close(struct client *c)
{
	ev_io_stop(loop, &c->read_io);
	ev_io_stop(loop, &c->write_io);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
send_bytes(struct client *c, const void *p, size_t n)
{
	fr_buf_append(&c->out, p, n);
	ck_assert(!c->out.has_failed);
	client_write_cb(loop, &c->write_io, EV_WRITE);
}

static void
send_str(struct client *c, const char *s)
{
	send_bytes(c, s, strlen(s));
}

/* Bytes received that the test has not taken yet. */
static size_t
available(const struct client *c)
{
	return c->in.len - c->in_off;
}

/* The first byte the test has not taken (nothing may have come yet: no buffer). */
static const char *
unread(const struct client *c)
{
	return c->in.data != NULL ? c->in.data + c->in_off : "";
}

/* The test has taken n more bytes; forgets them once everything is taken. */
static void
take(struct client *c, size_t n)
{
	c->in_off += n;
	if (c->in_off == c->in.len)
		c->in.len = c->in_off = 0;
}

/* For messages: up to 600 bytes of s with CR and LF made visible. */
static const char *
visible(const uint8_t *s, size_t n)
{
	static char text[2][1400];
	static int which;
	char *t = text[which ^= 1];
	size_t at = 0;

	for (size_t i = 0; i < n && i < 600; i++) {
		if (s[i] == '\r')
			at += (size_t)snprintf(t + at, sizeof text[0] - at, "\\r");
		else if (s[i] == '\n')
			at += (size_t)snprintf(t + at, sizeof text[0] - at, "\\n");
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			at += (size_t)snprintf(t + at, sizeof text[0] - at, "\\x%02x", s[i]);
		else
			t[at++] = (char)s[i];
	}
	t[at] = '\0';
	return t;
}

/* Whether what has come so far already differs from want[0, n). */
static bool
has_diverged(const struct client *c, const void *want, size_t n)
{
	size_t have = available(c);

	return memcmp(unread(c), want, have < n ? have : n) != 0;
}

/* The next n bytes from the server are exactly want[0, n). */
static void
expect_bytes(struct client *c, const void *want, size_t n)
{
	WAIT_UNTIL(available(c) >= n || c->saw_eof || has_diverged(c, want, n));
	const uint8_t *got = (const uint8_t *)unread(c);
	size_t have = available(c);

	ck_assert_msg(have >= n && memcmp(got, want, n) == 0, "expected\n  %s\ngot\n  %s%s",
	    visible(want, n), visible(got, have < n ? have : n), c->saw_eof ? " (EOF)" : "");
	take(c, n);
}

static void
expect_str(struct client *c, const char *want)
{
	expect_bytes(c, want, strlen(want));
}

/* Closes with an RST (SO_LINGER 0): the server's next read fails at once, where a
 * subscriber would take a FIN for a half-close and send on for a while. */
static void
client_reset(struct client *c)
{
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };

	ck_assert_int_eq(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_close,
	    sizeof abort_close), 0);
	client_close(c);
}

/* The server closes the connection without sending anything more. */
static void
expect_eof(struct client *c)
{
	WAIT_UNTIL(c->saw_eof);
	ck_assert_msg(available(c) == 0, "unexpected bytes before EOF: %s",
	    visible((const uint8_t *)unread(c), available(c)));
}

/* Nothing has come, and the connection is open (looked at without the loop). */
static void
expect_silence(struct client *c)
{
	char byte;

	ck_assert(!c->saw_eof);
	ck_assert_uint_eq(available(c), 0);
	ck_assert_int_eq(recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

/*
 * What respond_error() sends: the head with extra lines and connection (a
 * "Connection:" line, or "") and, unless is_head, the body "STATUS: why\n".
 */
static void
expect_error_as(struct client *c, const char *status, const char *why, const char *extra,
    const char *connection, bool is_head)
{
	char body[600], want[2048];

	snprintf(body, sizeof body, "%s: %s\n", status, why);
	snprintf(want, sizeof want, "HTTP/1.1 %s\r\n" SERVER TEXT_PLAIN "Content-Length: %zu\r\n"
	    "%s%s\r\n%s", status, strlen(body), extra ? extra : "", connection,
	    is_head ? "" : body);
	expect_str(c, want);
}

static void
expect_error(struct client *c, const char *status, const char *why, const char *extra,
    const char *connection)
{
	expect_error_as(c, status, why, extra, connection, false);
}

/* A GET /stream became a subscriber: its response head and first boundary came. */
static void
expect_subscribed(struct client *c)
{
	size_t len;
	const char *preamble = fr_multipart_preamble(FR_MULTIPART_PLAIN, &len);

	expect_bytes(c, preamble, len);
}

/* What every snapshot answer says before its age lines. */
#define SNAPSHOT_HEADERS                                                               \
	"Cache-Control: no-cache, no-store\r\nAccess-Control-Allow-Origin: *\r\n"          \
	"Access-Control-Expose-Headers: Last-Modified, X-Frame-Age\r\n"

/* t as an HTTP-date (RFC 9110 5.6.7), in whole seconds. */
static const char *
http_date(double t, char buf[static 64])
{
	time_t at = (time_t)t;
	struct tm tm;

	ck_assert_ptr_nonnull(gmtime_r(&at, &tm));
	ck_assert_uint_gt(strftime(buf, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm), 0);
	return buf;
}

/*
 * "X-Frame-Age: S.mmm\r\n" came, with exactly three decimals, and says how old a
 * frame that arrived at received_at was when the answer was written: at least 0 and
 * at most what the loop's clock says now (the server shares it), give or take the
 * rounding to milliseconds.
 */
static void
expect_age(struct client *c, double received_at)
{
	expect_str(c, "X-Frame-Age: ");
	WAIT_UNTIL(memchr(unread(c), '\n', available(c)) != NULL || c->saw_eof);
	const char *p = unread(c), *dot = memchr(p, '.', available(c));
	char *end;
	double age = strtod(p, &end);

	ck_assert_msg(dot != NULL && end == dot + 4 && strncmp(end, "\r\n", 2) == 0 &&
	    strspn(p, "0123456789") == (size_t)(dot - p) && strspn(dot + 1, "0123456789") == 3,
	    "bad X-Frame-Age: %s", visible((const uint8_t *)p, available(c)));
	ck_assert_msg(age >= 0 && age <= ev_now(loop) - received_at + 0.0005,
	    "X-Frame-Age %.3f, but the frame is %.4f s old", age, ev_now(loop) - received_at);
	take(c, (size_t)(end - p) + 2);
}

/*
 * A snapshot answer with frame f: the exact head (with connection, a "Connection:"
 * line or ""), its age, then f's bytes unless is_head.
 */
static void
expect_snapshot_as(struct client *c, const struct fr_frame *f, bool is_head,
    const char *connection)
{
	char want[512], date[64];

	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n" SNAPSHOT_HEADERS
	    "Last-Modified: %s\r\n", f->len, http_date(f->received_at, date));
	expect_str(c, want);
	expect_age(c, f->received_at);
	expect_str(c, connection);
	expect_str(c, "\r\n");
	if (!is_head)
		expect_bytes(c, f->data, f->len);
}

/* The same on a connection that stays open. */
static void
expect_snapshot(struct client *c, const struct fr_frame *f, bool is_head)
{
	expect_snapshot_as(c, f, is_head, "");
}

/* A whole response whose body is not known in advance. */
struct response {
	int status;
	char head[2048];	/* the status line and headers, up to the empty line */
	struct fr_buf *body;
};

/* Length of the complete response at the front of c's input, or 0 if incomplete. */
static size_t
response_len(const struct client *c, bool is_head)
{
	const char *p = unread(c);
	const char *end = memmem(p, available(c), "\r\n\r\n", 4);

	if (end == NULL)
		return 0;
	size_t head_len = (size_t)(end - p) + 4, body_len = 0;
	const char *cl = memmem(p, head_len, "\r\nContent-Length: ", 18);
	if (cl != NULL && !is_head)
		body_len = strtoul(cl + 18, NULL, 10);
	return available(c) >= head_len + body_len ? head_len + body_len : 0;
}

static void
next_response(struct client *c, bool is_head, struct response *r)
{
	WAIT_UNTIL(response_len(c, is_head) > 0 || c->saw_eof);
	size_t len = response_len(c, is_head);
	const char *p = unread(c);

	ck_assert_msg(len > 0, "no whole response before EOF: %s",
	    visible((const uint8_t *)p, available(c)));
	size_t head_len = (size_t)((const char *)memmem(p, len, "\r\n\r\n", 4) - p) + 4;
	ck_assert_uint_lt(head_len, sizeof r->head);
	memcpy(r->head, p, head_len);
	r->head[head_len] = '\0';
	ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	r->body = new_buf();
	fr_buf_append(r->body, p + head_len, len - head_len);
	take(c, len);
}

/* Sends a request and takes the response; for tests that only need one. */
static void
request(struct client *c, const char *req, struct response *r)
{
	send_str(c, req);
	next_response(c, strncmp(req, "HEAD ", 5) == 0, r);
}

/* ---- fixture ---- */

static void
setup(void)
{
	struct fr_ingest_params ingest_params = { .max_frame_bytes = 8 * 1024 * 1024 };
	struct fr_addr addr;
	char err[FR_ERR_LEN];

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	fr_defer_init(loop);
	fr_log_set_level(FR_LOG_ERROR);
	n_clients = n_owned_bufs = n_owned_frames = 0;
	sendmsg_calls = sendmsg_eagain = 0;
	stack_lo = stack_hi = 0;
	sendmsg_is_full = false;
	reg = fr_registry_new(loop, &ingest_params, MAX_STREAMS);
	ck_assert_int_eq(fr_registry_add(reg, "default", true, &def, err), FR_REGISTRY_OK);
	admit_params = (struct fr_admit_params){
		.max_clients = 100,
		.client_timeout_s = 60,
		.max_pending = 256,
		.max_pending_per_peer = 64,
	};
	admit = fr_admit_new(loop, reg, &admit_params);
	/* Timeouts beyond any test's length, except where a test sets its own. */
	http_params = (struct fr_http_params){
		.registry = reg,
		.admit = admit,
		.client_timeout_s = 60,
		.head_timeout_s = 60,
	};
	/* Port 0 (the kernel picks one) is no address a user may give: not parsed. */
	struct sockaddr_in any_port = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	fr_addr_from_sockaddr(&addr, (struct sockaddr *)&any_port, sizeof any_port);
	http = fr_http_new(loop, &addr, &http_params, err);
	ck_assert_msg(http != NULL, "%s", err);
	fr_http_start(http);
	const struct fr_addr *bound = fr_http_addr(http);
	ck_assert_int_eq(bound->ss.ss_family, AF_INET);
	memcpy(&server_sin, &bound->ss, sizeof server_sin);
	ck_assert_uint_ne(ntohs(server_sin.sin_port), 0);
}

static void
teardown(void)
{
	fr_buf_fail_alloc_after(0);
	for (size_t i = 0; i < n_clients; i++) {
		client_close(&clients[i]);
		fr_buf_fini(&clients[i].out);
		fr_buf_fini(&clients[i].in);
	}
	fr_http_free(http);
	fr_registry_free(reg);
	/* Every HTTP connection is gone, so none is left in the budget. */
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
	fr_admit_free(admit);
	fr_defer_fini();
	for (size_t i = 0; i < n_owned_frames; i++)
		fr_frame_unref(owned_frames[i]);
	for (size_t i = 0; i < n_owned_bufs; i++)
		fr_buf_fini(&owned_bufs[i]);
	ev_loop_destroy(loop);
	fr_log_set_level(FR_LOG_INFO);
	/* Every frame is gone, so every arena file is closed. */
	ck_assert_uint_eq(fr_arena_open_files(), 0);
}

/* ---- routing ---- */

START_TEST(test_routing_page)
{
	struct client *c = client_new();
	char want[256];

	send_str(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-cache\r\n\r\n", strlen(fr_page_html));
	expect_str(c, want);
	expect_str(c, fr_page_html);
	/* /index.html is the same page; HEAD gets the same head and no body. */
	send_str(c, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_str(c, want);
	expect_str(c, fr_page_html);
	send_str(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_str(c, want);
	send_str(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no such path", NULL, "");
	expect_silence(c);
}
END_TEST

/* "uptime_s": N with N replaced by 0, so two snapshots taken apart compare equal. */
static void
zero_uptime(char *json)
{
	char *at = strstr(json, "\"uptime_s\": ");

	ck_assert_ptr_nonnull(at);
	at += strlen("\"uptime_s\": ");
	char *end = strchr(at, ',');
	ck_assert_ptr_nonnull(end);
	*at = '0';
	memmove(at + 1, end, strlen(end) + 1);
}

/*
 * Asserts that python3 takes text for JSON and finds check (a Python expression on d)
 * true. The system's python3 first: a version manager's shim on PATH takes seconds.
 */
static void
assert_json(const char *text, const char *check)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "%s -c 'import json, os, sys; d = json.load(sys.stdin); "
	    "sys.exit(0 if eval(os.environ[\"FR_JSON_CHECK\"]) else 3)' 2>/dev/null",
	    access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3");
	ck_assert_int_eq(setenv("FR_JSON_CHECK", check, 1), 0);
	FILE *p = popen(cmd, "w");
	ck_assert_ptr_nonnull(p);
	fputs(text, p);
	int status = pclose(p);
	ck_assert_msg(status != -1 && WIFEXITED(status), "python3 did not run");
	ck_assert_msg(WEXITSTATUS(status) != 127, "python3 is needed to check JSON; not found");
	ck_assert_msg(WEXITSTATUS(status) != 1, "not JSON: %s", text);
	ck_assert_msg(WEXITSTATUS(status) == 0, "%s is false for %s", check, text);
}

START_TEST(test_routing_stats)
{
	struct client *c = client_new();
	struct response r;
	char want[256];
	struct fr_buf *mine = new_buf();

	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n\r\n", r.body->len);
	ck_assert_str_eq(r.head, want);
	assert_json(r.body->data, "d['version'] == '" PACKAGE_VERSION "' and "
	    "list(d['streams']) == ['default'] and d['streams']['default']['frames_in'] == 0");
	/* The registry's own snapshot, but for the time that has passed since. */
	fr_registry_format_stats(reg, FR_REGISTRY_JSON, mine);
	ck_assert(!mine->has_failed);
	zero_uptime(r.body->data);
	zero_uptime(mine->data);
	ck_assert_str_eq(r.body->data, mine->data);

	request(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n\r\n", r.body->len);
	ck_assert_str_eq(r.head, want);
	ck_assert_ptr_nonnull(strstr(r.body->data, "\n# TYPE framerouter_frames_in_total counter\n"
	    "framerouter_frames_in_total{stream=\"default\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(r.body->data,
	    "\nframerouter_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"));

	/* HEAD: the head a GET gets, without the body. */
	request(c, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Length: "));
	ck_assert_uint_eq(r.body->len, 0);
	expect_silence(c);
}
END_TEST

START_TEST(test_routing_snapshot)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();

	send_str(c, "GET /snapshot/default HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "503 Service Unavailable", "stream 'default' has no frame yet",
	    "Retry-After: 1\r\n", "");
	send_str(c, "GET /snapshot/nosuch HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream 'nosuch'", NULL, "");

	publish_fixture(def, jpeg);
	ck_assert_mem_eq(def->stream->latest->data, jpeg->data, jpeg->len);
	/* /snapshot alone is the default stream's. */
	for (int i = 0; i < 2; i++) {
		send_str(c, i == 0 ? "GET /snapshot/default HTTP/1.1\r\nHost: x\r\n\r\n" :
		    "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n");
		expect_snapshot(c, def->stream->latest, false);
	}
	send_str(c, "HEAD /snapshot/default HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_snapshot(c, def->stream->latest, true);
	/* Sent and done: only the test and the latest slot hold the frame. */
	ck_assert_uint_eq(def->stream->latest->refs, 2);
	expect_silence(c);
}
END_TEST

START_TEST(test_routing_methods)
{
	struct client *c = client_new();

	send_str(c, "GET /ingest/x HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "405 Method Not Allowed", "use PUT or POST", "Allow: PUT, POST\r\n", "");
	send_str(c, "PUT /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_error(c, "405 Method Not Allowed", "use GET", "Allow: GET, HEAD\r\n", "");
	send_str(c, "POST /snapshot/default HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_error(c, "405 Method Not Allowed", "use GET", "Allow: GET, HEAD\r\n", "");
	send_str(c, "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "501 Not Implemented", "method not implemented", NULL, "");
	send_str(c, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error_as(c, "404 Not Found", "no such path", NULL, "", true);
	send_str(c, "GET /stream/nosuch HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream 'nosuch'", NULL, "");
	/* A body the server would have to skip: answered, then closed. */
	send_str(c, "GET /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	expect_error(c, "404 Not Found", "no such path", NULL, CLOSE);
	expect_eof(c);
	ck_assert_uint_eq(def->stream->counters.clients, 0);
}
END_TEST

START_TEST(test_routing_stream)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	const struct fr_buf *next = read_fixture("baseline.jpg");
	struct client *c = client_new();
	char part_head[FR_MULTIPART_PART_HEAD_MAX];
	size_t len;

	publish_fixture(def, jpeg);
	WAIT_UNTIL(fr_admit_pending_count(admit) == 1);
	send_str(c, "GET /stream/default HTTP/1.1\r\nHost: x\r\n\r\n");
	/* The response head, the first boundary, then the latest frame as the first part. */
	const char *head = fr_multipart_response_head(&len);
	expect_bytes(c, head, len);
	const char *preamble = fr_multipart_preamble(FR_MULTIPART_PLAIN, &len);
	expect_bytes(c, preamble + strlen(head), len - strlen(head));
	len = fr_multipart_part_head(part_head, sizeof part_head, jpeg->len);
	expect_bytes(c, part_head, len);
	expect_bytes(c, jpeg->data, jpeg->len);
	size_t tail_len;
	const char *tail = fr_multipart_part_tail(FR_MULTIPART_PLAIN, &tail_len);
	expect_bytes(c, tail, tail_len);
	/* A subscriber now, not an HTTP connection waiting for a request. */
	ck_assert_uint_eq(def->stream->counters.clients, 1);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
	ck_assert_uint_eq(fr_registry_clients(reg), 1);

	/* Out of the HTTP connection list: closing the front end leaves it alone. */
	fr_http_free(http);
	http = NULL;
	publish_fixture(def, next);
	len = fr_multipart_part_head(part_head, sizeof part_head, next->len);
	expect_bytes(c, part_head, len);
	expect_bytes(c, next->data, next->len);
	expect_bytes(c, tail, tail_len);
	ck_assert(!c->saw_eof);
	ck_assert_uint_eq(def->stream->counters.frames_out, 2);
}
END_TEST

START_TEST(test_routing_stream_head)
{
	struct client *c = client_new();
	size_t len;

	/* HEAD: the head a GET gets, then the end of the connection (it has no length). */
	send_str(c, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	const char *head = fr_multipart_response_head(&len);
	expect_bytes(c, head, len);
	expect_eof(c);
	ck_assert_uint_eq(def->stream->counters.clients, 0);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
}
END_TEST

START_TEST(test_routing_bad_fps)
{
	struct client *c = client_new();

	send_str(c, "GET /stream/default?fps=0 HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "400 Bad Request", "fps must be a number above 0 and at most 1000", NULL,
	    "");
	ck_assert_uint_eq(def->stream->counters.clients, 0);
	expect_silence(c);
}
END_TEST

START_TEST(test_routing_stats_no_memory)
{
	struct client *c = client_new();
	struct response r;

	/* The next buffer allocation is the server's for the body of /stats (the
	 * client's own buffer for requests has room already). */
	send_str(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
	fr_buf_fail_alloc_after(1);
	expect_error(c, "500 Internal Server Error", "out of memory", NULL, "");
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
}
END_TEST

/* ---- tokens ---- */

START_TEST(test_tokens_subscribe)
{
	struct client *c = client_new();
	struct response r;

	http_params.subscribe_token = "s3cret";
	http_params.ingest_token = "in-tok";
	apply_params();
	static const char *const paths[] = { "/", "/stats", "/metrics", "/snapshot/default",
		"/stream/default" };
	for (size_t i = 0; i < FR_ARRAY_LEN(paths); i++) {
		char req[256];

		snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[i]);
		send_str(c, req);
		expect_error(c, "401 Unauthorized",
		    "a valid token is required (Authorization: Bearer TOKEN)", AUTH_REALM, "");
		/* The ingest token is not a subscribe token. */
		snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n"
		    "Authorization: Bearer in-tok\r\n\r\n", paths[i]);
		send_str(c, req);
		expect_error(c, "401 Unauthorized",
		    "a valid token is required (Authorization: Bearer TOKEN)", AUTH_REALM, "");
	}
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	request(c, "GET /stats?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: bearer s3cret\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	/* A prefix, a longer token and a wrong ?token= do not pass. */
	static const char *const wrong[] = {
		"GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cre\r\n\r\n",
		"GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret2\r\n\r\n",
		"GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Basic czNjcmV0\r\n\r\n",
		"GET /stats?token=s3cre HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /stats?token= HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < FR_ARRAY_LEN(wrong); i++) {
		send_str(c, wrong[i]);
		expect_error(c, "401 Unauthorized",
		    "a valid token is required (Authorization: Bearer TOKEN)", AUTH_REALM, "");
	}
	/* With the token, /stream becomes a subscriber. */
	send_str(c, "GET /stream/default?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_subscribed(c);
	WAIT_UNTIL(def->stream->counters.clients == 1);
}
END_TEST

START_TEST(test_tokens_ingest)
{
	struct client *c = client_new();

	http_params.subscribe_token = "s3cret";
	http_params.ingest_token = "in-tok";
	apply_params();
	send_str(c, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_error(c, "401 Unauthorized", "a valid token is required (Authorization: Bearer "
	    "TOKEN)", AUTH_REALM, "");
	c = client_new();
	send_str(c, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
	    "Content-Length: 0\r\n\r\n");
	expect_error(c, "401 Unauthorized", "a valid token is required (Authorization: Bearer "
	    "TOKEN)", AUTH_REALM, "");
	ck_assert_ptr_null(fr_registry_find(reg, "cam"));
	send_str(c, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer in-tok\r\n"
	    "Content-Length: 0\r\n\r\n");
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	ck_assert_ptr_nonnull(fr_registry_find(reg, "cam"));
	send_str(c, "POST /ingest/cam?token=in-tok HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 0\r\n\r\n");
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	ck_assert_uint_eq(fr_registry_find(reg, "cam")->stream->counters.producer_connects, 2);
}
END_TEST

static struct fr_registry_entry *find(const char *name);

/* ---- per-stream tokens ---- */

/* A declared stream with its own tokens (NULL: none), as main.c sets them. */
static struct fr_registry_entry *
add_stream(const char *name, const char *subscribe_token, const char *ingest_token)
{
	struct fr_registry_entry *e;
	char err[FR_ERR_LEN];

	ck_assert_int_eq(fr_registry_add(reg, name, true, &e, err), FR_REGISTRY_OK);
	e->subscribe_token = subscribe_token;
	e->ingest_token = ingest_token;
	return e;
}

/* Closes the client made last and frees its slot for the next one. */
static void
client_drop(struct client *c)
{
	ck_assert_ptr_eq(c, &clients[n_clients - 1]);
	client_close(c);
	fr_buf_fini(&c->out);
	fr_buf_fini(&c->in);
	n_clients--;
}

/* The status GET (or PUT with an empty body) of target gets with auth ("" or a whole
 * "Authorization: ...\r\n" line), on a connection of its own. */
static int
status_of(const char *method, const char *target, const char *auth)
{
	struct client *c = client_new();
	struct response r;
	char req[512];

	snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n%s%s\r\n", method, target, auth,
	    strcmp(method, "PUT") == 0 ? "Content-Length: 0\r\n" : "");
	request(c, req, &r);
	client_drop(c);
	return r.status;
}

/* The body of a 200 answer to GET target with auth. */
static const char *
body_of(const char *target, const char *auth)
{
	struct client *c = client_new();
	struct response r;
	char req[512];

	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target, auth);
	request(c, req, &r);
	client_drop(c);
	ck_assert_msg(r.status == 200, "GET %s: %s", target, r.head);
	return r.body->data;
}

#define CAM_TOKEN "Authorization: Bearer cam-tok\r\n"
#define GLOBAL_TOKEN "Authorization: Bearer s3cret\r\n"

/*
 * A stream's own subscribe token opens that stream, on every endpoint that reads it,
 * and lists it in /stats, /metrics and /stats/history; streams without a token are
 * open to all while there is no global token; the global token opens everything.
 */
START_TEST(test_tokens_per_stream)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct fr_registry_entry *cam = add_stream("cam", "cam-tok", NULL);

	add_stream("open", NULL, NULL);
	add_stream("lab", "lab-tok", NULL);
	publish_fixture(cam, jpeg);
	publish_fixture(find("open"), jpeg);
	static const char *const reads[] = { "/stream/cam", "/snapshot/cam",
		"/stats/history/cam" };
	for (size_t i = 0; i < FR_ARRAY_LEN(reads); i++) {
		char with_query[128];

		ck_assert_int_eq(status_of("GET", reads[i], ""), 401);
		ck_assert_int_eq(status_of("GET", reads[i], "Authorization: Bearer cam-to\r\n"),
		    401);
		ck_assert_int_eq(status_of("GET", reads[i], CAM_TOKEN), 200);
		snprintf(with_query, sizeof with_query, "%s?token=cam-tok", reads[i]);
		ck_assert_int_eq(status_of("GET", with_query, ""), 200);
		/* lab's token is no key to cam. */
		ck_assert_int_eq(status_of("GET", reads[i], "Authorization: Bearer lab-tok\r\n"),
		    401);
	}
	ck_assert_int_eq(status_of("GET", "/snapshot/lab", CAM_TOKEN), 401);
	ck_assert_int_eq(status_of("GET", "/snapshot/open", ""), 200);
	ck_assert_int_eq(status_of("GET", "/snapshot/open", CAM_TOKEN), 200);
	ck_assert_int_eq(status_of("GET", "/snapshot/nosuch", ""), 404);
	/* The lists: what the token may see, and nothing else. */
	assert_json(body_of("/stats", ""), "list(d['streams']) == ['default', 'open']");
	assert_json(body_of("/stats", CAM_TOKEN), "list(d['streams']) == ['default', 'cam', "
	    "'open']");
	assert_json(body_of("/stats?token=lab-tok", ""), "list(d['streams']) == ['default', "
	    "'open', 'lab']");
	assert_json(body_of("/stats/history", ""), "list(d['streams']) == ['default', 'open']");
	assert_json(body_of("/stats/history?token=cam-tok", ""), "list(d['streams']) == "
	    "['default', 'cam', 'open']");
	ck_assert_ptr_null(strstr(body_of("/metrics", ""), "stream=\"cam\""));
	ck_assert_ptr_nonnull(strstr(body_of("/metrics", CAM_TOKEN),
	    "framerouter_frames_in_total{stream=\"cam\"} 1\n"));
	ck_assert_int_eq(status_of("GET", "/", ""), 200);

	/* With a global token, it opens everything; a stream's own token opens its
	 * stream and lists only it; no token (or a wrong one) opens nothing. */
	http_params.subscribe_token = "s3cret";
	apply_params();
	for (size_t i = 0; i < FR_ARRAY_LEN(reads); i++) {
		ck_assert_int_eq(status_of("GET", reads[i], ""), 401);
		ck_assert_int_eq(status_of("GET", reads[i], CAM_TOKEN), 200);
		ck_assert_int_eq(status_of("GET", reads[i], GLOBAL_TOKEN), 200);
	}
	ck_assert_int_eq(status_of("GET", "/snapshot/open", CAM_TOKEN), 401);
	ck_assert_int_eq(status_of("GET", "/snapshot/open", GLOBAL_TOKEN), 200);
	/* Which streams exist is the global token's to learn. */
	ck_assert_int_eq(status_of("GET", "/snapshot/nosuch", CAM_TOKEN), 401);
	ck_assert_int_eq(status_of("GET", "/snapshot/nosuch", GLOBAL_TOKEN), 404);
	static const char *const lists[] = { "/", "/stats", "/metrics", "/stats/history" };
	for (size_t i = 0; i < FR_ARRAY_LEN(lists); i++) {
		ck_assert_int_eq(status_of("GET", lists[i], ""), 401);
		ck_assert_int_eq(status_of("GET", lists[i], "Authorization: Bearer nope\r\n"), 401);
		ck_assert_int_eq(status_of("GET", lists[i], CAM_TOKEN), 200);
		ck_assert_int_eq(status_of("GET", lists[i], GLOBAL_TOKEN), 200);
	}
	assert_json(body_of("/stats", CAM_TOKEN), "list(d['streams']) == ['cam']");
	assert_json(body_of("/stats/history", CAM_TOKEN), "list(d['streams']) == ['cam']");
	assert_json(body_of("/stats", GLOBAL_TOKEN), "list(d['streams']) == ['default', 'cam', "
	    "'open', 'lab']");
	const char *metrics = body_of("/metrics", CAM_TOKEN);
	ck_assert_ptr_nonnull(strstr(metrics, "{stream=\"cam\"}"));
	ck_assert_ptr_null(strstr(metrics, "{stream=\"open\"}"));
	ck_assert_ptr_null(strstr(metrics, "{stream=\"default\"}"));

	/* A new token (SIGHUP) counts from the next request on. */
	cam->subscribe_token = "new-tok";
	ck_assert_int_eq(status_of("GET", "/snapshot/cam", CAM_TOKEN), 401);
	ck_assert_int_eq(status_of("GET", "/snapshot/cam?token=new-tok", ""), 200);
	cam->subscribe_token = "";	/* removed: only the global token now */
	ck_assert_int_eq(status_of("GET", "/snapshot/cam?token=new-tok", ""), 401);
	ck_assert_int_eq(status_of("GET", "/snapshot/cam", GLOBAL_TOKEN), 200);
}
END_TEST

/* A stream's own ingest token opens pushing to it; the global one opens every stream
 * and creates new ones; the subscribe tokens open no ingest. */
START_TEST(test_tokens_per_stream_ingest)
{
	struct fr_registry_entry *cam = add_stream("cam", "cam-tok", "cam-in");

	add_stream("open", NULL, NULL);
	ck_assert_int_eq(status_of("PUT", "/ingest/cam", ""), 401);
	ck_assert_int_eq(status_of("PUT", "/ingest/cam", CAM_TOKEN), 401);
	ck_assert_int_eq(status_of("PUT", "/ingest/cam", "Authorization: Bearer cam-in\r\n"), 204);
	ck_assert_int_eq(status_of("PUT", "/ingest/cam?token=cam-in", ""), 204);
	ck_assert_uint_eq(cam->stream->counters.producer_connects, 2);
	ck_assert_int_eq(status_of("PUT", "/ingest/open", ""), 204);
	ck_assert_int_eq(status_of("PUT", "/ingest/new1", ""), 204);

	http_params.ingest_token = "in-tok";
	apply_params();
	ck_assert_int_eq(status_of("PUT", "/ingest/cam", "Authorization: Bearer cam-in\r\n"), 204);
	ck_assert_int_eq(status_of("PUT", "/ingest/cam", "Authorization: Bearer in-tok\r\n"), 204);
	ck_assert_int_eq(status_of("PUT", "/ingest/open", "Authorization: Bearer cam-in\r\n"), 401);
	ck_assert_int_eq(status_of("PUT", "/ingest/open", "Authorization: Bearer in-tok\r\n"), 204);
	/* A stream's token creates no stream. */
	ck_assert_int_eq(status_of("PUT", "/ingest/new2", "Authorization: Bearer cam-in\r\n"), 401);
	ck_assert_ptr_null(fr_registry_find(reg, "new2"));
	ck_assert_uint_eq(cam->stream->counters.producer_connects, 4);
}
END_TEST

/* ---- snapshots: age, ?wait=, --stale-after ---- */

/* Last-Modified and X-Frame-Age tell when a frame arrived, to the second and the ms. */
START_TEST(test_snapshot_age)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct fr_frame *f = make_frame(jpeg->data, jpeg->len);
	struct client *c = client_new();
	char want[512];

	ev_now_update(loop);
	f->received_at = ev_now(loop) - 12.25;
	fr_stream_publish(def->stream, f);
	send_str(c, "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_snapshot(c, f, false);
	/* An arrival time spelled out, against an independent reading of RFC 9110. */
	f->received_at = 1700000000.75;
	send_str(c, "HEAD /snapshot HTTP/1.1\r\nHost: x\r\n\r\n");
	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n" SNAPSHOT_HEADERS
	    "Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n", f->len);
	expect_str(c, want);
	expect_age(c, f->received_at);
	expect_str(c, "\r\n");
	expect_silence(c);
}
END_TEST

/* The number after prefix in text, or -1. */
static double
number_after(const char *text, const char *prefix)
{
	const char *at = strstr(text, prefix);

	return at != NULL ? strtod(at + strlen(prefix), NULL) : -1;
}

/*
 * ?wait= holds the request until a frame newer than it is published, answers that
 * frame (not the latest one it had), and 503 with Retry-After when none comes in time.
 */
START_TEST(test_snapshot_wait)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	const struct fr_buf *other = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct client *c = client_new();
	struct response r;

	/* None yet: a waiting snapshot gets the first frame. */
	send_str(c, "GET /snapshot/default?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(!fr_list_is_empty(&def->stream->waiters));
	expect_silence(c);
	publish_fixture(def, jpeg);
	expect_snapshot(c, def->stream->latest, false);

	/* With a frame, the next one: published after the request, and pipelined requests
	 * behind it are answered after it, in order. */
	send_str(c, "GET /snapshot?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(!fr_list_is_empty(&def->stream->waiters));
	/* Held, and in the pending budget like any unanswered request. */
	ck_assert_uint_eq(fr_admit_pending_count(admit), 1);
	expect_silence(c);
	struct fr_frame *next = make_frame(other->data, 5000);
	ev_now_update(loop);
	next->received_at = ev_now(loop);
	fr_stream_publish(def->stream, next);
	expect_snapshot(c, next, false);
	next_response(c, false, &r);
	ck_assert_int_eq(r.status, 200);
	assert_json(r.body->data, "d['streams']['default']['frames_in'] == 2");

	/* None in time: 503, Retry-After, and the connection goes on with what came. */
	send_str(c, "GET /snapshot?wait=0.2 HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "503 Service Unavailable", "no new frame within 0.2 s",
	    "Retry-After: 1\r\n", "");
	next_response(c, false, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(fr_list_is_empty(&def->stream->waiters));
	/* wait=0 is no wait; HEAD waits too and gets the head. */
	send_str(c, "GET /snapshot?wait=0 HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_snapshot(c, next, false);
	send_str(c, "HEAD /snapshot?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(!fr_list_is_empty(&def->stream->waiters));
	publish_fixture(def, jpeg);
	expect_snapshot(c, def->stream->latest, true);
	static const char *const bad[] = { "31", "30.5", "-1", "x", "1e9", "", "nan" };
	for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
		char req[128];

		snprintf(req, sizeof req, "GET /snapshot?wait=%s HTTP/1.1\r\nHost: x\r\n\r\n",
		    bad[i]);
		send_str(c, req);
		expect_error(c, "400 Bad Request", "wait must be a number of seconds from 0 to 30",
		    NULL, "");
	}
	send_str(c, "GET /snapshot?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n");	/* 30 is fine */
	WAIT_UNTIL(!fr_list_is_empty(&def->stream->waiters));
	publish_fixture(def, jpeg);
	expect_snapshot(c, def->stream->latest, false);
	expect_silence(c);
}
END_TEST

/*
 * A waiting snapshot leaves no trace when its client goes (reset), is answered and
 * then closed when its client half-closes, is evicted from a full pending budget like
 * any unanswered request, and gets 503 when its stream is removed.
 */
START_TEST(test_snapshot_wait_ends)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *gone = client_new(), *half = client_new();

	send_str(gone, "GET /snapshot?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
	send_str(half, "GET /snapshot?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(def->stream->waiters.next->next != &def->stream->waiters);	/* two */
	ck_assert_int_eq(shutdown(half->fd, SHUT_WR), 0);
	client_reset(gone);
	WAIT_UNTIL(fr_admit_pending_count(admit) == 1);
	publish_fixture(def, jpeg);
	expect_snapshot_as(half, def->stream->latest, false, CLOSE);
	expect_eof(half);
	ck_assert(fr_list_is_empty(&def->stream->waiters));

	/* A budget of two: the third waiting request evicts the oldest. */
	admit_params.max_pending = 2;
	apply_params();
	struct client *w[3];
	for (int i = 0; i < 3; i++) {
		w[i] = client_new();
		send_str(w[i], "GET /snapshot?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
		WAIT_UNTIL(fr_admit_pending_count(admit) == (unsigned)(i < 2 ? i + 1 : 2) &&
		    available(w[0]) == 0);
		if (i < 2)
			WAIT_UNTIL(def->stream->waiters.prev != &def->stream->waiters &&
			    fr_admit_pending_count(admit) == (unsigned)i + 1);
	}
	expect_eof(w[0]);
	ck_assert_uint_eq(fr_registry_counters(reg)->pending_evicted, 1);
	publish_fixture(def, jpeg);
	expect_snapshot(w[1], def->stream->latest, false);
	expect_snapshot(w[2], def->stream->latest, false);

	/* A pushed stream that expires while a snapshot waits for it. */
	struct client *c = client_new();
	send_str(c, "PUT /ingest/pushed HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
	    "GET /snapshot/pushed?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	WAIT_UNTIL(find("pushed") != NULL && !fr_list_is_empty(&find("pushed")->stream->waiters));
	fr_registry_set_idle_timeout(reg, 0.05);
	expect_error(c, "503 Service Unavailable", "the stream was removed", "Retry-After: 1\r\n",
	    "");
	ck_assert_ptr_null(fr_registry_find(reg, "pushed"));
	fr_registry_set_idle_timeout(reg, 0);
}
END_TEST

/*
 * --stale-after: a snapshot of a stream whose newest frame is older is 503 with the
 * frame's age, /stats says so; a stream's own stale-after overrides the global one;
 * ?wait= on a stale stream answers the next (fresh) frame.
 */
START_TEST(test_snapshot_stale)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct fr_frame *f = make_frame(jpeg->data, jpeg->len);
	struct client *c = client_new();
	struct response r;
	char date[64];

	ev_now_update(loop);
	f->received_at = ev_now(loop) - 100;
	fr_stream_publish(def->stream, f);
	request(c, "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);	/* no --stale-after: never stale */
	assert_json(body_of("/stats", ""), "d['streams']['default']['stale'] is False and "
	    "d['streams']['default']['stale_after_s'] is None");

	fr_registry_set_stale_after(reg, 99.5);
	request(c, "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nRetry-After: 1\r\n"));
	char want[96];
	snprintf(want, sizeof want, "\r\nLast-Modified: %s\r\n", http_date(f->received_at, date));
	ck_assert_ptr_nonnull(strstr(r.head, want));
	double age = number_after(r.head, "\r\nX-Frame-Age: ");
	ck_assert_msg(age >= 100 && age <= ev_now(loop) - f->received_at + 0.0005, "%s", r.head);
	ck_assert_ptr_nonnull(strstr(r.body->data, "503 Service Unavailable: stream 'default' is "
	    "stale: its newest frame is 10"));
	ck_assert_ptr_nonnull(strstr(r.body->data, " s old (stale after 99.5 s)\n"));
	assert_json(body_of("/stats", ""), "d['streams']['default']['stale'] is True and "
	    "d['streams']['default']['stale_after_s'] == 99.5");

	/* The stream's own limit wins. */
	def->stale_after_s = 1000;
	request(c, "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	assert_json(body_of("/stats", ""), "d['streams']['default']['stale'] is False and "
	    "d['streams']['default']['stale_after_s'] == 1000");
	def->stale_after_s = 0.5;
	request(c, "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 503);

	/* Waiting on a stale stream: the next frame is fresh. */
	send_str(c, "GET /snapshot?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(!fr_list_is_empty(&def->stream->waiters));
	publish_fixture(def, jpeg);
	expect_snapshot(c, def->stream->latest, false);
	request(c, "GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	expect_silence(c);
}
END_TEST

#ifdef HAVE_TURBOJPEG
/* The width and height of a JPEG, from libjpeg-turbo's reading of its header. */
static void
jpeg_size(const void *p, size_t len, int *w, int *h)
{
	tjhandle tj = tjInitDecompress();
	int sub, cs;

	ck_assert_ptr_nonnull(tj);
	ck_assert_int_eq(tjDecompressHeader3(tj, p, (unsigned long)len, w, h, &sub, &cs), 0);
	tjDestroy(tj);
}

/* ?wait= with ?scale=: the next frame, scaled, with the source frame's age. */
START_TEST(test_snapshot_wait_scaled)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();
	struct response r;
	int w, h, sw, sh;

	send_str(c, "GET /snapshot?wait=10&scale=1/2 HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(!fr_list_is_empty(&def->stream->waiters));
	publish_fixture(def, jpeg);
	next_response(c, false, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: image/jpeg\r\n"));
	double age = number_after(r.head, "\r\nX-Frame-Age: ");
	ck_assert_msg(age >= 0 && age <= ev_now(loop) - def->stream->latest->received_at + 0.0005,
	    "%s", r.head);
	jpeg_size(jpeg->data, jpeg->len, &w, &h);
	jpeg_size(r.body->data, r.body->len, &sw, &sh);
	ck_assert_int_eq(sw, (w + 1) / 2);
	ck_assert_int_eq(sh, (h + 1) / 2);
	/* A snapshot ?scale=auto waits for nothing: 400 at once. */
	send_str(c, "GET /snapshot?wait=10&scale=auto HTTP/1.1\r\nHost: x\r\n\r\n");
	next_response(c, false, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert(fr_list_is_empty(&def->stream->waiters));
}
END_TEST
#endif

/* ---- history ---- */

/*
 * GET /stats/history[/NAME][?since=N]: the samples the registry took (here at times
 * the test chooses), as fr_history_format_json writes them, with since for the next
 * poll; one stream or all; errors for a bad since, an unknown stream, a wrong method.
 */
START_TEST(test_history)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct fr_registry_entry *cam = add_stream("cam", NULL, NULL);
	/* The registry started a moment ago: t0 + 1 is one sample after its start. */
	double t0 = ev_now(loop);
	struct client *c = client_new();
	struct response r;
	char want[4096];

	publish_fixture(def, jpeg);
	publish_fixture(def, jpeg);
	fr_registry_sample_history(reg, t0 + 1);
	publish_fixture(def, jpeg);
	fr_registry_sample_history(reg, t0 + 2);
	fr_registry_sample_history(reg, t0 + 3);
	request(c, "GET /stats/history/default HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: application/json\r\n"));
	snprintf(want, sizeof want, "{\"interval_s\": 1, \"seconds\": 600, \"next\": 3, "
	    "\"streams\": {\"default\": {\"first\": 0, \"next\": 3, \"at\": %.3f, \"input_fps\": "
	    "[2,1,0], "
	    "\"bytes_in\": [0,0,0], \"frames_out\": [0,0,0], \"dropped\": {\"slow_client\": "
	    "[0,0,0], \"fps_cap\": [0,0,0], \"invalid\": [0,0,0], \"oversize\": [0,0,0], "
	    "\"truncated\": [0,0,0], \"scale_invalid\": [0,0,0]}, \"clients\": [0,0,0], "
	    "\"oldest_frame_age_s\": [null,null,null]}}}\n", t0 + 3);
	ck_assert_str_eq(r.body->data, want);
	/* The next poll: only what is new since. */
	request(c, "GET /stats/history/default?since=2 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_json(r.body->data, "d['streams']['default']['first'] == 2 and "
	    "d['streams']['default']['input_fps'] == [0]");
	request(c, "GET /stats/history/default?since=3 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_json(r.body->data, "d['streams']['default']['first'] == 3 and "
	    "d['streams']['default']['input_fps'] == [] and d['streams']['default']['next'] == 3");
	/* Every stream: the same object per stream, as the registry writes it. */
	struct fr_buf *mine = new_buf();
	fr_registry_format_history(reg, NULL, 0, NULL, NULL, mine);
	request(c, "GET /stats/history HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_str_eq(r.body->data, mine->data);
	assert_json(r.body->data, "list(d['streams']) == ['default', 'cam'] and "
	    "d['streams']['cam']['input_fps'] == [0, 0, 0]");
	/* A stream added later numbers its samples with the others: one since fits all. */
	struct fr_registry_entry *late = add_stream("late", NULL, NULL);
	publish_fixture(late, jpeg);
	fr_registry_sample_history(reg, t0 + 4);
	request(c, "GET /stats/history?since=3 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_json(r.body->data, "d['next'] == 4 and [(s['first'], s['next'], s['input_fps']) "
	    "for s in d['streams'].values()] == [(3, 4, [0]), (3, 4, [0]), (3, 4, [1])]");
	ck_assert_uint_eq(cam->history->next, 4);
	/* Errors. */
	static const char *const bad[] = { "-1", "x", "1.5", "", "99999999999999999999999" };
	for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
		char req[128];

		snprintf(req, sizeof req, "GET /stats/history?since=%s HTTP/1.1\r\nHost: x\r\n\r\n",
		    bad[i]);
		send_str(c, req);
		expect_error(c, "400 Bad "
		    "Request", "since must be a sample number (0 or more)", NULL,
		    "");
	}
	send_str(c, "GET /stats/history/nosuch HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream 'nosuch'", NULL, "");
	send_str(c, "POST /stats/history HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_error(c, "405 Method Not Allowed", "use GET", "Allow: GET, HEAD\r\n", "");
	expect_silence(c);
}
END_TEST

/* The oldest frame age of a sample is the age subscribers' last frames had when they
 * were delivered (frame_age_ms), when no frame is still being written. */
START_TEST(test_history_age_delivered)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();
	double t0 = ev_now(loop);

	send_str(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_subscribed(c);
	WAIT_UNTIL(def->stream->counters.clients == 1);
	struct fr_frame *f = make_frame(jpeg->data, jpeg->len);
	ev_now_update(loop);
	f->received_at = ev_now(loop) - 1.25;	/* it arrives late: a slow camera link */
	fr_stream_publish(def->stream, f);
	WAIT_UNTIL(def->stream->counters.frames_out == 1);
	fr_registry_sample_history(reg, t0 + 1);
	const struct fr_history_sample *s = fr_history_sample(def->history,
	    def->history->next - 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(s->v[FR_HISTORY_OLDEST_AGE_MS] >= 1250 &&
	    s->v[FR_HISTORY_OLDEST_AGE_MS] < 1250 + 1000 * WAIT_S, "oldest age %u ms",
	    s->v[FR_HISTORY_OLDEST_AGE_MS]);
	/* Exactly the subscriber's own frame_age_ms. */
	struct client *q = client_new();
	struct response r;
	char check[128];
	request(q, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	snprintf(check, sizeof check, "[cl['frame_age_ms'] for cl in "
	    "d['streams']['default']['client_list']] == [%u]", s->v[FR_HISTORY_OLDEST_AGE_MS]);
	assert_json(r.body->data, check);
}
END_TEST

/*
 * The history's gauges as the registry reads them from a stream: subscribers, and
 * the oldest frame age among them, which counts the frame a subscriber is still
 * writing (one that cannot take its frame keeps writing it while it ages).
 */
START_TEST(test_history_gauges)
{
	double t0 = ev_now(loop);
	struct client *stuck = client_connect(NULL, 4096);
	/* Larger than any socket buffer (tcp_wmem's largest is 4 MiB): never all sent. */
	size_t len = 16 * 1024 * 1024;
	uint8_t *bytes = calloc(1, len);
	ck_assert_ptr_nonnull(bytes);
	struct fr_frame *f = make_frame(bytes, len);
	struct response r;

	free(bytes);
	send_str(stuck, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(def->stream->counters.clients == 1);
	ev_io_stop(loop, &stuck->read_io);	/* it reads no more */
	ev_now_update(loop);
	f->received_at = ev_now(loop);
	fr_stream_publish(def->stream, f);
	ck_assert_double_gt(fr_sub_sending_since(fr_sub_from_link(def->stream->subs.next)), 0);
	fr_registry_sample_history(reg, t0 + 1);
	fr_registry_sample_history(reg, f->received_at + 2.5);
	const struct fr_history_sample *s = fr_history_sample(def->history,
	    def->history->next - 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->v[FR_HISTORY_CLIENTS], 1);
	ck_assert_uint_eq(s->v[FR_HISTORY_OLDEST_AGE_MS], 2500);
	struct client *c = client_new();
	request(c, "GET /stats/history/default HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_json(r.body->data, "d['streams']['default']['clients'][-1] == 1 and "
	    "d['streams']['default']['oldest_frame_age_s'][-1] == 2.5");
	/* It has completed no frame, so its frame_age_ms says nothing yet: the age above is
	 * the frame it is still writing. */
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_json(r.body->data, "[(cl['frames_sent'], cl['frame_age_ms']) for cl in "
	    "d['streams']['default']['client_list']] == [(0, 0)]");
}
END_TEST

/* ---- ingest ---- */

static struct fr_registry_entry *
find(const char *name)
{
	struct fr_registry_entry *e = fr_registry_find(reg, name);

	ck_assert_msg(e != NULL, "no stream %s", name);
	return e;
}

/*
 * Starts PUT /ingest/cam with a body of body->len bytes, sends the first sent of
 * them, and returns once the stream has counted them (it is new, or had none).
 */
static void
put_begin(struct client *c, const struct fr_buf *body, size_t sent)
{
	char req[256];

	snprintf(req, sizeof req, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\n\r\n", body->len);
	send_str(c, req);
	send_bytes(c, body->data, sent);
	WAIT_UNTIL(fr_registry_find(reg, "cam") != NULL &&
	    find("cam")->stream->counters.bytes_in == sent);
}

/* The counters after the ten frames of ffmpeg-320x240-10.mjpeg came whole. */
static void
assert_ten_frames(struct fr_registry_entry *e, const struct fr_buf *mjpeg, uint64_t connects)
{
	const struct fr_stream_counters *n = &e->stream->counters;
	const size_t last_at = 81516;	/* fixtures/README.md */

	ck_assert(!e->is_declared);
	ck_assert_uint_eq(n->frames_in, 10);
	ck_assert_uint_eq(n->bytes_in, mjpeg->len);
	ck_assert_uint_eq(n->garbage_bytes, 0);
	ck_assert_uint_eq(n->dropped_truncated, 0);
	ck_assert_uint_eq(n->producer_connects, connects);
	ck_assert_uint_eq(n->producer_connected, 0);
	ck_assert_ptr_nonnull(e->stream->latest);
	ck_assert_uint_eq(e->stream->latest->len, mjpeg->len - last_at);
	ck_assert_mem_eq(e->stream->latest->data, mjpeg->data + last_at, mjpeg->len - last_at);
}

START_TEST(test_ingest_content_length)
{
	const struct fr_buf *mjpeg = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct client *c = client_new();
	char req[256];
	const size_t last_at = 81516;

	snprintf(req, sizeof req, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n", mjpeg->len);
	send_str(c, req);
	send_bytes(c, mjpeg->data, mjpeg->len);
	/* RFC 9110 8.6: a 204 has no Content-Length. */
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	assert_ten_frames(find("cam"), mjpeg, 1);

	/* Kept alive: the next request on the same connection reads what came. */
	send_str(c, "GET /snapshot/cam HTTP/1.1\r\nHost: x\r\n\r\n");
	const struct fr_frame *latest = find("cam")->stream->latest;
	ck_assert_uint_eq(latest->len, mjpeg->len - last_at);
	ck_assert_mem_eq(latest->data, mjpeg->data + last_at, latest->len);
	expect_snapshot(c, latest, false);
	expect_silence(c);
}
END_TEST

START_TEST(test_ingest_chunked)
{
	const struct fr_buf *mjpeg = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct client *c = client_new();
	struct response r;
	char line[32];

	send_str(c, "POST /ingest/cam2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* Handed on to the stream: out of the pending budget while it feeds it. */
	WAIT_UNTIL(fr_registry_find(reg, "cam2") != NULL &&
	    fr_registry_find(reg, "cam2")->stream->counters.producer_connected == 1);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
	/* Chunks of sizes that do not line up with the frames, each sent on its own. */
	size_t at = 0;
	for (size_t i = 0; at < mjpeg->len; i++) {
		size_t n = 1 + (i * 7919) % 6000;

		if (n > mjpeg->len - at)
			n = mjpeg->len - at;
		snprintf(line, sizeof line, "%zx\r\n", n);
		send_str(c, line);
		send_bytes(c, mjpeg->data + at, n);
		send_str(c, "\r\n");
		at += n;
		WAIT_UNTIL(find("cam2")->stream->counters.bytes_in == at);
	}
	ck_assert_uint_eq(find("cam2")->stream->counters.frames_in, 10);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
	send_str(c, "0\r\n\r\n");
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	assert_ten_frames(find("cam2"), mjpeg, 1);
	/* Waiting for its next request, the connection counts as pending again. */
	ck_assert_uint_eq(fr_admit_pending_count(admit), 1);
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(test_ingest_pipelined_after_body)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();
	struct fr_buf *all = new_buf();

	/* One write: a chunked body with a trailer, then the next request. */
	fr_buf_printf(all, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n%zx\r\n", jpeg->len);
	fr_buf_append(all, jpeg->data, jpeg->len);
	fr_buf_printf(all, "\r\n0\r\nX-Trailer: 1\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	send_bytes(c, all->data, all->len);
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	expect_error(c, "404 Not Found", "no such path", NULL, "");
	ck_assert_uint_eq(find("cam")->stream->counters.frames_in, 1);
	ck_assert_uint_eq(find("cam")->stream->counters.bytes_in, jpeg->len);
}
END_TEST

START_TEST(test_ingest_continue)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();
	char req[256];

	snprintf(req, sizeof req, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\n"
	    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n", jpeg->len);
	send_str(c, req);
	/* The interim answer comes before any of the body is sent. */
	expect_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
	ck_assert_uint_eq(find("cam")->stream->counters.producer_connected, 1);
	send_bytes(c, jpeg->data, jpeg->len);
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	ck_assert_uint_eq(find("cam")->stream->counters.frames_in, 1);
	ck_assert_mem_eq(find("cam")->stream->latest->data, jpeg->data, jpeg->len);
}
END_TEST

START_TEST(test_ingest_producer_leaves)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();

	put_begin(c, jpeg, 1000);
	/* Gone mid-frame: the partial frame is dropped as truncated, nothing published. */
	client_close(c);
	WAIT_UNTIL(find("cam")->stream->counters.producer_connected == 0);
	ck_assert_uint_eq(find("cam")->stream->counters.dropped_truncated, 1);
	ck_assert_uint_eq(find("cam")->stream->counters.frames_in, 0);
	ck_assert_ptr_null(find("cam")->stream->latest);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
}
END_TEST

START_TEST(test_ingest_producer_replaced)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	const struct fr_buf *other = read_fixture("baseline.jpg");
	struct client *first = client_new(), *second = client_new();
	char req[256];

	put_begin(first, jpeg, 1000);
	/* The newest producer wins; the one it replaces is closed without an answer. */
	snprintf(req, sizeof req, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\n\r\n", other->len);
	send_str(second, req);
	expect_eof(first);
	ck_assert_uint_eq(find("cam")->stream->counters.producer_connects, 2);
	ck_assert_uint_eq(find("cam")->stream->counters.dropped_truncated, 1);
	send_bytes(second, other->data, other->len);
	expect_str(second, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	ck_assert_uint_eq(find("cam")->stream->counters.frames_in, 1);
	ck_assert_uint_eq(find("cam")->stream->latest->len, other->len);
	ck_assert_mem_eq(find("cam")->stream->latest->data, other->data, other->len);
	ck_assert_uint_eq(find("cam")->stream->counters.bytes_in, 1000 + other->len);
}
END_TEST

/* Two frames in multipart parts, PUT with content_type; returns the body's length. */
static size_t
put_two_parts(struct client *c, const char *name, const char *content_type,
    const struct fr_buf *jpeg)
{
	struct fr_buf *body = new_buf();
	char req[256];

	for (int i = 0; i < 2; i++) {
		fr_buf_printf(body, "--b\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n"
		    "\r\n", jpeg->len);
		fr_buf_append(body, jpeg->data, jpeg->len);
		fr_buf_printf(body, "\r\n");
	}
	fr_buf_printf(body, "--b--\r\n");
	snprintf(req, sizeof req, "PUT /ingest/%s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n\r\n", name, content_type, body->len);
	send_str(c, req);
	send_bytes(c, body->data, body->len);
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	return body->len;
}

START_TEST(test_ingest_multipart)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();

	/* Part headers and boundaries are framing in a multipart body, garbage otherwise. */
	size_t len = put_two_parts(c, "parts", "multipart/x-mixed-replace;boundary=b", jpeg);
	ck_assert_uint_eq(find("parts")->stream->counters.frames_in, 2);
	ck_assert_uint_eq(find("parts")->stream->counters.bytes_in, len);
	ck_assert_uint_eq(find("parts")->stream->counters.garbage_bytes, 0);
	len = put_two_parts(c, "plain", "image/jpeg", jpeg);
	ck_assert_uint_eq(find("plain")->stream->counters.frames_in, 2);
	ck_assert_uint_eq(find("plain")->stream->counters.garbage_bytes, len - 2 * jpeg->len);
}
END_TEST

START_TEST(test_ingest_bad_requests)
{
	static const char *const names[] = { "..", "%2e%2e", ".", "...", "a%20b", "a!b",
		"%2E" };
	const char *why = "stream names are 1-64 of A-Z a-z 0-9 . _ - and not only dots";

	for (size_t i = 0; i < FR_ARRAY_LEN(names); i++) {
		struct client *c = client_new();
		char req[256];

		snprintf(req, sizeof req, "PUT /ingest/%s HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 5\r\n\r\nhello", names[i]);
		send_str(c, req);
		/* The body was not read: the connection cannot go on. */
		expect_error(c, "400 Bad Request", why, NULL, CLOSE);
		expect_eof(c);
		client_close(c);
	}
	struct client *c = client_new();
	/* A name of 65 bytes, one too many. */
	send_str(c, "PUT /ingest/0123456789012345678901234567890123456789012345678901234567890123"
	    "4 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_error(c, "400 Bad Request", why, NULL, "");
	/* Neither chunked nor with a length. */
	send_str(c, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "411 Length Required", "send the body chunked or with a Content-Length",
	    NULL, "");
	/* Only default exists: nothing was created. */
	ck_assert_ptr_null(fr_registry_find(reg, "cam"));
	ck_assert_ptr_null(fr_registry_find(reg, ".."));
	/* A broken chunked body: 400, and the producer is gone. */
	send_str(c, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\n");
	struct response r;
	next_response(c, false, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\n" CLOSE));
	ck_assert_ptr_nonnull(strstr(r.body->data, "400 Bad Request: bad chunked encoding: "));
	expect_eof(c);
	ck_assert_uint_eq(find("cam")->stream->counters.producer_connected, 0);
}
END_TEST

START_TEST(test_ingest_max_streams)
{
	struct fr_registry_entry *e;
	char err[FR_ERR_LEN];
	struct client *c = client_new();

	ck_assert_int_eq(fr_registry_add(reg, "a", false, &e, err), FR_REGISTRY_OK);
	ck_assert_int_eq(fr_registry_add(reg, "b", false, &e, err), FR_REGISTRY_OK);
	send_str(c, "PUT /ingest/c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	send_str(c, "PUT /ingest/d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_error(c, "503 Service Unavailable", "--max-streams 4 reached", NULL, "");
	ck_assert_ptr_null(fr_registry_find(reg, "d"));
	/* A stream that exists takes pushes still. */
	send_str(c, "PUT /ingest/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_str(c, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	ck_assert_uint_eq(find("a")->stream->counters.producer_connects, 1);
}
END_TEST

/* ---- %-decoding of stream names ---- */

START_TEST(test_decoding_names)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *c = client_new();

	publish_fixture(def, jpeg);
	static const char *const same[] = { "defaul%74", "%64%65%66%61%75%6c%74", "%64efault",
		"defaul%74?x=1" };
	for (size_t i = 0; i < FR_ARRAY_LEN(same); i++) {
		char req[256];

		snprintf(req, sizeof req, "GET /snapshot/%s HTTP/1.1\r\nHost: x\r\n\r\n", same[i]);
		send_str(c, req);
		expect_snapshot(c, def->stream->latest, false);
	}
	/* %00 decodes to no name; an escaped '/' is a byte of the name, not a separator. */
	send_str(c, "GET /snapshot/%00 HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream ''", NULL, "");
	send_str(c, "GET /snapshot/defaul%74%00 HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream ''", NULL, "");
	send_str(c, "GET /snapshot/a%2fb HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream 'a/b'", NULL, "");
	send_str(c, "GET /snapshot/default/x HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no such path", NULL, "");
	send_str(c, "GET /stream/defaul%74x HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(c, "404 Not Found", "no stream 'defaultx'", NULL, "");
	expect_silence(c);
}
END_TEST

START_TEST(test_decoding_bad_escape)
{
	/* A '%' not followed by two hex digits is not a request target (RFC 3986 2.1). */
	static const char *const bad[] = { "%zz", "%4", "defaul%7" };

	for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
		struct client *c = client_new();
		char req[256];

		snprintf(req, sizeof req, "GET /snapshot/%s HTTP/1.1\r\nHost: x\r\n\r\n", bad[i]);
		send_str(c, req);
		struct response r;
		next_response(c, false, &r);
		ck_assert_int_eq(r.status, 400);
		ck_assert_ptr_nonnull(strstr(r.head, "\r\n" CLOSE));
		expect_eof(c);
		client_close(c);
	}
}
END_TEST

START_TEST(test_routing_head_limits)
{
	struct client *c = client_new();
	struct fr_buf *big = new_buf();

	/* A head arriving a byte at a time is read as it comes. */
	const char *req = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
	for (const char *p = req; *p != '\0'; p++) {
		send_bytes(c, p, 1);
		ev_run(loop, EVRUN_NOWAIT);
	}
	expect_error(c, "404 Not Found", "no such path", NULL, "");
	/* A head beyond 8 KiB in 40 fields (of 64 allowed): 431, and the connection closes. */
	fr_buf_printf(big, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 40; i++)
		fr_buf_printf(big, "X-Filler-%02d: %0240d\r\n", i, 0);
	fr_buf_printf(big, "\r\n");
	send_bytes(c, big->data, big->len);
	struct response r;
	next_response(c, false, &r);
	ck_assert_int_eq(r.status, 431);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\n" CLOSE));
	expect_eof(c);
}
END_TEST

/* ---- keep-alive ---- */

START_TEST(test_keepalive_http11)
{
	struct client *c = client_new();

	for (int i = 0; i < 5; i++) {
		send_str(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
		expect_error(c, "404 Not Found", "no such path", NULL, "");
	}
	send_str(c, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	expect_error(c, "404 Not Found", "no such path", NULL, CLOSE);
	expect_eof(c);
	WAIT_UNTIL(fr_admit_pending_count(admit) == 0);
}
END_TEST

START_TEST(test_keepalive_http10)
{
	struct client *c = client_new();

	send_str(c, "GET /nope HTTP/1.0\r\n\r\n");
	expect_error(c, "404 Not Found", "no such path", NULL, CLOSE);
	expect_eof(c);

	/* RFC 9112 9.3: both sides say keep-alive, and the connection persists. */
	c = client_new();
	for (int i = 0; i < 3; i++) {
		send_str(c, "GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
		expect_error(c, "404 Not Found", "no such path", NULL, KEEP_ALIVE);
	}
	send_str(c, "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	char want[256];
	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-cache\r\n" KEEP_ALIVE "\r\n", strlen(fr_page_html));
	expect_str(c, want);
	/* Without keep-alive, this request is the last. */
	send_str(c, "GET /nope HTTP/1.0\r\n\r\n");
	expect_error(c, "404 Not Found", "no such path", NULL, CLOSE);
	expect_eof(c);
}
END_TEST

/* ---- pipelining ---- */

enum { PIPELINED = 5000 };

/* Request i of a pipelined batch: a 404 naming i, or every third a HEAD or GET of the
 * page, so each response says which request it answers. */
static void
pipelined_request(struct fr_buf *b, int i, bool is_get_page)
{
	if (i % 3 == 2)
		fr_buf_printf(b, "%s / HTTP/1.1\r\nHost: x\r\n\r\n", is_get_page ? "GET" : "HEAD");
	else
		fr_buf_printf(b, "GET /snapshot/n%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
}

static void
expect_pipelined_response(struct client *c, int i, bool is_get_page)
{
	char why[64], want[256];

	if (i % 3 == 2) {
		snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
		    "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
		    "Cache-Control: no-cache\r\n\r\n", strlen(fr_page_html));
		expect_str(c, want);
		if (is_get_page)
			expect_str(c, fr_page_html);
		return;
	}
	snprintf(why, sizeof why, "no stream 'n%d'", i);
	expect_error(c, "404 Not Found", why, NULL, "");
}

/*
 * Sends PIPELINED requests in one go and checks every answer in order. The stack
 * frames sendmsg() was called from must stay within a few kilobytes: answering
 * each request one call deeper than the last would take megabytes (and crash ASan).
 */
static void
run_pipelined(struct client *c, bool is_get_page)
{
	struct fr_buf *all = new_buf();

	for (int i = 0; i < PIPELINED; i++)
		pipelined_request(all, i, is_get_page);
	ck_assert(!all->has_failed);
	send_bytes(c, all->data, all->len);
	for (int i = 0; i < PIPELINED; i++)
		expect_pipelined_response(c, i, is_get_page);
	expect_silence(c);
	ck_assert_uint_ge(sendmsg_calls, PIPELINED);
	ck_assert_msg(stack_hi - stack_lo < 64 * 1024,
	    "sendmsg called from stack depths %zu bytes apart", (size_t)(stack_hi - stack_lo));
	ck_assert_uint_eq(fr_admit_pending_count(admit), 1);
}

START_TEST(test_pipelining_fast_reader)
{
	run_pipelined(client_new(), false);
}
END_TEST

START_TEST(test_pipelining_slow_reader)
{
	/* A small receive buffer read a little at a time: responses wait for room. */
	struct client *c = client_connect(NULL, 4096);

	c->max_per_read = 2048;
	run_pipelined(c, true);
	ck_assert_uint_gt(sendmsg_eagain, 0);
}
END_TEST

/* ---- the pending budget ---- */

/* A connection that sends nothing, once the server has taken it into the budget. */

/* Pending connections evicted so far, as /stats counts them. */
static uint64_t
evicted(void)
{
	return fr_registry_counters(reg)->pending_evicted;
}

static struct client *
connect_idle(const char *from)
{
	uint64_t before = fr_admit_pending_count(admit) + evicted();
	struct client *c = client_connect(from, 0);

	WAIT_UNTIL(fr_admit_pending_count(admit) + evicted() == before + 1);
	return c;
}

START_TEST(test_pending_oldest_evicted)
{
	struct client *idle[5];
	struct response r;

	admit_params.max_pending = 3;
	apply_params();
	for (int i = 0; i < 5; i++)
		idle[i] = connect_idle(NULL);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 3);
	ck_assert_uint_eq(evicted(), 2);
	expect_eof(idle[0]);
	expect_eof(idle[1]);
	for (int i = 2; i < 5; i++)
		expect_silence(idle[i]);

	/* A client that asks at once is served, at the cost of the oldest idle one. */
	struct client *c = client_new();
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(evicted(), 3);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 3);
	expect_eof(idle[2]);
	expect_silence(idle[3]);
	expect_silence(idle[4]);

	/* Closed ones leave the budget without evicting anyone. */
	client_close(idle[3]);
	client_close(idle[4]);
	WAIT_UNTIL(fr_admit_pending_count(admit) == 1);
	connect_idle(NULL);
	ck_assert_uint_eq(evicted(), 3);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 2);
}
END_TEST

START_TEST(test_pending_per_peer)
{
	admit_params.max_pending_per_peer = 2;
	apply_params();
	struct client *a1 = connect_idle("127.0.0.1");
	struct client *b1 = connect_idle("127.0.0.2");
	struct client *a2 = connect_idle("127.0.0.1");
	ck_assert_uint_eq(evicted(), 0);

	/* 127.0.0.1's third: its own oldest goes, not the older one of 127.0.0.2. */
	struct client *a3 = connect_idle("127.0.0.1");
	ck_assert_uint_eq(evicted(), 1);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 3);
	expect_eof(a1);
	expect_silence(b1);
	expect_silence(a2);
	expect_silence(a3);

	struct client *b2 = connect_idle("127.0.0.2");
	ck_assert_uint_eq(evicted(), 1);
	struct client *b3 = connect_idle("127.0.0.2");
	ck_assert_uint_eq(evicted(), 2);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 4);
	expect_eof(b1);
	expect_silence(b2);
	expect_silence(b3);
	expect_silence(a2);
	expect_silence(a3);
}
END_TEST

START_TEST(test_pending_zero)
{
	/* Budgets of 0 act as 1: the newest connection is never the one refused. */
	admit_params.max_pending_per_peer = 0;
	apply_params();
	struct client *a1 = connect_idle("127.0.0.1");
	ck_assert_uint_eq(evicted(), 0);
	struct client *a2 = connect_idle("127.0.0.1");
	ck_assert_uint_eq(evicted(), 1);
	expect_eof(a1);
	expect_silence(a2);
	struct client *b1 = connect_idle("127.0.0.2");
	ck_assert_uint_eq(evicted(), 1);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 2);

	admit_params.max_pending_per_peer = 64;
	admit_params.max_pending = 0;
	apply_params();
	struct client *c = client_new();
	struct response r;
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(evicted(), 3);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 1);
	expect_eof(a2);
	expect_eof(b1);
}
END_TEST

START_TEST(test_pending_handed_on)
{
	const struct fr_buf *jpeg = read_fixture("ffmpeg-frame.jpg");
	struct client *sub = client_new(), *producer = client_new();

	admit_params.max_pending = 2;
	apply_params();
	/* A subscriber and a producer in the middle of its body: neither is pending. */
	send_str(sub, "GET /stream/default HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_subscribed(sub);
	put_begin(producer, jpeg, 100);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);

	/* Three idle connections: only the first of them is evicted. */
	struct client *i1 = connect_idle(NULL), *i2 = connect_idle(NULL);
	ck_assert_uint_eq(evicted(), 0);
	struct client *i3 = connect_idle(NULL);
	ck_assert_uint_eq(evicted(), 1);
	expect_eof(i1);
	expect_silence(i2);
	expect_silence(i3);
	ck_assert(!sub->saw_eof);
	ck_assert(!producer->saw_eof);

	/* The producer is still fed; once answered, it waits for a request: pending again,
	 * and its return evicts the oldest idle one. */
	send_bytes(producer, jpeg->data + 100, jpeg->len - 100);
	expect_str(producer, "HTTP/1.1 204 No Content\r\n" SERVER "\r\n");
	ck_assert_uint_eq(find("cam")->stream->counters.frames_in, 1);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 2);
	ck_assert_uint_eq(evicted(), 2);
	expect_eof(i2);
	expect_silence(i3);
	ck_assert_uint_eq(def->stream->counters.clients, 1);
	expect_silence(sub);
}
END_TEST

/* ---- --max-clients ---- */

START_TEST(test_max_clients)
{
	struct client *first = client_new(), *second = client_new(), *c = client_new();
	struct response r;

	admit_params.max_clients = 1;
	apply_params();
	send_str(first, "GET /stream/default HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_subscribed(first);
	WAIT_UNTIL(def->stream->counters.clients == 1);

	send_str(second, "GET /stream/default HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_error(second, "503 Service Unavailable", "--max-clients reached",
	    "Retry-After: 1\r\n", "");
	ck_assert_uint_eq(def->stream->counters.clients_refused, 1);
	ck_assert_uint_eq(def->stream->counters.clients, 1);
	/* The refused connection is still an HTTP connection, and others are answered. */
	request(second, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);

	/* When the subscriber leaves, there is room again. */
	client_reset(first);
	WAIT_UNTIL(def->stream->counters.clients == 0);
	send_str(second, "GET /stream/default HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_subscribed(second);
	WAIT_UNTIL(def->stream->counters.clients == 1);
	ck_assert_uint_eq(def->stream->counters.clients_refused, 1);
}
END_TEST

/* ---- timeouts ---- */

START_TEST(test_timeout_head)
{
	struct response r;

	http_params.head_timeout_s = 0.2;
	apply_params();
	/* Half a head: closed without an answer once the time is up. */
	struct client *slow = client_new();
	send_str(slow, "GET /stats HTTP/1.1\r\nHost: x\r\n");
	struct client *idle = client_new();
	expect_eof(slow);
	expect_eof(idle);
	WAIT_UNTIL(fr_admit_pending_count(admit) == 0);
	ck_assert_uint_eq(evicted(), 0);

	/* A keep-alive connection gets the same time for each next request. */
	struct client *c = client_new();
	request(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	expect_eof(c);
}
END_TEST

START_TEST(test_timeout_stalled_from_start)
{
	char want[256];

	http_params.head_timeout_s = 0.3;
	apply_params();
	/* A response that finds the socket full before its first byte is under
	 * --client-timeout from then on, not under what is left of the head timeout. */
	struct client *c = client_new();
	WAIT_UNTIL(fr_admit_pending_count(admit) == 1);
	sendmsg_is_full = true;
	send_str(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_UNTIL(sendmsg_eagain > 0);
	struct client *clock = client_new();
	expect_eof(clock);
	expect_silence(c);
	sendmsg_is_full = false;
	snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" SERVER
	    "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-cache\r\n\r\n", strlen(fr_page_html));
	expect_str(c, want);
	expect_str(c, fr_page_html);
}
END_TEST

START_TEST(test_timeout_stalled_after_body)
{
	/* The answer to an ingest body is under --client-timeout too: a client that
	 * never reads it is closed, not kept forever outside every budget. */
	http_params.client_timeout_s = 0.3;
	apply_params();
	struct client *c = client_new();
	sendmsg_is_full = true;
	send_str(c, "PUT /ingest/cam HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	WAIT_UNTIL(sendmsg_eagain > 0);
	ck_assert_uint_eq(fr_admit_pending_count(admit), 0);
	expect_eof(c);
	ck_assert_uint_eq(find("cam")->stream->counters.producer_connects, 1);
}
END_TEST

/* ---- the suite ---- */

/* A test case of the tests listed, each on a loop of its own (setup and teardown). */
static TCase *
loop_tcase(Suite *s, const char *name, const TTest *const *tests)
{
	TCase *tc = fr_tcase(s, name, tests);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	return tc;
}

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");

	loop_tcase(s, "routing", FR_TESTS(test_routing_page, test_routing_stats,
	    test_routing_snapshot, test_routing_methods, test_routing_stream,
	    test_routing_stream_head, test_routing_bad_fps, test_routing_stats_no_memory,
	    test_routing_head_limits));

	loop_tcase(s, "tokens", FR_TESTS(test_tokens_subscribe, test_tokens_ingest,
	    test_tokens_per_stream, test_tokens_per_stream_ingest));

	TCase *tc = loop_tcase(s, "snapshots", FR_TESTS(test_snapshot_age, test_snapshot_wait,
	    test_snapshot_wait_ends, test_snapshot_stale));
#ifdef HAVE_TURBOJPEG
	tcase_add_test(tc, test_snapshot_wait_scaled);
#else
	(void)tc;
#endif

	loop_tcase(s, "history", FR_TESTS(test_history, test_history_gauges,
	    test_history_age_delivered));

	loop_tcase(s, "ingest", FR_TESTS(test_ingest_content_length, test_ingest_chunked,
	    test_ingest_pipelined_after_body, test_ingest_continue, test_ingest_multipart,
	    test_ingest_producer_leaves, test_ingest_producer_replaced, test_ingest_bad_requests,
	    test_ingest_max_streams));

	loop_tcase(s, "decoding", FR_TESTS(test_decoding_names, test_decoding_bad_escape));

	loop_tcase(s, "keepalive", FR_TESTS(test_keepalive_http11, test_keepalive_http10));

	loop_tcase(s, "pipelining", FR_TESTS(test_pipelining_fast_reader,
	    test_pipelining_slow_reader));

	loop_tcase(s, "pending", FR_TESTS(test_pending_oldest_evicted, test_pending_per_peer,
	    test_pending_zero, test_pending_handed_on));

	loop_tcase(s, "max_clients", FR_TESTS(test_max_clients));

	loop_tcase(s, "timeouts", FR_TESTS(test_timeout_head, test_timeout_stalled_from_start,
	    test_timeout_stalled_after_body));
	return s;
}

int
main(void)
{
	/* As main.c does: subscribers sendfile(), which takes no MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	return fr_run_suite(http_suite());
}
