/* SPDX-License-Identifier: MIT */
/*
 * sd_notify through libsystemd when the build has it. The watchdog is pinged at
 * half the manager's interval from an ev_timer, so a ping means the loop turns.
 */
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "fr/log.h"
#include "fr/notify.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

static ev_timer watchdog;

static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	sd_notify(0, "WATCHDOG=1");
}

void
fr_notify_init(struct ev_loop *loop)
{
	uint64_t usec;

	ev_init(&watchdog, watchdog_cb);
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	double interval_s = (double)usec / 2e6;
	ev_timer_set(&watchdog, interval_s, interval_s);
	ev_timer_start(loop, &watchdog);
	ev_unref(loop);		/* the watchdog alone must not keep the loop alive */
	log_info("systemd watchdog: pinging every %.3f s", interval_s);
}

void
fr_notify_fini(struct ev_loop *loop)
{
	if (ev_is_active(&watchdog)) {
		ev_ref(loop);
		ev_timer_stop(loop, &watchdog);
	}
}

void
fr_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
fr_notify_reloading(void)
{
	struct timespec ts;

	/* systemd 253+ wants the time with RELOADING=1 for Type=notify-reload. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void
fr_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

#else /* !HAVE_LIBSYSTEMD */

void
fr_notify_init(struct ev_loop *loop)
{
	(void)loop;
}

void
fr_notify_fini(struct ev_loop *loop)
{
	(void)loop;
}

void
fr_notify_ready(const char *status)
{
	(void)status;
}

void
fr_notify_reloading(void)
{
}

void
fr_notify_stopping(void)
{
}

#endif /* HAVE_LIBSYSTEMD */
