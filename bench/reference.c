/* SPDX-License-Identifier: MIT */
/*
 * The cheapest fan-out broker, as the machine's limit for bench/run: no JPEG
 * parsing (the frame length comes from bench/loadgen.c's COM tag), each frame read
 * into one buffer, the same bytes send()ed to every subscriber from one epoll loop
 * (non-blocking, TCP_NODELAY); a subscriber holds the frame it is sending and the
 * newest one after it, like framerouter. A new subscriber starts at the next frame.
 *   reference --ingest HOST:PORT --listen HOST:PORT [--sendfile]
 * --sendfile is an experiment, not the baseline: each frame is also written once to
 * a memfd (append only; freed by punching holes) and sendfile()d from there, so the
 * kernel sends page references instead of copying the bytes for every subscriber.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR 38			/* the tag ends here; the frame length is at 26 */
struct frame { int refs; size_t len; off_t foff; unsigned char data[]; };
struct sub { int fd; size_t idx; struct frame *sending, *next; size_t off; int want_out; };
enum { EV_INGEST = 1, EV_LISTEN, EV_PRODUCER };	/* epoll data for the non-subscribers */

static int epfd, ingest_fd, listen_fd, prod_fd = -1;
static struct sub **subs, **dead;
static size_t nsubs, cap, ndead, dead_cap;
static unsigned char hdr[HDR];
static size_t have;		/* bytes of hdr, then of cur, read so far */
static struct frame *cur;	/* the frame being read */
static int memfd = -1;		/* --sendfile */
static off_t memfd_end;
#define PAGE_UP(n) (((off_t)(n) + 4095) & ~(off_t)4095)

static void
unref(struct frame *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	if (memfd >= 0)	/* in-flight skbs keep their own page references */
		fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, f->foff, PAGE_UP(f->len));
	free(f);
}

static int
listen_on(const char *spec, unsigned long long tag)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(spec, ':');
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (colon == NULL || colon - spec >= (long)sizeof host)
		exit(2);
	snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	sa.sin_port = htons((unsigned short)atoi(colon + 1));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
		perror(spec);
		exit(1);
	}
	struct epoll_event e = { .events = EPOLLIN };
	e.data.u64 = tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	return fd;
}

/* Freed after the epoll batch, which may still name it. */
static void
drop_sub(size_t i)
{
	struct sub *s = subs[i];

	close(s->fd);
	s->fd = -1;
	unref(s->sending);
	unref(s->next);
	subs[i] = subs[--nsubs];
	subs[i]->idx = i;
	if (ndead == dead_cap && (dead = realloc(dead, (dead_cap = dead_cap ? dead_cap * 2 : 64) *
	    sizeof *dead)) == NULL)
		exit(1);
	dead[ndead++] = s;
}

/* Sends until EAGAIN or nothing is left. Returns -1 if the subscriber is gone. */
static int
flush(struct sub *s)
{
	while (s->sending != NULL) {
		ssize_t n;
		if (memfd >= 0) {
			off_t pos = s->sending->foff + (off_t)s->off;
			n = sendfile(s->fd, memfd, &pos, s->sending->len - s->off);
		} else {
			n = send(s->fd, s->sending->data + s->off, s->sending->len - s->off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return -1;
		if ((s->off += (size_t)n) == s->sending->len) {
			unref(s->sending);
			s->sending = s->next;
			s->next = NULL;
			s->off = 0;
		}
	}
	int want = s->sending != NULL;
	if (want != s->want_out) {
		struct epoll_event e = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s };
		epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &e);
		s->want_out = want;
	}
	return 0;
}

static void
publish(struct frame *f)
{
	for (size_t i = 0; i < nsubs; i++) {
		struct sub *s = subs[i];
		f->refs++;
		if (s->sending != NULL) {
			unref(s->next);	/* a newer frame replaces the waiting one */
			s->next = f;
		} else {
			s->sending = f;
			if (flush(s) < 0)
				drop_sub(i--);
		}
	}
	unref(f);
}

/* Reads the tag, then the rest of the frame straight into its buffer. */
static void
producer_read(void)
{
	for (;;) {
		unsigned char *dst = cur ? cur->data + have : hdr + have;
		size_t want = cur ? cur->len - have : HDR - have;
		ssize_t n = recv(prod_fd, dst, want, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close(prod_fd);
			prod_fd = -1;
			unref(cur);
			cur = NULL;
			have = 0;
			return;
		}
		if ((have += (size_t)n) < (cur ? cur->len : HDR))
			continue;
		if (cur == NULL) {
			size_t len = (size_t)hdr[26] << 24 | hdr[27] << 16 | hdr[28] << 8 | hdr[29];
			if (memcmp(hdr + 6, "FRB1", 4) != 0 || len < HDR ||
			    (cur = malloc(sizeof *cur + len)) == NULL) {
				fprintf(stderr, "reference: not a loadgen frame\n");
				exit(1);
			}
			cur->refs = 1;
			cur->len = len;
			memcpy(cur->data, hdr, HDR);
		} else {
			struct frame *f = cur;
			cur = NULL;
			have = 0;
			if (memfd >= 0) {
				f->foff = memfd_end;
				memfd_end += PAGE_UP(f->len);
				if (pwrite(memfd, f->data, f->len, f->foff) != (ssize_t)f->len)
					exit(1);
			}
			publish(f);
		}
	}
}

static void
accept_all(int lfd)
{
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct epoll_event e = { .events = EPOLLIN };
		if (lfd == ingest_fd) {
			if (prod_fd >= 0) {	/* one producer at a time */
				close(fd);
				continue;
			}
			prod_fd = fd;
			e.data.u64 = EV_PRODUCER;
		} else {
			struct sub *s = calloc(1, sizeof *s);
			if (nsubs == cap && (subs = realloc(subs, (cap = cap ? cap * 2 : 64) *
			    sizeof *subs)) == NULL)
				exit(1);
			s->fd = fd;
			s->idx = nsubs;
			subs[nsubs++] = s;
			e.data.ptr = s;
		}
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	}
}

static void
sub_event(struct sub *s, unsigned ev)
{
	char buf[512];
	size_t i = s->idx;

	if (s->fd < 0)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {	/* subscribers say nothing: EOF */
		ssize_t n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop_sub(i);
			return;
		}
	}
	if ((ev & EPOLLOUT) && flush(s) < 0)
		drop_sub(i);
}

int
main(int argc, char **argv)
{
	if ((argc != 5 && argc != 6) || strcmp(argv[1], "--ingest") != 0 ||
	    strcmp(argv[3], "--listen") != 0 || (argc == 6 && strcmp(argv[5], "--sendfile") != 0)) {
		fprintf(stderr, "usage: reference --ingest HOST:PORT --listen HOST:PORT [--sendfile]\n");
		return 2;
	}
	if (argc == 6 && (memfd = memfd_create("frames", 0)) < 0) {
		perror("memfd_create");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(0);
	ingest_fd = listen_on(argv[2], EV_INGEST);
	listen_fd = listen_on(argv[4], EV_LISTEN);
	fprintf(stderr, "reference: ready\n");
	for (;;) {
		struct epoll_event ev[256];
		int n = epoll_wait(epfd, ev, 256, -1);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == EV_INGEST || ev[i].data.u64 == EV_LISTEN)
				accept_all(ev[i].data.u64 == EV_INGEST ? ingest_fd : listen_fd);
			else if (ev[i].data.u64 == EV_PRODUCER)
				producer_read();
			else
				sub_event(ev[i].data.ptr, ev[i].events);
		}
		while (ndead > 0)
			free(dead[--ndead]);
	}
}
