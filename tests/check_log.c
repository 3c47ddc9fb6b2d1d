/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for logging: the rate limiter (driven by the caller's clock, so no sleeping),
 * escaping of untrusted bytes, level names, and the lines the stderr sink writes.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr/log.h"

#include "suite.h"

/* ---- fr_ratelimit ---- */

START_TEST(test_ratelimit_init)
{
	struct fr_ratelimit rl;

	memset(&rl, 0xa5, sizeof rl);
	fr_ratelimit_init(&rl, 2.5);
	ck_assert_double_eq(rl.interval_s, 2.5);
	ck_assert_double_lt(rl.last_at, 0);
	ck_assert_uint_eq(rl.suppressed, 0);
}
END_TEST

START_TEST(test_ratelimit_first_allowed)
{
	struct fr_ratelimit rl;
	uint64_t suppressed = 99;

	fr_ratelimit_init(&rl, 1.0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 1000.0, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 0);
	ck_assert_double_eq(rl.last_at, 1000.0);

	/* A clock that starts at 0 (ev_now of a fresh loop can be small). */
	fr_ratelimit_init(&rl, 1.0);
	suppressed = 99;
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 0.0, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 0.5, &suppressed), 0);
	ck_assert_uint_eq(rl.suppressed, 1);
}
END_TEST

START_TEST(test_ratelimit_suppress_and_report)
{
	struct fr_ratelimit rl;
	uint64_t suppressed = 0;

	fr_ratelimit_init(&rl, 1.0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 100.0, &suppressed), 1);

	/* Within the interval: held back and counted; *suppressed is left alone. */
	suppressed = 77;
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 100.0, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 100.25, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 100.5, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 100.999, &suppressed), 0);
	ck_assert_uint_eq(suppressed, 77);
	ck_assert_uint_eq(rl.suppressed, 4);
	ck_assert_double_eq(rl.last_at, 100.0);

	/* One interval after the last message: allowed, with the count, which resets. */
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 101.0, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 4);
	ck_assert_uint_eq(rl.suppressed, 0);
	ck_assert_double_eq(rl.last_at, 101.0);

	/* The interval runs from the last message that passed, not from the first. */
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 101.5, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 102.5, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 1);

	/* A long quiet spell: allowed, nothing was suppressed. */
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 500.0, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 0);
	ck_assert_uint_eq(rl.suppressed, 0);
}
END_TEST

START_TEST(test_ratelimit_many)
{
	struct fr_ratelimit rl;
	uint64_t suppressed = 0;
	unsigned allowed = 0;

	/* 1000 messages a second for 10 seconds: one a second gets through. */
	fr_ratelimit_init(&rl, 1.0);
	for (unsigned i = 0; i < 10000; i++) {
		if (fr_ratelimit_allow(&rl, 50.0 + i / 1000.0, &suppressed)) {
			allowed++;
			ck_assert_uint_eq(suppressed, allowed == 1 ? 0 : 999);
		}
	}
	ck_assert_uint_eq(allowed, 10);
	ck_assert_uint_eq(rl.suppressed, 999);
}
END_TEST

START_TEST(test_ratelimit_intervals)
{
	struct fr_ratelimit rl;
	uint64_t suppressed = 0;

	fr_ratelimit_init(&rl, 0.1);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 10.0, &suppressed), 1);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 10.05, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 10.125, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 1);

	/* Interval 0: everything passes. */
	fr_ratelimit_init(&rl, 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(fr_ratelimit_allow(&rl, 7.0, &suppressed), 1);
		ck_assert_uint_eq(suppressed, 0);
	}
}
END_TEST

/* A burst of 3 a window; once one is held back, the window lets nothing more pass,
 * so the next line that passes reports every suppressed one. */
