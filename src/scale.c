/* SPDX-License-Identifier: MIT */
/*
 * Scaled sizes of a stream: the derived streams (one per size in use), their
 * subscribers, the worker thread that scales, and ?scale=auto.
 *
 * Threads. The loop owns every frame and every stream; frames are reference-counted
 * without atomics, so the worker never sees one: a job carries the source frame's
 * bytes (immutable once sealed) while the loop keeps the frame's reference until
 * the worker is done with them (held[]); the worker's results are malloc()ed bytes
 * that the loop turns into frames (fr_frame_new_take). Everything the two share sits
 * under mu: the pending job (newest wins: a job the worker has not taken is
 * replaced), the frame the worker is busy with, one result per size (newest wins
 * again) and the counts the worker adds up. The worker wakes the loop with
 * ev_async_send(), the one libev call that is safe from another thread.
 */
#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/tcp.h>	/* struct tcp_info with tcpi_delivery_rate; netinet/tcp.h lacks it */
#include <netinet/in.h>
#include <sys/socket.h>

#include "fr/log.h"
#include "fr/scale.h"
#include "fr/util.h"

/* ?scale=auto (see README "Scaled frames"): evaluated this often, from the frames a
 * subscriber sent and skipped since the last time and, over TCP, from the kernel's
 * view of its connection (TCP_INFO). */
#define AUTO_TICK_S 0.1		/* the kernel's backlog is looked at this often */
#define AUTO_PERIOD_S 0.5	/* skips are counted, and tries up made, over this */
#define AUTO_BEHIND_RATIO 0.25	/* skipped / offered above this: behind */
#define AUTO_MIN_OFFERED 3	/* frames offered in a period before judging by them */
#define AUTO_BACKLOG_FRAMES 2	/* more frames than this unsent in the kernel: behind */
#define AUTO_HEADROOM 0.8	/* a size fits when it needs this share of the rate */
#define AUTO_PROBE_S 5.0	/* steady this long at a smaller size: try one up */
#define AUTO_PROBE_MAX_S 80.0	/* a failed try doubles the wait, up to this */

/* The sizes an auto subscriber moves through, largest first, and the bytes of a
 * frame at each against a full one, for a size nobody watches yet (bench/scalecost.c
 * on the 1080p bench input: 27.8, 9.5 and 4.1 KB of 80.9 KB). */
static const unsigned auto_denoms[] = { 1, 2, 4, 8 };
static const double auto_bytes_ratio[] = { 1.0, 0.35, 0.12, 0.05 };

struct target {
	unsigned slot;
	uint32_t gen;		/* the slot's generation when the job was made */
	unsigned denom;
	int quality;
};

/* A source frame to scale for some sizes. frame is the loop's (opaque to the worker). */
struct job {
	const struct fr_frame *frame;
	const uint8_t *data;
	size_t len;
	uint64_t seq;
	double received_at;
	unsigned n;
	struct target t[FR_SCALE_MAX_SIZES];
};

/* What the worker made for one size since the loop last looked (under mu). */
struct report {
	bool has_frame;		/* out holds the newest frame made */
	struct fr_scaled out;
	uint64_t seq;		/* of its source frame */
	double received_at;
	uint64_t scaled, cpu_ns, failed;	/* counts to add */
	uint64_t failed_seq;	/* the newest source frame that failed, plus one */
	size_t failed_bytes;
	char err[FR_ERR_LEN];	/* why it failed */
};

struct size {
	bool is_used;		/* has a key and a derived stream */
	bool is_active;		/* subscribers or waiters: its frames are being made */
	struct fr_scale_spec key;	/* denom and quality; never auto */
	char label[FR_SCALE_SPEC_TEXT_LEN];
	struct fr_stream *stream;
	struct fr_scale *sc;	/* for the demand callback */
	uint32_t gen;		/* bumped when the slot takes another key */
	unsigned waiters;
	uint64_t want_from;	/* it needs source frames from this seq on */
	uint64_t latest_seq;	/* source seq of stream->latest */
	uint64_t failed_seq;	/* the newest source seq that failed, plus one */
	uint64_t frames_scaled, cpu_ns;
	int latest_quality;
	double idle_since;	/* when it last stopped being active */
};

/* A subscriber of a scaled size, or on auto. */
struct member {
	struct fr_list link;	/* in fr_scale.members */
	struct fr_scale *sc;
	struct fr_sub *sub;
	struct fr_scale_spec spec;	/* as asked */
	int slot;		/* the size it is in; -1: the stream itself */
	unsigned denom;		/* its size now (auto moves it) */
	int fd;			/* the subscriber's socket, for TCP_INFO (the sub owns it) */
	/* auto */
	uint64_t last_sent, last_dropped;
	double period_at;	/* when its current period of counting skips began */
	double last_unsent;	/* the kernel's backlog at the last tick, bytes */
	double changed_at;	/* when it last changed size */
	double steady_since;	/* since when it skipped nothing */
	double probe_s;		/* how long to stay steady before trying a size up */
	bool was_probe;		/* its last change was a try upwards */
};

