#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Test helper for the framerouter integration tests (Python 3 stdlib only).

It splits byte files into JPEG frames with a simple marker walk, compares what a
subscriber captured against the frames of a source, and plays the network roles
the tests need: producers, recording subscribers, 100 subscribers at once, a
mid-stream joiner and a subscriber that never reads.

  frames.py split FILE                     frame count, offsets, sizes, sha256
  frames.py check CAPTURE --source F ...   every captured frame is a source frame
  frames.py slice SRC OUT --start I --count N [--fraction F]
  frames.py push ADDR FILE... [--fps R] [--loop] [--hold] [--progress FILE]
  frames.py capture ADDR OUT [--frames N] [--ready FILE] [--junk BYTES] [--rate B/S]
  frames.py stuck ADDR --ready FILE
  frames.py fanout ADDR --clients N --source F --ready FILE
  frames.py join ADDR --source F --out FIRST.jpg [--frames N]

ADDR is HOST:PORT, [IPv6]:PORT or unix:/path. Exit status: 0 ok, 1 check failed,
2 usage or I/O error.
"""

import argparse
import hashlib
import os
import selectors
import signal
import socket
import sys
import time


class WalkError(Exception):
    pass


def walk_frame(data, pos):
    """Walks the JPEG frame whose SOI is at data[pos]. Returns the offset just past
    its EOI, or None when data ends first. Raises WalkError on a broken structure.

    The walk follows T.81 Annex B: marker segments are skipped by their length,
    entropy-coded data runs until a marker other than FF00 stuffing, RSTn or FF
    fill, and only an EOI outside a segment ends the frame. A second SOI inside
    the frame is an error here: this walker is for checking, not for resyncing."""
    n = len(data)
    if data[pos:pos + 2] != b"\xff\xd8":
        raise WalkError("no SOI at offset %d" % pos)
    i = pos + 2
    in_scan = False
    while True:
        if in_scan:
            j = data.find(b"\xff", i)
            if j < 0 or j + 1 >= n:
                return None
            m = data[j + 1]
            if m == 0x00 or 0xD0 <= m <= 0xD7:      # stuffing, restart marker
                i = j + 2
                continue
            if m == 0xFF:                           # fill byte before a marker
                i = j + 1
                continue
            in_scan = False
            i = j
        if i >= n:
            return None
        if data[i] != 0xFF:
            raise WalkError("offset %d: expected a marker, got 0x%02x" % (i, data[i]))
        while i < n and data[i] == 0xFF:            # FF fill bytes
            i += 1
        if i >= n:
            return None
        m = data[i]
        i += 1
        if m == 0xD9:
            return i
        if m == 0xD8:
            raise WalkError("offset %d: SOI inside the frame that starts at %d" % (i - 2, pos))
        if m == 0x00 or 0xD0 <= m <= 0xD7:
            raise WalkError("offset %d: marker 0x%02x outside entropy data" % (i - 2, m))
        if m == 0x01:                                # TEM stands alone
            continue
        if i + 2 > n:
            return None
        length = (data[i] << 8) | data[i + 1]
        if length < 2:
            raise WalkError("offset %d: segment length %d" % (i, length))
        i += length
        if i > n:
            return None
        if m == 0xDA:
            in_scan = True


def split_frames(data, strict=False):
    """Returns [(offset, bytes)] for the whole frames in data. Non-strict: bytes
    outside frames and broken frames are skipped (for source files); strict: data
    must be back-to-back whole frames, else WalkError (for captures)."""
    frames = []
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos:pos + 2] != b"\xff\xd8":
            if strict:
                raise WalkError("offset %d: not at a frame boundary (0x%s)" %
                                (pos, data[pos:pos + 4].hex()))
            nxt = data.find(b"\xff\xd8", pos + 1)
            if nxt < 0:
                break
            pos = nxt
            continue
        try:
            end = walk_frame(data, pos)
        except WalkError:
            if strict:
                raise
            pos += 2
            continue
        if end is None:
            if strict:
                raise WalkError("offset %d: partial frame at the end (%d bytes)" % (pos, n - pos))
            break
        frames.append((pos, data[pos:end]))
        pos = end
    return frames


def read_file(path):
    with open(path, "rb") as fp:
        return fp.read()


def source_frames(paths):
    frames = []
    for p in paths:
        frames.extend(f for _, f in split_frames(read_file(p)))
    return frames


def sha(b):
    return hashlib.sha256(b).hexdigest()


def parse_addr(text):
    if text.startswith("unix:"):
        return socket.AF_UNIX, text[5:]
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return socket.AF_INET6, (host, int(port))
    host, _, port = text.rpartition(":")
    return socket.AF_INET, (host, int(port))


def connect(text, rcvbuf=None):
    family, addr = parse_addr(text)
    s = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(addr)
    return s


def local_port(s):
    name = s.getsockname()
    return name[1] if isinstance(name, tuple) else 0


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as fp:
        fp.write(text)
    os.replace(tmp, path)


def on_sigterm_exit():
    """SIGTERM ends the program through SystemExit, so finally blocks run."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


