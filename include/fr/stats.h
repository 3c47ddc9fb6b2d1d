/* SPDX-License-Identifier: MIT */
/*
 * Counters, named exactly as /stats, /metrics and the SIGUSR1 dump name them, and
 * their text formatting. Pure: structs in, text out.
 */
#ifndef FR_STATS_H
#define FR_STATS_H

#include <stddef.h>
#include <stdint.h>

struct fr_stream_counters {
	uint64_t frames_in;		/* whole frames published */
	uint64_t bytes_in;		/* every byte a producer sent */
	uint64_t frames_out;		/* frames fully written to a subscriber */
	uint64_t bytes_out;		/* bytes written to subscribers */
	uint64_t dropped_slow_client;	/* frames a subscriber skipped */
	uint64_t dropped_invalid;	/* broken structure, or rejected by --validate */
	uint64_t dropped_oversize;	/* larger than --max-frame-size */
	uint64_t dropped_truncated;	/* producer left mid-frame */
	uint64_t garbage_bytes;		/* bytes outside any frame */
	uint64_t clients;		/* subscribers connected now */
	uint64_t clients_refused;	/* refused by --max-clients */
	uint64_t producer_connects;	/* producer connections accepted */
	uint64_t producer_connected;	/* 1 while a producer is connected */
};

struct fr_client_counters {
	uint64_t frames_sent;
	uint64_t frames_dropped;	/* skipped because the client was slow */
	uint64_t bytes_sent;
};

/* One line "frames_in=… bytes_in=… …" of every stream counter, always NUL-terminated. */
void fr_stats_format_stream(char *buf, size_t len, const struct fr_stream_counters *c);

/* One line "frames_sent=… frames_dropped=… bytes_sent=…". */
void fr_stats_format_client(char *buf, size_t len, const struct fr_client_counters *c);

#endif /* FR_STATS_H */