START_TEST(test_ratelimit_burst)
{
	struct fr_ratelimit rl;
	uint64_t suppressed = 99;
	unsigned allowed = 0;

	fr_ratelimit_init(&rl, 1.0);
	fr_ratelimit_set_burst(&rl, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(fr_ratelimit_allow(&rl, 20.0 + i * 0.1, &suppressed), 1);
		ck_assert_uint_eq(suppressed, 0);
	}
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 20.5, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 20.9, &suppressed), 0);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 21.0, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 2);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 21.1, &suppressed), 1);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 21.2, &suppressed), 1);
	ck_assert_int_eq(fr_ratelimit_allow(&rl, 21.3, &suppressed), 0);

	/* 1000 a second for 5 seconds: 3 a second get through. */
	fr_ratelimit_init(&rl, 1.0);
	fr_ratelimit_set_burst(&rl, 3);
	for (unsigned i = 0; i < 5000; i++)
		allowed += (unsigned)fr_ratelimit_allow(&rl, 70.0 + i / 1000.0, &suppressed);
	ck_assert_uint_eq(allowed, 15);
	/* Burst 0 is taken as 1. */
	fr_ratelimit_set_burst(&rl, 0);
	ck_assert_uint_eq(rl.burst, 1);
}
END_TEST

/* ---- fr_log_escape ---- */

/* Escapes src into a buffer of dst_len bytes and checks the result is want. */
static void
escape_as(size_t dst_len, const void *src, size_t src_len, const char *want)
{
	char dst[256];

	ck_assert_uint_le(dst_len, sizeof dst);
	memset(dst, '@', sizeof dst);
	fr_log_escape(dst, dst_len, src, src_len);
	ck_assert_str_eq(dst, want);
	/* Nothing is written past dst_len. */
	for (size_t i = dst_len; i < sizeof dst; i++)
		ck_assert_int_eq(dst[i], '@');
}

START_TEST(test_escape_printable)
{
	const char *s = "GET /stream/cam1 HTTP/1.1 ~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}";

	escape_as(256, s, strlen(s), s);
	escape_as(256, " ", 1, " ");
	escape_as(256, "~", 1, "~");
	escape_as(256, "", 0, "");
	/* Only src_len bytes are read. */
	escape_as(256, "abcdef", 3, "abc");
}
END_TEST

START_TEST(test_escape_bytes)
{
	static const unsigned char bin[] = { 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xff };

	escape_as(256, "a\nb", 3, "a\\x0ab");
	escape_as(256, "\r\n\t", 3, "\\x0d\\x0a\\x09");
	escape_as(256, bin, sizeof bin, "\\x00\\x01\\x1f\\x7f\\x80\\xff");
	escape_as(256, "\x1b[31mred", 8, "\\x1b[31mred");
	/* The escape character itself is escaped, so the output is unambiguous. */
	escape_as(256, "a\\x41", 5, "a\\x5cx41");
	escape_as(256, "\\", 1, "\\x5c");
	/* NUL does not end the input: the length does. */
	escape_as(256, "a\0b", 3, "a\\x00b");
}
END_TEST

START_TEST(test_escape_truncate)
{
	/* Too long: cut, marked with "...", NUL-terminated, within dst_len. */
	escape_as(8, "abcdefghij", 10, "abcd...");
	escape_as(4, "abcdefghij", 10, "...");
	escape_as(9, "ab\ncdefgh", 9, "ab...");
	/* An escape is never cut in half. */
	escape_as(10, "ab\ncdefgh", 9, "ab\\x0a...");
	escape_as(7, "\xff\xff\xff", 3, "...");
	escape_as(8, "\xff\xff\xff", 3, "\\xff...");
	escape_as(12, "\xff\xff\xff", 3, "\\xff\\xff...");
	/* Too small even for "...": just the NUL. */
	escape_as(1, "abc", 3, "");
	escape_as(2, "abcd", 4, "");
	escape_as(3, "abcd", 4, "");
	/* Empty input always fits. */
	escape_as(1, "", 0, "");
}
END_TEST

