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
	struct fr_registry_entry *entry;
	struct fr_admit *admit;
	struct fr_listener *ingest;	/* NULL: the stream has no raw ingest port */
	struct fr_listener *listen;	/* NULL: no raw subscriber port */
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

	if (!fr_admit_has_room(r->admit, r->entry, peer)) {
		close(fd);
		return;
	}
	fr_admit_subscribe(r->admit, r->entry, fd, peer, FR_SUB_RAW, 0);
}

struct fr_raw *
fr_raw_new(struct ev_loop *loop, struct fr_registry_entry *e, struct fr_admit *admit,
    const struct fr_addr *ingest, const struct fr_addr *listen, char *err)
{
	struct fr_raw *r = fr_xcalloc(1, sizeof *r);

	r->entry = e;
	r->admit = admit;
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
		log_info("stream %s: subscribers read raw MJPEG from %s", name,
		    fr_listener_addr(r->listen)->text);
	}
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
