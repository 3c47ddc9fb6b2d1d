/* SPDX-License-Identifier: MIT */
/*
 * Federation over NATS. Three kinds of threads meet here, and each owns its part:
 * - the loop owns streams, frames and each feed's attachment to its stream's ingest;
 * - the publisher thread (ours) makes every call into nats.c that may block on the
 *   frames' way: publishing, subscribing, unsubscribing;
 * - the JetStream thread (ours, with --nats-jetstream) makes the requests that may
 *   wait seconds for an answer (creating the stream, fetching a subject's latest
 *   frame), so that they never hold up a frame;
 * - nats.c's own threads call back with messages and connection events.
 * They meet in struct fr_nats under one mutex that is never held across a call into
 * nats.c, and in each feed's bounded newest-wins inbox. A received natsMsg is the only
 * thing that crosses to the loop; a frame never leaves it (its bytes are copied into
 * a natsMsg on the loop).
 */
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fr/ingest.h"
#include "fr/log.h"
#include "fr/nats.h"
#include "fr/natslib.h"
#include "fr/util.h"
#include "fr/xmalloc.h"

#ifdef HAVE_LIBNATS

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define N fr_natslib

/* Messages nats.c may hold for one subscription before it drops them as a slow
 * consumer: the inbox takes each at once, so a backlog means the loop stalled. */
#define NATS_PENDING_MSGS 16
/* Messages of one stream waiting for the loop: enough to ride out the loop's
 * scheduling jitter on a busy core without losing a frame; beyond that the oldest
 * is dropped (newest wins), so a node that cannot keep up skips, not lags. */
#define NATS_INBOX 4
/* nats.c's socket buffer size, for reads and writes. */
#define NATS_IO_BUF (256 * 1024)
/* How long the first connection attempt (per server) may take at startup. */
#define NATS_CONNECT_TIMEOUT_MS 2000
/* Reconnect backoff: from this, doubling per round through the servers, to the cap. */
#define NATS_RECONNECT_MIN_MS 100
#define NATS_RECONNECT_MAX_MS 5000

enum conn_state {
	STATE_CONNECTING,	/* never connected yet: nats.c retries in the background */
	STATE_CONNECTED,
	STATE_RECONNECTING,	/* lost the server; nats.c reconnects */
	STATE_CLOSED,		/* given up (only at shutdown: reconnects are unlimited) */
};

static const char *const state_names[] = {
	[STATE_CONNECTING] = "connecting",
	[STATE_CONNECTED] = "connected",
	[STATE_RECONNECTING] = "reconnecting",
	[STATE_CLOSED] = "closed",
};

/* A bounded queue of received messages; when full, the oldest gives way. */
struct inbox {
	pthread_mutex_t mu;		/* held for a few pointer moves, never across a call */
	natsMsg *msgs[NATS_INBOX];
	unsigned head, n;		/* the oldest is msgs[head] */
};

static void
inbox_init(struct inbox *in)
{
	memset(in, 0, sizeof *in);
	pthread_mutex_init(&in->mu, NULL);
}

/* Adds m; returns the message that gave way for it (to destroy and count), or NULL.
 * With only_if_empty, adds m only to an empty inbox and returns m otherwise. */
static natsMsg *
inbox_put(struct inbox *in, natsMsg *m, bool only_if_empty)
{
	natsMsg *out = NULL;

	pthread_mutex_lock(&in->mu);
	if (only_if_empty && in->n > 0) {
		out = m;
	} else {
		if (in->n == NATS_INBOX) {
			out = in->msgs[in->head];
			in->head = (in->head + 1) % NATS_INBOX;
			in->n--;
		}
		in->msgs[(in->head + in->n++) % NATS_INBOX] = m;
	}
	pthread_mutex_unlock(&in->mu);
	return out;
}

/* Takes every message, oldest first, into out[NATS_INBOX]; returns how many. */
static unsigned
inbox_take(struct inbox *in, natsMsg **out)
{
	pthread_mutex_lock(&in->mu);
	unsigned n = in->n;
	for (unsigned i = 0; i < n; i++)
		out[i] = in->msgs[(in->head + i) % NATS_INBOX];
	in->head = in->n = 0;
	pthread_mutex_unlock(&in->mu);
	return n;
}

/* A feed's place in one of the threads' queues (under fr_nats.mu). */
struct queue_link {
	struct fr_nats_feed *next;
	bool is_queued;
};

/* Feeds with work for a thread, first come first served; each holds a reference. */
struct feed_queue {
	struct fr_nats_feed *head, *tail;
	size_t link;			/* offsetof the feed's struct queue_link for it */
	pthread_cond_t cv;		/* the thread waits on it */
};

/*
 * One stream's link to its subject. Created when the stream is, released when it is
 * removed, freed when neither the loop, the publisher's queue nor a subscription
 * holds it any more (refs, under fr_nats.mu).
 */
struct fr_nats_feed {
	struct fr_nats *nats;
	char subject[272];		/* PREFIX (< 200) . NAME (<= 64) */
	/* the loop's */
	struct fr_list link;		/* in fr_nats.feeds while the stream exists */
	struct fr_registry_entry *entry;
	struct fr_addr peer;		/* "nats:SUBJECT", the ingest's producer name */
	bool has_demand;		/* the stream has subscribers */
	bool is_attached;		/* the feed is the stream's producer */
	bool is_pulled;			/* from=: its puller has the stream and its watches */
	bool is_delivering;		/* feeding a received message: do not publish it back */
	uint64_t seq;			/* next Seq header of a frame published */
	char last_instance[32];		/* origin of the last frame taken, for stale checks */
	uint64_t last_seq;
	double last_time;
	/* under fr_nats.mu */
	struct fr_list all;		/* in fr_nats.all_feeds until freed */
	unsigned refs;
	natsMsg *out;			/* the newest frame to publish, or NULL */
	bool want_sub;			/* the loop wants the subject subscribed */
	bool is_released;		/* the stream is gone */
	struct queue_link to_publish;	/* in the publisher's queue */
	struct queue_link to_fetch;	/* in the JetStream thread's queue */
	/* the publisher thread's */
	natsSubscription *sub;
	/* from nats.c's threads to the loop: the newest messages received, oldest first */
	struct inbox inbox;
};

