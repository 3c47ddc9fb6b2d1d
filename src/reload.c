/* SPDX-License-Identifier: MIT */
/*
 * The reload policy: which settings change live and how each change is described.
 * Listeners are never rebound here: closing a port that subscribers use, or failing
 * to bind a new one halfway, is worse than asking for a restart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fr/reload.h"

struct merge {
	fr_reload_note_fn note;
	void *arg;
	unsigned n;
};

static void
noted(struct merge *m, enum fr_reload_note kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
noted(struct merge *m, enum fr_reload_note kind, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	m->note(m->arg, kind, what);
	m->n++;
}

static int
addr_differs(const struct fr_addr *a, int has_a, const struct fr_addr *b, int has_b)
{
	return has_a != has_b || (has_a && strcmp(a->text, b->text) != 0);
}

static const struct fr_stream_config *
find_stream(const struct fr_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_streams; i++)
		if (strcmp(c->streams[i].name, name) == 0)
			return &c->streams[i];
	return NULL;
}

/*
 * Where a stream is pulled from changes live: main.c restarts that stream's puller and
 * leaves the others alone. Only the URL's safe form is named: never its credentials.
 */
static void
merge_pulls(struct merge *m, struct fr_config *running, const struct fr_config *next)
{
	for (size_t i = 0; i < running->n_streams; i++) {
		struct fr_stream_config *o = &running->streams[i];
		const struct fr_stream_config *n = find_stream(next, o->name);

		if (n == NULL || (o->has_pull == n->has_pull &&
		    (!o->has_pull || fr_config_pull_equal(&o->pull, &n->pull))))
			continue;
		if (!n->has_pull)
			noted(m, FR_RELOAD_APPLIED, "stream %s: no longer pulled from %s", o->name,
			    o->pull.url.text);
		else if (!o->has_pull)
			noted(m, FR_RELOAD_APPLIED, "stream %s: pulled from %s", o->name,
			    n->pull.url.text);
		else
			noted(m, FR_RELOAD_APPLIED, "stream %s: pulled from %s (changed)", o->name,
			    n->pull.url.text);
		o->pull = n->pull;
		o->has_pull = n->has_pull;
	}
}

/* Streams and their sockets: reported, never applied. */
static void
compare_listeners(struct merge *m, const struct fr_config *running, const struct fr_config *next)
{
	const struct fr_stream_config *old_default = &running->streams[0];
	const struct fr_stream_config *new_default = &next->streams[0];

	if (addr_differs(&old_default->ingest, old_default->has_ingest, &new_default->ingest,
	    new_default->has_ingest))
		noted(m, FR_RELOAD_NEEDS_RESTART, "--ingest");
	if (addr_differs(&old_default->listen, old_default->has_listen, &new_default->listen,
	    new_default->has_listen))
		noted(m, FR_RELOAD_NEEDS_RESTART, "--listen");
	for (size_t i = 1; i < next->n_streams; i++) {
		const struct fr_stream_config *n = &next->streams[i];
		const struct fr_stream_config *o = find_stream(running, n->name);

		if (o == NULL || addr_differs(&o->ingest, o->has_ingest, &n->ingest, n->has_ingest) ||
		    addr_differs(&o->listen, o->has_listen, &n->listen, n->has_listen))
			noted(m, FR_RELOAD_NEEDS_RESTART, "--stream %s", n->name);
	}
	for (size_t i = 1; i < running->n_streams; i++)
		if (find_stream(next, running->streams[i].name) == NULL)
			noted(m, FR_RELOAD_NEEDS_RESTART, "--stream %s (removed)",
			    running->streams[i].name);
	if (addr_differs(&running->http, running->has_http, &next->http, next->has_http))
		noted(m, FR_RELOAD_NEEDS_RESTART, "--http");
	if (running->max_streams != next->max_streams)
		noted(m, FR_RELOAD_NEEDS_RESTART, "--max-streams");
	if (running->daemonize != next->daemonize)
		noted(m, FR_RELOAD_NEEDS_RESTART, "--daemon");
	if (strcmp(running->pidfile, next->pidfile) != 0)
		noted(m, FR_RELOAD_NEEDS_RESTART, "--pidfile");
	if (strcmp(running->user, next->user) != 0)
		noted(m, FR_RELOAD_NEEDS_RESTART, "--user");
}

