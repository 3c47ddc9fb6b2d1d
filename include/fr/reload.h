/* SPDX-License-Identifier: MIT */
/*
 * What a SIGHUP may change. The new configuration is parsed whole, the same way as
 * at startup; then only the settings that can change under running connections are
 * copied into the running one. Pure: structs in, notes out.
 */
#ifndef FR_RELOAD_H
#define FR_RELOAD_H

#include "fr/config.h"

enum fr_reload_note {
	FR_RELOAD_APPLIED,	/* "max-clients 1024 -> 2": in effect from now on */
	FR_RELOAD_NEEDS_RESTART, /* "--listen": differs, but stays as it is until a restart */
};

typedef void (*fr_reload_note_fn)(void *arg, enum fr_reload_note note, const char *what);

/*
 * Copies into running every live setting of next that differs (log level, limits,
 * timeouts, --validate, tokens, --allow, --log-file, and how each existing stream is
 * pulled: from= and its keys) and calls note for each difference, applied or not.
 * Returns the number of notes.
 */
unsigned fr_reload_merge(struct fr_config *running, const struct fr_config *next,
    fr_reload_note_fn note, void *arg);

#endif /* FR_RELOAD_H */