/* Output that fits exactly (with its NUL) is not truncated. */
START_TEST(test_escape_exact_fit)
{
	escape_as(8, "abcdefg", 7, "abcdefg");
	escape_as(2, "a", 1, "a");
	escape_as(5, "\n", 1, "\\x0a");
	escape_as(7, "ab\n", 3, "ab\\x0a");
	escape_as(13, "\xff\xff\xff", 3, "\\xff\\xff\\xff");
	/* One byte short: truncated. */
	escape_as(7, "abcdefg", 7, "abc...");
}
END_TEST

START_TEST(test_escape_zero_size)
{
	char dst[4] = "xyz";

	fr_log_escape(dst, 0, "abc", 3);
	ck_assert_mem_eq(dst, "xyz", 4);
	fr_log_escape(NULL, 0, "abc", 3);	/* must not touch dst at all */
}
END_TEST

/* ---- levels ---- */

START_TEST(test_level_parse)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	static const enum fr_log_level levels[] = {
		FR_LOG_ERROR, FR_LOG_WARN, FR_LOG_INFO, FR_LOG_DEBUG,
	};
	static const char *const bad[] = {
		"", "ERROR", "Warn", "warning", "inf", "info ", " debug", "trace", "0",
	};
	enum fr_log_level level;

	for (size_t i = 0; i < 4; i++) {
		level = (enum fr_log_level)-1;
		ck_assert_int_eq(fr_log_level_parse(names[i], &level), 0);
		ck_assert_int_eq(level, levels[i]);
		ck_assert_str_eq(fr_log_level_name(levels[i]), names[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		level = FR_LOG_WARN;
		ck_assert_msg(fr_log_level_parse(bad[i], &level) == -1, "'%s' accepted", bad[i]);
		ck_assert_int_eq(level, FR_LOG_WARN);
	}
}
END_TEST

START_TEST(test_level_enabled)
{
	fr_log_set_level(FR_LOG_WARN);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_ERROR), 1);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_WARN), 1);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_INFO), 0);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_DEBUG), 0);
	fr_log_set_level(FR_LOG_DEBUG);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_DEBUG), 1);
	fr_log_set_level(FR_LOG_ERROR);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_ERROR), 1);
	ck_assert_int_eq(fr_log_enabled(FR_LOG_WARN), 0);
	fr_log_set_level(FR_LOG_INFO);
}
END_TEST

/* ---- the stderr sink ---- */

static FILE *captured;
static int saved_stderr = -1;

/* Sends stderr to a temporary file until capture_end(). */
static void
capture_begin(void)
{
	fflush(stderr);
	captured = tmpfile();
	ck_assert_ptr_nonnull(captured);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(fileno(captured), STDERR_FILENO), STDERR_FILENO);
}

/* Restores stderr; returns what was written, with the timestamps cut off each line. */
static char *
capture_end(void)
{
	static char text[4096];
	char line[1024];
	size_t n = 0;

	fflush(stderr);
	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	text[0] = '\0';
	while (fgets(line, sizeof line, captured) != NULL) {
		/* "2025-01-01T00:00:00.000Z level: message" */
		char *sp = strchr(line, ' ');

		ck_assert_ptr_nonnull(sp);
		ck_assert_uint_eq((size_t)(sp - line), strlen("2025-01-01T00:00:00.000Z"));
		ck_assert_int_eq(line[10], 'T');
		ck_assert_int_eq(sp[-1], 'Z');
		n += (size_t)snprintf(text + n, sizeof text - n, "%s", sp + 1);
		ck_assert_uint_lt(n, sizeof text);
	}
	fclose(captured);
	return text;
}

START_TEST(test_sink_lines)
{
	fr_log_init(FR_LOG_INFO, 0);
	capture_begin();
	log_warnx("stream %s: dropped frame: %s", "default", "oversize");
	errno = ENOENT;
	log_warn("open %s", "/nope");
	log_info("subscriber %s connected", "127.0.0.1:5000");
	log_debug("not shown at info");
	ck_assert_str_eq(capture_end(),
	    "warn: stream default: dropped frame: oversize\n"
	    "warn: open /nope: No such file or directory\n"
	    "info: subscriber 127.0.0.1:5000 connected\n");
}
END_TEST

