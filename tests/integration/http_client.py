#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""HTTP roles for the framerouter integration tests (Python 3 stdlib only).

curl, ffmpeg and OpenCV are the real clients; this helper does what they cannot
check or do: parse a multipart/x-mixed-replace stream strictly, pipeline
requests on one connection, send a request head slowly, build a multipart body
and push frames over HTTP at a given rate.

  http_client.py stream URL OUT [--frames N] [--duration S] [--ready FILE]
                 [--result FILE] [--hold] [--rate B/S] [--head-out FILE]
                 [--timeout S] [--header H]...
      Reads GET URL as multipart/x-mixed-replace. Every part must have
      Content-Type: image/jpeg and a Content-Length, and be followed at once by
      the next boundary line. The frames go to OUT, back to back (check them
      with frames.py check). Stops after N frames or S seconds; --hold then
      keeps the connection open (reading and discarding) until SIGTERM or EOF.
      --result gets "frames=N elapsed=E fps=F bytes=B" (B: every byte received).
      --rate reads at most B/S bytes per second through a small receive buffer.
      --head-out saves the response head.
  http_client.py stuck URL --ready FILE
      Sends GET URL through a tiny receive buffer and never reads.
  http_client.py request ADDR [--one-by-one] [--out DIR] [--header H]... REQ...
      REQ is "METHOD PATH". Sends all requests in one write (pipelined), or one
      after the other's response (--one-by-one), on one connection, and prints
      one line per response: "N STATUS content-length=L body=B". DIR/N.head and
      DIR/N.body get each response's head and body.
  http_client.py slow ADDR DATA [--interval S] [--timeout T]
      Sends DATA (a partial request head; \\r and \\n escapes work) at once, or
      one byte every S seconds, and waits for the server to close the
      connection. Prints how long that took. Exit 1 if it is still open after T.
  http_client.py multipart OUT --boundary B FILE...
      Writes a multipart/x-mixed-replace body holding the frames of FILE...
  http_client.py push URL FILE... [--fps R] [--loop] [--length] [--ready FILE]
                 [--abort-after BYTES] [--header H]...
      PUTs the frames of FILE... (chunked, or with a Content-Length with
      --length), then prints the response status, or that the server closed
      the connection ("push: connection closed by peer"). --abort-after: close
      the connection once BYTES bytes of frames are sent, mid-body.

URL is http://HOST:PORT/PATH; ADDR is HOST:PORT. Exit status: 0 ok, 1 check
failed, 2 usage or I/O error.
"""

import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frames  # noqa: E402  (split_frames, source_frames, set_rcvbuf)
from frames import Cli, on_sigterm_exit, write_atomic  # noqa: E402


class ProtocolError(Exception):
    pass


def split_url(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        raise SystemExit("not an http:// URL: %s" % url)
    target = u.path or "/"
    if u.query:
        target += "?" + u.query
    return u.hostname, u.port or 80, target


def connect(host, port, timeout, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        frames.set_rcvbuf(s, rcvbuf)
    s.settimeout(timeout)
    s.connect((socket.gethostbyname(host), port))
    return s


def header_lines(headers):
    out = b""
    for h in headers:
        name, sep, value = h.partition(":")
        if not sep:
            raise SystemExit("bad --header %r (want 'Name: value')" % h)
        out += ("%s: %s\r\n" % (name.strip(), value.strip())).encode()
    return out


class Reader:
    """Buffered reads from a socket with a deadline per call."""

    def __init__(self, sock, timeout, rate=None):
        self.sock = sock
        self.timeout = timeout
        self.rate = rate
        self.t0 = time.monotonic()
        self.buf = bytearray()
        self.total = 0          # bytes received in all
        self.eof = False

    def _fill(self, deadline):
        if self.rate:
            ahead = self.t0 + self.total / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(4096 if self.rate else 1 << 18)
        except ConnectionResetError:
            b = b""
        if not b:
            self.eof = True
            raise EOFError()
        self.total += len(b)
        self.buf += b

    def line(self, deadline, limit=16384):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            if len(self.buf) > limit:
                raise ProtocolError("line longer than %d bytes" % limit)
            self._fill(deadline)

    def exactly(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def head(self, deadline):
        """A response head: (status, reason, {lower-name: value}, raw bytes)."""
        status_line = self.line(deadline)
        raw = status_line + b"\r\n"
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("bad status line %r" % status_line[:80])
        headers = {}
        while True:
            ln = self.line(deadline)
            raw += ln + b"\r\n"
            if not ln:
                break
            name, sep, value = ln.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolError("bad header line %r" % ln[:80])
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), parts[2] if len(parts) > 2 else "", headers, raw

    def part_headers(self, deadline):
        headers = {}
        while True:
            ln = self.line(deadline)
            if not ln:
                return headers
            name, sep, value = ln.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolError("bad part header line %r" % ln[:80])
            headers[name.strip().lower()] = value.strip()


def boundary_of(content_type):
    """The boundary parameter of a multipart Content-Type, or None."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/x-mixed-replace":
        return None
    for p in params.split(";"):
        name, _, value = p.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    return None