struct fr_nats {
	struct ev_loop *loop;
	struct fr_nats_params params;	/* strings point into the copies below */
	char urls[PATH_MAX], prefix[200], node_id[256];
	char instance[32];		/* random per start: tells restarts apart */
	char js_stream[256];		/* the JetStream stream's name, from the prefix */
	natsOptions *opts;
	struct fr_registry *registry;
	ev_async wake;			/* nats.c's threads and the publisher -> the loop */
	struct fr_list feeds;		/* the loop's: feeds of existing streams */
	struct fr_ratelimit drop_log, error_log;
	/* the loop's view of the connection, copied from the shared state in wake_cb */
	enum conn_state state;
	int64_t max_payload;
	char server[256];
	uint64_t frames_received, bytes_received, dropped_invalid, dropped_stale;
	uint64_t dropped_publish_loop, dropped_too_large;
	/* under mu */
	pthread_mutex_t mu;
	natsConnection *conn;		/* set once connected or retrying; NULL before */
	jsCtx *js;			/* with --nats-jetstream */
	bool is_js_ready;		/* the JetStream stream exists */
	enum conn_state shared_state;
	int64_t shared_max_payload;
	char shared_server[256];
	char last_error[256];		/* for the loop to log; "" when logged */
	struct fr_list all_feeds;
	struct feed_queue publish_queue;	/* frames to send, subscriptions to change */
	struct feed_queue fetch_queue;	/* subjects whose latest frame to fetch (JetStream) */
	bool is_stopping;
	pthread_t publisher, js_thread;
	bool has_publisher, has_js_thread;
	/* counted by other threads, read by the loop */
	atomic_uint_fast64_t reconnects, subscriptions, frames_published, bytes_published;
	atomic_uint_fast64_t dropped_slow, dropped_publish, errors;
};

/* ---- small helpers ---- */

static void
lock(struct fr_nats *n)
{
	pthread_mutex_lock(&n->mu);
}

static void
unlock(struct fr_nats *n)
{
	pthread_mutex_unlock(&n->mu);
}

/* A connected URL as it may be shown: without user:password@. */
static void
strip_credentials(char *url)
{
	char *scheme = strstr(url, "://");
	char *host = scheme != NULL ? scheme + 3 : url;
	char *at = strchr(host, '@');

	if (at != NULL)
		memmove(host, at + 1, strlen(at + 1) + 1);
}

/* Called with mu held: records an error for the loop to log. */
static void
note_error_locked(struct fr_nats *n, const char *what, natsStatus s)
{
	const char *text = N.nats_GetLastError(NULL);

	snprintf(n->last_error, sizeof n->last_error, "%s: %s%s%s", what, N.natsStatus_GetText(s),
	    text != NULL && *text ? ": " : "", text != NULL ? text : "");
}

static void
note_error(struct fr_nats *n, const char *what, natsStatus s)
{
	lock(n);
	note_error_locked(n, what, s);
	unlock(n);
	atomic_fetch_add(&n->errors, 1);
	ev_async_send(n->loop, &n->wake);
}

/* ---- feeds: lifetime (under mu) ---- */

static void
inbox_clear(struct fr_nats_feed *f)
{
	natsMsg *msgs[NATS_INBOX];

	for (unsigned i = 0, n = inbox_take(&f->inbox, msgs); i < n; i++)
		N.natsMsg_Destroy(msgs[i]);
}

static void
feed_free_locked(struct fr_nats_feed *f)
{
	fr_list_remove(&f->all);
	inbox_clear(f);
	N.natsMsg_Destroy(f->out);
	pthread_mutex_destroy(&f->inbox.mu);
	free(f);
}

static void
feed_unref_locked(struct fr_nats_feed *f)
{
	if (--f->refs == 0)
		feed_free_locked(f);
}

static struct queue_link *
link_in(const struct feed_queue *q, struct fr_nats_feed *f)
{
	return (struct queue_link *)(void *)((char *)f + q->link);
}

static void
queue_init(struct feed_queue *q, size_t link, const pthread_condattr_t *ca)
{
	*q = (struct feed_queue){ .link = link };
	pthread_cond_init(&q->cv, ca);
}

/* Gives q's thread work on f (once, however often asked before it takes it). */
static void
queue_push_locked(struct feed_queue *q, struct fr_nats_feed *f)
{
	struct queue_link *l = link_in(q, f);

	if (l->is_queued)
		return;
	l->is_queued = true;
	l->next = NULL;
	f->refs++;
	if (q->tail != NULL)
		link_in(q, q->tail)->next = f;
	else
		q->head = f;
	q->tail = f;
	pthread_cond_signal(&q->cv);
}

/* The first feed of q, taken out (the caller drops its reference), or NULL. */
static struct fr_nats_feed *
queue_pop_locked(struct feed_queue *q)
{
	struct fr_nats_feed *f = q->head;

	if (f == NULL)
		return NULL;
	q->head = link_in(q, f)->next;
	if (q->head == NULL)
		q->tail = NULL;
	link_in(q, f)->is_queued = false;
	return f;
}

/* Gives the publisher work on f (a frame to send or a subscription to change). */
static void
queue_locked(struct fr_nats_feed *f)
{
	queue_push_locked(&f->nats->publish_queue, f);
}

/* ---- nats.c's threads ---- */

static void
msg_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct fr_nats_feed *f = arg;
	natsMsg *old = inbox_put(&f->inbox, msg, false);

	(void)nc, (void)sub;
	if (old != NULL) {
		/* Newest wins: the loop had not taken the oldest one yet. */
		N.natsMsg_Destroy(old);
		atomic_fetch_add(&f->nats->dropped_slow, 1);
	}
	ev_async_send(f->nats->loop, &f->nats->wake);
}

/* The subscription will call msg_cb no more: its reference goes. */
static void
sub_complete_cb(void *arg)
{
	struct fr_nats_feed *f = arg;
	struct fr_nats *n = f->nats;

	lock(n);
	feed_unref_locked(f);
	unlock(n);
}