static void
merge_token(struct merge *m, char *running, const char *next, const char *name)
{
	if (strcmp(running, next) == 0)
		return;
	/* Never the token itself: logs are read by more people than configs. */
	noted(m, FR_RELOAD_APPLIED, "%s %s", name,
	    *next == '\0' ? "removed" : *running == '\0' ? "set" : "changed");
	memcpy(running, next, FR_TOKEN_MAX + 1);
}

static void
merge_acl(struct merge *m, struct fr_acl *running, const struct fr_acl *next, const char *kind)
{
	char list[160] = "";
	size_t used = 0;

	if (fr_acl_equal(running, next))
		return;
	for (size_t i = 0; i < next->n && used < sizeof list; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "",
		    next->cidrs[i].text);
	noted(m, FR_RELOAD_APPLIED, "allow %s: %s", kind, next->n ? list : "everyone");
	*running = *next;
}

unsigned
fr_reload_merge(struct fr_config *running, const struct fr_config *next, fr_reload_note_fn note,
    void *arg)
{
	struct merge m = { note, arg, 0 };

	compare_listeners(&m, running, next);
	merge_pulls(&m, running, next);
	if (running->log_level != next->log_level) {
		noted(&m, FR_RELOAD_APPLIED, "log-level %s -> %s",
		    fr_log_level_name(running->log_level), fr_log_level_name(next->log_level));
		running->log_level = next->log_level;
	}
	if (running->max_clients != next->max_clients) {
		noted(&m, FR_RELOAD_APPLIED, "max-clients %u -> %u", running->max_clients,
		    next->max_clients);
		running->max_clients = next->max_clients;
	}
	if (running->client_timeout_s != next->client_timeout_s) {
		noted(&m, FR_RELOAD_APPLIED, "client-timeout %g -> %g", running->client_timeout_s,
		    next->client_timeout_s);
		running->client_timeout_s = next->client_timeout_s;
	}
	if (running->producer_timeout_s != next->producer_timeout_s) {
		noted(&m, FR_RELOAD_APPLIED, "producer-timeout %g -> %g",
		    running->producer_timeout_s, next->producer_timeout_s);
		running->producer_timeout_s = next->producer_timeout_s;
	}
	if (running->max_frame_bytes != next->max_frame_bytes) {
		noted(&m, FR_RELOAD_APPLIED, "max-frame-size %zu -> %zu (from the next producer "
		    "connection on)", running->max_frame_bytes, next->max_frame_bytes);
		running->max_frame_bytes = next->max_frame_bytes;
	}
	if (running->validate != next->validate) {
		noted(&m, FR_RELOAD_APPLIED, "validate %s", next->validate ? "on" : "off");
		running->validate = next->validate;
	}
	merge_token(&m, running->ingest_token, next->ingest_token, "ingest-token");
	merge_token(&m, running->subscribe_token, next->subscribe_token, "subscribe-token");
	merge_acl(&m, &running->allow_ingest, &next->allow_ingest, "ingest");
	merge_acl(&m, &running->allow_listen, &next->allow_listen, "listen");
	merge_acl(&m, &running->allow_http, &next->allow_http, "http");
	if (strcmp(running->log_file, next->log_file) != 0) {
		noted(&m, FR_RELOAD_APPLIED, "log-file %s -> %s",
		    running->log_file[0] ? running->log_file : "(none)",
		    next->log_file[0] ? next->log_file : "(none)");
		memcpy(running->log_file, next->log_file, sizeof running->log_file);
	}
	return m.n;
}
