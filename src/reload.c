/* SPDX-License-Identifier: MIT */
/*
 * The reload policy, read from the option table (config.c): every option's value is
 * compared by its kind, a change is copied into the running configuration unless the
 * row says it takes a restart, and each change is noted once. Listeners are never
 * rebound here: closing a port that subscribers use, or failing to bind a new one
 * halfway, is worse than asking for a restart.
 */
#include <stdarg.h>
#include <stddef.h>
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

/* ---- one kind of value: compared, shown in a note, copied ---- */

struct kind {
	int (*same)(const void *a, const void *b);
	void (*show)(char *buf, size_t len, const void *v);	/* for describe_change */
	void (*describe)(const struct kind *k, char *buf, size_t len, const char *label,
	    const void *old, const void *new);
	size_t size;		/* bytes copied when a change is applied */
};

static int
same_addr(const void *a, const void *b)
{
	return strcmp(((const struct fr_addr *)a)->text, ((const struct fr_addr *)b)->text) == 0;
}

static int
same_size(const void *a, const void *b)
{
	return *(const size_t *)a == *(const size_t *)b;
}

static int
same_uint(const void *a, const void *b)
{
	return *(const unsigned *)a == *(const unsigned *)b;
}

static int
same_seconds(const void *a, const void *b)
{
	return *(const double *)a == *(const double *)b;
}

static int
same_int(const void *a, const void *b)
{
	return *(const int *)a == *(const int *)b;
}

static int
same_text(const void *a, const void *b)
{
	return strcmp(a, b) == 0;
}

static int
same_url(const void *a, const void *b)
{
	return fr_url_equal(a, b);
}

static int
same_log_level(const void *a, const void *b)
{
	return *(const enum fr_log_level *)a == *(const enum fr_log_level *)b;
}

static int
same_scale(const void *a, const void *b)
{
	const struct fr_scale_spec *x = a, *y = b;

	if (fr_scale_spec_is_plain(x) || fr_scale_spec_is_plain(y))
		return fr_scale_spec_is_plain(x) == fr_scale_spec_is_plain(y);
	return x->denom == y->denom && x->is_auto == y->is_auto && x->quality == y->quality;
}

static void
show_addr(char *buf, size_t len, const void *v)
{
	const struct fr_addr *a = v;

	snprintf(buf, len, "%s", a->text[0] ? a->text : "(none)");
}

static void
show_size(char *buf, size_t len, const void *v)
{
	snprintf(buf, len, "%zu", *(const size_t *)v);
}

static void
show_uint(char *buf, size_t len, const void *v)
{
	snprintf(buf, len, "%u", *(const unsigned *)v);
}

static void
show_seconds(char *buf, size_t len, const void *v)
{
	snprintf(buf, len, "%g", *(const double *)v);
}

static void
show_text(char *buf, size_t len, const void *v)
{
	const char *s = v;

	snprintf(buf, len, "%s", *s ? s : "(none)");
}

/* Without the credentials (fr_url's text never has them). */
static void
show_url(char *buf, size_t len, const void *v)
{
	const struct fr_url *u = v;

	snprintf(buf, len, "%s", u->text[0] ? u->text : "(none)");
}

static void
show_scale(char *buf, size_t len, const void *v)
{
	if (fr_scale_spec_is_plain(v))
		snprintf(buf, len, "(none)");
	else
		fr_scale_spec_format(v, buf, len);
}

static void
show_log_level(char *buf, size_t len, const void *v)
{
	snprintf(buf, len, "%s", fr_log_level_name(*(const enum fr_log_level *)v));
}

/* "max-clients 1024 -> 2" */
static void
describe_change(const struct kind *k, char *buf, size_t len, const char *label,
    const void *old, const void *new)
{
	char was[128], is[128];

	k->show(was, sizeof was, old);
	k->show(is, sizeof is, new);
	snprintf(buf, len, "%s %s -> %s", label, was, is);
}

/* "validate on" */
static void
describe_flag(const struct kind *k, char *buf, size_t len, const char *label,
    const void *old, const void *new)
{
	(void)k, (void)old;
	snprintf(buf, len, "%s %s", label, *(const int *)new ? "on" : "off");
}