static void
set_state(struct fr_nats *n, natsConnection *nc, enum conn_state state)
{
	char url[256] = "";

	if (state == STATE_CONNECTED && N.natsConnection_GetConnectedUrl(nc, url, sizeof url) !=
	    NATS_OK)
		url[0] = '\0';
	strip_credentials(url);
	int64_t max_payload = state == STATE_CONNECTED ? N.natsConnection_GetMaxPayload(nc) : 0;
	lock(n);
	n->shared_state = state;
	if (state == STATE_CONNECTED) {
		n->shared_max_payload = max_payload;
		snprintf(n->shared_server, sizeof n->shared_server, "%s", url);
		pthread_cond_signal(&n->fetch_queue.cv);	/* it may create the stream now */
	}
	unlock(n);
	ev_async_send(n->loop, &n->wake);
}

static void
connected_cb(natsConnection *nc, void *arg)
{
	set_state(arg, nc, STATE_CONNECTED);
}

static void
reconnected_cb(natsConnection *nc, void *arg)
{
	struct fr_nats *n = arg;

	atomic_fetch_add(&n->reconnects, 1);
	set_state(n, nc, STATE_CONNECTED);
}

static void
disconnected_cb(natsConnection *nc, void *arg)
{
	struct fr_nats *n = arg;

	lock(n);
	enum conn_state was = n->shared_state;
	unlock(n);
	set_state(n, nc, was == STATE_CONNECTING ? STATE_CONNECTING : STATE_RECONNECTING);
}

static void
closed_cb(natsConnection *nc, void *arg)
{
	set_state(arg, nc, STATE_CLOSED);
}

static void
error_cb(natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg)
{
	struct fr_nats *n = arg;

	(void)nc, (void)sub;
	if (err == NATS_SLOW_CONSUMER) {
		/* nats.c dropped messages beyond the pending limits: counted, not logged. */
		atomic_fetch_add(&n->dropped_slow, 1);
		return;
	}
	note_error(n, "asynchronous error", err);
}

/* Backoff with jitter: 100 ms doubling per round through the servers, up to 5 s. */
static int64_t
reconnect_delay_cb(natsConnection *nc, int attempts, void *arg)
{
	int64_t ms = NATS_RECONNECT_MIN_MS;

	(void)nc, (void)arg;
	for (int i = 1; i < attempts && ms < NATS_RECONNECT_MAX_MS; i++)
		ms *= 2;
	if (ms > NATS_RECONNECT_MAX_MS)
		ms = NATS_RECONNECT_MAX_MS;
	return ms / 2 + (int64_t)(rand() % (int)(ms / 2 + 1));
}

/* ---- the JetStream thread ---- */

/* Creates the JetStream stream that keeps one frame per subject, if it is missing. */
static void
ensure_js_stream(struct fr_nats *n, natsConnection *nc)
{
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	char subjects[300];
	const char *subject_list[1] = { subjects };
	jsCtx *js = NULL;

	lock(n);
	js = n->js;
	unlock(n);
	if (js == NULL) {
		natsStatus s = N.natsConnection_JetStream(&js, nc, NULL);
		if (s != NATS_OK) {
			note_error(n, "JetStream", s);
			return;
		}
		lock(n);
		n->js = js;
		unlock(n);
	}
	if (N.js_GetStreamInfo(&si, js, n->js_stream, NULL, &jerr) == NATS_OK) {
		N.jsStreamInfo_Destroy(si);
	} else {
		snprintf(subjects, sizeof subjects, "%s.>", n->prefix);
		N.jsStreamConfig_Init(&cfg);
		cfg.Name = n->js_stream;
		cfg.Subjects = subject_list;
		cfg.SubjectsLen = 1;
		cfg.Storage = js_MemoryStorage;
		cfg.MaxMsgsPerSubject = 1;
		cfg.Discard = js_DiscardOld;
		cfg.AllowDirect = true;
		cfg.Replicas = 3;	/* survives the loss of a server of a cluster */
		natsStatus s = N.js_AddStream(&si, js, &cfg, NULL, &jerr);
		if (s != NATS_OK && jerr != JSStreamNameExistErr) {
			cfg.Replicas = 1;	/* a single server */
			s = N.js_AddStream(&si, js, &cfg, NULL, &jerr);
		}
		/* Made by another node meanwhile, or with other settings by an operator:
		 * either way it is there to use. */
		if (s != NATS_OK && jerr == JSStreamNameExistErr)
			s = NATS_OK, si = NULL;
		if (s != NATS_OK) {
			note_error(n, "JetStream: cannot create the stream", s);
			return;
		}
		N.jsStreamInfo_Destroy(si);
	}
	lock(n);
	n->is_js_ready = true;
	unlock(n);
}

/*
 * JetStream holds the subject's latest frame: hand it to the loop now, unless a live
 * message got there first (it is newer). The loop drops it anyway if it is older
 * than a frame it already took.
 */
static void
fetch_latest(struct fr_nats_feed *f, jsCtx *js)
{
	struct fr_nats *n = f->nats;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;

	if (N.js_GetLastMsg(&m, js, n->js_stream, f->subject, NULL, &jerr) != NATS_OK)
		return;	/* nothing stored yet, or JetStream is away: live frames will come */
	N.natsMsg_Destroy(inbox_put(&f->inbox, m, true));
	ev_async_send(n->loop, &n->wake);
}

/* Seconds on CLOCK_MONOTONIC, as pthread_cond_timedwait is told to use. */
static double
monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits on cv until signalled, or until at (> 0, CLOCK_MONOTONIC). mu held. */
static void
wait_until(struct fr_nats *n, pthread_cond_t *cv, double at)
{
	if (at <= 0) {
		pthread_cond_wait(cv, &n->mu);
		return;
	}
	struct timespec ts = { .tv_sec = (time_t)at,
		.tv_nsec = (long)((at - (double)(time_t)at) * 1e9) };
	pthread_cond_timedwait(cv, &n->mu, &ts);
}

