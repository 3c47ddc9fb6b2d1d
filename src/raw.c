/* SPDX-License-Identifier: MIT */
/*
 * Raw TCP ports of a stream. Everything past accept belongs to ingest.c (producers)
 * and sub.c (subscribers); this file only routes accepted sockets to them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fr/listener.h"
#include "fr/log.h"
#include "fr/raw.h"
#include "fr/util.h"
#include "fr/xmalloc.h"

struct fr_raw {
	struct ev_loop *loop;
	struct fr_registry_entry *entry;
	struct fr_admit *admit;
	struct fr_listener *ingest;	/* NULL: the stream has no raw ingest port */
	struct fr_listener *listen;	/* NULL: no raw subscriber port */
	struct fr_scale_spec listen_scale;	/* listen-scale=; plain: none */
	struct fr_ratelimit refuse_log;
};

static void
on_producer(int fd, const struct fr_addr *peer, void *arg)
{
	struct fr_raw *r = arg;

	fr_ingest_attach(r->entry->ingest, fd, peer);
}

static void
on_subscriber(int fd, const struct fr_addr *peer, void *arg)
{
	struct fr_raw *r = arg;

	char err[FR_ERR_LEN];

	if (!fr_admit_has_room(r->admit, r->entry, peer)) {
		close(fd);
		return;
	}
	if (!fr_scale_spec_is_plain(&r->listen_scale) &&
	    fr_scale_check(r->entry->scale, &r->listen_scale, err) != 0) {
		fr_log_limited(&r->refuse_log, ev_now(r->loop), FR_LOG_WARN,
		    "stream %s: refused subscriber %s: %s", r->entry->stream->name, peer->text,
		    err);
		close(fd);
		return;
	}
	fr_admit_subscribe(r->admit, r->entry, fd, peer, FR_SUB_RAW, 0, &r->listen_scale);
}

struct fr_raw *
fr_raw_new(struct ev_loop *loop, struct fr_registry_entry *e, struct fr_admit *admit,
    const struct fr_addr *ingest, const struct fr_addr *listen, char *err)
{
	struct fr_raw *r = fr_xcalloc(1, sizeof *r);

	r->loop = loop;
	r->entry = e;
	r->admit = admit;
	fr_ratelimit_init(&r->refuse_log, 1.0);
	if (ingest != NULL && (r->ingest = fr_listener_new(loop, "--ingest", ingest, on_producer,
	    r, err)) == NULL) {
		free(r);
		return NULL;
	}
	if (listen != NULL && (r->listen = fr_listener_new(loop, "--listen", listen,
	    on_subscriber, r, err)) == NULL) {
		fr_listener_free(r->ingest);
		free(r);
		return NULL;
	}
	return r;
}

void
fr_raw_start(struct fr_raw *r)
{
	const char *name = r->entry->stream->name;

	if (r->ingest != NULL) {
		fr_listener_start(r->ingest);
		log_info("stream %s: producers push raw MJPEG to %s", name,
		    fr_listener_addr(r->ingest)->text);
	}
	if (r->listen != NULL) {
		fr_listener_start(r->listen);
		char label[FR_SCALE_SPEC_TEXT_LEN];

		fr_scale_spec_format(&r->listen_scale, label, sizeof label);
		log_info("stream %s: subscribers read raw MJPEG from %s%s%s", name,
		    fr_listener_addr(r->listen)->text,
		    fr_scale_spec_is_plain(&r->listen_scale) ? "" : ", scaled ",
		    fr_scale_spec_is_plain(&r->listen_scale) ? "" : label);
	}
}

void
fr_raw_set_listen_scale(struct fr_raw *r, const struct fr_scale_spec *spec)
{
	r->listen_scale = *spec;
}

void
fr_raw_set_acls(struct fr_raw *r, const struct fr_acl *ingest, const struct fr_acl *listen,
    uint64_t *denied)
{
	if (r->ingest != NULL)
		fr_listener_set_acl(r->ingest, ingest, denied);
	if (r->listen != NULL)
		fr_listener_set_acl(r->listen, listen, denied);
}

void
fr_raw_free(struct fr_raw *r)
{
	if (r == NULL)
		return;
	fr_listener_free(r->ingest);
	fr_listener_free(r->listen);
	free(r);
}

const struct fr_addr *
fr_raw_ingest_addr(const struct fr_raw *r)
{
	return r->ingest != NULL ? fr_listener_addr(r->ingest) : NULL;
}