/* "ingest-token changed": never the token itself, logs are read by more people than configs. */
static void
describe_token(const struct kind *k, char *buf, size_t len, const char *label,
    const void *old, const void *new)
{
	const char *was = old, *is = new;

	(void)k;
	snprintf(buf, len, "%s %s", label, *is == '\0' ? "removed" : *was == '\0' ? "set" :
	    "changed");
}

/* "stream cam: from http://a/ -> http://b/"; a change of credentials alone is said so. */
static void
describe_url(const struct kind *k, char *buf, size_t len, const char *label, const void *old,
    const void *new)
{
	const struct fr_url *was = old, *is = new;

	if (strcmp(was->text, is->text) != 0 || !was->text[0])
		describe_change(k, buf, len, label, old, new);
	else
		snprintf(buf, len, "%s %s (another user, password or query)", label, is->text);
}

/*
 * The kinds merge_value handles. FR_KIND_STREAMS and FR_KIND_ACL have their own
 * merge; FR_KIND_TOKEN_FILE stores where a TOKEN row does, which compares it.
 */
static const struct kind kinds[] = {
	[FR_KIND_ADDR] = { same_addr, show_addr, describe_change, sizeof(struct fr_addr) },
	[FR_KIND_SIZE] = { same_size, show_size, describe_change, sizeof(size_t) },
	[FR_KIND_UINT] = { same_uint, show_uint, describe_change, sizeof(unsigned) },
	[FR_KIND_SECONDS] = { same_seconds, show_seconds, describe_change, sizeof(double) },
	[FR_KIND_FLAG] = { same_int, NULL, describe_flag, sizeof(int) },
	[FR_KIND_PATH] = { same_text, show_text, describe_change, PATH_MAX },
	[FR_KIND_TOKEN] = { same_text, NULL, describe_token, FR_TOKEN_MAX + 1 },
	[FR_KIND_USER] = { same_text, show_text, describe_change, FR_USER_LEN + 1 },
	[FR_KIND_LOG_LEVEL] = { same_log_level, show_log_level, describe_change,
	    sizeof(enum fr_log_level) },
	[FR_KIND_URL] = { same_url, show_url, describe_url, sizeof(struct fr_url) },
	[FR_KIND_SCALE] = { same_scale, show_scale, describe_change,
	    sizeof(struct fr_scale_spec) },
	/* May hold credentials: said to have changed, never shown. */
	[FR_KIND_NATS_URLS] = { same_text, NULL, describe_token, PATH_MAX },
	[FR_KIND_SUBJECT] = { same_text, show_text, describe_change, PATH_MAX },
};

/* ---- one row's value ---- */

static const void *
at(const void *base, size_t offset)
{
	return (const char *)base + offset;
}

/* True if row o holds the same value in a and b; a row with has_offset counts "not given" too. */
static int
same(const struct fr_config_option *o, const void *a, const void *b)
{
	if (o->has_offset != 0) {
		int has_a = *(const int *)at(a, o->has_offset);

		if (has_a != *(const int *)at(b, o->has_offset))
			return 0;
		if (!has_a)
			return 1;
	}
	return kinds[o->kind].same(at(a, o->offset), at(b, o->offset));
}

/* What a note adds about when the change applies (only max-frame-size's ever said it). */
static const char *const when[] = {
	[FR_RELOAD_LIVE] = "",
	[FR_RELOAD_NEXT_CONNECTION] = "",
	[FR_RELOAD_NEXT_PRODUCER] = " (from the next producer connection on)",
};

/* Notes the change of row o, under label, and copies it from next into running. */
static void
apply(struct merge *m, const struct fr_config_option *o, const char *label, void *running,
    const void *next)
{
	const struct kind *k = &kinds[o->kind];
	char what[224];

	k->describe(k, what, sizeof what, label, at(running, o->offset), at(next, o->offset));
	noted(m, FR_RELOAD_APPLIED, "%s%s", what, when[o->reload]);
	memcpy((char *)running + o->offset, at(next, o->offset), k->size);
	if (o->has_offset != 0)
		memcpy((char *)running + o->has_offset, at(next, o->has_offset), sizeof(int));
}

/* An option of a kind in kinds[]: applied, or noted as "--name" needing a restart. */
static void
merge_value(struct merge *m, const struct fr_config_option *o, struct fr_config *running,
    const struct fr_config *next)
{
	if (same(o, running, next))
		return;
	if (o->reload == FR_RELOAD_RESTART)
		noted(m, FR_RELOAD_NEEDS_RESTART, "--%s", o->name);
	else
		apply(m, o, o->name, running, next);
}

