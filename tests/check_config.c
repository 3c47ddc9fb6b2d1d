/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the option table, through fr_config_parse() with real argv arrays: every
 * option with good and bad values and its exact error line, the defaults, --stream specs,
 * --help and --version, config files, and file-versus-argv precedence. The "table"
 * cases run every row through tests/option_samples.h and check the rows themselves.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fr/config.h"
#include "option_samples.h"
#include "suite.h"

/* Every key of a stream spec, as an error about an unknown one lists them. */
#define STREAM_KEYS "ingest, listen, listen-scale, from, from-token[-file], poll-fps, " \
	"on-demand, linger, reconnect-max, subscribe-token[-file], ingest-token[-file] or " \
	"stale-after"

static struct fr_config cfg;
static char err[FR_ERR_LEN];

/* ---- running the parser ---- */

/* Parses "framerouter" + args (NULL-terminated) into a freshly initialised cfg. */
static enum fr_config_result
parse_list(FILE *out, const char *const *args)
{
	char *argv[256];
	int argc = 0;

	argv[argc++] = strdup("framerouter");
	for (; *args != NULL; args++) {
		ck_assert_int_lt(argc, (int)(sizeof argv / sizeof argv[0]) - 1);
		argv[argc++] = strdup(*args);
	}
	argv[argc] = NULL;
	fr_config_init(&cfg);
	memset(err, 0, sizeof err);
	if (out == NULL)
		out = stdout;
	enum fr_config_result r = fr_config_parse(&cfg, argc, argv, out, err);
	/* getopt permutes argv but keeps the same pointers. */
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

#define PARSE(...) parse_list(NULL, (const char *const[]){ __VA_ARGS__, NULL })

#define ASSERT_RUN(...)                                                                 \
	do {                                                                            \
		enum fr_config_result r_ = PARSE(__VA_ARGS__);                          \
		ck_assert_msg(r_ == FR_CONFIG_RUN, "expected RUN, got %d: %s", r_, err); \
		ck_assert_str_eq(err, "");                                              \
	} while (0)

#define ASSERT_ERR(want, ...)                                                           \
	do {                                                                            \
		enum fr_config_result r_ = PARSE(__VA_ARGS__);                          \
		ck_assert_msg(r_ == FR_CONFIG_ERROR, "expected ERROR \"%s\", got %d", (want), \
		    r_);                                                                \
		ck_assert_str_eq(err, (want));                                          \
	} while (0)

/* ---- temporary config files ---- */

static char tmp_dir[64];
static char tmp_files[8][128];
static size_t n_tmp_files;

static void
setup(void)
{
	fr_config_init(&cfg);
	memset(err, 0, sizeof err);
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fr-check-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	n_tmp_files = 0;
}

static void
teardown(void)
{
	for (size_t i = 0; i < n_tmp_files; i++)
		unlink(tmp_files[i]);
	rmdir(tmp_dir);
}

/* Writes text to tmp_dir/name and returns the path (valid until teardown). */
static const char *
write_file(const char *name, const char *text)
{
	ck_assert_uint_lt(n_tmp_files, sizeof tmp_files / sizeof tmp_files[0]);
	char *path = tmp_files[n_tmp_files++];
	snprintf(path, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* "PATH:LINE: rest", the shape of every config file error. */
static const char *
at_line(const char *path, unsigned line, const char *rest)
{
	static char buf[FR_ERR_LEN];

	snprintf(buf, sizeof buf, "%s:%u: %s", path, line, rest);
	return buf;
}

/* ---- defaults ---- */

static void
assert_defaults(const struct fr_config *c)
{
	ck_assert_uint_eq(c->n_streams, 1);
	ck_assert_str_eq(c->streams[0].name, "default");
	ck_assert_str_eq(c->streams[0].ingest.text, "127.0.0.1:12345");
	ck_assert_str_eq(c->streams[0].listen.text, "127.0.0.1:12346");
	ck_assert_int_eq(c->streams[0].has_ingest, 1);
	ck_assert_int_eq(c->streams[0].has_listen, 1);
	ck_assert_int_eq(c->streams[0].is_from_file, 0);
	ck_assert_uint_eq(c->max_frame_bytes, 8 * 1024 * 1024);
	ck_assert_int_eq(c->validate, 0);
	ck_assert_uint_eq(c->max_clients, 1024);
	ck_assert_uint_eq(c->max_pending, 256);
	ck_assert_uint_eq(c->max_pending_per_peer, 64);
	ck_assert_double_eq(c->stream_idle_timeout_s, 60.0);
	ck_assert_double_eq(c->client_timeout_s, 10.0);
	ck_assert_int_eq(c->daemonize, 0);
	ck_assert_str_eq(c->pidfile, "");
	ck_assert_str_eq(c->config_file, "");
	ck_assert_int_eq(c->log_level, FR_LOG_INFO);
}

START_TEST(test_defaults_init)
{
	struct fr_config c;

	memset(&c, 0xa5, sizeof c);
	fr_config_init(&c);
	assert_defaults(&c);
}
END_TEST

START_TEST(test_defaults_no_arguments)
{
	ck_assert_int_eq(parse_list(NULL, (const char *const[]){ NULL }), FR_CONFIG_RUN);
	ck_assert_str_eq(err, "");
	assert_defaults(&cfg);
}
END_TEST

/* ---- addresses: --ingest, --listen ---- */

START_TEST(test_addr_good)
{
	ASSERT_RUN("--ingest", "0.0.0.0:5000");
	ck_assert_str_eq(cfg.streams[0].ingest.text, "0.0.0.0:5000");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:12346");

	ASSERT_RUN("-i", "localhost:5000", "-l", "[::1]:5001");
	ck_assert_str_eq(cfg.streams[0].ingest.text, "127.0.0.1:5000");
	ck_assert_str_eq(cfg.streams[0].listen.text, "[::1]:5001");

	ASSERT_RUN("--listen=unix:/tmp/fr.sock", "--ingest=127.0.0.1:1");
	ck_assert_str_eq(cfg.streams[0].listen.text, "unix:/tmp/fr.sock");
	ck_assert_str_eq(cfg.streams[0].ingest.text, "127.0.0.1:1");
	ck_assert_uint_eq(cfg.n_streams, 1);

	/* The last one wins. */
	ASSERT_RUN("--listen", "127.0.0.1:7000", "--listen", "127.0.0.1:7001");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:7001");
}
END_TEST

START_TEST(test_addr_bad)
{
	ASSERT_ERR("--listen: '127.0.0.1:70000': port 70000 out of range (1-65535)",
	    "--listen", "127.0.0.1:70000");
	ASSERT_ERR("--listen: '127.0.0.1:0': port 0 out of range (1-65535)", "-l",
	    "127.0.0.1:0");
	ASSERT_ERR("--ingest: '127.0.0.1:65536': port 65536 out of range (1-65535)",
	    "--ingest=127.0.0.1:65536");
	ASSERT_ERR("--ingest: '127.0.0.1': expected HOST:PORT, [IPv6]:PORT or unix:/path", "-i",
	    "127.0.0.1");
	ASSERT_ERR("--ingest: 'camera:80': bad IPv4 address 'camera' (numeric only)", "-i",
	    "camera:80");
	ASSERT_ERR("--listen: '::1:80': IPv6 addresses go in brackets: [::1]:PORT", "--listen",
	    "::1:80");
	ASSERT_ERR("--listen: 'unix:': empty unix socket path", "--listen", "unix:");
	ASSERT_ERR("--listen: ':80': missing or bad host", "--listen", ":80");
	ASSERT_ERR("--ingest: '10.0.0.1:port': port 'port' is not a number", "--ingest",
	    "10.0.0.1:port");
	ASSERT_ERR("--listen: needs a value (ADDR)", "--listen=");
}
END_TEST

/* ---- numbers: --max-frame-size, --max-clients, --client-timeout ---- */

START_TEST(test_size_good)
{
	static const struct {
		const char *text;
		size_t bytes;
	} good[] = {
		{ "1024", 1024 },
		{ "65536", 65536 },
		{ "64K", 64 * 1024 },
		{ "64k", 64 * 1024 },
		{ "64KB", 64 * 1024 },
		{ "64KiB", 64 * 1024 },
		{ "1.5K", 1536 },
		{ "8M", 8 * 1024 * 1024 },
		{ "8m", 8 * 1024 * 1024 },
		{ "2MiB", 2 * 1024 * 1024 },
		{ "1.5M", 1536 * 1024 },
		{ "256M", 256 * 1024 * 1024 },
		{ "268435456", 256 * 1024 * 1024 },
	};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ASSERT_RUN("--max-frame-size", good[i].text);
		ck_assert_msg(cfg.max_frame_bytes == good[i].bytes, "%s gave %zu", good[i].text,
		    cfg.max_frame_bytes);
	}
	ASSERT_RUN("--max-frame-size=512K");
	ck_assert_uint_eq(cfg.max_frame_bytes, 512 * 1024);
}
END_TEST

START_TEST(test_size_bad)
{
	static const char *const not_sizes[] = {
		"abc", "K", "-1K", "-1", "64X", "64Ki", "64iB", "64KBB", "1.3K", "0.5", "64 K",
		"inf", "nan", "1e999",
	};
	char want[FR_ERR_LEN];

	ASSERT_ERR("--max-frame-size: 1GiB out of range (1024-268435456)", "--max-frame-size",
	    "1GiB");
	ASSERT_ERR("--max-frame-size: 1G out of range (1024-268435456)", "--max-frame-size",
	    "1G");
	ASSERT_ERR("--max-frame-size: 257M out of range (1024-268435456)", "--max-frame-size",
	    "257M");
	ASSERT_ERR("--max-frame-size: 268435457 out of range (1024-268435456)",
	    "--max-frame-size", "268435457");
	ASSERT_ERR("--max-frame-size: 1023 out of range (1024-268435456)", "--max-frame-size",
	    "1023");
	ASSERT_ERR("--max-frame-size: 0 out of range (1024-268435456)", "--max-frame-size",
	    "0");
	for (size_t i = 0; i < sizeof not_sizes / sizeof not_sizes[0]; i++) {
		snprintf(want, sizeof want,
		    "--max-frame-size: '%s' is not a size (like 65536, 512K or 8M)", not_sizes[i]);
		ASSERT_ERR(want, "--max-frame-size", not_sizes[i]);
	}
	ASSERT_ERR("--max-frame-size: needs a value (BYTES)", "--max-frame-size=");
}
END_TEST

START_TEST(test_uint_good)
{
	ASSERT_RUN("--max-clients", "1");
	ck_assert_uint_eq(cfg.max_clients, 1);
	ASSERT_RUN("--max-clients", "1000000");
	ck_assert_uint_eq(cfg.max_clients, 1000000);
	ASSERT_RUN("--max-clients=64");
	ck_assert_uint_eq(cfg.max_clients, 64);
	ASSERT_RUN("--max-pending", "1", "--max-pending-per-peer", "100000");
	ck_assert_uint_eq(cfg.max_pending, 1);
	ck_assert_uint_eq(cfg.max_pending_per_peer, 100000);
	ASSERT_RUN("--max-pending", "100000", "--max-pending-per-peer", "1");
	ck_assert_uint_eq(cfg.max_pending, 100000);
	ck_assert_uint_eq(cfg.max_pending_per_peer, 1);
}
END_TEST

START_TEST(test_uint_bad)
{
	ASSERT_ERR("--max-clients: 0 out of range (1-1000000)", "--max-clients", "0");
	ASSERT_ERR("--max-clients: 1000001 out of range (1-1000000)", "--max-clients",
	    "1000001");
	ASSERT_ERR("--max-clients: -5 out of range (1-1000000)", "--max-clients", "-5");
	ASSERT_ERR("--max-clients: '1.5' is not a whole number", "--max-clients", "1.5");
	ASSERT_ERR("--max-clients: 'ten' is not a whole number", "--max-clients", "ten");
	ASSERT_ERR("--max-clients: '10k' is not a whole number", "--max-clients", "10k");
	ASSERT_ERR("--max-clients: 'inf' is not a whole number", "--max-clients", "inf");
	ASSERT_ERR("--max-clients: needs a value (N)", "--max-clients=");
	ASSERT_ERR("--max-pending: 100001 out of range (1-100000)", "--max-pending", "100001");
	ASSERT_ERR("--max-pending: '2.5' is not a whole number", "--max-pending", "2.5");
	ASSERT_ERR("--max-pending-per-peer: 0 out of range (1-100000)", "--max-pending-per-peer",
	    "0");
	ASSERT_ERR("--max-pending-per-peer: needs a value (N)", "--max-pending-per-peer=");
}
END_TEST

START_TEST(test_seconds_good)
{
	ASSERT_RUN("--client-timeout", "0.2");
	ck_assert_double_eq(cfg.client_timeout_s, 0.2);
	ASSERT_RUN("--client-timeout", "0.1");
	ck_assert_double_eq(cfg.client_timeout_s, 0.1);
	ASSERT_RUN("--client-timeout", "86400");
	ck_assert_double_eq(cfg.client_timeout_s, 86400.0);
	ASSERT_RUN("--client-timeout=2.5");
	ck_assert_double_eq(cfg.client_timeout_s, 2.5);
	/* 0: a pushed stream is never removed. */
	ASSERT_RUN("--stream-idle-timeout", "0");
	ck_assert_double_eq(cfg.stream_idle_timeout_s, 0.0);
	ASSERT_RUN("--stream-idle-timeout", "86400");
	ck_assert_double_eq(cfg.stream_idle_timeout_s, 86400.0);
}
END_TEST

START_TEST(test_seconds_bad)
{
	ASSERT_ERR("--client-timeout: 0.05 out of range (0.1-86400)", "--client-timeout", "0.05");
	ASSERT_ERR("--client-timeout: 0 out of range (0.1-86400)", "--client-timeout", "0");
	ASSERT_ERR("--client-timeout: -1 out of range (0.1-86400)", "--client-timeout", "-1");
	ASSERT_ERR("--client-timeout: 86401 out of range (0.1-86400)", "--client-timeout",
	    "86401");
	ASSERT_ERR("--client-timeout: 'abc' is not a number", "--client-timeout", "abc");
	ASSERT_ERR("--client-timeout: '10s' is not a number", "--client-timeout", "10s");
	ASSERT_ERR("--client-timeout: 'inf' is not a number", "--client-timeout", "inf");
	ASSERT_ERR("--client-timeout: 'nan' is not a number", "--client-timeout", "nan");
	ASSERT_ERR("--client-timeout: '1e999' is not a number", "--client-timeout", "1e999");
	ASSERT_ERR("--client-timeout: needs a value (SECONDS)", "--client-timeout=");
	ASSERT_ERR("--stream-idle-timeout: -0.5 out of range (0-86400)", "--stream-idle-timeout",
	    "-0.5");
	ASSERT_ERR("--stream-idle-timeout: '1m' is not a number", "--stream-idle-timeout", "1m");
}
END_TEST

/* ---- flags and strings: --validate, --daemon, --pidfile, --log-level ---- */

START_TEST(test_flags)
{
	ASSERT_RUN("--validate");
	ck_assert_int_eq(cfg.validate, 1);
	ck_assert_int_eq(cfg.daemonize, 0);
	ASSERT_RUN("--daemon");
	ck_assert_int_eq(cfg.daemonize, 1);
	ck_assert_int_eq(cfg.validate, 0);
	ASSERT_RUN("-d", "--validate");
	ck_assert_int_eq(cfg.daemonize, 1);
	ck_assert_int_eq(cfg.validate, 1);
}
END_TEST

/* The value spellings a config file may use for a flag, through fr_config_set(). */
START_TEST(test_flags_spelled)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		cfg.validate = 0;
		ck_assert_int_eq(fr_config_set(&cfg, "validate", yes[i], err), 0);
		ck_assert_int_eq(cfg.validate, 1);
		ck_assert_int_eq(fr_config_set(&cfg, "validate", no[i], err), 0);
		ck_assert_int_eq(cfg.validate, 0);
	}
	ck_assert_int_eq(fr_config_set(&cfg, "daemon", NULL, err), 0);
	ck_assert_int_eq(cfg.daemonize, 1);
	ck_assert_int_eq(fr_config_set(&cfg, "daemon", "maybe", err), -1);
	ck_assert_str_eq(err, "--daemon: 'maybe': expected yes or no");
	ck_assert_int_eq(cfg.daemonize, 1);
	ck_assert_int_eq(fr_config_set(&cfg, "validate", "YES", err), -1);
	ck_assert_str_eq(err, "--validate: 'YES': expected yes or no");
}
END_TEST

