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
                                           (SIGUSR1 lifts --rate)
  frames.py stuck ADDR --ready FILE
  frames.py fanout ADDR --clients N --source F --ready FILE [--idle S] [--summary FILE]
  frames.py join ADDR --source F --out FIRST.jpg [--frames N]

ADDR is HOST:PORT, [IPv6]:PORT or unix:/path. Exit status: 0 ok, 1 check failed,
2 usage or I/O error.

With --http PATH, the subscriber roles (capture, stuck, fanout, join) speak HTTP
instead of the raw TCP protocol: ADDR is the --http address, the role sends
`GET PATH` and the stream is a multipart/x-mixed-replace response, checked strictly:
status 200, a boundary in the Content-Type, the body starts with the first
delimiter line, every part has Content-Type image/jpeg and a Content-Length, its
body is exactly one whole source frame, and the next delimiter line follows it at
once (a part counts as received only when that delimiter has arrived). A capture
made with --http holds the whole response, head included; `check --http` checks
one.
"""

import argparse
import hashlib
import os
import re
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


# What a reader that must get every frame asks the kernel to buffer for it. framerouter
# keeps little unsent for a subscriber (TCP_NOTSENT_LOWAT), so a reader that pauses for
# longer than its own receive buffer holds skips frames, as promised; the recording roles
# ask for 8 MiB (the kernel doubles it: a few seconds of 1080p at 30 fps), so that a busy
# test machine's pauses of one Python process reading 100 sockets do not count as a slow
# subscriber. On loopback the kernel's autotuning leaves about 128 KiB, a frame and a half.
KEEP_UP_RCVBUF = 8 << 20


def set_rcvbuf(s, rcvbuf):
    """Asks for rcvbuf bytes of receive buffer: past net.core.rmem_max where allowed
    (SO_RCVBUFFORCE, as root), else as much as rmem_max lets SO_RCVBUF have."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, rcvbuf)
    except (OSError, AttributeError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)


def connect(text, rcvbuf=None):
    family, addr = parse_addr(text)
    s = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf is not None:
        set_rcvbuf(s, rcvbuf)
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


# ---- HTTP multipart ----

class MultipartError(Exception):
    pass


