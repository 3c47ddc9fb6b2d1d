/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one option table drives getopt_long, the config file and --help.
 * Everything is parsed and validated here, before anything is bound.
 */
#ifndef FR_CONFIG_H
#define FR_CONFIG_H

#include <limits.h>
#include <stdio.h>

#include "fr/acl.h"
#include "fr/addr.h"
#include "fr/log.h"
#include "fr/url.h"

#define FR_CONFIG_MAX_STREAMS 64
#define FR_STREAM_NAME_LEN 64
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
	char name[FR_STREAM_NAME_LEN + 1];
	struct fr_addr ingest;		/* raw TCP producer address */
	struct fr_addr listen;		/* raw TCP subscriber address */
	int has_ingest, has_listen;
	struct fr_pull_config pull;	/* if has_pull */
	int has_pull;
	int is_from_file;		/* the command line may redeclare it */
};
#define FR_USER_LEN 64

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
	struct fr_acl allow_ingest;	/* --allow: raw producer listeners */
	struct fr_acl allow_listen;	/* raw subscriber listeners */
	struct fr_acl allow_http;	/* the HTTP listener */
	int daemonize;
	char pidfile[PATH_MAX];
	char log_file[PATH_MAX];	/* "" for stderr (or syslog with --daemon) */
	char user[FR_USER_LEN + 1];	/* "USER[:GROUP]" to switch to, "" for none */
	char config_file[PATH_MAX];
	enum fr_log_level log_level;
};

enum fr_config_result {
	FR_CONFIG_RUN,		/* configuration complete: start the daemon */
	FR_CONFIG_EXIT,		/* --help or --version was printed: exit 0 */
	FR_CONFIG_ERROR,	/* err holds one line: exit 2 */
};

/* Fills c with the defaults. */
void fr_config_init(struct fr_config *c);

/*
 * Applies the config file named by --config (if any), then argv, which overrides
 * the file. --help and --version print to out. On error, err (FR_ERR_LEN bytes)
 * names the option, or the file and line, and what is wrong with it.
 */
enum fr_config_result fr_config_parse(struct fr_config *c, int argc, char **argv, FILE *out,
    char *err);

/* Applies one "name value" pair, as a config file line does. */
int fr_config_set(struct fr_config *c, const char *name, const char *value, char *err);

/* Reads a config file: one "name value" per line, '#' starts a comment. */
int fr_config_load_file(struct fr_config *c, const char *path, char *err);

/* Checks what no single option can: distinct addresses. */
int fr_config_check(const struct fr_config *c, char *err);

/* True if a and b pull the same way: URL, credentials and every key. */
int fr_config_pull_equal(const struct fr_pull_config *a, const struct fr_pull_config *b);

/* True if name is a valid stream name: [A-Za-z0-9._-]{1,64}, not only dots. */
int fr_config_is_valid_stream_name(const char *name);

#endif /* FR_CONFIG_H */