START_TEST(test_pidfile)
{
	char *long_path = malloc(PATH_MAX + 1);

	ASSERT_RUN("--pidfile", "/run/framerouter.pid");
	ck_assert_str_eq(cfg.pidfile, "/run/framerouter.pid");
	ASSERT_RUN("-p", "fr.pid");
	ck_assert_str_eq(cfg.pidfile, "fr.pid");
	ASSERT_ERR("--pidfile: needs a value (FILE)", "--pidfile=");

	ck_assert_ptr_nonnull(long_path);
	memset(long_path, 'p', PATH_MAX);
	long_path[PATH_MAX] = '\0';
	ASSERT_ERR("--pidfile: bad path", "--pidfile", long_path);
	long_path[PATH_MAX - 1] = '\0';	/* PATH_MAX - 1 characters fit */
	ASSERT_RUN("--pidfile", long_path);
	ck_assert_str_eq(cfg.pidfile, long_path);
	free(long_path);
}
END_TEST

START_TEST(test_log_level)
{
	static const struct {
		const char *name;
		enum fr_log_level level;
	} levels[] = {
		{ "error", FR_LOG_ERROR },
		{ "warn", FR_LOG_WARN },
		{ "info", FR_LOG_INFO },
		{ "debug", FR_LOG_DEBUG },
	};

	for (size_t i = 0; i < 4; i++) {
		ASSERT_RUN("--log-level", levels[i].name);
		ck_assert_int_eq(cfg.log_level, levels[i].level);
	}
	ASSERT_RUN("--log-level=warn");
	ck_assert_int_eq(cfg.log_level, FR_LOG_WARN);
	ASSERT_ERR("--log-level: 'verbose': expected error, warn, info or debug", "--log-level",
	    "verbose");
	ASSERT_ERR("--log-level: 'INFO': expected error, warn, info or debug", "--log-level",
	    "INFO");
	ASSERT_ERR("--log-level: needs a value (LEVEL)", "--log-level=");
}
END_TEST

