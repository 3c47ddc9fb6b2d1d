/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the Check binaries that drive a libev loop: run it until a condition
 * holds, bounded by a watchdog timer, or for a fixed time where a test must show that
 * nothing happens. Header-only; include it after <check.h> and <ev.h>.
 */
#ifndef FR_TESTS_LOOP_WAIT_H
#define FR_TESTS_LOOP_WAIT_H

#include <check.h>
#include <ev.h>
#include <stdbool.h>

struct loop_watchdog {
	ev_timer timer;
	bool has_fired;
};

static inline void
loop_watchdog_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)revents;
	((struct loop_watchdog *)w->data)->has_fired = true;
}

/* Arms wd to fire seconds from now (the loop's clock updated first). */
static inline void
loop_watchdog_start(struct ev_loop *l, struct loop_watchdog *wd, double seconds)
{
	ev_now_update(l);
	wd->has_fired = false;
	ev_timer_init(&wd->timer, loop_watchdog_cb, seconds, 0.);
	wd->timer.data = wd;
	ev_timer_start(l, &wd->timer);
}

/* Runs loop l until cond holds; fails the test if seconds pass first. */
#define LOOP_WAIT_UNTIL(l, seconds, cond)                                       \
	do {                                                                    \
		struct loop_watchdog wd_;                                       \
		loop_watchdog_start((l), &wd_, (seconds));                      \
		while (!(cond) && !wd_.has_fired)                               \
			ev_run((l), EVRUN_ONCE);                                \
		ev_timer_stop((l), &wd_.timer);                                 \
		ck_assert_msg((cond), "timed out waiting for %s", #cond);       \
	} while (0)

/* Runs loop l for seconds. */
static inline void
loop_run_for(struct ev_loop *l, double seconds)
{
	struct loop_watchdog wd;

	loop_watchdog_start(l, &wd, seconds);
	while (!wd.has_fired)
		ev_run(l, EVRUN_ONCE);
}

#endif