struct fr_scale {
	struct ev_loop *loop;
	struct fr_stream *stream;
	struct size sizes[FR_SCALE_MAX_SIZES];
	struct fr_list members;
	struct fr_list waiters;
	unsigned n_auto;
	unsigned n_active;
	ev_async done;
	ev_timer auto_timer;
	/* Frames whose bytes the worker has or may still read (loop only). */
	const struct fr_frame *held[4];
	unsigned n_held;
	bool has_thread;
	pthread_t thread;
	/* Shared with the worker, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;
	bool has_pending;
	struct job pending;
	const struct fr_frame *busy;	/* the frame of the job being scaled */
	uint32_t gens[FR_SCALE_MAX_SIZES];	/* each slot's gen, for the worker */
	struct report reports[FR_SCALE_MAX_SIZES];
};

static void submit(struct fr_scale *sc, struct fr_frame *f);
static void release_done(struct fr_scale *sc);

/* ---- the worker ---- */

static uint64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One size of the job done (ok or not): into the slot's report, under mu. */
static void
report_result(struct fr_scale *sc, const struct job *job, const struct target *t, int rc,
    struct fr_scaled *out, uint64_t cpu_ns, const char *err)
{
	struct report *r = &sc->reports[t->slot];

	if (sc->gens[t->slot] != t->gen) {	/* the slot changed size meanwhile */
		free(out->data);
		return;
	}
	r->scaled++;
	r->cpu_ns += cpu_ns;
	if (rc < 0) {
		r->failed++;
		r->failed_seq = job->seq + 1;
		r->failed_bytes = job->len;
		snprintf(r->err, sizeof r->err, "%s", err);
		return;
	}
	if (r->has_frame)	/* the loop has not taken the last one: newest wins */
		free(r->out.data);
	r->has_frame = true;
	r->out = *out;
	r->seq = job->seq;
	r->received_at = job->received_at;
}

static void *
worker_main(void *arg)
{
	struct fr_scale *sc = arg;
	char err[FR_ERR_LEN];
	struct fr_scaler *scaler = fr_scaler_new(err);
	char scaler_err[FR_ERR_LEN];

	snprintf(scaler_err, sizeof scaler_err, "%s", scaler == NULL ? err : "");
	pthread_mutex_lock(&sc->mu);
	for (;;) {
		while (!sc->quit && !sc->has_pending)
			pthread_cond_wait(&sc->cv, &sc->mu);
		if (sc->quit)
			break;
		struct job job = sc->pending;
		sc->has_pending = false;
		sc->busy = job.frame;
		pthread_mutex_unlock(&sc->mu);
		for (unsigned i = 0; i < job.n; i++) {
			const struct target *t = &job.t[i];
			struct fr_scaled out = { 0 };
			uint64_t t0 = thread_cpu_ns();
			int rc = scaler == NULL ? -1 : fr_scaler_scale(scaler, job.data, job.len,
			    t->denom, t->quality, &out, err);
			uint64_t cpu_ns = thread_cpu_ns() - t0;

			pthread_mutex_lock(&sc->mu);
			report_result(sc, &job, t, rc, &out, cpu_ns,
			    scaler == NULL ? scaler_err : err);
			pthread_mutex_unlock(&sc->mu);
		}
		pthread_mutex_lock(&sc->mu);
		sc->busy = NULL;
		pthread_mutex_unlock(&sc->mu);
		ev_async_send(sc->loop, &sc->done);
		pthread_mutex_lock(&sc->mu);
	}
	pthread_mutex_unlock(&sc->mu);
	fr_scaler_free(scaler);
	return NULL;
}

/* Starts the worker with every signal blocked: they are the loop's. */
static int
start_worker(struct fr_scale *sc, char *err)
{
	sigset_t all, old;

	if (sc->has_thread)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&sc->thread, NULL, worker_main, sc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, FR_ERR_LEN, "cannot start a scaler thread: %s", strerror(rc));
		return -1;
	}
	sc->has_thread = true;
	ev_async_start(sc->loop, &sc->done);
	return 0;
}

/* ---- the loop's side of the handoff ---- */

static bool
is_held(const struct fr_scale *sc, const struct fr_frame *f)
{
	for (unsigned i = 0; i < sc->n_held; i++)
		if (sc->held[i] == f)
			return true;
	return false;
}

