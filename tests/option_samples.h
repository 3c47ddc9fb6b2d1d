/* SPDX-License-Identifier: MIT */
/*
 * One sample per row of the option table, for the table-driven tests of config.c
 * (tests/check_config.c) and reload.c (tests/check_reload.c). Every row must have
 * one, and every sample a row: a new option is a new line here too, in the order
 * of the table (test_every_option_at_once notes them all in that order). Also the
 * recorder both use to see what fr_reload_merge notes.
 */
#ifndef FR_TESTS_OPTION_SAMPLES_H
#define FR_TESTS_OPTION_SAMPLES_H

#include <stddef.h>
#include <string.h>

#include "fr/config.h"
#include "fr/reload.h"

struct option_sample {
	const char *name;
	const char *good;	/* valid, not the default; NULL: a flag given alone */
	const char *file;	/* valid and unlike good: in a config file that argv's good
				 * overrides; NULL for an option that adds up (repeatable) */
	const char *bad;	/* refused ... */
	const char *why;	/* ... with exactly this line */
	const char *note;	/* fr_reload_merge's notes when good replaces the default */
};

/* Files whose first line is a valid token on every Linux system. */
#define SAMPLE_TOKEN_FILE "/proc/sys/kernel/ostype"
#define SAMPLE_OTHER_TOKEN_FILE "/proc/sys/kernel/osrelease"