/* -L is in the table with a required argument, like -i, -l, -s and -p. */
START_TEST(test_log_level_short)
{
	ASSERT_RUN("-L", "debug");
	ck_assert_int_eq(cfg.log_level, FR_LOG_DEBUG);
	ASSERT_RUN("-Lwarn");
	ck_assert_int_eq(cfg.log_level, FR_LOG_WARN);
}
END_TEST

/* ---- --stream ---- */

START_TEST(test_stream_declare)
{
	ASSERT_RUN("--stream", "cam1");
	ck_assert_uint_eq(cfg.n_streams, 2);
	ck_assert_str_eq(cfg.streams[1].name, "cam1");
	ck_assert_int_eq(cfg.streams[1].has_ingest, 0);
	ck_assert_int_eq(cfg.streams[1].has_listen, 0);
	ck_assert_int_eq(cfg.streams[1].is_from_file, 0);
	ck_assert_str_eq(cfg.streams[0].name, "default");

	ASSERT_RUN("-s", "front.cam_2-a,ingest=127.0.0.1:2000,listen=[::1]:2001", "--stream",
	    "rear,listen=unix:/tmp/rear.sock");
	ck_assert_uint_eq(cfg.n_streams, 3);
	ck_assert_str_eq(cfg.streams[1].name, "front.cam_2-a");
	ck_assert_int_eq(cfg.streams[1].has_ingest, 1);
	ck_assert_int_eq(cfg.streams[1].has_listen, 1);
	ck_assert_str_eq(cfg.streams[1].ingest.text, "127.0.0.1:2000");
	ck_assert_str_eq(cfg.streams[1].listen.text, "[::1]:2001");
	ck_assert_str_eq(cfg.streams[2].name, "rear");
	ck_assert_int_eq(cfg.streams[2].has_ingest, 0);
	ck_assert_int_eq(cfg.streams[2].has_listen, 1);
	ck_assert_str_eq(cfg.streams[2].listen.text, "unix:/tmp/rear.sock");

	/* Empty items are skipped; the item order does not matter. */
	ASSERT_RUN("--stream=cam1,,listen=127.0.0.1:2001,ingest=127.0.0.1:2000,");
	ck_assert_uint_eq(cfg.n_streams, 2);
	ck_assert_str_eq(cfg.streams[1].ingest.text, "127.0.0.1:2000");
	ck_assert_str_eq(cfg.streams[1].listen.text, "127.0.0.1:2001");
}
END_TEST

START_TEST(test_stream_names)
{
	char name64[FR_STREAM_NAME_MAX + 1], name65[FR_STREAM_NAME_MAX + 2];
	char want[FR_ERR_LEN];

	memset(name64, 'n', sizeof name64 - 1);
	name64[sizeof name64 - 1] = '\0';
	memset(name65, 'n', sizeof name65 - 1);
	name65[sizeof name65 - 1] = '\0';

	ck_assert_int_eq(fr_config_is_valid_stream_name("a"), 1);
	ck_assert_int_eq(fr_config_is_valid_stream_name("AZaz09._-"), 1);
	ck_assert_int_eq(fr_config_is_valid_stream_name(name64), 1);
	ck_assert_int_eq(fr_config_is_valid_stream_name(name65), 0);
	ck_assert_int_eq(fr_config_is_valid_stream_name(""), 0);
	ck_assert_int_eq(fr_config_is_valid_stream_name("a b"), 0);
	ck_assert_int_eq(fr_config_is_valid_stream_name("a/b"), 0);
	ck_assert_int_eq(fr_config_is_valid_stream_name("a=b"), 0);
	ck_assert_int_eq(fr_config_is_valid_stream_name("caf\xc3\xa9"), 0);

	ASSERT_RUN("--stream", name64);
	ck_assert_str_eq(cfg.streams[1].name, name64);
	snprintf(want, sizeof want, "--stream: '%s': stream names are 1-64 of A-Z a-z 0-9 . _ -",
	    name65);
	ASSERT_ERR(want, "--stream", name65);
	ASSERT_ERR("--stream: 'bad name': stream names are 1-64 of A-Z a-z 0-9 . _ -",
	    "--stream", "bad name");
	ASSERT_ERR("--stream: 'cam/1': stream names are 1-64 of A-Z a-z 0-9 . _ -", "--stream",
	    "cam/1,listen=127.0.0.1:2001");
	/* No name: the first item is taken for one. */
	ASSERT_ERR("--stream: 'listen=127.0.0.1:2001': stream names are 1-64 of A-Z a-z 0-9 . _ -",
	    "--stream", ",listen=127.0.0.1:2001");
	ASSERT_ERR("--stream: '': stream names are 1-64 of A-Z a-z 0-9 . _ -", "--stream", ",,");
	ASSERT_ERR("--stream: needs a value (NAME[,KEY=VALUE]..., see --help)", "--stream=");
}
END_TEST

START_TEST(test_stream_items)
{
	char spec[4000];
#define KEYS "expected " STREAM_KEYS

	ASSERT_ERR("--stream: stream cam1: 'foo': " KEYS, "--stream", "cam1,foo=bar");
	ASSERT_ERR("--stream: stream cam1: 'ingest': " KEYS, "--stream", "cam1,ingest");
	ASSERT_ERR("--stream: stream cam1: 'ingestx': " KEYS, "--stream",
	    "cam1,ingestx=127.0.0.1:1");
	ASSERT_ERR("--stream: stream cam1: 'ing': " KEYS, "--stream", "cam1,ing=127.0.0.1:1");
	ASSERT_ERR("--stream: stream cam1: 'LISTEN': " KEYS, "--stream", "cam1,LISTEN=127.0.0.1:1");
	/* A mistyped key is named, never its value: it may be a URL with a password. */
	ASSERT_ERR("--stream: stream cam1: 'form': " KEYS, "--stream",
	    "cam1,form=http://admin:s3cret@cam/");
	ASSERT_ERR("--stream: stream cam1: 'a-key-name-longer-than-any-key-t': " KEYS, "--stream",
	    "cam1,a-key-name-longer-than-any-key-there-is=1");
	ASSERT_ERR("--stream: stream cam1: ingest: '127.0.0.1:70000': port 70000 out of range "
	    "(1-65535)", "--stream", "cam1,ingest=127.0.0.1:70000");
	ASSERT_ERR("--stream: stream cam1: listen: '[::1]': expected [IPv6]:PORT", "--stream",
	    "cam1,listen=[::1]");
	ASSERT_ERR("--stream: stream cam1: listen: '': expected HOST:PORT, [IPv6]:PORT or "
	    "unix:/path", "--stream", "cam1,listen=");

	memset(spec, 'a', sizeof spec - 1);
	spec[sizeof spec - 1] = '\0';
	ASSERT_ERR("--stream: stream spec too long", "--stream", spec);
}
END_TEST

/* A stream's own tokens (also from files) and stale-after, apart from the global ones. */
START_TEST(test_stream_access_keys)
{
	ASSERT_RUN("--subscribe-token", "global", "--stream",
	    "cam1,subscribe-token=cam-secret,ingest-token-file=" SAMPLE_TOKEN_FILE
	    ",stale-after=2.5", "--stream", "default,ingest-token=def-in");
	ck_assert_str_eq(cfg.subscribe_token, "global");
	ck_assert_str_eq(cfg.ingest_token, "");
	ck_assert_str_eq(cfg.streams[1].subscribe_token, "cam-secret");
	ck_assert_str_eq(cfg.streams[1].ingest_token, "Linux");
	ck_assert(cfg.streams[1].stale_after_s == 2.5);
	ck_assert_str_eq(cfg.streams[0].ingest_token, "def-in");
	ck_assert_str_eq(cfg.streams[0].subscribe_token, "");
	ck_assert(cfg.streams[0].stale_after_s == 0);
	ASSERT_ERR("--stream: stream cam1: subscribe-token: tokens are visible ASCII without "
	    "spaces, & or #",
	    "--stream", "cam1,subscribe-token=a&b");
	ASSERT_ERR("--stream: stream cam1: ingest-token-file: /nonexistent/t: No such file or "
	    "directory",
	    "--stream", "cam1,ingest-token-file=/nonexistent/t");
	ASSERT_ERR("--stream: stream cam1: stale-after: 86401 out of range (0-86400)", "--stream",
	    "cam1,stale-after=86401");
	ASSERT_ERR("--stream: stream cam1: 'subscribe-token': expected " STREAM_KEYS,
	    "--stream", "cam1,subscribe-token");
}
END_TEST

