/* SPDX-License-Identifier: MIT */
/*
 * One subscriber connection. It holds at most two frame references: the frame it
 * is sending (with an offset) and the newest frame it has not begun. A newer frame
 * replaces the unbegun one, which counts as dropped: a slow subscriber skips
 * frames and never builds a backlog, in the kernel neither: on TCP it sets
 * TCP_NOTSENT_LOWAT (a quarter of a frame, at least 16 KiB), so its socket holds little
 * more than what is in flight. It writes from the shared frame bytes: with sendfile()
 * when they are in a memfd arena, which takes no MSG_NOSIGNAL, so the process must
 * ignore SIGPIPE.
 */
#ifndef FR_SUB_H
#define FR_SUB_H

#include <ev.h>

#include "fr/addr.h"
#include "fr/frame.h"
#include "fr/log.h"
#include "fr/stats.h"

struct fr_sub;

/* Called once when the subscriber closes, so its owner can unlink it. */
typedef void (*fr_sub_close_fn)(struct fr_sub *sub, void *arg);

enum fr_sub_protocol {
	FR_SUB_RAW,		/* concatenated JPEGs, nothing else */
	/* An HTTP response in multipart/x-mixed-replace parts (multipart.h): the
	 * response head first, then one part per frame. */
	FR_SUB_MULTIPART,
	FR_SUB_MULTIPART_ADVANCE_HEADERS,	/* the same in FR_MULTIPART_ADVANCE style */
};

struct fr_sub_params {
	double timeout_s;		/* close after this long without write progress */
	struct fr_stream_counters *stream_counters;	/* bumped as frames go out */
	fr_sub_close_fn on_close;
	void *close_arg;
	enum fr_sub_protocol protocol;
	double min_interval_s;
	/* Limits the line logged when the subscriber closes (the owner's, shared with its
	 * other lines about subscribers); NULL logs every one. */
	struct fr_ratelimit *log_limit;		/* ?fps=N: at most one frame per 1/N s; 0: no cap */
};

/*
 * Takes ownership of fd (a connected, non-blocking socket) and starts watching it; a
 * multipart subscriber's response head is queued, and nothing is written before
 * fr_sub_start(). Returns NULL on ENOMEM, after closing fd.
 */
struct fr_sub *fr_sub_new(struct ev_loop *loop, int fd, const struct fr_addr *peer,
    const struct fr_sub_params *params);

/* Starts writing what is queued (the preamble). May close the subscriber. */
void fr_sub_start(struct fr_sub *sub);

/*
 * Offers a frame (borrowed; the subscriber takes its own reference). Starts writing
 * at once if the subscriber is idle. May close the subscriber (write error), which
 * calls on_close but never frees it during this call.
 */
void fr_sub_offer(struct fr_sub *sub, struct fr_frame *f);

/*
 * Stops the watchers, closes the fd, drops the frame references, calls on_close and
 * queues the struct to be freed after the current loop iteration. why goes to the
 * log at info level. Closing twice does nothing.
 */
void fr_sub_close(struct fr_sub *sub, const char *why);

struct fr_sub_info {
	const char *peer;
	const char *protocol;
	double connected_at;
	struct fr_client_counters counters;
};

void fr_sub_get_info(const struct fr_sub *sub, struct fr_sub_info *info);

/*
 * When the frame the subscriber is writing now arrived (its received_at), or 0 while
 * it writes none: now minus this is the age of what it is being sent.
 */
double fr_sub_sending_since(const struct fr_sub *sub);

/* The intrusive list link its owner uses. */
struct fr_list *fr_sub_link(struct fr_sub *sub);
struct fr_sub *fr_sub_from_link(struct fr_list *link);

#endif /* FR_SUB_H */