/* Lets go of the frames the worker no longer reads: neither pending nor busy. */
static void
release_done(struct fr_scale *sc)
{
	const struct fr_frame *pending, *busy;

	pthread_mutex_lock(&sc->mu);
	pending = sc->has_pending ? sc->pending.frame : NULL;
	busy = sc->busy;
	pthread_mutex_unlock(&sc->mu);
	for (unsigned i = 0; i < sc->n_held;) {
		if (sc->held[i] == pending || sc->held[i] == busy) {
			i++;
			continue;
		}
		fr_frame_unref((struct fr_frame *)sc->held[i]);
		sc->held[i] = sc->held[--sc->n_held];
	}
}

/* Does the pending job have a target in slot (under mu)? */
static bool
pending_has(const struct fr_scale *sc, unsigned slot)
{
	for (unsigned i = 0; sc->has_pending && i < sc->pending.n; i++)
		if (sc->pending.t[i].slot == slot)
			return true;
	return false;
}

/*
 * Hands f (borrowed) to the worker for every active size that needs it, and for the
 * sizes of the job it replaces, which then get f instead: newest wins.
 */
static void
submit(struct fr_scale *sc, struct fr_frame *f)
{
	struct job job = { .frame = f, .data = f->data, .len = f->len, .seq = f->seq,
		.received_at = f->received_at };

	pthread_mutex_lock(&sc->mu);
	for (unsigned i = 0; i < FR_SCALE_MAX_SIZES; i++) {
		struct size *z = &sc->sizes[i];

		if (!z->is_active || (f->seq < z->want_from && !pending_has(sc, i)))
			continue;
		job.t[job.n++] = (struct target){ i, z->gen, z->key.denom, z->key.quality };
		z->want_from = f->seq + 1;
	}
	if (job.n > 0) {
		sc->pending = job;
		sc->has_pending = true;
		pthread_cond_signal(&sc->cv);
	}
	pthread_mutex_unlock(&sc->mu);
	if (job.n > 0 && !is_held(sc, f)) {
		assert(sc->n_held < FR_ARRAY_LEN(sc->held));
		sc->held[sc->n_held++] = fr_frame_ref(f);
	}
	release_done(sc);
}

/* The stream published f. */
static void
frame_cb(struct fr_stream *s, struct fr_frame *f, void *arg)
{
	struct fr_scale *sc = arg;

	(void)s;
	if (sc->n_active > 0)
		submit(sc, f);
}

/* ---- sizes ---- */

static void
size_deactivate(struct fr_scale *sc, struct size *z)
{
	unsigned slot = (unsigned)(z - sc->sizes);

	if (!z->is_active)
		return;
	z->is_active = false;
	z->idle_since = ev_now(sc->loop);
	sc->n_active--;
	/* A scaled frame kept while nobody watches would be stale when someone comes. */
	fr_frame_unref(z->stream->latest);
	z->stream->latest = NULL;
	z->latest_seq = 0;
	z->want_from = 0;
	pthread_mutex_lock(&sc->mu);
	for (unsigned i = 0; sc->has_pending && i < sc->pending.n; i++) {
		if (sc->pending.t[i].slot == slot) {
			sc->pending.t[i] = sc->pending.t[--sc->pending.n];
			break;
		}
	}
	if (sc->has_pending && sc->pending.n == 0)
		sc->has_pending = false;
	pthread_mutex_unlock(&sc->mu);
	release_done(sc);
}

static void
size_activate(struct fr_scale *sc, struct size *z)
{
	if (z->is_active)
		return;
	z->is_active = true;
	sc->n_active++;
	if (sc->stream->latest != NULL)
		submit(sc, sc->stream->latest);
}

/* Active while it has subscribers or waiting snapshots. */
static void
size_update(struct fr_scale *sc, struct size *z)
{
	if (z->stream->counters.clients > 0 || z->waiters > 0)
		size_activate(sc, z);
	else
		size_deactivate(sc, z);
}

static void
size_demand_cb(struct fr_stream *s, bool has_demand, void *arg)
{
	struct size *z = arg;

	(void)s, (void)has_demand;
	size_update(z->sc, z);
}

