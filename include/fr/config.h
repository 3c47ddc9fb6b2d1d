/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one option table drives getopt_long, the config file, --help, the
 * defaults and the reload merge (reload.c). Everything is parsed and validated here,
 * before anything is bound.
 */
#ifndef FR_CONFIG_H
#define FR_CONFIG_H

#include <limits.h>
#include <stdio.h>

#include "fr/acl.h"
#include "fr/addr.h"
#include "fr/log.h"
#include "fr/scaler.h"
#include "fr/url.h"
#include "fr/user.h"
#include "fr/util.h"

#define FR_CONFIG_MAX_STREAMS 64
#define FR_DEFAULT_STREAM "default"

#define FR_TOKEN_MAX 255

/* Where and how a stream is pulled (--stream NAME,from=URL,...). */
struct fr_pull_config {
	struct fr_url url;		/* from=: tcp:// or http:// */
	char token[FR_TOKEN_MAX + 1];	/* from-token=: sent as Bearer; "" for none */
	double poll_fps;		/* poll-fps=: how often a still-image URL is fetched */
	int is_on_demand;		/* on-demand: pull only while the stream has subscribers */
	double linger_s;		/* linger=: on-demand, after the last subscriber left */
	double reconnect_max_s;		/* reconnect-max=: the longest wait between attempts */
};

struct fr_stream_config {
	char name[FR_STREAM_NAME_MAX + 1];
	struct fr_addr ingest;		/* raw TCP producer address */
	struct fr_addr listen;		/* raw TCP subscriber address */
	int has_ingest, has_listen;
	/* Accepted for this stream besides the global tokens; "" for none. */
	char subscribe_token[FR_TOKEN_MAX + 1];
	char ingest_token[FR_TOKEN_MAX + 1];
	double stale_after_s;		/* stale-after=; 0: --stale-after applies */
	struct fr_scale_spec listen_scale;	/* listen-scale=: what listen= subscribers get */
	struct fr_pull_config pull;	/* if has_pull */
	int has_pull;
	int is_from_file;		/* the command line may redeclare it */
};

struct fr_config {
	struct fr_stream_config streams[FR_CONFIG_MAX_STREAMS];	/* [0] is "default" */
	size_t n_streams;
	struct fr_addr http;		/* HTTP endpoints, if has_http */
	int has_http;
	unsigned max_streams;		/* declared plus created by HTTP pushes */
	char ingest_token[FR_TOKEN_MAX + 1];	/* "" for none */
	char subscribe_token[FR_TOKEN_MAX + 1];
	size_t max_frame_bytes;
	int validate;
	unsigned max_clients;
	unsigned max_pending;		/* HTTP connections not yet handed on */
	unsigned max_pending_per_peer;
	double stream_idle_timeout_s;	/* pushed streams expire; 0: never */
	double client_timeout_s;
	double producer_timeout_s;	/* 0: producers may stay silent forever */
	double stale_after_s;		/* /snapshot refuses older frames; 0: never */
	struct fr_acl allow_ingest;	/* --allow: raw producer listeners */
	struct fr_acl allow_listen;	/* raw subscriber listeners */
	struct fr_acl allow_http;	/* the HTTP listener */
	int daemonize;
	char pidfile[PATH_MAX];
	char log_file[PATH_MAX];	/* "" for stderr (or syslog with --daemon) */
	char user[FR_USER_LEN + 1];	/* "USER[:GROUP]" to switch to, "" for none */
	char config_file[PATH_MAX];
	enum fr_log_level log_level;
	/* --nats: federation over NATS (nats.c); "" for none */
	char nats_urls[PATH_MAX];	/* URL[,URL...] */
	char nats_creds[PATH_MAX];	/* "" for none */
	char nats_token[FR_TOKEN_MAX + 1];	/* "" for none */
	char nats_ca[PATH_MAX], nats_cert[PATH_MAX], nats_key[PATH_MAX];
	char nats_prefix[PATH_MAX];	/* subjects are PREFIX.NAME */
	char node_id[PATH_MAX];		/* "" until main fills in the host name */
	int nats_jetstream;
};

/*
 * When a changed setting takes effect on SIGHUP: the reload column of the tables
 * below, which reload.c follows. Zero is no value, so a row cannot leave it out.
 */
enum fr_config_reload {
	FR_RELOAD_LIVE = 1,		/* at once, under running connections */
	FR_RELOAD_NEXT_CONNECTION,	/* for connections accepted after the reload */
	FR_RELOAD_NEXT_PRODUCER,	/* from each stream's next producer connection on */
	FR_RELOAD_RESTART,		/* logged as needing a restart; unchanged until then */
};

/*
 * What a row holds at its offset: config.c parses each kind with one setter, and
 * reload.c compares and describes each kind one way.
 */