static void *
js_main(void *arg)
{
	struct fr_nats *n = arg;
	double retry_at = 0, backoff = 0.5;

	lock(n);
	while (!n->is_stopping) {
		bool is_connected = n->shared_state == STATE_CONNECTED;
		if (!n->is_js_ready && is_connected && monotonic_now() >= retry_at) {
			/* A new cluster elects its JetStream leader a moment after it accepts
			 * clients, and a request waits up to 5 s: retry with backoff. */
			natsConnection *nc = n->conn;
			unlock(n);
			ensure_js_stream(n, nc);
			lock(n);
			backoff = backoff < 2.5 ? backoff * 2 : 5;
			retry_at = monotonic_now() + backoff;
			continue;
		}
		struct fr_nats_feed *f = NULL;
		if (!n->is_js_ready || !is_connected || (f = queue_pop_locked(&n->fetch_queue)) ==
		    NULL) {
			double until = !n->is_js_ready && is_connected ? retry_at : 0;

			wait_until(n, &n->fetch_queue.cv, until);
			continue;
		}
		bool is_wanted = f->want_sub && !f->is_released;
		unlock(n);
		if (is_wanted)
			fetch_latest(f, n->js);
		lock(n);
		feed_unref_locked(f);	/* the queue's reference */
	}
	unlock(n);
	return NULL;
}

/* ---- the publisher thread ---- */

static void
subscribe(struct fr_nats_feed *f, natsConnection *nc)
{
	struct fr_nats *n = f->nats;
	natsSubscription *sub = NULL;
	natsStatus s = N.natsConnection_Subscribe(&sub, nc, f->subject, msg_cb, f);

	if (s != NATS_OK) {
		note_error(n, f->subject, s);
		return;
	}
	N.natsSubscription_SetPendingLimits(sub, NATS_PENDING_MSGS, -1);
	lock(n);
	f->refs++;	/* the subscription's, until sub_complete_cb */
	unlock(n);
	if (N.natsSubscription_SetOnCompleteCB(sub, sub_complete_cb, f) != NATS_OK) {
		lock(n);
		f->refs--;	/* closed already: no callback will come (the loop holds one) */
		unlock(n);
	}
	f->sub = sub;
	atomic_fetch_add(&n->subscriptions, 1);
	if (n->params.jetstream) {
		/* Subscribed first, so that no live frame is missed after the latest. */
		lock(n);
		queue_push_locked(&n->fetch_queue, f);
		unlock(n);
	}
}

static void
unsubscribe(struct fr_nats_feed *f)
{
	N.natsSubscription_Unsubscribe(f->sub);
	N.natsSubscription_Destroy(f->sub);
	f->sub = NULL;
	atomic_fetch_sub(&f->nats->subscriptions, 1);
}

static void
publish(struct fr_nats *n, natsConnection *nc, natsMsg *m)
{
	int len = N.natsMsg_GetDataLength(m);
	natsStatus s = N.natsConnection_PublishMsg(nc, m);

	if (s == NATS_OK) {
		atomic_fetch_add(&n->frames_published, 1);
		atomic_fetch_add(&n->bytes_published, (uint_fast64_t)len);
	} else {
		atomic_fetch_add(&n->dropped_publish, 1);
	}
	N.natsMsg_Destroy(m);
}

/* One feed's work, with mu not held: its frame, then its subscription. */
static void
work_on(struct fr_nats *n, struct fr_nats_feed *f, natsConnection *nc)
{
	lock(n);
	natsMsg *m = f->out;
	f->out = NULL;
	bool want = f->want_sub && !f->is_released;
	unlock(n);
	if (m != NULL)
		publish(n, nc, m);
	if (want == (f->sub != NULL))
		return;
	if (want)
		subscribe(f, nc);
	else
		unsubscribe(f);
	ev_async_send(n->loop, &n->wake);	/* the loop's counters changed */
}

static void *
publisher_main(void *arg)
{
	struct fr_nats *n = arg;

	lock(n);
	while (!n->is_stopping) {
		struct fr_nats_feed *f = queue_pop_locked(&n->publish_queue);
		if (f == NULL) {
			pthread_cond_wait(&n->publish_queue.cv, &n->mu);
			continue;
		}
		natsConnection *nc = n->conn;
		unlock(n);
		work_on(n, f, nc);
		lock(n);
		feed_unref_locked(f);	/* the queue's reference */
	}
	unlock(n);
	return NULL;
}

/* ---- the loop: receiving ---- */

/* Whether m is older than the frame taken last (a late JetStream answer, a duplicate). */
static bool
is_stale(struct fr_nats_feed *f, natsMsg *m)
{
	const char *inst = NULL, *seq = NULL, *when = NULL;

	if (N.natsMsgHeader_Get(m, FR_NATS_HDR_INSTANCE, &inst) != NATS_OK ||
	    N.natsMsgHeader_Get(m, FR_NATS_HDR_SEQ, &seq) != NATS_OK ||
	    N.natsMsgHeader_Get(m, FR_NATS_HDR_TIME, &when) != NATS_OK)
		return false;	/* not from a framerouter: taken as it comes */
	uint64_t s = strtoull(seq, NULL, 10);
	double t = strtod(when, NULL);
	bool is_same = strcmp(inst, f->last_instance) == 0;
	if (is_same ? s <= f->last_seq && f->last_time > 0 : t < f->last_time)
		return true;
	snprintf(f->last_instance, sizeof f->last_instance, "%s", inst);
	f->last_seq = s;
	f->last_time = t;
	return false;
}

/* Whether m came from this very process (a loop through the cluster). */
static bool
is_own(const struct fr_nats *n, natsMsg *m)
{
	const char *inst = NULL;

	return N.natsMsgHeader_Get(m, FR_NATS_HDR_INSTANCE, &inst) == NATS_OK &&
	    strcmp(inst, n->instance) == 0;
}

/* Runs a message through the stream's ingest, as if a producer had sent it. */
static void
deliver(struct fr_nats_feed *f, natsMsg *m)
{
	struct fr_nats *n = f->nats;
	struct fr_stream *s = f->entry->stream;
	const uint8_t *data = (const uint8_t *)N.natsMsg_GetData(m);
	size_t len = (size_t)N.natsMsg_GetDataLength(m);

	if (!f->is_attached || is_own(n, m))
		return;	/* a local producer has the stream now; or our own frame */
	if (is_stale(f, m)) {
		n->dropped_stale++;
		return;
	}
	uint64_t before = s->counters.frames_in;
	f->is_delivering = true;
	fr_ingest_feed(f->entry->ingest, data, len);
	/* Publishing may have closed the last subscriber, and the feed with it. */
	if (f->is_attached)
		fr_ingest_end_unit(f->entry->ingest);
	f->is_delivering = false;
	if (s->counters.frames_in == before) {
		n->dropped_invalid++;
		fr_log_limited(&n->drop_log, ev_now(n->loop), FR_LOG_WARN,
		    "stream %s: dropped a NATS message of %zu bytes from %s: no whole JPEG frame "
		    "in it", s->name, len, f->subject);
		return;
	}
	n->frames_received++;
	n->bytes_received += len;
}