/* Gives slot z the key of spec: a fresh derived stream, or the slot's own renamed. */
static int
size_init(struct fr_scale *sc, struct size *z, const struct fr_scale_spec *key, char *err)
{
	unsigned slot = (unsigned)(z - sc->sizes);
	char label[FR_SCALE_SPEC_TEXT_LEN], name[FR_STREAM_NAME_MAX + 1];

	fr_scale_spec_format(key, label, sizeof label);
	snprintf(name, sizeof name, "%.*s@%s", (int)(sizeof name - sizeof label - 1),
	    sc->stream->name, label);
	if (z->stream == NULL) {
		if ((z->stream = fr_stream_new(name)) == NULL) {
			snprintf(err, FR_ERR_LEN, "out of memory for a scaled stream");
			return -1;
		}
		/* Scaled frames are small: they share the stream's arena (one memfd). */
		fr_arena_unref(z->stream->arena);
		z->stream->arena = sc->stream->arena ? fr_arena_ref(sc->stream->arena) : NULL;
		fr_stream_set_parent(z->stream, sc->stream);
		fr_stream_watch_demand(z->stream, size_demand_cb, z);
	} else {
		assert(!z->is_active);
		snprintf(z->stream->name, sizeof z->stream->name, "%s", name);
		memset(&z->stream->counters, 0, sizeof z->stream->counters);
	}
	z->sc = sc;
	z->is_used = true;
	z->key = (struct fr_scale_spec){ .denom = key->denom, .quality = key->quality };
	snprintf(z->label, sizeof z->label, "%s", label);
	z->gen++;
	z->frames_scaled = z->cpu_ns = 0;
	z->latest_seq = z->failed_seq = z->want_from = 0;
	z->latest_quality = 0;
	pthread_mutex_lock(&sc->mu);
	sc->gens[slot] = z->gen;
	free(sc->reports[slot].out.data);
	memset(&sc->reports[slot], 0, sizeof sc->reports[slot]);
	pthread_mutex_unlock(&sc->mu);
	return 0;
}

/*
 * The slot for key: the one that has it, else an unused one, else the one idle the
 * longest (it takes the new key). NULL with err when all are active.
 */
static struct size *
size_find(struct fr_scale *sc, const struct fr_scale_spec *key, bool may_take, char *err)
{
	struct size *idle = NULL;

	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++) {
		struct size *z = &sc->sizes[i];

		if (z->is_used && z->key.denom == key->denom && z->key.quality == key->quality)
			return z;
	}
	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++) {
		struct size *z = &sc->sizes[i];

		if (!z->is_used) {
			idle = z;
			break;
		}
		if (!z->is_active && (idle == NULL || z->idle_since < idle->idle_since))
			idle = z;
	}
	if (idle == NULL) {
		snprintf(err, FR_ERR_LEN, "stream %s has %d sizes scaled for subscribers already",
		    sc->stream->name, FR_SCALE_MAX_SIZES);
		return NULL;
	}
	if (may_take && size_init(sc, idle, key, err) < 0)
		return NULL;
	return idle;
}

/* The stream a member at denom (with its quality) belongs in: NULL for the stream
 * itself (full size, source quality). */
static struct size *
member_size(struct fr_scale *sc, const struct member *m, unsigned denom, char *err)
{
	struct fr_scale_spec key = { .denom = denom, .quality = m->spec.quality };

	if (fr_scale_spec_is_plain(&key))
		return NULL;
	return size_find(sc, &key, true, err);
}

static struct fr_stream *
member_stream(const struct member *m)
{
	return m->slot < 0 ? m->sc->stream : m->sc->sizes[m->slot].stream;
}

/* ---- adopting what the worker made ---- */

static void waiters_check(struct fr_scale *sc, struct size *z);

static void
adopt(struct fr_scale *sc, struct size *z, struct report *r)
{
	double now = ev_now(sc->loop);

	z->frames_scaled += r->scaled;
	z->cpu_ns += r->cpu_ns;
	sc->stream->counters.frames_scaled += r->scaled;
	sc->stream->counters.scale_cpu_ns += r->cpu_ns;
	for (uint64_t i = 0; i < r->failed; i++) {
		sc->stream->counters.dropped_scale_invalid++;
		fr_stream_note_drop(z->stream, FR_DROP_INVALID, r->failed_bytes, now, r->err);
	}
	if (r->failed_seq > z->failed_seq)
		z->failed_seq = r->failed_seq;
	if (!r->has_frame)
		return;
	/* Nobody watches any more, or the size has a newer frame already. */
	if (!z->is_active || (z->stream->latest != NULL && r->seq < z->latest_seq)) {
		free(r->out.data);
		return;
	}
	struct fr_frame *f = fr_frame_new_take(r->out.data, r->out.len);
	if (f == NULL) {
		log_warnx("stream %s: out of memory for a scaled frame", z->stream->name);
		return;
	}
	f->width = r->out.width;
	f->height = r->out.height;
	/* Its age is the source frame's: scaling is part of the delay. */
	f->received_at = r->received_at;
	z->latest_seq = r->seq;
	z->latest_quality = r->out.quality;
	fr_stream_publish(z->stream, f);
	fr_frame_unref(f);
}

