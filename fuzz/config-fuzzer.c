/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the option table in src/config.c, both ways in:
 *
 * 1. The input is a config file: fr_config_load_file() reads it (from a memfd).
 * 2. The input, split on whitespace and NULs, is an argv: fr_config_parse() with --help
 *    and --version printing to /dev/null.
 *
 * Neither may crash, and afterwards the configuration must hold together: 1 to 64
 * streams with valid, distinct names, every address and string NUL-terminated within its
 * field, every number within its option's range. A failed load must name the file in
 * its error (the file and line); a failed parse must say something.
 *
 * The parser opens files (--config, --*-token-file). To keep the fuzzer off the real
 * file system this target is linked with -Wl,--wrap=fopen: while the parser runs, the
 * only file that opens is the input itself, spelt "@input" (or the memfd's own name);
 * every other name fails with ENOENT. So "--config @input" reads the input as a config
 * file too, and "ingest-token-file @input" takes the token from its first line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>	/* memfd_create(): Makefile.am defines _GNU_SOURCE */
#include <unistd.h>

#include "fr/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__real_fopen(const char *path, const char *mode);

enum { MAX_ARGS = 256 };

static int input_fd = -1;
static char input_path[64];
static FILE *devnull;
static int is_confined;
static struct fr_config config;

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	if (!is_confined)
		return __real_fopen(path, mode);
	if (strcmp(path, "@input") == 0 || strcmp(path, input_path) == 0)
		return __real_fopen(input_path, mode);
	errno = ENOENT;
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	input_fd = memfd_create("config-fuzzer-input", MFD_CLOEXEC);
	devnull = fopen("/dev/null", "w");
	if (input_fd < 0 || devnull == NULL) {
		perror("config-fuzzer: memfd_create or /dev/null");
		abort();
	}
	snprintf(input_path, sizeof input_path, "/proc/self/fd/%d", input_fd);
	return 0;
}

static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "config-fuzzer: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void
check_string(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL)
		fail(what, "not NUL-terminated");
}

static void
check_addr(const struct fr_addr *a, const char *what)
{
	check_string(a->text, sizeof a->text, what);
	if (a->len > sizeof a->ss)
		fail(what, "socklen larger than sockaddr_storage");
}

static void
check_token(const char *t, size_t size, const char *what)
{
	check_string(t, size, what);
	for (const char *p = t; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == '&' || *p == '#')
			fail(what, "a token with a byte tokens may not have");
}

/* --allow lists: within bounds, prefixes in range, host bits clear, text terminated. */
static void
check_acl(const struct fr_acl *acl, const char *what)
{
	if (acl->n > FR_ACL_MAX)
		fail(what, "more networks than FR_ACL_MAX");
	for (size_t i = 0; i < acl->n; i++) {
		const struct fr_cidr *cidr = &acl->cidrs[i];

		check_string(cidr->text, sizeof cidr->text, what);
		if (cidr->prefix_len > 128)
			fail(what, "prefix longer than 128 bits");
		for (unsigned bit = cidr->prefix_len; bit < 128; bit++)
			if (cidr->net[bit / 8] & (0x80u >> (bit % 8)))
				fail(what, "host bits set beyond the prefix");
		/* IPv4 exactly when the network lies in ::ffff:0:0/96. */
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		int in_mapped = cidr->prefix_len >= 96 && memcmp(cidr->net, mapped, 12) == 0;
		if (cidr->family != (in_mapped ? AF_INET : AF_INET6))
			fail(what, "a network of the wrong family");
		/* The network must admit itself. */
		struct fr_addr a = { .len = sizeof(struct sockaddr_in6) };
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, cidr->net, 16);
		struct fr_acl one = { .n = 1, .cidrs = { *cidr } };
		if (!fr_acl_permits(&one, &a))
			fail(what, "a network that does not admit its own address");
	}
}

/* A stream's from= and its keys: in range, and the URL's text without user info. */
static void
check_pull(const struct fr_stream_config *sc)
{
	const struct fr_pull_config *pc = &sc->pull;
	const struct fr_url *u = &pc->url;

	check_token(pc->token, sizeof pc->token, "from-token");
	if (!(pc->poll_fps >= 0.01 && pc->poll_fps <= 100))
		fail("poll_fps out of range", sc->name);
	if (!(pc->linger_s >= 0 && pc->linger_s <= 86400))
		fail("linger_s out of range", sc->name);
	if (!(pc->reconnect_max_s >= 0.1 && pc->reconnect_max_s <= 86400))
		fail("reconnect_max_s out of range", sc->name);
	if (pc->is_on_demand != 0 && pc->is_on_demand != 1)
		fail("is_on_demand is not a flag", sc->name);
	if (!sc->has_pull)
		return;
	check_string(u->host, sizeof u->host, "from= host");
	check_string(u->target, sizeof u->target, "from= target");
	check_string(u->basic, sizeof u->basic, "from= credentials");
	check_string(u->text, sizeof u->text, "from= text");
	if (u->host[0] == '\0' || u->port < 1 || u->port > 65535)
		fail("a from= URL without a host or port", sc->name);
	if (u->scheme == FR_URL_HTTP && u->target[0] != '/')
		fail("an http:// target that does not start with /", sc->name);
	if (strncmp(u->text, u->scheme == FR_URL_TCP ? "tcp://" : "http://",
	    u->scheme == FR_URL_TCP ? 6 : 7) != 0)
		fail("a from= text that does not start with its scheme", sc->name);
	/* Shown text never carries the user info: no '@' before the path. */
	const char *auth = strstr(u->text, "://") + 3;
	if (memchr(auth, '@', strcspn(auth, "/")) != NULL)
		fail("user info in a from= text", u->text);
	if (u->basic[0] != '\0' && pc->token[0] != '\0')
		fail("both credentials accepted", sc->name);
}

