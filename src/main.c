/* SPDX-License-Identifier: MIT */
/*
 * Startup, reload and shutdown: config -> log -> bind -> (daemon) -> (user) -> loop
 * -> teardown. Everything that can fail because of the operator's input fails before
 * the first socket is bound; everything that depends on the machine fails before
 * detaching. SIGHUP reparses the same file and argv and applies what may change live.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "fr/admit.h"
#include "fr/config.h"
#include "fr/defer.h"
#include "fr/http.h"
#include "fr/ingest.h"
#include "fr/log.h"
#include "fr/nats.h"
#include "fr/notify.h"
#include "fr/pull.h"
#include "fr/raw.h"
#include "fr/registry.h"
#include "fr/reload.h"
#include "fr/resolve.h"
#include "fr/user.h"
#include "fr/util.h"
#include "fr/validate.h"

struct app {
	struct ev_loop *loop;
	struct fr_config config;	/* live settings change on SIGHUP */
	int argc;			/* reparsed on SIGHUP, over the file */
	char **argv;
	struct fr_user user;		/* --user, if config.user is set */
	struct fr_registry *registry;
	struct fr_admit *admit;
	struct fr_http *http;		/* NULL without --http */
	struct fr_resolver *resolver;	/* made for the first pulled stream */
	struct fr_nats *nats;		/* NULL without --nats */
	struct fr_ratelimit discover_log;
	struct fr_raw *raw[FR_CONFIG_MAX_STREAMS];	/* each configured stream's ports */
	size_t n_streams;
	ev_signal sigterm, sigint, sigusr1, sighup;
};

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	fr_notify_stopping();
	ev_break(loop, EVBREAK_ALL);
}

static void
dump_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct app *app = w->data;

	(void)loop, (void)revents;
	fr_registry_log_counters(app->registry);
}

/* A declared stream's own tokens and stale-after, at startup and after each reload. */
static void
apply_stream_access(struct app *app)
{
	fr_registry_set_stale_after(app->registry, app->config.stale_after_s);
	for (size_t i = 0; i < app->config.n_streams; i++) {
		const struct fr_stream_config *sc = &app->config.streams[i];
		struct fr_registry_entry *e = fr_registry_find(app->registry, sc->name);

		if (e == NULL)	/* added by the reload: that takes a restart */
			continue;
		/* The running configuration outlives every entry: borrowed. */
		e->subscribe_token = sc->subscribe_token;
		e->ingest_token = sc->ingest_token;
		e->stale_after_s = sc->stale_after_s;
	}
}

static void
setup_stream(struct app *app, const struct fr_stream_config *sc)
{
	char err[FR_ERR_LEN];
	struct fr_registry_entry *e;

	if (fr_registry_add(app->registry, sc->name, true, &e, err) != FR_REGISTRY_OK)
		fatalx("stream %s: %s", sc->name, err);
	struct fr_raw *r = fr_raw_new(app->loop, e, app->admit,
	    sc->has_ingest ? &sc->ingest : NULL, sc->has_listen ? &sc->listen : NULL, err);
	if (r == NULL) {
		fprintf(stderr, "framerouter: stream %s: %s\n", sc->name, err);
		exit(1);
	}
	fr_raw_set_acls(r, &app->config.allow_ingest, &app->config.allow_listen,
	    fr_registry_connections_denied(app->registry));
	fr_raw_set_listen_scale(r, &sc->listen_scale);
	app->raw[app->n_streams++] = r;
}

/* GET /healthz: up while the loop runs and, with --nats, while connected. */
static bool
is_healthy(void *arg, char *why, size_t len)
{
	struct app *app = arg;

	if (app->nats == NULL || fr_nats_is_connected(app->nats))
		return true;
	snprintf(why, len, "nats: %s", fr_nats_state(app->nats));
	return false;
}

/* With --nats, any valid name is a stream that some node may ingest. */
static struct fr_registry_entry *
discover_stream(void *arg, const char *name)
{
	struct app *app = arg;
	struct fr_registry_entry *e;
	char err[FR_ERR_LEN];

	if (app->nats == NULL)
		return NULL;
	if (fr_registry_add(app->registry, name, false, &e, err) != FR_REGISTRY_OK) {
		fr_log_limited(&app->discover_log, ev_now(app->loop), FR_LOG_WARN,
		    "stream %s: cannot serve it from NATS: %s", name, err);
		return NULL;
	}
	fr_log_limited(&app->discover_log, ev_now(app->loop), FR_LOG_INFO,
	    "stream %s: created for a subscriber, served from NATS", name);
	return e;
}

