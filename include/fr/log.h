/* SPDX-License-Identifier: MIT */
/*
 * Logging: levels, stderr or syslog, escaping of untrusted bytes, and a per-key
 * rate limiter for messages that bad input could otherwise repeat without bound.
 * log_warn appends strerror(errno); log_warnx does not (OpenSMTPD log.h).
 */
#ifndef FR_LOG_H
#define FR_LOG_H

#include <stddef.h>
#include <stdint.h>

enum fr_log_level {
	FR_LOG_ERROR,
	FR_LOG_WARN,
	FR_LOG_INFO,
	FR_LOG_DEBUG,
};

/* Parses "error", "warn", "info" or "debug". Returns 0, or -1 if unknown. */
int fr_log_level_parse(const char *s, enum fr_log_level *out);
const char *fr_log_level_name(enum fr_log_level level);

/* Sets the level and the sink: stderr, or syslog when use_syslog is set. */
void fr_log_init(enum fr_log_level level, int use_syslog);

/* Appends to the file at path from now on, in place of stderr or syslog. Returns 0,
 * or -1 with errno set and the previous sink still in use. */
int fr_log_open_file(const char *path);

/* Opens the log file's path again, after rotation (SIGHUP). 0 without a log file. */
int fr_log_reopen(void);

/* Closes the log file or syslog; messages go to stderr again. */
void fr_log_close(void);
void fr_log_set_level(enum fr_log_level level);
int fr_log_enabled(enum fr_log_level level);

#define FR_PRINTF(a, b) __attribute__((format(printf, a, b)))
void log_warn(const char *fmt, ...) FR_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) FR_PRINTF(1, 2);
void log_info(const char *fmt, ...) FR_PRINTF(1, 2);
void log_debug(const char *fmt, ...) FR_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) FR_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) FR_PRINTF(1, 2);

/*
 * Writes src as printable ASCII into dst (always NUL-terminated), escaping every
 * other byte as \xHH, and truncating with "..." when it does not fit.
 */
void fr_log_escape(char *dst, size_t dst_len, const void *src, size_t src_len);

/*
 * At most burst messages per interval (a window that opens with the first message
 * after the previous window ended); the rest are counted as suppressed.
 */
struct fr_ratelimit {
	double interval_s;
	double last_at;		/* when the current window opened; < 0 before the first */
	unsigned burst;		/* messages a window lets through */
	unsigned in_window;	/* messages passed in the current window */
	uint64_t suppressed;	/* messages held back since the last one that passed */
};

/* One message per interval_s. */
void fr_ratelimit_init(struct fr_ratelimit *rl, double interval_s);

/* Up to burst (at least 1) messages per interval: for lines that are routine one by
 * one (a client connects) but must not flood the log when a peer repeats them. */
void fr_ratelimit_set_burst(struct fr_ratelimit *rl, unsigned burst);

/*
 * Returns 1 if a message may be logged at time now, and then stores in
 * *suppressed how many were held back before it (and resets that count).
 * Returns 0 and counts the message as suppressed otherwise.
 */
int fr_ratelimit_allow(struct fr_ratelimit *rl, double now, uint64_t *suppressed);

/*
 * Logs one message at level, at most once per rl's interval; the messages held back
 * in between are counted and the next one that passes ends with " (N more
 * suppressed)". For lines that a peer's input or a flood of connections could
 * repeat without bound. Returns 1 if it logged.
 */
int fr_log_limited(struct fr_ratelimit *rl, double now, enum fr_log_level level,
    const char *fmt, ...) FR_PRINTF(4, 5);

#endif /* FR_LOG_H */
