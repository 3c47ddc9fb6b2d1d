/* SPDX-License-Identifier: MIT */
/*
 * The load generator for bench/run: one process, one epoll loop. A producer
 * pushes a real MJPEG file (looped) to a broker at a given fps or as fast as the
 * socket takes it, each frame rewritten to carry a COM segment right after SOI
 * with its sequence number, CLOCK_MONOTONIC send time, length and source index.
 * Raw TCP and HTTP multipart subscribers check every frame is whole (SOI, the
 * tag parses, the length matches, EOI) and measure latency = time the frame's
 * last byte arrived - time its first byte was sent; late joiners measure
 * connect -> first whole frame; slow ones read at a capped rate, stuck ones never
 * read, idle ones only connect (broker RSS per subscriber). Slow ones may ask for
 * scaled frames (--slow-http-path /stream/NAME?scale=1/2): those are checked for the
 * tag and a whole JPEG, not against the source's bytes. Direct ones read raw from
 * another broker (--direct: the node a federated stream is ingested on), their
 * latency and bytes kept apart. One JSON summary.
 * It is a measuring tool, not a broker: it trusts nothing it receives, and it
 * stops by itself (duration, drain deadline).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The tag: FF D8, then a COM segment (FF FE, length 34) whose payload is "FRB1",
 * then big-endian: sequence number u64, CLOCK_MONOTONIC send time in ns u64,
 * whole frame length u32 (bench/reference.c reads this), source frame index u32,
 * run id u32 (frames left in a broker by an earlier run are told apart).
 */
#define TAG_MAGIC "FRB1"
#define HDR_LEN 38		/* SOI 2 + COM marker 2 + length 2 + payload 32 */
#define COM_LEN 34		/* the COM length field counts its own two bytes */
#define SYNC_LEN 10		/* FF D8 FF FE 00 1E 'F' 'R' 'B' '1' */
#define MAX_FRAME (16u << 20)
#define RECV_BUF (256 * 1024)
#define BOUNDARY_LINE "--framerouter-frame\r\n"

static const uint8_t sync_pat[SYNC_LEN] = { 0xFF, 0xD8, 0xFF, 0xFE, 0x00, COM_LEN,
	'F', 'R', 'B', '1' };
static int sync_fail[SYNC_LEN];	/* KMP failure function of sync_pat */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
diex(const char *what)
{
	fprintf(stderr, "loadgen: %s\n", what);
	exit(2);
}

/* ---- options ---- */
static struct {
	const char *input, *producer, *raw, *http, *http_path, *slow_http_path, *name, *label, *out;
	const char *direct;
	int raw_subs, http_subs, slow_subs, stuck_subs, joiners, idle_subs, slow_rcvbuf, direct_subs;
	double fps, duration_s, slow_rate, drain_s, settle_s, join_after_s, slow_pause_s;
	long max_frames;
	int broker_pid, connect_batch;
	bool verify_full, joiner_stay, quiet, producer_process;
} opt = {
	.http_path = "/stream/default",
	.name = "run",
	.label = "broker",
	.fps = 30,
	.duration_s = 10,
	.slow_rate = 1e6,
	.drain_s = 3,
	.settle_s = -1,
	.join_after_s = 1,
	.connect_batch = 64,
};

static void
usage(void)
{
	fputs("usage: loadgen [--input FILE.mjpeg --producer HOST:PORT] [--raw HOST:PORT]\n"
	      "  [--http HOST:PORT [--http-path PATH]] [--raw-subs N] [--http-subs N]\n"
	      "  [--slow-subs N [--slow-rate BYTES/S] [--slow-rcvbuf BYTES] [--slow-pause S]\n"
	      "  [--slow-http-path PATH]] [--stuck-subs N] [--joiners N] [--producer-process]\n"
	      "  [--joiner-stay] [--join-after S] [--idle-subs N] [--fps N|0=max]\n"
	      "  [--duration S] [--frames N] [--drain S] [--settle S] [--broker-pid PID]\n"
	      "  [--verify-bytes] [--connect-batch N] [--name NAME] [--label BROKER]\n"
	      "  [--out FILE.json] [--quiet] [--direct HOST:PORT [--direct-subs N]]\n"
	      "Subscribers go to --raw if given, else --http (--http-subs always to --http).\n",
	    stderr);
	exit(2);
}

static double
num_arg(const char *s, const char *name, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "loadgen: %s: bad value '%s'\n", name, s);
		exit(2);
	}
	return v;
}

