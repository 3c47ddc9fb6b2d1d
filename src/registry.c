/* SPDX-License-Identifier: MIT */
/*
 * The table of streams. Few streams (--max-streams, default 64), looked up by
 * name once per connection: a linear search over an array is all it needs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fr/config.h"
#include "fr/log.h"
#include "fr/registry.h"
#include "fr/util.h"
#include "fr/xmalloc.h"

struct fr_registry {
	struct ev_loop *loop;
	struct fr_ingest_params params;
	double started_at;
	size_t max_streams;
	struct fr_process_counters counters;
	double idle_timeout_s;		/* for streams that are not declared; 0: never */
	double stale_after_s;		/* --stale-after; 0: never */
	ev_timer expiry;
	ev_timer history_timer;		/* samples every stream once a second */
	double history_at;		/* when the last samples were taken (or the start) */
	uint64_t history_next;		/* the number of the next sample, for every stream */
	size_t n;
	struct fr_registry_entry **entries;	/* max_streams of them; the first n used */
	struct fr_registry_watcher watcher;	/* all NULL: none */
};

static void expiry_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void history_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct fr_registry *
fr_registry_new(struct ev_loop *loop, const struct fr_ingest_params *params, size_t max_streams)
{
	struct fr_registry *reg = fr_xcalloc(1, sizeof *reg);

	reg->loop = loop;
	reg->params = *params;
	reg->started_at = ev_now(loop);
	reg->max_streams = max_streams;
	reg->entries = fr_xcalloc(max_streams, sizeof *reg->entries);
	ev_init(&reg->expiry, expiry_cb);
	ev_timer_init(&reg->history_timer, history_cb, 1.0, 1.0);
	reg->history_at = reg->started_at;
	return reg;
}

static void
entry_free(struct fr_registry *reg, struct fr_registry_entry *e)
{
	fr_pull_free(e->pull);	/* it ends its feed into the ingest */
	if (reg->watcher.removed != NULL)
		reg->watcher.removed(e, reg->watcher.arg);
	fr_ingest_free(e->ingest);
	fr_scale_free(e->scale);	/* its subscribers count in the stream's */
	fr_stream_free(e->stream);
	free(e->history);
	free(e);
}

void
fr_registry_free(struct fr_registry *reg)
{
	if (reg == NULL)
		return;
	ev_timer_stop(reg->loop, &reg->expiry);
	ev_timer_stop(reg->loop, &reg->history_timer);
	for (size_t i = 0; i < reg->n; i++)
		entry_free(reg, reg->entries[i]);
	free(reg->entries);
	free(reg);
}

struct fr_registry_entry *
fr_registry_find(struct fr_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->entries[i]->stream->name, name) == 0)
			return reg->entries[i];
	return NULL;
}

enum fr_registry_error
fr_registry_add(struct fr_registry *reg, const char *name, bool is_declared,
    struct fr_registry_entry **out, char *err)
{
	struct fr_registry_entry *e;

	*out = NULL;
	if (!fr_config_is_valid_stream_name(name)) {
		snprintf(err, FR_ERR_LEN, "stream names are 1-%d of A-Z a-z 0-9 . _ - and not "
		    "only dots", FR_STREAM_NAME_MAX);
		return FR_REGISTRY_BAD_NAME;
	}
	if (fr_registry_find(reg, name) != NULL) {
		snprintf(err, FR_ERR_LEN, "stream %s exists", name);
		return FR_REGISTRY_EXISTS;
	}
	if (reg->n == reg->max_streams) {
		snprintf(err, FR_ERR_LEN, "--max-streams %zu reached", reg->max_streams);
		return FR_REGISTRY_FULL;
	}
	/* The history's ring is allocated once here, whole: sampling never allocates. */
	if ((e = calloc(1, sizeof *e)) == NULL || (e->history = malloc(sizeof *e->history)) ==
	    NULL || (e->stream = fr_stream_new(name)) == NULL ||
	    (e->ingest = fr_ingest_new(reg->loop, e->stream, &reg->params)) == NULL ||
	    (e->scale = fr_scale_new(reg->loop, e->stream)) == NULL) {
		if (e != NULL) {
			fr_ingest_free(e->ingest);
			fr_stream_free(e->stream);
			free(e->history);
		}
		free(e);
		snprintf(err, FR_ERR_LEN, "out of memory");
		return FR_REGISTRY_NO_MEMORY;
	}
	e->is_declared = is_declared;
	fr_history_init(e->history, reg->history_next);
	reg->entries[reg->n++] = e;
	*out = e;
	if (reg->watcher.added != NULL)
		reg->watcher.added(e, reg->watcher.arg);
	return FR_REGISTRY_OK;
}

