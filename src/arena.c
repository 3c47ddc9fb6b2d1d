/* SPDX-License-Identifier: MIT */
/*
 * memfd arenas: append-only, page-aligned spans of a memfd, so a frame written once
 * can be sendfile()d to every subscriber. A released span is punched out
 * (FALLOC_FL_PUNCH_HOLE); socket buffers that still queue its pages hold their own
 * references, and the range is never written again, so bytes in flight never change.
 * When a file is full the arena starts a new one and evicts the spans left in the old
 * one, which closes at once. It does not know what a frame is.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>	/* memfd_create */
#include <unistd.h>

#include "fr/arena.h"
#include "fr/failpoint.h"

struct fr_arena_file {
	int fd;
	size_t size;		/* bytes it may hand out */
	unsigned users;		/* live spans, plus one while it is an arena's current file */
	struct fr_list spans;	/* the live ones */
};

struct fr_arena {
	unsigned refs;
	struct fr_arena_file *cur;	/* NULL after a failure to start a file */
	size_t end;			/* bytes of cur handed out */
	size_t file_bytes;
};

static struct fr_failpoint alloc_failpoint;
static unsigned open_files;

#ifdef FR_TESTING
void
fr_arena_fail_alloc_after(unsigned n)
{
	alloc_failpoint.after = n;
}
#endif

static size_t
page_bytes(void)
{
	static size_t page;

	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* n rounded up to whole pages; 0 if that overflows. */
static size_t
page_up(size_t n)
{
	size_t page = page_bytes();

	if (n > SIZE_MAX - (page - 1))
		return 0;
	return (n + page - 1) & ~(page - 1);
}

/* Closes fd keeping errno, for the failure paths. */
static void
close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* A file grows as it is written (pwrite); pages exist only once written. */
static struct fr_arena_file *
file_new(size_t size)
{
	if (size > (size_t)INT64_MAX) {
		errno = EFBIG;
		return NULL;
	}
	int fd = memfd_create("framerouter-frames", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct fr_arena_file *file = malloc(sizeof *file);
	if (file == NULL) {
		close_keep_errno(fd);
		errno = ENOMEM;
		return NULL;
	}
	*file = (struct fr_arena_file){ .fd = fd, .size = size, .users = 1 };
	fr_list_init(&file->spans);
	open_files++;
	return file;
}

static void
file_unuse(struct fr_arena_file *file)
{
	assert(file->users > 0);
	if (--file->users > 0)
		return;
	close(file->fd);
	open_files--;
	free(file);
}

/* The arena is done with file: evict what lives in it, then let it go. */
static void
file_retire(struct fr_arena_file *file)
{
	while (!fr_list_is_empty(&file->spans)) {
		struct fr_arena_span *span = FR_CONTAINER_OF(file->spans.next,
		    struct fr_arena_span, link);

		span->evict(span);
		assert(span->file == NULL);	/* evict must release it */
	}
	file_unuse(file);
}

struct fr_arena *
fr_arena_new(size_t file_bytes)
{
	struct fr_arena *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	a->refs = 1;
	a->file_bytes = page_up(file_bytes > 0 ? file_bytes : FR_ARENA_FILE_BYTES);
	/* Fail now, not at the first frame, when memfds cannot be had at all. */
	if (a->file_bytes == 0 || (a->cur = file_new(a->file_bytes)) == NULL) {
		int saved = a->file_bytes == 0 ? EINVAL : errno;

		free(a);
		errno = saved;
		return NULL;
	}
	return a;
}

struct fr_arena *
fr_arena_ref(struct fr_arena *a)
{
	assert(a->refs > 0);
	a->refs++;
	return a;
}

void
fr_arena_unref(struct fr_arena *a)
{
	if (a == NULL)
		return;
	assert(a->refs > 0);
	if (--a->refs > 0)
		return;
	/* Spans still live keep their file open until they are released. */
	if (a->cur != NULL)
		file_unuse(a->cur);
	free(a);
}

int
fr_arena_alloc(struct fr_arena *a, size_t len, struct fr_arena_span *span,
    fr_arena_evict_fn evict)
{
	size_t need = page_up(len > 0 ? len : 1);

	if (need == 0 || fr_failpoint_hit(&alloc_failpoint)) {
		errno = ENOMEM;
		return -1;
	}
	if (a->cur == NULL || need > a->cur->size - a->end) {
		/* Full: start over in a fresh file, never rewrite the old one. */
		struct fr_arena_file *file = file_new(need > a->file_bytes ? need : a->file_bytes);

		if (file == NULL)
			return -1;
		struct fr_arena_file *old = a->cur;
		a->cur = file;
		a->end = 0;
		if (old != NULL)
			file_retire(old);
	}
	span->file = a->cur;
	span->off = (off_t)a->end;
	span->len = need;
	span->evict = evict;
	fr_list_append(&a->cur->spans, &span->link);
	a->end += need;
	a->cur->users++;
	return 0;
}

void
fr_arena_release(struct fr_arena_span *span)
{
	if (span->file == NULL)
		return;
	/* Cannot fail on a memfd (tmpfs) short of a bug; the pages would only stay
	 * until the file closes. */
	(void)fallocate(span->file->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, span->off,
	    (off_t)span->len);
	fr_list_remove(&span->link);
	file_unuse(span->file);
	*span = (struct fr_arena_span){ .file = NULL };
}

int
fr_arena_span_fd(const struct fr_arena_span *span)
{
	return span->file->fd;
}

unsigned
fr_arena_open_files(void)
{
	return open_files;
}
