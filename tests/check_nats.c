/* SPDX-License-Identifier: MIT */
/*
 * Loop tests for federation over NATS (nats.c) against a real nats-server that main()
 * starts on a free loopback port: one node (a registry, its streams and fr_nats) in a
 * real libev loop, and the test speaking the NATS text protocol itself over a socket
 * (PUB, HPUB, SUB, HMSG), so that what goes over the wire is checked byte for byte:
 * published frames and their headers, on-demand subscription, no re-publishing of
 * frames from NATS, invalid and stale messages, a pulled stream (NATS stands aside
 * for its puller), and the max_payload check. Exits 77
 * (skipped) where nats-server is missing or the build has no libnats.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "fr/defer.h"
#include "fr/ingest.h"
#include "fr/nats.h"
#include "fr/pull.h"
#include "fr/registry.h"
#include "fr/resolve.h"
#include "fr/stream.h"
#include "fr/sub.h"
#include "fr/util.h"

#include "helpers.h"
#include "loop_wait.h"
#include "sockets.h"
#include "suite.h"

#define WAIT_S 10.0

static int server_port;		/* the nats-server main() started */
static int free_port(void);
static pid_t server_pid;

/* ---- the loop and the node ---- */

static struct ev_loop *loop;
static struct fr_registry *reg;
static struct fr_nats *nats;
static char err[FR_ERR_LEN];

#define WAIT_UNTIL(cond) LOOP_WAIT_UNTIL(loop, WAIT_S, cond)

/*
 * Repeats what (publishing a message) until cond holds: the node's subscription
 * reaches the server a moment after the node counts it. At most 500 rounds.
 */