START_TEST(test_sink_levels)
{
	fr_log_init(FR_LOG_ERROR, 0);
	capture_begin();
	log_warnx("hidden");
	log_info("hidden");
	log_debug("hidden");
	fr_log_set_level(FR_LOG_DEBUG);
	log_debug("now shown");
	ck_assert_str_eq(capture_end(), "debug: now shown\n");
	fr_log_set_level(FR_LOG_INFO);
}
END_TEST

/* log_warn reads errno before anything it does can change it. */
START_TEST(test_sink_errno_kept)
{
	fr_log_init(FR_LOG_WARN, 0);
	capture_begin();
	errno = EPIPE;
	log_warn("send");
	errno = 0;
	log_warnx("x");
	ck_assert_str_eq(capture_end(), "warn: send: Broken pipe\nwarn: x\n");
	fr_log_set_level(FR_LOG_INFO);
}
END_TEST

/* One line a second per limiter; the next line that passes says how many were held
 * back; a hidden level neither logs nor counts. */
START_TEST(test_sink_limited)
{
	struct fr_ratelimit rl;

	fr_ratelimit_init(&rl, 1.0);
	fr_log_init(FR_LOG_INFO, 0);
	capture_begin();
	ck_assert_int_eq(fr_log_limited(&rl, 10.0, FR_LOG_WARN, "denied %s", "a"), 1);
	ck_assert_int_eq(fr_log_limited(&rl, 10.2, FR_LOG_WARN, "denied %s", "b"), 0);
	ck_assert_int_eq(fr_log_limited(&rl, 10.9, FR_LOG_WARN, "denied %s", "c"), 0);
	ck_assert_int_eq(fr_log_limited(&rl, 11.0, FR_LOG_INFO, "denied %s", "d"), 1);
	ck_assert_int_eq(fr_log_limited(&rl, 12.5, FR_LOG_DEBUG, "hidden"), 0);
	ck_assert_int_eq(fr_log_limited(&rl, 12.5, FR_LOG_WARN, "denied %s", "e"), 1);
	ck_assert_str_eq(capture_end(),
	    "warn: denied a\n"
	    "info: denied d (2 more suppressed)\n"
	    "warn: denied e\n");
}
END_TEST

/* The child's last words would only clutter the test log. */
static void
quiet_stderr(void)
{
	FILE *null = fopen("/dev/null", "w");

	ck_assert_ptr_nonnull(null);
	ck_assert_int_eq(dup2(fileno(null), STDERR_FILENO), STDERR_FILENO);
	fclose(null);
}

START_TEST(test_fatalx_exits)
{
	quiet_stderr();
	fr_log_init(FR_LOG_ERROR, 0);
	fatalx("broken invariant %d", 1);
}
END_TEST

START_TEST(test_fatal_exits)
{
	quiet_stderr();
	fr_log_init(FR_LOG_ERROR, 0);
	errno = EBADF;
	fatal("close");
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	fr_tcase(s, "ratelimit", FR_TESTS(test_ratelimit_init, test_ratelimit_first_allowed,
	    test_ratelimit_suppress_and_report, test_ratelimit_many, test_ratelimit_intervals,
	    test_ratelimit_burst));

	fr_tcase(s, "escape", FR_TESTS(test_escape_printable, test_escape_bytes,
	    test_escape_truncate, test_escape_exact_fit, test_escape_zero_size));

	fr_tcase(s, "levels", FR_TESTS(test_level_parse, test_level_enabled));

	tc = fr_tcase(s, "sink", FR_TESTS(test_sink_lines, test_sink_levels, test_sink_errno_kept,
	    test_sink_limited));
	/* Exit tests need a child to exit in; CK_FORK=no (valgrind) skips them. */
	const char *fork_mode = getenv("CK_FORK");
	if (fork_mode == NULL || strcmp(fork_mode, "no") != 0) {
		tcase_add_exit_test(tc, test_fatalx_exits, 1);
		tcase_add_exit_test(tc, test_fatal_exits, 1);
	}
	return s;
}

int
main(void)
{
	return fr_run_suite(log_suite());
}
