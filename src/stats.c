/* SPDX-License-Identifier: MIT */
/*
 * Text forms of the counters. The SIGUSR1 dump uses these lines; keeping the names
 * here, next to the structs, keeps the log, /stats and /metrics spelled alike.
 */
#include <inttypes.h>
#include <stdio.h>

#include "fr/stats.h"

void
fr_stats_format_stream(char *buf, size_t len, const struct fr_stream_counters *c)
{
	snprintf(buf, len,
	    "frames_in=%" PRIu64 " bytes_in=%" PRIu64 " frames_out=%" PRIu64
	    " bytes_out=%" PRIu64 " dropped_slow_client=%" PRIu64 " dropped_invalid=%" PRIu64
	    " dropped_oversize=%" PRIu64 " dropped_truncated=%" PRIu64 " garbage_bytes=%" PRIu64
	    " clients=%" PRIu64 " clients_refused=%" PRIu64 " producer_connected=%" PRIu64
	    " producer_connects=%" PRIu64,
	    c->frames_in, c->bytes_in, c->frames_out, c->bytes_out, c->dropped_slow_client,
	    c->dropped_invalid, c->dropped_oversize, c->dropped_truncated, c->garbage_bytes,
	    c->clients, c->clients_refused, c->producer_connected, c->producer_connects);
}

void
fr_stats_format_client(char *buf, size_t len, const struct fr_client_counters *c)
{
	snprintf(buf, len, "frames_sent=%" PRIu64 " frames_dropped=%" PRIu64 " bytes_sent=%" PRIu64,
	    c->frames_sent, c->frames_dropped, c->bytes_sent);
}