# ---- split, check, slice ----

def cmd_split(a):
    data = read_file(a.file)
    frames = split_frames(data)
    covered = sum(len(f) for _, f in frames)
    print("%s: %d frames, %d bytes, %d bytes outside frames" %
          (a.file, len(frames), len(data), len(data) - covered))
    for i, (off, f) in enumerate(frames):
        print("%d %d %d %s" % (i, off, len(f), sha(f)))
    return 0


def describe(indexes):
    """Compact list of source indexes: 0-9,12,15-20."""
    out = []
    for i in indexes:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in out)


def cmd_check(a):
    src = source_frames(a.source)
    if not src:
        print("check: no frames in the source %s" % " ".join(a.source))
        return 2
    where = {}
    for i, f in enumerate(src):
        where.setdefault(sha(f), []).append(i)
    data = read_file(a.capture)
    try:
        frames = split_frames(data, strict=True)
        tail_error = None
    except WalkError as e:
        # Report what was whole before the error, then fail.
        frames, tail_error = [], str(e)
        pos = 0
        while True:
            try:
                end = walk_frame(data, pos)
            except WalkError:
                end = None
            if end is None:
                break
            frames.append((pos, data[pos:end]))
            pos = end
    got = []
    prev = -1
    errors = []
    for k, (off, f) in enumerate(frames):
        cands = [i for i in where.get(sha(f), []) if i > prev]
        if not cands:
            if sha(f) in where:
                errors.append("frame %d (offset %d, %d bytes) is source frame %s, out of order "
                              "(after %d)" % (k, off, len(f), where[sha(f)], prev))
            else:
                errors.append("frame %d (offset %d, %d bytes, sha256 %s) matches no source frame"
                              % (k, off, len(f), sha(f)[:16]))
            break
        prev = cands[0]
        got.append(prev)
    if tail_error is not None:
        errors.append(tail_error)
    if a.expect is not None:
        want = list(range(len(src))) if a.expect == "all" else \
            [int(x) for x in a.expect.split(",") if x != ""]
        if got != want:
            errors.append("expected source frames [%s], got [%s]" % (describe(want), describe(got)))
    if a.min is not None and len(got) < a.min:
        errors.append("expected at least %d frames, got %d" % (a.min, len(got)))
    print("%s: %d bytes, %d whole frames%s, byte-identical to source frames [%s] of %d, "
          "in order" % (a.capture, len(data), len(got), " before the first problem" if errors
                        else "", describe(got), len(src)))
    for e in errors:
        print("check: FAIL: %s" % e)
    return 1 if errors else 0


def cmd_slice(a):
    frames = [f for _, f in split_frames(read_file(a.src))]
    if a.start + a.count + (1 if a.fraction > 0 else 0) > len(frames):
        print("slice: %s has only %d frames" % (a.src, len(frames)), file=sys.stderr)
        return 2
    out = b"".join(frames[a.start:a.start + a.count])
    if a.fraction > 0:
        f = frames[a.start + a.count]
        out += f[:int(len(f) * a.fraction)]
    with open(a.out, "wb") as fp:
        fp.write(out)
    return 0


# ---- network roles ----

def hold_until_closed(s):
    """Waits until the daemon closes the connection (or SIGTERM)."""
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            b = b""
        if not b:
            print("push: connection closed by peer", flush=True)
            return


def cmd_push(a):
    on_sigterm_exit()
    try:
        return push(a)
    except (BrokenPipeError, ConnectionResetError):
        print("push: connection closed by peer while sending", flush=True)
        return 1