static void
done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct fr_scale *sc = FR_CONTAINER_OF(w, struct fr_scale, done);
	struct report got[FR_SCALE_MAX_SIZES];

	(void)loop, (void)revents;
	pthread_mutex_lock(&sc->mu);
	memcpy(got, sc->reports, sizeof got);
	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++)
		memset(&sc->reports[i], 0, sizeof sc->reports[i]);
	pthread_mutex_unlock(&sc->mu);
	release_done(sc);
	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++) {
		if (!sc->sizes[i].is_used) {
			free(got[i].out.data);
			continue;
		}
		adopt(sc, &sc->sizes[i], &got[i]);
		waiters_check(sc, &sc->sizes[i]);
	}
}

/* ---- snapshots ---- */

static void
waiter_end(struct fr_scale_waiter *w)
{
	struct fr_scale *sc = w->sc;
	struct size *z = &sc->sizes[w->slot];

	fr_list_remove(&w->link);
	w->sc = NULL;
	z->waiters--;
	size_update(sc, z);
}

/* Answers the waiters of z whose frame is there or has failed. */
static void
waiters_check(struct fr_scale *sc, struct size *z)
{
	unsigned slot = (unsigned)(z - sc->sizes);

	/* A callback may end or add other waiters: start over after each one. */
	for (struct fr_list *l = sc->waiters.next; l != &sc->waiters;) {
		struct fr_scale_waiter *w = FR_CONTAINER_OF(l, struct fr_scale_waiter, link);
		struct fr_frame *f = z->stream->latest;

		if (w->slot == slot && f != NULL && z->latest_seq >= w->want_seq) {
			f = fr_frame_ref(f);	/* the size may go idle and drop it */
			waiter_end(w);
			w->fn(w->arg, f, NULL);
			fr_frame_unref(f);
		} else if (w->slot == slot && z->failed_seq > w->want_seq) {
			waiter_end(w);
			w->fn(w->arg, NULL, "the latest frame could not be scaled");
		} else {
			l = l->next;
			continue;
		}
		l = sc->waiters.next;
	}
}

struct fr_frame *
fr_scale_snapshot(struct fr_scale *sc, const struct fr_scale_spec *spec,
    struct fr_scale_waiter *w, fr_scale_snapshot_fn fn, void *arg)
{
	char err[FR_ERR_LEN];
	struct size *z = size_find(sc, spec, true, err);
	struct fr_frame *latest = sc->stream->latest;

	/* fr_scale_check() gave the size a slot, and nothing ran since. */
	assert(z != NULL && latest != NULL && !spec->is_auto);
	if (z->stream->latest != NULL && z->latest_seq >= latest->seq)
		return z->stream->latest;
	*w = (struct fr_scale_waiter){ .sc = sc, .slot = (unsigned)(z - sc->sizes),
		.want_seq = latest->seq, .fn = fn, .arg = arg };
	fr_list_append(&sc->waiters, &w->link);
	z->waiters++;
	size_update(sc, z);
	return NULL;
}

void
fr_scale_snapshot_cancel(struct fr_scale_waiter *w)
{
	if (w->sc != NULL)
		waiter_end(w);
}

/* ---- subscribers ---- */

/*
 * Moves m to the size of denom; false (it stays) when no slot is free. It gets that
 * size's next frame; when the size starts with the move, the stream's latest frame
 * scaled, which it may have had at its old size already.
 */
static bool
member_move(struct member *m, unsigned denom)
{
	struct fr_scale *sc = m->sc;
	char err[FR_ERR_LEN];
	struct size *z = member_size(sc, m, denom, err);
	int slot = z != NULL ? (int)(z - sc->sizes) : -1;

	if (z == NULL && !(denom == 1 && m->spec.quality == 0))
		return false;
	if (slot == m->slot && denom == m->denom)
		return true;
	struct fr_stream *from = member_stream(m);
	m->slot = slot;
	m->denom = denom;
	m->changed_at = ev_now(sc->loop);
	fr_stream_move_sub(from, member_stream(m), m->sub);
	return true;
}

static void
member_close_cb(struct fr_sub *sub, void *arg)
{
	struct member *m = arg;

	fr_stream_remove_sub(member_stream(m), sub);
	fr_list_remove(&m->link);
	if (m->spec.is_auto && --m->sc->n_auto == 0)
		ev_timer_stop(m->sc->loop, &m->sc->auto_timer);
	free(m);
}