static struct fr_http_params
http_params(struct app *app)
{
	const struct fr_config *c = &app->config;

	return (struct fr_http_params){
		.registry = app->registry,
		.admit = app->admit,
		.client_timeout_s = c->client_timeout_s,
		.head_timeout_s = 5.0,
		.ingest_token = c->ingest_token[0] ? c->ingest_token : NULL,
		.subscribe_token = c->subscribe_token[0] ? c->subscribe_token : NULL,
		.allow = &c->allow_http,
		.connections_denied = fr_registry_connections_denied(app->registry),
		.is_healthy = is_healthy,
		.discover = discover_stream,
		.hook_arg = app,
	};
}

static struct fr_admit_params
admit_params(const struct fr_config *c)
{
	return (struct fr_admit_params){
		.max_clients = c->max_clients,
		.client_timeout_s = c->client_timeout_s,
		.max_pending = c->max_pending,
		.max_pending_per_peer = c->max_pending_per_peer,
	};
}

static struct fr_pull_params
pull_params(const struct fr_config *c)
{
	return (struct fr_pull_params){ .timeout_s = c->producer_timeout_s };
}

/* Makes e's puller as sc says; e->pull stays NULL (and a line is logged) if it cannot. */
static void
start_pull(struct app *app, struct fr_registry_entry *e, const struct fr_stream_config *sc,
    const struct fr_pull_params *params)
{
	char err[FR_ERR_LEN];

	if (app->resolver == NULL && (app->resolver = fr_resolver_new(app->loop, err)) == NULL) {
		log_warnx("stream %s: cannot pull %s: %s", sc->name, sc->pull.url.text, err);
		return;
	}
	/* NATS lets go of the stream first, so the puller finds its producer slot free. */
	if (app->nats != NULL)
		fr_nats_set_pulled(app->nats, e, true);
	if ((e->pull = fr_pull_new(app->loop, app->resolver, e->stream, e->ingest, &sc->pull,
	    params)) == NULL)
		log_warnx("stream %s: cannot pull %s: out of memory", sc->name, sc->pull.url.text);
	else
		log_info("stream %s: pulled from %s%s", sc->name, sc->pull.url.text,
		    sc->pull.is_on_demand ? " while it has subscribers (on-demand)" : "");
}

/*
 * Starts, restarts or stops each stream's puller to match the configuration: at startup
 * and after a reload, which touches only the streams whose from= or keys changed.
 */
static void
update_pulls(struct app *app)
{
	struct fr_pull_params params = pull_params(&app->config);

	for (size_t i = 0; i < app->config.n_streams; i++) {
		const struct fr_stream_config *sc = &app->config.streams[i];
		struct fr_registry_entry *e = fr_registry_find(app->registry, sc->name);

		if (e == NULL)
			continue;	/* declared by a reload: needs a restart */
		if (e->pull != NULL && sc->has_pull &&
		    fr_config_pull_equal(fr_pull_config_of(e->pull), &sc->pull)) {
			fr_pull_set_params(e->pull, &params);
			continue;
		}
		fr_pull_free(e->pull);
		e->pull = NULL;
		if (sc->has_pull)
			start_pull(app, e, sc, &params);
		/* Without its puller, NATS serves the stream again (while it has subscribers). */
		if (app->nats != NULL && e->pull == NULL)
			fr_nats_set_pulled(app->nats, e, false);
	}
}

static struct fr_ingest_params
ingest_params(const struct fr_config *c)
{
	return (struct fr_ingest_params){
		.max_frame_bytes = c->max_frame_bytes,
		.validate = c->validate,
		.idle_timeout_s = c->producer_timeout_s,
	};
}

static void
setup_http(struct app *app)
{
	struct fr_http_params params = http_params(app);
	char err[FR_ERR_LEN];

	if (!app->config.has_http)
		return;
	if ((app->http = fr_http_new(app->loop, &app->config.http, &params, err)) == NULL) {
		fprintf(stderr, "framerouter: %s\n", err);
		exit(1);
	}
}

