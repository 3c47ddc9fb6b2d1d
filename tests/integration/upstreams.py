#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Upstreams for the pull tests (Python 3 stdlib only): servers framerouter pulls from,
good and bad, and a restarter for single-client cameras.

  upstreams.py serve MODE PORT [--file F] [--fps R] [--accepts FILE]
  upstreams.py loop -- CMD ARG...
  upstreams.py back PORT STATS_URL STREAM

serve listens on 127.0.0.1:PORT and answers every connection as MODE says:

  still         GET -> 200 image/jpeg with Content-Length (--file), kept alive
  multipart     GET -> 200 multipart/x-mixed-replace, parts with Content-Length, the
                frames of --file (an MJPEG file) looped at --fps
  status        GET -> 404 Not Found
  redirect      GET /ok -> as still; any other path -> 302 to /hop/N+1 (a chain that
                never reaches /ok unless the path is /hop/3 or beyond: see the test)
  html          GET -> 200 text/html, a page
  endless       GET -> 200, then header lines forever (never the empty line)
  notjpeg       GET -> 200 multipart whose parts are text, not JPEG, forever
  silent        accepts, reads, says nothing
  close         accepts and closes at once

--accepts FILE: after each accept, FILE holds the number of connections so far and
the monotonic time of each (one per line after the count), for backoff checks.

back times an upstream's return as framerouter sees it, more finely than a shell can poll:
it waits for a socket listening on PORT (/proc/net/tcp, every 5 ms), reads STREAM's
frames_in and upstream retry_in_s from STATS_URL (/stats) at once, then polls /stats
every 10 ms until frames_in grows, and prints {"retry_s": R, "gap_ms": G}: how long the
puller still had to wait then, and how long the first new frame took.

loop runs CMD again each time it exits (ffmpeg's -listen 1 serves one client), and on
SIGTERM kills the one running and exits: a camera that comes and goes with one kill.
"""

import argparse
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frames  # noqa: E402  (split_frames)

accepts = []
accepts_lock = threading.Lock()


def note_accept(path):
    if path is None:
        return
    with accepts_lock:
        accepts.append(time.monotonic())
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % len(accepts))
            f.write("".join("%.6f\n" % t for t in accepts))
        os.replace(tmp, path)


def read_head(rfile):
    """The request line, or None when the client went away first."""
    line = rfile.readline(8192)
    if not line:
        return None
    while True:
        h = rfile.readline(8192)
        if not h or h in (b"\r\n", b"\n"):
            break
    return line.decode("latin-1").split()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        opts = self.server.opts
        note_accept(opts.accepts)
        mode = opts.mode
        try:
            if mode == "close":
                return
            if mode == "silent":
                while self.rfile.read(1):
                    pass
                return
            while True:
                req = read_head(self.rfile)
                if req is None:
                    return
                if not self.answer(mode, req[1] if len(req) > 1 else "/"):
                    return
        except (BrokenPipeError, ConnectionResetError):
            return

    def send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def answer(self, mode, path):
        """Answers one request; False when the connection is done."""
        opts = self.server.opts
        if mode == "redirect" and path != "/ok":
            n = int(path.rsplit("/", 1)[-1]) if path.startswith("/hop/") else 0
            target = "/ok" if n >= opts.hops else "/hop/%d" % (n + 1)
            self.send(b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                      % target.encode())
            return True
        if mode in ("still", "redirect"):
            body = self.server.still
            self.send(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return True
        if mode == "status":
            self.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
            return True
        if mode == "html":
            page = b"<!DOCTYPE html><html><body>login</body></html>"
            self.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(page) + page)
            return True
        if mode == "endless":
            self.send(b"HTTP/1.1 200 OK\r\n")
            while True:
                self.send(b"X-Endless: " + b"a" * 1000 + b"\r\n")
                time.sleep(0.01)
        if mode in ("multipart", "notjpeg"):
            self.send(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;"
                      b"boundary=upstream\r\nConnection: close\r\n\r\n")
            parts = self.server.frames if mode == "multipart" else [b"not a jpeg\r\n" * 50]
            i = 0
            while True:
                p = parts[i % len(parts)]
                self.send(b"--upstream\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                          % (b"image/jpeg" if mode == "multipart" else b"text/plain", len(p))
                          + p + b"\r\n")
                i += 1
                time.sleep(1.0 / opts.fps)
        raise SystemExit("unknown mode %s" % mode)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def cmd_serve(opts):
    srv = Server(("127.0.0.1", opts.port), Handler)
    srv.opts = opts
    srv.still = b""
    srv.frames = []
    if opts.file:
        data = open(opts.file, "rb").read()
        srv.still = data
        srv.frames = [f for _, f in frames.split_frames(data)] or [data]
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv.serve_forever()


def cmd_loop(opts):
    child = None

    def stop(*_):
        # At once: a camera drops off the network, it does not say goodbye (and ffmpeg
        # with -listen 1 can take seconds to obey SIGTERM).
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        child = subprocess.Popen(opts.cmd)
        child.wait()
        time.sleep(0.05)


def is_listening(port):
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def cmd_back(opts):
    import json
    import urllib.request

    def stream():
        with urllib.request.urlopen(opts.stats, timeout=5) as r:
            return json.load(r)["streams"][opts.stream]

    while not is_listening(opts.port):
        time.sleep(0.005)
    up = time.monotonic()
    s = stream()
    before, retry = s["frames_in"], s["upstream"]["retry_in_s"] or 0.0
    while stream()["frames_in"] <= before:
        time.sleep(0.01)
    print(json.dumps({"retry_s": round(retry, 3),
                      "gap_ms": round((time.monotonic() - up) * 1000)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd_name", required=True)
    s = sub.add_parser("serve")
    s.add_argument("mode", choices=["still", "multipart", "status", "redirect", "html",
                                    "endless", "notjpeg", "silent", "close"])
    s.add_argument("port", type=int)
    s.add_argument("--file")
    s.add_argument("--fps", type=float, default=10)
    s.add_argument("--hops", type=int, default=2, help="redirect: hops before /ok")
    s.add_argument("--accepts")
    s.set_defaults(fn=cmd_serve)
    b = sub.add_parser("back")
    b.add_argument("port", type=int)
    b.add_argument("stats")
    b.add_argument("stream")
    b.set_defaults(fn=cmd_back)
    lp = sub.add_parser("loop")
    lp.add_argument("cmd", nargs=argparse.REMAINDER)
    lp.set_defaults(fn=cmd_loop)
    opts = ap.parse_args()
    if opts.cmd_name == "loop" and opts.cmd[:1] == ["--"]:
        opts.cmd = opts.cmd[1:]
    opts.fn(opts)


if __name__ == "__main__":
    main()
