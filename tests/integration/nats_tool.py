#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Test helper for tests/integration/nats_cluster.sh (Python 3 stdlib only).

  nats_tool.py pub HOST:PORT SUBJECT COUNT TEXT   publish COUNT core NATS messages
                                                  (plain protocol, no client library)
  nats_tool.py first ADDR PATH [--timeout S]      GET PATH (multipart) and print the
                                                  milliseconds from connect to the
                                                  first whole frame
  nats_tool.py timed ADDR OUT [--http PATH]       subscribe (raw, or HTTP with --http)
                                                  and append "unix_time size" per whole
                                                  frame to OUT until killed
  nats_tool.py gap TIMES AFTER                    the longest wait for a frame after
                                                  unix time AFTER, in ms, from a timed file

Exit status: 0 ok, 1 no frame or no data, 2 usage or I/O error.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frames  # noqa: E402  (the walker and the multipart parser)


def cmd_pub(addr, subject, count, text):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.recv(4096)    # INFO
    payload = text.encode()
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
    for _ in range(count):
        s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
        time.sleep(0.05)    # one at a time, as frames come
    s.sendall(b"PING\r\n")
    data = b""
    while b"PONG" not in data:
        chunk = s.recv(4096)
        if not chunk:
            print("pub: the server closed the connection: %r" % data[:200])
            return 2
        data += chunk
    if b"-ERR" in data:
        print("pub: %r" % data[:200])
        return 2
    return 0


def cmd_first(addr, path, timeout):
    """The first whole JPEG in the body, found by walking it: a lone frame (nothing
    live after it) has no delimiter after it yet to tell the part ended."""
    start = time.monotonic()
    s = frames.connect_http(addr, path)
    s.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                print("first: closed before a frame: %r" % buf[:200])
                return 1
            buf += chunk
            head_end = buf.find(b"\r\n\r\n")
            if not buf.startswith(b"HTTP/1.1 200 ") and head_end >= 0:
                print("first: %r" % buf[:200])
                return 1
            soi = buf.find(b"\xff\xd8", head_end + 4) if head_end >= 0 else -1
            if soi >= 0 and frames.walk_frame(buf, soi) is not None:
                print("%.2f" % ((time.monotonic() - start) * 1000))
                return 0
    except socket.timeout:
        print("first: no frame within %.1f s" % timeout)
        return 1


def cmd_timed(addr, out, path):
    frames.on_sigterm_exit()
    s = frames.connect_http(addr, path) if path else frames.connect(addr)
    ms = frames.MultipartStream() if path else None
    buf = bytearray()
    with open(out, "a") as fp:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return 0
            now = time.time()
            if ms is not None:
                got = [f for _, f in ms.feed(chunk)]
            else:
                buf += chunk
                got = []
                while True:
                    start = buf.find(b"\xff\xd8")
                    if start < 0:
                        break
                    end = frames.walk_frame(bytes(buf), start)
                    if end is None:
                        break
                    got.append(bytes(buf[start:end]))
                    del buf[:end]
            for f in got:
                fp.write("%.6f %d\n" % (now, len(f)))
            fp.flush()


def cmd_gap(path, after):
    times = [float(line.split()[0]) for line in open(path) if line.strip()]
    later = [t for t in times if t > after]
    if not later:
        print("gap: no frame after %.3f" % after)
        return 1
    before = [t for t in times if t <= after]
    prev = before[-1] if before else after
    worst = 0.0
    for t in later:
        worst = max(worst, t - prev)
        prev = t
    print("%.0f" % (worst * 1000))
    return 0


def main():
    a = sys.argv[1:]
    try:
        if len(a) == 5 and a[0] == "pub":
            return cmd_pub(a[1], a[2], int(a[3]), a[4])
        if len(a) in (3, 5) and a[0] == "first":
            return cmd_first(a[1], a[2], float(a[4]) if len(a) == 5 else 5.0)
        if len(a) in (3, 5) and a[0] == "timed":
            return cmd_timed(a[1], a[2], a[4] if len(a) == 5 else None)
        if len(a) == 3 and a[0] == "gap":
            return cmd_gap(a[1], float(a[2]))
    except OSError as e:
        print("nats_tool.py %s: %s" % (a[0], e), file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