/* What must hold after any sequence of options, applied or refused. */
static void
check_config(const struct fr_config *c)
{
	if (c->n_streams < 1 || c->n_streams > FR_CONFIG_MAX_STREAMS)
		fail("n_streams out of range", NULL);
	if (strcmp(c->streams[0].name, FR_DEFAULT_STREAM) != 0)
		fail("stream 0 is not the default stream", NULL);
	for (size_t i = 0; i < c->n_streams; i++) {
		const struct fr_stream_config *sc = &c->streams[i];

		check_string(sc->name, sizeof sc->name, "stream name");
		if (!fr_config_is_valid_stream_name(sc->name))
			fail("invalid stream name", sc->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->streams[j].name, sc->name) == 0)
				fail("stream declared twice", sc->name);
		check_addr(&sc->ingest, "stream ingest address");
		check_addr(&sc->listen, "stream listen address");
		check_pull(sc);
	}
	check_addr(&c->http, "http address");
	check_token(c->ingest_token, sizeof c->ingest_token, "ingest token");
	check_token(c->subscribe_token, sizeof c->subscribe_token, "subscribe token");
	check_string(c->pidfile, sizeof c->pidfile, "pidfile");
	check_string(c->log_file, sizeof c->log_file, "log_file");
	check_string(c->user, sizeof c->user, "user");
	check_acl(&c->allow_ingest, "allow ingest");
	check_acl(&c->allow_listen, "allow listen");
	check_acl(&c->allow_http, "allow http");
	check_string(c->config_file, sizeof c->config_file, "config_file");
	if (c->max_frame_bytes < 1024 || c->max_frame_bytes > 256u * 1024 * 1024)
		fail("max_frame_bytes out of range", NULL);
	if (c->max_clients < 1 || c->max_clients > 1000000)
		fail("max_clients out of range", NULL);
	if (!(c->client_timeout_s >= 0.1 && c->client_timeout_s <= 86400))
		fail("client_timeout_s out of range", NULL);
	if (c->max_streams < 1 || c->max_streams > 4096)
		fail("max_streams out of range", NULL);
	if (c->validate != 0 && c->validate != 1)
		fail("validate is not a flag", NULL);
	if (c->daemonize != 0 && c->daemonize != 1)
		fail("daemonize is not a flag", NULL);
	if ((int)c->log_level < (int)FR_LOG_ERROR || (int)c->log_level > (int)FR_LOG_DEBUG)
		fail("log_level out of range", NULL);
}

static void
check_error(const char *err, const char *prefix)
{
	check_string(err, FR_ERR_LEN, "error message");
	if (err[0] == '\0')
		fail("an error without a message", NULL);
	if (prefix != NULL &&
	    (strncmp(err, prefix, strlen(prefix)) != 0 || err[strlen(prefix)] != ':'))
		fail("a config file error that does not name the file", err);
}

static void
write_input(const uint8_t *data, size_t size)
{
	if (ftruncate(input_fd, 0) < 0 || pwrite(input_fd, data, size, 0) != (ssize_t)size)
		fail("cannot write the input to the memfd", strerror(errno));
}

static void
fuzz_file(void)
{
	char err[FR_ERR_LEN];

	fr_config_init(&config);
	memset(err, 'x', sizeof err);
	err[sizeof err - 1] = '\0';
	is_confined = 1;
	int rc = fr_config_load_file(&config, input_path, err);
	if (rc == 0)
		(void)fr_config_check(&config, err);
	is_confined = 0;
	if (rc < 0)
		check_error(err, input_path);
	check_config(&config);
}

static void
fuzz_argv(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 1];
	char err[FR_ERR_LEN];
	int argc = 0;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = (char *)"framerouter";
	for (size_t i = 0; i < size && argc < MAX_ARGS;) {
		while (i < size && (copy[i] == '\0' || isspace((unsigned char)copy[i])))
			copy[i++] = '\0';
		if (i == size)
			break;
		argv[argc++] = copy + i;
		while (i < size && copy[i] != '\0' && !isspace((unsigned char)copy[i]))
			i++;
		if (i < size)
			copy[i++] = '\0';
	}
	argv[argc] = NULL;

	fr_config_init(&config);
	err[0] = '\0';
	is_confined = 1;
	enum fr_config_result r = fr_config_parse(&config, argc, argv, devnull, err);
	is_confined = 0;
	switch (r) {
	case FR_CONFIG_RUN:
		if (fr_config_check(&config, err) != 0)
			fail("fr_config_parse ran a configuration fr_config_check refuses", err);
		break;
	case FR_CONFIG_ERROR:
		check_error(err, NULL);
		break;
	case FR_CONFIG_EXIT:
		break;
	default:
		fail("unknown fr_config_parse result", NULL);
	}
	check_config(&config);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	write_input(data, size);
	fuzz_file();
	fuzz_argv(data, size);
	return 0;
}
