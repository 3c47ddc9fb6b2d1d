/* SPDX-License-Identifier: MIT */
/*
 * Telling the service manager how we are (sd_notify, for a Type=notify unit):
 * ready, reloading, stopping, and a watchdog kept alive by the event loop itself,
 * so a wedged loop gets the daemon restarted. Does nothing outside systemd
 * (no NOTIFY_SOCKET) or in a build without libsystemd.
 */
#ifndef FR_NOTIFY_H
#define FR_NOTIFY_H

#include <ev.h>

/* Starts the watchdog pings when the manager asked for them (WATCHDOG_USEC). */
void fr_notify_init(struct ev_loop *loop);
void fr_notify_fini(struct ev_loop *loop);

/* Serving: every listener is up. status is a one-line summary for systemctl status. */
void fr_notify_ready(const char *status);
/* Rereading the configuration (SIGHUP); fr_notify_ready() follows. */
void fr_notify_reloading(void);
void fr_notify_stopping(void);

#endif /* FR_NOTIFY_H */