static void
parse_options(int argc, char **argv)
{
	enum { O_INPUT = 256, O_PRODUCER, O_RAW, O_HTTP, O_HTTP_PATH, O_SLOW_PATH, O_RAW_SUBS, O_HTTP_SUBS,
		O_SLOW, O_SLOW_RATE, O_STUCK, O_JOINERS, O_JOINER_STAY, O_JOIN_AFTER, O_IDLE,
		O_FPS, O_DURATION, O_FRAMES, O_DRAIN, O_SETTLE, O_PID, O_VERIFY, O_NAME,
		O_LABEL, O_OUT, O_QUIET, O_BATCH, O_SLOW_RCVBUF, O_PRODUCER_PROCESS,
		O_SLOW_PAUSE, O_DIRECTADDR, O_DIRECTSUBS };
	static const struct option longopts[] = {
		{ "input", 1, 0, O_INPUT }, { "producer", 1, 0, O_PRODUCER },
		{ "raw", 1, 0, O_RAW }, { "http", 1, 0, O_HTTP },
		{ "http-path", 1, 0, O_HTTP_PATH }, { "slow-http-path", 1, 0, O_SLOW_PATH },
		{ "raw-subs", 1, 0, O_RAW_SUBS },
		{ "http-subs", 1, 0, O_HTTP_SUBS }, { "slow-subs", 1, 0, O_SLOW },
		{ "slow-rate", 1, 0, O_SLOW_RATE }, { "stuck-subs", 1, 0, O_STUCK },
		{ "joiners", 1, 0, O_JOINERS }, { "joiner-stay", 0, 0, O_JOINER_STAY },
		{ "join-after", 1, 0, O_JOIN_AFTER }, { "idle-subs", 1, 0, O_IDLE },
		{ "fps", 1, 0, O_FPS }, { "duration", 1, 0, O_DURATION },
		{ "frames", 1, 0, O_FRAMES }, { "drain", 1, 0, O_DRAIN },
		{ "settle", 1, 0, O_SETTLE }, { "broker-pid", 1, 0, O_PID },
		{ "verify-bytes", 0, 0, O_VERIFY }, { "name", 1, 0, O_NAME },
		{ "label", 1, 0, O_LABEL }, { "out", 1, 0, O_OUT }, { "quiet", 0, 0, O_QUIET },
		{ "connect-batch", 1, 0, O_BATCH }, { "slow-rcvbuf", 1, 0, O_SLOW_RCVBUF },
		{ "producer-process", 0, 0, O_PRODUCER_PROCESS }, { "slow-pause", 1, 0, O_SLOW_PAUSE },
		{ "direct", 1, 0, O_DIRECTADDR }, { "direct-subs", 1, 0, O_DIRECTSUBS },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_INPUT: opt.input = optarg; break;
		case O_PRODUCER: opt.producer = optarg; break;
		case O_RAW: opt.raw = optarg; break;
		case O_DIRECTADDR: opt.direct = optarg; break;
		case O_DIRECTSUBS:
			opt.direct_subs = (int)num_arg(optarg, "--direct-subs", 0, 100000);
			break;
		case O_HTTP: opt.http = optarg; break;
		case O_HTTP_PATH: opt.http_path = optarg; break;
		case O_SLOW_PATH: opt.slow_http_path = optarg; break;
		case O_RAW_SUBS: opt.raw_subs = (int)num_arg(optarg, "--raw-subs", 0, 100000); break;
		case O_HTTP_SUBS: opt.http_subs = (int)num_arg(optarg, "--http-subs", 0, 100000); break;
		case O_SLOW: opt.slow_subs = (int)num_arg(optarg, "--slow-subs", 0, 100000); break;
		case O_SLOW_RATE: opt.slow_rate = num_arg(optarg, "--slow-rate", 1000, 1e12); break;
		case O_STUCK: opt.stuck_subs = (int)num_arg(optarg, "--stuck-subs", 0, 100000); break;
		case O_JOINERS: opt.joiners = (int)num_arg(optarg, "--joiners", 0, 100000); break;
		case O_JOINER_STAY: opt.joiner_stay = true; break;
		case O_JOIN_AFTER: opt.join_after_s = num_arg(optarg, "--join-after", 0, 3600); break;
		case O_IDLE: opt.idle_subs = (int)num_arg(optarg, "--idle-subs", 0, 1000000); break;
		case O_FPS: opt.fps = num_arg(optarg, "--fps", 0, 1e6); break;
		case O_DURATION: opt.duration_s = num_arg(optarg, "--duration", 0, 86400); break;
		case O_FRAMES: opt.max_frames = (long)num_arg(optarg, "--frames", 1, 1e12); break;
		case O_DRAIN: opt.drain_s = num_arg(optarg, "--drain", 0, 3600); break;
		case O_SETTLE: opt.settle_s = num_arg(optarg, "--settle", 0, 3600); break;
		case O_PID: opt.broker_pid = (int)num_arg(optarg, "--broker-pid", 1, 1e9); break;
		case O_VERIFY: opt.verify_full = true; break;
		case O_NAME: opt.name = optarg; break;
		case O_LABEL: opt.label = optarg; break;
		case O_OUT: opt.out = optarg; break;
		case O_QUIET: opt.quiet = true; break;
		case O_BATCH: opt.connect_batch = (int)num_arg(optarg, "--connect-batch", 1, 1e6); break;
		case O_SLOW_RCVBUF:
			opt.slow_rcvbuf = (int)num_arg(optarg, "--slow-rcvbuf", 1024, 1 << 30);
			break;
		case O_PRODUCER_PROCESS: opt.producer_process = true; break;
		case O_SLOW_PAUSE: opt.slow_pause_s = num_arg(optarg, "--slow-pause", 0, 0.999); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.producer != NULL && opt.input == NULL)
		diex("--producer needs --input");
	if (opt.producer_process && opt.producer == NULL)
		diex("--producer-process needs --producer");
	if (opt.verify_full && opt.input == NULL)
		diex("--verify-bytes needs --input");
	if (opt.http_subs > 0 && opt.http == NULL)
		diex("--http-subs needs --http");
	if (opt.slow_http_path != NULL && opt.http == NULL)
		diex("--slow-http-path needs --http");
	if (opt.raw == NULL && opt.http == NULL &&
	    opt.raw_subs + opt.slow_subs + opt.stuck_subs + opt.joiners + opt.idle_subs > 0)
		diex("subscribers need --raw or --http");
	if (opt.direct_subs > 0 && opt.direct == NULL)
		diex("--direct-subs needs --direct");
	if (opt.direct != NULL && opt.direct_subs == 0)
		opt.direct_subs = 1;
	if (opt.raw == NULL && opt.raw_subs > 0)
		diex("--raw-subs needs --raw");
}

static struct sockaddr_in
parse_addr(const char *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof host)
		diex("addresses are IPv4 HOST:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		diex("addresses are IPv4 HOST:PORT");
	sa.sin_port = htons((uint16_t)num_arg(colon + 1, "port", 1, 65535));
	return sa;
}

/* ---- the source: whole JPEGs found by walking markers, each pre-tagged ---- */
struct src_frame {
	uint8_t *tagged;	/* SOI + COM tag + the source frame after its SOI */
	size_t len;		/* tagged length = source length + HDR_LEN - 2 */
};
static struct src_frame *src;
static size_t nsrc;

/* Returns the end (one past EOI) of the JPEG starting at p[i] (FF D8), or 0. */
static size_t
jpeg_end(const uint8_t *p, size_t n, size_t i)
{
	size_t j = i + 2;

	while (j + 1 < n) {
		if (p[j] != 0xFF)
			return 0;
		uint8_t m = p[j + 1];
		if (m == 0xFF) {	/* fill byte before a marker */
			j++;
			continue;
		}
		if (m == 0xD9)
			return j + 2;
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
			j += 2;
			continue;
		}
		if (j + 3 >= n)
			return 0;
		j += 2 + get_be(p + j + 2, 2);
		if (m != 0xDA)
			continue;
		/* Entropy-coded data: FF 00 is stuffing, FF D0-D7 restart markers. */
		for (;;) {
			const uint8_t *ff = j < n ? memchr(p + j, 0xFF, n - j) : NULL;
			if (ff == NULL || (size_t)(ff - p) + 1 >= n)
				return 0;
			j = (size_t)(ff - p);
			uint8_t b = p[j + 1];
			if (b == 0x00 || (b >= 0xD0 && b <= 0xD7))
				j += 2;
			else if (b == 0xFF)
				j++;
			else
				break;
		}
	}
	return 0;
}

static void
load_source(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;

	if (fp == NULL || fstat(fileno(fp), &st) < 0)
		die(path);
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (buf == NULL || fread(buf, 1, n, fp) != n)
		die(path);
	fclose(fp);
	size_t cap = 0;
	for (size_t i = 0; i + 1 < n;) {
		if (buf[i] != 0xFF || buf[i + 1] != 0xD8) {
			i++;
			continue;
		}
		size_t end = jpeg_end(buf, n, i);
		if (end == 0)
			break;
		if (nsrc == cap) {
			cap = cap ? cap * 2 : 256;
			if ((src = realloc(src, cap * sizeof *src)) == NULL)
				die("realloc");
		}
		size_t len = end - i + HDR_LEN - 2;
		uint8_t *t = malloc(len);
		if (t == NULL)
			die("malloc");
		memcpy(t, sync_pat, SYNC_LEN);
		memcpy(t + HDR_LEN, buf + i + 2, end - i - 2);
		src[nsrc++] = (struct src_frame){ t, len };
		i = end;
	}
	free(buf);
	if (nsrc == 0)
		diex("no whole JPEG in --input");
}

