/* SPDX-License-Identifier: MIT */
/*
 * The scaler's cost per frame (issue 11, bench row d): the daemon's own scaler
 * (src/scaler.c) on the frames of an MJPEG file, one thread, each factor in turn,
 * every frame scaled ROUNDS times. Prints one JSON object: per factor the thread CPU
 * and wall time per frame (median, p90, max, in ms) and the output size.
 *
 *   scalecost --input FILE.mjpeg [--rounds N] [--out FILE.json]
 *
 * Built by bench/run with the daemon's sources: cc -DHAVE_TURBOJPEG -I include ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fr/scaler.h"
#include "fr/splitter.h"
#include "fr/util.h"

struct frame {
	const uint8_t *p;
	size_t len;
};

static uint64_t
ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_ms(uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return (double)v[i] / 1e6;
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t cap = 0;

	*len = 0;
	if (fp == NULL)
		return NULL;
	for (;;) {
		if (cap - *len < 1 << 20 && (p = realloc(p, cap = cap ? cap * 2 : 1 << 22)) == NULL)
			exit(1);
		size_t n = fread(p + *len, 1, cap - *len, fp);
		if (n == 0)
			break;
		*len += n;
	}
	fclose(fp);
	return p;
}

static size_t
split(const uint8_t *p, size_t len, struct frame **out)
{
	struct fr_splitter *sp = fr_splitter_new(64 << 20);
	struct fr_splitter_event ev;
	enum fr_splitter_result r;
	size_t n = 0, cap = 0;

	*out = NULL;
	while ((r = fr_splitter_scan(sp, p, len, &ev)) != FR_SPLITTER_MORE) {
		if (r != FR_SPLITTER_FRAME)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((*out = realloc(*out, cap * sizeof **out)) == NULL)
				exit(1);
		}
		(*out)[n++] = (struct frame){ p + ev.start, ev.end - ev.start };
	}
	fr_splitter_free(sp);
	return n;
}

int
main(int argc, char **argv)
{
	static const unsigned denoms[] = { 2, 4, 8 };
	const char *input = NULL, *out_path = NULL;
	int rounds = 3;
	char err[FR_ERR_LEN];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
			input = argv[++i];
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out_path = argv[++i];
		else {
			fputs("usage: scalecost --input FILE.mjpeg [--rounds N] "
			    "[--out FILE.json]\n", stderr);
			return 2;
		}
	}
	size_t len;
	uint8_t *bytes = input ? read_all(input, &len) : NULL;
	struct frame *frames;
	size_t n = bytes ? split(bytes, len, &frames) : 0;
	struct fr_scaler *sc = fr_scaler_new(err);
	if (n == 0 || sc == NULL || rounds < 1) {
		fprintf(stderr, "scalecost: %s\n", sc == NULL ? err : "no frames in the input");
		return 1;
	}
	FILE *js = out_path ? fopen(out_path, "w") : stdout;
	size_t src_bytes = 0;
	for (size_t i = 0; i < n; i++)
		src_bytes += frames[i].len;
	fprintf(js, "{\"frames\":%zu,\"rounds\":%d,\"source_bytes_mean\":%zu,\"factors\":[",
	    n, rounds, src_bytes / n);
	for (size_t d = 0; d < sizeof denoms / sizeof denoms[0]; d++) {
		size_t m = n * (size_t)rounds, out_bytes = 0;
		uint64_t *cpu = malloc(m * sizeof *cpu), *wall = malloc(m * sizeof *wall);
		int w = 0, h = 0;

		for (size_t k = 0; k < m; k++) {
			const struct frame *f = &frames[k % n];
			struct fr_scaled o;
			uint64_t c0 = ns(CLOCK_THREAD_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC);

			if (fr_scaler_scale(sc, f->p, f->len, denoms[d], 0, &o, err) < 0) {
				fprintf(stderr, "scalecost: frame %zu: %s\n", k % n, err);
				return 1;
			}
			cpu[k] = ns(CLOCK_THREAD_CPUTIME_ID) - c0;
			wall[k] = ns(CLOCK_MONOTONIC) - w0;
			out_bytes += o.len;
			w = o.width, h = o.height;
			free(o.data);
		}
		qsort(cpu, m, sizeof *cpu, cmp_u64);
		qsort(wall, m, sizeof *wall, cmp_u64);
		fprintf(js, "%s{\"scale\":\"1/%u\",\"width\":%d,\"height\":%d,\"bytes_mean\":%zu,"
		    "\"cpu_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"max\":%.3f},"
		    "\"wall_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"max\":%.3f}}", d ? "," : "",
		    denoms[d], w, h, out_bytes / m, pct_ms(cpu, m, 0.5), pct_ms(cpu, m, 0.9),
		    pct_ms(cpu, m, 1.0), pct_ms(wall, m, 0.5), pct_ms(wall, m, 0.9),
		    pct_ms(wall, m, 1.0));
		free(cpu);
		free(wall);
	}
	fputs("]}\n", js);
	if (js != stdout)
		fclose(js);
	fr_scaler_free(sc);
	free(frames);
	free(bytes);
	return 0;
}
