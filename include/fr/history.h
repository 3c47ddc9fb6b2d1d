/* SPDX-License-Identifier: MIT */
/*
 * A stream's recent past: a fixed ring of one-second samples for the last
 * FR_HISTORY_SECONDS (input fps, bytes in, frames out, drops by reason, subscribers,
 * the oldest frame age being sent), for GET /stats/history and the page's plots. The
 * ring is part of the struct: recording a sample never allocates. Pure: readings in,
 * samples and JSON text out; the caller's timer decides when to record.
 */
#ifndef FR_HISTORY_H
#define FR_HISTORY_H

#include <stdint.h>

#include "fr/stats.h"

/* Ten minutes of one-second samples. */
#define FR_HISTORY_SECONDS 600

/*
 * The columns of a sample, in JSON order. A counter column holds what its total grew
 * by during the sample's second; a gauge column holds the level when it was taken.
 */
enum fr_history_column {
	FR_HISTORY_FRAMES_IN,		/* counter: frames published (the input fps) */
	FR_HISTORY_BYTES_IN,		/* counter: bytes from producers */
	FR_HISTORY_FRAMES_OUT,		/* counter: frames written whole to subscribers */
	FR_HISTORY_DROPPED,		/* counters: frames dropped, one column per enum
					 * fr_drop_reason from here on */
	FR_HISTORY_CLIENTS = FR_HISTORY_DROPPED + FR_DROP_REASONS,	/* gauge: subscribers */
	FR_HISTORY_OLDEST_AGE_MS,	/* gauge: age of the oldest frame a subscriber was
					 * writing, in ms; FR_HISTORY_NONE when none was */
	FR_HISTORY_COLUMNS,
};

/* A gauge with no value (no subscriber was writing a frame). */
#define FR_HISTORY_NONE UINT64_MAX

/* What the caller reads from a stream when a sample is due: totals for the counter
 * columns (they never go down), levels for the gauge columns. */
struct fr_history_reading {
	uint64_t v[FR_HISTORY_COLUMNS];
};

/* One second. A value beyond UINT32_MAX is stored as UINT32_MAX - 1 (saturated);
 * UINT32_MAX is "none". */
struct fr_history_sample {
	uint32_t v[FR_HISTORY_COLUMNS];
};

/*
 * Samples are numbered by whoever takes them (the registry numbers them alike for
 * every stream, so that one ?since= fits all); a history holds the last n of them.
 */
struct fr_history {
	uint64_t next;			/* number of the next sample */
	uint32_t n;			/* samples held: next - n to next - 1 */
	double last_at;			/* when the last sample was taken; 0 before */
	struct fr_history_reading last;	/* the totals then (all 0 at the start) */
	struct fr_history_sample ring[FR_HISTORY_SECONDS];	/* sample i at ring[i % SECONDS] */
};

/* An empty history of something whose counters are all 0 now; its first sample
 * will be numbered first. */
void fr_history_init(struct fr_history *h, uint64_t first);

/*
 * How many one-second samples a reading elapsed_s after the last one makes: the
 * seconds rounded, so 0 under half a second (the caller waits for its next tick) and
 * more than one when a timer came late. 0 for a clock that went back.
 */
uint64_t fr_history_steps(double elapsed_s);

/*
 * Records a reading taken at time at as k samples (k >= 1, from fr_history_steps):
 * the counters' growth since the last reading spread evenly over them (the
 * remainder in the last), the gauges repeated. Of more than FR_HISTORY_SECONDS only
 * the newest are kept; the numbering goes on by k. Never allocates.
 */
void fr_history_record(struct fr_history *h, const struct fr_history_reading *r, double at,
    uint64_t k);

/* The sample numbered i, or NULL when it is not held (too old, or not taken yet). */
const struct fr_history_sample *fr_history_sample(const struct fr_history *h, uint64_t i);

/*
 * Appends one JSON object with the samples numbered since and later (all that are
 * held when since is older):
 *   {"first": F, "next": N, "at": T, "input_fps": [...], "bytes_in": [...],
 *    "frames_out": [...], "dropped": {REASON: [...], ...}, "clients": [...],
 *    "oldest_frame_age_s": [... or null]}
 * Arrays run oldest first and hold samples F to N - 1; sample N - 1 was taken at T
 * and each one before it a second earlier. A client polls again with since=N.
 */
void fr_history_format_json(struct fr_buf *b, const struct fr_history *h, uint64_t since);

#endif /* FR_HISTORY_H */
