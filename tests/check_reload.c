/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the SIGHUP policy (reload.c): live settings are copied and noted
 * with old and new values, sockets and other startup-only settings are noted as
 * needing a restart and left alone, tokens never appear in a note, and an unchanged
 * configuration gives no note at all.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/reload.h"
#include "option_samples.h"
#include "suite.h"

static struct fr_config running, next;
static char notes[NOTES_LEN];

static void
set(struct fr_config *c, const char *name, const char *value)
{
	char err[FR_ERR_LEN];

	ck_assert_msg(fr_config_set(c, name, value, err) == 0, "%s %s: %s", name, value, err);
}

static void
setup(void)
{
	fr_config_init(&running);
	fr_config_init(&next);
	notes[0] = '\0';
}

START_TEST(test_nothing_changed)
{
	set(&running, "stream", "cam1,ingest=127.0.0.1:2000");
	set(&next, "stream", "cam1,ingest=127.0.0.1:2000");
	set(&running, "allow", "10.0.0.0/8");
	set(&next, "allow", "10.0.0.0/8");
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), 0);
	ck_assert_str_eq(notes, "");
}
END_TEST

START_TEST(test_live_settings)
{
	set(&next, "log-level", "debug");
	set(&next, "max-clients", "2");
	set(&next, "client-timeout", "2.5");
	set(&next, "producer-timeout", "0");
	set(&next, "max-frame-size", "1M");
	set(&next, "validate", NULL);
	set(&next, "log-file", "/var/log/fr.log");
	set(&next, "allow", "listen=192.0.2.0/24");
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), 8);
	/* In the order of the option table (--help). */
	ck_assert_str_eq(notes,
	    "applied: max-frame-size 8388608 -> 1048576 (from the next producer connection on)\n"
	    "applied: validate on\n"
	    "applied: max-clients 1024 -> 2\n"
	    "applied: client-timeout 10 -> 2.5\n"
	    "applied: producer-timeout 10 -> 0\n"
	    "applied: allow listen: 192.0.2.0/24\n"
	    "applied: log-file (none) -> /var/log/fr.log\n"
	    "applied: log-level info -> debug\n");
	ck_assert_int_eq(running.log_level, FR_LOG_DEBUG);
	ck_assert_uint_eq(running.max_clients, 2);
	ck_assert(running.client_timeout_s == 2.5);
	ck_assert(running.producer_timeout_s == 0);
	ck_assert_uint_eq(running.max_frame_bytes, 1048576);
	ck_assert_int_eq(running.validate, 1);
	ck_assert_str_eq(running.log_file, "/var/log/fr.log");
	ck_assert_uint_eq(running.allow_listen.n, 1);
	ck_assert_uint_eq(running.allow_ingest.n, 0);

	/* And back: an emptied list admits everyone again. */
	fr_config_init(&next);
	notes[0] = '\0';
	fr_reload_merge(&running, &next, record_note, notes);
	ck_assert_ptr_nonnull(strstr(notes, "applied: allow listen: everyone\n"));
	ck_assert_ptr_nonnull(strstr(notes, "applied: log-file /var/log/fr.log -> (none)\n"));
	ck_assert_uint_eq(running.allow_listen.n, 0);
}
END_TEST

START_TEST(test_tokens_stay_secret)
{
	set(&running, "subscribe-token", "old-secret");
	set(&next, "ingest-token", "new-secret");
	set(&next, "subscribe-token", "other-secret");
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), 2);
	ck_assert_str_eq(notes, "applied: ingest-token set\napplied: subscribe-token changed\n");
	ck_assert_ptr_null(strstr(notes, "secret"));
	ck_assert_str_eq(running.ingest_token, "new-secret");
	ck_assert_str_eq(running.subscribe_token, "other-secret");

	fr_config_init(&next);
	notes[0] = '\0';
	fr_reload_merge(&running, &next, record_note, notes);
	ck_assert_str_eq(notes, "applied: ingest-token removed\napplied: subscribe-token "
	    "removed\n");
	ck_assert_str_eq(running.ingest_token, "");
}
END_TEST

/* from= and its keys change live, stream by stream, and never show a credential. */
START_TEST(test_pulls)
{
	set(&running, "stream", "cam,from=http://admin:s3cret@cam/v");
	set(&running, "stream", "still,from=http://cam/snap.jpg");
	set(&running, "stream", "same,from=tcp://robot:1,on-demand");
	set(&running, "stream", "pushed");
	set(&running, "stream", "keys,from=http://cam/k,on-demand,linger=1");
	set(&next, "stream", "cam,from=http://admin:n3w-s3cret@cam/v");
	set(&next, "stream", "still");
	set(&next, "stream", "same,from=tcp://robot:1,on-demand");
	set(&next, "stream", "pushed,from=http://robot:2/,from-token=s3cret");
	set(&next, "stream", "keys,from=http://cam/k2?x=s3cret,linger=2,poll-fps=5");
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), 8);
	ck_assert_str_eq(notes,
	    "applied: stream cam: from http://cam/v (another user, password or query)\n"
	    "applied: stream still: from http://cam/snap.jpg -> (none)\n"
	    "applied: stream pushed: from (none) -> http://robot:2/\n"
	    "applied: stream pushed: from-token set\n"
	    "applied: stream keys: from http://cam/k -> http://cam/k2?...\n"
	    "applied: stream keys: poll-fps 1 -> 5\n"
	    "applied: stream keys: on-demand off\n"
	    "applied: stream keys: linger 1 -> 2\n");
	ck_assert_ptr_null(strstr(notes, "s3cret"));
	for (size_t i = 1; i < next.n_streams; i++) {
		ck_assert_int_eq(running.streams[i].has_pull, next.streams[i].has_pull);
		ck_assert(fr_config_pull_equal(&running.streams[i].pull, &next.streams[i].pull));
	}
}
END_TEST

