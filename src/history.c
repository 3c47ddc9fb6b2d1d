/* SPDX-License-Identifier: MIT */
/*
 * The ring of one-second samples behind GET /stats/history and the page's plots.
 * Counters become per-second growth, gauges are kept as read; the ring is fixed in
 * the struct, so taking a sample costs a few stores and never an allocation. It
 * does not read streams or run timers: the registry does both.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "fr/history.h"

/* The columns' JSON keys; a drop reason's column is keyed by its reason, in "dropped". */
static const char *const keys[FR_HISTORY_COLUMNS] = {
	[FR_HISTORY_FRAMES_IN] = "input_fps",
	[FR_HISTORY_BYTES_IN] = "bytes_in",
	[FR_HISTORY_FRAMES_OUT] = "frames_out",
	[FR_HISTORY_CLIENTS] = "clients",
	[FR_HISTORY_OLDEST_AGE_MS] = "oldest_frame_age_s",
};

static bool
is_gauge(size_t c)
{
	return c == FR_HISTORY_CLIENTS || c == FR_HISTORY_OLDEST_AGE_MS;
}

static bool
is_drop(size_t c)
{
	return c >= FR_HISTORY_DROPPED && c < FR_HISTORY_DROPPED + FR_DROP_REASONS;
}

#define STORED_NONE UINT32_MAX

void
fr_history_init(struct fr_history *h, uint64_t first)
{
	memset(h, 0, sizeof *h);
	h->next = first;
	/* Counters start at 0 with their stream; a gauge has no earlier level. */
	h->last.v[FR_HISTORY_OLDEST_AGE_MS] = FR_HISTORY_NONE;
}

static uint32_t
stored(uint64_t v)
{
	if (v == FR_HISTORY_NONE)
		return STORED_NONE;
	return v >= STORED_NONE ? STORED_NONE - 1 : (uint32_t)v;
}

uint64_t
fr_history_steps(double elapsed_s)
{
	/* Also false for NaN; and no sample count a double cannot hold. */
	if (!(elapsed_s >= 0.5))
		return 0;
	return elapsed_s < 1e15 ? (uint64_t)floor(elapsed_s + 0.5) : (uint64_t)1e15;
}

void
fr_history_record(struct fr_history *h, const struct fr_history_reading *r, double at,
    uint64_t k)
{
	/* Of a long gap only the newest samples would stay in the ring: write only those. */
	uint64_t skipped = k > FR_HISTORY_SECONDS ? k - FR_HISTORY_SECONDS : 0;

	h->next += skipped;
	for (uint64_t j = skipped; j < k; j++) {
		struct fr_history_sample *s = &h->ring[h->next % FR_HISTORY_SECONDS];
		bool is_last = j + 1 == k;

		for (size_t c = 0; c < FR_HISTORY_COLUMNS; c++) {
			if (is_gauge(c)) {
				s->v[c] = stored(r->v[c]);
				continue;
			}
			/* Totals never go down; if one did, it grew by nothing. */
			uint64_t grew = r->v[c] > h->last.v[c] ? r->v[c] - h->last.v[c] : 0;
			s->v[c] = stored(grew / k + (is_last ? grew % k : 0));
		}
		h->next++;
	}
	h->n = h->n + k < FR_HISTORY_SECONDS ? h->n + (uint32_t)k : FR_HISTORY_SECONDS;
	h->last = *r;
	h->last_at = at;
}

const struct fr_history_sample *
fr_history_sample(const struct fr_history *h, uint64_t i)
{
	if (i >= h->next || i < h->next - h->n)
		return NULL;
	return &h->ring[i % FR_HISTORY_SECONDS];
}

/* One column as a JSON array of samples first..next-1. */
static void
json_column(struct fr_buf *b, const struct fr_history *h, uint64_t first, size_t c)
{
	fr_buf_append(b, "[", 1);
	for (uint64_t i = first; i < h->next; i++) {
		uint32_t v = h->ring[i % FR_HISTORY_SECONDS].v[c];
		const char *sep = i > first ? "," : "";

		if (v == STORED_NONE)
			fr_buf_printf(b, "%snull", sep);
		else if (c == FR_HISTORY_OLDEST_AGE_MS)
			fr_buf_printf(b, "%s%" PRIu32 ".%03" PRIu32, sep, v / 1000, v % 1000);
		else
			fr_buf_printf(b, "%s%" PRIu32, sep, v);
	}
	fr_buf_append(b, "]", 1);
}

void
fr_history_format_json(struct fr_buf *b, const struct fr_history *h, uint64_t since)
{
	uint64_t first = h->next - h->n;

	if (since > first)
		first = since < h->next ? since : h->next;
	fr_buf_printf(b, "{\"first\": %" PRIu64 ", \"next\": %" PRIu64 ", \"at\": %.3f", first,
	    h->next, h->last_at);
	for (size_t c = 0; c < FR_HISTORY_COLUMNS; c++) {
		if (!is_drop(c))
			fr_buf_printf(b, ", \"%s\": ", keys[c]);
		else
			fr_buf_printf(b, "%s\"%s\": ",
			    c == FR_HISTORY_DROPPED ? ", \"dropped\": {" : ", ",
			    fr_stats_drop_name((enum fr_drop_reason)(c - FR_HISTORY_DROPPED)));
		json_column(b, h, first, c);
		if (c + 1 == FR_HISTORY_DROPPED + FR_DROP_REASONS)
			fr_buf_append(b, "}", 1);
	}
	fr_buf_append(b, "}", 1);
}