def push(a):
    s = connect(a.addr)
    if a.ready:
        write_atomic(a.ready, "%d\n" % local_port(s))
    sent_frames = sent_bytes = 0
    if a.fps is None:
        for p in a.files:
            data = read_file(p)
            s.sendall(data)
            sent_bytes += len(data)
    else:
        frames = source_frames(a.files)
        t0 = time.monotonic()
        k = 0
        while True:
            for f in frames:
                due = t0 + k / a.fps
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                s.sendall(f)
                k += 1
                sent_frames += 1
                sent_bytes += len(f)
                if a.progress:
                    write_atomic(a.progress, "%d\n" % sent_frames)
            if not a.loop:
                break
    if a.fps is None:
        print("push: sent %d bytes" % sent_bytes, flush=True)
    else:
        print("push: sent %d frames, %d bytes" % (sent_frames, sent_bytes), flush=True)
    if a.hold:
        hold_until_closed(s)
    s.close()
    return 0


def count_whole_frames(data):
    """Whole frames at the start of data (a capture being written)."""
    n = pos = 0
    while True:
        try:
            end = walk_frame(data, pos)
        except WalkError:
            return n
        if end is None:
            return n
        n += 1
        pos = end


def cmd_capture(a):
    on_sigterm_exit()
    # A slow reader also keeps the kernel from buffering much on its side.
    s = connect(a.addr, rcvbuf=16384 if a.rate else None)
    if a.junk:
        s.sendall(os.urandom(a.junk))
    data = bytearray()
    t0 = time.monotonic()
    try:
        with open(a.out, "wb") as out:
            if a.ready:
                write_atomic(a.ready, "%d\n" % local_port(s))
            while True:
                if a.rate:
                    ahead = t0 + len(data) / a.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
                b = s.recv(4096 if a.rate else 1 << 18)
                if not b:
                    print("capture: connection closed by peer", flush=True)
                    break
                out.write(b)
                out.flush()
                data += b
                if a.frames is not None and count_whole_frames(data) >= a.frames:
                    break
    finally:
        s.close()
    return 0


def cmd_stuck(a):
    on_sigterm_exit()
    # A tiny receive buffer and no reads: the daemon's send buffer fills up fast.
    s = connect(a.addr, rcvbuf=4096)
    write_atomic(a.ready, "%d\n" % local_port(s))
    while True:
        time.sleep(3600)


class Matcher:
    """Checks a subscriber's byte stream on the fly: it must be source frames,
    whole and byte-identical, back to back, in strictly increasing source order.
    Compares bytes (memcmp) rather than walking markers, so that 100 subscribers
    of a 1080p stream can be checked by one Python process."""

    def __init__(self, frames):
        self.frames = frames
        self.buf = bytearray()
        self.offset = 0          # of buf[0] in the whole stream
        self.got = []
        self.error = None
        self.first_at = None     # monotonic time the first whole frame was complete

    def feed(self, data):
        if self.error is not None:
            return
        self.buf += data
        while self.buf and self.error is None:
            j = self._match()
            if j is None:
                return
            n = len(self.frames[j])
            if self.first_at is None:
                self.first_at = time.monotonic()
            del self.buf[:n]
            self.offset += n
            self.got.append(j)

    def _match(self):
        """Index of the source frame at the start of buf, None when more bytes are
        needed; sets error when no later source frame can start here."""
        buf = self.buf
        prev = self.got[-1] if self.got else -1
        for j in range(prev + 1, len(self.frames)):
            f = self.frames[j]
            if len(buf) >= len(f):
                if buf.startswith(f):
                    return j
            elif f.startswith(buf):
                return None
        self.error = ("stream offset %d: bytes %s... are not the start of a source frame "
                      "after #%d" % (self.offset, bytes(buf[:8]).hex(), prev))
        return None

    def is_done(self):
        return self.error is not None or (self.got and self.got[-1] == len(self.frames) - 1)