int
fr_scale_check(struct fr_scale *sc, const struct fr_scale_spec *spec, char *err)
{
	if (!fr_scaler_is_available()) {
		snprintf(err, FR_ERR_LEN, "this framerouter was built without libjpeg-turbo: "
		    "no scaled frames");
		return 501;
	}
	/* The size the subscriber starts at gets its slot now (an idle one may take the
	 * new key), so that subscribing or waiting cannot fail later. */
	struct fr_scale_spec start = { .denom = spec->denom, .quality = spec->quality };
	if (!fr_scale_spec_is_plain(&start) && size_find(sc, &start, true, err) == NULL)
		return 503;
	if (start_worker(sc, err) < 0)
		return 503;
	return 0;
}

bool
fr_scale_subscribe(struct fr_scale *sc, const struct fr_scale_spec *spec, int fd,
    const struct fr_addr *peer, const struct fr_sub_params *params)
{
	struct member *m = calloc(1, sizeof *m);
	struct fr_sub_params p = *params;
	char err[FR_ERR_LEN];

	if (m == NULL) {
		close(fd);
		return false;
	}
	*m = (struct member){ .sc = sc, .spec = *spec, .denom = spec->denom, .fd = fd,
		.changed_at = ev_now(sc->loop), .steady_since = ev_now(sc->loop),
		.period_at = ev_now(sc->loop),
		.probe_s = AUTO_PROBE_S };
	struct size *z = member_size(sc, m, m->denom, err);
	if (z == NULL && !(m->denom == 1 && spec->quality == 0)) {
		/* fr_scale_check() said yes and nothing ran since: cannot happen. */
		log_warnx("stream %s: subscriber %s: %s", sc->stream->name, peer->text, err);
		free(m);
		close(fd);
		return false;
	}
	m->slot = z != NULL ? (int)(z - sc->sizes) : -1;
	p.on_close = member_close_cb;
	p.close_arg = m;
	if ((m->sub = fr_sub_new(sc->loop, fd, peer, &p)) == NULL) {
		free(m);
		return false;
	}
	fr_list_append(&sc->members, &m->link);
	if (spec->is_auto && sc->n_auto++ == 0)
		ev_timer_again(sc->loop, &sc->auto_timer);
	fr_stream_add_sub(member_stream(m), m->sub);
	return true;
}

/* ---- ?scale=auto ---- */

static int
denom_index(unsigned denom)
{
	for (size_t i = 0; i < FR_ARRAY_LEN(auto_denoms); i++)
		if (auto_denoms[i] == denom)
			return (int)i;
	return 0;
}

/* Bytes of a frame at auto size idx for m: the size's latest frame, else the stream's
 * scaled by auto_bytes_ratio; 0 when there is no frame to go by. */
static double
frame_bytes_at(const struct member *m, int idx)
{
	const struct fr_scale *sc = m->sc;
	const struct fr_frame *full = sc->stream->latest;

	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++) {
		const struct size *z = &sc->sizes[i];

		if (z->is_used && z->key.denom == auto_denoms[idx] &&
		    z->key.quality == m->spec.quality && z->stream->latest != NULL)
			return (double)z->stream->latest->len;
	}
	if (full == NULL)
		return 0;
	return (double)full->len * auto_bytes_ratio[idx];
}

/* What the kernel measured of a TCP subscriber: its delivery rate (bytes/s, 0 when
 * not known; *is_app_limited when it was sending less than the link takes) and the
 * bytes written but not sent yet. False for a socket that is not TCP. */
static bool
link_info(int fd, double *rate, bool *is_app_limited, double *unsent)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_delivery_rate) + sizeof ti.tcpi_delivery_rate)
		return false;
	*rate = (double)ti.tcpi_delivery_rate;
	*is_app_limited = ti.tcpi_delivery_rate_app_limited;
	*unsent = (double)ti.tcpi_notsent_bytes;
	return true;
}

/* The largest size from idx down whose frames at fps fit in rate; the smallest if none. */
static int
size_for_rate(const struct member *m, int idx, double rate, double fps)
{
	int last = (int)FR_ARRAY_LEN(auto_denoms) - 1;

	for (; idx < last; idx++)
		if (frame_bytes_at(m, idx) * fps <= AUTO_HEADROOM * rate)
			break;
	return idx;
}

/* Moves m down from size at: to the size the measured rate fits, at least one down. */
static void
auto_down(struct member *m, int at, double rate, bool is_app_limited, double now)
{
	double fps = fr_stream_input_fps(m->sc->stream, now);
	int to = at + 1;

	if (to >= (int)FR_ARRAY_LEN(auto_denoms))
		return;
	if (!is_app_limited && rate > 0 && fps > 0)
		to = size_for_rate(m, to, rate, fps);
	if (m->was_probe && now - m->changed_at < AUTO_PROBE_S)
		m->probe_s = m->probe_s * 2 > AUTO_PROBE_MAX_S ? AUTO_PROBE_MAX_S : m->probe_s * 2;
	m->was_probe = false;
	m->steady_since = now;
	member_move(m, auto_denoms[to]);
}