/* --nats: the library is loaded and the options checked now; connecting comes later. */
static void
setup_nats(struct app *app)
{
	const struct fr_config *c = &app->config;
	char err[FR_ERR_LEN];

	if (c->nats_urls[0] == '\0')
		return;
	struct fr_nats_params p = {
		.urls = c->nats_urls,
		.creds_file = c->nats_creds,
		.token = c->nats_token,
		.ca_file = c->nats_ca,
		.cert_file = c->nats_cert,
		.key_file = c->nats_key,
		.prefix = c->nats_prefix,
		.node_id = c->node_id,
		.jetstream = c->nats_jetstream,
		.max_frame_bytes = c->max_frame_bytes,
	};
	if ((app->nats = fr_nats_new(app->loop, &p, err)) == NULL) {
		fprintf(stderr, "framerouter: %s\n", err);
		exit(2);
	}
}

static void
start_nats(struct app *app)
{
	char err[FR_ERR_LEN];

	if (app->nats == NULL)
		return;
	if (fr_nats_start(app->nats, err) < 0)
		fatalx("%s", err);	/* logged where the log goes: stderr until --daemon */
	log_info("nats: node %s, %s, subjects %s.NAME%s", app->config.node_id,
	    fr_nats_library(), app->config.nats_prefix, app->config.nats_jetstream ?
	    ", JetStream keeps the latest frame" : "");
}

static void
teardown(struct app *app)
{
	fr_http_free(app->http);
	for (size_t i = 0; i < app->n_streams; i++)
		fr_raw_free(app->raw[i]);
	fr_registry_free(app->registry);	/* the pullers with it, before their resolver */
	fr_resolver_free(app->resolver);
	fr_nats_free(app->nats);
	fr_admit_free(app->admit);
	fr_defer_fini();
	fr_validate_fini();
	fr_notify_fini(app->loop);
	ev_ref(app->loop);	/* undo init_signals' ev_unref before stopping */
	ev_ref(app->loop);
	ev_ref(app->loop);
	ev_ref(app->loop);
	ev_signal_stop(app->loop, &app->sigterm);
	ev_signal_stop(app->loop, &app->sigint);
	ev_signal_stop(app->loop, &app->sigusr1);
	ev_signal_stop(app->loop, &app->sighup);
	ev_loop_destroy(app->loop);
}

static void
write_pidfile(const char *path)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0)
		fatal("pidfile %s", path);
}

static void
note_change(void *arg, enum fr_reload_note note, const char *what)
{
	(void)arg;
	if (note == FR_RELOAD_APPLIED)
		log_info("reload: %s", what);
	else
		log_warnx("reload: %s changed; it takes a restart to apply (unchanged until then)",
		    what);
}

/* Follows a changed --log-file: the new file, or back to stderr or syslog. */
static void
switch_log_file(const struct app *app)
{
	if (app->config.log_file[0] == '\0') {
		fr_log_close();
		fr_log_init(app->config.log_level, app->config.daemonize);
	} else if (fr_log_open_file(app->config.log_file) < 0) {
		log_warn("reload: cannot open --log-file %s, logging on where it was",
		    app->config.log_file);
	}
}

/* --node-id defaults to the host name, which no table default can hold. */
static void
default_node_id(struct fr_config *c)
{
	if (c->node_id[0] == '\0' && gethostname(c->node_id, sizeof c->node_id - 1) < 0)
		snprintf(c->node_id, sizeof c->node_id, "framerouter");
}