#define REPEAT_UNTIL(cond, what)                                                \
	do {                                                                    \
		for (int round_ = 0; !(cond); round_++) {                       \
			ck_assert_msg(round_ < 500, "never: %s", #cond);        \
			what;                                                   \
			client_flush();                                         \
			spin(0.02);                                             \
		}                                                               \
	} while (0)

/* Runs the loop for a moment: lets the threads' handoffs through. */
static void
spin(double seconds)
{
	loop_run_for(loop, seconds);
}

static struct fr_nats_params
node_params(size_t max_frame_bytes)
{
	static char urls[64];

	snprintf(urls, sizeof urls, "nats://127.0.0.1:%d", server_port);
	return (struct fr_nats_params){
		.urls = urls,
		.prefix = "test.frames",
		.node_id = "unit-a",
		.max_frame_bytes = max_frame_bytes,
	};
}

/* The node: a registry with stream cam1 declared, federated over the server. */
static void
setup(void)
{
	struct fr_ingest_params ip = { .max_frame_bytes = 4 << 20, .idle_timeout_s = 0 };
	struct fr_registry_entry *e;

	signal(SIGPIPE, SIG_IGN);
	loop = ev_loop_new(EVFLAG_AUTO);
	fr_defer_init(loop);
	reg = fr_registry_new(loop, &ip, 16);
	ck_assert_int_eq(fr_registry_add(reg, "cam1", true, &e, err), FR_REGISTRY_OK);
	struct fr_nats_params np = node_params(4 << 20);
	nats = fr_nats_new(loop, &np, err);
	ck_assert_msg(nats != NULL, "%s", err);
	fr_nats_serve(nats, reg);
	ck_assert_msg(fr_nats_start(nats, err) == 0, "%s", err);
	ck_assert(fr_nats_is_connected(nats));
}

static void
teardown(void)
{
	fr_registry_free(reg);
	fr_nats_free(nats);
	fr_defer_fini();
	ev_loop_destroy(loop);
}

/* /stats of the node, for its counters. */
static bool
stats_has(const char *what)
{
	struct fr_buf b;

	fr_buf_init(&b);
	fr_registry_format_stats(reg, FR_REGISTRY_JSON, &b);
	bool has = b.data != NULL && strstr(b.data, what) != NULL;
	fr_buf_fini(&b);
	return has;
}

/* ---- the test's own NATS client: the text protocol over a socket ---- */

struct client {
	ev_io io;
	int fd;
	struct bytes in;	/* what the server sent, not yet parsed */
	unsigned pongs;
	unsigned n_msgs;
	struct bytes last_headers, last_payload;
};

static struct client cl;

static void
client_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	uint8_t buf[65536];
	ssize_t n;

	(void)l, (void)w, (void)revents;
	while ((n = recv(cl.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		bytes_add(&cl.in, buf, (size_t)n);
	for (;;) {
		char *text = (char *)cl.in.p, *eol;
		size_t used;

		if (cl.in.len == 0 || (eol = strstr(text, "\r\n")) == NULL)
			return;
		size_t line_len = (size_t)(eol - text) + 2;
		unsigned sid, hdr = 0, total = 0;
		char subject[256];
		if (strncmp(text, "HMSG ", 5) == 0 &&
		    sscanf(text, "HMSG %255s %u %u %u", subject, &sid, &hdr, &total) == 4) {
			if (cl.in.len < line_len + total + 2)
				return;	/* the rest is on its way */
		} else if (strncmp(text, "MSG ", 4) == 0 &&
		    sscanf(text, "MSG %255s %u %u", subject, &sid, &total) == 3) {
			if (cl.in.len < line_len + total + 2)
				return;
		}
		if (total > 0 || strncmp(text, "MSG ", 4) == 0 || strncmp(text, "HMSG ", 5) == 0) {
			bytes_free(&cl.last_headers);
			bytes_free(&cl.last_payload);
			bytes_add(&cl.last_headers, cl.in.p + line_len, hdr);
			bytes_add(&cl.last_payload, cl.in.p + line_len + hdr, total - hdr);
			cl.n_msgs++;
			used = line_len + total + 2;
		} else {
			if (strncmp(text, "PONG", 4) == 0)
				cl.pongs++;
			else if (strncmp(text, "PING", 4) == 0)
				REQUIRE(send(cl.fd, "PONG\r\n", 6, MSG_NOSIGNAL) == 6, "send");
			else
				REQUIRE(strncmp(text, "INFO", 4) == 0 ||
				    strncmp(text, "+OK", 3) == 0,
				    "the server said %.*s", (int)line_len, text);
			used = line_len;
		}
		memmove(cl.in.p, cl.in.p + used, cl.in.len - used + 1);
		cl.in.len -= used;
	}
}

static void
client_send(const void *p, size_t n)
{
	ck_assert_int_eq(send(cl.fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Round trip: everything sent before has been processed by the server. */
static void
client_flush(void)
{
	unsigned want = cl.pongs + 1;

	client_send("PING\r\n", 6);
	WAIT_UNTIL(cl.pongs >= want);
}

static void
client_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port) };
	static const char hello[] = "CONNECT {\"verbose\":false,\"headers\":true}\r\n";

	memset(&cl, 0, sizeof cl);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(cl.fd, 0);
	ck_assert_int_eq(connect(cl.fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ev_io_init(&cl.io, client_read_cb, cl.fd, EV_READ);
	ev_io_start(loop, &cl.io);
	client_send(hello, sizeof hello - 1);
	client_flush();
}

static void
client_close(void)
{
	ev_io_stop(loop, &cl.io);
	close(cl.fd);
	bytes_free(&cl.in);
	bytes_free(&cl.last_headers);
	bytes_free(&cl.last_payload);
}

static void
client_sub(const char *subject)
{
	char line[300];

	snprintf(line, sizeof line, "SUB %s 1\r\n", subject);
	client_send(line, strlen(line));
	client_flush();
}

/* PUB, or HPUB when headers is not NULL ("Name: value\r\n" lines). */
static void
client_pub(const char *subject, const char *headers, const void *data, size_t len)
{
	struct bytes b = { 0 };
	char line[512];

	if (headers != NULL) {
		size_t hlen = strlen("NATS/1.0\r\n") + strlen(headers) + 2;
		snprintf(line, sizeof line, "HPUB %s %zu %zu\r\nNATS/1.0\r\n%s\r\n", subject, hlen,
		    hlen + len, headers);
	} else {
		snprintf(line, sizeof line, "PUB %s %zu\r\n", subject, len);
	}
	bytes_str(&b, line);
	bytes_add(&b, data, len);
	bytes_str(&b, "\r\n");
	client_send(b.p, b.len);
	bytes_free(&b);
}

/* ---- a subscriber of a local stream, over a socketpair ---- */

struct peer {
	ev_io io;
	int fd;
	struct fr_sub *sub;
	struct bytes got;
};

static void
peer_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct peer *p = FR_CONTAINER_OF(w, struct peer, io);
	uint8_t buf[65536];
	ssize_t n;

	(void)l, (void)revents;
	while ((n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		bytes_add(&p->got, buf, (size_t)n);
}

static void
peer_add(struct peer *p, struct fr_stream *s)
{
	int sv[2];
	struct fr_addr addr;

	memset(p, 0, sizeof *p);
	socket_pair(sv, false);
	ck_assert_int_eq(fr_addr_parse(&addr, "unix:/test/peer", err), 0);
	struct fr_sub_params params = fr_stream_sub_params(s, 10);
	params.protocol = FR_SUB_RAW;
	p->sub = fr_sub_new(loop, sv[0], &addr, &params);
	ck_assert_ptr_nonnull(p->sub);
	p->fd = sv[1];
	ev_io_init(&p->io, peer_read_cb, p->fd, EV_READ);
	ev_io_start(loop, &p->io);
	fr_stream_add_sub(s, p->sub);
}

static void
peer_close(struct peer *p)
{
	ev_io_stop(loop, &p->io);
	close(p->fd);
	bytes_free(&p->got);
}

static void
no_replace(void *arg)
{
	(void)arg;
}

/* ---- tests ---- */

/* A frame the node ingests goes out once, byte for byte, with its headers. */
START_TEST(test_publish)
{
	struct bytes jpeg = { 0 };
	struct fr_registry_entry *e = fr_registry_find(reg, "cam1");
	struct fr_addr peer;

	add_fixture(&jpeg, "ffmpeg-frame.jpg");
	client_connect();
	client_sub("test.frames.cam1");
	ck_assert_int_eq(fr_addr_parse(&peer, "unix:/test/producer", err), 0);
	fr_ingest_attach_feed(e->ingest, &peer, 0, no_replace, NULL);
	for (int i = 0; i < 2; i++) {
		unsigned want = cl.n_msgs + 1;
		fr_ingest_feed(e->ingest, jpeg.p, jpeg.len);
		WAIT_UNTIL(cl.n_msgs == want);
		ck_assert_uint_eq(cl.last_payload.len, jpeg.len);
		ck_assert_mem_eq(cl.last_payload.p, jpeg.p, jpeg.len);
		char seq[64];
		snprintf(seq, sizeof seq, "\r\nFramerouter-Seq: %d\r\n", i);
		ck_assert_ptr_nonnull(strstr((char *)cl.last_headers.p, seq));
		ck_assert_ptr_nonnull(strstr((char *)cl.last_headers.p,
		    "\r\nFramerouter-Origin: unit-a\r\n"));
		ck_assert_ptr_nonnull(strstr((char *)cl.last_headers.p,
		    "\r\nFramerouter-Instance: "));
		ck_assert_ptr_nonnull(strstr((char *)cl.last_headers.p, "\r\nFramerouter-Time: "));
	}
	fr_ingest_end_feed(e->ingest, "done");
	client_flush();
	ck_assert_uint_eq(cl.n_msgs, 2);
	WAIT_UNTIL(stats_has("\"frames_published\": 2, \"bytes_published\": "));
	/* This node ingests cam1: it never subscribed to it. */
	ck_assert(stats_has("\"subscriptions\": 0,"));
	client_close();
	bytes_free(&jpeg);
}
END_TEST

/*
 * A stream with a subscriber and no producer is fed from its subject: a message becomes
 * a frame, sent byte for byte, and is not published back.
 */
START_TEST(test_serve)
{
	struct bytes jpeg = { 0 };
	struct fr_registry_entry *e = fr_registry_find(reg, "cam1");
	struct peer p;

	add_fixture(&jpeg, "ffmpeg-frame.jpg");
	client_connect();
	client_sub("test.frames.cam1");
	ck_assert(stats_has("\"subscriptions\": 0,"));
	peer_add(&p, e->stream);
	ck_assert_str_eq(fr_ingest_producer(e->ingest), "nats:test.frames.cam1");
	WAIT_UNTIL(stats_has("\"subscriptions\": 1,"));
	REPEAT_UNTIL(p.got.len > 0, client_pub("test.frames.cam1", NULL, jpeg.p, jpeg.len));
	WAIT_UNTIL(p.got.len >= jpeg.len);
	ck_assert_mem_eq(p.got.p, jpeg.p, jpeg.len);
	ck_assert_uint_eq(p.got.len % jpeg.len, 0);
	/* Only the test's own messages went over the subject: none came back. */
	unsigned sent = cl.n_msgs;
	client_flush();
	spin(0.1);
	ck_assert_uint_eq(cl.n_msgs, sent);
	ck_assert(stats_has("\"frames_published\": 0,"));
	ck_assert(stats_has("\"frames_received\": "));
	/* The last subscriber leaves: so does the subscription, and the producer. */
	fr_sub_close(p.sub, "test");
	WAIT_UNTIL(stats_has("\"subscriptions\": 0,"));
	ck_assert_ptr_null(fr_ingest_producer(e->ingest));
	peer_close(&p);
	client_close();
	bytes_free(&jpeg);
}
END_TEST

/* A message that is not a JPEG is dropped and counted, and reaches nobody. */
START_TEST(test_invalid)
{
	struct fr_registry_entry *e = fr_registry_find(reg, "cam1");
	struct peer p;
	static const char junk[] = "this is not a JPEG";

	client_connect();
	peer_add(&p, e->stream);
	WAIT_UNTIL(stats_has("\"subscriptions\": 1,"));
	REPEAT_UNTIL(stats_has("\"too_large\": 0, \"invalid\": 1,"),
	    client_pub("test.frames.cam1", NULL, junk, sizeof junk - 1));
	spin(0.05);
	ck_assert_uint_eq(e->stream->counters.frames_in, 0);
	ck_assert_uint_eq(e->stream->counters.garbage_bytes % (sizeof junk - 1), 0);
	ck_assert_uint_ge(e->stream->counters.garbage_bytes, sizeof junk - 1);
	ck_assert_uint_eq(p.got.len, 0);
	fr_sub_close(p.sub, "test");
	peer_close(&p);
	client_close();
}
END_TEST

/* A frame older than one taken (same origin instance, lower sequence) is dropped. */
START_TEST(test_stale)
{
	struct bytes jpeg = { 0 }, other = { 0 };
	struct fr_registry_entry *e = fr_registry_find(reg, "cam1");
	struct peer p;

	add_fixture(&jpeg, "ffmpeg-frame.jpg");
	add_fixture(&other, "baseline.jpg");
	client_connect();
	peer_add(&p, e->stream);
	WAIT_UNTIL(stats_has("\"subscriptions\": 1,"));
	REPEAT_UNTIL(p.got.len > 0, client_pub("test.frames.cam1", "Framerouter-Origin: b\r\n"
	    "Framerouter-Instance: x1\r\nFramerouter-Seq: 5\r\nFramerouter-Time: 1000.000000\r\n",
	    jpeg.p, jpeg.len));
	uint64_t frames = e->stream->counters.frames_in;
	/* Seq 3 of the same instance: older. */
	client_pub("test.frames.cam1", "Framerouter-Origin: b\r\nFramerouter-Instance: x1\r\n"
	    "Framerouter-Seq: 3\r\nFramerouter-Time: 1001.000000\r\n", other.p, other.len);
	client_flush();
	WAIT_UNTIL(stats_has("\"stale\": 1}"));
	ck_assert_uint_eq(e->stream->counters.frames_in, frames);
	/* A new instance (the origin restarted) starts its sequence again: taken. */
	client_pub("test.frames.cam1", "Framerouter-Origin: b\r\nFramerouter-Instance: x2\r\n"
	    "Framerouter-Seq: 0\r\nFramerouter-Time: 1002.000000\r\n", other.p, other.len);
	client_flush();
	WAIT_UNTIL(e->stream->counters.frames_in == frames + 1);
	WAIT_UNTIL(p.got.len >= (size_t)frames * jpeg.len + other.len);
	ck_assert_mem_eq(p.got.p + p.got.len - other.len, other.p, other.len);
	fr_sub_close(p.sub, "test");
	peer_close(&p);
	client_close();
	bytes_free(&jpeg);
	bytes_free(&other);
}
END_TEST

/* Discovery: a stream that is not declared is made and served like a declared one. */
START_TEST(test_discovered)
{
	struct fr_registry_entry *e;
	struct peer p;
	struct bytes jpeg = { 0 };

	add_fixture(&jpeg, "ffmpeg-frame.jpg");
	client_connect();
	ck_assert_int_eq(fr_registry_add(reg, "cam9", false, &e, err), FR_REGISTRY_OK);
	ck_assert_ptr_nonnull(e->nats_feed);
	peer_add(&p, e->stream);
	WAIT_UNTIL(stats_has("\"subscriptions\": 1,"));
	REPEAT_UNTIL(p.got.len > 0, client_pub("test.frames.cam9", NULL, jpeg.p, jpeg.len));
	WAIT_UNTIL(p.got.len >= jpeg.len);
	ck_assert_mem_eq(p.got.p, jpeg.p, jpeg.len);
	fr_sub_close(p.sub, "test");
	peer_close(&p);
	client_close();
	bytes_free(&jpeg);
}
END_TEST

/* ---- a pulled stream: an upstream the test serves raw on a loopback port ---- */

static int
upstream_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), on = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

/* The puller's connection, once it has come (within about 10 s). */
static int
upstream_accept(int lfd)
{
	int fd = -1;

	for (int i = 0; i < 500 && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) < 0; i++)
		spin(0.02);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Pulls e's stream from tcp://127.0.0.1:port, as main.c does: NATS stands aside first. */
static void
pull_start(struct fr_resolver *res, struct fr_registry_entry *e, int port)
{
	struct fr_pull_config c = { .poll_fps = 1, .linger_s = 5, .reconnect_max_s = 0.5 };
	struct fr_pull_params params = { .timeout_s = 10 };
	char url[64];

	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
	ck_assert_msg(fr_url_parse(&c.url, url, err) == 0, "%s", err);
	fr_nats_set_pulled(nats, e, true);
	e->pull = fr_pull_new(loop, res, e->stream, e->ingest, &c, &params);
	ck_assert_ptr_nonnull(e->pull);
}

static void
pull_stop(struct fr_registry_entry *e)
{
	fr_pull_free(e->pull);
	e->pull = NULL;
	fr_nats_set_pulled(nats, e, false);
}

static const char *
pull_state(struct fr_registry_entry *e)
{
	static struct fr_stats_upstream u;

	fr_pull_get_info(e->pull, ev_now(loop), &u);
	return u.state;
}

/* One frame from the upstream at up: published once, and sent to the subscriber. */
static void
upstream_frame(int up, const struct bytes *jpeg, struct peer *p)
{
	unsigned want = cl.n_msgs + 1;
	size_t got = p->got.len;

	ck_assert_int_eq(send(up, jpeg->p, jpeg->len, MSG_NOSIGNAL), (ssize_t)jpeg->len);
	WAIT_UNTIL(cl.n_msgs == want && p->got.len >= got + jpeg->len);
	ck_assert_mem_eq(cl.last_payload.p, jpeg->p, jpeg->len);
	ck_assert_mem_eq(p->got.p + got, jpeg->p, jpeg->len);
	ck_assert_ptr_nonnull(strstr((char *)cl.last_headers.p,
	    "\r\nFramerouter-Origin: unit-a\r\n"));
}

/*
 * A pulled stream (from=) is ingested here: its frames are published, and NATS stands
 * aside for its puller, which holds the stream's demand and vacancy watches. Not even
 * while the upstream is away and a subscriber waits is the stream fed from NATS, so
 * the puller finds the slot free when the upstream is back. Once it is no longer pulled
 * NATS serves it, and a new puller takes it back from NATS at once.
 */
START_TEST(test_pulled)
{
	struct bytes jpeg = { 0 };
	struct fr_registry_entry *e = fr_registry_find(reg, "cam1");
	struct fr_resolver *res = fr_resolver_new(loop, err);
	struct peer p;
	int port = free_port(), lfd, up;

	ck_assert_msg(res != NULL, "%s", err);
	add_fixture(&jpeg, "ffmpeg-frame.jpg");
	client_connect();
	client_sub("test.frames.cam1");
	lfd = upstream_listen(port);
	pull_start(res, e, port);
	up = upstream_accept(lfd);
	peer_add(&p, e->stream);
	upstream_frame(up, &jpeg, &p);
	ck_assert_str_eq(pull_state(e), "streaming");
	ck_assert(stats_has("\"subscriptions\": 0,"));

	/* The upstream goes away; a subscriber comes while it is: the stream waits. */
	close(up);
	close(lfd);
	WAIT_UNTIL(fr_ingest_producer(e->ingest) == NULL);
	fr_sub_close(p.sub, "test");
	peer_close(&p);
	spin(0.05);
	peer_add(&p, e->stream);
	spin(0.3);
	ck_assert_ptr_null(fr_ingest_producer(e->ingest));
	ck_assert(stats_has("\"subscriptions\": 0,"));
	ck_assert_str_ne(pull_state(e), "paused");

	/* It comes back: the puller takes the stream again. */
	lfd = upstream_listen(port);
	up = upstream_accept(lfd);
	upstream_frame(up, &jpeg, &p);
	ck_assert_str_eq(pull_state(e), "streaming");
	ck_assert(stats_has("\"subscriptions\": 0,"));

	/* No longer pulled (a reload took from= away): NATS serves the subscriber. */
	pull_stop(e);
	close(up);
	ck_assert_str_eq(fr_ingest_producer(e->ingest), "nats:test.frames.cam1");
	WAIT_UNTIL(stats_has("\"subscriptions\": 1,"));
	size_t got = p.got.len;
	REPEAT_UNTIL(p.got.len > got, client_pub("test.frames.cam1", NULL, jpeg.p, jpeg.len));
	ck_assert_mem_eq(p.got.p + got, jpeg.p, jpeg.len);

	/* Pulled again: NATS lets go of the stream, and the puller streams at once. */
	pull_start(res, e, port);
	up = upstream_accept(lfd);
	WAIT_UNTIL(stats_has("\"subscriptions\": 0,"));
	upstream_frame(up, &jpeg, &p);
	ck_assert_str_eq(pull_state(e), "streaming");

	/* The subscriber leaves and comes back: still the puller's, never NATS's. */
	fr_sub_close(p.sub, "test");
	peer_close(&p);
	spin(0.05);
	peer_add(&p, e->stream);
	spin(0.1);
	ck_assert(stats_has("\"subscriptions\": 0,"));
	upstream_frame(up, &jpeg, &p);

	fr_sub_close(p.sub, "test");
	peer_close(&p);
	pull_stop(e);
	close(up);
	close(lfd);
	fr_resolver_free(res);
	client_close();
	bytes_free(&jpeg);
}
END_TEST

/* A --max-frame-size the server's max_payload cannot carry is refused at connect. */
START_TEST(test_max_payload)
{
	struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
	struct fr_nats_params np = node_params(8 << 20);
	struct fr_nats *n = fr_nats_new(l, &np, err);

	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(fr_nats_start(n, err), -1);
	ck_assert_str_eq(err, "nats: --max-frame-size 8388608 does not fit the server's "
	    "max_payload 8388608 (less 1024 bytes for headers): raise max_payload in "
	    "nats-server or lower --max-frame-size");
	fr_nats_free(n);
	ev_loop_destroy(l);
}
END_TEST

/* ---- the server ---- */

/* A free loopback port: bound, then closed, by the kernel's choice. */
static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("check_nats: a free port");
		exit(1);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static bool
server_answers(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* nats-server on a free port, max_payload 8 MB; returns false if it cannot run. */
static bool
start_server(const char *conf)
{
	FILE *f = fopen(conf, "w");

	server_port = free_port();
	if (f == NULL)
		return false;
	fprintf(f, "listen: 127.0.0.1:%d\nmax_payload: 8MB\n", server_port);
	fclose(f);
	if ((server_pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		dup2(null, 1);
		execlp("nats-server", "nats-server", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int status;
		if (server_answers())
			return true;
		if (waitpid(server_pid, &status, WNOHANG) == server_pid)
			return false;
		usleep(25000);
	}
	return false;
}

static Suite *
nats_suite(void)
{
	Suite *s = suite_create("nats");
	TCase *tc = fr_tcase(s, "federation", FR_TESTS(test_publish, test_serve, test_invalid,
	    test_stale, test_discovered, test_pulled));

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tc = fr_tcase(s, "limits", FR_TESTS(test_max_payload));
	tcase_set_timeout(tc, 30);
	return s;
}

int
main(void)
{
	char conf[] = "/tmp/check_nats.XXXXXX";
	int fd = mkstemp(conf);

	if (!fr_nats_is_available()) {
		printf("check_nats: SKIP: built without libnats\n");
		return 77;
	}
	if (fd < 0 || !start_server(conf)) {
		printf("check_nats: SKIP: cannot run nats-server (Debian: nats-server)\n");
		if (fd >= 0)
			unlink(conf);
		return 77;
	}
	close(fd);
	int status = fr_run_suite(nats_suite());

	kill(server_pid, SIGTERM);
	waitpid(server_pid, NULL, 0);
	unlink(conf);
	return status;
}
