#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Abusive clients for tests/integration/abuse.sh (Python 3 stdlib only).

Frames here are numbered: a template JPEG with a COM segment right after its SOI
that says "framerouter abuse frame NNNNNNNNNN", so that every frame is distinct,
whole and valid, and a capture can be checked for order without a source file.

  abuse_client.py mkframes TEMPLATE OUT --count N
      N numbered frames (0..N-1) made from TEMPLATE, back to back, in OUT.
  abuse_client.py checkseq CAPTURE TEMPLATE [--min N] [--last N]
      CAPTURE (raw) is whole numbered frames of TEMPLATE, byte-identical, with
      strictly increasing numbers, and nothing else (at least N of them; the
      last one numbered N). Prints count, first, last.
  abuse_client.py flood ADDR --count N --batch B [--http PATH] [--timeout S]
      N connections, B at a time: connect, (send GET PATH), wait for the daemon
      to close it (with --http: or for a whole response). Prints how they ended:
      "closed=C silent=S data=D status=CODE:N... errors=E open=O". Exit 1 unless
      every connection was closed by the daemon (or answered).
  abuse_client.py hold ADDR --count N --ready FILE [--http]
      Opens N connections at once (the kernel completes them whether or not the
      daemon accepts), writes "N" to FILE, then reads and discards whatever
      comes until SIGTERM. --http: each sends a partial request head first.
  abuse_client.py halfopen ADDR --count N --ready FILE [--http PATH] [--read-first B]
      N subscribers with a tiny receive buffer that read B bytes each (default
      0), then never read again and never close. FILE gets their local ports.
  abuse_client.py churn --listen A --http A --ingest A --frame F --subs N
                        --http-subs N --producers N [--http-producers N] [--parallel P]
      Connect/disconnect cycles: raw subscribers (close at once, read the latest
      frame then close, or reset), HTTP /stream subscribers (read the response
      head then close, close right after the request, or reset mid-request),
      raw producers and HTTP PUT producers (a whole frame, or half a frame, then
      a clean close; each waits until the daemon has closed its side, so that
      counts are exact). Prints "whole=W half=H".
  abuse_client.py httpjunk ADDR KIND
      Sends junk to the HTTP port and reports the answer: "KIND: status=CODE|none
      sent=BYTES elapsed=S end=closed|reset|open". KIND: random, hugeline,
      endless, longuri, tls, ssh, h2, nul, pipelined.
  abuse_client.py silent ADDR FILE --ready PORTFILE [--http PATH] [--timeout S]
      A producer that sends FILE (raw, or as one chunk of a chunked PUT PATH),
      then stays connected and silent until the daemon closes the connection.
      Prints "silent: closed|reset by peer after S s of silence ...", exit 1 if
      still open after S seconds.
  abuse_client.py blast ADDR TEMPLATE --bytes N [--result FILE]
      Pushes numbered frames as fast as the socket takes them until N bytes are
      sent, then closes. FILE gets "FRAMES BYTES".

ADDR is HOST:PORT (IPv4). Exit status: 0 ok, 1 check failed, 2 usage or I/O error.
"""

import errno
import os
import random
import re
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frames import Cli, on_sigterm_exit, write_atomic  # noqa: E402

TAG = b"framerouter abuse frame "
NUM_DIGITS = 10


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def rst_close(s):
    """Closes with a RST instead of a FIN (SO_LINGER 0)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


# ---- numbered frames ----

def read_template(path):
    with open(path, "rb") as fp:
        t = fp.read()
    if t[:2] != b"\xff\xd8":
        raise SystemExit("%s: no SOI" % path)
    return t