/* listen-scale=: the sizes of ?scale=, on a stream with a listen address. */
START_TEST(test_stream_listen_scale)
{
	static const struct {
		const char *value;
		unsigned denom;
		bool is_auto;
	} good[] = { { "1/2", 2, false }, { "1/4", 4, false }, { "1/8", 8, false },
		{ "auto", 1, true }, { "1/1", 1, false } };

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char spec[80];

		snprintf(spec, sizeof spec, "cam1,listen=127.0.0.1:2001,listen-scale=%s",
		    good[i].value);
		ASSERT_RUN("--stream", spec);
		ck_assert_uint_eq(cfg.streams[1].listen_scale.denom, good[i].denom);
		ck_assert_int_eq(cfg.streams[1].listen_scale.is_auto, good[i].is_auto);
		ck_assert_int_eq(cfg.streams[1].listen_scale.quality, 0);
	}
	/* Not given: plain, here and on "default". */
	ASSERT_RUN("--stream", "cam1,listen=127.0.0.1:2001");
	ck_assert(fr_scale_spec_is_plain(&cfg.streams[1].listen_scale));
	ck_assert(fr_scale_spec_is_plain(&cfg.streams[0].listen_scale));
	ASSERT_RUN("--stream", "default,listen-scale=1/4");
	ck_assert_uint_eq(cfg.streams[0].listen_scale.denom, 4);
	ASSERT_ERR("--stream: stream cam1: listen-scale: '1/3': expected 1/2, 1/4, 1/8, 1/1 or "
	    "auto", "--stream",
	    "cam1,listen=127.0.0.1:2001,listen-scale=1/3");
	ASSERT_ERR("--stream: stream cam1: listen-scale: '': expected 1/2, 1/4, 1/8, 1/1 or "
	    "auto", "--stream",
	    "cam1,listen=127.0.0.1:2001,listen-scale=");
	ASSERT_ERR("--stream: stream cam1: 'listen-scale': " KEYS, "--stream",
	    "cam1,listen=127.0.0.1:2001,listen-scale");
	ASSERT_ERR("--stream cam1: listen-scale needs listen=ADDR", "--stream",
	    "cam1,ingest=127.0.0.1:2000,listen-scale=1/2");
}
END_TEST

START_TEST(test_stream_duplicates)
{
	ASSERT_ERR("--stream: stream cam1 declared twice", "--stream", "cam1", "--stream",
	    "cam1,listen=127.0.0.1:2001");
	ASSERT_ERR("--stream: stream cam1 declared twice", "--stream",
	    "cam1,ingest=127.0.0.1:2000", "--stream", "cam2", "-s", "cam1");
	/* Names are case-sensitive. */
	ASSERT_RUN("--stream", "cam1", "--stream", "CAM1");
	ck_assert_uint_eq(cfg.n_streams, 3);
}
END_TEST

/* from= and the keys that go with it. */
START_TEST(test_stream_pull)
{
	const struct fr_pull_config *pc = &cfg.streams[1].pull;

	ASSERT_RUN("--stream", "front,from=http://admin:pw@192.0.2.10/video.mjpg");
	ck_assert(cfg.streams[1].has_pull);
	ck_assert(!cfg.streams[1].has_ingest && !cfg.streams[1].has_listen);
	ck_assert_str_eq(pc->url.text, "http://192.0.2.10/video.mjpg");
	ck_assert_str_eq(pc->url.basic, "YWRtaW46cHc=");
	/* The defaults, as framerouter(8) gives them. */
	ck_assert_double_eq(pc->poll_fps, 1);
	ck_assert_double_eq(pc->linger_s, 5);
	ck_assert_double_eq(pc->reconnect_max_s, 5);
	ck_assert(!pc->is_on_demand);
	ck_assert_str_eq(pc->token, "");

	ASSERT_RUN("--stream", "cam,ingest=127.0.0.1:2000,from=tcp://[::1]:12346,on-demand,"
	    "linger=0.5,reconnect-max=30");
	ck_assert(pc->is_on_demand);
	ck_assert_double_eq(pc->linger_s, 0.5);
	ck_assert_double_eq(pc->reconnect_max_s, 30);
	ck_assert(cfg.streams[1].has_ingest);
	ASSERT_RUN("--stream", "still,from=http://cam/snap.jpg,poll-fps=2.5,from-token=t0k");
	ck_assert_double_eq(pc->poll_fps, 2.5);
	ck_assert_str_eq(pc->token, "t0k");
	ck_assert(!pc->is_on_demand);
	ASSERT_RUN("--stream", "a,from=http://x/", "--stream", "b");
	ck_assert(!cfg.streams[2].has_pull);

	ASSERT_ERR("--stream: stream front: from: https:// is not supported: pull through a "
	    "TLS-terminating proxy (stunnel or HAProxy, see contrib/stunnel-pull.conf)",
	    "--stream", "front,from=https://admin:s3cret@cam/");
	/* "default" is updated, not replaced: a refused from= leaves the one before whole. */
	ASSERT_ERR("--stream: stream default: from: https:// is not supported: pull through a "
	    "TLS-terminating proxy (stunnel or HAProxy, see contrib/stunnel-pull.conf)",
	    "--stream", "default,from=http://cam:8080/v", "--stream", "default,from=https://x/");
	ck_assert(cfg.streams[0].has_pull);
	ck_assert_str_eq(cfg.streams[0].pull.url.host, "cam");
	ck_assert_uint_eq(cfg.streams[0].pull.url.port, 8080);
	ck_assert_str_eq(cfg.streams[0].pull.url.text, "http://cam:8080/v");
	ASSERT_ERR("--stream: stream front: from: bad %-escape in the user info", "--stream",
	    "front,from=http://admin:s3cret%@cam/");
	ASSERT_ERR("--stream: stream front: from: tcp:// needs a port (tcp://HOST:PORT)",
	    "--stream", "front,from=tcp://robot");
	ASSERT_ERR("--stream: stream front: 'from': " KEYS, "--stream", "front,from");
	ASSERT_ERR("--stream: stream front: poll-fps: 0 out of range (0.01-100)", "--stream",
	    "front,from=http://cam/,poll-fps=0");
	ASSERT_ERR("--stream: stream front: linger: 'soon' is not a number", "--stream",
	    "front,from=http://cam/,linger=soon");
	ASSERT_ERR("--stream: stream front: reconnect-max: 0.01 out of range (0.1-86400)",
	    "--stream", "front,from=http://cam/,reconnect-max=0.01");
	ASSERT_ERR("--stream: stream front: 'on-demand': " KEYS, "--stream",
	    "front,from=http://cam/,on-demand=yes");
	ASSERT_ERR("--stream: stream front: from-token: tokens are visible ASCII without spaces, "
	    "& or #", "--stream", "front,from=http://cam/,from-token=a b");
	ASSERT_ERR("--stream: stream front: from-token, poll-fps, on-demand, linger and "
	    "reconnect-max need from=URL", "--stream", "front,on-demand");
	ASSERT_ERR("--stream: stream front: from-token, poll-fps, on-demand, linger and "
	    "reconnect-max need from=URL", "--stream", "front,linger=3");
	ASSERT_ERR("--stream: stream front: from-token and a user:password@ in from= are two "
	    "credentials: give one", "--stream", "front,from=http://u:p@cam/,from-token=t");
	ASSERT_ERR("--stream: stream front: from-token needs an http:// from=", "--stream",
	    "front,from=tcp://cam:1,from-token=t");

	/* A token file; and the config file spelling. */
	const char *tok = write_file("tok", "s3cret\n");
	char spec[256];
	snprintf(spec, sizeof spec, "front,from=http://cam/,from-token-file=%s", tok);
	ASSERT_RUN("--stream", spec);
	ck_assert_str_eq(pc->token, "s3cret");
	const char *conf =
	    write_file("pull.conf", "stream front,from=http://cam:8080/v,on-demand\n");
	ASSERT_RUN("--config", conf);
	ck_assert(pc->is_on_demand);
	ck_assert_uint_eq(pc->url.port, 8080);
}
END_TEST

/* "default" is stream 0: --stream default,... updates it, item by item. */
START_TEST(test_stream_default)
{
	ASSERT_RUN("--stream", "default,listen=127.0.0.1:3000");
	ck_assert_uint_eq(cfg.n_streams, 1);
	ck_assert_str_eq(cfg.streams[0].name, "default");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:3000");
	ck_assert_str_eq(cfg.streams[0].ingest.text, "127.0.0.1:12345");
	ck_assert_int_eq(cfg.streams[0].has_ingest, 1);

	ASSERT_RUN("--stream", "default,ingest=127.0.0.1:3001", "--stream",
	    "default,listen=127.0.0.1:3002");
	ck_assert_uint_eq(cfg.n_streams, 1);
	ck_assert_str_eq(cfg.streams[0].ingest.text, "127.0.0.1:3001");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:3002");

	/* --listen and --stream default,listen= set the same address: the last wins. */
	ASSERT_RUN("--listen", "127.0.0.1:4000", "--stream", "default,listen=127.0.0.1:4001");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:4001");
	ASSERT_RUN("--stream", "default,listen=127.0.0.1:4001", "--listen", "127.0.0.1:4000");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:4000");

	ASSERT_RUN("--stream", "default");
	ck_assert_uint_eq(cfg.n_streams, 1);
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:12346");
}
END_TEST