/* Fills the tag of frame seq (source index idx) at send time. */
static uint32_t run_id;

static void
stamp(uint8_t *t, uint64_t seq, uint64_t ts, uint32_t len, uint32_t idx)
{
	put_be(t + 10, seq, 8);
	put_be(t + 18, ts, 8);
	put_be(t + 26, len, 4);
	put_be(t + 30, idx, 4);
	put_be(t + 34, run_id, 4);
}

/* ---- samples ---- */
struct samples {
	uint64_t *v;
	size_t n, cap;
};

static void
samples_add(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		if ((s->v = realloc(s->v, s->cap * sizeof *s->v)) == NULL)
			die("realloc");
	}
	s->v[s->n++] = x;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
samples_sort(struct samples *s)
{
	if (s->n > 1)	/* qsort(NULL, 0, ...) is undefined */
		qsort(s->v, s->n, sizeof *s->v, cmp_u64);
}

/* Nearest-rank percentile of sorted samples; q in [0, 1]. */
static uint64_t
pct(const struct samples *s, double q)
{
	if (s->n == 0)
		return 0;
	size_t r = (size_t)ceil(q * (double)s->n);
	return s->v[r > 0 ? r - 1 : 0];
}

/* ---- connections ---- */
enum kind { K_PRODUCER, K_REGULAR, K_SLOW, K_STUCK, K_JOINER, K_IDLE, K_DIRECT };
static const char *const kind_names[] = { "producer", "regular", "slow", "stuck", "joiner",
	"idle", "direct" };

enum pstate {
	P_SYNC,		/* hunting for SOI + our COM tag (start of a raw stream, or after junk) */
	P_HDR,		/* collecting the HDR_LEN bytes that start a frame */
	P_BODY,		/* the rest of the frame */
	P_SKIP,		/* multipart: the rest of a part that is not a good frame */
	M_HEAD,		/* HTTP response head, up to CRLF CRLF */
	M_BOUNDARY,	/* the boundary line */
	M_HEADERS,	/* part header lines, up to the empty line */
	M_CRLF,		/* the CRLF after a part's body */
};

struct conn {
	enum kind kind;
	bool is_http, connected, closed, paused, bad_frame, synced, got_first;
	bool is_scaled;		/* ?scale= or ?q=: whole JPEGs with the tag, not the source's */
	int fd;
	enum pstate ps;
	uint32_t events;
	/* request (HTTP) */
	char req[256];
	size_t req_len, req_off;
	/* frame parser */
	uint8_t hdr[HDR_LEN];
	size_t hdr_have;
	int sync_m;			/* bytes of sync_pat matched */
	size_t body_len, body_got;	/* body_len: from the tag (raw) or Content-Length */
	size_t part_len;		/* multipart Content-Length, 0 if none */
	const uint8_t *expect;		/* --verify-bytes: the source's tagged frame */
	uint8_t last2[2];
	uint64_t send_ns;
	char line[256];
	size_t line_len;
	uint32_t head_tail;		/* last 4 bytes of the HTTP head, for CRLF CRLF */
	int head_status;		/* HTTP status, 0 until parsed */
	/* counters */
	uint64_t frames, bytes, corrupt, out_of_order, skipped, lead_bytes, junk_bytes, foreign;
	int64_t last_seq;
	uint64_t connect_ns;
	double tokens;
	/* producer */
	uint64_t seq;			/* frames begun */
	size_t off;			/* bytes of the current frame written */
	bool sending;
};

static int epfd;
static struct conn **conns;
static size_t nconns, conns_cap;
static struct sockaddr_in raw_sa, http_sa, prod_sa, direct_sa;
static uint8_t rbuf[RECV_BUF];
static struct samples lat_regular, lat_slow, join_ms, lat_direct;
static uint64_t producer_bytes, sub_bytes_total, frames_sent, last_seq_sent;
static bool producer_done;
static struct conn *producer;
static volatile sig_atomic_t stop_flag;
static uint64_t connect_failures, closed_by_broker;
static uint64_t next_due_ns;	/* the producer's next frame, 0 when none is due */

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
ep_set(struct conn *c, uint32_t ev)
{
	if (c->events == ev || c->closed)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl MOD");
	c->events = ev;
}

static void
conn_close(struct conn *c)
{
	if (c->closed)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->closed = true;
}

static struct conn *
conn_open(enum kind kind, bool is_http)
{
	const struct sockaddr_in *sa = kind == K_PRODUCER ? &prod_sa : kind == K_DIRECT ?
	    &direct_sa : is_http ? &http_sa : &raw_sa;
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		die("calloc");
	const char *path = kind == K_SLOW && opt.slow_http_path ? opt.slow_http_path : opt.http_path;

	c->kind = kind;
	c->is_http = is_http;
	c->is_scaled = is_http && (strstr(path, "scale=") != NULL || strstr(path, "q=") != NULL);
	c->last_seq = -1;
	c->ps = is_http ? M_HEAD : P_SYNC;
	c->tokens = opt.slow_rate / 20;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket (raise ulimit -n?)");
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* Before connect(), so that the window it advertises is small from the start. */
	if (kind == K_SLOW && opt.slow_rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &opt.slow_rcvbuf, sizeof opt.slow_rcvbuf);
	if (is_http)
		c->req_len = (size_t)snprintf(c->req, sizeof c->req,
		    "GET %s HTTP/1.1\r\nHost: bench\r\nUser-Agent: framerouter-loadgen\r\n\r\n",
		    path);
	c->connect_ns = now_ns();
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS)
		die("connect");
	/* Until connected, wait for writability; stuck and idle ones never read. */
	c->events = EPOLLOUT;
	struct epoll_event e = { .events = c->events, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0)
		die("epoll_ctl ADD");
	if (nconns == conns_cap) {
		conns_cap = conns_cap ? conns_cap * 2 : 1024;
		if ((conns = realloc(conns, conns_cap * sizeof *conns)) == NULL)
			die("realloc");
	}
	conns[nconns++] = c;
	return c;
}

static bool
reads(const struct conn *c)
{
	return c->kind != K_STUCK && c->kind != K_IDLE;
}

/* ---- frames arriving ---- */
static void
frame_done(struct conn *c, uint64_t t)
{
	bool ok = !c->bad_frame && c->last2[0] == 0xFF && c->last2[1] == 0xD9 &&
	    (!c->is_http || c->part_len == c->body_len);
	if (!ok) {
		c->corrupt++;
		return;
	}
	if (get_be(c->hdr + 34, 4) != run_id) {	/* an earlier run's frame */
		c->foreign++;
		return;
	}
	int64_t seq = (int64_t)get_be(c->hdr + 10, 8);
	if (seq <= c->last_seq) {
		c->out_of_order++;
	} else {
		if (c->last_seq >= 0)
			c->skipped += (uint64_t)(seq - c->last_seq - 1);
		c->last_seq = seq;
	}
	c->frames++;
	uint64_t lat = t > c->send_ns ? t - c->send_ns : 0;
	if (c->kind == K_REGULAR)
		samples_add(&lat_regular, lat);
	else if (c->kind == K_SLOW)
		samples_add(&lat_slow, lat);
	else if (c->kind == K_DIRECT)
		samples_add(&lat_direct, lat);
	if (!c->got_first) {
		c->got_first = true;
		if (c->kind == K_JOINER) {
			samples_add(&join_ms, t - c->connect_ns);
			if (!opt.joiner_stay)
				conn_close(c);
		}
	}
}