/*
 * A stream's own tokens and stale-after take effect at once, noted per stream, tokens
 * never shown; "default"'s keys are its own, not the global options of the same name.
 */
START_TEST(test_stream_access_keys)
{
	set(&running, "stream", "cam1,subscribe-token=old-secret,stale-after=5");
	set(&next, "stream", "cam1,subscribe-token=new-secret,ingest-token=in-secret");
	set(&next, "stream", "default,subscribe-token=def-secret,stale-after=2");
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), 5);
	ck_assert_str_eq(notes,
	    "applied: stream default: subscribe-token set\n"
	    "applied: stream default: stale-after 0 -> 2\n"
	    "applied: stream cam1: subscribe-token changed\n"
	    "applied: stream cam1: ingest-token set\n"
	    "applied: stream cam1: stale-after 5 -> 0\n");
	ck_assert_ptr_null(strstr(notes, "secret"));
	ck_assert_str_eq(running.streams[1].subscribe_token, "new-secret");
	ck_assert_str_eq(running.streams[1].ingest_token, "in-secret");
	ck_assert(running.streams[1].stale_after_s == 0);
	ck_assert_str_eq(running.streams[0].subscribe_token, "def-secret");
	ck_assert(running.streams[0].stale_after_s == 2);
	/* The global options stayed as they were. */
	ck_assert_str_eq(running.subscribe_token, "");
	ck_assert(running.stale_after_s == 0);
}
END_TEST

START_TEST(test_restart_settings)
{
	set(&running, "stream", "cam1,ingest=127.0.0.1:2000");
	set(&running, "stream", "gone,listen=127.0.0.1:2001");
	set(&next, "listen", "127.0.0.1:3000");
	set(&next, "stream", "cam1,ingest=127.0.0.1:2002");
	set(&next, "stream", "new");
	set(&next, "http", "127.0.0.1:8080");
	set(&next, "max-streams", "8");
	set(&next, "daemon", NULL);
	set(&next, "pidfile", "/run/fr.pid");
	set(&next, "user", "nobody");
	struct fr_config before = running;
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), 9);
	ck_assert_str_eq(notes,
	    "restart: --listen\n"
	    "restart: --stream cam1\n"
	    "restart: --stream new\n"
	    "restart: --stream gone (removed)\n"
	    "restart: --http\n"
	    "restart: --max-streams\n"
	    "restart: --daemon\n"
	    "restart: --pidfile\n"
	    "restart: --user\n");
	ck_assert(memcmp(&before, &running, sizeof running) == 0);
}
END_TEST

/* ---- every option of the table, through tests/option_samples.h ---- */

static const struct fr_config_option *
row(const char *name)
{
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	ck_abort_msg("no option %s in the table", name);
	return NULL;
}

/* Every line of notes starts with prefix. */
static int
all_lines_start(const char *notes_text, const char *prefix)
{
	for (const char *l = notes_text; *l != '\0'; l = strchr(l, '\n') + 1)
		if (strncmp(l, prefix, strlen(prefix)) != 0)
			return 0;
	return 1;
}

/*
 * Each option changed alone: exactly its sample's notes, "restart:" if and only if
 * its row says FR_RELOAD_RESTART. A live change is copied (a second merge finds
 * nothing) and so is the way back to the default; a restart one leaves running as it was.
 */
START_TEST(test_every_option)
{
	const struct option_sample *s = &option_samples[_i];
	const struct fr_config_option *o = row(s->name);
	static struct fr_config before;
	char again[NOTES_LEN];
	unsigned lines = 0;

	set(&next, s->name, s->good);
	before = running;
	unsigned n = fr_reload_merge(&running, &next, record_note, notes);
	ck_assert_str_eq(notes, s->note);
	for (const char *p = notes; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(n, lines);
	if (o->reload == FR_RELOAD_RESTART) {
		ck_assert_msg(all_lines_start(notes, "restart: --"), "%s: %s", s->name, notes);
		ck_assert(memcmp(&before, &running, sizeof running) == 0);
		return;
	}
	ck_assert_msg(all_lines_start(notes, "applied: "), "%s: %s", s->name, notes);
	ck_assert_uint_eq(reload_notes(&running, &next, again), 0);
	fr_config_init(&next);
	notes[0] = '\0';
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record_note, notes), n);
	ck_assert_uint_eq(reload_notes(&running, &next, again), 0);
}
END_TEST

/* All changed at once: one note per sample line, in the order of the table. */
START_TEST(test_every_option_at_once)
{
	char want[NOTES_LEN] = "";

	for (size_t i = 0; i < N_OPTION_SAMPLES; i++) {
		const struct option_sample *s = &option_samples[i];

		/* Both token files set the token their token option sets. */
		if (row(s->name)->kind == FR_KIND_TOKEN_FILE)
			continue;
		set(&next, s->name, s->good);
		strcat(want, s->note);
	}
	fr_reload_merge(&running, &next, record_note, notes);
	ck_assert_str_eq(notes, want);
}
END_TEST

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = fr_tcase(s, "merge", FR_TESTS(test_nothing_changed, test_live_settings,
	    test_tokens_stay_secret, test_stream_access_keys, test_restart_settings, test_pulls));

	tcase_add_checked_fixture(tc, setup, NULL);

	tc = fr_tcase_loop(s, "every option", FR_TESTS(test_every_option), (int)N_OPTION_SAMPLES);
	tcase_add_test(tc, test_every_option_at_once);
	tcase_add_checked_fixture(tc, setup, NULL);
	return s;
}

int
main(void)
{
	return fr_run_suite(reload_suite());
}