START_TEST(test_stream_limit)
{
	const char *args[2 * FR_CONFIG_MAX_STREAMS + 1];
	char names[FR_CONFIG_MAX_STREAMS][16];
	size_t n = 0;

	/* "default" plus 63 more is the most there can be. */
	for (size_t i = 0; i < FR_CONFIG_MAX_STREAMS - 1; i++) {
		snprintf(names[i], sizeof names[i], "s%zu", i);
		args[n++] = "--stream";
		args[n++] = names[i];
	}
	args[n] = NULL;
	ck_assert_int_eq(parse_list(NULL, args), FR_CONFIG_RUN);
	ck_assert_uint_eq(cfg.n_streams, FR_CONFIG_MAX_STREAMS);
	ck_assert_str_eq(cfg.streams[FR_CONFIG_MAX_STREAMS - 1].name, "s62");

	snprintf(names[FR_CONFIG_MAX_STREAMS - 1], sizeof names[0], "one-too-many");
	args[n++] = "--stream";
	args[n++] = names[FR_CONFIG_MAX_STREAMS - 1];
	args[n] = NULL;
	ck_assert_int_eq(parse_list(NULL, args), FR_CONFIG_ERROR);
	ck_assert_str_eq(err, "--stream: more than 64 streams");

	/* Updating an existing stream needs no new slot. */
	args[n - 1] = "s0,listen=127.0.0.1:2001";
	ck_assert_int_eq(parse_list(NULL, args), FR_CONFIG_ERROR);
	ck_assert_str_eq(err, "--stream: stream s0 declared twice");
	args[n - 1] = "default,listen=127.0.0.1:2001";
	ck_assert_int_eq(parse_list(NULL, args), FR_CONFIG_RUN);
	ck_assert_uint_eq(cfg.n_streams, FR_CONFIG_MAX_STREAMS);
}
END_TEST

/* ---- fr_config_check: distinct addresses ---- */

START_TEST(test_check_duplicates)
{
	ASSERT_ERR("address 127.0.0.1:5000 is used twice", "--ingest", "127.0.0.1:5000",
	    "--listen", "127.0.0.1:5000");
	/* The same address spelled two ways. */
	ASSERT_ERR("address 127.0.0.1:12345 is used twice", "--listen", "localhost:12345");
	ASSERT_ERR("address 127.0.0.1:12346 is used twice", "--stream",
	    "cam1,ingest=127.0.0.1:12346");
	ASSERT_ERR("address 127.0.0.1:6000 is used twice", "--stream",
	    "a,ingest=127.0.0.1:6000", "--stream", "b,listen=127.0.0.1:6000");
	ASSERT_ERR("address unix:/tmp/fr.sock is used twice", "--stream",
	    "a,listen=unix:/tmp/fr.sock", "--stream", "b,ingest=unix:/tmp/fr.sock");
	ASSERT_ERR("address [::1]:7000 is used twice", "--stream",
	    "a,listen=[::1]:7000,ingest=[::1]:7000");
	/* Different ports, hosts or families are different addresses. */
	ASSERT_RUN("--stream", "a,ingest=127.0.0.1:6000,listen=127.0.0.2:6000", "--stream",
	    "b,ingest=[::1]:6000,listen=unix:/tmp/b.sock");
	ck_assert_uint_eq(cfg.n_streams, 3);
}
END_TEST

START_TEST(test_check_direct)
{
	struct fr_config c;
	char why[FR_ERR_LEN];

	fr_config_init(&c);
	ck_assert_int_eq(fr_config_check(&c, why), 0);
	/* An address a stream does not use is not compared. */
	c.streams[0].has_ingest = 0;
	c.streams[0].ingest = c.streams[0].listen;
	ck_assert_int_eq(fr_config_check(&c, why), 0);
	c.streams[0].has_ingest = 1;
	ck_assert_int_eq(fr_config_check(&c, why), -1);
	ck_assert_str_eq(why, "address 127.0.0.1:12346 is used twice");
}
END_TEST

/* Two spellings of one IPv6 address are one address. */
START_TEST(test_check_duplicates_ipv6_spelling)
{
	ASSERT_ERR("address [::1]:7000 is used twice", "--stream", "a,ingest=[::1]:7000",
	    "--stream", "b,listen=[0:0::1]:7000");
}
END_TEST

/* ---- --help and --version ---- */

static char *
parse_to_text(const char *const *args, enum fr_config_result *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	*r = parse_list(out, args);
	ck_assert_int_eq(fclose(out), 0);
	return text;
}

START_TEST(test_help)
{
	static const char *const lines[] = {
		"usage: framerouter [OPTION]...",
		"Routes live MJPEG: producers push JPEG frames, subscribers get whole frames.",
		"",
		"  -i, --ingest ADDR                        raw MJPEG producer address of stream "
		"'default' (default 127.0.0.1:12345)",
		"  -l, --listen ADDR                        raw MJPEG subscriber address of stream "
		"'default' (default 127.0.0.1:12346)",
		"  -s, --stream NAME[,ingest=ADDR][,listen=ADDR][,listen-scale=SCALE][,from=URL]"
		"[,from-token=TOKEN][,from-token-file=FILE][,poll-fps=FPS][,on-demand]"
		"[,linger=SECONDS][,reconnect-max=SECONDS][,subscribe-token=TOKEN]"
		"[,subscribe-token-file=FILE][,ingest-token=TOKEN][,ingest-token-file=FILE]"
		"[,stale-after=SECONDS] declare a named stream, pushed to it or "
		"pulled from=URL (repeatable)",
		"      --http ADDR                          serve the HTTP endpoints (streams, "
		"snapshots, ingest, stats) here",
		"      --max-frame-size BYTES               drop frames larger than this; K and M "
		"suffixes (default 8M)",
		"      --validate                           check each frame's header with "
		"libjpeg-turbo",
		"      --max-clients N                      refuse subscribers beyond this many "
		"(default 1024)",
		"      --max-pending N                      HTTP connections that have not sent a "
		"complete request head yet, in all (default 256)",
		"      --max-pending-per-peer N             HTTP connections without a complete "
		"request head yet, per peer address (default 64)",
		"      --client-timeout SECONDS             disconnect a subscriber making no "
		"progress (default 10)",
		"      --producer-timeout SECONDS           disconnect a producer silent this "
		"long, 0 for never (default 10)",
		"      --max-streams N                      streams in all, declared or created by "
		"HTTP pushes (default 64)",
		"      --stream-idle-timeout SECONDS        remove a stream an HTTP push created "
		"after this long with no producer and no subscriber, 0 for never (default 60)",
		"      --stale-after SECONDS                a stream whose newest frame is older "
		"is stale: /snapshot answers 503; 0 for never (default 0)",
		"      --ingest-token TOKEN                 HTTP ingest requires Authorization: "
		"Bearer TOKEN",
		"      --ingest-token-file FILE             read the ingest token from FILE",
		"      --subscribe-token TOKEN              HTTP reads require the token (Bearer "
		"or ?token=)",
		"      --subscribe-token-file FILE          read the subscribe token from FILE",
		"      --allow [KIND=]CIDR                  accept only peers in CIDR, on the "
		"listeners of KIND (ingest, listen or http) or all (repeatable)",
		"  -d, --daemon                             detach; log to syslog unless "
		"--log-file",
		"  -p, --pidfile FILE                       write the process id to FILE",
		"      --log-file FILE                      append the log to FILE (reopened on "
		"SIGHUP)",
		"  -u, --user USER[:GROUP]                  switch to this user after binding (as "
		"root)",
		"  -L, --log-level LEVEL                    error, warn, info or debug (default "
		"info)",
		"      --nats URL[,URL]...                  publish ingested frames on NATS and "
		"serve other nodes' streams from it",
		"      --nats-creds FILE                    NATS user credentials (JWT and NKey "
		"seed) file",
		"      --nats-token TOKEN                   NATS authentication token",
		"      --nats-token-file FILE               read the NATS token from FILE",
		"      --nats-ca FILE                       TLS: trust the NATS servers this CA "
		"signed",
		"      --nats-cert FILE                     TLS: client certificate chain (with "
		"--nats-key)",
		"      --nats-key FILE                      TLS: the client certificate's private "
		"key",
		"      --nats-prefix SUBJECT                frames of stream NAME travel on "
		"SUBJECT.NAME (default framerouter.frames)",
		"      --node-id ID                         this node's name in the frames it "
		"publishes; the host name if not given",
		"      --nats-jetstream                     keep each stream's latest frame in "
		"JetStream for first subscribers",
		"  -c, --config FILE                        read options from FILE, one \"name "
		"value\" per line",
		"  -h, --help                               show this help",
		"  -V, --version                            show the version",
		"",
		"ADDR is HOST:PORT, [IPv6]:PORT or unix:/path.",
	};
	const char *const *const spellings[] = {
		(const char *const[]){ "--help", NULL },
		(const char *const[]){ "-h", NULL },
		(const char *const[]){ "--validate", "--help", "--listen", "127.0.0.1:1", NULL },
	};
	char want[8192] = "";

	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		strcat(want, lines[i]);
		strcat(want, "\n");
	}
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		enum fr_config_result r;
		char *text = parse_to_text(spellings[i], &r);

		ck_assert_int_eq(r, FR_CONFIG_EXIT);
		ck_assert_str_eq(err, "");
		ck_assert_str_eq(text, want);
		free(text);
	}
}
END_TEST