/* The new configuration in full, or nothing: a bad line leaves every setting as it was. */
static void
reload(struct app *app)
{
	static struct fr_config next;	/* large: not on the stack */
	char err[FR_ERR_LEN];
	char old_log_file[PATH_MAX];

	fr_config_init(&next);
	if (fr_config_parse(&next, app->argc, app->argv, stdout, err) != FR_CONFIG_RUN) {
		log_warnx("reload failed, keeping the running configuration: %s", err);
		return;
	}
	if (next.validate && !fr_validate_is_available()) {
		log_warnx("reload failed, keeping the running configuration: --validate: built "
		    "without libjpeg-turbo");
		return;
	}
	default_node_id(&next);
	memcpy(old_log_file, app->config.log_file, sizeof old_log_file);
	unsigned n = fr_reload_merge(&app->config, &next, note_change, app);
	if (strcmp(old_log_file, app->config.log_file) != 0)
		switch_log_file(app);
	fr_log_set_level(app->config.log_level);
	struct fr_ingest_params ip = ingest_params(&app->config);
	fr_registry_set_ingest_params(app->registry, &ip);
	fr_registry_set_idle_timeout(app->registry, app->config.stream_idle_timeout_s);
	apply_stream_access(app);
	struct fr_admit_params ap = admit_params(&app->config);
	fr_admit_set_params(app->admit, &ap);
	update_pulls(app);
	if (app->http != NULL) {
		struct fr_http_params hp = http_params(app);
		fr_http_set_params(app->http, &hp);
	}
	if (n == 0)
		log_info("reload: done, nothing changed");
	else
		log_info("reload: done, %u setting%s changed", n, n == 1 ? "" : "s");
}

static void
status_line(const struct app *app, char *buf, size_t len)
{
	snprintf(buf, len, "serving %zu stream%s", app->n_streams, app->n_streams == 1 ? "" : "s");
}

static void
hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct app *app = w->data;
	char status[128];

	(void)loop, (void)revents;
	fr_notify_reloading();
	/* Reopen first, so that what the reload logs lands in the new file. */
	if (fr_log_reopen() < 0)
		log_warn("SIGHUP: cannot reopen --log-file %s, logging on where it was",
		    app->config.log_file);
	log_info("SIGHUP: reloading the configuration%s%s", app->config.config_file[0] ?
	    " from " : "", app->config.config_file);
	reload(app);
	status_line(app, status, sizeof status);
	fr_notify_ready(status);
}

static void
init_signals(struct app *app)
{
	/* The special problem of SIGPIPE (libev manual): sends use MSG_NOSIGNAL, and
	 * anything else that could raise it must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&app->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&app->sigint, stop_cb, SIGINT);
	ev_signal_init(&app->sigusr1, dump_cb, SIGUSR1);
	ev_signal_init(&app->sighup, hup_cb, SIGHUP);
	app->sigusr1.data = app;
	app->sighup.data = app;
	ev_signal_start(app->loop, &app->sigterm);
	ev_signal_start(app->loop, &app->sigint);
	ev_signal_start(app->loop, &app->sigusr1);
	ev_signal_start(app->loop, &app->sighup);
	/* Signal watchers alone must not keep the loop alive. */
	ev_unref(app->loop);
	ev_unref(app->loop);
	ev_unref(app->loop);
	ev_unref(app->loop);
}

/*
 * A raw ingest port cannot check a token, and HTTP checks one only with
 * --ingest-token: on a non-loopback address without --allow, anyone who reaches it
 * can push frames into the stream. Allowed, because a robot network may want just
 * that, but said out loud.
 */
static void
warn_open_ingest(const struct app *app)
{
	const struct fr_config *c = &app->config;

	for (size_t i = 0; i < app->n_streams; i++) {
		const struct fr_addr *a = fr_raw_ingest_addr(app->raw[i]);

		if (a != NULL && !fr_addr_is_loopback(a) && c->allow_ingest.n == 0)
			log_warnx("stream %s: --ingest %s is not a loopback address and raw "
			    "ingest cannot check a token: anyone who can reach it can push frames "
			    "(limit it with --allow ingest=CIDR)", c->streams[i].name, a->text);
	}
	if (app->http != NULL && !fr_addr_is_loopback(fr_http_addr(app->http)) &&
	    c->ingest_token[0] == '\0' && c->allow_http.n == 0)
		log_warnx("--http %s is not a loopback address and --ingest-token is not set: "
		    "anyone who can reach it can push frames (set --ingest-token or --allow "
		    "http=CIDR)", fr_http_addr(app->http)->text);
}