/* What the other threads changed: the connection's state, errors to log. */
static void
take_shared_state(struct fr_nats *n)
{
	char error[256];

	lock(n);
	enum conn_state state = n->shared_state;
	int64_t max_payload = n->shared_max_payload;
	snprintf(n->server, sizeof n->server, "%s", n->shared_server);
	snprintf(error, sizeof error, "%s", n->last_error);
	n->last_error[0] = '\0';
	unlock(n);
	if (error[0] != '\0')
		fr_log_limited(&n->error_log, ev_now(n->loop), FR_LOG_WARN, "nats: %s", error);
	if (state == n->state && max_payload == n->max_payload)
		return;
	if (state == STATE_CONNECTED)
		log_info("nats: connected to %s (max_payload %lld)", n->server,
		    (long long)max_payload);
	else if (n->state == STATE_CONNECTED)
		log_warnx("nats: lost the connection to the server; %s", state == STATE_CLOSED ?
		    "closed" : "reconnecting");
	if (state == STATE_CONNECTED && (int64_t)n->params.max_frame_bytes + FR_NATS_HEADER_ROOM >
	    max_payload)
		log_warnx("nats: the server's max_payload %lld cannot hold a frame of "
		    "--max-frame-size %zu: larger frames are not published (raise max_payload in "
		    "nats-server or lower --max-frame-size)", (long long)max_payload,
		    n->params.max_frame_bytes);
	n->state = state;
	n->max_payload = max_payload;
}

static void
wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct fr_nats *n = FR_CONTAINER_OF(w, struct fr_nats, wake);

	(void)loop, (void)revents;
	take_shared_state(n);
	for (struct fr_list *l = n->feeds.next, *next; l != &n->feeds; l = next) {
		struct fr_nats_feed *f = FR_CONTAINER_OF(l, struct fr_nats_feed, link);
		natsMsg *msgs[NATS_INBOX];
		unsigned n_msgs = inbox_take(&f->inbox, msgs);

		next = l->next;
		/* Delivering may close subscribers and end the feed: it is still listed
		 * (only entry_removed unlinks it), and deliver() checks is_attached. */
		for (unsigned i = 0; i < n_msgs; i++) {
			deliver(f, msgs[i]);
			N.natsMsg_Destroy(msgs[i]);
		}
	}
}

/* ---- the loop: publishing ---- */

static int
set_headers(struct fr_nats *n, struct fr_nats_feed *f, natsMsg *m, const struct fr_frame *fr)
{
	char seq[32], when[32];

	snprintf(seq, sizeof seq, "%llu", (unsigned long long)f->seq++);
	snprintf(when, sizeof when, "%.6f", fr->received_at);
	if (N.natsMsgHeader_Set(m, FR_NATS_HDR_ORIGIN, n->node_id) != NATS_OK ||
	    N.natsMsgHeader_Set(m, FR_NATS_HDR_INSTANCE, n->instance) != NATS_OK ||
	    N.natsMsgHeader_Set(m, FR_NATS_HDR_SEQ, seq) != NATS_OK ||
	    N.natsMsgHeader_Set(m, FR_NATS_HDR_TIME, when) != NATS_OK)
		return -1;
	return 0;
}

/* Every frame the stream publishes, except those that came from NATS. */
static void
frame_cb(struct fr_stream *s, struct fr_frame *fr, void *arg)
{
	struct fr_nats_feed *f = arg;
	struct fr_nats *n = f->nats;
	natsMsg *m = NULL;

	if (f->is_delivering)
		return;
	if (n->state != STATE_CONNECTED) {
		n->dropped_publish_loop++;
		return;
	}
	if ((int64_t)(fr->len + FR_NATS_HEADER_ROOM) > n->max_payload) {
		n->dropped_too_large++;
		fr_log_limited(&n->drop_log, ev_now(n->loop), FR_LOG_WARN, "stream %s: frame of "
		    "%zu bytes not published: above the NATS server's max_payload %lld", s->name,
		    fr->len, (long long)n->max_payload);
		return;
	}
	if (N.natsMsg_Create(&m, f->subject, NULL, (const char *)fr->data, (int)fr->len) !=
	    NATS_OK || set_headers(n, f, m, fr) < 0) {
		N.natsMsg_Destroy(m);
		n->dropped_publish_loop++;
		return;
	}
	lock(n);
	natsMsg *old = f->out;
	f->out = m;
	queue_locked(f);
	unlock(n);
	if (old != NULL) {
		/* The publisher is still busy with an older frame: newest wins. */
		N.natsMsg_Destroy(old);
		n->dropped_publish_loop++;
	}
}

/* ---- the loop: which streams are fed from NATS ---- */

static void
want_subscribed(struct fr_nats_feed *f, bool want)
{
	struct fr_nats *n = f->nats;

	lock(n);
	if (f->want_sub != want) {
		f->want_sub = want;
		queue_locked(f);
	}
	unlock(n);
}

static void update(struct fr_nats_feed *f);

static void
replaced_cb(void *arg)
{
	struct fr_nats_feed *f = arg;

	/* A local producer took the stream: this node ingests it now. */
	f->is_attached = false;
	want_subscribed(f, false);
}

static void
vacant_cb(void *arg)
{
	update(arg);
}

static void
demand_cb(struct fr_stream *s, bool has_demand, void *arg)
{
	struct fr_nats_feed *f = arg;

	(void)s;
	f->has_demand = has_demand;
	update(f);
}

/*
 * A stream is fed from NATS while it has subscribers and no other producer: this
 * node does not ingest it, so whoever does publishes it. A pulled stream never is.
 */