START_TEST(test_version)
{
	const char *const *const spellings[] = {
		(const char *const[]){ "--version", NULL },
		(const char *const[]){ "-V", NULL },
		(const char *const[]){ "-d", "-V", NULL },
	};

	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		enum fr_config_result r;
		char *text = parse_to_text(spellings[i], &r);

		ck_assert_int_eq(r, FR_CONFIG_EXIT);
		ck_assert_str_eq(err, "");
		ck_assert_msg(strncmp(text, "framerouter " PACKAGE_VERSION "\nfeatures:",
		    strlen("framerouter " PACKAGE_VERSION "\nfeatures:")) == 0, "got '%s'", text);
		ck_assert_ptr_nonnull(strchr(text + strlen("framerouter " PACKAGE_VERSION "\n"),
		    '\n'));
		free(text);
	}
}
END_TEST

/* An error before --help wins; nothing is printed. */
START_TEST(test_help_after_error)
{
	enum fr_config_result r;
	char *text = parse_to_text((const char *const[]){ "--max-clients", "0", "--help", NULL },
	    &r);

	ck_assert_int_eq(r, FR_CONFIG_ERROR);
	ck_assert_str_eq(err, "--max-clients: 0 out of range (1-1000000)");
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

/* ---- argv shape: unknown options, stray arguments, missing values ---- */

START_TEST(test_argv_unknown)
{
	ASSERT_ERR("unknown option '--bogus'", "--bogus");
	ASSERT_ERR("unknown option '--bogus=1'", "--bogus=1");
	ASSERT_ERR("unknown option '-x'", "-x");
	ASSERT_ERR("unknown option '-x'", "-dx");
	ASSERT_ERR("unknown option '--bogus'", "--validate", "--bogus", "--daemon");
}
END_TEST

START_TEST(test_argv_stray)
{
	ASSERT_ERR("unexpected argument 'foo'", "foo");
	ASSERT_ERR("unexpected argument 'foo'", "--validate", "foo");
	ASSERT_ERR("unexpected argument 'foo'", "foo", "--validate", "bar");
	ASSERT_ERR("unexpected argument '--validate'", "--", "--validate");
	ASSERT_ERR("unexpected argument '-'", "-");
}
END_TEST

/* A missing value names the option as it was typed. */
START_TEST(test_argv_missing_value)
{
	ASSERT_ERR("--listen: needs a value", "--listen");
	ASSERT_ERR("--stream: needs a value", "--stream");
	ASSERT_ERR("--max-clients: needs a value", "--validate", "--max-clients");
	ASSERT_ERR("-i: needs a value", "-i");
	ASSERT_ERR("-p: needs a value", "-p");
	ASSERT_ERR("--config: needs a value", "--config");
}
END_TEST

/* A flag given a value is an error that names the flag. */
START_TEST(test_argv_flag_with_value)
{
	enum fr_config_result r = PARSE("--validate=yes");

	ck_assert_int_eq(r, FR_CONFIG_ERROR);
	ck_assert_msg(strncmp(err, "--validate", 10) == 0 || strstr(err, "'--validate=yes'"),
	    "error does not name the option: \"%s\"", err);
}
END_TEST

/* ---- config files ---- */

START_TEST(test_file_load)
{
	const char *path = write_file("a.conf",
	    "# framerouter test configuration\n"
	    "\n"
	    "   \t\n"
	    "listen 127.0.0.1:9000   # subscribers\n"
	    "\tingest\t127.0.0.1:9001\n"
	    "max-frame-size 64K\r\n"
	    "max-clients   7\n"
	    "client-timeout 0.5\n"
	    "log-level debug\n"
	    "pidfile /tmp/a b.pid\n"
	    "stream cam1,ingest=127.0.0.1:9002,listen=127.0.0.1:9003\n"
	    "stream cam2\n"
	    "validate\n"
	    "daemon yes\n"
	    "    # indented comment\n"
	    "#max-clients 9\n");

	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), 0);
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:9000");
	ck_assert_str_eq(cfg.streams[0].ingest.text, "127.0.0.1:9001");
	ck_assert_uint_eq(cfg.max_frame_bytes, 65536);
	ck_assert_uint_eq(cfg.max_clients, 7);
	ck_assert_double_eq(cfg.client_timeout_s, 0.5);
	ck_assert_int_eq(cfg.log_level, FR_LOG_DEBUG);
	ck_assert_str_eq(cfg.pidfile, "/tmp/a b.pid");
	ck_assert_uint_eq(cfg.n_streams, 3);
	ck_assert_str_eq(cfg.streams[1].name, "cam1");
	ck_assert_str_eq(cfg.streams[1].ingest.text, "127.0.0.1:9002");
	ck_assert_str_eq(cfg.streams[1].listen.text, "127.0.0.1:9003");
	ck_assert_int_eq(cfg.streams[1].is_from_file, 1);
	ck_assert_str_eq(cfg.streams[2].name, "cam2");
	ck_assert_int_eq(cfg.streams[2].is_from_file, 1);
	ck_assert_int_eq(cfg.streams[0].is_from_file, 0);
	ck_assert_int_eq(cfg.validate, 1);
	ck_assert_int_eq(cfg.daemonize, 1);
	/* Loading a file does not record its name; --config does. */
	ck_assert_str_eq(cfg.config_file, "");
}
END_TEST

START_TEST(test_file_flags)
{
	const char *path = write_file("flags.conf", "validate\nvalidate no\ndaemon\ndaemon off\n"
	    "daemon true\n");

	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), 0);
	ck_assert_int_eq(cfg.validate, 0);
	ck_assert_int_eq(cfg.daemonize, 1);
}
END_TEST

/* The last line needs no newline; an empty file changes nothing. */
START_TEST(test_file_edges)
{
	const char *path = write_file("nonl.conf", "max-clients 3");

	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), 0);
	ck_assert_uint_eq(cfg.max_clients, 3);

	fr_config_init(&cfg);
	path = write_file("empty.conf", "");
	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), 0);
	assert_defaults(&cfg);

	/* '#' starts a comment anywhere, also inside a value. */
	path = write_file("hash.conf", "pidfile /tmp/fr#1.pid\n");
	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), 0);
	ck_assert_str_eq(cfg.pidfile, "/tmp/fr");
}
END_TEST

START_TEST(test_file_errors)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *why;
	} bad[] = {
		{ "# ok\n\nlisten 127.0.0.1:70000\n", 3,
		  "--listen: '127.0.0.1:70000': port 70000 out of range (1-65535)" },
		{ "bogus 1\n", 1, "unknown option 'bogus'" },
		{ "--listen 127.0.0.1:1\n", 1, "unknown option '--listen'" },
		{ "listen=127.0.0.1:1\n", 1, "unknown option 'listen=127.0.0.1:1'" },
		{ "max-clients 4\nlisten\n", 2, "--listen: needs a value (ADDR)" },
		{ "listen   # no value\n", 1, "--listen: needs a value (ADDR)" },
		{ "validate maybe\n", 1, "--validate: 'maybe': expected yes or no" },
		{ "max-frame-size "
		    "1GiB\n", 1, "--max-frame-size: 1GiB out of range (1024-268435456)" },
		{ "max-clients 0\n", 1, "--max-clients: 0 out of range (1-1000000)" },
		{ "client-timeout soon\n", 1, "--client-timeout: 'soon' is not a number" },
		{ "log-level "
		    "loud\n", 1, "--log-level: 'loud': expected error, warn, info or debug" },
		{ "stream cam1\nstream cam1\n", 2, "--stream: stream cam1 declared twice" },
		{ "stream a "
		    "b\n", 1, "--stream: 'a b': stream names are 1-64 of A-Z a-z 0-9 . _ -" },
		{ "config other.conf\n", 1, "unknown option 'config'" },
		{ "help\n", 1, "unknown option 'help'" },
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[32];

		snprintf(name, sizeof name, "bad%zu.conf", i);
		n_tmp_files = 0;	/* reuse the slots; every name is unlinked below */
		const char *path = write_file(name, bad[i].text);
		fr_config_init(&cfg);
		ck_assert_int_eq(fr_config_load_file(&cfg, path, err), -1);
		ck_assert_str_eq(err, at_line(path, bad[i].line, bad[i].why));
		unlink(path);
	}
	n_tmp_files = 0;
}
END_TEST

START_TEST(test_file_missing)
{
	char path[128], want[FR_ERR_LEN];

	snprintf(path, sizeof path, "%s/missing.conf", tmp_dir);
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), -1);
	ck_assert_str_eq(err, want);
	ASSERT_ERR(want, "--config", path);
	ASSERT_ERR(want, "--validate", "-c", path);
}
END_TEST

