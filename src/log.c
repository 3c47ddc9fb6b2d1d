/* SPDX-License-Identifier: MIT */
/*
 * Log sink and levels. One line per message, prefixed with time and level on
 * stderr or in a log file; syslog adds its own. The rate limiter is pure and driven by the caller's
 * clock, so the decision of what to suppress is testable without sleeping.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "fr/log.h"
#include "fr/util.h"

static enum fr_log_level log_level = FR_LOG_INFO;
static int log_to_syslog;
static FILE *log_file;		/* --log-file, or NULL for stderr */
static char log_file_path[4096];

static const char *const level_names[] = {
	[FR_LOG_ERROR] = "error",
	[FR_LOG_WARN] = "warn",
	[FR_LOG_INFO] = "info",
	[FR_LOG_DEBUG] = "debug",
};

int
fr_log_level_parse(const char *s, enum fr_log_level *out)
{
	for (size_t i = 0; i < FR_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum fr_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
fr_log_level_name(enum fr_log_level level)
{
	return level_names[level];
}

void
fr_log_init(enum fr_log_level level, int use_syslog)
{
	log_level = level;
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("framerouter", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Line-buffered, so every message reaches the file whole and at once. */
static FILE *
open_log_file(const char *path)
{
	FILE *fp = fopen(path, "a");

	if (fp != NULL)
		setvbuf(fp, NULL, _IOLBF, 0);
	return fp;
}

int
fr_log_open_file(const char *path)
{
	FILE *fp;

	if (strlen(path) >= sizeof log_file_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fp = open_log_file(path)) == NULL)
		return -1;
	if (log_file != NULL)
		fclose(log_file);
	log_file = fp;
	if (path != log_file_path)	/* fr_log_reopen passes our own copy */
		memcpy(log_file_path, path, strlen(path) + 1);
	return 0;
}

int
fr_log_reopen(void)
{
	return log_file != NULL ? fr_log_open_file(log_file_path) : 0;
}

void
fr_log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	if (log_to_syslog)
		closelog();
	log_to_syslog = 0;
}

void
fr_log_set_level(enum fr_log_level level)
{
	log_level = level;
}

int
fr_log_enabled(enum fr_log_level level)
{
	return level <= log_level;
}

/* Writes one message, with ": suffix" after it when suffix is not NULL. */
static void
log_emit(enum fr_log_level level, const char *msg, const char *suffix)
{
	static const int priorities[] = {
		[FR_LOG_ERROR] = LOG_ERR, [FR_LOG_WARN] = LOG_WARNING,
		[FR_LOG_INFO] = LOG_INFO, [FR_LOG_DEBUG] = LOG_DEBUG,
	};

	if (log_to_syslog && log_file == NULL) {
		syslog(priorities[level], "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(log_file != NULL ? log_file : stderr, "%s.%03ldZ %s: %s%s%s\n", when,
	    ts.tv_nsec / 1000000L, level_names[level], msg, suffix ? ": " : "",
	    suffix ? suffix : "");
}

static void log_vwrite(enum fr_log_level level, const char *fmt, va_list ap, const char *suffix)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(enum fr_log_level level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	log_emit(level, msg, suffix);
}

#define LOG_BODY(level, suffix)                                 \
	do {                                                    \
		va_list ap;                                     \
		if (!fr_log_enabled(level))                     \
			break;                                  \
		va_start(ap, fmt);                              \
		log_vwrite(level, fmt, ap, suffix);             \
		va_end(ap);                                     \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	const char *why = strerror(errno);

	LOG_BODY(FR_LOG_WARN, why);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(FR_LOG_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(FR_LOG_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(FR_LOG_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *why = strerror(errno);

	LOG_BODY(FR_LOG_ERROR, why);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(FR_LOG_ERROR, NULL);
	exit(1);
}

static size_t
escaped_len(uint8_t c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
}

void
fr_log_escape(char *dst, size_t dst_len, const void *src, size_t src_len)
{
	const unsigned char *s = src;
	size_t o = 0, need = 0;

	if (dst_len == 0)
		return;
	for (size_t i = 0; i < src_len; i++)
		need += escaped_len(s[i]);
	/* Keep room for "..." only when the whole input cannot fit. */
	size_t reserve = need + 1 <= dst_len ? 1 : 4;
	for (size_t i = 0; i < src_len; i++) {
		char tmp[5];
		int n;

		if (escaped_len(s[i]) == 1)
			n = snprintf(tmp, sizeof tmp, "%c", s[i]);
		else
			n = snprintf(tmp, sizeof tmp, "\\x%02x", s[i]);
		if (o + (size_t)n + reserve > dst_len) {
			if (o + 4 <= dst_len)
				memcpy(dst + o, "...", 3), o += 3;
			break;
		}
		memcpy(dst + o, tmp, (size_t)n);
		o += (size_t)n;
	}
	dst[o] = '\0';
}

void
fr_ratelimit_init(struct fr_ratelimit *rl, double interval_s)
{
	rl->interval_s = interval_s;
	rl->last_at = -1;
	rl->burst = 1;
	rl->in_window = 0;
	rl->suppressed = 0;
}

void
fr_ratelimit_set_burst(struct fr_ratelimit *rl, unsigned burst)
{
	rl->burst = burst > 0 ? burst : 1;
}

int
fr_ratelimit_allow(struct fr_ratelimit *rl, double now, uint64_t *suppressed)
{
	if (rl->last_at >= 0 && now - rl->last_at < rl->interval_s) {
		if (rl->in_window < rl->burst && rl->suppressed == 0) {
			rl->in_window++;
			*suppressed = 0;
			return 1;
		}
		rl->suppressed++;
		return 0;
	}
	rl->last_at = now;
	rl->in_window = 1;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

int
fr_log_limited(struct fr_ratelimit *rl, double now, enum fr_log_level level, const char *fmt, ...)
{
	uint64_t suppressed;
	char msg[1024];
	va_list ap;

	if (!fr_log_enabled(level) || !fr_ratelimit_allow(rl, now, &suppressed))
		return 0;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (suppressed > 0 && n >= 0 && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, " (%llu more suppressed)",
		    (unsigned long long)suppressed);
	log_emit(level, msg, NULL);
	return 1;
}
