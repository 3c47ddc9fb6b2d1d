/* SPDX-License-Identifier: MIT */
/*
 * The option table and everything that reads it: getopt_long, config files, --help,
 * the defaults, and the keys of a --stream spec (redis config.c's one-table idea).
 * Values are parsed and range-checked here by one setter per kind; reload.c compares
 * them. Nothing here binds, opens sockets or logs.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fr/config.h"

/*
 * Stores value, parsed as o->kind says, at o's offsets in base: a struct fr_config
 * for an option, a struct fr_stream_config for a stream key. Returns 0, or -1 with
 * one line in err (FR_ERR_LEN bytes) that does not name the option.
 */
typedef int (*setter_fn)(void *base, const struct fr_config_option *o, const char *value,
    char *err);

static int set_addr(void *, const struct fr_config_option *, const char *, char *);
static int set_stream(void *, const struct fr_config_option *, const char *, char *);
static int set_size(void *, const struct fr_config_option *, const char *, char *);
static int set_uint(void *, const struct fr_config_option *, const char *, char *);
static int set_seconds(void *, const struct fr_config_option *, const char *, char *);
static int set_flag(void *, const struct fr_config_option *, const char *, char *);
static int set_path(void *, const struct fr_config_option *, const char *, char *);
static int set_token(void *, const struct fr_config_option *, const char *, char *);
static int set_token_file(void *, const struct fr_config_option *, const char *, char *);
static int set_acl(void *, const struct fr_config_option *, const char *, char *);
static int set_user(void *, const struct fr_config_option *, const char *, char *);
static int set_log_level(void *, const struct fr_config_option *, const char *, char *);
static int set_url(void *, const struct fr_config_option *, const char *, char *);
static int set_scale(void *, const struct fr_config_option *, const char *, char *);
static int set_nats_urls(void *, const struct fr_config_option *, const char *, char *);
static int set_subject(void *, const struct fr_config_option *, const char *, char *);

static const setter_fn setters[] = {
	[FR_KIND_ADDR] = set_addr,
	[FR_KIND_STREAMS] = set_stream,
	[FR_KIND_SIZE] = set_size,
	[FR_KIND_UINT] = set_uint,
	[FR_KIND_SECONDS] = set_seconds,
	[FR_KIND_FLAG] = set_flag,
	[FR_KIND_PATH] = set_path,
	[FR_KIND_TOKEN] = set_token,
	[FR_KIND_TOKEN_FILE] = set_token_file,
	[FR_KIND_ACL] = set_acl,
	[FR_KIND_USER] = set_user,
	[FR_KIND_LOG_LEVEL] = set_log_level,
	[FR_KIND_URL] = set_url,
	[FR_KIND_SCALE] = set_scale,
	[FR_KIND_NATS_URLS] = set_nats_urls,
	[FR_KIND_SUBJECT] = set_subject,
};

#define AT(field) offsetof(struct fr_config, field)
#define KEY_AT(field) offsetof(struct fr_stream_config, field)

/*
 * The columns are struct fr_config_option's (config.h); --config, --help and --version
 * are fr_config_parse's own.
 */