/*
 * One tick of an auto member. It is behind when more than AUTO_BACKLOG_FRAMES of its
 * frames wait unsent in the kernel and that backlog is not shrinking (TCP only), or
 * when over a period it skipped more than a quarter of the frames offered: it moves
 * down to the largest size whose frames at the input rate fit in the delivery rate
 * the kernel measured, at least one size. After AUTO_PROBE_S at a smaller size without
 * a skip or a backlog, it tries one size up, unless a rate measured at the link's
 * limit says that size does not fit; a try that falls behind within AUTO_PROBE_S
 * doubles the wait for the next (up to AUTO_PROBE_MAX_S).
 */
static void
auto_evaluate(struct member *m, double now)
{
	double rate = 0, unsent = 0;
	bool is_app_limited = true;
	bool has_link = link_info(m->fd, &rate, &is_app_limited, &unsent);
	int at = denom_index(m->denom);
	double frame = frame_bytes_at(m, at);
	bool is_growing = unsent >= m->last_unsent;

	m->last_unsent = unsent;
	if (has_link && frame > 0 && unsent > AUTO_BACKLOG_FRAMES * frame && is_growing) {
		auto_down(m, at, rate, is_app_limited, now);
		return;
	}
	if (has_link && frame > 0 && unsent > frame)
		m->steady_since = now;	/* draining: not steady yet */
	if (now - m->period_at < AUTO_PERIOD_S)
		return;
	struct fr_sub_info info;
	fr_sub_get_info(m->sub, &info);
	uint64_t sent = info.counters.frames_sent - m->last_sent;
	uint64_t dropped = info.counters.frames_dropped - m->last_dropped;
	m->last_sent = info.counters.frames_sent;
	m->last_dropped = info.counters.frames_dropped;
	m->period_at = now;
	if (sent + dropped >= AUTO_MIN_OFFERED &&
	    (double)dropped > AUTO_BEHIND_RATIO * (double)(sent + dropped)) {
		auto_down(m, at, rate, is_app_limited, now);
		return;
	}
	if (dropped > 0) {
		m->steady_since = now;
		return;
	}
	if (m->was_probe && now - m->changed_at >= AUTO_PROBE_S)
		m->probe_s = AUTO_PROBE_S;	/* the last try held */
	if (at == 0 || now - m->steady_since < m->probe_s || now - m->changed_at < m->probe_s)
		return;
	double fps = fr_stream_input_fps(m->sc->stream, now);
	if (has_link && !is_app_limited && rate > 0 && fps > 0 &&
	    frame_bytes_at(m, at - 1) * fps > AUTO_HEADROOM * rate)
		return;
	m->was_probe = member_move(m, auto_denoms[at - 1]);
	m->steady_since = now;
}

static void
auto_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_scale *sc = FR_CONTAINER_OF(w, struct fr_scale, auto_timer);

	(void)revents;
	for (struct fr_list *l = sc->members.next; l != &sc->members; l = l->next) {
		struct member *m = FR_CONTAINER_OF(l, struct member, link);

		if (m->spec.is_auto)
			auto_evaluate(m, ev_now(loop));
	}
}

/* ---- lifetime ---- */

struct fr_scale *
fr_scale_new(struct ev_loop *loop, struct fr_stream *s)
{
	struct fr_scale *sc = calloc(1, sizeof *sc);

	if (sc == NULL)
		return NULL;
	sc->loop = loop;
	sc->stream = s;
	fr_list_init(&sc->members);
	fr_list_init(&sc->waiters);
	ev_async_init(&sc->done, done_cb);
	ev_init(&sc->auto_timer, auto_cb);
	sc->auto_timer.repeat = AUTO_TICK_S;
	pthread_mutex_init(&sc->mu, NULL);
	pthread_cond_init(&sc->cv, NULL);
	fr_stream_watch_frames(s, FR_WATCH_SCALE, frame_cb, sc);
	return sc;
}