def numbered(template, n):
    text = TAG + b"%0*d" % (NUM_DIGITS, n)
    return template[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + template[2:]


def frame_len(template):
    return len(template) + 4 + len(TAG) + NUM_DIGITS


def number_of(frame):
    """The number in a numbered frame's COM segment, or None."""
    k = 6 + len(TAG)
    if frame[2:4] != b"\xff\xfe" or frame[6:k] != TAG:
        return None
    digits = frame[k:k + NUM_DIGITS]
    return int(digits) if digits.isdigit() else None


def cmd_mkframes(a):
    t = read_template(a.template)
    with open(a.out, "wb") as fp:
        for n in range(a.count):
            fp.write(numbered(t, n))
    return 0


def cmd_checkseq(a):
    t = read_template(a.template)
    flen = frame_len(t)
    with open(a.capture, "rb") as fp:
        data = fp.read()
    pos, got, prev, err = 0, 0, -1, None
    first = last = None
    while pos < len(data):
        f = data[pos:pos + flen]
        n = number_of(f)
        if n is None:
            err = "offset %d: not the start of a numbered frame (%s...)" % (pos, f[:8].hex())
            break
        if len(f) < flen:
            err = "offset %d: frame %d cut short (%d of %d bytes)" % (pos, n, len(f), flen)
            break
        if f != numbered(t, n):
            err = "offset %d: frame %d is not byte-identical to the source" % (pos, n)
            break
        if n <= prev:
            err = "offset %d: frame %d after frame %d (out of order)" % (pos, n, prev)
            break
        if first is None:
            first = n
        last, prev = n, n
        got += 1
        pos += flen
    print("%s: %d bytes, %d whole numbered frames (first %s, last %s), strictly increasing%s"
          % (a.capture, len(data), got, first, last, " before the first problem" if err else ""))
    if err is None and a.min is not None and got < a.min:
        err = "expected at least %d frames" % a.min
    if err is None and a.last is not None and last != a.last:
        err = "the last frame is %s, expected %d" % (last, a.last)
    if err:
        print("checkseq: FAIL: %s" % err)
        return 1
    return 0


# ---- flood ----

def response_done(got):
    """got holds a whole HTTP response with a Content-Length body."""
    end = got.find(b"\r\n\r\n")
    if end < 0:
        return False
    m = re.search(rb"\r\ncontent-length: *(\d+)", bytes(got[:end]), re.I)
    return m is not None and len(got) >= end + 4 + int(m.group(1))


def cmd_flood(a):
    addr = parse_addr(a.addr)
    req = None
    if a.http:
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: abuse_client\r\n\r\n"
               % (a.http, a.addr)).encode()
    closed = silent = data = errors = still_open = 0
    statuses = {}
    deadline = time.monotonic() + a.timeout
    t0 = time.monotonic()
    done = 0
    while done < a.count:
        n = min(a.batch, a.count - done)
        sel = selectors.DefaultSelector()
        conns = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(addr)
            if rc not in (0, errno.EINPROGRESS):
                errors += 1
                s.close()
                continue
            c = {"sock": s, "connected": False, "got": bytearray()}
            conns.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
        open_n = len(conns)
        while open_n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                c = key.data
                s = c["sock"]
                if not c["connected"]:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        errors += 1
                        sel.unregister(s)
                        s.close()
                        open_n -= 1
                        continue
                    c["connected"] = True
                    if req:
                        try:
                            s.send(req)
                        except OSError:
                            pass
                    sel.modify(s, selectors.EVENT_READ, c)
                    continue
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    b = b""
                if b:
                    c["got"] += b
                    if not response_done(c["got"]):
                        continue
                sel.unregister(s)
                s.close()
                open_n -= 1
                closed += 1
                if not c["got"]:
                    silent += 1
                    continue
                data += 1
                m = re.match(rb"HTTP/1\.[01] (\d{3}) ", bytes(c["got"][:16]))
                code = m.group(1).decode() if m else "other"
                statuses[code] = statuses.get(code, 0) + 1
        still_open += open_n
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
        done += n
    elapsed = time.monotonic() - t0
    print("flood: %d connections in %.2fs: closed=%d silent=%d data=%d status=%s errors=%d open=%d"
          % (a.count, elapsed, closed, silent, data,
             ",".join("%s:%d" % kv for kv in sorted(statuses.items())) or "-",
             errors, still_open), flush=True)
    return 0 if closed == a.count else 1


# ---- hold ----