const struct fr_config_option fr_config_options[] = {
	{ .name = "ingest", .short_name = 'i', .arg_name = "ADDR",
	  .default_value = "127.0.0.1:12345", .kind = FR_KIND_ADDR,
	  .offset = AT(streams[0].ingest), .has_offset = AT(streams[0].has_ingest),
	  .reload = FR_RELOAD_RESTART, .help = "raw MJPEG producer address of stream 'default'" },
	{ .name = "listen", .short_name = 'l', .arg_name = "ADDR",
	  .default_value = "127.0.0.1:12346", .kind = FR_KIND_ADDR,
	  .offset = AT(streams[0].listen), .has_offset = AT(streams[0].has_listen),
	  .reload = FR_RELOAD_RESTART, .help = "raw MJPEG subscriber address of stream 'default'" },
	/* Adding or removing a stream takes a restart; its keys say what they need. */
	{ .name = "stream", .short_name = 's', .arg_name = "NAME", .kind = FR_KIND_STREAMS,
	  .reload = FR_RELOAD_RESTART, .help = "declare a named stream, pushed to it or pulled "
	  "from=URL (repeatable)" },
	{ .name = "http", .arg_name = "ADDR", .kind = FR_KIND_ADDR, .offset = AT(http),
	  .has_offset = AT(has_http), .reload = FR_RELOAD_RESTART,
	  .help = "serve the HTTP endpoints (streams, snapshots, ingest, stats) here" },
	/* From each stream's next producer on, so that no frame changes its limit halfway. */
	{ .name = "max-frame-size", .arg_name = "BYTES", .default_value = "8M",
	  .kind = FR_KIND_SIZE, .offset = AT(max_frame_bytes), .min = 1024,
	  .max = 256.0 * 1024 * 1024, .reload = FR_RELOAD_NEXT_PRODUCER,
	  .help = "drop frames larger than this; K and M suffixes" },
	{ .name = "validate", .kind = FR_KIND_FLAG, .offset = AT(validate),
	  .reload = FR_RELOAD_LIVE, .help = "check each frame's header with libjpeg-turbo" },
	{ .name = "max-clients", .arg_name = "N", .default_value = "1024", .kind = FR_KIND_UINT,
	  .offset = AT(max_clients), .min = 1, .max = 1000000, .reload = FR_RELOAD_LIVE,
	  .help = "refuse subscribers beyond this many" },
	{ .name = "max-pending", .arg_name = "N", .default_value = "256", .kind = FR_KIND_UINT,
	  .offset = AT(max_pending), .min = 1, .max = 100000, .reload = FR_RELOAD_LIVE,
	  .help = "HTTP connections that have not sent a complete request head yet, in all" },
	{ .name = "max-pending-per-peer", .arg_name = "N", .default_value = "64",
	  .kind = FR_KIND_UINT, .offset = AT(max_pending_per_peer), .min = 1, .max = 100000,
	  .reload = FR_RELOAD_LIVE,
	  .help = "HTTP connections without a complete request head yet, per peer address" },
	/* A subscriber's timeout is set when it connects. */
	{ .name = "client-timeout", .arg_name = "SECONDS", .default_value = "10",
	  .kind = FR_KIND_SECONDS, .offset = AT(client_timeout_s), .min = 0.1, .max = 86400,
	  .reload = FR_RELOAD_NEXT_CONNECTION,
	  .help = "disconnect a subscriber making no progress" },
	{ .name = "producer-timeout", .arg_name = "SECONDS", .default_value = "10",
	  .kind = FR_KIND_SECONDS, .offset = AT(producer_timeout_s), .min = 0, .max = 86400,
	  .reload = FR_RELOAD_LIVE, .help = "disconnect a producer silent this long, 0 for never" },
	{ .name = "max-streams", .arg_name = "N", .default_value = "64", .kind = FR_KIND_UINT,
	  .offset = AT(max_streams), .min = 1, .max = 4096, .reload = FR_RELOAD_RESTART,
	  .help = "streams in all, declared or created by HTTP pushes" },
	{ .name = "stream-idle-timeout", .arg_name = "SECONDS", .default_value = "60",
	  .kind = FR_KIND_SECONDS, .offset = AT(stream_idle_timeout_s), .min = 0, .max = 86400,
	  .reload = FR_RELOAD_LIVE, .help = "remove a stream an HTTP push created after this "
	  "long with no producer and no subscriber, 0 for never" },
	{ .name = "stale-after", .arg_name = "SECONDS", .default_value = "0",
	  .kind = FR_KIND_SECONDS, .offset = AT(stale_after_s), .min = 0, .max = 86400,
	  .reload = FR_RELOAD_LIVE, .help = "a stream whose newest frame is older is stale: "
	  "/snapshot answers 503; 0 for never" },
	{ .name = "ingest-token", .arg_name = "TOKEN", .kind = FR_KIND_TOKEN,
	  .offset = AT(ingest_token), .reload = FR_RELOAD_LIVE,
	  .help = "HTTP ingest requires Authorization: Bearer TOKEN" },
	{ .name = "ingest-token-file", .arg_name = "FILE", .kind = FR_KIND_TOKEN_FILE,
	  .offset = AT(ingest_token), .reload = FR_RELOAD_LIVE,
	  .help = "read the ingest token from FILE" },
	{ .name = "subscribe-token", .arg_name = "TOKEN", .kind = FR_KIND_TOKEN,
	  .offset = AT(subscribe_token), .reload = FR_RELOAD_LIVE,
	  .help = "HTTP reads require the token (Bearer or ?token=)" },
	{ .name = "subscribe-token-file", .arg_name = "FILE", .kind = FR_KIND_TOKEN_FILE,
	  .offset = AT(subscribe_token), .reload = FR_RELOAD_LIVE,
	  .help = "read the subscribe token from FILE" },
	{ .name = "allow", .arg_name = "[KIND=]CIDR", .kind = FR_KIND_ACL, .reload = FR_RELOAD_LIVE,
	  .help = "accept only peers in CIDR, on the listeners of KIND (ingest, listen or http) "
	  "or all (repeatable)" },
	{ .name = "daemon", .short_name = 'd', .kind = FR_KIND_FLAG, .offset = AT(daemonize),
	  .reload = FR_RELOAD_RESTART, .help = "detach; log to syslog unless --log-file" },
	{ .name = "pidfile", .short_name = 'p', .arg_name = "FILE", .kind = FR_KIND_PATH,
	  .offset = AT(pidfile), .reload = FR_RELOAD_RESTART,
	  .help = "write the process id to FILE" },
	{ .name = "log-file", .arg_name = "FILE", .kind = FR_KIND_PATH, .offset = AT(log_file),
	  .reload = FR_RELOAD_LIVE, .help = "append the log to FILE (reopened on SIGHUP)" },
	{ .name = "user", .short_name = 'u', .arg_name = "USER[:GROUP]", .kind = FR_KIND_USER,
	  .offset = AT(user), .reload = FR_RELOAD_RESTART,
	  .help = "switch to this user after binding (as root)" },
	{ .name = "log-level", .short_name = 'L', .arg_name = "LEVEL", .default_value = "info",
	  .kind = FR_KIND_LOG_LEVEL, .offset = AT(log_level), .reload = FR_RELOAD_LIVE,
	  .help = "error, warn, info or debug" },
	/* Federation: the connection is made once, at startup. */
	{ .name = "nats", .arg_name = "URL[,URL]...", .kind = FR_KIND_NATS_URLS,
	  .offset = AT(nats_urls), .reload = FR_RELOAD_RESTART,
	  .help = "publish ingested frames on NATS and serve other nodes' streams from it" },
	{ .name = "nats-creds", .arg_name = "FILE", .kind = FR_KIND_PATH, .offset = AT(nats_creds),
	  .reload = FR_RELOAD_RESTART, .help = "NATS user credentials (JWT and NKey seed) file" },
	{ .name = "nats-token", .arg_name = "TOKEN", .kind = FR_KIND_TOKEN,
	  .offset = AT(nats_token), .reload = FR_RELOAD_RESTART,
	  .help = "NATS authentication token" },
	{ .name = "nats-token-file", .arg_name = "FILE", .kind = FR_KIND_TOKEN_FILE,
	  .offset = AT(nats_token), .reload = FR_RELOAD_RESTART,
	  .help = "read the NATS token from FILE" },
	{ .name = "nats-ca", .arg_name = "FILE", .kind = FR_KIND_PATH, .offset = AT(nats_ca),
	  .reload = FR_RELOAD_RESTART, .help = "TLS: trust the NATS servers this CA signed" },
	{ .name = "nats-cert", .arg_name = "FILE", .kind = FR_KIND_PATH, .offset = AT(nats_cert),
	  .reload = FR_RELOAD_RESTART, .help = "TLS: client certificate chain (with --nats-key)" },
	{ .name = "nats-key", .arg_name = "FILE", .kind = FR_KIND_PATH, .offset = AT(nats_key),
	  .reload = FR_RELOAD_RESTART, .help = "TLS: the client certificate's private key" },
	{ .name = "nats-prefix", .arg_name = "SUBJECT", .default_value = "framerouter.frames",
	  .kind = FR_KIND_SUBJECT, .offset = AT(nats_prefix), .reload = FR_RELOAD_RESTART,
	  .help = "frames of stream NAME travel on SUBJECT.NAME" },
	{ .name = "node-id", .arg_name = "ID", .kind = FR_KIND_SUBJECT, .offset = AT(node_id),
	  .reload = FR_RELOAD_RESTART,
	  .help = "this node's name in the frames it publishes; the host name if not given" },
	{ .name = "nats-jetstream", .kind = FR_KIND_FLAG, .offset = AT(nats_jetstream),
	  .reload = FR_RELOAD_RESTART,
	  .help = "keep each stream's latest frame in JetStream for first subscribers" },
	{ .name = NULL },
};