# ---- stream ----

def cmd_stream(a):
    on_sigterm_exit()
    host, port, target = split_url(a.url)
    # A reader that must keep up rides out a busy machine's pauses in its own buffer:
    # the daemon queues little for it in the kernel (TCP_NOTSENT_LOWAT), see frames.py.
    s = connect(host, port, a.timeout, rcvbuf=16384 if a.rate else 8 << 20)
    if a.ready:
        write_atomic(a.ready, "%d\n" % s.getsockname()[1])
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n" % (target, host, port)).encode() +
              header_lines(a.header) + b"\r\n")
    r = Reader(s, a.timeout, a.rate)
    t0 = time.monotonic()
    got = 0
    first_ms = None
    error = None
    out = open(a.out, "wb")
    try:
        status, reason, headers, raw = r.head(t0 + a.timeout)
        if a.head_out:
            with open(a.head_out, "wb") as fp:
                fp.write(raw)
        if status != 200:
            raise ProtocolError("status %d %s" % (status, reason))
        b = boundary_of(headers.get("content-type", ""))
        if b is None:
            raise ProtocolError("Content-Type is %r, not multipart/x-mixed-replace with a "
                                "boundary" % headers.get("content-type"))
        delim = ("--" + b).encode()
        ln = r.line(time.monotonic() + a.timeout)
        if ln != delim:
            raise ProtocolError("the body starts with %r, not the boundary line" % ln[:80])
        end_at = t0 + a.duration if a.duration is not None else None
        while a.frames is None or got < a.frames:
            if end_at is not None and time.monotonic() >= end_at:
                break
            # Waiting for the next part may take long (fps cap, slow producer);
            # with --duration, stop waiting at its end.
            deadline = time.monotonic() + a.timeout
            if end_at is not None:
                deadline = min(deadline, end_at) if got > 0 else deadline
            try:
                ph = r.part_headers(deadline)
            except socket.timeout:
                if end_at is not None and time.monotonic() >= end_at:
                    break
                raise
            if ph.get("content-type", "").lower() != "image/jpeg":
                raise ProtocolError("part %d: Content-Type %r" % (got, ph.get("content-type")))
            if not ph.get("content-length", "").isdigit():
                raise ProtocolError("part %d: no Content-Length" % got)
            n = int(ph["content-length"])
            body = r.exactly(n, time.monotonic() + a.timeout)
            # The next boundary line must follow the frame at once, not with the
            # next frame (a browser shows a part only when it sees the boundary).
            try:
                tail = r.exactly(len(delim) + 4, time.monotonic() + a.timeout)
            except socket.timeout:
                raise ProtocolError("part %d: no boundary line within %gs after its %d bytes"
                                    % (got, a.timeout, n))
            if tail != b"\r\n" + delim + b"\r\n":
                raise ProtocolError("part %d: followed by %r, not CRLF and the boundary line"
                                    % (got, tail))
            out.write(body)
            out.flush()
            got += 1
            if first_ms is None:
                first_ms = (time.monotonic() - t0) * 1000
    except ProtocolError as e:
        error = str(e)
    except socket.timeout:
        error = "timed out after %gs waiting for data (%d frames so far)" % (a.timeout, got)
    except EOFError:
        error = "connection closed by peer after %d frames" % got
    finally:
        out.close()
    elapsed = time.monotonic() - t0
    fps = got / elapsed if elapsed > 0 else 0
    summary = "frames=%d elapsed=%.3f fps=%.3f bytes=%d" % (got, elapsed, fps, r.total)
    if a.result:
        write_atomic(a.result, summary + "\n")
    print("stream %s: %s%s" % (target, summary, "" if first_ms is None else
                               " first_frame_ms=%.1f" % first_ms), flush=True)
    if error:
        print("stream: FAIL: %s" % error, flush=True)
        s.close()
        return 1
    if a.hold:
        s.settimeout(None)
        while True:
            try:
                b = s.recv(1 << 16)
            except ConnectionResetError:
                b = b""
            if not b:
                print("stream: connection closed by peer", flush=True)
                break
    s.close()
    return 0