def cmd_hold(a):
    on_sigterm_exit()
    addr = parse_addr(a.addr)
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(addr)
        if rc not in (0, errno.EINPROGRESS):
            print("hold: connect: %s" % os.strerror(rc), file=sys.stderr)
            return 2
        socks.append(s)
    # Wait until every connection is established (in the kernel's accept queue
    # at least): writable.
    pending = set(socks)
    deadline = time.monotonic() + 30
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                print("hold: connect: %s" % os.strerror(err), file=sys.stderr)
                return 2
            pending.discard(s)
            sel.unregister(s)
            if a.http:
                s.send(b"GET /stats HTTP/1.1\r\nHost: x\r\n")
            sel.register(s, selectors.EVENT_READ)
    if pending:
        print("hold: %d connections not established after 30s" % len(pending), file=sys.stderr)
        return 2
    write_atomic(a.ready, "%d\n" % len(socks))
    while True:
        for key, _ in sel.select(timeout=1):
            try:
                b = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                b = b""
            if not b:
                sel.unregister(key.fileobj)


# ---- halfopen ----

def cmd_halfopen(a):
    on_sigterm_exit()
    addr = parse_addr(a.addr)
    socks = []
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(addr)
        if a.http:
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (a.http, a.addr)).encode())
        socks.append(s)
    write_atomic(a.ready, "%s\n" % " ".join(str(s.getsockname()[1]) for s in socks))
    if a.read_first:
        sel = selectors.DefaultSelector()
        left = {}
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
            left[s] = a.read_first
        while left:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                b = s.recv(min(left[s], 4096))
                left[s] -= len(b)
                if not b or left[s] <= 0:
                    sel.unregister(s)
                    del left[s]
    while True:
        time.sleep(3600)


# ---- churn ----

