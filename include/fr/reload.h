/* SPDX-License-Identifier: MIT */
/*
 * What a SIGHUP may change. The new configuration is parsed whole, the same way as
 * at startup; then each option is compared as its row of the option table says
 * (fr_config_options, config.h), and only the settings that can change under running
 * connections are copied into the running one. Pure: structs in, notes out.
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
 * Walks the option table in its order and, for every option whose value differs
 * between running and next: copies it into running and notes it as
 * FR_RELOAD_APPLIED when its row says FR_RELOAD_LIVE or _NEXT_* ("max-clients 1024
 * -> 2"; tokens only "set", "changed" or "removed"), or notes it as
 * FR_RELOAD_NEEDS_RESTART and leaves it when the row says FR_RELOAD_RESTART
 * ("--listen"; per stream "--stream NAME", "--stream NAME (removed)"); a stream's
 * from= and the keys that go with it are live ("stream cam: from http://a/ -> (none)",
 * never a credential), main.c restarting that stream's puller. --allow gives
 * one note per list that changed. Calls note once per note, during the call; returns
 * the number of notes (0: nothing differs).
 */
unsigned fr_reload_merge(struct fr_config *running, const struct fr_config *next,
    fr_reload_note_fn note, void *arg);

#endif /* FR_RELOAD_H */