enum fr_config_kind {
	FR_KIND_ADDR,		/* struct fr_addr, and at has_offset an int set to 1 */
	FR_KIND_STREAMS,	/* the streams[] list: NAME, then items of fr_config_stream_keys */
	FR_KIND_SIZE,		/* size_t bytes: 65536, 512K, 8M, 1G; min-max */
	FR_KIND_UINT,		/* unsigned: a whole number in min-max */
	FR_KIND_SECONDS,	/* double: a number in min-max, fractions allowed */
	FR_KIND_FLAG,		/* int 0 or 1: alone means yes; a file may say yes or no */
	FR_KIND_PATH,		/* char[PATH_MAX], "" for none */
	FR_KIND_TOKEN,		/* char[FR_TOKEN_MAX + 1], "" for none; never shown */
	FR_KIND_TOKEN_FILE,	/* a TOKEN read from a file's first line, stored where the
				 * TOKEN row of the same offset keeps it (and compared there) */
	FR_KIND_ACL,		/* [KIND=]CIDR, added to the lists of fr_config_acls */
	FR_KIND_USER,		/* char[FR_USER_LEN + 1]: USER[:GROUP] */
	FR_KIND_LOG_LEVEL,	/* enum fr_log_level */
	FR_KIND_SCALE,		/* struct fr_scale_spec: 1/2, 1/4, 1/8, 1/1 or auto */
	FR_KIND_URL,		/* struct fr_url (fr_url_parse), and at has_offset an int set
				 * to 1; shown without its credentials */
	FR_KIND_NATS_URLS,	/* char[PATH_MAX]: nats:// or tls:// URLs, or HOST:PORT,
				 * comma-separated; never shown (they may hold credentials) */
	FR_KIND_SUBJECT,	/* char[PATH_MAX]: tokens of A-Z a-z 0-9 _ - joined by dots */
};

/*
 * One row of the option table (an option of the command line and the config file)
 * or of the --stream key table (one NAME,KEY=VALUE item). Every fact about a setting
 * is here: --help, the setter, the default and what a reload does with it.
 */
struct fr_config_option {
	const char *name;		/* long option and config file keyword, or the key */
	int short_name;			/* 0 if none */
	const char *arg_name;		/* NULL for a flag, which takes no value */
	const char *default_value;	/* as a user types it, applied by fr_config_init
					 * (keys: to each new stream) through the setter;
					 * NULL: zero, off or empty */
	enum fr_config_kind kind;
	size_t offset;			/* the value: in struct fr_config for an option, in
					 * struct fr_stream_config for a key */
	size_t has_offset;		/* FR_KIND_ADDR: the "given" int (never 0) */
	double min, max;		/* FR_KIND_SIZE, _UINT, _SECONDS: the range */
	enum fr_config_reload reload;
	const char *help;		/* one line; --help adds " (default X)" */
};

/* The option table, in --help order, ended by a row whose name is NULL. */
extern const struct fr_config_option fr_config_options[];

/* The keys of a --stream spec, in --help order, ended by a row whose name is NULL. */
extern const struct fr_config_option fr_config_stream_keys[];

/* The lists --allow fills: KIND= and where the list is, ended by a NULL kind. */
struct fr_config_acl {
	const char *kind;		/* "ingest", "listen" or "http" */
	size_t offset;			/* the struct fr_acl in struct fr_config */
};
extern const struct fr_config_acl fr_config_acls[];

enum fr_config_result {
	FR_CONFIG_RUN,		/* configuration complete: start the daemon */
	FR_CONFIG_EXIT,		/* --help or --version was printed: exit 0 */
	FR_CONFIG_ERROR,	/* err holds one line: exit 2 */
};

/*
 * Fills c with the defaults: zero, then each row's default_value through its setter
 * (stream "default" included), as if the user had typed them.
 */
void fr_config_init(struct fr_config *c);

/*
 * Applies the config file named by --config (if any), then argv, which overrides
 * the file. --help and --version print to out. On error, err (FR_ERR_LEN bytes)
 * names the option, or the file and line, and what is wrong with it.
 */
enum fr_config_result fr_config_parse(struct fr_config *c, int argc, char **argv, FILE *out,
    char *err);

/*
 * Applies one "name value" pair, as a config file line does: the option's setter,
 * with the option's range. value is NULL for a flag given alone. Returns 0, or -1
 * with "--name: what is wrong" in err (FR_ERR_LEN bytes).
 */
int fr_config_set(struct fr_config *c, const char *name, const char *value, char *err);

/*
 * Reads a config file: one "name value" per line, '#' starts a comment. Stops at the
 * first bad line: returns -1 with "PATH:LINE: --name: what is wrong" in err.
 */
int fr_config_load_file(struct fr_config *c, const char *path, char *err);

/*
 * Checks what no single option can, once everything is applied: that --max-streams
 * is at least the number of streams declared ("default" counts), and that no address
 * is used twice among --http and the ingest and listen addresses of every stream
 * that has them (compared in canonical form, so 127.0.0.1:80 and localhost:80 are one).
 * Returns 0, or -1 with one line in err (FR_ERR_LEN bytes).
 */
int fr_config_check(const struct fr_config *c, char *err);

/* True if a and b pull the same way: URL, credentials and every key. */
int fr_config_pull_equal(const struct fr_pull_config *a, const struct fr_pull_config *b);

/* True if name is a valid stream name: [A-Za-z0-9._-]{1,64}, not only dots. */
int fr_config_is_valid_stream_name(const char *name);

#endif /* FR_CONFIG_H */