static void
update(struct fr_nats_feed *f)
{
	struct fr_ingest *ing = f->entry->ingest;
	bool should = !f->is_pulled && f->has_demand &&
	    (f->is_attached || !fr_ingest_has_producer(ing));

	if (should && !f->is_attached) {
		f->is_attached = true;
		f->last_time = 0;
		f->last_instance[0] = '\0';
		fr_ingest_attach_source(ing, &f->peer, replaced_cb, f);
	} else if (!should && f->is_attached) {
		f->is_attached = false;
		fr_ingest_end_feed(ing, f->is_pulled ? "pulled from its upstream now" :
		    "no subscribers left");
	}
	want_subscribed(f, f->is_attached);
}

static void
entry_added(struct fr_registry_entry *e, void *arg)
{
	struct fr_nats *n = arg;
	struct fr_nats_feed *f = fr_xcalloc(1, sizeof *f);

	f->nats = n;
	f->entry = e;
	snprintf(f->subject, sizeof f->subject, "%s.%s", n->prefix, e->stream->name);
	/* Shown as the stream's producer while the feed is: "nats:framerouter.frames.cam1". */
	snprintf(f->peer.text, sizeof f->peer.text, "nats:%.120s", f->subject);
	inbox_init(&f->inbox);
	f->refs = 1;	/* the loop's */
	lock(n);
	fr_list_append(&n->all_feeds, &f->all);
	unlock(n);
	fr_list_append(&n->feeds, &f->link);
	e->nats_feed = f;
	fr_stream_watch_frames(e->stream, FR_WATCH_FEDERATION, frame_cb, f);
	f->is_pulled = true;	/* the stream's watches are not ours yet */
	fr_nats_set_pulled(n, e, e->pull != NULL);
}

/*
 * The stream's puller and this feed share its two watches (one each: the stream's
 * demand, the ingest's vacancy): the puller holds them while it exists, the feed
 * otherwise, so a pulled stream is never fed from NATS, not even while its upstream
 * is away (the puller would find the slot taken when it is back).
 */
void
fr_nats_set_pulled(struct fr_nats *n, struct fr_registry_entry *e, bool is_pulled)
{
	struct fr_nats_feed *f = e->nats_feed;

	(void)n;
	if (f == NULL || f->is_pulled == is_pulled)
		return;
	f->is_pulled = is_pulled;
	if (is_pulled) {
		fr_stream_watch_demand(e->stream, NULL, NULL);
		fr_ingest_watch_vacancy(e->ingest, NULL, NULL);
	} else {
		f->has_demand = e->stream->counters.clients > 0;
		fr_stream_watch_demand(e->stream, demand_cb, f);
		fr_ingest_watch_vacancy(e->ingest, vacant_cb, f);
	}
	update(f);	/* pulled: lets go of the stream, if it had it */
}

static void
entry_removed(struct fr_registry_entry *e, void *arg)
{
	struct fr_nats *n = arg;
	struct fr_nats_feed *f = e->nats_feed;

	if (f == NULL)
		return;
	fr_stream_watch_frames(e->stream, FR_WATCH_FEDERATION, NULL, NULL);
	if (!f->is_pulled) {
		fr_stream_watch_demand(e->stream, NULL, NULL);
		fr_ingest_watch_vacancy(e->ingest, NULL, NULL);
	}
	if (f->is_attached) {
		f->is_attached = false;
		fr_ingest_end_feed(e->ingest, "stream removed");
	}
	fr_list_remove(&f->link);
	e->nats_feed = NULL;
	f->entry = NULL;
	inbox_clear(f);
	lock(n);
	f->is_released = true;
	f->want_sub = false;
	queue_locked(f);
	feed_unref_locked(f);	/* the loop's */
	unlock(n);
}

static struct fr_nats_counters
counters(struct fr_nats *n)
{
	return (struct fr_nats_counters){
		.connected = n->state == STATE_CONNECTED,
		.reconnects = atomic_load(&n->reconnects),
		.subscriptions = atomic_load(&n->subscriptions),
		.frames_published = atomic_load(&n->frames_published),
		.bytes_published = atomic_load(&n->bytes_published),
		.frames_received = n->frames_received,
		.bytes_received = n->bytes_received,
		.dropped_slow_consumer = atomic_load(&n->dropped_slow),
		.dropped_publish = atomic_load(&n->dropped_publish) + n->dropped_publish_loop,
		.dropped_too_large = n->dropped_too_large,
		.dropped_invalid = n->dropped_invalid,
		.dropped_stale = n->dropped_stale,
		.errors = atomic_load(&n->errors),
	};
}

static void
fill_stats(struct fr_stats_snapshot *snap, void *arg)
{
	struct fr_nats *n = arg;
	static struct fr_stats_nats st;	/* the snapshot is formatted before the next one */

	st = (struct fr_stats_nats){
		.state = state_names[n->state],
		.server = n->server,
		.node_id = n->node_id,
		.jetstream = n->params.jetstream,
		.counters = counters(n),
	};
	snap->nats = &st;
}

/* The SIGUSR1 line. */
static void
log_stats(void *arg)
{
	struct fr_nats *n = arg;
	struct fr_nats_counters c = counters(n);
	char line[FR_STATS_LINE_MAX];

	fr_stats_format_nats(line, sizeof line, &c);
	log_info("nats: state=%s server=%s %s", state_names[n->state], n->server[0] ? n->server :
	    "none", line);
}

/* ---- setup ---- */

static int
fail(char *err, const char *what, natsStatus s)
{
	const char *text = N.nats_GetLastError(NULL);

	snprintf(err, FR_ERR_LEN, "%s: %s%s%.120s", what, N.natsStatus_GetText(s),
	    text != NULL && *text ? ": " : "", text != NULL ? text : "");
	return -1;
}

/* The servers of "URL[,URL]...", as nats.c wants them. */
static int
set_servers(struct fr_nats *n, char *err)
{
	const char *servers[64];
	char copy[sizeof n->urls], *save = NULL;
	int count = 0;

	snprintf(copy, sizeof copy, "%s", n->urls);
	for (char *u = strtok_r(copy, ",", &save); u != NULL && count < 64;
	    u = strtok_r(NULL, ",", &save))
		servers[count++] = u;
	natsStatus s = N.natsOptions_SetServers(n->opts, servers, count);
	return s == NATS_OK ? 0 : fail(err, "--nats", s);
}