#define N_OPTIONS (sizeof fr_config_options / sizeof fr_config_options[0] - 1)

/*
 * The items of --stream NAME[,KEY=VALUE]... A key that is also an option (ingest,
 * listen) sets the same field of stream "default" as that option does.
 */
const struct fr_config_option fr_config_stream_keys[] = {
	{ .name = "ingest", .arg_name = "ADDR", .kind = FR_KIND_ADDR, .offset = KEY_AT(ingest),
	  .has_offset = KEY_AT(has_ingest), .reload = FR_RELOAD_RESTART,
	  .help = "raw MJPEG producer address" },
	{ .name = "listen", .arg_name = "ADDR", .kind = FR_KIND_ADDR, .offset = KEY_AT(listen),
	  .has_offset = KEY_AT(has_listen), .reload = FR_RELOAD_RESTART,
	  .help = "raw MJPEG subscriber address" },
	{ .name = "listen-scale", .arg_name = "SCALE", .kind = FR_KIND_SCALE,
	  .offset = KEY_AT(listen_scale), .reload = FR_RELOAD_RESTART,
	  .help = "listen= sends the frames scaled: 1/2, 1/4, 1/8 or auto" },
	/* A pulled stream (pull.c): a change restarts that stream's puller, no other. */
	{ .name = "from", .arg_name = "URL", .kind = FR_KIND_URL, .offset = KEY_AT(pull.url),
	  .has_offset = KEY_AT(has_pull), .reload = FR_RELOAD_LIVE,
	  .help = "pull the stream from tcp://HOST:PORT or http://[USER:PASS@]HOST[:PORT]/PATH" },
	{ .name = "from-token", .arg_name = "TOKEN", .kind = FR_KIND_TOKEN,
	  .offset = KEY_AT(pull.token), .reload = FR_RELOAD_LIVE,
	  .help = "send Authorization: Bearer TOKEN to the upstream" },
	{ .name = "from-token-file", .arg_name = "FILE", .kind = FR_KIND_TOKEN_FILE,
	  .offset = KEY_AT(pull.token), .reload = FR_RELOAD_LIVE,
	  .help = "read from-token from FILE" },
	{ .name = "poll-fps", .arg_name = "FPS", .default_value = "1", .kind = FR_KIND_SECONDS,
	  .offset = KEY_AT(pull.poll_fps), .min = 0.01, .max = 100, .reload = FR_RELOAD_LIVE,
	  .help = "fetch a still-image URL this many times a second" },
	{ .name = "on-demand", .kind = FR_KIND_FLAG, .offset = KEY_AT(pull.is_on_demand),
	  .reload = FR_RELOAD_LIVE, .help = "pull only while the stream has subscribers" },
	{ .name = "linger", .arg_name = "SECONDS", .default_value = "5", .kind = FR_KIND_SECONDS,
	  .offset = KEY_AT(pull.linger_s), .min = 0, .max = 86400, .reload = FR_RELOAD_LIVE,
	  .help = "on-demand: go on pulling this long after the last subscriber left" },
	{ .name = "reconnect-max", .arg_name = "SECONDS", .default_value = "5",
	  .kind = FR_KIND_SECONDS, .offset = KEY_AT(pull.reconnect_max_s), .min = 0.1,
	  .max = 86400, .reload = FR_RELOAD_LIVE,
	  .help = "the longest wait between attempts to reach the upstream" },
	/* Per-stream access, besides the global tokens; live like them. */
	{ .name = "subscribe-token", .arg_name = "TOKEN", .kind = FR_KIND_TOKEN,
	  .offset = KEY_AT(subscribe_token), .reload = FR_RELOAD_LIVE,
	  .help = "reading this stream over HTTP takes TOKEN (or --subscribe-token)" },
	{ .name = "subscribe-token-file", .arg_name = "FILE", .kind = FR_KIND_TOKEN_FILE,
	  .offset = KEY_AT(subscribe_token), .reload = FR_RELOAD_LIVE,
	  .help = "read this stream's subscribe token from FILE" },
	{ .name = "ingest-token", .arg_name = "TOKEN", .kind = FR_KIND_TOKEN,
	  .offset = KEY_AT(ingest_token), .reload = FR_RELOAD_LIVE,
	  .help = "pushing to this stream over HTTP takes TOKEN (or --ingest-token)" },
	{ .name = "ingest-token-file", .arg_name = "FILE", .kind = FR_KIND_TOKEN_FILE,
	  .offset = KEY_AT(ingest_token), .reload = FR_RELOAD_LIVE,
	  .help = "read this stream's ingest token from FILE" },
	{ .name = "stale-after", .arg_name = "SECONDS", .kind = FR_KIND_SECONDS,
	  .offset = KEY_AT(stale_after_s), .min = 0, .max = 86400, .reload = FR_RELOAD_LIVE,
	  .help = "--stale-after for this stream; 0 follows --stale-after" },
	{ .name = NULL },
};

