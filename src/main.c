/* SPDX-License-Identifier: MIT */
/*
 * Startup and shutdown only: config -> log -> bind -> (daemon) -> loop -> teardown.
 * Everything that can fail because of the operator's input fails before the first
 * socket is bound; everything that depends on the machine fails before detaching.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "fr/config.h"
#include "fr/defer.h"
#include "fr/http.h"
#include "fr/ingest.h"
#include "fr/listener.h"
#include "fr/log.h"
#include "fr/registry.h"
#include "fr/stream.h"
#include "fr/sub.h"
#include "fr/util.h"
#include "fr/validate.h"

struct app;

/* A configured stream's raw TCP sockets. */
struct stream_rt {
	struct app *app;
	struct fr_stream *stream;
	struct fr_ingest *ingest;	/* both owned by the registry */
	struct fr_listener *ingest_listener;
	struct fr_listener *listen_listener;
	struct fr_ratelimit refused_log;
};

struct app {
	struct ev_loop *loop;
	struct fr_config config;
	struct fr_registry *registry;
	struct fr_http *http;		/* NULL without --http */
	struct stream_rt streams[FR_CONFIG_MAX_STREAMS];
	size_t n_streams;
	ev_signal sigterm, sigint, sigusr1;
};

/* Subscribers of every kind, raw and HTTP, on every stream. */
static uint64_t
total_clients(const struct app *app)
{
	return fr_registry_clients(app->registry);
}

static void
on_producer(int fd, const struct fr_addr *peer, void *arg)
{
	struct stream_rt *rt = arg;

	fr_ingest_attach(rt->ingest, fd, peer);
}

static void
on_subscriber(int fd, const struct fr_addr *peer, void *arg)
{
	struct stream_rt *rt = arg;
	struct app *app = rt->app;
	uint64_t suppressed;

	if (total_clients(app) >= app->config.max_clients) {
		close(fd);
		rt->stream->counters.clients_refused++;
		if (fr_ratelimit_allow(&rt->refused_log, ev_now(app->loop), &suppressed))
			log_warnx("stream %s: refused subscriber %s: --max-clients %u reached "
			    "(%llu more refused since the last message)", rt->stream->name,
			    peer->text, app->config.max_clients, (unsigned long long)suppressed);
		return;
	}
	struct fr_sub_params params = {
		.timeout_s = app->config.client_timeout_s,
		.stream_counters = &rt->stream->counters,
		.on_close = fr_stream_on_sub_close,
		.close_arg = rt->stream,
	};
	struct fr_sub *sub = fr_sub_new(app->loop, fd, peer, &params);
	if (sub == NULL) {
		log_warnx("stream %s: out of memory for subscriber %s", rt->stream->name, peer->text);
		return;
	}
	log_info("stream %s: subscriber %s connected", rt->stream->name, peer->text);
	fr_stream_add_sub(rt->stream, sub);
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void
dump_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct app *app = w->data;

	(void)loop, (void)revents;
	fr_registry_log_counters(app->registry);
}

static void
setup_stream(struct app *app, const struct fr_stream_config *sc)
{
	struct stream_rt *rt = &app->streams[app->n_streams++];
	char err[FR_ERR_LEN];
	struct fr_registry_entry *e = fr_registry_add(app->registry, sc->name, err);

	if (e == NULL)
		fatalx("stream %s: %s", sc->name, err);
	rt->app = app;
	rt->stream = e->stream;
	rt->ingest = e->ingest;
	fr_ratelimit_init(&rt->refused_log, 1.0);
	if (sc->has_ingest && (rt->ingest_listener = fr_listener_new(app->loop, "--ingest",
	    &sc->ingest, on_producer, rt, err)) == NULL) {
		fprintf(stderr, "framerouter: stream %s: %s\n", sc->name, err);
		exit(1);
	}
	if (sc->has_listen && (rt->listen_listener = fr_listener_new(app->loop, "--listen",
	    &sc->listen, on_subscriber, rt, err)) == NULL) {
		fprintf(stderr, "framerouter: stream %s: %s\n", sc->name, err);
		exit(1);
	}
}