static int
set_security(struct fr_nats *n, const struct fr_nats_params *p, char *err)
{
	natsStatus s;

	if (p->creds_file != NULL && *p->creds_file &&
	    (s = N.natsOptions_SetUserCredentialsFromFiles(n->opts, p->creds_file, NULL)) !=
	    NATS_OK)
		return fail(err, "--nats-creds", s);
	if (p->token != NULL && *p->token &&
	    (s = N.natsOptions_SetToken(n->opts, p->token)) != NATS_OK)
		return fail(err, "--nats-token", s);
	bool has_ca = p->ca_file != NULL && *p->ca_file;
	bool has_cert = p->cert_file != NULL && *p->cert_file;
	bool has_key = p->key_file != NULL && *p->key_file;
	if (has_cert != has_key) {
		snprintf(err, FR_ERR_LEN, "--nats-cert and --nats-key go together");
		return -1;
	}
	if ((has_ca || has_cert) && (s = N.natsOptions_SetSecure(n->opts, true)) != NATS_OK)
		return fail(err, "--nats TLS", s);
	if (has_ca && (s = N.natsOptions_LoadCATrustedCertificates(n->opts, p->ca_file)) != NATS_OK)
		return fail(err, "--nats-ca", s);
	if (has_cert && (s = N.natsOptions_LoadCertificatesChain(n->opts, p->cert_file,
	    p->key_file)) != NATS_OK)
		return fail(err, "--nats-cert", s);
	return 0;
}

static int
set_options(struct fr_nats *n, const struct fr_nats_params *p, char *err)
{
	natsStatus s;

	if ((s = N.natsOptions_Create(&n->opts)) != NATS_OK)
		return fail(err, "nats", s);
	if (set_servers(n, err) < 0 || set_security(n, p, err) < 0)
		return -1;
	char name[300];
	snprintf(name, sizeof name, "framerouter %s", n->node_id);
	if ((s = N.natsOptions_SetName(n->opts, name)) != NATS_OK ||
	    (s = N.natsOptions_SetTimeout(n->opts, NATS_CONNECT_TIMEOUT_MS)) != NATS_OK ||
	    (s = N.natsOptions_SetMaxReconnect(n->opts, -1)) != NATS_OK ||
	    (s = N.natsOptions_SetCustomReconnectDelay(n->opts, reconnect_delay_cb, n)) !=
	    NATS_OK ||
	    (s = N.natsOptions_SetRetryOnFailedConnect(n->opts, true, connected_cb, n)) !=
	    NATS_OK ||
	    (s = N.natsOptions_SetDisconnectedCB(n->opts, disconnected_cb, n)) != NATS_OK ||
	    (s = N.natsOptions_SetReconnectedCB(n->opts, reconnected_cb, n)) != NATS_OK ||
	    (s = N.natsOptions_SetClosedCB(n->opts, closed_cb, n)) != NATS_OK ||
	    (s = N.natsOptions_SetErrorHandler(n->opts, error_cb, n)) != NATS_OK ||
	    /* Written by the publisher thread at once, not by a flusher later. */
	    (s = N.natsOptions_SetSendAsap(n->opts, true)) != NATS_OK ||
	    /* Frames published while disconnected are dropped, not replayed stale. */
	    (s = N.natsOptions_SetReconnectBufSize(n->opts, 64 * 1024)) != NATS_OK ||
	    /* A dead server is noticed within about 3 s even without a TCP reset. */
	    (s = N.natsOptions_SetPingInterval(n->opts, 1000)) != NATS_OK ||
	    (s = N.natsOptions_SetMaxPingsOut(n->opts, 3)) != NATS_OK ||
	    /* A 1080p frame in one or two reads, not a dozen of the default 32 KiB. */
	    (s = N.natsOptions_SetIOBufSize(n->opts, NATS_IO_BUF)) != NATS_OK)
		return fail(err, "nats options", s);
	return 0;
}