/* A line longer than the reader's buffer must not turn into two lines. */
START_TEST(test_file_long_line)
{
	char text[2100];

	memset(text, 'x', sizeof text);
	text[0] = '#';
	memcpy(text + 2000, "\nmax-clients 7\n", 16);
	const char *path = write_file("long.conf", text);
	ck_assert_msg(fr_config_load_file(&cfg, path, err) == 0, "%s", err);
	ck_assert_uint_eq(cfg.max_clients, 7);
}
END_TEST

/* ---- --config and precedence ---- */

START_TEST(test_precedence_argv_overrides_file)
{
	const char *path = write_file("p.conf",
	    "listen 127.0.0.1:9000\n"
	    "ingest 127.0.0.1:9001\n"
	    "max-clients 5\n"
	    "max-frame-size 1M\n"
	    "validate yes\n"
	    "log-level debug\n"
	    "pidfile /tmp/file.pid\n");

	ASSERT_RUN("--config", path, "--listen", "127.0.0.1:9100", "--max-clients", "6",
	    "-p", "/tmp/argv.pid");
	ck_assert_str_eq(cfg.config_file, path);
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:9100");
	ck_assert_str_eq(cfg.streams[0].ingest.text, "127.0.0.1:9001");
	ck_assert_uint_eq(cfg.max_clients, 6);
	ck_assert_uint_eq(cfg.max_frame_bytes, 1024 * 1024);
	ck_assert_int_eq(cfg.validate, 1);
	ck_assert_int_eq(cfg.log_level, FR_LOG_DEBUG);
	ck_assert_str_eq(cfg.pidfile, "/tmp/argv.pid");

	/* The file is read first wherever --config stands, so argv still wins. */
	ASSERT_RUN("--max-clients", "6", "--log-level", "warn", "--config", path);
	ck_assert_uint_eq(cfg.max_clients, 6);
	ck_assert_int_eq(cfg.log_level, FR_LOG_WARN);
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:9000");

	ASSERT_RUN("-c", path);
	ck_assert_str_eq(cfg.config_file, path);
	ck_assert_uint_eq(cfg.max_clients, 5);
}
END_TEST

START_TEST(test_precedence_config_equals)
{
	char arg[160];
	const char *path = write_file("eq.conf", "max-clients 5\n");

	snprintf(arg, sizeof arg, "--config=%s", path);
	ASSERT_RUN(arg);
	ck_assert_uint_eq(cfg.max_clients, 5);
	ck_assert_str_eq(cfg.config_file, path);
}
END_TEST

/* Every spelling getopt accepts for --config must load the file. */
START_TEST(test_precedence_config_spellings)
{
	char attached[160];
	const char *path = write_file("sp.conf", "max-clients 5\n");

	snprintf(attached, sizeof attached, "-c%s", path);
	ASSERT_RUN(attached);
	ck_assert_uint_eq(cfg.max_clients, 5);
	ck_assert_str_eq(cfg.config_file, path);

	ASSERT_RUN("-dc", path);
	ck_assert_int_eq(cfg.daemonize, 1);
	ck_assert_uint_eq(cfg.max_clients, 5);

	ASSERT_RUN("--conf", path);
	ck_assert_uint_eq(cfg.max_clients, 5);
}
END_TEST

/* A config file error stops everything, before argv is looked at. */
START_TEST(test_precedence_file_error)
{
	const char *path = write_file("err.conf", "max-clients 4\nmax-clients lots\n");

	ASSERT_ERR(at_line(path, 2, "--max-clients: 'lots' is not a whole number"), "--config",
	    path, "--max-clients", "9");
}
END_TEST

START_TEST(test_precedence_streams)
{
	const char *path = write_file("s.conf",
	    "stream cam1,ingest=127.0.0.1:2000,listen=127.0.0.1:2001\n"
	    "stream cam2,listen=127.0.0.1:2003\n"
	    "stream default,listen=127.0.0.1:2005\n");

	/* argv redeclares cam2: the declaration is replaced in place, not merged. */
	ASSERT_RUN("--config", path, "--stream", "cam2,ingest=127.0.0.1:2102", "--stream",
	    "cam3");
	ck_assert_uint_eq(cfg.n_streams, 4);
	ck_assert_str_eq(cfg.streams[0].name, "default");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:2005");
	ck_assert_str_eq(cfg.streams[1].name, "cam1");
	ck_assert_int_eq(cfg.streams[1].is_from_file, 1);
	ck_assert_str_eq(cfg.streams[1].ingest.text, "127.0.0.1:2000");
	ck_assert_str_eq(cfg.streams[2].name, "cam2");
	ck_assert_int_eq(cfg.streams[2].is_from_file, 0);
	ck_assert_int_eq(cfg.streams[2].has_ingest, 1);
	ck_assert_int_eq(cfg.streams[2].has_listen, 0);
	ck_assert_str_eq(cfg.streams[2].ingest.text, "127.0.0.1:2102");
	ck_assert_str_eq(cfg.streams[3].name, "cam3");
	ck_assert_int_eq(cfg.streams[3].is_from_file, 0);

	/* Redeclared from argv once, it is argv's: a second argv declaration is an error. */
	ASSERT_ERR("--stream: stream cam1 declared twice", "--config", path, "--stream", "cam1",
	    "--stream", "cam1");

	/* argv's --listen overrides the file's "stream default,listen=". */
	ASSERT_RUN("--config", path, "--listen", "127.0.0.1:2105");
	ck_assert_str_eq(cfg.streams[0].listen.text, "127.0.0.1:2105");

	/* The check runs on the merged result. */
	ASSERT_ERR("address 127.0.0.1:2000 is used twice", "--config", path, "--ingest",
	    "127.0.0.1:2000");
}
END_TEST

/* ---- the table: every row, through tests/option_samples.h ---- */

static const struct option_sample *
sample_of(const char *name)
{
	for (size_t i = 0; i < N_OPTION_SAMPLES; i++)
		if (strcmp(option_samples[i].name, name) == 0)
			return &option_samples[i];
	return NULL;
}

static const struct fr_config_option *
row_of(const char *name, const struct fr_config_option *table)
{
	for (const struct fr_config_option *o = table; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static int
is_number_kind(enum fr_config_kind kind)
{
	return kind == FR_KIND_SIZE || kind == FR_KIND_UINT || kind == FR_KIND_SECONDS;
}

/* What every row of either table must be, whatever it is for. */
static void
assert_row_shape(const struct fr_config_option *o, const struct fr_config_option *table)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";

	ck_assert_msg(o->name[0] != '\0' && strspn(o->name, name_chars) == strlen(o->name),
	    "bad name '%s'", o->name);
	ck_assert_msg(row_of(o->name, table) == o, "%s is in the table twice", o->name);
	ck_assert_msg(o->reload >= FR_RELOAD_LIVE && o->reload <= FR_RELOAD_RESTART,
	    "%s does not say what a reload does", o->name);
	ck_assert_msg((o->arg_name == NULL) == (o->kind == FR_KIND_FLAG), "%s: a flag, and only "
	    "a flag, takes no value", o->name);
	ck_assert_msg((o->has_offset != 0) == (o->kind == FR_KIND_ADDR || o->kind == FR_KIND_URL),
	    "%s: has_offset", o->name);
	ck_assert_msg(!is_number_kind(o->kind) || o->min <= o->max, "%s: range", o->name);
	ck_assert_msg(o->help != NULL && strstr(o->help, "(default") == NULL,
	    "%s: --help adds the default from the table", o->name);
}

START_TEST(test_table_rows)
{
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++) {
		assert_row_shape(o, fr_config_options);
		ck_assert_msg(o->short_name == 0 || strchr("chV", o->short_name) == NULL,
		    "-%c is fr_config_parse's own", o->short_name);
		for (const struct fr_config_option *p = fr_config_options; p < o; p++)
			ck_assert_msg(o->short_name == 0 || p->short_name != o->short_name,
			    "-%c twice", o->short_name);
		ck_assert_msg(o->kind != FR_KIND_STREAMS || o->arg_name != NULL, "%s", o->name);
		ck_assert_msg(sample_of(o->name) != NULL, "no sample for --%s in "
		    "tests/option_samples.h", o->name);
	}
	for (size_t i = 0; i < N_OPTION_SAMPLES; i++)
		ck_assert_msg(row_of(option_samples[i].name, fr_config_options) != NULL,
		    "a sample for --%s, which the table does not have", option_samples[i].name);
}
END_TEST

/* A token file stores where its token option does, and reloads the same way. */
START_TEST(test_table_token_files)
{
	size_t n = 0;

	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++) {
		if (o->kind != FR_KIND_TOKEN_FILE)
			continue;
		const struct fr_config_option *t = NULL;
		for (const struct fr_config_option *p = fr_config_options; p->name != NULL; p++)
			if (p->kind == FR_KIND_TOKEN && p->offset == o->offset)
				t = p;
		ck_assert_msg(t != NULL, "%s stores where no token option does", o->name);
		ck_assert_int_eq(t->reload, o->reload);
		n++;
	}
	ck_assert_uint_eq(n, 3);
}
END_TEST