def cmd_fanout(a):
    on_sigterm_exit()
    src = source_frames([a.source])
    sel = selectors.DefaultSelector()
    subs = []
    for _ in range(a.clients):
        s = connect(a.addr)
        s.setblocking(False)
        m = Matcher(src)
        m.sock, m.eof = s, False
        subs.append(m)
        sel.register(s, selectors.EVENT_READ, m)
    write_atomic(a.ready, "%s\n" % " ".join(str(local_port(m.sock)) for m in subs))
    deadline = time.monotonic() + a.timeout
    open_subs = len(subs)
    while open_subs and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            m = key.data
            try:
                b = m.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                b = b""
            if b:
                m.feed(b)
            if not b or m.is_done():
                m.eof = not b
                sel.unregister(m.sock)
                open_subs -= 1
    delivered = sum(len(m.got) for m in subs)
    expected = len(src) * len(subs)
    bad = 0
    for k, m in enumerate(subs):
        problems = []
        if m.error:
            problems.append(m.error)
        if m.got != list(range(len(src))):
            problems.append("got source frames [%s] of %d" % (describe(m.got), len(src)))
        if m.buf and not m.error:
            problems.append("%d bytes of an unfinished frame left" % len(m.buf))
        if m.eof:
            problems.append("connection closed by the daemon")
        if problems:
            bad += 1
            if bad <= 5:
                print("fanout: subscriber %d (port %d): %s" %
                      (k, local_port(m.sock), "; ".join(problems)))
    for m in subs:
        m.sock.close()
    print("delivered %d/%d frames to %d subscribers (%d frames each, %d bytes each); "
          "%d subscribers short or wrong" %
          (delivered, expected, len(subs), len(src), sum(len(f) for f in src), bad), flush=True)
    return 1 if bad else 0


def cmd_join(a):
    src = source_frames([a.source])
    m = Matcher(src)
    s = connect(a.addr)
    t0 = time.monotonic()
    s.settimeout(a.timeout)
    try:
        while len(m.got) < a.frames and m.error is None:
            b = s.recv(1 << 18)
            if not b:
                m.error = "connection closed by peer"
                break
            m.feed(b)
    except socket.timeout:
        m.error = m.error or "timed out after %gs" % a.timeout
    s.close()
    if m.got:
        with open(a.out, "wb") as fp:
            fp.write(src[m.got[0]])
        print("connect-to-first-frame: %.2f ms (first frame: source #%d of %d, %d bytes)" %
              ((m.first_at - t0) * 1000, m.got[0], len(src), len(src[m.got[0]])))
    print("join: received source frames [%s]" % describe(m.got))
    if m.error:
        print("join: FAIL: %s" % m.error)
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("split")
    q.add_argument("file")
    q.set_defaults(fn=cmd_split)

    q = sub.add_parser("check")
    q.add_argument("capture")
    q.add_argument("--source", action="append", required=True,
                   help="source file (repeatable: frames are taken in order)")
    q.add_argument("--expect", help="'all', or the exact source indexes, e.g. 0,1,3")
    q.add_argument("--min", type=int)
    q.set_defaults(fn=cmd_check)

    q = sub.add_parser("slice")
    q.add_argument("src")
    q.add_argument("out")
    q.add_argument("--start", type=int, default=0)
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--fraction", type=float, default=0.0,
                   help="also this much of the next frame")
    q.set_defaults(fn=cmd_slice)

    q = sub.add_parser("push")
    q.add_argument("addr")
    q.add_argument("files", nargs="+")
    q.add_argument("--fps", type=float, help="send whole frames at this rate "
                   "(default: all bytes at once, as they are)")
    q.add_argument("--loop", action="store_true")
    q.add_argument("--hold", action="store_true", help="stay connected until the peer closes")
    q.add_argument("--progress", help="file updated with the number of frames sent")
    q.add_argument("--ready", help="file that gets the local port once connected")
    q.set_defaults(fn=cmd_push)

    q = sub.add_parser("capture")
    q.add_argument("addr")
    q.add_argument("out")
    q.add_argument("--frames", type=int, help="stop after this many whole frames")
    q.add_argument("--ready", help="file that gets the local port once connected")
    q.add_argument("--junk", type=int, default=0, help="first send this many random bytes")
    q.add_argument("--rate", type=float, help="read at most this many bytes per second")
    q.set_defaults(fn=cmd_capture)

    q = sub.add_parser("stuck")
    q.add_argument("addr")
    q.add_argument("--ready", required=True)
    q.set_defaults(fn=cmd_stuck)

    q = sub.add_parser("fanout")
    q.add_argument("addr")
    q.add_argument("--clients", type=int, default=100)
    q.add_argument("--source", required=True)
    q.add_argument("--ready", required=True, help="file that gets the local ports")
    q.add_argument("--timeout", type=float, default=60)
    q.set_defaults(fn=cmd_fanout)

    q = sub.add_parser("join")
    q.add_argument("addr")
    q.add_argument("--source", required=True)
    q.add_argument("--out", required=True, help="where to save the first frame")
    q.add_argument("--frames", type=int, default=5)
    q.add_argument("--timeout", type=float, default=10)
    q.set_defaults(fn=cmd_join)

    a = p.parse_args()
    try:
        return a.fn(a)
    except OSError as e:
        print("frames.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