def cmd_stuck(a):
    on_sigterm_exit()
    host, port, target = split_url(a.url)
    s = connect(host, port, 10, rcvbuf=4096)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (target, host, port)).encode())
    write_atomic(a.ready, "%d\n" % s.getsockname()[1])
    while True:
        time.sleep(3600)


# ---- request ----

def no_body(method, status):
    return method == "HEAD" or 100 <= status < 200 or status in (204, 304)


def cmd_request(a):
    host, _, port = a.addr.rpartition(":")
    reqs = []
    for text in a.requests:
        method, _, path = text.partition(" ")
        if not path:
            raise SystemExit("bad request %r (want 'METHOD PATH')" % text)
        reqs.append((method, path))
    s = connect(host, int(port), a.timeout)
    wire = []
    for method, path in reqs:
        wire.append(("%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, a.addr)).encode() +
                    header_lines(a.header) + b"\r\n")
    r = Reader(s, a.timeout)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    if not a.one_by_one:
        s.sendall(b"".join(wire))
    rc = 0
    for k, (method, path) in enumerate(reqs):
        if a.one_by_one:
            try:
                s.sendall(wire[k])
            except OSError as e:
                print("%d send failed: %s" % (k, e))
                return 1
        try:
            status, reason, headers, raw = r.head(time.monotonic() + a.timeout)
            clen = headers.get("content-length")
            body = b""
            if not no_body(method, status):
                if clen is None or not clen.isdigit():
                    raise ProtocolError("response %d has no Content-Length" % k)
                body = r.exactly(int(clen), time.monotonic() + a.timeout)
        except (ProtocolError, socket.timeout, EOFError) as e:
            what = "connection closed" if isinstance(e, EOFError) else \
                "timed out" if isinstance(e, socket.timeout) else str(e)
            print("%d %s %s: no (whole) response: %s" % (k, method, path, what))
            return 1
        if a.out:
            with open(os.path.join(a.out, "%d.head" % k), "wb") as fp:
                fp.write(raw)
            with open(os.path.join(a.out, "%d.body" % k), "wb") as fp:
                fp.write(body)
        print("%d %d content-length=%s body=%d" % (k, status, clen, len(body)), flush=True)
    s.close()
    return rc


# ---- slow ----

def cmd_slow(a):
    host, _, port = a.addr.rpartition(":")
    data = a.data.encode().decode("unicode_escape").encode("latin-1")
    s = connect(host, int(port), a.timeout)
    t0 = time.monotonic()
    got = b""
    closed = False
    sent = 0
    s.settimeout(0.05)
    while time.monotonic() - t0 < a.timeout:
        if sent < len(data):
            if a.interval:
                if time.monotonic() >= t0 + sent * a.interval:
                    try:
                        s.sendall(data[sent:sent + 1])
                    except OSError:
                        closed = True
                        break
                    sent += 1
            else:
                s.sendall(data)
                sent = len(data)
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            b = b""
        if not b:
            closed = True
            break
        got += b
    elapsed = time.monotonic() - t0
    first = got.split(b"\r\n", 1)[0].decode("latin-1") if got else ""
    if closed:
        print("slow: closed by the server after %.2fs, %d of %d bytes sent, received %d bytes%s"
              % (elapsed, sent, len(data), len(got), " (%s)" % first if first else ""))
        return 0
    print("slow: still open after %.2fs, %d of %d bytes sent" % (elapsed, sent, len(data)))
    return 1


# ---- multipart ----

def cmd_multipart(a):
    src = frames.source_frames(a.files)
    delim = ("--" + a.boundary).encode()
    out = bytearray()
    for f in src:
        out += delim + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(f)
        out += f + b"\r\n"
    out += delim + b"--\r\n"
    with open(a.out, "wb") as fp:
        fp.write(out)
    print("multipart: %d frames, %d bytes" % (len(src), len(out)))
    return 0


# ---- push ----

def cmd_push(a):
    on_sigterm_exit()
    host, port, target = split_url(a.url)
    src = frames.source_frames(a.files)
    if not src:
        print("push: no frames in %s" % " ".join(a.files))
        return 2
    if a.length and a.loop:
        raise SystemExit("--length and --loop do not go together")
    s = connect(host, port, a.timeout)
    if a.ready:
        write_atomic(a.ready, "%d\n" % s.getsockname()[1])
    framing = ("Content-Length: %d\r\n" % sum(map(len, src))) if a.length else \
        "Transfer-Encoding: chunked\r\n"
    r = Reader(s, a.timeout)
    sent = sent_bytes = 0
    try:
        s.sendall(("PUT %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: image/jpeg\r\n%s"
                   % (target, host, port, framing)).encode() + header_lines(a.header) + b"\r\n")
        t0 = time.monotonic()
        k = 0
        while True:
            for f in src:
                if a.abort_after is not None and sent_bytes + len(f) > a.abort_after:
                    part = f[:a.abort_after - sent_bytes]
                    s.sendall(part if a.length else b"%x\r\n%s" % (len(f), part))
                    s.close()
                    print("push: sent %d frames and %d bytes of the next, then closed"
                          % (sent, len(part)), flush=True)
                    return 0
                if a.fps:
                    due = t0 + k / a.fps
                    now = time.monotonic()
                    if due > now:
                        time.sleep(due - now)
                s.sendall(f if a.length else b"%x\r\n%s\r\n" % (len(f), f))
                k += 1
                sent += 1
                sent_bytes += len(f)
            if not a.loop:
                break
        if not a.length:
            s.sendall(b"0\r\n\r\n")
        status, reason, _, _ = r.head(time.monotonic() + a.timeout)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        print("push: connection closed by peer after %d frames" % sent, flush=True)
        return 1
    except socket.timeout:
        print("push: timed out waiting for the response after %d frames" % sent, flush=True)
        return 1
    print("push: sent %d frames, status %d %s" % (sent, status, reason), flush=True)
    s.close()
    return 0 if 200 <= status < 300 else 1


def main():
    cli = Cli(__doc__)

    q = cli.command("stream", cmd_stream, "url", "out")
    q.add_argument("--frames", type=int)
    q.add_argument("--duration", type=float)
    q.add_argument("--ready")
    q.add_argument("--result")
    q.add_argument("--hold", action="store_true")
    q.add_argument("--rate", type=float)
    q.add_argument("--head-out")
    q.add_argument("--timeout", type=float, default=10)
    q.add_argument("--header", action="append", default=[])

    q = cli.command("stuck", cmd_stuck, "url")
    q.add_argument("--ready", required=True)

    q = cli.command("request", cmd_request, "addr")
    q.add_argument("requests", nargs="+")
    q.add_argument("--one-by-one", action="store_true")
    q.add_argument("--out")
    q.add_argument("--header", action="append", default=[])
    q.add_argument("--timeout", type=float, default=10)

    q = cli.command("slow", cmd_slow, "addr", "data")
    q.add_argument("--interval", type=float, default=0)
    q.add_argument("--timeout", type=float, default=30)

    q = cli.command("multipart", cmd_multipart, "out")
    q.add_argument("files", nargs="+")
    q.add_argument("--boundary", required=True)

    q = cli.command("push", cmd_push, "url")
    q.add_argument("files", nargs="+")
    q.add_argument("--fps", type=float)
    q.add_argument("--loop", action="store_true")
    q.add_argument("--length", action="store_true")
    q.add_argument("--ready")
    q.add_argument("--abort-after", type=int)
    q.add_argument("--header", action="append", default=[])
    q.add_argument("--timeout", type=float, default=10)

    return cli.run()


if __name__ == "__main__":
    sys.exit(main())