/* --user and --log-file are checked like options: exit 2 before anything is bound. */
static int
prepare_environment(struct app *app)
{
	char err[FR_ERR_LEN];

	if (app->config.validate && !fr_validate_is_available()) {
		fprintf(stderr, "framerouter: --validate: built without libjpeg-turbo\n");
		return -1;
	}
	for (size_t i = 0; i < app->config.n_streams; i++) {
		if (!fr_scale_spec_is_plain(&app->config.streams[i].listen_scale) &&
		    !fr_scaler_is_available()) {
			fprintf(stderr, "framerouter: --stream %s: listen-scale: built without "
			    "libjpeg-turbo\n", app->config.streams[i].name);
			return -1;
		}
	}
	if (app->config.nats_urls[0] != '\0' && !fr_nats_is_available()) {
		fprintf(stderr,
		    "framerouter: --nats: built without libnats (Debian: libnats-dev)\n");
		return -1;
	}
	default_node_id(&app->config);
	if (app->config.user[0] != '\0') {
		if (fr_user_lookup(&app->user, app->config.user, err) < 0) {
			fprintf(stderr, "framerouter: --user %s\n", err);
			return -1;
		}
		if (geteuid() != 0 && app->user.uid != geteuid()) {
			fprintf(stderr, "framerouter: --user %s: only root can switch users\n",
			    app->config.user);
			return -1;
		}
	}
	if (app->config.log_file[0] != '\0' && fr_log_open_file(app->config.log_file) < 0) {
		fprintf(stderr, "framerouter: --log-file %s: %s\n", app->config.log_file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
drop_privileges(struct app *app)
{
	char err[FR_ERR_LEN];

	if (app->config.user[0] == '\0' || (app->user.uid == geteuid() &&
	    app->user.gid == getegid()))
		return;
	if (fr_user_switch(&app->user, err) < 0)
		fatalx("--user: %s", err);
	log_info("running as user %s (uid %lu, gid %lu)", app->user.name,
	    (unsigned long)app->user.uid, (unsigned long)app->user.gid);
}

int
main(int argc, char **argv)
{
	static struct app app;
	char err[FR_ERR_LEN], status[128];

	app.argc = argc;
	app.argv = argv;
	fr_config_init(&app.config);
	switch (fr_config_parse(&app.config, argc, argv, stdout, err)) {
	case FR_CONFIG_EXIT:
		return 0;
	case FR_CONFIG_ERROR:
		fprintf(stderr, "framerouter: %s\n", err);
		return 2;
	case FR_CONFIG_RUN:
		break;
	}
	if (prepare_environment(&app) < 0)
		return 2;
	fr_log_init(app.config.log_level, 0);
	if ((app.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise libev");
	struct fr_ingest_params ip = ingest_params(&app.config);
	app.registry = fr_registry_new(app.loop, &ip, app.config.max_streams);
	fr_registry_set_idle_timeout(app.registry, app.config.stream_idle_timeout_s);
	struct fr_admit_params ap = admit_params(&app.config);
	app.admit = fr_admit_new(app.loop, app.registry, &ap);
	fr_ratelimit_init(&app.discover_log, 1.0);
	fr_ratelimit_set_burst(&app.discover_log, 10);
	setup_nats(&app);
	for (size_t i = 0; i < app.config.n_streams; i++)
		setup_stream(&app, &app.config.streams[i]);
	apply_stream_access(&app);
	if (app.nats != NULL)
		fr_nats_serve(app.nats, app.registry);
	setup_http(&app);
	warn_open_ingest(&app);
	if (app.config.daemonize) {
		/* Stay in the start directory: relative --config, --log-file and token
		 * files are read again on SIGHUP. */
		if (daemon(1, 0) < 0)
			fatal("daemon");
		ev_loop_fork(app.loop);
		fr_log_init(app.config.log_level, app.config.log_file[0] == '\0');
	}
	if (app.config.pidfile[0] != '\0')
		write_pidfile(app.config.pidfile);
	drop_privileges(&app);
	init_signals(&app);
	fr_defer_init(app.loop);
	fr_notify_init(app.loop);
	fr_registry_start_history(app.registry);
	start_nats(&app);
	for (size_t i = 0; i < app.n_streams; i++)
		fr_raw_start(app.raw[i]);
	update_pulls(&app);
	if (app.http != NULL) {
		fr_http_start(app.http);
		log_info("http: serving on http://%s/", fr_http_addr(app.http)->text);
	}
	log_info("framerouter %s ready", PACKAGE_VERSION);
	status_line(&app, status, sizeof status);
	fr_notify_ready(status);

	ev_run(app.loop, 0);

	teardown(&app);
	if (app.config.pidfile[0] != '\0')
		unlink(app.config.pidfile);
	log_info("framerouter stopped");
	fr_log_close();
	return 0;
}