const struct fr_config_acl fr_config_acls[] = {
	{ "ingest", AT(allow_ingest) },
	{ "listen", AT(allow_listen) },
	{ "http", AT(allow_http) },
	{ NULL, 0 },
};

static void *
field(void *base, size_t offset)
{
	return (char *)base + offset;
}

/*
 * Appends text to the list in buf as the i-th of n choices: "a", "a or b",
 * "a, b or c". *used counts what is in buf.
 */
static void
append_choice(char *buf, size_t len, size_t *used, size_t i, size_t n, const char *text)
{
	const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";

	if (*used < len)
		*used += (size_t)snprintf(buf + *used, len - *used, "%s%s", sep, text);
}

/* "ingest=ADDR", or "KEY" alone for a flag key: one item of a stream spec. */
static const char *
key_text(const struct fr_config_option *k, char *buf, size_t len)
{
	if (k->arg_name != NULL)
		snprintf(buf, len, "%s=%s", k->name, k->arg_name);
	else
		snprintf(buf, len, "%s", k->name);
	return buf;
}

/* The key called name-file beside a key called name (from-token-file), or NULL. */
static const struct fr_config_option *
file_variant(const struct fr_config_option *k)
{
	for (const struct fr_config_option *f = fr_config_stream_keys; f->name != NULL; f++) {
		size_t n = strlen(k->name);

		if (strncmp(f->name, k->name, n) == 0 && strcmp(f->name + n, "-file") == 0)
			return f;
	}
	return NULL;
}

/*
 * "ingest, listen, ..., from-token[-file], ... or stale-after": every key of a stream
 * spec by name, for an error (their values are in --help: this must fit an error line
 * after a config file's path).
 */
static const char *
stream_keys_text(char *buf, size_t len)
{
	const char *names[32];
	char both[32][48];
	size_t used = 0, n = 0;

	for (const struct fr_config_option *k = fr_config_stream_keys; k->name != NULL && n < 32;
	    k++) {
		size_t name_len = strlen(k->name);

		if (name_len > 5 && strcmp(k->name + name_len - 5, "-file") == 0)
			continue;	/* shown with the key it reads */
		names[n] = k->name;
		if (file_variant(k) != NULL) {
			snprintf(both[n], sizeof both[n], "%s[-file]", k->name);
			names[n] = both[n];
		}
		n++;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		append_choice(buf, len, &used, i, n, names[i]);
	return buf;
}

/* What an option takes, as --help and "needs a value" spell it: NAME[,KEY=VALUE]... */
static const char *
arg_text(const struct fr_config_option *o, char *buf, size_t len)
{
	size_t used;
	char item[64];

	if (o->kind != FR_KIND_STREAMS)
		return o->arg_name;
	used = (size_t)snprintf(buf, len, "%s", o->arg_name);
	for (const struct fr_config_option *k = fr_config_stream_keys; k->name && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "[,%s]", key_text(k, item,
		    sizeof item));
	return buf;
}

/* A default is text, as a user would type it, so its own setter range-checks it. */
static void
apply_default(void *base, const struct fr_config_option *o)
{
	char err[FR_ERR_LEN];

	if (o->default_value == NULL)
		return;
	int rc = setters[o->kind](base, o, o->default_value, err);
	assert(rc == 0 && "the option table holds a default its own setter refuses");
	(void)rc;
}

/* A stream as declared by "--stream name" alone: its keys at their defaults. */
static void
stream_init(struct fr_stream_config *sc, const char *name)
{
	memset(sc, 0, sizeof *sc);
	snprintf(sc->name, sizeof sc->name, "%s", name);
	for (const struct fr_config_option *k = fr_config_stream_keys; k->name != NULL; k++)
		apply_default(sc, k);
}

void
fr_config_init(struct fr_config *c)
{
	memset(c, 0, sizeof *c);
	c->n_streams = 1;
	stream_init(&c->streams[0], FR_DEFAULT_STREAM);
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++)
		apply_default(c, o);
}

/* An address, and the int that says it was given. */
static int
set_addr(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	char why[FR_ERR_LEN];

	if (fr_addr_parse(field(base, o->offset), value, why) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.60s': %.180s", value, why);
		return -1;
	}
	*(int *)field(base, o->has_offset) = 1;
	return 0;
}

/* A URL to pull from. The error never repeats it: it may carry a password. */
static int
set_url(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	if (fr_url_parse(field(base, o->offset), value, err) < 0)
		return -1;
	*(int *)field(base, o->has_offset) = 1;
	return 0;
}