void
fr_scale_free(struct fr_scale *sc)
{
	if (sc == NULL)
		return;
	fr_stream_watch_frames(sc->stream, FR_WATCH_SCALE, NULL, NULL);
	while (!fr_list_is_empty(&sc->members))
		fr_sub_close(FR_CONTAINER_OF(sc->members.next, struct member, link)->sub,
		    "shutting down");
	while (!fr_list_is_empty(&sc->waiters)) {
		struct fr_scale_waiter *w = FR_CONTAINER_OF(sc->waiters.next,
		    struct fr_scale_waiter, link);

		waiter_end(w);
		w->fn(w->arg, NULL, "the stream is gone");
	}
	if (sc->has_thread) {
		pthread_mutex_lock(&sc->mu);
		sc->quit = true;
		pthread_cond_signal(&sc->cv);
		pthread_mutex_unlock(&sc->mu);
		pthread_join(sc->thread, NULL);
		ev_async_stop(sc->loop, &sc->done);
	}
	sc->has_pending = false;
	sc->busy = NULL;
	release_done(sc);
	assert(sc->n_held == 0);
	ev_timer_stop(sc->loop, &sc->auto_timer);
	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++) {
		free(sc->reports[i].out.data);
		fr_stream_free(sc->sizes[i].stream);
	}
	pthread_mutex_destroy(&sc->mu);
	pthread_cond_destroy(&sc->cv);
	free(sc);
}

/* ---- counters ---- */

static void
member_label(const struct member *m, char *buf, size_t len)
{
	if (!m->spec.is_auto) {
		fr_scale_spec_format(&m->spec, buf, len);
		return;
	}
	struct fr_scale_spec now = { .denom = m->denom, .quality = m->spec.quality };
	char size[FR_SCALE_SPEC_TEXT_LEN];

	fr_scale_spec_format(&now, size, sizeof size);
	snprintf(buf, len, "auto:%s", size);
}

void
fr_scale_foreach_sub(struct fr_scale *sc, fr_scale_sub_fn fn, void *arg)
{
	for (struct fr_list *l = sc->members.next; l != &sc->members; l = l->next) {
		struct member *m = FR_CONTAINER_OF(l, struct member, link);
		char label[FR_SCALE_SPEC_TEXT_LEN + 8];

		member_label(m, label, sizeof label);
		fn(m->sub, label, arg);
	}
}

bool
fr_scale_is_member(const struct fr_scale *sc, const struct fr_sub *sub)
{
	if (sc->n_auto == 0)	/* only auto members live in the stream's own list */
		return false;
	for (const struct fr_list *l = sc->members.next; l != &sc->members; l = l->next)
		if (FR_CONTAINER_OF(l, struct member, link)->sub == sub)
			return true;
	return false;
}

size_t
fr_scale_sizes(const struct fr_scale *sc, struct fr_stats_scaled *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < FR_SCALE_MAX_SIZES && n < max; i++) {
		const struct size *z = &sc->sizes[i];
		const struct fr_frame *f = z->stream != NULL ? z->stream->latest : NULL;

		if (!z->is_used)
			continue;
		out[n] = (struct fr_stats_scaled){
			.clients = z->stream->counters.clients,
			.frames = z->stream->counters.frames_in,
			.frames_scaled = z->frames_scaled,
			.cpu_s = (double)z->cpu_ns / 1e9,
			.dropped_invalid = z->stream->counters.dropped_invalid,
			.latest_bytes = f != NULL ? f->len : 0,
			.latest_width = f != NULL ? f->width : 0,
			.latest_height = f != NULL ? f->height : 0,
			.latest_quality = f != NULL ? z->latest_quality : 0,
		};
		snprintf(out[n].scale, sizeof out[n].scale, "%s", z->label);
		n++;
	}
	return n;
}

void
fr_scale_log_counters(struct fr_scale *sc, double now)
{
	struct fr_stats_scaled sizes[FR_SCALE_MAX_SIZES];
	size_t n = fr_scale_sizes(sc, sizes, FR_SCALE_MAX_SIZES);
	char line[256];

	for (size_t i = 0; i < n; i++)
		log_info("stream %s: scale %s: clients=%llu frames=%llu frames_scaled=%llu "
		    "scale_cpu_s=%.3f dropped_invalid=%llu latest_bytes=%zu", sc->stream->name,
		    sizes[i].scale, (unsigned long long)sizes[i].clients,
		    (unsigned long long)sizes[i].frames, (unsigned long long)sizes[i].frames_scaled,
		    sizes[i].cpu_s, (unsigned long long)sizes[i].dropped_invalid,
		    sizes[i].latest_bytes);
	for (struct fr_list *l = sc->members.next; l != &sc->members; l = l->next) {
		struct member *m = FR_CONTAINER_OF(l, struct member, link);
		char label[FR_SCALE_SPEC_TEXT_LEN + 8];
		struct fr_sub_info info;

		if (m->slot < 0)	/* in the stream's own list: logged with it */
			continue;
		member_label(m, label, sizeof label);
		fr_sub_get_info(m->sub, &info);
		fr_stats_format_client(line, sizeof line, &info.counters);
		log_info("stream %s: client %s %s connected_s=%.1f %s scale=%s", sc->stream->name,
		    info.peer, info.protocol, now - info.connected_at, line, label);
	}
}