/*
 * The stream keys. A key that is also an option either sets that option's field of
 * "default" (ingest, listen) or is that option for one stream (the tokens, stale-after):
 * then it takes the same kind of value and reloads the same way, in its own field.
 */
START_TEST(test_table_stream_keys)
{
	size_t n = 0, n_per_stream = 0;

	for (const struct fr_config_option *k = fr_config_stream_keys; k->name != NULL; k++) {
		assert_row_shape(k, fr_config_stream_keys);
		ck_assert_int_eq(k->short_name, 0);
		ck_assert_msg(k->kind != FR_KIND_STREAMS && k->kind != FR_KIND_ACL, "%s", k->name);
		const struct fr_config_option *o = row_of(k->name, fr_config_options);
		if (o == NULL)
			continue;
		ck_assert_int_eq(o->kind, k->kind);
		ck_assert_int_eq(o->reload, k->reload);
		if (o->offset != offsetof(struct fr_config, streams) + k->offset) {
			ck_assert_uint_eq(k->has_offset, 0);
			n_per_stream++;
			continue;
		}
		ck_assert_uint_eq(o->has_offset,
		    offsetof(struct fr_config, streams) + k->has_offset);
		n++;
	}
	ck_assert_uint_eq(n, 2);	/* ingest and listen */
	ck_assert_uint_eq(n_per_stream, 5);	/* the four token keys and stale-after */
}
END_TEST

/* Setting a row's default changes nothing: fr_config_init applied it. */
START_TEST(test_table_defaults)
{
	static struct fr_config init, set;
	char notes[NOTES_LEN];
	size_t n = 0;

	fr_config_init(&init);
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++) {
		const struct option_sample *s = sample_of(o->name);

		if (o->default_value == NULL)
			continue;
		/* From another value back to the default, through the setter. */
		set = init;
		ck_assert_msg(fr_config_set(&set, o->name, s->good, err) == 0, "%s", err);
		ck_assert_uint_gt(reload_notes(&init, &set, notes), 0);
		ck_assert_msg(fr_config_set(&set, o->name, o->default_value, err) == 0, "%s", err);
		ck_assert_msg(reload_notes(&init, &set, notes) == 0, "--%s %s: %s", o->name,
		    o->default_value, notes);
		n++;
	}
	ck_assert_uint_eq(n, 13);
}
END_TEST

/* argv that gives sample s's value v to its option: "--name v", or "--name" for a flag. */
static enum fr_config_result
parse_sample(const struct option_sample *s, const char *v, const char *config)
{
	char opt[80];
	const char *args[5];
	size_t n = 0;

	snprintf(opt, sizeof opt, "--%s", s->name);
	if (config != NULL) {
		args[n++] = "--config";
		args[n++] = config;
	}
	args[n++] = opt;
	if (v != NULL)
		args[n++] = v;
	args[n] = NULL;
	return parse_list(NULL, args);
}

/* The notes from the defaults to cfg, which must be sample s's. */
static void
assert_sample_applied(const struct option_sample *s)
{
	static struct fr_config init;
	char notes[NOTES_LEN];

	fr_config_init(&init);
	reload_notes(&init, &cfg, notes);
	ck_assert_str_eq(notes, s->note);
}

/* A config file of one line: "name value", or "name" alone. */
static const char *
sample_file(const struct option_sample *s, const char *v)
{
	char text[512];

	snprintf(text, sizeof text, "%s%s%s\n", s->name, v ? " " : "", v ? v : "");
	return write_file(s->name, text);
}

START_TEST(test_every_option_good)
{
	const struct option_sample *s = &option_samples[_i];
	static struct fr_config from_argv;
	char notes[NOTES_LEN];

	ck_assert_msg(parse_sample(s, s->good, NULL) == FR_CONFIG_RUN, "%s", err);
	assert_sample_applied(s);
	from_argv = cfg;

	fr_config_init(&cfg);
	ck_assert_msg(fr_config_load_file(&cfg, sample_file(s, s->good), err) == 0, "%s", err);
	assert_sample_applied(s);
	ck_assert_msg(reload_notes(&from_argv, &cfg, notes) == 0, "%s", notes);
}
END_TEST

START_TEST(test_every_option_bad)
{
	const struct option_sample *s = &option_samples[_i];
	const char *path = sample_file(s, s->bad);

	if (s->good != NULL) {	/* a flag on the command line takes no value at all */
		ck_assert_int_eq(parse_sample(s, s->bad, NULL), FR_CONFIG_ERROR);
		ck_assert_str_eq(err, s->why);
	}
	ck_assert_int_eq(fr_config_set(&cfg, s->name, s->bad, err), -1);
	ck_assert_str_eq(err, s->why);
	fr_config_init(&cfg);
	ck_assert_int_eq(fr_config_load_file(&cfg, path, err), -1);
	ck_assert_str_eq(err, at_line(path, 1, s->why));
}
END_TEST

/*
 * The file says one value, argv another: the result agrees in every option with argv
 * alone (as fr_reload_merge compares them), and the file alone does not.
 */
START_TEST(test_every_option_precedence)
{
	const struct option_sample *s = &option_samples[_i];
	static struct fr_config from_argv, from_file;
	char notes[NOTES_LEN];

	if (s->file == NULL)
		return;	/* repeatable: streams and --allow have their own tests */
	const char *path = sample_file(s, s->file);
	ck_assert_msg(parse_sample(s, s->good, NULL) == FR_CONFIG_RUN, "%s", err);
	from_argv = cfg;
	ck_assert_int_eq(parse_list(NULL, (const char *const[]){ "--config", path, NULL }),
	    FR_CONFIG_RUN);
	from_file = cfg;
	ck_assert_uint_gt(reload_notes(&from_argv, &from_file, notes), 0);

	ck_assert_msg(parse_sample(s, s->good, path) == FR_CONFIG_RUN, "%s", err);
	ck_assert_msg(reload_notes(&from_argv, &cfg, notes) == 0, "%s", notes);
	assert_sample_applied(s);
}
END_TEST

/* --allow rules add up, file and argv alike; a bad KIND= names the kinds there are. */
START_TEST(test_allow)
{
	const char *path = write_file("allow.conf", "allow ingest=10.0.0.0/8\n");

	ASSERT_RUN("--config", path, "--allow", "192.0.2.0/24", "--allow", "http=fd00::/8");
	ck_assert_uint_eq(cfg.allow_ingest.n, 2);
	ck_assert_str_eq(cfg.allow_ingest.cidrs[0].text, "10.0.0.0/8");
	ck_assert_str_eq(cfg.allow_ingest.cidrs[1].text, "192.0.2.0/24");
	ck_assert_uint_eq(cfg.allow_listen.n, 1);
	ck_assert_uint_eq(cfg.allow_http.n, 2);
	ck_assert_str_eq(cfg.allow_http.cidrs[1].text, "fd00::/8");
	ASSERT_ERR("--allow: 'www=10.0.0.0/8': expected CIDR or KIND=CIDR with KIND ingest, "
	    "listen or http", "--allow", "www=10.0.0.0/8");
	ASSERT_ERR("--allow: 'ingest10.0.0.0' is not a numeric IPv4 or IPv6 address", "--allow",
	    "ingest10.0.0.0/8");
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = fr_tcase(s, "defaults", FR_TESTS(test_defaults_init, test_defaults_no_arguments));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "addresses", FR_TESTS(test_addr_good, test_addr_bad));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "numbers", FR_TESTS(test_size_good, test_size_bad, test_uint_good,
	    test_uint_bad, test_seconds_good, test_seconds_bad));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "flags and strings", FR_TESTS(test_flags, test_flags_spelled, test_pidfile,
	    test_log_level, test_log_level_short));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "streams", FR_TESTS(test_stream_declare, test_stream_names,
	    test_stream_items, test_stream_pull, test_stream_access_keys, test_stream_listen_scale,
	    test_stream_duplicates, test_stream_default, test_stream_limit));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "distinct addresses", FR_TESTS(test_check_duplicates, test_check_direct,
	    test_check_duplicates_ipv6_spelling));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "help and version", FR_TESTS(test_help, test_version,
	    test_help_after_error));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "argv", FR_TESTS(test_argv_unknown, test_argv_stray,
	    test_argv_missing_value, test_argv_flag_with_value));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "config file", FR_TESTS(test_file_load, test_file_flags, test_file_edges,
	    test_file_errors, test_file_missing, test_file_long_line));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "precedence", FR_TESTS(test_precedence_argv_overrides_file,
	    test_precedence_config_equals, test_precedence_config_spellings,
	    test_precedence_file_error, test_precedence_streams));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "table", FR_TESTS(test_table_rows, test_table_token_files,
	    test_table_stream_keys, test_table_defaults, test_allow));
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_every_option_good, 0, (int)N_OPTION_SAMPLES);
	tcase_add_loop_test(tc, test_every_option_bad, 0, (int)N_OPTION_SAMPLES);
	tcase_add_loop_test(tc, test_every_option_precedence, 0, (int)N_OPTION_SAMPLES);
	return s;
}

int
main(void)
{
	return fr_run_suite(config_suite());
}