/* The HDR_LEN bytes that start a frame are in c->hdr: check them. */
static bool
header_ok(struct conn *c)
{
	if (memcmp(c->hdr, sync_pat, SYNC_LEN) != 0)
		return false;
	size_t len = get_be(c->hdr + 26, 4);
	uint32_t idx = (uint32_t)get_be(c->hdr + 30, 4);
	if (len < HDR_LEN + 2 || len > MAX_FRAME || (nsrc > 0 && (idx >= nsrc ||
	    (!c->is_scaled && src[idx].len != len))))
		return false;
	/* A scaled frame keeps the source's tag (its COM segment) but not its length:
	 * the part's Content-Length is the frame's. */
	c->body_len = c->is_http ? c->part_len : len;
	if (c->is_http && !c->is_scaled && c->part_len != len)
		return false;
	c->send_ns = get_be(c->hdr + 18, 8);
	c->expect = nsrc > 0 && !c->is_scaled ? src[idx].tagged : NULL;
	return true;
}

/* Feeds bytes to the frame parser of a raw stream or a multipart body; returns
 * bytes used. Frames end in frame_done(); after it a joiner may be closed. */
static size_t
feed_frame(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
	size_t used = 0;

	if (c->ps == P_SYNC) {
		while (used < n && c->sync_m < SYNC_LEN) {
			uint8_t b = p[used++];
			while (c->sync_m > 0 && sync_pat[c->sync_m] != b)
				c->sync_m = sync_fail[c->sync_m - 1];
			if (sync_pat[c->sync_m] == b)
				c->sync_m++;
			if (c->synced)
				c->junk_bytes++;
			else
				c->lead_bytes++;
		}
		if (c->sync_m < SYNC_LEN)
			return used;
		/* The pattern's bytes were counted as skipped; they are the frame's. */
		if (c->synced)
			c->junk_bytes -= SYNC_LEN;
		else
			c->lead_bytes -= SYNC_LEN;
		memcpy(c->hdr, sync_pat, SYNC_LEN);
		c->hdr_have = SYNC_LEN;
		c->sync_m = 0;
		c->ps = P_HDR;
	}
	if (c->ps == P_HDR) {
		size_t k = HDR_LEN - c->hdr_have;
		if (k > n - used)
			k = n - used;
		memcpy(c->hdr + c->hdr_have, p + used, k);
		c->hdr_have += k;
		used += k;
		if (c->hdr_have < HDR_LEN)
			return used;
		c->hdr_have = 0;
		c->synced = true;
		if (!header_ok(c)) {
			c->corrupt++;
			if (c->is_http) {	/* skip the rest of the part by its length */
				c->body_len = c->part_len;
				c->body_got = HDR_LEN;
				c->ps = c->body_got >= c->body_len ? M_CRLF : P_SKIP;
			} else {
				c->ps = P_SYNC;
			}
			return used;
		}
		c->body_got = HDR_LEN;
		c->bad_frame = false;
		c->ps = P_BODY;
	}
	size_t k = c->body_len - c->body_got;
	if (k > n - used)
		k = n - used;
	if (c->ps == P_BODY) {
		const uint8_t *q = p + used;
		if (opt.verify_full && c->expect != NULL && k > 0 &&
		    memcmp(q, c->expect + c->body_got, k) != 0)
			c->bad_frame = true;
		if (k >= 2) {
			c->last2[0] = q[k - 2];
			c->last2[1] = q[k - 1];
		} else if (k == 1) {
			c->last2[0] = c->last2[1];
			c->last2[1] = q[0];
		}
	}
	c->body_got += k;
	used += k;
	if (c->body_got < c->body_len)
		return used;
	if (c->ps == P_BODY)
		frame_done(c, t);
	c->ps = c->is_http ? M_CRLF : P_HDR;
	return used;
}

/* Reads one line into c->line; returns bytes used, sets *done at its end. */
static size_t
take_line(struct conn *c, const uint8_t *p, size_t n, bool *done)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t k = nl != NULL ? (size_t)(nl - p) + 1 : n;
	size_t room = sizeof c->line - 1 - c->line_len;

	memcpy(c->line + c->line_len, p, k < room ? k : room);
	c->line_len += k < room ? k : room;
	c->line[c->line_len] = '\0';
	*done = nl != NULL;
	return k;
}

static void
feed(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
	while (n > 0 && !c->closed) {
		size_t used;
		bool done;

		switch (c->ps) {
		case M_HEAD:
			used = 0;
			while (used < n && c->head_tail != 0x0D0A0D0A) {
				if (c->line_len < sizeof c->line - 1)
					c->line[c->line_len++] = (char)p[used];
				c->head_tail = c->head_tail << 8 | p[used++];
			}
			if (c->head_tail == 0x0D0A0D0A) {
				c->line[c->line_len] = '\0';
				if (sscanf(c->line, "HTTP/1.%*d %d", &c->head_status) != 1 ||
				    c->head_status != 200) {
					c->corrupt++;
					conn_close(c);
					return;
				}
				c->line_len = 0;
				c->ps = M_BOUNDARY;
			}
			break;
		case M_BOUNDARY:
			used = take_line(c, p, n, &done);
			if (done) {
				if (strcmp(c->line, BOUNDARY_LINE) != 0)
					c->corrupt++;
				else
					c->ps = M_HEADERS, c->part_len = 0;
				c->line_len = 0;
			}
			break;
		case M_HEADERS:
			used = take_line(c, p, n, &done);
			if (done) {
				if (strcmp(c->line, "\r\n") == 0) {
					if (c->part_len > 0) {
						c->ps = P_HDR;
						c->hdr_have = 0;
					} else {
						c->corrupt++;
						c->ps = M_BOUNDARY;
					}
				} else if (strncasecmp(c->line, "Content-Length:", 15) == 0) {
					c->part_len = strtoul(c->line + 15, NULL, 10);
				}
				c->line_len = 0;
			}
			break;
		case M_CRLF:
			used = take_line(c, p, n, &done);
			if (done) {
				if (strcmp(c->line, "\r\n") != 0)
					c->corrupt++;
				c->line_len = 0;
				c->ps = M_BOUNDARY;
			}
			break;
		default:
			used = feed_frame(c, p, n, t);
			break;
		}
		p += used;
		n -= used;
	}
}