static const struct option_sample option_samples[] = {
	{ "ingest", "127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:0",
	  "--ingest: '127.0.0.1:0': port 0 out of range (1-65535)", "restart: --ingest\n" },
	{ "listen", "127.0.0.1:9002", "[::1]:9003", "::1:80",
	  "--listen: '::1:80': IPv6 addresses go in brackets: [::1]:PORT", "restart: --listen\n" },
	{ "stream", "cam1,ingest=127.0.0.1:9004", NULL, "cam1,bogus=1",
	  "--stream: stream cam1: 'bogus': expected ingest, listen, listen-scale, from, "
	  "from-token[-file], poll-fps, on-demand, linger, reconnect-max, "
	  "subscribe-token[-file], ingest-token[-file] or stale-after",
	  "restart: --stream cam1\n" },
	{ "http", "127.0.0.1:8080", "unix:/tmp/fr-http.sock", "127.0.0.1",
	  "--http: '127.0.0.1': expected HOST:PORT, [IPv6]:PORT or "
	    "unix:/path", "restart: --http\n" },
	{ "max-frame-size", "1M", "2M", "257M",
	  "--max-frame-size: 257M out of range (1024-268435456)",
	  "applied: max-frame-size 8388608 -> 1048576 (from the next producer connection on)\n" },
	{ "validate", NULL, "no", "maybe", "--validate: 'maybe': expected yes or no",
	  "applied: validate on\n" },
	{ "max-clients", "2", "3", "0", "--max-clients: 0 out of range (1-1000000)",
	  "applied: max-clients 1024 -> 2\n" },
	{ "max-pending", "10", "20", "0", "--max-pending: 0 out of range (1-100000)",
	  "applied: max-pending 256 -> 10\n" },
	{ "max-pending-per-peer", "4", "8", "100001",
	  "--max-pending-per-peer: 100001 out of range (1-100000)",
	  "applied: max-pending-per-peer 64 -> 4\n" },
	{ "client-timeout", "2.5", "3", "0.05", "--client-timeout: 0.05 out of range (0.1-86400)",
	  "applied: client-timeout 10 -> 2.5\n" },
	{ "producer-timeout", "0", "5", "-1", "--producer-timeout: -1 out of range (0-86400)",
	  "applied: producer-timeout 10 -> 0\n" },
	{ "max-streams", "8", "9", "4097", "--max-streams: 4097 out of range (1-4096)",
	  "restart: --max-streams\n" },
	{ "stream-idle-timeout", "5", "30", "86401",
	  "--stream-idle-timeout: 86401 out of range (0-86400)",
	  "applied: stream-idle-timeout 60 -> 5\n" },
	{ "stale-after", "2.5", "7", "-1", "--stale-after: -1 out of range (0-86400)",
	  "applied: stale-after 0 -> 2.5\n" },
	{ "ingest-token", "in-secret", "file-secret", "a b",
	  "--ingest-token: tokens are visible ASCII without spaces, & or #",
	  "applied: ingest-token set\n" },
	{ "ingest-token-file", SAMPLE_TOKEN_FILE, SAMPLE_OTHER_TOKEN_FILE, "/nonexistent/token",
	  "--ingest-token-file: /nonexistent/token: No such file or directory",
	  "applied: ingest-token set\n" },
	{ "subscribe-token", "sub-secret", "file-secret", "a&b",
	  "--subscribe-token: tokens are visible ASCII without spaces, & or #",
	  "applied: subscribe-token set\n" },
	{ "subscribe-token-file", SAMPLE_TOKEN_FILE, SAMPLE_OTHER_TOKEN_FILE, "/nonexistent/token",
	  "--subscribe-token-file: /nonexistent/token: No such file or directory",
	  "applied: subscribe-token set\n" },
	{ "allow", "10.0.0.0/8", NULL, "10.1.0.0/8",
	  "--allow: '10.1.0.0/8' has bits set beyond the /8 prefix",
	  "applied: allow ingest: 10.0.0.0/8\napplied: allow listen: 10.0.0.0/8\n"
	  "applied: allow http: 10.0.0.0/8\n" },
	{ "daemon", NULL, "no", "maybe", "--daemon: 'maybe': expected yes or no",
	  "restart: --daemon\n" },
	{ "pidfile", "/run/fr.pid", "/tmp/file.pid", "", "--pidfile: needs a value (FILE)",
	  "restart: --pidfile\n" },
	{ "log-file", "/var/log/fr.log", "/tmp/file.log", "", "--log-file: needs a value (FILE)",
	  "applied: log-file (none) -> /var/log/fr.log\n" },
	{ "user", "nobody", "daemon:daemon", "a:b:c", "--user: 'a:b:c': expected USER or "
	    "USER:GROUP",
	  "restart: --user\n" },
	{ "log-level", "debug", "warn", "loud",
	  "--log-level: 'loud': expected error, warn, info or debug",
	  "applied: log-level info -> debug\n" },
	{ "nats", "nats://127.0.0.1:4222,nats://127.0.0.1:4223", "127.0.0.1:4222", "http://x",
	  "--nats: 'http://x': expected nats://HOST:PORT or tls://HOST:PORT", "restart: --nats\n" },
	{ "nats-creds", "/etc/fr/nats.creds", "/tmp/file.creds", "",
	  "--nats-creds: needs a value (FILE)", "restart: --nats-creds\n" },
	{ "nats-token", "nats-secret", "file-secret", "a b",
	  "--nats-token: tokens are visible ASCII without spaces, & or #",
	  "restart: --nats-token\n" },
	{ "nats-token-file", SAMPLE_TOKEN_FILE, SAMPLE_OTHER_TOKEN_FILE, "/nonexistent/token",
	  "--nats-token-file: /nonexistent/token: No such file or directory",
	  "restart: --nats-token\n" },
	{ "nats-ca", "/etc/fr/ca.pem", "/tmp/ca.pem", "", "--nats-ca: needs a value (FILE)",
	  "restart: --nats-ca\n" },
	{ "nats-cert", "/etc/fr/cert.pem", "/tmp/cert.pem", "", "--nats-cert: needs a value (FILE)",
	  "restart: --nats-cert\n" },
	{ "nats-key", "/etc/fr/key.pem", "/tmp/key.pem", "", "--nats-key: needs a value (FILE)",
	  "restart: --nats-key\n" },
	{ "nats-prefix", "robots.frames", "site1.frames", "a..b",
	  "--nats-prefix: 'a..b': expected words of A-Z a-z 0-9 _ - joined by single dots",
	  "restart: --nats-prefix\n" },
	{ "node-id", "edge-1", "edge-2", "edge 1",
	  "--node-id: 'edge 1': expected words of A-Z a-z 0-9 _ - joined by single dots",
	  "restart: --node-id\n" },
	{ "nats-jetstream", NULL, "no", "maybe", "--nats-jetstream: 'maybe': expected yes or no",
	  "restart: --nats-jetstream\n" },
};

#define N_OPTION_SAMPLES (sizeof option_samples / sizeof option_samples[0])

#define NOTES_LEN 4096

/* A fr_reload_note_fn: appends "applied: WHAT\n" or "restart: WHAT\n" to char[NOTES_LEN] arg. */
static inline void
record_note(void *arg, enum fr_reload_note note, const char *what)
{
	char *notes = arg;

	strncat(notes, note == FR_RELOAD_APPLIED ? "applied: " : "restart: ",
	    NOTES_LEN - strlen(notes) - 1);
	strncat(notes, what, NOTES_LEN - strlen(notes) - 1);
	strncat(notes, "\n", NOTES_LEN - strlen(notes) - 1);
}

/*
 * What a reload from running to next would note, into notes (char[NOTES_LEN]); "" if
 * the two agree in every option. Neither configuration changes. Returns the count.
 */
static inline unsigned
reload_notes(const struct fr_config *running, const struct fr_config *next, char *notes)
{
	static struct fr_config scratch;	/* large: not on the stack */

	scratch = *running;
	notes[0] = '\0';
	return fr_reload_merge(&scratch, next, record_note, notes);
}

#endif /* FR_TESTS_OPTION_SAMPLES_H */
