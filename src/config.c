/* SPDX-License-Identifier: MIT */
/*
 * The option table and everything that reads it: getopt_long, config files and
 * --help (redis config.c's one-table idea). Values are range-checked here; nothing
 * here binds, opens sockets or logs.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fr/config.h"

struct option_spec;
typedef int (*setter_fn)(struct fr_config *c, const struct option_spec *o, const char *value,
    char *err);

struct option_spec {
	const char *name;
	int short_name;		/* 0 if none */
	const char *arg_name;	/* NULL for flags */
	const char *help;
	setter_fn set;
	size_t offset;		/* where the value goes in struct fr_config */
	double min, max;	/* for numbers */
};

static int set_ingest(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_listen(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_stream(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_size(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_uint(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_seconds(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_flag(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_path(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_log_level(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_http(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_token(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_token_file(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_allow(struct fr_config *, const struct option_spec *, const char *, char *);
static int set_user(struct fr_config *, const struct option_spec *, const char *, char *);

static int parse_number(const char *value, double *v, int is_integer, char *err);
static int parse_flag(const char *value, int *flag, char *err);
static int set_token_value(char *dst, const char *value, char *err);
static int read_token_file(char *dst, const char *path, char *err);

#define AT(field) offsetof(struct fr_config, field)

/* --config, --help and --version are handled by fr_config_parse itself. */
static const struct option_spec options[] = {
	{ "ingest", 'i', "ADDR", "raw MJPEG producer address of stream 'default' "
	  "(default 127.0.0.1:12345)", set_ingest, 0, 0, 0 },
	{ "listen", 'l', "ADDR", "raw MJPEG subscriber address of stream 'default' "
	  "(default 127.0.0.1:12346)", set_listen, 0, 0, 0 },
	{ "stream", 's', "NAME[,ingest=ADDR][,listen=ADDR][,from=URL,...]", "declare a named "
	  "stream, pushed or pulled from URL (repeatable; keys in framerouter(8))", set_stream, 0,
	  0, 0 },
	{ "http", 0, "ADDR", "serve the HTTP endpoints (streams, snapshots, ingest, stats) here",
	  set_http, 0, 0, 0 },
	{ "max-frame-size", 0, "BYTES", "drop frames larger than this; K and M suffixes "
	  "(default 8M)", set_size, AT(max_frame_bytes), 1024, 256.0 * 1024 * 1024 },
	{ "validate", 0, NULL, "check each frame's header with libjpeg-turbo", set_flag,
	  AT(validate), 0, 0 },
	{ "max-clients", 0, "N", "refuse subscribers beyond this many (default 1024)", set_uint,
	  AT(max_clients), 1, 1000000 },
	{ "client-timeout", 0, "SECONDS", "disconnect a subscriber making no progress "
	  "(default 10)", set_seconds, AT(client_timeout_s), 0.1, 86400 },
	{ "producer-timeout", 0, "SECONDS", "disconnect a producer silent this long, 0 for never "
	  "(default 10)", set_seconds, AT(producer_timeout_s), 0, 86400 },
	{ "max-streams", 0, "N", "streams in all, declared or created by HTTP pushes "
	  "(default 64)", set_uint, AT(max_streams), 1, 4096 },
	{ "ingest-token", 0, "TOKEN", "HTTP ingest requires Authorization: Bearer TOKEN",
	  set_token, AT(ingest_token), 0, 0 },
	{ "ingest-token-file", 0, "FILE", "read the ingest token from FILE", set_token_file,
	  AT(ingest_token), 0, 0 },
	{ "subscribe-token", 0, "TOKEN", "HTTP reads require the token (Bearer or ?token=)",
	  set_token, AT(subscribe_token), 0, 0 },
	{ "subscribe-token-file", 0, "FILE", "read the subscribe token from FILE",
	  set_token_file, AT(subscribe_token), 0, 0 },
	{ "allow", 0, "[KIND=]CIDR", "accept only peers in CIDR, on the listeners of KIND "
	  "(ingest, listen or http) or all (repeatable)", set_allow, 0, 0, 0 },
	{ "daemon", 'd', NULL, "detach; log to syslog unless --log-file", set_flag, AT(daemonize), 0, 0 },
	{ "pidfile", 'p', "FILE", "write the process id to FILE", set_path, AT(pidfile), 0, 0 },
	{ "log-file", 0, "FILE", "append the log to FILE (reopened on SIGHUP)", set_path,
	  AT(log_file), 0, 0 },
	{ "user", 'u', "USER[:GROUP]", "switch to this user after binding (as root)", set_user,
	  0, 0, 0 },
	{ "log-level", 'L', "LEVEL", "error, warn, info or debug (default info)", set_log_level,
	  AT(log_level), 0, 0 },
};

void
fr_config_init(struct fr_config *c)
{
	char err[FR_ERR_LEN];

	memset(c, 0, sizeof *c);
	c->n_streams = 1;
	snprintf(c->streams[0].name, sizeof c->streams[0].name, "%s", FR_DEFAULT_STREAM);
	fr_addr_parse(&c->streams[0].ingest, "127.0.0.1:12345", err);
	fr_addr_parse(&c->streams[0].listen, "127.0.0.1:12346", err);
	c->streams[0].has_ingest = c->streams[0].has_listen = 1;
	c->max_frame_bytes = 8 * 1024 * 1024;
	c->max_clients = 1024;
	c->max_pending = 256;
	c->max_pending_per_peer = 64;
	c->stream_idle_timeout_s = 60;
	c->client_timeout_s = 10;
	c->producer_timeout_s = 10;
	c->log_level = FR_LOG_INFO;
	c->max_streams = 64;
}

static int
set_addr(struct fr_addr *a, const char *value, char *err)
{
	char why[FR_ERR_LEN];

	if (fr_addr_parse(a, value, why) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.60s': %.180s", value, why);
		return -1;
	}
	return 0;
}

static int
set_ingest(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	(void)o;
	c->streams[0].has_ingest = 1;
	return set_addr(&c->streams[0].ingest, value, err);
}

static int
set_listen(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	(void)o;
	c->streams[0].has_listen = 1;
	return set_addr(&c->streams[0].listen, value, err);
}

static int
set_http(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	(void)o;
	c->has_http = 1;
	return set_addr(&c->http, value, err);
}

/* Tokens travel in headers and URLs: visible ASCII without spaces, so no quoting. */
static int
set_token(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	return set_token_value((char *)c + o->offset, value, err);
}

static int
set_token_value(char *dst, const char *value, char *err)
{
	size_t n = strlen(value);

	if (n == 0 || n > FR_TOKEN_MAX) {
		snprintf(err, FR_ERR_LEN, "tokens are 1-%d characters", FR_TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (value[i] <= ' ' || value[i] > '~' || value[i] == '&' || value[i] == '#') {
			snprintf(err, FR_ERR_LEN, "tokens are visible ASCII without spaces, & or #");
			return -1;
		}
	}
	memcpy(dst, value, n + 1);
	return 0;
}

/* The token is the file's first line, so it stays out of ps and shell history. */
static int
set_token_file(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	return read_token_file((char *)c + o->offset, value, err);
}

static int
read_token_file(char *dst, const char *value, char *err)
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
	int rc = set_token_value(dst, line, err);
	memset(line, 0, sizeof line);
	return rc;
}

/* "CIDR" applies to every TCP listener; "ingest=", "listen=" or "http=" to one kind. */
static int
set_allow(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	static const struct {
		const char *prefix;
		size_t offset;
	} kinds[] = {
		{ "ingest=", AT(allow_ingest) },
		{ "listen=", AT(allow_listen) },
		{ "http=", AT(allow_http) },
	};
	struct fr_acl *acls[3];
	size_t n = 0;
	const char *cidr = value;
	struct fr_cidr parsed;

	(void)o;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		size_t len = strlen(kinds[i].prefix);

		if (strncmp(value, kinds[i].prefix, len) == 0) {
			acls[n++] = (struct fr_acl *)(void *)((char *)c + kinds[i].offset);
			cidr = value + len;
		}
	}
	if (n == 0) {
		if (strchr(value, '=') != NULL) {
			snprintf(err, FR_ERR_LEN, "'%.64s': expected CIDR or KIND=CIDR with KIND "
			    "ingest, listen or http", value);
			return -1;
		}
		for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
			acls[n++] = (struct fr_acl *)(void *)((char *)c + kinds[i].offset);
	}
	if (fr_cidr_parse(&parsed, cidr, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (fr_acl_add(acls[i], &parsed, err) < 0)
			return -1;
	return 0;
}

/* Checked for shape here; the names are looked up before binding (main.c). */
static int
set_user(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	(void)o;
	size_t n = strlen(value);
	const char *colon = strchr(value, ':');

	if (n == 0 || n > FR_USER_LEN || colon == value || (colon && colon[1] == '\0') ||
	    (colon && strchr(colon + 1, ':'))) {
		snprintf(err, FR_ERR_LEN, "'%.80s': expected USER or USER:GROUP", value);
		return -1;
	}
	memcpy(c->user, value, n + 1);
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

	if (n == 0 || n > FR_STREAM_NAME_LEN)
		return 0;
	/* "." and ".." are path segments to a browser (RFC 3986 5.2.4): no URL reaches them. */
	if (strspn(name, ".") == n)
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
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

/* A number of a pull key, in [min, max]. */
static int
set_pull_number(double *dst, const char *value, double min, double max, char *err)
{
	double v;

	if (parse_number(value, &v, 0, err) < 0)
		return -1;
	if (v < min || v > max) {
		snprintf(err, FR_ERR_LEN, "%.40s out of range (%g-%g)", value, min, max);
		return -1;
	}
	*dst = v;
	return 0;
}

/* The keys that say where and how a stream is pulled. 1 if key is none of them. */
static int
set_pull_item(struct fr_stream_config *sc, const char *key, const char *value, char *err)
{
	struct fr_pull_config *pc = &sc->pull;
	int rc;

	if (strcmp(key, "on-demand") == 0)
		return parse_flag(value, &pc->is_on_demand, err);
	if (value == NULL)
		return 1;
	if (strcmp(key, "from") == 0) {
		/* fr_url_parse never repeats the URL, which may carry a password. */
		rc = fr_url_parse(&pc->url, value, err);
		sc->has_pull = rc == 0;
		return rc;
	}
	if (strcmp(key, "from-token") == 0)
		return set_token_value(pc->token, value, err);
	if (strcmp(key, "from-token-file") == 0)
		return read_token_file(pc->token, value, err);
	if (strcmp(key, "poll-fps") == 0)
		return set_pull_number(&pc->poll_fps, value, 0.01, 100, err);
	if (strcmp(key, "linger") == 0)
		return set_pull_number(&pc->linger_s, value, 0, 86400, err);
	if (strcmp(key, "reconnect-max") == 0)
		return set_pull_number(&pc->reconnect_max_s, value, 0.1, 86400, err);
	return 1;
}

static void
pull_defaults(struct fr_pull_config *pc)
{
	memset(pc, 0, sizeof *pc);
	pc->poll_fps = 1;
	pc->linger_s = 5;
	pc->reconnect_max_s = 5;
}

/* One "key=VALUE" item (or the bare flag on-demand) of a stream spec. */
static int
set_stream_item(struct fr_stream_config *sc, const char *item, char *err)
{
	const char *eq = strchr(item, '=');
	size_t key_len = eq != NULL ? (size_t)(eq - item) : strlen(item);
	const char *value = eq != NULL ? eq + 1 : NULL;
	char key[24], why[FR_ERR_LEN];
	int rc = 1;

	if (key_len >= sizeof key)
		key_len = 0;	/* no key is that long: unknown */
	memcpy(key, item, key_len);
	key[key_len] = '\0';
	static const char *const valued[] = { "ingest", "listen", "from", "from-token",
		"from-token-file", "poll-fps", "linger", "reconnect-max" };

	for (size_t i = 0; value == NULL && i < FR_ARRAY_LEN(valued); i++) {
		if (strcmp(key, valued[i]) == 0) {
			snprintf(err, FR_ERR_LEN, "stream %s: '%s' needs a value (%s=...)", sc->name,
			    key, key);
			return -1;
		}
	}
	if (value != NULL && (strcmp(key, "ingest") == 0 || strcmp(key, "listen") == 0)) {
		int is_ingest = key[0] == 'i';

		*(is_ingest ? &sc->has_ingest : &sc->has_listen) = 1;
		if (set_addr(is_ingest ? &sc->ingest : &sc->listen, value, why) == 0)
			return 0;
		snprintf(err, FR_ERR_LEN, "stream %s: %.180s", sc->name, why);
		return -1;
	}
	if (key_len > 0)
		rc = set_pull_item(sc, key, value, why);
	if (rc == 0)
		return 0;
	if (rc > 0)	/* only the key: a mistyped from= may carry a password */
		snprintf(err, FR_ERR_LEN, "stream %s: '%s': expected ingest=ADDR, listen=ADDR, "
		    "from=URL, from-token=, from-token-file=, poll-fps=, on-demand, linger= or "
		    "reconnect-max=", sc->name, key_len > 0 ? key : "?");
	else
		snprintf(err, FR_ERR_LEN, "stream %s: %s: %.180s", sc->name, key, why);
	return -1;
}

/* What no single key can check: pull keys need from=, and one kind of credentials. */
static int
check_stream(const struct fr_stream_config *sc, const struct fr_pull_config *defaults,
    char *err)
{
	const struct fr_pull_config *pc = &sc->pull;

	if (!sc->has_pull) {
		if (pc->token[0] != '\0' || pc->is_on_demand || pc->poll_fps != defaults->poll_fps ||
		    pc->linger_s != defaults->linger_s ||
		    pc->reconnect_max_s != defaults->reconnect_max_s) {
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
set_stream(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	char spec[FR_URL_MAX + 1024], *save = NULL;
	struct fr_pull_config defaults;
	int is_new;

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
	if (!is_default) {
		/* A command-line declaration replaces one from the config file. */
		memset(sc, 0, sizeof *sc);
		snprintf(sc->name, sizeof sc->name, "%s", name);
	}
	pull_defaults(&defaults);
	if (!sc->has_pull)
		sc->pull = defaults;
	int rc = 0;
	for (char *item; rc == 0 && (item = strtok_r(NULL, ",", &save)) != NULL;)
		rc = set_stream_item(sc, item, err);
	if (rc == 0)
		rc = check_stream(sc, &defaults, err);
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
check_range(const struct option_spec *o, double v, const char *value, char *err)
{
	if (v < o->min || v > o->max) {
		snprintf(err, FR_ERR_LEN, "%.40s out of range (%.10g-%.10g)", value, o->min, o->max);
		return -1;
	}
	return 0;
}

static int
set_size(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	double v;

	if (parse_size(value, &v) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.40s' is not a size (like 65536, 512K or 8M)", value);
		return -1;
	}
	if (check_range(o, v, value, err) < 0)
		return -1;
	*(size_t *)(void *)((char *)c + o->offset) = (size_t)v;
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
set_uint(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	double v;

	if (parse_number(value, &v, 1, err) < 0 || check_range(o, v, value, err) < 0)
		return -1;
	*(unsigned *)(void *)((char *)c + o->offset) = (unsigned)v;
	return 0;
}

static int
set_seconds(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	double v;

	if (parse_number(value, &v, 0, err) < 0 || check_range(o, v, value, err) < 0)
		return -1;
	*(double *)(void *)((char *)c + o->offset) = v;
	return 0;
}

/* A flag alone means yes; a config file may also spell it out. */
static int
set_flag(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	return parse_flag(value, (int *)(void *)((char *)c + o->offset), err);
}

static int
parse_flag(const char *value, int *flag, char *err)
{
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
set_path(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	char *dst = (char *)c + o->offset;

	if (*value == '\0' || strlen(value) >= PATH_MAX) {
		snprintf(err, FR_ERR_LEN, "bad path");
		return -1;
	}
	snprintf(dst, PATH_MAX, "%s", value);
	return 0;
}

static int
set_log_level(struct fr_config *c, const struct option_spec *o, const char *value, char *err)
{
	(void)o;
	if (fr_log_level_parse(value, &c->log_level) < 0) {
		snprintf(err, FR_ERR_LEN, "'%.40s': expected error, warn, info or debug", value);
		return -1;
	}
	return 0;
}

static const struct option_spec *
find_option(const char *name)
{
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

int
fr_config_set(struct fr_config *c, const char *name, const char *value, char *err)
{
	const struct option_spec *o = find_option(name);
	char why[FR_ERR_LEN];

	if (o == NULL) {
		snprintf(err, FR_ERR_LEN, "unknown option '%.64s'", name);
		return -1;
	}
	if (o->arg_name != NULL && (value == NULL || *value == '\0')) {
		snprintf(err, FR_ERR_LEN, "--%s: needs a value (%s)", o->name, o->arg_name);
		return -1;
	}
	if (o->set(c, o, value, why) < 0) {
		snprintf(err, FR_ERR_LEN, "--%s: %.200s", o->name, why);
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
			snprintf(err, FR_ERR_LEN, "%.120s:%u: %.120s", path, lineno, why);
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

		if (sc->has_ingest)
			addrs[n++] = &sc->ingest;
		if (sc->has_listen)
			addrs[n++] = &sc->listen;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (strcmp(addrs[i]->text, addrs[j]->text) == 0) {
				snprintf(err, FR_ERR_LEN, "address %s is used twice", addrs[i]->text);
				return -1;
			}
		}
	}
	return 0;
}

static void
print_help(FILE *out)
{
	fprintf(out, "usage: framerouter [OPTION]...\n"
	    "Routes live MJPEG: producers push JPEG frames, subscribers get whole frames.\n\n");
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		const struct option_spec *o = &options[i];
		char left[64];

		snprintf(left, sizeof left, "%c%c%s --%s %s", o->short_name ? '-' : ' ',
		    o->short_name ? o->short_name : ' ', o->short_name ? "," : " ", o->name,
		    o->arg_name ? o->arg_name : "");
		fprintf(out, "  %-40s %s\n", left, o->help);
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
	fputs(" validate(libjpeg-turbo)", out);
#endif
#ifdef HAVE_LIBSYSTEMD
	fputs(" sd_notify(libsystemd)", out);
#endif
	fputs("\n", out);
}

enum fr_config_result
fr_config_parse(struct fr_config *c, int argc, char **argv, FILE *out, char *err)
{
	enum { N = sizeof options / sizeof options[0] };
	struct option longopts[N + 4];
	char shortopts[3 * N + 8];
	size_t s = 0;

	shortopts[s++] = ':';	/* report a missing value as ':' */
	for (size_t i = 0; i < N; i++) {
		longopts[i] = (struct option){ options[i].name,
			options[i].arg_name ? required_argument : no_argument, NULL, 256 + (int)i };
		if (options[i].short_name) {
			shortopts[s++] = (char)options[i].short_name;
			if (options[i].arg_name)
				shortopts[s++] = ':';
		}
	}
	longopts[N] = (struct option){ "config", required_argument, NULL, 'c' };
	longopts[N + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[N + 2] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[N + 3] = (struct option){ NULL, 0, NULL, 0 };
	memcpy(shortopts + s, "c:hV", 5);

	/* First pass: --config in any spelling getopt accepts, so argv can override it. */
	const char *file = NULL;
	optind = 0;
	opterr = 0;
	for (int ch; (ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1;)
		if (ch == 'c')
			file = optarg;
	if (file != NULL) {
		if (fr_config_load_file(c, file, err) < 0)
			return FR_CONFIG_ERROR;
		snprintf(c->config_file, sizeof c->config_file, "%s", file);
	}

	optind = 0;	/* restart getopt: a test may parse several argv in one process */
	opterr = 0;
	for (int ch; (ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1;) {
		const struct option_spec *o = NULL;

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
			snprintf(err, FR_ERR_LEN, "%s: needs a value", argv[optind - 1]);
			return FR_CONFIG_ERROR;
		case '?':
			if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0)
				snprintf(err, FR_ERR_LEN, "%.64s: takes no value", argv[optind - 1]);
			else if (optopt != 0)
				snprintf(err, FR_ERR_LEN, "unknown option '-%c'", optopt);
			else
				snprintf(err, FR_ERR_LEN, "unknown option '%.64s'", argv[optind - 1]);
			return FR_CONFIG_ERROR;
		default:
			break;
		}
		if (ch >= 256)
			o = &options[ch - 256];
		for (size_t i = 0; o == NULL && i < N; i++)
			if (options[i].short_name == ch)
				o = &options[i];
		if (fr_config_set(c, o->name, optarg, err) < 0)
			return FR_CONFIG_ERROR;
	}
	if (optind < argc) {
		snprintf(err, FR_ERR_LEN, "unexpected argument '%.64s'", argv[optind]);
		return FR_CONFIG_ERROR;
	}
	return fr_config_check(c, err) < 0 ? FR_CONFIG_ERROR : FR_CONFIG_RUN;
}
