/* SPDX-License-Identifier: MIT */
/*
 * The streams of this daemon by name, each with its producer slot. Streams come
 * from the configuration or, pushed over HTTP, into being on first push, up to
 * --max-streams. Also gathers every counter into one snapshot for /stats.
 */
#ifndef FR_REGISTRY_H
#define FR_REGISTRY_H

#include <ev.h>

#include "fr/ingest.h"
#include "fr/stats.h"
#include "fr/stream.h"

struct fr_registry_entry {
	struct fr_stream *stream;
	struct fr_ingest *ingest;
};

struct fr_registry;

struct fr_registry *fr_registry_new(struct ev_loop *loop, const struct fr_ingest_params *params,
    size_t max_streams);

/* Frees every stream, closing its producer and subscribers. NULL does nothing. */
void fr_registry_free(struct fr_registry *reg);

/* The stream called name, or NULL. */
struct fr_registry_entry *fr_registry_find(struct fr_registry *reg, const char *name);

/*
 * A new stream called name. NULL with one line in err (FR_ERR_LEN bytes) if the
 * name is invalid or taken, --max-streams is reached, or memory is short.
 */
struct fr_registry_entry *fr_registry_add(struct fr_registry *reg, const char *name, char *err);

size_t fr_registry_count(const struct fr_registry *reg);
struct fr_registry_entry *fr_registry_at(struct fr_registry *reg, size_t i);

/* New producer limits (SIGHUP), for every stream now and every stream created later. */
void fr_registry_set_ingest_params(struct fr_registry *reg, const struct fr_ingest_params *params);

/* The process-wide count of connections refused by --allow, for listeners to bump. */
uint64_t *fr_registry_connections_denied(struct fr_registry *reg);

/* Subscribers connected to all streams together. */
uint64_t fr_registry_clients(const struct fr_registry *reg);

enum fr_registry_format { FR_REGISTRY_JSON, FR_REGISTRY_PROMETHEUS };

/* Every counter of every stream and subscriber, formatted into b. */
void fr_registry_format_stats(struct fr_registry *reg, enum fr_registry_format format,
    struct fr_buf *b);

/* Writes every counter to the log (SIGUSR1). */
void fr_registry_log_counters(struct fr_registry *reg);

#endif /* FR_REGISTRY_H */