static void
start_stream(struct stream_rt *rt)
{
	if (rt->ingest_listener != NULL) {
		fr_listener_start(rt->ingest_listener);
		log_info("stream %s: producers push raw MJPEG to %s", rt->stream->name,
		    fr_listener_addr(rt->ingest_listener)->text);
	}
	if (rt->listen_listener != NULL) {
		fr_listener_start(rt->listen_listener);
		log_info("stream %s: subscribers read raw MJPEG from %s", rt->stream->name,
		    fr_listener_addr(rt->listen_listener)->text);
	}
}

static void
setup_http(struct app *app)
{
	const struct fr_config *c = &app->config;
	struct fr_http_params params = {
		.registry = app->registry,
		.max_clients = c->max_clients,
		.client_timeout_s = c->client_timeout_s,
		.head_timeout_s = 5.0,
		.ingest_token = c->ingest_token[0] ? c->ingest_token : NULL,
		.subscribe_token = c->subscribe_token[0] ? c->subscribe_token : NULL,
	};
	char err[FR_ERR_LEN];

	if (!c->has_http)
		return;
	if ((app->http = fr_http_new(app->loop, &c->http, &params, err)) == NULL) {
		fprintf(stderr, "framerouter: %s\n", err);
		exit(1);
	}
}

static void
teardown(struct app *app)
{
	fr_http_free(app->http);
	for (size_t i = 0; i < app->n_streams; i++) {
		struct stream_rt *rt = &app->streams[i];

		fr_listener_free(rt->ingest_listener);
		fr_listener_free(rt->listen_listener);
	}
	fr_registry_free(app->registry);
	fr_defer_fini();
	fr_validate_fini();
	ev_ref(app->loop);	/* undo init_signals' ev_unref before stopping */
	ev_ref(app->loop);
	ev_ref(app->loop);
	ev_signal_stop(app->loop, &app->sigterm);
	ev_signal_stop(app->loop, &app->sigint);
	ev_signal_stop(app->loop, &app->sigusr1);
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
init_signals(struct app *app)
{
	/* The special problem of SIGPIPE (libev manual): sends use MSG_NOSIGNAL, and
	 * anything else that could raise it must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&app->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&app->sigint, stop_cb, SIGINT);
	ev_signal_init(&app->sigusr1, dump_cb, SIGUSR1);
	app->sigusr1.data = app;
	ev_signal_start(app->loop, &app->sigterm);
	ev_signal_start(app->loop, &app->sigint);
	ev_signal_start(app->loop, &app->sigusr1);
	/* Signal watchers alone must not keep the loop alive. */
	ev_unref(app->loop);
	ev_unref(app->loop);
	ev_unref(app->loop);
}

int
main(int argc, char **argv)
{
	static struct app app;
	char err[FR_ERR_LEN];

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
	if (app.config.validate && !fr_validate_is_available()) {
		fprintf(stderr, "framerouter: --validate: built without libjpeg-turbo\n");
		return 2;
	}
	fr_log_init(app.config.log_level, 0);
	if ((app.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot initialise libev");
	struct fr_ingest_params ingest_params = {
		.max_frame_bytes = app.config.max_frame_bytes,
		.validate = app.config.validate,
		.idle_timeout_s = app.config.producer_timeout_s,
	};
	app.registry = fr_registry_new(app.loop, &ingest_params, app.config.max_streams);
	for (size_t i = 0; i < app.config.n_streams; i++)
		setup_stream(&app, &app.config.streams[i]);
	setup_http(&app);
	if (app.config.daemonize) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		ev_loop_fork(app.loop);
		fr_log_init(app.config.log_level, 1);
	}
	if (app.config.pidfile[0] != '\0')
		write_pidfile(app.config.pidfile);
	init_signals(&app);
	fr_defer_init(app.loop);
	for (size_t i = 0; i < app.n_streams; i++)
		start_stream(&app.streams[i]);
	if (app.http != NULL) {
		fr_http_start(app.http);
		log_info("http: serving on http://%s/", fr_http_addr(app.http)->text);
	}
	log_info("framerouter %s ready", PACKAGE_VERSION);

	ev_run(app.loop, 0);

	teardown(&app);
	if (app.config.pidfile[0] != '\0')
		unlink(app.config.pidfile);
	log_info("framerouter stopped");
	return 0;
}