void
fr_registry_watch(struct fr_registry *reg, const struct fr_registry_watcher *w)
{
	reg->watcher = w != NULL ? *w : (struct fr_registry_watcher){0};
	for (size_t i = 0; i < reg->n && reg->watcher.added != NULL; i++)
		reg->watcher.added(reg->entries[i], reg->watcher.arg);
}

static bool
is_in_use(const struct fr_registry_entry *e)
{
	return e->stream->counters.clients > 0 || fr_ingest_producer(e->ingest) != NULL;
}

/* Removes entry i, keeping the others in order (they are listed in /stats so). */
static void
expire(struct fr_registry *reg, size_t i, double now)
{
	struct fr_registry_entry *e = reg->entries[i];

	log_info("stream %s: removed after %.0f s without a producer or a subscriber "
	    "(--stream-idle-timeout)", e->stream->name, now - e->idle_since);
	reg->counters.streams_expired++;
	memmove(&reg->entries[i], &reg->entries[i + 1], (reg->n - i - 1) * sizeof *reg->entries);
	reg->n--;
	entry_free(reg, e);
}

/* Runs a few times per timeout: a stream lives at most a fraction longer than it. */
static void
expiry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_registry *reg = FR_CONTAINER_OF(w, struct fr_registry, expiry);
	double now = ev_now(loop);

	(void)revents;
	for (size_t i = 0; i < reg->n;) {
		struct fr_registry_entry *e = reg->entries[i];

		if (e->is_declared || is_in_use(e)) {
			e->idle_since = 0;
		} else if (e->idle_since == 0) {
			e->idle_since = now;
		} else if (now - e->idle_since >= reg->idle_timeout_s) {
			expire(reg, i, now);
			continue;
		}
		i++;
	}
}

void
fr_registry_set_idle_timeout(struct fr_registry *reg, double idle_timeout_s)
{
	double every_s = idle_timeout_s / 4;

	reg->idle_timeout_s = idle_timeout_s;
	ev_timer_stop(reg->loop, &reg->expiry);
	if (idle_timeout_s <= 0)
		return;
	if (every_s > 1.0)
		every_s = 1.0;
	ev_timer_set(&reg->expiry, every_s, every_s);
	ev_timer_start(reg->loop, &reg->expiry);
}

void
fr_registry_set_ingest_params(struct fr_registry *reg, const struct fr_ingest_params *params)
{
	reg->params = *params;
	for (size_t i = 0; i < reg->n; i++)
		fr_ingest_set_params(reg->entries[i]->ingest, params);
}

struct fr_process_counters *
fr_registry_counters(struct fr_registry *reg)
{
	return &reg->counters;
}

uint64_t *
fr_registry_connections_denied(struct fr_registry *reg)
{
	return &reg->counters.connections_denied;
}

bool
fr_registry_any(struct fr_registry *reg, fr_registry_filter_fn fn, void *arg)
{
	for (size_t i = 0; i < reg->n; i++)
		if (fn(reg->entries[i], arg))
			return true;
	return false;
}

uint64_t
fr_registry_clients(const struct fr_registry *reg)
{
	uint64_t n = 0;

	for (size_t i = 0; i < reg->n; i++)
		n += reg->entries[i]->stream->counters.clients;
	return n;
}

/* The client array of a stream's snapshot, with room for each client's scale label. */
struct snap_clients {
	struct fr_stats_client *clients;
	char (*labels)[FR_SCALE_SPEC_TEXT_LEN + 8];
	size_t n, max;
	double now;
};

static void
snap_client(struct fr_sub *sub, const char *scale, void *arg)
{
	struct snap_clients *sn = arg;
	struct fr_sub_info info;

	if (sn->n == sn->max)
		return;
	fr_sub_get_info(sub, &info);
	if (scale != NULL) {
		snprintf(sn->labels[sn->n], sizeof sn->labels[sn->n], "%s", scale);
		scale = sn->labels[sn->n];
	}
	sn->clients[sn->n++] = (struct fr_stats_client){
		.peer = info.peer,
		.protocol = info.protocol,
		.scale = scale,
		.connected_s = sn->now - info.connected_at,
		.counters = info.counters,
	};
}

/* Fills one stream's part of the snapshot; its client and scaled arrays (one
 * allocation, clients first) are allocated here. */
static int
snapshot_stream(const struct fr_registry *reg, struct fr_registry_entry *e, double now,
    struct fr_stats_stream *out, struct fr_stats_upstream *upstream)
{
	const struct fr_stream *s = e->stream;
	struct snap_clients sn = { .max = s->counters.clients, .now = now };
	size_t client_bytes = (sn.max + 1) * (sizeof *sn.clients + sizeof *sn.labels);
	char *block = calloc(1, client_bytes + FR_SCALE_MAX_SIZES * sizeof(struct fr_stats_scaled));