/* The JetStream stream's name: the prefix in capitals, dots as underscores. */
static void
js_stream_name(struct fr_nats *n)
{
	size_t i = 0;

	for (; n->prefix[i] != '\0' && i + 1 < sizeof n->js_stream; i++) {
		char c = n->prefix[i];
		n->js_stream[i] = c == '.' ? '_' : c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	n->js_stream[i] = '\0';
}

bool
fr_nats_is_available(void)
{
	return true;
}

const char *
fr_nats_library(void)
{
	static char text[64];

	if (N.nats_GetVersion == NULL)
		return FR_LIBNATS_SONAME;
	snprintf(text, sizeof text, "libnats %s", N.nats_GetVersion());
	return text;
}

struct fr_nats *
fr_nats_new(struct ev_loop *loop, const struct fr_nats_params *p, char *err)
{
	if (fr_natslib_load(err) < 0)
		return NULL;
	struct fr_nats *n = fr_xcalloc(1, sizeof *n);
	n->loop = loop;
	snprintf(n->urls, sizeof n->urls, "%s", p->urls);
	snprintf(n->prefix, sizeof n->prefix, "%s", p->prefix);
	snprintf(n->node_id, sizeof n->node_id, "%s", p->node_id);
	n->params = *p;
	n->params.urls = n->urls;
	n->params.prefix = n->prefix;
	n->params.node_id = n->node_id;
	n->params.creds_file = n->params.token = NULL;	/* given to nats.c, not kept */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	srand((unsigned)(ts.tv_nsec ^ ts.tv_sec ^ (long)getpid()));
	snprintf(n->instance, sizeof n->instance, "%lx%09lx", (unsigned long)ts.tv_sec,
	    (unsigned long)ts.tv_nsec ^ ((unsigned long)rand() << 4));
	js_stream_name(n);
	pthread_mutex_init(&n->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	queue_init(&n->publish_queue, offsetof(struct fr_nats_feed, to_publish), &ca);
	queue_init(&n->fetch_queue, offsetof(struct fr_nats_feed, to_fetch), &ca);
	pthread_condattr_destroy(&ca);
	fr_list_init(&n->feeds);
	fr_list_init(&n->all_feeds);
	fr_ratelimit_init(&n->drop_log, 1.0);
	fr_ratelimit_init(&n->error_log, 1.0);
	ev_async_init(&n->wake, wake_cb);
	n->state = n->shared_state = STATE_CONNECTING;
	if (set_options(n, p, err) < 0) {
		fr_nats_free(n);
		return NULL;
	}
	return n;
}

void
fr_nats_serve(struct fr_nats *n, struct fr_registry *reg)
{
	struct fr_registry_watcher w = { entry_added, entry_removed, fill_stats, log_stats, n };

	n->registry = reg;
	fr_registry_watch(reg, &w);
}

/* A frame of --max-frame-size and its headers must fit one message. */
static int
check_max_payload(const struct fr_nats *n, int64_t max_payload, char *err)
{
	if ((int64_t)n->params.max_frame_bytes + FR_NATS_HEADER_ROOM <= max_payload)
		return 0;
	snprintf(err, FR_ERR_LEN, "nats: --max-frame-size %zu does not fit the server's "
	    "max_payload %lld (less %d bytes for headers): raise max_payload in nats-server or "
	    "lower --max-frame-size", n->params.max_frame_bytes, (long long)max_payload,
	    FR_NATS_HEADER_ROOM);
	return -1;
}

int
fr_nats_start(struct fr_nats *n, char *err)
{
	natsConnection *nc = NULL;
	natsStatus s = N.natsConnection_Connect(&nc, n->opts);

	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
		return fail(err, "nats: connect", s);
	if (s == NATS_OK) {
		if (check_max_payload(n, N.natsConnection_GetMaxPayload(nc), err) < 0) {
			N.natsConnection_Destroy(nc);
			return -1;
		}
	} else {
		log_warnx("nats: no server reachable at %s yet; retrying in the background",
		    n->urls);
	}
	lock(n);
	n->conn = nc;
	unlock(n);
	if (s == NATS_OK)
		set_state(n, nc, STATE_CONNECTED);
	ev_async_start(n->loop, &n->wake);
	ev_unref(n->loop);	/* it alone must not keep the loop running */
	if (pthread_create(&n->publisher, NULL, publisher_main, n) != 0) {
		snprintf(err, FR_ERR_LEN, "nats: cannot start the publisher thread");
		return -1;
	}
	n->has_publisher = true;
	if (n->params.jetstream) {
		if (pthread_create(&n->js_thread, NULL, js_main, n) != 0) {
			snprintf(err, FR_ERR_LEN, "nats: cannot start the JetStream thread");
			return -1;
		}
		n->has_js_thread = true;
	}
	take_shared_state(n);
	return 0;
}

void
fr_nats_free(struct fr_nats *n)
{
	if (n == NULL)
		return;
	/* The registry is gone (fr_registry_free told entry_removed of every stream). */
	lock(n);
	n->is_stopping = true;
	pthread_cond_signal(&n->publish_queue.cv);
	pthread_cond_signal(&n->fetch_queue.cv);
	unlock(n);
	if (n->has_publisher)
		pthread_join(n->publisher, NULL);
	if (n->has_js_thread)
		pthread_join(n->js_thread, NULL);
	/* Subscriptions close with the connection; their last callbacks (which may free
	 * feeds, under mu) run before nats_CloseAndWait returns, and only then do the
	 * remaining feeds go. The subscriptions are taken out under mu and destroyed
	 * without it: nats.c is never called with mu held. */
	if (n->conn != NULL)
		N.natsConnection_Close(n->conn);
	for (;;) {
		natsSubscription *sub = NULL;

		lock(n);
		for (struct fr_list *l = n->all_feeds.next; l != &n->all_feeds && sub == NULL;
		    l = l->next) {
			struct fr_nats_feed *f = FR_CONTAINER_OF(l, struct fr_nats_feed, all);

			sub = f->sub;
			f->sub = NULL;
		}
		unlock(n);
		if (sub == NULL)
			break;
		N.natsSubscription_Destroy(sub);
	}
	if (n->js != NULL)
		N.jsCtx_Destroy(n->js);
	if (n->conn != NULL)
		N.natsConnection_Destroy(n->conn);
	N.natsOptions_Destroy(n->opts);
	/* Messages go back to nats.c while it runs (its collector may take them). */
	lock(n);
	for (struct fr_list *l = n->all_feeds.next; l != &n->all_feeds; l = l->next) {
		struct fr_nats_feed *f = FR_CONTAINER_OF(l, struct fr_nats_feed, all);

		inbox_clear(f);
		N.natsMsg_Destroy(f->out);
		f->out = NULL;
	}
	unlock(n);
	N.nats_CloseAndWait(2000);
	while (!fr_list_is_empty(&n->all_feeds))
		feed_free_locked(FR_CONTAINER_OF(n->all_feeds.next, struct fr_nats_feed, all));
	if (ev_is_active(&n->wake)) {
		ev_ref(n->loop);
		ev_async_stop(n->loop, &n->wake);
	}
	pthread_cond_destroy(&n->publish_queue.cv);
	pthread_cond_destroy(&n->fetch_queue.cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

bool
fr_nats_is_connected(const struct fr_nats *n)
{
	return n->state == STATE_CONNECTED;
}

const char *
fr_nats_state(const struct fr_nats *n)
{
	return state_names[n->state];
}

#else /* !HAVE_LIBNATS: --nats is refused by main.c before any of these is called */

bool
fr_nats_is_available(void)
{
	return false;
}

const char *
fr_nats_library(void)
{
	return "none";
}

struct fr_nats *
fr_nats_new(struct ev_loop *loop, const struct fr_nats_params *params, char *err)
{
	(void)loop, (void)params;
	snprintf(err, FR_ERR_LEN, "--nats: built without libnats (Debian: libnats-dev)");
	return NULL;
}

void
fr_nats_serve(struct fr_nats *n, struct fr_registry *reg)
{
	(void)n, (void)reg;
}

void
fr_nats_set_pulled(struct fr_nats *n, struct fr_registry_entry *e, bool is_pulled)
{
	(void)n, (void)e, (void)is_pulled;
}

int
fr_nats_start(struct fr_nats *n, char *err)
{
	(void)n;
	snprintf(err, FR_ERR_LEN, "--nats: built without libnats");
	return -1;
}

void
fr_nats_free(struct fr_nats *n)
{
	(void)n;
}

bool
fr_nats_is_connected(const struct fr_nats *n)
{
	(void)n;
	return false;
}

const char *
fr_nats_state(const struct fr_nats *n)
{
	(void)n;
	return "none";
}

#endif /* HAVE_LIBNATS */