/* Tokens travel in headers and URLs: visible ASCII without spaces, so no quoting. */
static int
set_token(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	size_t n = strlen(value);

	if (n == 0 || n > FR_TOKEN_MAX) {
		snprintf(err, FR_ERR_LEN, "tokens are 1-%d characters", FR_TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (value[i] <= ' ' || value[i] > '~' || value[i] == '&' || value[i] == '#') {
			snprintf(err, FR_ERR_LEN,
			    "tokens are visible ASCII without spaces, & or #");
			return -1;
		}
	}
	memcpy(field(base, o->offset), value, n + 1);
	return 0;
}

/* The token is the file's first line, so it stays out of ps and shell history. */
static int
set_token_file(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	char line[FR_TOKEN_MAX + 2];
	FILE *fp = fopen(value, "r");

	if (fp == NULL) {
		snprintf(err, FR_ERR_LEN, "%.120s: %s", value, strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof line, fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	return set_token(base, o, line, err);
}

/* "'value': expected CIDR or KIND=CIDR with KIND ingest, listen or http" */
static int
acl_kind_error(const char *value, char *err)
{
	char kinds[64];
	size_t used = 0, n = 0;

	while (fr_config_acls[n].kind != NULL)
		n++;
	kinds[0] = '\0';
	for (size_t i = 0; i < n; i++)
		append_choice(kinds, sizeof kinds, &used, i, n, fr_config_acls[i].kind);
	snprintf(err, FR_ERR_LEN, "'%.64s': expected CIDR or KIND=CIDR with KIND %s", value, kinds);
	return -1;
}

/* "KIND=CIDR" adds to the list of one kind of listener, a bare "CIDR" to every list. */
static int
set_acl(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	const struct fr_config_acl *only = NULL;
	const char *cidr = value;
	struct fr_cidr parsed;

	(void)o;
	for (const struct fr_config_acl *a = fr_config_acls; a->kind != NULL; a++) {
		size_t len = strlen(a->kind);

		if (strncmp(value, a->kind, len) == 0 && value[len] == '=') {
			only = a;
			cidr = value + len + 1;
		}
	}
	if (only == NULL && strchr(value, '=') != NULL)
		return acl_kind_error(value, err);
	if (fr_cidr_parse(&parsed, cidr, err) < 0)
		return -1;
	for (const struct fr_config_acl *a = fr_config_acls; a->kind != NULL; a++)
		if ((only == NULL || a == only) &&
		    fr_acl_add(field(base, a->offset), &parsed, err) < 0)
			return -1;
	return 0;
}

/* Checked for shape here; the names are looked up before binding (main.c). */
static int
set_user(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	size_t n = strlen(value);
	const char *colon = strchr(value, ':');

	if (n == 0 || n > FR_USER_LEN || colon == value || (colon && colon[1] == '\0') ||
	    (colon && strchr(colon + 1, ':'))) {
		snprintf(err, FR_ERR_LEN, "'%.80s': expected USER or USER:GROUP", value);
		return -1;
	}
	memcpy(field(base, o->offset), value, n + 1);
	return 0;
}

int
fr_config_pull_equal(const struct fr_pull_config *a, const struct fr_pull_config *b)
{
	return fr_url_equal(&a->url, &b->url) && strcmp(a->token, b->token) == 0 &&
	    a->poll_fps == b->poll_fps && a->is_on_demand == b->is_on_demand &&
	    a->linger_s == b->linger_s && a->reconnect_max_s == b->reconnect_max_s;
}

int
fr_config_is_valid_stream_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > FR_STREAM_NAME_MAX)
		return 0;
	/* "." and ".." are path segments to a browser (RFC 3986 5.2.4): no URL reaches them. */
	if (strspn(name, ".") == n)
		return 0;
	static const char allowed[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

	return strspn(name, allowed) == n;
}

/* The stream called name: an existing one, or a new slot. NULL when full. */
static struct fr_stream_config *
stream_slot(struct fr_config *c, const char *name, int *is_new)
{
	for (size_t i = 0; i < c->n_streams; i++) {
		if (strcmp(c->streams[i].name, name) == 0) {
			*is_new = 0;
			return &c->streams[i];
		}
	}
	if (c->n_streams == FR_CONFIG_MAX_STREAMS)
		return NULL;
	*is_new = 1;
	return &c->streams[c->n_streams];
}

/* The row of table called name[0..len), or NULL. */
static const struct fr_config_option *
find_row(const struct fr_config_option *table, const char *name, size_t len)
{
	for (const struct fr_config_option *o = table; o->name != NULL; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* One "KEY=VALUE" item of a stream spec (or "KEY" alone, for a flag key). */
static int
set_stream_item(struct fr_stream_config *sc, const char *item, char *err)
{
	const char *eq = strchr(item, '=');
	size_t len = eq != NULL ? (size_t)(eq - item) : strlen(item);
	const struct fr_config_option *k = find_row(fr_config_stream_keys, item, len);
	char why[FR_ERR_LEN], keys[320];

	/* Only the key is quoted: the value of a mistyped from= may hold a password. */
	if (k == NULL || (k->arg_name != NULL) != (eq != NULL)) {
		snprintf(why, sizeof why, "'%.*s': expected %.400s", (int)(len < 32 ? len : 32),
		    item, stream_keys_text(keys, sizeof keys));
	} else {
		char setter_why[FR_ERR_LEN];

		if (setters[k->kind](sc, k, eq != NULL ? eq + 1 : NULL, setter_why) == 0)
			return 0;
		snprintf(why, sizeof why, "%s: %.400s", k->name, setter_why);
	}
	snprintf(err, FR_ERR_LEN, "stream %s: %.400s", sc->name, why);
	return -1;
}

/* What no single key can check: the pull keys need from=, and one kind of credentials. */
static int
check_stream(const struct fr_stream_config *sc, char *err)
{
	const struct fr_pull_config *pc = &sc->pull;
	struct fr_stream_config defaults;

	stream_init(&defaults, sc->name);
	if (!sc->has_pull) {
		if (!fr_config_pull_equal(pc, &defaults.pull)) {
			snprintf(err, FR_ERR_LEN, "stream %s: from-token, poll-fps, on-demand, "
			    "linger and reconnect-max need from=URL", sc->name);
			return -1;
		}
		return 0;
	}
	if (pc->token[0] != '\0' && pc->url.basic[0] != '\0') {
		snprintf(err, FR_ERR_LEN, "stream %s: from-token and a user:password@ in from= "
		    "are two credentials: give one", sc->name);
		return -1;
	}
	if (pc->token[0] != '\0' && pc->url.scheme == FR_URL_TCP) {
		snprintf(err, FR_ERR_LEN, "stream %s: from-token needs an http:// from=", sc->name);
		return -1;
	}
	return 0;
}

static int
set_stream(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	struct fr_config *c = base;
	char spec[FR_URL_MAX + 1024], *save = NULL;
	int is_new, rc = 0;

	(void)o;
	if (strlen(value) >= sizeof spec) {
		snprintf(err, FR_ERR_LEN, "stream spec too long");
		return -1;
	}
	snprintf(spec, sizeof spec, "%s", value);
	char *name = strtok_r(spec, ",", &save);
	if (name == NULL || !fr_config_is_valid_stream_name(name)) {
		snprintf(err, FR_ERR_LEN, "'%.80s': stream names are 1-64 of A-Z a-z 0-9 . _ -",
		    name ? name : "");
		return -1;
	}
	struct fr_stream_config *sc = stream_slot(c, name, &is_new);
	if (sc == NULL) {
		snprintf(err, FR_ERR_LEN, "more than %d streams", FR_CONFIG_MAX_STREAMS);
		return -1;
	}
	int is_default = sc == &c->streams[0];
	if (!is_new && !is_default && !sc->is_from_file) {
		snprintf(err, FR_ERR_LEN, "stream %s declared twice", name);
		return -1;
	}
	/* A command-line declaration replaces one from the config file; "default" is updated. */
	if (!is_default)
		stream_init(sc, name);
	for (char *item; rc == 0 && (item = strtok_r(NULL, ",", &save)) != NULL;)
		rc = set_stream_item(sc, item, err);
	if (rc == 0)
		rc = check_stream(sc, err);
	memset(spec, 0, sizeof spec);	/* it may hold a password */
	if (rc < 0)
		return -1;
	if (is_new)
		c->n_streams++;
	return 0;
}

/* Parses a number with an optional binary suffix: 65536, 64K, 8M, 1G. */
static int
parse_size(const char *s, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		v *= 1024, end++;
		break;
	case 'm': case 'M':
		v *= 1024 * 1024, end++;
		break;
	case 'g': case 'G':
		v *= 1024 * 1024 * 1024, end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end != '\0' || v != floor(v))
		return -1;
	*out = v;
	return 0;
}

static int
check_range(const struct fr_config_option *o, double v, const char *value, char *err)
{
	if (v < o->min || v > o->max) {
		snprintf(err, FR_ERR_LEN, "%.40s out of range (%.10g-%.10g)", value, o->min,
		    o->max);
		return -1;
	}
	return 0;
}

static int
set_size(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	double v;

	if (parse_size(value, &v) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.40s' is not a size (like 65536, 512K or 8M)", value);
		return -1;
	}
	if (check_range(o, v, value, err) < 0)
		return -1;
	*(size_t *)field(base, o->offset) = (size_t)v;
	return 0;
}

static int
parse_number(const char *value, double *v, int is_integer, char *err)
{
	char *end;

	errno = 0;
	*v = strtod(value, &end);
	if (end == value || *end != '\0' || errno == ERANGE || !isfinite(*v) ||
	    (is_integer && *v != floor(*v))) {
		snprintf(err, FR_ERR_LEN, "'%.40s' is not %s", value,
		    is_integer ? "a whole number" : "a number");
		return -1;
	}
	return 0;
}

static int
set_uint(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	double v;

	if (parse_number(value, &v, 1, err) < 0 || check_range(o, v, value, err) < 0)
		return -1;
	*(unsigned *)field(base, o->offset) = (unsigned)v;
	return 0;
}

static int
set_seconds(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	double v;

	if (parse_number(value, &v, 0, err) < 0 || check_range(o, v, value, err) < 0)
		return -1;
	*(double *)field(base, o->offset) = v;
	return 0;
}

/* A flag alone means yes; a config file may also spell it out. */
static int
set_flag(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	int *flag = field(base, o->offset);

	if (value == NULL || strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
	    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
		*flag = 1;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
	    strcmp(value, "off") == 0 || strcmp(value, "0") == 0)
		*flag = 0;
	else {
		snprintf(err, FR_ERR_LEN, "'%.40s': expected yes or no", value);
		return -1;
	}
	return 0;
}

static int
set_path(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	if (*value == '\0' || strlen(value) >= PATH_MAX) {
		snprintf(err, FR_ERR_LEN, "bad path");
		return -1;
	}
	snprintf(field(base, o->offset), PATH_MAX, "%s", value);
	return 0;
}

static int
set_log_level(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	if (fr_log_level_parse(value, field(base, o->offset)) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.40s': expected error, warn, info or debug", value);
		return -1;
	}
	return 0;
}

/* The sizes ?scale= takes; the quality is ?q='s alone. */
static int
set_scale(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	struct fr_scale_spec *spec = field(base, o->offset);

	if (fr_scale_spec_parse(spec, value, NULL, err) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.40s': expected 1/2, 1/4, 1/8, 1/1 or auto", value);
		return -1;
	}
	return 0;
}

/* Dot-separated tokens of A-Z a-z 0-9 _ -: a NATS subject without wildcards, or a
 * host name. */
static int
set_subject(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	size_t n = strlen(value);
	int is_token_start = 1;

	if (n == 0 || n >= 200) {
		snprintf(err, FR_ERR_LEN, "expected 1-199 characters");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int is_dot = value[i] == '.';

		if ((is_dot && is_token_start) || (!is_dot && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_-", value[i]) == NULL)) {
			snprintf(err, FR_ERR_LEN, "'%.64s': expected words of A-Z a-z 0-9 _ - "
			    "joined by single dots", value);
			return -1;
		}
		is_token_start = is_dot;
	}
	if (is_token_start) {
		snprintf(err, FR_ERR_LEN, "'%.64s': ends with a dot", value);
		return -1;
	}
	memcpy(field(base, o->offset), value, n + 1);
	return 0;
}

/* One URL of a --nats list: nats://, tls://, or HOST:PORT, which nats.c reads as nats://. */
static int
check_nats_url(const char *url, size_t len, char *err)
{
	static const char *const schemes[] = { "nats://", "tls://", "ws://", "wss://" };
	const char *rest = url;

	if (len == 0) {
		snprintf(err, FR_ERR_LEN, "an empty URL in the list");
		return -1;
	}
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			rest = url + strlen(schemes[i]);
	if (rest == url && memchr(url, '/', len) != NULL) {
		snprintf(err, FR_ERR_LEN, "'%.*s': expected nats://HOST:PORT or tls://HOST:PORT",
		    (int)(len > 64 ? 64 : len), url);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (url[i] <= ' ' || url[i] > '~') {
			snprintf(err, FR_ERR_LEN, "URLs are visible ASCII without spaces");
			return -1;
		}
	}
	if ((size_t)(rest - url) == len) {
		snprintf(err, FR_ERR_LEN, "'%.*s': no host", (int)len, url);
		return -1;
	}
	return 0;
}

static int
set_nats_urls(void *base, const struct fr_config_option *o, const char *value, char *err)
{
	size_t n = strlen(value);

	if (n == 0 || n >= PATH_MAX) {
		snprintf(err, FR_ERR_LEN, "expected 1-%d characters", PATH_MAX - 1);
		return -1;
	}
	for (const char *p = value;; p++) {
		size_t len = strcspn(p, ",");

		if (check_nats_url(p, len, err) < 0)
			return -1;
		p += len;
		if (*p == '\0')
			break;
	}
	memcpy(field(base, o->offset), value, n + 1);
	return 0;
}

int
fr_config_set(struct fr_config *c, const char *name, const char *value, char *err)
{
	const struct fr_config_option *o = find_row(fr_config_options, name, strlen(name));
	char why[FR_ERR_LEN], arg[256];

	if (o == NULL) {
		snprintf(err, FR_ERR_LEN, "unknown option '%.64s'", name);
		return -1;
	}
	if (o->arg_name != NULL && (value == NULL || *value == '\0')) {
		/* A stream's keys outgrow an error line: --help lists them. */
		snprintf(err, FR_ERR_LEN, "--%s: needs a value (%.220s)", o->name,
		    o->kind == FR_KIND_STREAMS ? "NAME[,KEY=VALUE]..., see --help" :
		    arg_text(o, arg, sizeof arg));
		return -1;
	}
	if (setters[o->kind](c, o, value, why) < 0) {
		snprintf(err, FR_ERR_LEN, "--%s: %.440s", o->name, why);
		return -1;
	}
	return 0;
}

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* "PATH:LINE: why" in err: why whole, the path cut short when both do not fit. */
static void
file_error(char *err, const char *path, unsigned lineno, const char *why)
{
	int path_room = FR_ERR_LEN - 16 - (int)strnlen(why, FR_ERR_LEN);
	int used = snprintf(err, FR_ERR_LEN, "%.*s:%u: ", path_room < 40 ? 40 : path_room, path,
	    lineno);

	if (used < 0 || used >= FR_ERR_LEN)
		return;
	size_t n = strnlen(why, FR_ERR_LEN - 1 - (size_t)used);
	memcpy(err + used, why, n);
	err[(size_t)used + n] = '\0';
}

int
fr_config_load_file(struct fr_config *c, const char *path, char *err)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, why[FR_ERR_LEN];
	size_t line_cap = 0;
	unsigned lineno = 0;
	int rc = 0;

	if (fp == NULL) {
		snprintf(err, FR_ERR_LEN, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	size_t first_new_stream = c->n_streams;
	while (getline(&line, &line_cap, fp) != -1) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *name = trim(line);
		if (*name == '\0')
			continue;
		char *value = name + strcspn(name, " \t");
		if (*value != '\0')
			*value++ = '\0';
		value = trim(value);
		if (fr_config_set(c, name, *value ? value : NULL, why) < 0) {
			file_error(err, path, lineno, why);
			rc = -1;
			break;
		}
	}
	free(line);
	fclose(fp);
	if (rc == 0)
		for (size_t i = first_new_stream; i < c->n_streams; i++)
			c->streams[i].is_from_file = 1;
	return rc;
}

int
fr_config_check(const struct fr_config *c, char *err)
{
	const struct fr_addr *addrs[2 * FR_CONFIG_MAX_STREAMS + 1];
	size_t n = 0;

	if (c->n_streams > c->max_streams) {
		snprintf(err, FR_ERR_LEN, "--max-streams %u is less than the %zu streams declared",
		    c->max_streams, c->n_streams);
		return -1;
	}
	if (c->has_http)
		addrs[n++] = &c->http;
	for (size_t i = 0; i < c->n_streams; i++) {
		const struct fr_stream_config *sc = &c->streams[i];

		if (!sc->has_listen && !fr_scale_spec_is_plain(&sc->listen_scale)) {
			snprintf(err, FR_ERR_LEN, "--stream %s: listen-scale needs listen=ADDR",
			    sc->name);
			return -1;
		}
		if (sc->has_ingest)
			addrs[n++] = &sc->ingest;
		if (sc->has_listen)
			addrs[n++] = &sc->listen;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (strcmp(addrs[i]->text, addrs[j]->text) == 0) {
				snprintf(err, FR_ERR_LEN, "address %s is used twice",
				    addrs[i]->text);
				return -1;
			}
		}
	}
	return 0;
}

/* One line per row: "  -x, --name ARG", the help, and the default if there is one. */
static void
print_help(FILE *out)
{
	fprintf(out, "usage: framerouter [OPTION]...\n"
	    "Routes live MJPEG: producers push JPEG frames, subscribers get whole frames.\n\n");
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++) {
		char arg[512], left[600];

		snprintf(left, sizeof left, "%c%c%s --%s %s", o->short_name ? '-' : ' ',
		    o->short_name ? o->short_name : ' ', o->short_name ? "," : " ", o->name,
		    o->arg_name ? arg_text(o, arg, sizeof arg) : "");
		fprintf(out, "  %-40s %s", left, o->help);
		if (o->default_value != NULL)
			fprintf(out, " (default %s)", o->default_value);
		fputc('\n', out);
	}
	fprintf(out, "  -c, --config FILE                        read options from FILE, "
	    "one \"name value\" per line\n"
	    "  -h, --help                               show this help\n"
	    "  -V, --version                            show the version\n\n"
	    "ADDR is HOST:PORT, [IPv6]:PORT or unix:/path.\n");
}

/* The first line is the version alone, for scripts; the second, what this build can do. */
static void
print_version(FILE *out)
{
	fprintf(out, "framerouter %s\nfeatures:", PACKAGE_VERSION);
#ifdef HAVE_TURBOJPEG
	fputs(" validate(libjpeg-turbo) scale(libjpeg-turbo)", out);
#endif
#ifdef HAVE_LIBSYSTEMD
	fputs(" sd_notify(libsystemd)", out);
#endif
#ifdef HAVE_LIBNATS
	fputs(" nats(libnats, loaded with --nats)", out);
#endif
	fputs("\n", out);
}

/* What getopt_long needs: every row, then --config, --help and --version. */
struct getopt_spec {
	struct option longopts[N_OPTIONS + 4];
	char shortopts[3 * N_OPTIONS + 8];
};

/* A row's long option returns 256 + its index; a short one, its letter. */
static void
getopt_spec_init(struct getopt_spec *g)
{
	size_t s = 0;

	g->shortopts[s++] = ':';	/* report a missing value as ':' */
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct fr_config_option *o = &fr_config_options[i];

		g->longopts[i] = (struct option){ o->name,
			o->arg_name ? required_argument : no_argument, NULL, 256 + (int)i };
		if (o->short_name) {
			g->shortopts[s++] = (char)o->short_name;
			if (o->arg_name)
				g->shortopts[s++] = ':';
		}
	}
	g->longopts[N_OPTIONS] = (struct option){ "config", required_argument, NULL, 'c' };
	g->longopts[N_OPTIONS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	g->longopts[N_OPTIONS + 2] = (struct option){ "version", no_argument, NULL, 'V' };
	g->longopts[N_OPTIONS + 3] = (struct option){ NULL, 0, NULL, 0 };
	memcpy(g->shortopts + s, "c:hV", 5);
}

/* The last --config in any spelling getopt accepts, or NULL; errors wait for the next pass. */
static const char *
find_config_file(const struct getopt_spec *g, int argc, char **argv)
{
	const char *file = NULL;

	optind = 0;	/* restart getopt: a test may parse several argv in one process */
	opterr = 0;
	for (int ch; (ch = getopt_long(argc, argv, g->shortopts, g->longopts, NULL)) != -1;)
		if (ch == 'c')
			file = optarg;
	return file;
}

/* The row getopt_long returned ch for. */
static const struct fr_config_option *
row_of(int ch)
{
	if (ch >= 256)
		return &fr_config_options[ch - 256];
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++)
		if (o->short_name == ch)
			return o;
	return NULL;
}

/* getopt_long's ':' and '?', as one line that names the argument. */
static void
argv_error(int ch, char **argv, char *err)
{
	if (ch == ':')
		snprintf(err, FR_ERR_LEN, "%s: needs a value", argv[optind - 1]);
	else if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0)
		snprintf(err, FR_ERR_LEN, "%.64s: takes no value", argv[optind - 1]);
	else if (optopt != 0)
		snprintf(err, FR_ERR_LEN, "unknown option '-%c'", optopt);
	else
		snprintf(err, FR_ERR_LEN, "unknown option '%.64s'", argv[optind - 1]);
}