	if (block == NULL)
		return -1;
	sn.clients = (struct fr_stats_client *)(void *)block;
	sn.labels = (void *)(block + (sn.max + 1) * sizeof *sn.clients);
	struct fr_stats_scaled *scaled = (void *)(block + client_bytes);
	/* The stream's own subscribers, then those of its scaled sizes (and on auto). */
	for (struct fr_list *l = s->subs.next; l != &s->subs; l = l->next)
		if (!fr_scale_is_member(e->scale, fr_sub_from_link(l)))
			snap_client(fr_sub_from_link(l), NULL, &sn);
	fr_scale_foreach_sub(e->scale, snap_client, &sn);
	size_t n = sn.n;
	struct fr_stats_client *clients = sn.clients;
	if (e->pull != NULL)
		fr_pull_get_info(e->pull, now, upstream);
	*out = (struct fr_stats_stream){
		.name = s->name,
		.upstream = e->pull != NULL ? upstream : NULL,
		.counters = s->counters,
		.producer = fr_ingest_producer(e->ingest),
		.input_fps = fr_stream_input_fps(s, now),
		.latest_bytes = s->latest ? s->latest->len : 0,
		.latest_width = s->latest ? s->latest->width : 0,
		.latest_height = s->latest ? s->latest->height : 0,
		.latest_age_s = s->latest ? now - s->latest->received_at : -1,
		.stale_after_s = fr_registry_stale_after(reg, e),
		.is_stale = fr_registry_is_stale(reg, e, now),
		.n_clients = n,
		.clients = clients,
		.n_scaled = fr_scale_sizes(e->scale, scaled, FR_SCALE_MAX_SIZES),
		.scaled = scaled,
	};
	return 0;
}

void
fr_registry_format_stats_for(struct fr_registry *reg, enum fr_registry_format format,
    fr_registry_filter_fn may_see, void *arg, struct fr_buf *b)
{
	struct fr_stats_stream *streams = calloc(reg->n + 1, sizeof *streams);
	struct fr_stats_upstream *upstreams = calloc(reg->n + 1, sizeof *upstreams);
	double now = ev_now(reg->loop);
	size_t n = 0;

	if (streams == NULL || upstreams == NULL) {
		b->has_failed = 1;
		free(streams);
		free(upstreams);
		return;
	}
	for (size_t i = 0; i < reg->n; i++) {
		if (may_see != NULL && !may_see(reg->entries[i], arg))
			continue;
		if (snapshot_stream(reg, reg->entries[i], now, &streams[n], &upstreams[n]) < 0) {
			b->has_failed = 1;
			goto out;
		}
		n++;
	}
	struct fr_stats_snapshot snap = {
		.version = PACKAGE_VERSION,
		.uptime_s = now - reg->started_at,
		.counters = reg->counters,
		.n_streams = n,
		.streams = streams,
	};
	if (reg->watcher.stats != NULL)
		reg->watcher.stats(&snap, reg->watcher.arg);
	if (format == FR_REGISTRY_JSON)
		fr_stats_format_json(b, &snap);
	else
		fr_stats_format_prometheus(b, &snap);
out:
	for (size_t i = 0; i < n; i++)
		free((void *)streams[i].clients);
	free(streams);
	free(upstreams);
}

void
fr_registry_format_stats(struct fr_registry *reg, enum fr_registry_format format,
    struct fr_buf *b)
{
	fr_registry_format_stats_for(reg, format, NULL, NULL, b);
}

void
fr_registry_log_counters(struct fr_registry *reg)
{
	char line[FR_STATS_LINE_MAX];

	fr_stats_format_process(line, sizeof line, &reg->counters);
	log_info("counters: %s", line);
	if (reg->watcher.log_counters != NULL)
		reg->watcher.log_counters(reg->watcher.arg);
	for (size_t i = 0; i < reg->n; i++) {
		struct fr_registry_entry *e = reg->entries[i];

		fr_stream_log_counters(e->stream, ev_now(reg->loop));
		if (e->pull != NULL) {
			struct fr_stats_upstream u;

			fr_pull_get_info(e->pull, ev_now(reg->loop), &u);
			fr_stats_format_upstream(line, sizeof line, &u);
			log_info("stream %s: upstream %s %s", e->stream->name, u.url, line);
		}
		fr_scale_log_counters(e->scale, ev_now(reg->loop));
	}
}

/* ---- history and staleness ---- */

/*
 * The age of the oldest frame a subscriber is being sent, in ms (UINT64_MAX: none yet):
 * for each, the larger of the age its last frame had when its write completed
 * (frame_age_ms) and the age of the frame it is writing now, so that one that stalls
 * mid-frame shows too.
 */