static void
sub_readable(struct conn *c)
{
	size_t cap = sizeof rbuf;

	if (c->kind == K_SLOW) {
		if (c->tokens < 1) {
			c->paused = true;
			ep_set(c, 0);
			return;
		}
		if (cap > (size_t)c->tokens)
			cap = (size_t)c->tokens;
	}
	ssize_t n = recv(c->fd, rbuf, cap, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		closed_by_broker++;
		conn_close(c);
		return;
	}
	if (n == 0) {
		closed_by_broker++;
		conn_close(c);
		return;
	}
	uint64_t t = now_ns();
	c->bytes += (uint64_t)n;
	if (c->kind != K_DIRECT)	/* another broker's bytes: not in its CPU per GB */
		sub_bytes_total += (uint64_t)n;
	if (c->kind == K_SLOW)
		c->tokens -= (double)n;
	feed(c, rbuf, (size_t)n, t);
}

static void
sub_writable(struct conn *c)
{
	if (!c->connected) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			connect_failures++;
			conn_close(c);
			return;
		}
		c->connected = true;
	}
	while (c->req_off < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			connect_failures++;
			conn_close(c);
			return;
		}
		c->req_off += (size_t)n;
	}
	ep_set(c, reads(c) ? EPOLLIN : 0);
}

/* ---- the producer ---- */
static bool
may_begin(const struct conn *c)
{
	return !producer_done && (opt.max_frames == 0 || (long)c->seq < opt.max_frames);
}

static void
producer_begin(struct conn *c)
{
	uint64_t seq = c->seq++;
	size_t idx = seq % nsrc;

	/* The buffer is free: the frame that used it last was sent whole. */
	stamp(src[idx].tagged, seq, now_ns(), (uint32_t)src[idx].len, (uint32_t)idx);
	c->off = 0;
	c->sending = true;
}

/* Writes the current frame until EAGAIN or its end. At max rate (--fps 0) one
 * frame per call, so the subscribers' events get their turn in between. */
static void
producer_write(struct conn *c)
{
	if (!c->connected) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			errno = err;
			die("producer connect");
		}
		c->connected = true;
	}
	if (!c->sending && opt.fps == 0 && may_begin(c))
		producer_begin(c);
	while (c->sending) {
		struct src_frame *f = &src[(c->seq - 1) % nsrc];
		ssize_t n = send(c->fd, f->tagged + c->off, f->len - c->off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			die("producer send");
		}
		c->off += (size_t)n;
		producer_bytes += (uint64_t)n;
		if (c->off == f->len) {
			c->sending = false;
			frames_sent++;
			last_seq_sent = c->seq - 1;
		}
	}
	ep_set(c, EPOLLIN | (c->sending || (opt.fps == 0 && may_begin(c)) ? EPOLLOUT : 0));
}

/* ncat --broker echoes other clients' bytes to the producer too: discard them. */
static void
producer_readable(struct conn *c)
{
	ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		errno = n == 0 ? ECONNRESET : errno;
		die("producer: the broker closed the connection");
	}
}

/* ---- /proc ---- */

/*
 * Memory in the broker's memfds (framerouter keeps frames there for sendfile()).
 * Pages written with pwrite() and never mapped are in no VmRSS/VmHWM, so they are
 * counted here, from each memfd's allocated blocks. -1 if /proc cannot tell.
 */
static long
proc_memfd_kb(int pid)
{
	char path[64], fdp[600], link[64];
	long kb = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		struct stat st;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdp, sizeof fdp, "%s/%s", path, de->d_name);
		n = readlink(fdp, link, sizeof link - 1);
		if (n < 7 || memcmp(link, "/memfd:", 7) != 0 || stat(fdp, &st) != 0)
			continue;
		kb += (long)(st.st_blocks / 2);
	}
	closedir(d);
	return kb;
}

/* The most memfd memory seen, sampled about once a second during the run. */
static long peak_memfd_kb = -1;
static uint64_t memfd_sampled_ns;

static void
sample_memfd(uint64_t t)
{
	if (opt.broker_pid <= 0 || t - memfd_sampled_ns < 1000000000u)
		return;
	memfd_sampled_ns = t;
	long kb = proc_memfd_kb(opt.broker_pid);
	if (kb > peak_memfd_kb)
		peak_memfd_kb = kb;
}

struct proc_sample {
	double cpu_stat_s;	/* utime + stime, clock ticks */
	double cpu_sched_s;	/* sum of the threads' schedstat run time, ns precision */
	long rss_kb, hwm_kb;
	long memfd_kb;
};

static struct proc_sample
proc_sample(int pid)
{
	struct proc_sample s = { -1, -1, -1, -1, -1 };
	char path[64], buf[4096];
	FILE *fp;

	if (pid <= 0)
		return s;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof buf, fp) != NULL) {
			char *q = strrchr(buf, ')');
			unsigned long ut, st;
			if (q != NULL && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			    "%lu %lu", &ut, &st) == 2)
				s.cpu_stat_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		}
		fclose(fp);
	}
	/* Run time in ns of every thread: /proc/PID/stat has only clock ticks. */
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *de;
		double sum = 0;
		int nt = 0;
		while ((de = readdir(d)) != NULL) {
			char p2[600];
			unsigned long long run;
			if (de->d_name[0] == '.')
				continue;
			snprintf(p2, sizeof p2, "%s/%s/schedstat", path, de->d_name);
			if ((fp = fopen(p2, "r")) == NULL)
				continue;
			if (fscanf(fp, "%llu", &run) == 1)
				sum += (double)run / 1e9, nt++;
			fclose(fp);
		}
		closedir(d);
		if (nt > 0)
			s.cpu_sched_s = sum;
	}
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if ((fp = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof buf, fp) != NULL) {
			if (strncmp(buf, "VmRSS:", 6) == 0)
				s.rss_kb = strtol(buf + 6, NULL, 10);
			else if (strncmp(buf, "VmHWM:", 6) == 0)
				s.hwm_kb = strtol(buf + 6, NULL, 10);
		}
		fclose(fp);
	}
	return s;
}

static void run_loop(uint64_t deadline_ns, bool (*done)(void), void (*tick)(uint64_t));