def http_get(s, path, host="framerouter"):
    """Sends a plain GET for path on the connected socket s."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: frames.py\r\n"
               "Accept: multipart/x-mixed-replace, image/jpeg\r\n\r\n" % (path, host)).encode())


def connect_http(addr, path, rcvbuf=None):
    s = connect(addr, rcvbuf=rcvbuf)
    http_get(s, path, addr)
    return s


def parse_header_lines(text, what):
    """'Name: value' lines -> {name.lower(): value}; MultipartError on a bad line."""
    headers = {}
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise MultipartError("%s: bad header line %r" % (what, line[:80]))
        if name.lower() in headers:
            raise MultipartError("%s: header %s given twice" % (what, name))
        headers[name.lower()] = value.strip()
    return headers


class MultipartStream:
    """Parses an HTTP response carrying multipart/x-mixed-replace JPEG parts, as
    it arrives. feed() returns the parts completed by the new bytes as a list of
    (stream offset of the JPEG, JPEG bytes). A part is complete only when the
    delimiter line that must follow it has arrived. On the first violation, error
    is set and nothing more is parsed."""

    HEAD_MAX = 8192          # response head and part headers are small
    PART_HEAD_MAX = 1024

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0             # parsed up to here in buf
        self.base = 0            # stream offset of buf[0]
        self.state = "head"
        self.error = None
        self.status = None
        self.headers = None
        self.boundary = None
        self.part_len = None
        self.parts = 0

    def pending(self):
        """Bytes received but not yet part of a complete part (or of the head)."""
        return len(self.buf) - self.pos

    def describe_pending(self):
        """What the pending bytes are, for a message."""
        n = self.pending()
        if self.state == "body" and n >= self.part_len:
            return ("part %d: its %d bytes arrived, but not the boundary line that must "
                    "follow them at once (%d bytes after them)" %
                    (self.parts, self.part_len, n - self.part_len))
        where = {"head": "the response head", "first": "the first boundary line",
                 "part_head": "part %d's headers" % self.parts,
                 "body": "part %d (%s bytes)" % (self.parts, self.part_len)}[self.state]
        return "%d bytes of %s, unfinished" % (n, where)

    def at_part_boundary(self):
        """True when everything received so far is whole: the head, the first
        delimiter and complete parts, each with the delimiter after it."""
        return self.error is None and self.state == "part_head" and self.pending() == 0

    def feed(self, data):
        out = []
        if self.error is not None:
            return out
        self.buf += data
        try:
            while self._step(out):
                pass
        except MultipartError as e:
            self.error = "response offset %d: %s" % (self.base + self.pos, e)
        if self.pos >= (1 << 20) or self.pos == len(self.buf):
            del self.buf[:self.pos]
            self.base += self.pos
            self.pos = 0
        return out

    def _find_head_end(self, limit, what):
        end = self.buf.find(b"\r\n\r\n", self.pos)
        if end < 0:
            if len(self.buf) - self.pos > limit:
                raise MultipartError("%s longer than %d bytes without an end (%r...)" %
                                     (what, limit, bytes(self.buf[self.pos:self.pos + 60])))
            return None
        if end - self.pos > limit:
            raise MultipartError("%s of %d bytes" % (what, end - self.pos))
        return end

    def _step(self, out):
        buf, pos = self.buf, self.pos
        if self.state == "head":
            end = self._find_head_end(self.HEAD_MAX, "response head")
            if end is None:
                return False
            text = bytes(buf[pos:end]).decode("latin-1")
            status_line, _, rest = text.partition("\r\n")
            m = re.match(r"HTTP/1\.[01] (\d{3}) ", status_line + " ")
            if not m:
                raise MultipartError("bad status line %r" % status_line[:80])
            self.status = int(m.group(1))
            self.headers = parse_header_lines(rest, "response head") if rest else {}
            if self.status != 200:
                raise MultipartError("status %d, not 200 (%r)" % (self.status, status_line))
            ct = self.headers.get("content-type", "")
            m = re.fullmatch(r'multipart/x-mixed-replace\s*;\s*boundary=("?)([^";\s]+)\1',
                             ct, re.I)
            if not m:
                raise MultipartError("Content-Type %r is not multipart/x-mixed-replace "
                                     "with a boundary" % ct)
            if "content-length" in self.headers:
                raise MultipartError("an endless multipart response has a Content-Length")
            self.boundary = m.group(2).encode()
            self.first = b"--" + self.boundary + b"\r\n"
            self.delim = b"\r\n--" + self.boundary + b"\r\n"
            self.pos = end + 4
            self.state = "first"
            return True
        if self.state == "first":
            n = len(self.first)
            if len(buf) - pos < n:
                if not self.first.startswith(bytes(buf[pos:])):
                    raise MultipartError("the body does not start with %r: %r" %
                                         (self.first, bytes(buf[pos:pos + n])))
                return False
            if buf[pos:pos + n] != self.first:
                raise MultipartError("the body does not start with %r: %r" %
                                     (self.first, bytes(buf[pos:pos + n])))
            self.pos += n
            self.state = "part_head"
            return True
        if self.state == "part_head":
            if len(buf) - pos >= 2 and buf[pos:pos + 2] == b"\r\n":
                raise MultipartError("part %d has no headers" % self.parts)
            end = self._find_head_end(self.PART_HEAD_MAX, "part %d headers" % self.parts)
            if end is None:
                return False
            h = parse_header_lines(bytes(buf[pos:end]).decode("latin-1"),
                                   "part %d" % self.parts)
            if h.get("content-type", "").lower() != "image/jpeg":
                raise MultipartError("part %d: Content-Type %r, not image/jpeg" %
                                     (self.parts, h.get("content-type")))
            cl = h.get("content-length", "")
            if not cl.isdigit():
                raise MultipartError("part %d: Content-Length %r" % (self.parts, cl or None))
            self.part_len = int(cl)
            self.pos = end + 4
            self.state = "body"
            return True
        # body: the JPEG, then the delimiter at once
        n = self.part_len
        d = len(self.delim)
        if len(buf) - pos < n + d:
            got = buf[pos + n:]
            if len(buf) - pos > n and not self.delim.startswith(bytes(got)):
                raise MultipartError("part %d (%d bytes) is not followed by %r but by %r" %
                                     (self.parts, n, self.delim, bytes(got[:d])))
            return False
        if buf[pos + n:pos + n + d] != self.delim:
            raise MultipartError("part %d (%d bytes) is not followed by %r but by %r" %
                                 (self.parts, n, self.delim, bytes(buf[pos + n:pos + n + d])))
        out.append((self.base + pos, bytes(buf[pos:pos + n])))
        self.parts += 1
        self.pos = pos + n + d
        self.state = "part_head"
        return True


def multipart_frames(data):
    """(frames as [(offset, bytes)], error or None) for a whole captured response."""
    ms = MultipartStream()
    frames = ms.feed(data)
    if ms.error is not None:
        return frames, ms.error
    if ms.state == "head":
        return frames, "no complete response head in %d bytes" % len(data)
    if not ms.at_part_boundary():
        return frames, ("response offset %d: at the end, %s" %
                        (ms.base + ms.pos, ms.describe_pending()))
    return frames, None


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


def raw_capture_frames(data):
    """(frames as [(offset, bytes)], error or None) for a raw capture: back-to-back
    whole frames; on an error, the whole frames before it."""
    try:
        return split_frames(data, strict=True), None
    except WalkError as e:
        tail_error = str(e)
    frames = []
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
    return frames, tail_error


def cmd_check(a):
    src = source_frames(a.source)
    if not src:
        print("check: no frames in the source %s" % " ".join(a.source))
        return 2
    where = {}
    for i, f in enumerate(src):
        where.setdefault(sha(f), []).append(i)
    data = read_file(a.capture)
    frames, tail_error = (multipart_frames if a.http else raw_capture_frames)(data)
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

def read_until_end(s, deadline, frames=None, out=None):
    """Reads s until EOF, a reset, `frames` whole frames or the deadline (a
    time.monotonic() time): returns (how, the bytes read), how being "eof",
    "reset", "frames" or "open" (the deadline came). out, a binary file, gets
    each piece as it comes."""
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "open", got
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return "open", got
        except ConnectionResetError:
            return "reset", got
        if not b:
            return "eof", got
        got += b
        if out is not None:
            out.write(b)
            out.flush()
        if frames is not None and count_whole_frames(got) >= frames:
            return "frames", got


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
    s = connect(a.addr, rcvbuf=16384 if a.rate else KEEP_UP_RCVBUF)
    if a.rate:
        # SIGUSR1 lifts --rate, so that a slow reader can then catch up quickly.
        def unthrottle(*_):
            a.rate = None
        signal.signal(signal.SIGUSR1, unthrottle)
    if a.junk:
        s.sendall(os.urandom(a.junk))
    if a.http:
        http_get(s, a.http, a.addr)
        ms = MultipartStream()
    data = bytearray()
    received = 0
    t0 = time.monotonic()
    try:
        with open(a.out, "wb") as out:
            if a.ready:
                write_atomic(a.ready, "%d\n" % local_port(s))
            while True:
                # Sleeps in short steps, so that SIGUSR1 lifts the rate at once.
                while a.rate and t0 + received / a.rate > time.monotonic():
                    time.sleep(max(0, min(0.1, t0 + received / a.rate - time.monotonic())))
                b = s.recv(4096 if a.rate else 1 << 18)
                if not b:
                    print("capture: connection closed by peer", flush=True)
                    break
                out.write(b)
                out.flush()
                received += len(b)
                if a.http:
                    ms.feed(b)
                    if a.frames is not None and ms.parts >= a.frames:
                        break
                    continue
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
    if a.http:
        http_get(s, a.http, a.addr)
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

    def pending(self):
        """Bytes of an unfinished frame."""
        return len(self.buf) if self.error is None else 0


class HttpMatcher:
    """Matcher for an HTTP multipart subscriber: the response must be well formed
    (MultipartStream) and each part's body one whole source frame, byte-identical,
    in strictly increasing source order."""

    def __init__(self, frames):
        self.frames = frames
        self.by_len = {}
        for j, f in enumerate(frames):
            self.by_len.setdefault(len(f), []).append(j)
        self.ms = MultipartStream()
        self.got = []
        self.error = None
        self.first_at = None

    def feed(self, data):
        if self.error is not None:
            return
        for off, body in self.ms.feed(data):
            prev = self.got[-1] if self.got else -1
            same = [j for j in self.by_len.get(len(body), ()) if self.frames[j] == body]
            later = [j for j in same if j > prev]
            if not later:
                if same:
                    self.error = ("part %d (response offset %d) is source frame #%d, out of "
                                  "order (after #%d)" % (len(self.got), off, same[0], prev))
                else:
                    self.error = ("part %d (response offset %d, %d bytes, %s...) is not a "
                                  "source frame" % (len(self.got), off, len(body),
                                                    body[:4].hex()))
                return
            if self.first_at is None:
                self.first_at = time.monotonic()
            self.got.append(later[0])
        if self.ms.error is not None:
            self.error = self.ms.error

    def is_done(self):
        return self.error is not None or (self.got and self.got[-1] == len(self.frames) - 1)

    def pending(self):
        """Bytes of an unfinished part (or response head)."""
        return self.ms.pending() if self.error is None else 0

    def describe_pending(self):
        return self.ms.describe_pending()


def cmd_fanout(a):
    on_sigterm_exit()
    src = source_frames([a.source])
    sel = selectors.DefaultSelector()
    subs = []
    for _ in range(a.clients):
        if a.http:
            s = connect_http(a.addr, a.http, rcvbuf=KEEP_UP_RCVBUF)
            m = HttpMatcher(src)
        else:
            s = connect(a.addr, rcvbuf=KEEP_UP_RCVBUF)
            m = Matcher(src)
        s.setblocking(False)
        m.sock, m.eof = s, False
        subs.append(m)
        sel.register(s, selectors.EVENT_READ, m)
    write_atomic(a.ready, "%s\n" % " ".join(str(local_port(m.sock)) for m in subs))
    deadline = time.monotonic() + a.timeout
    open_subs = len(subs)
    last_data = None         # when a subscriber last received bytes, once frames flow
    stopped = ""
    while open_subs:
        now = time.monotonic()
        if now >= deadline:
            stopped = " (stopped at the --timeout of %gs)" % a.timeout
            break
        if a.idle and last_data is not None and now - last_data >= a.idle:
            stopped = " (stopped after %gs without data, --idle)" % a.idle
            break
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
                if m.got:
                    last_data = time.monotonic()
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
        if m.pending():
            problems.append(m.describe_pending() if a.http else
                            "%d bytes of an unfinished frame left" % m.pending())
        if m.eof:
            problems.append("connection closed by the daemon")
        if problems:
            bad += 1
            if bad <= 5:
                print("fanout: %ssubscriber %d (port %d): %s" %
                      ("http " if a.http else "", k, local_port(m.sock), "; ".join(problems)))
    if a.summary:
        # One line per subscriber: protocol, local port, frames, sha256 of the list
        # of source indexes received, and the list itself.
        write_atomic(a.summary, "".join(
            "%s %d %d %s %s\n" % ("http" if a.http else "raw", local_port(m.sock), len(m.got),
                                  sha(",".join(map(str, m.got)).encode())[:16],
                                  describe(m.got) or "-") for m in subs))
    for m in subs:
        m.sock.close()
    print("%sdelivered %d/%d frames to %d subscribers (%d frames each, %d bytes each); "
          "%d subscribers short or wrong%s" %
          ("http: " if a.http else "", delivered, expected, len(subs), len(src),
           sum(len(f) for f in src), bad, stopped), flush=True)
    return 1 if bad else 0


def cmd_join(a):
    src = source_frames([a.source])
    if a.http:
        m = HttpMatcher(src)
        s = connect_http(a.addr, a.http)
    else:
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


class Cli:
    """A command line of subcommands, each run by a function fn(a) of the parsed
    arguments (for the helpers here: frames.py, http_client.py, abuse_client.py)."""

    def __init__(self, doc):
        self.parser = argparse.ArgumentParser(description=doc.split("\n")[0])
        self.sub = self.parser.add_subparsers(dest="cmd", required=True)

    def command(self, name, fn, *positionals):
        """Adds the subcommand NAME, run by fn(a), with these positional arguments;
        returns its parser for the options."""
        q = self.sub.add_parser(name)
        for arg in positionals:
            q.add_argument(arg)
        q.set_defaults(fn=fn)
        return q

    def run(self, errors=(OSError,)):
        """Parses the command line and runs its subcommand: its exit status, or 2
        (printed as "PROGRAM CMD: error") when it raises one of errors."""
        a = self.parser.parse_args()
        try:
            return a.fn(a)
        except errors as e:
            print("%s %s: %s" % (self.parser.prog, a.cmd, e), file=sys.stderr)
            return 2


def http_opt(q):
    q.add_argument("--http", metavar="PATH", help="subscribe over HTTP: GET PATH "
                   "(e.g. /stream/default) from ADDR, the --http address")


def main():
    cli = Cli(__doc__)
    cli.command("split", cmd_split, "file")

    q = cli.command("check", cmd_check, "capture")
    q.add_argument("--source", action="append", required=True,
                   help="source file (repeatable: frames are taken in order)")
    q.add_argument("--expect", help="'all', or the exact source indexes, e.g. 0,1,3")
    q.add_argument("--min", type=int)
    q.add_argument("--http", action="store_true",
                   help="CAPTURE is an HTTP multipart response (capture --http)")

    q = cli.command("slice", cmd_slice, "src", "out")
    q.add_argument("--start", type=int, default=0)
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--fraction", type=float, default=0.0,
                   help="also this much of the next frame")

    q = cli.command("push", cmd_push, "addr")
    q.add_argument("files", nargs="+")
    q.add_argument("--fps", type=float, help="send whole frames at this rate "
                   "(default: all bytes at once, as they are)")
    q.add_argument("--loop", action="store_true")
    q.add_argument("--hold", action="store_true", help="stay connected until the peer closes")
    q.add_argument("--progress", help="file updated with the number of frames sent")
    q.add_argument("--ready", help="file that gets the local port once connected")

    q = cli.command("capture", cmd_capture, "addr", "out")
    http_opt(q)
    q.add_argument("--frames", type=int, help="stop after this many whole frames")
    q.add_argument("--ready", help="file that gets the local port once connected")
    q.add_argument("--junk", type=int, default=0, help="first send this many random bytes")
    q.add_argument("--rate", type=float, help="read at most this many bytes per second "
                   "(until SIGUSR1)")

    q = cli.command("stuck", cmd_stuck, "addr")
    http_opt(q)
    q.add_argument("--ready", required=True)

    q = cli.command("fanout", cmd_fanout, "addr")
    http_opt(q)
    q.add_argument("--clients", type=int, default=100)
    q.add_argument("--source", required=True)
    q.add_argument("--ready", required=True, help="file that gets the local ports")
    q.add_argument("--timeout", type=float, default=60)
    q.add_argument("--idle", type=float, help="stop waiting when no subscriber has "
                   "received a byte for this long since frames began to flow")
    q.add_argument("--summary", help="file that gets one line per subscriber: protocol, "
                   "port, frames, digest and list of the source frames received")

    q = cli.command("join", cmd_join, "addr")
    http_opt(q)
    q.add_argument("--source", required=True)
    q.add_argument("--out", required=True, help="where to save the first frame")
    q.add_argument("--frames", type=int, default=5)
    q.add_argument("--timeout", type=float, default=10)

    return cli.run()


if __name__ == "__main__":
    sys.exit(main())
