#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Frames through a chain of framerouters: pushes stamped frames into the first and reads
them at every hop, to show they arrive byte-identical and how much each hop adds
(Python 3 stdlib only).

  hops.py --producer ADDR --sub NAME=ADDR [--sub NAME=ADDR ...] --source FILE.mjpeg
          [--fps 30] [--seconds 5] [--settle 0.5]

Each frame of the (looped) source is sent with a COM segment right after its SOI that
holds "FRT1", a sequence number and the CLOCK_MONOTONIC send time; raw TCP subscribers
(one per --sub, connected before the first frame) split what they receive into frames,
compare each with the exact bytes sent under its sequence number, and take the latency
from the send time to the arrival of the frame's last byte. Prints one JSON object:
{"NAME": {"frames": N, "mismatches": N, "foreign": N, "p50_ms": x, "p99_ms": x,
"max_ms": x}, ...} with subscribers in the order given. Exit status 0, or 2 on a usage
or connection error.
"""

import argparse
import json
import os
import selectors
import socket
import struct
import sys
import time
import hashlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frames  # noqa: E402

MAGIC = b"FRT1"


def stamp(src, seq, t_ns):
    payload = MAGIC + struct.pack(">QQ", seq, t_ns)
    return b"\xff\xd8\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + src[2:]


def unstamp(f):
    """(seq, t_ns) of a stamped frame, or None."""
    if len(f) < 26 or f[2:4] != b"\xff\xfe" or f[6:10] != MAGIC:
        return None
    return struct.unpack(">QQ", f[10:26])


class Sub:
    def __init__(self, name, addr):
        self.name = name
        self.sock = frames.connect(addr)
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.lat = []
        self.mismatches = 0
        self.foreign = 0

    def feed(self, data, now_ns, sent):
        self.buf += data
        pos = 0
        while True:
            try:
                end = frames.walk_frame(self.buf, pos) if len(self.buf) - pos >= 2 else None
            except frames.WalkError:
                self.mismatches += 1
                end = None
                self.buf = bytearray()
                pos = 0
                break
            if end is None:
                break
            f = bytes(self.buf[pos:end])
            pos = end
            tag = unstamp(f)
            if tag is None or tag[0] not in sent:
                self.foreign += 1	# a frame from before the run (a latest slot)
                continue
            if hashlib.sha256(f).digest() != sent[tag[0]]:
                self.mismatches += 1
                continue
            self.lat.append((now_ns - tag[1]) / 1e6)
        del self.buf[:pos]

    def summary(self):
        lat = sorted(self.lat)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
        return {"frames": len(lat), "mismatches": self.mismatches, "foreign": self.foreign,
                "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(lat[-1], 3) if lat
                else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--producer", required=True)
    ap.add_argument("--sub", action="append", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--settle", type=float, default=0.5)
    a = ap.parse_args()
    src = [f for _, f in frames.split_frames(open(a.source, "rb").read())]
    if not src:
        print("hops: no frames in %s" % a.source, file=sys.stderr)
        return 2
    try:
        subs = [Sub(*s.split("=", 1)) for s in a.sub]
        prod = frames.connect(a.producer)
    except OSError as e:
        print("hops: %s" % e, file=sys.stderr)
        return 2
    sel = selectors.DefaultSelector()
    for s in subs:
        sel.register(s.sock, selectors.EVENT_READ, s)
    sent = {}
    seq = 0
    start = time.monotonic() + a.settle
    stop = start + a.seconds
    drain_until = stop + 1.0
    next_at = start
    while True:
        now = time.monotonic()
        if now >= drain_until:
            break
        if next_at <= now < stop:
            f = stamp(src[seq % len(src)], seq, time.monotonic_ns())
            sent[seq] = hashlib.sha256(f).digest()
            prod.sendall(f)
            seq += 1
            next_at += 1.0 / a.fps
        timeout = max(0.0, min(next_at if now < stop else drain_until, drain_until) -
                      time.monotonic())
        for key, _ in sel.select(timeout):
            try:
                data = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if data:
                key.data.feed(data, time.monotonic_ns(), sent)
            else:
                sel.unregister(key.fileobj)
    out = {"sent": seq}
    for s in subs:
        out[s.name] = s.summary()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
