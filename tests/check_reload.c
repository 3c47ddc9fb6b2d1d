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

static struct fr_config running, next;
static char notes[4096];

static void
record(void *arg, enum fr_reload_note note, const char *what)
{
	(void)arg;
	strncat(notes, note == FR_RELOAD_APPLIED ? "applied: " : "restart: ",
	    sizeof notes - strlen(notes) - 1);
	strncat(notes, what, sizeof notes - strlen(notes) - 1);
	strncat(notes, "\n", sizeof notes - strlen(notes) - 1);
}

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
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record, NULL), 0);
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
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record, NULL), 8);
	ck_assert_str_eq(notes,
	    "applied: log-level info -> debug\n"
	    "applied: max-clients 1024 -> 2\n"
	    "applied: client-timeout 10 -> 2.5\n"
	    "applied: producer-timeout 10 -> 0\n"
	    "applied: max-frame-size 8388608 -> 1048576 (from the next producer connection on)\n"
	    "applied: validate on\n"
	    "applied: allow listen: 192.0.2.0/24\n"
	    "applied: log-file (none) -> /var/log/fr.log\n");
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
	fr_reload_merge(&running, &next, record, NULL);
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
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record, NULL), 2);
	ck_assert_str_eq(notes, "applied: ingest-token set\napplied: subscribe-token changed\n");
	ck_assert_ptr_null(strstr(notes, "secret"));
	ck_assert_str_eq(running.ingest_token, "new-secret");
	ck_assert_str_eq(running.subscribe_token, "other-secret");

	fr_config_init(&next);
	notes[0] = '\0';
	fr_reload_merge(&running, &next, record, NULL);
	ck_assert_str_eq(notes, "applied: ingest-token removed\napplied: subscribe-token removed\n");
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
	set(&next, "stream", "cam,from=http://admin:n3w-s3cret@cam/v");
	set(&next, "stream", "still");
	set(&next, "stream", "same,from=tcp://robot:1,on-demand");
	set(&next, "stream", "pushed,from=http://robot:2/,from-token=s3cret");
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record, NULL), 3);
	ck_assert_str_eq(notes,
	    "applied: stream cam: pulled from http://cam/v (changed)\n"
	    "applied: stream still: no longer pulled from http://cam/snap.jpg\n"
	    "applied: stream pushed: pulled from http://robot:2/\n");
	ck_assert_ptr_null(strstr(notes, "s3cret"));
	ck_assert(fr_config_pull_equal(&running.streams[1].pull, &next.streams[1].pull));
	ck_assert(!running.streams[2].has_pull);
	ck_assert(running.streams[4].has_pull);

	/* Any key counts: a new linger is a change. */
	fr_config_init(&running);
	set(&running, "stream", "x,from=tcp://robot:3,on-demand,linger=1");
	fr_config_init(&next);
	set(&next, "stream", "x,from=tcp://robot:3,on-demand,linger=2");
	notes[0] = '\0';
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record, NULL), 1);
	ck_assert_str_eq(notes, "applied: stream x: pulled from tcp://robot:3 (changed)\n");
	ck_assert(running.streams[1].pull.linger_s == 2);
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
	ck_assert_uint_eq(fr_reload_merge(&running, &next, record, NULL), 9);
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

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("merge");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_nothing_changed);
	tcase_add_test(tc, test_live_settings);
	tcase_add_test(tc, test_tokens_stay_secret);
	tcase_add_test(tc, test_restart_settings);
	tcase_add_test(tc, test_pulls);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reload_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