struct oldest {
	double now;
	uint64_t ms;
};

static void
oldest_sending_cb(struct fr_sub *sub, const char *scale, void *arg)
{
	struct oldest *o = arg;
	struct fr_sub_info info;
	double since = fr_sub_sending_since(sub);

	(void)scale;
	fr_sub_get_info(sub, &info);
	uint64_t ms = info.counters.frames_sent > 0 ? info.counters.frame_age_ms : FR_HISTORY_NONE;
	if (since > 0) {
		uint64_t now_ms = (uint64_t)((o->now > since ? o->now - since : 0) * 1000 + 0.5);

		if (ms == FR_HISTORY_NONE || now_ms > ms)
			ms = now_ms;
	}
	if (ms != FR_HISTORY_NONE && (o->ms == FR_HISTORY_NONE || ms > o->ms))
		o->ms = ms;
}

/* What e's history records now: its totals, subscribers and the oldest frame age
 * among its own subscribers and those of its scaled sizes. */
static void
read_stream(struct fr_registry_entry *e, double now, struct fr_history_reading *r)
{
	struct fr_stream_counters c = e->stream->counters;
	struct oldest oldest = { now, FR_HISTORY_NONE };

	for (struct fr_list *l = e->stream->subs.next; l != &e->stream->subs; l = l->next)
		oldest_sending_cb(fr_sub_from_link(l), NULL, &oldest);
	fr_scale_foreach_sub(e->scale, oldest_sending_cb, &oldest);
	*r = (struct fr_history_reading){ .v = {
		[FR_HISTORY_FRAMES_IN] = c.frames_in,
		[FR_HISTORY_BYTES_IN] = c.bytes_in,
		[FR_HISTORY_FRAMES_OUT] = c.frames_out,
		[FR_HISTORY_CLIENTS] = c.clients,
		[FR_HISTORY_OLDEST_AGE_MS] = oldest.ms,
	} };
	for (int reason = 0; reason < FR_DROP_REASONS; reason++)
		r->v[FR_HISTORY_DROPPED + reason] = *fr_stats_drop_counter(&c, reason);
}

void
fr_registry_sample_history(struct fr_registry *reg, double now)
{
	uint64_t k = fr_history_steps(now - reg->history_at);

	if (now < reg->history_at)	/* the wall clock was set back: count from here */
		reg->history_at = now;
	if (k == 0)
		return;
	for (size_t i = 0; i < reg->n; i++) {
		struct fr_history_reading r;

		read_stream(reg->entries[i], now, &r);
		fr_history_record(reg->entries[i]->history, &r, now, k);
	}
	reg->history_next += k;
	reg->history_at = now;
}

static void
history_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_registry *reg = FR_CONTAINER_OF(w, struct fr_registry, history_timer);

	(void)revents;
	fr_registry_sample_history(reg, ev_now(loop));
}

void
fr_registry_start_history(struct fr_registry *reg)
{
	ev_timer_start(reg->loop, &reg->history_timer);
}

void
fr_registry_format_history(struct fr_registry *reg, const char *only, uint64_t since,
    fr_registry_filter_fn may_see, void *arg, struct fr_buf *b)
{
	bool is_first = true;

	fr_buf_printf(b, "{\"interval_s\": 1, \"seconds\": %d, \"next\": %" PRIu64
	    ", \"streams\": {", FR_HISTORY_SECONDS, reg->history_next);
	for (size_t i = 0; i < reg->n; i++) {
		const struct fr_registry_entry *e = reg->entries[i];

		if ((only != NULL && strcmp(e->stream->name, only) != 0) ||
		    (may_see != NULL && !may_see(e, arg)))
			continue;
		/* Stream names are [A-Za-z0-9._-] (fr_registry_add): nothing to escape. */
		fr_buf_printf(b, "%s\"%s\": ", is_first ? "" : ", ", e->stream->name);
		fr_history_format_json(b, e->history, since);
		is_first = false;
	}
	fr_buf_append(b, "}}\n", 3);
}

void
fr_registry_set_stale_after(struct fr_registry *reg, double stale_after_s)
{
	reg->stale_after_s = stale_after_s;
}

double
fr_registry_stale_after(const struct fr_registry *reg, const struct fr_registry_entry *e)
{
	return e->stale_after_s > 0 ? e->stale_after_s : reg->stale_after_s;
}

bool
fr_registry_is_stale(const struct fr_registry *reg, const struct fr_registry_entry *e,
    double now)
{
	double limit = fr_registry_stale_after(reg, e);
	const struct fr_frame *f = e->stream->latest;

	return limit > 0 && f != NULL && now - f->received_at > limit;
}