/* ---- the rows with more than one value ---- */

/* --allow: each list noted on its own, with the networks it now holds. */
static void
merge_acls(struct merge *m, const struct fr_config_option *o, struct fr_config *running,
    const struct fr_config *next)
{
	for (const struct fr_config_acl *a = fr_config_acls; a->kind != NULL; a++) {
		struct fr_acl *was = (void *)((char *)running + a->offset);
		const struct fr_acl *is = at(next, a->offset);
		char list[160] = "";
		size_t used = 0;

		if (fr_acl_equal(was, is))
			continue;
		if (o->reload == FR_RELOAD_RESTART) {
			noted(m, FR_RELOAD_NEEDS_RESTART, "--%s", o->name);
			return;
		}
		for (size_t i = 0; i < is->n && used < sizeof list; i++)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
			    i ? " " : "", is->cidrs[i].text);
		noted(m, FR_RELOAD_APPLIED, "allow %s: %s", a->kind, is->n ? list : "everyone");
		*was = *is;
	}
}

/* The index of the stream called name in c, or c->n_streams if there is none. */
static size_t
stream_index(const struct fr_config *c, const char *name)
{
	size_t i = 0;

	while (i < c->n_streams && strcmp(c->streams[i].name, name) != 0)
		i++;
	return i;
}

/*
 * True if key k of stream "default" is an option's field too (ingest, listen), which
 * that option's row compares. A key that only shares an option's name (stale-after,
 * the tokens: one stream's setting, not the global one) is a key like any other.
 */
static int
is_option(const struct fr_config_option *k)
{
	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++)
		if (strcmp(o->name, k->name) == 0 &&
		    o->offset == offsetof(struct fr_config, streams) + k->offset)
			return 1;
	return 0;
}

/*
 * The keys of one stream that both configurations have, each as its row says.
 * Returns 1 if a changed key takes a restart (noted once per stream by the caller).
 */
static int
merge_stream_keys(struct merge *m, struct fr_stream_config *running,
    const struct fr_stream_config *next, int is_default)
{
	int needs_restart = 0;
	char label[FR_STREAM_NAME_MAX + 64];

	for (const struct fr_config_option *k = fr_config_stream_keys; k->name != NULL; k++) {
		if ((is_default && is_option(k)) || k->kind == FR_KIND_TOKEN_FILE ||
		    same(k, running, next))
			continue;
		if (k->reload == FR_RELOAD_RESTART) {
			needs_restart = 1;
		} else {
			snprintf(label, sizeof label, "stream %s: %s", next->name, k->name);
			apply(m, k, label, running, next);
		}
	}
	return needs_restart;
}

/* --stream: a stream added or removed takes a restart (its row says so); then its keys. */
static void
merge_streams(struct merge *m, struct fr_config *running, const struct fr_config *next)
{
	for (size_t i = 0; i < next->n_streams; i++) {
		const struct fr_stream_config *is = &next->streams[i];
		size_t j = stream_index(running, is->name);

		/* "default" is stream 0 of both. */
		if (j == running->n_streams ||
		    merge_stream_keys(m, &running->streams[j], is, i == 0))
			noted(m, FR_RELOAD_NEEDS_RESTART, "--stream %s", is->name);
	}
	for (size_t i = 1; i < running->n_streams; i++)
		if (stream_index(next, running->streams[i].name) == next->n_streams)
			noted(m, FR_RELOAD_NEEDS_RESTART, "--stream %s (removed)",
			    running->streams[i].name);
}

unsigned
fr_reload_merge(struct fr_config *running, const struct fr_config *next, fr_reload_note_fn note,
    void *arg)
{
	struct merge m = { note, arg, 0 };

	for (const struct fr_config_option *o = fr_config_options; o->name != NULL; o++) {
		switch (o->kind) {
		case FR_KIND_STREAMS:
			merge_streams(&m, running, next);
			break;
		case FR_KIND_ACL:
			merge_acls(&m, o, running, next);
			break;
		case FR_KIND_TOKEN_FILE:
			break;	/* the TOKEN row of the same offset compares the token */
		default:
			merge_value(&m, o, running, next);
			break;
		}
	}
	return m.n;
}
