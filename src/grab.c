/* SPDX-License-Identifier: MIT */
/*
 * framerouter-grab: connects to a raw MJPEG address (a framerouter --listen port,
 * or anything that speaks concatenated JPEGs), cuts the bytes into frames with the
 * daemon's own splitter, and writes N whole frames to files or to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "fr/addr.h"
#include "fr/net.h"
#include "fr/splitter.h"

#define GRAB_MAX_FRAME (64u * 1024 * 1024)

struct grab {
	const char *out;	/* "-" for stdout */
	unsigned long want;	/* frames to write */
	unsigned long got;
	uint8_t *buf;
	size_t len, cap;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: framerouter-grab ADDR [-n N] [-o FILE|-]\n"
	    "Connects to ADDR (HOST:PORT, [IPv6]:PORT or unix:/path), writes N whole JPEG\n"
	    "frames (default 1) to FILE (default frame.jpg; with N > 1, FILE-0001.jpg ...)\n"
	    "or, with -o -, to standard output, and exits 0.\n\n"
	    "  -n, --count N        frames to write (default 1)\n"
	    "  -o, --output FILE|-  where to write them (default frame.jpg)\n"
	    "  -h, --help           show this help\n"
	    "  -V, --version        show the version\n");
}

/* FILE for one frame; FILE-NNNN.ext when writing several. */
static void
frame_path(const struct grab *g, char *path, size_t len)
{
	if (g->want == 1) {
		snprintf(path, len, "%s", g->out);
		return;
	}
	const char *dot = strrchr(g->out, '.');
	const char *slash = strrchr(g->out, '/');
	if (dot == NULL || (slash != NULL && dot < slash))
		dot = g->out + strlen(g->out);
	snprintf(path, len, "%.*s-%04lu%s", (int)(dot - g->out), g->out, g->got + 1, dot);
}

static int
write_frame(struct grab *g, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *fp = stdout;

	if (strcmp(g->out, "-") != 0) {
		frame_path(g, path, sizeof path);
		if ((fp = fopen(path, "wb")) == NULL) {
			fprintf(stderr, "framerouter-grab: %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	if (fwrite(p, 1, n, fp) != n || (fp == stdout ? fflush(fp) : fclose(fp)) != 0) {
		fprintf(stderr, "framerouter-grab: write: %s\n", strerror(errno));
		return -1;
	}
	g->got++;
	return 0;
}

/* Returns 1 when done, 0 to read on, -1 on error. */
static int
split(struct grab *g, struct fr_splitter *sp)
{
	struct fr_splitter_event ev;
	enum fr_splitter_result r;

	while ((r = fr_splitter_scan(sp, g->buf, g->len, &ev)) != FR_SPLITTER_MORE) {
		if (r != FR_SPLITTER_FRAME)
			continue;
		if (write_frame(g, g->buf + ev.start, ev.end - ev.start) < 0)
			return -1;
		if (g->got == g->want)
			return 1;
	}
	size_t keep = fr_splitter_keep_from(sp);
	memmove(g->buf, g->buf + keep, g->len - keep);
	g->len -= keep;
	fr_splitter_shift(sp, keep);
	return 0;
}

static int
grab(struct grab *g, int fd)
{
	struct fr_splitter *sp = fr_splitter_new(GRAB_MAX_FRAME);
	int rc = -1;

	if (sp == NULL)
		return -1;
	for (;;) {
		if (g->len == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 256 * 1024;
			uint8_t *p = realloc(g->buf, cap);
			if (p == NULL)
				break;
			g->buf = p, g->cap = cap;
		}
		ssize_t n = recv(fd, g->buf + g->len, g->cap - g->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "framerouter-grab: connection %s after %lu of %lu frames\n",
			    n == 0 ? "closed" : strerror(errno), g->got, g->want);
			break;
		}
		g->len += (size_t)n;
		int done = split(g, sp);
		if (done != 0) {
			rc = done > 0 ? 0 : -1;
			break;
		}
	}
	fr_splitter_free(sp);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct grab g = { .out = "frame.jpg", .want = 1 };
	struct fr_addr addr;
	char err[FR_ERR_LEN], *end;

	for (int ch; (ch = getopt_long(argc, argv, "n:o:hV", longopts, NULL)) != -1;) {
		switch (ch) {
		case 'n':
			errno = 0;
			g.want = strtoul(optarg, &end, 10);
			if (*end != '\0' || errno != 0 || g.want == 0 || optarg[0] == '-') {
				fprintf(stderr, "framerouter-grab: -n: '%s' is not a positive "
				    "whole number\n", optarg);
				return 2;
			}
			break;
		case 'o':
			g.out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("framerouter-grab %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	if (fr_addr_parse(&addr, argv[optind], err) < 0) {
		fprintf(stderr, "framerouter-grab: '%s': %s\n", argv[optind], err);
		return 2;
	}
	int fd = fr_net_connect(&addr, err);
	if (fd < 0) {
		fprintf(stderr, "framerouter-grab: %s\n", err);
		return 1;
	}
	int rc = grab(&g, fd);
	close(fd);
	free(g.buf);
	return rc == 0 ? 0 : 1;
}