/* Open descriptors of the broker: how we know it has accepted everyone. */
static long
proc_fds(int pid)
{
	char path[64];
	long n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Waits (up to 10 s) until the broker holds n more descriptors than base. After
 * one miss (or when the broker is gone) it stops waiting for later batches. */
static bool accept_wait_off;

static void
wait_accepted(long base, long n)
{
	uint64_t until = now_ns() + 10000000000u;
	long have;

	if (opt.broker_pid <= 0 || base < 0 || accept_wait_off)
		return;
	while ((have = proc_fds(opt.broker_pid)) >= 0 && have < base + n && now_ns() < until &&
	    !stop_flag)
		run_loop(now_ns() + 2000000, NULL, NULL);
	if (have < base + n) {
		accept_wait_off = true;
		if (have < 0)
			fprintf(stderr, "loadgen: the broker (pid %d) is gone\n", opt.broker_pid);
		else
			fprintf(stderr, "loadgen: the broker accepted only %ld of %ld connections "
			    "in 10 s\n", have - base, n);
	}
}

/* CPU time of the whole machine (all cores, /proc/stat, busy jiffies): less the
 * broker's and ours, it tells how much other work shared the machine. */
static double
machine_cpu_s(void)
{
	FILE *fp = fopen("/proc/stat", "r");
	unsigned long long v[8] = { 0 };

	if (fp == NULL)
		return -1;
	int n = fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	    &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(fp);
	if (n != 8)
		return -1;
	/* user nice system [idle iowait] irq softirq steal */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the loop ---- */
static void
dispatch(struct epoll_event *e)
{
	struct conn *c = e->data.ptr;

	if (c->closed)
		return;
	if (c == producer) {
		if (e->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			producer_readable(c);
		if (e->events & EPOLLOUT)
			producer_write(c);
		return;
	}
	if (e->events & EPOLLOUT)
		sub_writable(c);
	if (!c->closed && (e->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->connected)
		sub_readable(c);
}

/* Runs the loop until deadline_ns or until done() says so. */
static void
run_loop(uint64_t deadline_ns, bool (*done)(void), void (*tick)(uint64_t))
{
	struct epoll_event ev[1024];

	while (!stop_flag) {
		uint64_t t = now_ns();
		if (t >= deadline_ns || (done != NULL && done()))
			return;
		uint64_t wake = deadline_ns;
		if (tick != NULL) {
			tick(t);
			uint64_t next = t + 2000000;	/* ticks at least every 2 ms */
			if (next < wake)
				wake = next;
		}
		if (next_due_ns != 0 && next_due_ns < wake)
			wake = next_due_ns;
		uint64_t wait = wake > t ? wake - t : 0;
		struct timespec ts = { (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };
		int n = epoll_pwait2(epfd, ev, 1024, &ts, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_pwait2");
		}
		for (int i = 0; i < n; i++)
			dispatch(&ev[i]);
	}
}

static uint64_t run_start_ns, run_end_ns, next_join_ns, last_refill_ns;
static int joiners_started;

static void
tick(uint64_t t)
{
	sample_memfd(t);
	/* Slow readers: refill their budget and resume the paused ones. */
	if (opt.slow_subs > 0 && t - last_refill_ns >= 5000000) {
		double add = opt.slow_rate * (double)(t - last_refill_ns) / 1e9;
		double burst = opt.slow_rate / 20;
		last_refill_ns = t;
		/* --slow-pause: they read nothing for the first S of every second. */
		if (opt.slow_pause_s > 0 && t > run_start_ns &&
		    (double)((t - run_start_ns) % 1000000000u) / 1e9 < opt.slow_pause_s)
			add = -1e18;
		for (size_t i = 0; i < nconns; i++) {
			struct conn *c = conns[i];
			if (c->kind != K_SLOW || c->closed)
				continue;
			c->tokens = c->tokens + add > burst ? burst : c->tokens + add;
			if (c->tokens < 0)
				c->tokens = 0;
			if (c->paused && c->tokens >= 1) {
				c->paused = false;
				ep_set(c, EPOLLIN);
			}
		}
	}
	/* The producer: begin the frames that are due. */
	if (producer != NULL && !producer_done) {
		if (t >= run_end_ns || (opt.max_frames > 0 && (long)producer->seq >= opt.max_frames)) {
			producer_done = true;
			next_due_ns = 0;
		} else if (opt.fps > 0 && t >= next_due_ns && !producer->sending &&
		    producer->connected) {
			producer_begin(producer);
			producer_write(producer);
			uint64_t period = (uint64_t)(1e9 / opt.fps);
			next_due_ns += period;
			if (next_due_ns < t)	/* fell behind: do not burst to catch up */
				next_due_ns = t + period;
		}
	}
	/* Late joiners: one at a time, at jittered intervals over the run. */
	if (joiners_started < opt.joiners && t >= next_join_ns && t < run_end_ns) {
		conn_open(K_JOINER, opt.raw == NULL);
		joiners_started++;
		uint64_t left = run_end_ns > t ? run_end_ns - t : 0;
		uint64_t gap = left / (uint64_t)(opt.joiners - joiners_started + 1);
		next_join_ns = t + gap / 2 + (uint64_t)((double)gap * drand48());
	}
}

static bool
all_connected(void)
{
	for (size_t i = 0; i < nconns; i++)
		if (!conns[i]->closed && !conns[i]->connected)
			return false;
	return true;
}

/* HTTP subscribers that read have their response head. */
static bool
all_ready(void)
{
	if (!all_connected())
		return false;
	for (size_t i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		if (!c->closed && c->is_http && reads(c) && c->ps == M_HEAD)
			return false;
	}
	return true;
}

static bool
producer_finished(void)
{
	return producer_done;
}

/* Everyone who keeps up has the last frame sent. */
static bool
drained(void)
{
	if (!producer_done || (producer != NULL && producer->sending))
		return false;
	for (size_t i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		if (c->kind == K_REGULAR && !c->closed && c->last_seq < (int64_t)last_seq_sent)
			return false;
	}
	return true;
}

/* ---- --producer-process ---- */

/* What the producer's process reports back when it is done. */
struct producer_report {
	uint64_t frames_sent, producer_bytes, last_seq_sent;
};

static pid_t producer_pid;
static int producer_pipe = -1;

static bool
producer_idle(void)
{
	return !producer->sending;
}

/*
 * The producer in a child process with a loop of its own (and this run's id, so its
 * frames count as this run's): the kernel's scheduler, not this loop's turn-taking
 * with every subscriber, decides how fast it can push, so it can outrun them. It
 * inherits the CPU affinity; CLOCK_MONOTONIC send times compare across processes.
 */
static void
fork_producer(void)
{
	int p[2];

	if (pipe(p) < 0)
		die("pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0) {
		close(p[1]);
		producer_pid = pid;
		producer_pipe = p[0];
		return;
	}
	close(p[0]);
	close(epfd);	/* the parent's epoll instance is shared: make one of our own */
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	for (size_t i = 0; i < nconns; i++)
		close(conns[i]->fd);
	nconns = 0;
	opt.joiners = opt.slow_subs = opt.broker_pid = 0;
	producer = conn_open(K_PRODUCER, false);
	next_due_ns = now_ns();
	run_loop(run_end_ns + 1000000, producer_finished, tick);
	run_loop(now_ns() + 5000000000u, producer_idle, NULL);	/* the frame begun */
	struct producer_report r = { frames_sent, producer_bytes, last_seq_sent };
	_exit(write(p[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
}

static void
collect_producer(void)
{
	struct producer_report r;
	int status;

	if (read(producer_pipe, &r, sizeof r) != (ssize_t)sizeof r)
		diex("the producer process did not report");
	close(producer_pipe);
	waitpid(producer_pid, &status, 0);
	frames_sent = r.frames_sent;
	producer_bytes = r.producer_bytes;
	last_seq_sent = r.last_seq_sent;
}

/* ---- the summary ---- */
static FILE *js;

static void
json_ms(const char *key, const struct samples *s, bool comma)
{
	fprintf(js, "\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}%s", key, s->n,
	    (double)pct(s, 0.50) / 1e6, (double)pct(s, 0.99) / 1e6,
	    (double)pct(s, 1.0) / 1e6, comma ? "," : "");
}

static void
json_class(enum kind k)
{
	struct samples per = { 0 };
	uint64_t frames = 0, bytes = 0, corrupt = 0, ooo = 0, skipped = 0, lead = 0, junk = 0;
	uint64_t foreign = 0;
	size_t n = 0, closed = 0;

	for (size_t i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		if (c->kind != k)
			continue;
		n++;
		samples_add(&per, c->frames);
		frames += c->frames, bytes += c->bytes, corrupt += c->corrupt;
		ooo += c->out_of_order, skipped += c->skipped, lead += c->lead_bytes;
		junk += c->junk_bytes, foreign += c->foreign;
		closed += c->closed && !(k == K_JOINER && c->got_first && !opt.joiner_stay);
	}
	samples_sort(&per);
	fprintf(js, "\"%s\":{\"subs\":%zu,\"frames\":%llu,\"per_sub_min\":%llu,"
	    "\"per_sub_median\":%llu,\"per_sub_max\":%llu,\"bytes\":%llu,\"corrupt\":%llu,"
	    "\"out_of_order\":%llu,\"skipped\":%llu,\"lead_bytes\":%llu,\"junk_bytes\":%llu,"
	    "\"foreign\":%llu,\"closed\":%zu}", kind_names[k], n, (unsigned long long)frames,
	    (unsigned long long)(per.n ? per.v[0] : 0), (unsigned long long)pct(&per, 0.5),
	    (unsigned long long)(per.n ? per.v[per.n - 1] : 0), (unsigned long long)bytes,
	    (unsigned long long)corrupt, (unsigned long long)ooo, (unsigned long long)skipped,
	    (unsigned long long)lead, (unsigned long long)junk, (unsigned long long)foreign,
	    closed);
	free(per.v);
}

static void
json_proc(const char *key, struct proc_sample a, struct proc_sample b)
{
	long peak_memfd = peak_memfd_kb > b.memfd_kb ? peak_memfd_kb : b.memfd_kb;

	/* peak_rss_kb: VmHWM plus the most memfd memory seen (not in VmHWM when the
	 * broker never maps it); the parts are given too. */
	fprintf(js, "\"%s\":{\"cpu_s\":%.4f,\"cpu_stat_s\":%.2f,\"rss_start_kb\":%ld,"
	    "\"rss_end_kb\":%ld,\"peak_rss_kb\":%ld,\"vm_hwm_kb\":%ld,\"memfd_start_kb\":%ld,"
	    "\"memfd_end_kb\":%ld,\"peak_memfd_kb\":%ld}", key,
	    a.cpu_sched_s >= 0 ? b.cpu_sched_s - a.cpu_sched_s : b.cpu_stat_s - a.cpu_stat_s,
	    b.cpu_stat_s - a.cpu_stat_s, a.rss_kb + (a.memfd_kb > 0 ? a.memfd_kb : 0),
	    b.rss_kb + (b.memfd_kb > 0 ? b.memfd_kb : 0), b.hwm_kb + (peak_memfd > 0 ? peak_memfd : 0),
	    b.hwm_kb, a.memfd_kb, b.memfd_kb, peak_memfd);
}

/*
 * Connects in batches and, given --broker-pid, waits after each batch until the
 * broker has accepted it (its descriptor count), so its accept queue never
 * overflows: ncat listens with a backlog of 10, and an overflow leaves half-open
 * connections that the broker never sees, or costs one-second SYN retransmits.
 */
static void
connect_batch(enum kind k, bool is_http, int count, long base, long *opened)
{
	for (int i = 0; i < count; i++) {
		conn_open(k, is_http);
		++*opened;
		if (i % opt.connect_batch == opt.connect_batch - 1 || i == count - 1) {
			if (opt.broker_pid > 0 && base >= 0)
				wait_accepted(base, *opened);
			else
				run_loop(now_ns() + 2000000, NULL, NULL);
		}
	}
}

int
main(int argc, char **argv)
{
	parse_options(argc, argv);
	for (int i = 1, k = 0; i < SYNC_LEN; i++) {	/* KMP failure function */
		while (k > 0 && sync_pat[i] != sync_pat[k])
			k = sync_fail[k - 1];
		if (sync_pat[i] == sync_pat[k])
			k++;
		sync_fail[i] = k;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	srand48((long)now_ns() ^ getpid());
	run_id = (uint32_t)mrand48();
	if (opt.input != NULL)
		load_source(opt.input);
	if (opt.producer != NULL)
		prod_sa = parse_addr(opt.producer);
	if (opt.raw != NULL)
		raw_sa = parse_addr(opt.raw);
	if (opt.http != NULL)
		http_sa = parse_addr(opt.http);
	if (opt.direct != NULL)
		direct_sa = parse_addr(opt.direct);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	js = stdout;
	if (opt.out != NULL && (js = fopen(opt.out, "w")) == NULL)
		die(opt.out);

	/* Idle subscribers: broker RSS before and after they connect. */
	struct proc_sample idle_a = proc_sample(opt.broker_pid), idle_b = idle_a;
	uint64_t t0 = now_ns();
	long fds0 = proc_fds(opt.broker_pid), opened = 0;
	connect_batch(K_IDLE, opt.raw == NULL, opt.idle_subs, fds0, &opened);
	double idle_connect_s = 0;
	if (opt.idle_subs > 0) {
		run_loop(now_ns() + 30000000000u, all_connected, NULL);
		idle_connect_s = (double)(now_ns() - t0) / 1e9;
		/* Let the broker accept them all: wait for its RSS to hold still. */
		long last = -1;
		int same = 0;
		uint64_t until = now_ns() + 10000000000u;
		while (same < 5 && now_ns() < until) {
			run_loop(now_ns() + 100000000, NULL, NULL);
			idle_b = proc_sample(opt.broker_pid);
			same = idle_b.rss_kb == last ? same + 1 : 0;
			last = idle_b.rss_kb;
		}
		for (size_t i = 0; i < nconns; i++) {	/* still there? */
			char b;
			if (!conns[i]->closed && recv(conns[i]->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
				closed_by_broker++;
		}
	}

	/* Subscribers first, then the producer, so they can get every frame. */
	fds0 = proc_fds(opt.broker_pid);
	opened = 0;
	connect_batch(K_REGULAR, opt.raw == NULL, opt.raw_subs, fds0, &opened);
	connect_batch(K_REGULAR, true, opt.http_subs, fds0, &opened);
	connect_batch(K_SLOW, opt.raw == NULL || opt.slow_http_path != NULL, opt.slow_subs, fds0,
	    &opened);
	connect_batch(K_STUCK, opt.raw == NULL, opt.stuck_subs, fds0, &opened);
	for (int i = 0; i < opt.direct_subs; i++)	/* not the measured broker's */
		conn_open(K_DIRECT, false);
	int nsubs = opt.raw_subs + opt.http_subs + opt.slow_subs + opt.stuck_subs + opt.direct_subs;
	run_loop(now_ns() + 30000000000u, all_ready, NULL);
	if (nsubs > 0) {
		/* A raw subscriber hears nothing back until the first frame: the
		 * broker holds all their descriptors; give it a moment more. */
		double settle = opt.settle_s >= 0 ? opt.settle_s : 0.1;
		run_loop(now_ns() + (uint64_t)(settle * 1e9), NULL, NULL);
	}

	struct proc_sample pa = proc_sample(opt.broker_pid);
	pa.memfd_kb = opt.broker_pid > 0 ? proc_memfd_kb(opt.broker_pid) : -1;
	double self_a = self_cpu_s(), machine_a = machine_cpu_s();
	uint64_t bytes_a = sub_bytes_total;
	run_start_ns = now_ns();
	run_end_ns = run_start_ns + (uint64_t)(opt.duration_s * 1e9);
	next_join_ns = run_start_ns + (uint64_t)(opt.join_after_s * 1e9);
	last_refill_ns = run_start_ns;
	if (opt.producer != NULL && opt.producer_process) {
		fork_producer();
		producer_done = true;
		run_loop(run_end_ns, NULL, tick);
		collect_producer();
	} else if (opt.producer != NULL) {
		producer = conn_open(K_PRODUCER, false);
		next_due_ns = run_start_ns;
		run_loop(run_end_ns + 1000000, producer_finished, tick);
	} else {
		producer_done = true;
		run_loop(run_end_ns, NULL, tick);
	}
	uint64_t produce_end_ns = now_ns();
	if (opt.producer != NULL && !stop_flag)	/* stragglers: up to --drain */
		run_loop(now_ns() + (uint64_t)(opt.drain_s * 1e9), drained, tick);
	uint64_t end_ns = now_ns();
	struct proc_sample pb = proc_sample(opt.broker_pid);
	pb.memfd_kb = opt.broker_pid > 0 ? proc_memfd_kb(opt.broker_pid) : -1;
	double self_b = self_cpu_s(), machine_b = machine_cpu_s();
	uint64_t bytes = sub_bytes_total - bytes_a;

	samples_sort(&lat_regular);
	samples_sort(&lat_slow);
	samples_sort(&lat_direct);
	samples_sort(&join_ms);
	uint64_t reg_frames = 0, reg_corrupt = 0, all_corrupt = 0;
	size_t nreg = 0;
	for (size_t i = 0; i < nconns; i++) {
		all_corrupt += conns[i]->corrupt;
		if (conns[i]->kind == K_REGULAR)
			nreg++, reg_frames += conns[i]->frames, reg_corrupt += conns[i]->corrupt;
	}
	double broker_cpu = pa.cpu_sched_s >= 0 ? pb.cpu_sched_s - pa.cpu_sched_s :
	    pb.cpu_stat_s - pa.cpu_stat_s;
	double secs = (double)(produce_end_ns - run_start_ns) / 1e9;

	fprintf(js, "{\"name\":\"%s\",\"broker\":\"%s\",\"fps_target\":%g,", opt.name, opt.label,
	    opt.fps);
	fprintf(js, "\"producing_s\":%.3f,\"total_s\":%.3f,\"frames_sent\":%llu,"
	    "\"fps_achieved\":%.1f,\"producer_bytes\":%llu,\"source_frames\":%zu,"
	    "\"avg_frame_bytes\":%.0f,", secs, (double)(end_ns - run_start_ns) / 1e9,
	    (unsigned long long)frames_sent, secs > 0 ? (double)frames_sent / secs : 0,
	    (unsigned long long)producer_bytes, nsrc,
	    frames_sent ? (double)producer_bytes / (double)frames_sent : 0);
	fprintf(js, "\"frames_delivered\":%llu,\"frames_expected\":%llu,\"corrupt\":%llu,"
	    "\"regular_corrupt\":%llu,\"bytes_delivered\":%llu,\"gbit_s\":%.3f,",
	    (unsigned long long)reg_frames, (unsigned long long)(frames_sent * nreg),
	    (unsigned long long)all_corrupt, (unsigned long long)reg_corrupt,
	    (unsigned long long)bytes,
	    secs > 0 ? (double)bytes * 8 / 1e9 / ((double)(end_ns - run_start_ns) / 1e9) : 0);
	fprintf(js, "\"cpu_s_per_gb\":%.4f,\"loadgen_cpu_s\":%.4f,\"loadgen_cpu_s_per_gb\":%.4f,"
	    "\"connect_failures\":%llu,\"closed_by_broker\":%llu,\"verify_bytes\":%s,"
	    "\"broker_alive\":%s,\"other_cpu_s\":%.2f,",
	    bytes ? broker_cpu / ((double)bytes / 1e9) : 0, self_b - self_a,
	    bytes ? (self_b - self_a) / ((double)bytes / 1e9) : 0,
	    (unsigned long long)connect_failures, (unsigned long long)closed_by_broker,
	    opt.verify_full ? "true" : "false",
	    opt.broker_pid <= 0 || proc_fds(opt.broker_pid) >= 0 ? "true" : "false",
	    machine_a >= 0 && machine_b >= 0 ?
	    machine_b - machine_a - broker_cpu - (self_b - self_a) : -1.0);
	json_ms("latency_ms", &lat_regular, true);
	json_ms("slow_latency_ms", &lat_slow, true);
	json_ms("join_ms", &join_ms, true);
	json_ms("direct_latency_ms", &lat_direct, true);
	fprintf(js, "\"joiners_started\":%d,", joiners_started);
	json_proc("broker_proc", pa, pb);
	fputc(',', js);
	for (enum kind k = K_REGULAR; k <= K_DIRECT; k++) {
		json_class(k);
		fputc(',', js);
	}
	fprintf(js, "\"idle\":{\"subs\":%d,\"connect_s\":%.3f,\"rss_before_kb\":%ld,"
	    "\"rss_after_kb\":%ld,\"rss_per_sub_bytes\":%.0f}}\n", opt.idle_subs, idle_connect_s,
	    idle_a.rss_kb, idle_b.rss_kb,
	    opt.idle_subs > 0 && idle_a.rss_kb >= 0 ?
	    (double)(idle_b.rss_kb - idle_a.rss_kb) * 1024 / opt.idle_subs : 0);
	if (js != stdout)
		fclose(js);
	if (!opt.quiet)
		fprintf(stderr, "loadgen %s/%s: %llu frames sent, %llu/%llu delivered, %llu corrupt, "
		    "latency p50 %.2f ms p99 %.2f ms, broker %.3f CPU-s, %.3f CPU-s/GB\n",
		    opt.name, opt.label, (unsigned long long)frames_sent,
		    (unsigned long long)reg_frames, (unsigned long long)(frames_sent * nreg),
		    (unsigned long long)all_corrupt, (double)pct(&lat_regular, 0.5) / 1e6,
		    (double)pct(&lat_regular, 0.99) / 1e6, broker_cpu,
		    bytes ? broker_cpu / ((double)bytes / 1e9) : 0);
	return stop_flag ? 1 : 0;
}