enum fr_config_result
fr_config_parse(struct fr_config *c, int argc, char **argv, FILE *out, char *err)
{
	struct getopt_spec g;

	getopt_spec_init(&g);
	/* The file first, wherever --config stands, so that argv overrides it. */
	const char *file = find_config_file(&g, argc, argv);
	if (file != NULL) {
		if (fr_config_load_file(c, file, err) < 0)
			return FR_CONFIG_ERROR;
		snprintf(c->config_file, sizeof c->config_file, "%s", file);
	}

	optind = 0;
	opterr = 0;
	for (int ch; (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1;) {
		switch (ch) {
		case 'c':
			continue;	/* already read */
		case 'h':
			print_help(out);
			return FR_CONFIG_EXIT;
		case 'V':
			print_version(out);
			return FR_CONFIG_EXIT;
		case ':':
		case '?':
			argv_error(ch, argv, err);
			return FR_CONFIG_ERROR;
		default:
			if (fr_config_set(c, row_of(ch)->name, optarg, err) < 0)
				return FR_CONFIG_ERROR;
		}
	}
	if (optind < argc) {
		snprintf(err, FR_ERR_LEN, "unexpected argument '%.64s'", argv[optind]);
		return FR_CONFIG_ERROR;
	}
	return fr_config_check(c, err) < 0 ? FR_CONFIG_ERROR : FR_CONFIG_RUN;
}
