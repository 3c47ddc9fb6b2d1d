#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A service that reads a framerouter stream as NATS messages: one message per whole
JPEG frame, on SUBJECT_PREFIX.NAME (framerouter --nats ... --nats-prefix, default
framerouter.frames), with headers naming the node that ingested it, its sequence
number and its ingest time. No byte stream to parse: each message is a frame.

    pip install nats-py opencv-python numpy      # Debian: python3-opencv python3-numpy
    examples/nats_subscriber.py --server nats://127.0.0.1:4222 --stream cam1 --frames 10

It decodes each frame with OpenCV and prints its size and how old it is; put your
own work (path finding, depth analysis, a recorder) where it says so. A service
that cannot keep up should not queue frames: this one keeps only the newest frame
and skips the rest, as framerouter itself does for slow subscribers.
"""

import argparse
import asyncio
import sys
import time

import cv2
import numpy as np
import nats


def decode(data):
    """The JPEG as a BGR image (numpy array), or None if it does not decode."""
    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)


async def run(args):
    nc = await nats.connect(servers=args.server.split(","), name="nats_subscriber.py")
    newest = None
    arrived = asyncio.Event()
    skipped = 0

    async def on_frame(msg):
        nonlocal newest, skipped
        if newest is not None:
            skipped += 1           # the worker was busy: only the newest frame counts
        newest = msg
        arrived.set()

    subject = "%s.%s" % (args.prefix, args.stream)
    await nc.subscribe(subject, cb=on_frame)
    print("subscribed to %s" % subject, flush=True)
    done = 0
    try:
        while args.frames == 0 or done < args.frames:
            await asyncio.wait_for(arrived.wait(), timeout=args.timeout)
            arrived.clear()
            msg, newest = newest, None
            headers = msg.headers or {}
            img = decode(msg.data)
            if img is None:
                print("message of %d bytes: not a JPEG" % len(msg.data), flush=True)
                continue
            sent = float(headers.get("Framerouter-Time", "0") or 0)
            age_ms = (time.time() - sent) * 1000 if sent else float("nan")
            height, width = img.shape[:2]
            print("frame %s from %s: %dx%d, %d bytes, %.1f ms after ingest%s" % (
                headers.get("Framerouter-Seq", "?"), headers.get("Framerouter-Origin", "?"),
                width, height, len(msg.data), age_ms,
                ", %d skipped" % skipped if skipped else ""), flush=True)
            # ... your work on img goes here ...
            done += 1
    except asyncio.TimeoutError:
        print("no frame for %.0f s" % args.timeout, file=sys.stderr)
        return 1
    finally:
        await nc.drain()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default="nats://127.0.0.1:4222",
                   help="NATS server URL(s), comma-separated")
    p.add_argument("--stream", default="default", help="the framerouter stream name")
    p.add_argument("--prefix", default="framerouter.frames", help="framerouter's --nats-prefix")
    p.add_argument("--frames", type=int, default=0, help="stop after this many (0: never)")
    p.add_argument("--timeout", type=float, default=10, help="give up after this long without a frame")
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