def expect_eof(s, timeout):
    """Reads (and discards) until the peer closes; False on timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False
    return True


def read_exactly(s, n, timeout):
    s.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            break
        buf += b
    return bytes(buf)


def raw_sub_batch(addr, modes, frame):
    """Subscribers connected together, then each closed its way: at once, after
    reading the latest frame (which must be frame), or with a RST."""
    socks = [socket.create_connection(addr, timeout=10) for _ in modes]
    for s, mode in zip(socks, modes):
        if mode == 0:
            s.close()
        elif mode == 1:
            got = read_exactly(s, len(frame), 10)
            s.close()
            if got != frame:
                raise SystemExit("churn: a raw subscriber got %d bytes that are not the latest "
                                 "frame" % len(got))
        else:
            rst_close(s)


def http_sub_batch(addr, modes, hostport):
    """GET /stream subscribers connected together, then each: reads the response
    head and closes, closes right after the request, or resets mid-request."""
    req = ("GET /stream HTTP/1.1\r\nHost: %s\r\n\r\n" % hostport).encode()
    socks = [socket.create_connection(addr, timeout=10) for _ in modes]
    for s, mode in zip(socks, modes):
        s.sendall(req if mode != 2 else req[:len(req) // 2])
    for s, mode in zip(socks, modes):
        if mode == 0:
            s.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                b = s.recv(4096)
                if not b:
                    break
                head += b
            s.close()
            if not head.startswith(b"HTTP/1.1 200 "):
                raise SystemExit("churn: GET /stream answered %r" % head[:40])
        elif mode == 1:
            s.close()
        else:
            rst_close(s)


def producer_cycle(addr, whole, frame):
    s = socket.create_connection(addr, timeout=10)
    s.sendall(frame if whole else frame[:len(frame) // 2])
    s.shutdown(socket.SHUT_WR)
    if not expect_eof(s, 10):
        raise SystemExit("churn: the daemon did not close a producer's connection after its EOF")
    s.close()


def http_producer_cycle(addr, whole, frame, hostport):
    """PUT /ingest/default with a Content-Length: the whole frame (answered 204),
    or half of it and then a clean close (the daemon closes its side too)."""
    s = socket.create_connection(addr, timeout=10)
    head = ("PUT /ingest/default HTTP/1.1\r\nHost: %s\r\nContent-Type: image/jpeg\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (hostport, len(frame))).encode()
    s.sendall(head + (frame if whole else frame[:len(frame) // 2]))
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise SystemExit("churn: the daemon did not close an HTTP producer's connection")
    s.close()
    if whole and not got.startswith(b"HTTP/1.1 204 "):
        raise SystemExit("churn: PUT /ingest/default answered %r" % got[:40])


def cmd_churn(a):
    with open(a.frame, "rb") as fp:
        frame = fp.read()
    listen, http, ingest = parse_addr(a.listen), parse_addr(a.http), parse_addr(a.ingest)
    total = max(a.subs, a.http_subs, a.producers, a.http_producers)
    whole = half = 0
    t0 = time.monotonic()
    # A producer cycle, then (every P cycles) a batch of P subscribers of each kind
    # connected together; the first producer leaves a latest frame behind.
    for i in range(total):
        if i < a.producers:
            is_whole = i % 2 == 0
            producer_cycle(ingest, is_whole, frame)
            whole += is_whole
            half += not is_whole
        if i < a.http_producers:
            is_whole = i % 2 == 0
            http_producer_cycle(http, is_whole, frame, a.http)
            whole += is_whole
            half += not is_whole
        if i % a.parallel:
            continue
        batch = range(i, min(i + a.parallel, total))
        raw_sub_batch(listen, [j % 3 for j in batch if j < a.subs], frame)
        http_sub_batch(http, [j % 3 for j in batch if j < a.http_subs], a.http)
    print("churn: %d raw subscribers, %d http subscribers, %d raw and %d http producers in %.2fs: "
          "whole=%d half=%d" % (a.subs, a.http_subs, a.producers, a.http_producers,
                                time.monotonic() - t0, whole, half), flush=True)
    return 0


# ---- httpjunk ----

def junk_payload(kind, hostport):
    rnd = random.Random(kind)
    if kind == "random":
        return bytes(rnd.getrandbits(8) for _ in range(65536)), False
    if kind == "hugeline":
        return (b"GET /stats HTTP/1.1\r\nHost: " + hostport.encode() + b"\r\nX-Huge: " +
                b"a" * (1 << 20) + b"\r\n\r\n"), False
    if kind == "endless":
        return b"GET /stats HTTP/1.1\r\nHost: " + hostport.encode() + b"\r\n", True
    if kind == "longuri":
        return b"GET /" + b"x" * (1 << 20) + b" HTTP/1.1\r\n\r\n", False
    if kind == "tls":
        # A TLS 1.2 ClientHello record (handshake, random, one cipher suite, SNI).
        sni = b"framerouter"
        ext = struct.pack(">HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
        body = (b"\x03\x03" + bytes(rnd.getrandbits(8) for _ in range(32)) + b"\x00" +
                b"\x00\x02\x00\x2f" + b"\x01\x00" + struct.pack(">H", len(ext)) + ext)
        hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
        return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs, False
    if kind == "ssh":
        return b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", False
    if kind == "h2":
        return b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", False
    if kind == "nul":
        return b"\x00" * 4096, False
    if kind == "pipelined":
        return (b"GET /stats HTTP/1.1\r\nHost: " + hostport.encode() + b"\r\n\r\n" +
                bytes(rnd.getrandbits(8) for _ in range(4096))), False
    raise SystemExit("httpjunk: unknown kind %s" % kind)


def cmd_httpjunk(a):
    payload, endless = junk_payload(a.kind, a.addr)
    filler = b"X-Endless-" + b"b" * 90 + b": c\r\n"
    s = socket.create_connection(parse_addr(a.addr), timeout=10)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    out = memoryview(payload)
    sent = 0
    got = bytearray()
    end = "open"
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    limit = 64 << 20    # an endless header stops here at the latest
    while time.monotonic() < deadline and end == "open":
        for key, ev in sel.select(timeout=0.5):
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    b = None
                except ConnectionResetError:
                    end = "reset"
                    break
                if b == b"":
                    end = "closed"
                    break
                if b:
                    got += b
            if ev & selectors.EVENT_WRITE:
                if not len(out) and endless and sent < limit:
                    out = memoryview(filler * 256)
                if not len(out):
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                try:
                    n = s.send(out)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    # Keep reading: the response may still be in our buffer.
                    out = memoryview(b"")
                    endless = False
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                sent += n
                out = out[n:]
    elapsed = time.monotonic() - t0
    s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", bytes(got[:16]))
    status = m.group(1).decode() if m else ("none" if not got else "junk")
    statuses = [x.decode() for x in re.findall(rb"HTTP/1\.[01] (\d{3}) ", bytes(got))]
    print("%s: status=%s sent=%d elapsed=%.2f end=%s responses=%s" %
          (a.kind, status, sent, elapsed, end, ",".join(statuses) or "-"), flush=True)
    return 0


# ---- silent ----

def cmd_silent(a):
    on_sigterm_exit()
    with open(a.file, "rb") as fp:
        data = fp.read()
    s = socket.create_connection(parse_addr(a.addr), timeout=10)
    if a.http:
        s.sendall(("PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: image/jpeg\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" % (a.http, a.addr)).encode())
        if data:
            s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
    else:
        s.sendall(data)
    write_atomic(a.ready, "%d\n" % s.getsockname()[1])
    t0 = time.monotonic()
    got = b""
    end = None
    s.settimeout(0.2)
    while time.monotonic() - t0 < a.timeout:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            end = "reset"
            break
        if not b:
            end = "closed"
            break
        got += b
    elapsed = time.monotonic() - t0
    first = got.split(b"\r\n", 1)[0].decode("latin-1") if got else "none"
    if end is None:
        print("silent: still open after %.2fs of silence" % elapsed, flush=True)
        return 1
    print("silent: %s by peer after %.2fs of silence, %d bytes sent, response: %s"
          % (end, elapsed, len(data), first), flush=True)
    return 0


# ---- blast ----

def cmd_blast(a):
    on_sigterm_exit()
    t = read_template(a.template)
    s = socket.create_connection(parse_addr(a.addr), timeout=60)
    frames = sent = 0
    t0 = time.monotonic()
    # Frames are made in batches: one sendall of ~1 MB keeps Python out of the way.
    while sent < a.bytes:
        batch = b"".join(numbered(t, frames + k) for k in range(16))
        s.sendall(batch)
        frames += 16
        sent += len(batch)
    s.shutdown(socket.SHUT_WR)
    if not expect_eof(s, 60):
        raise SystemExit("blast: the daemon did not close the connection after its EOF")
    elapsed = time.monotonic() - t0     # the daemon has read everything
    s.close()
    if a.result:
        write_atomic(a.result, "%d %d\n" % (frames, sent))
    print("blast: %d frames, %d bytes in %.2fs (%.0f MB/s, until the daemon closed)" %
          (frames, sent, elapsed, sent / elapsed / 1e6 if elapsed else 0), flush=True)
    return 0


def main():
    cli = Cli(__doc__)
    q = cli.command("mkframes", cmd_mkframes, "template", "out")
    q.add_argument("--count", type=int, required=True)
    q = cli.command("checkseq", cmd_checkseq, "capture", "template")
    q.add_argument("--min", type=int)
    q.add_argument("--last", type=int)
    q = cli.command("flood", cmd_flood, "addr")
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--batch", type=int, default=100)
    q.add_argument("--http", metavar="PATH")
    q.add_argument("--timeout", type=float, default=60)
    q = cli.command("hold", cmd_hold, "addr")
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--ready", required=True)
    q.add_argument("--http", action="store_true")
    q = cli.command("halfopen", cmd_halfopen, "addr")
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--ready", required=True)
    q.add_argument("--http", metavar="PATH")
    q.add_argument("--read-first", type=int, default=0)
    q = cli.command("churn", cmd_churn)
    q.add_argument("--listen", required=True)
    q.add_argument("--http", required=True)
    q.add_argument("--ingest", required=True)
    q.add_argument("--frame", required=True)
    q.add_argument("--subs", type=int, required=True)
    q.add_argument("--http-subs", type=int, required=True)
    q.add_argument("--producers", type=int, required=True)
    q.add_argument("--http-producers", type=int, default=0)
    q.add_argument("--parallel", type=int, default=10)
    q = cli.command("httpjunk", cmd_httpjunk, "addr", "kind")
    q.add_argument("--timeout", type=float, default=20)
    q = cli.command("silent", cmd_silent, "addr", "file")
    q.add_argument("--http", metavar="PATH")
    q.add_argument("--ready", required=True)
    q.add_argument("--timeout", type=float, default=60)
    q = cli.command("blast", cmd_blast, "addr", "template")
    q.add_argument("--bytes", type=int, required=True)
    q.add_argument("--result")
    return cli.run(errors=(OSError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
