#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Save and decode one frame from framerouter's raw MJPEG port.

    videodecode.py [HOST:PORT] [-o frame.jpg]

Connects to a framerouter --listen address (default 127.0.0.1:12346), reads until
it has the first whole JPEG frame, saves it, decodes it with OpenCV and prints its
size. The raw port sends plain concatenated JPEGs, so any client only has to find
where one frame ends. Do that by walking the JPEG markers (ITU-T T.81 Annex B), not
by searching for FF D9: segment payloads such as an Exif thumbnail may contain
FF D9 themselves.

Needs python3-opencv (Debian) or opencv-python (pip).
"""

import argparse
import socket
import sys

import cv2
import numpy as np

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA


class Reader:
    """Bytes from the socket, read on demand."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def need(self, n):
        """Makes sure the buffer holds at least n bytes."""
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed before a whole frame arrived")
            self.buf += chunk


def read_frame(r):
    """Returns the bytes of the first whole JPEG frame the reader sees."""
    # Start at SOI (FF D8). framerouter always starts at a frame boundary, but
    # skipping to the first SOI makes this work with other sources too.
    start = 0
    while True:
        r.need(start + 2)
        if r.buf[start] == 0xFF and r.buf[start + 1] == SOI:
            break
        start += 1
    i = start + 2
    while True:
        # Header part: a marker is FF followed by a code; extra FFs are fill bytes.
        r.need(i + 2)
        if r.buf[i] != 0xFF:
            raise ValueError("broken JPEG: no marker at byte %d" % i)
        code = r.buf[i + 1]
        if code == 0xFF:
            i += 1
            continue
        i += 2
        if code == EOI:
            return bytes(r.buf[start:i])
        if code == 0x01 or 0xD0 <= code <= 0xD7:   # TEM and RSTn have no length
            continue
        # Any other marker has a segment; its 2-byte length counts itself.
        r.need(i + 2)
        i += (r.buf[i] << 8) | r.buf[i + 1]
        if code != SOS:
            continue
        # After the scan header comes entropy-coded data. In it, FF 00 is a
        # stuffed FF byte, FF D0..D7 are restart markers and FF FF is fill; any
        # other FF xx is the next marker (EOI, or tables and another scan).
        while True:
            r.need(i + 2)
            j = r.buf.find(b"\xff", i, len(r.buf) - 1)
            if j < 0:
                i = len(r.buf) - 1     # keep a possible trailing FF
                r.need(i + 2)
                continue
            code = r.buf[j + 1]
            if code == 0x00 or 0xD0 <= code <= 0xD7:
                i = j + 2
            elif code == 0xFF:
                i = j + 1
            else:
                i = j
                break


def parse_addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


def main():
    p = argparse.ArgumentParser(description="Save and decode one frame from a "
                                "framerouter raw MJPEG port.")
    p.add_argument("addr", nargs="?", default="127.0.0.1:12346", help="HOST:PORT "
                   "(default 127.0.0.1:12346)")
    p.add_argument("-o", "--output", default="frame.jpg", help="where to save the frame "
                   "(default frame.jpg)")
    p.add_argument("--timeout", type=float, default=10, help="seconds to wait (default 10)")
    a = p.parse_args()
    try:
        host, port = parse_addr(a.addr)
        with socket.create_connection((host, port), timeout=a.timeout) as sock:
            frame = read_frame(Reader(sock))
    except (OSError, EOFError, ValueError) as e:
        print("videodecode: %s: %s" % (a.addr, e), file=sys.stderr)
        return 1
    with open(a.output, "wb") as fp:
        fp.write(frame)
    image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        print("videodecode: OpenCV cannot decode the frame saved in %s" % a.output,
              file=sys.stderr)
        return 1
    height, width = image.shape[:2]
    print("%s: %d bytes, %dx%d" % (a.output, len(frame), width, height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
