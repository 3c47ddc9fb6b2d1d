# SPDX-License-Identifier: MIT
"""A headless Chromium driven over the DevTools protocol, for the page tests
(http_page.sh, page_streams.sh): a minimal RFC 6455 websocket client (stdlib only),
DevTools calls, and finding the page target of a browser started with
--remote-debugging-port=0 --user-data-dir=PROFILE."""
import base64, hashlib, json, os, socket, time, urllib.parse, urllib.request


class Failed(Exception):
    pass


class WebSocket:
    """A minimal RFC 6455 client: text messages out (masked), messages in."""

    def __init__(self, url, deadline):
        u = urllib.parse.urlsplit(url)
        self.deadline = deadline
        self.s = socket.create_connection((u.hostname, u.port), timeout=self._left())
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (u.path, u.netloc, key)).encode())
        self.buf = bytearray()
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        if lines[0].split(" ")[1:2] != ["101"]:
            raise Failed("DevTools websocket handshake: %s" % lines[0])
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if ("sec-websocket-accept: " + accept).lower() not in (l.lower() for l in lines):
            raise Failed("DevTools websocket handshake: wrong Sec-WebSocket-Accept")

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failed("timed out talking to DevTools")
        return left

    def _fill(self):
        self.s.settimeout(self._left())
        try:
            b = self.s.recv(1 << 16)
        except socket.timeout:
            raise Failed("timed out talking to DevTools")
        if not b:
            raise Failed("DevTools closed the websocket")
        self.buf += b

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _send_frame(self, opcode, payload):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.s.settimeout(self._left())
        self.s.sendall(head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload)))

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._take(2), "big")
            elif n == 127:
                n = int.from_bytes(self._take(8), "big")
            mask = self._take(4) if b1 & 0x80 else None
            data = self._take(n)
            if mask:
                data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 0x8:
                raise Failed("DevTools closed the websocket")
            if op == 0x9:
                self._send_frame(0xA, data)
            elif op in (0x0, 0x1, 0x2):
                message += data
                if b0 & 0x80:
                    return message.decode()


class DevTools:
    def __init__(self, ws_url, deadline):
        self.ws = WebSocket(ws_url, deadline)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:       # events are ignored
                if "error" in msg:
                    raise Failed("DevTools %s: %s" % (method, msg["error"]))
                return msg["result"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise Failed("script in the page failed: %s" % r["exceptionDetails"])
        return json.loads(r["result"]["value"])


def poll(deadline, what, fn):
    while True:
        r = fn()
        if r:
            return r
        if time.monotonic() > deadline:
            raise Failed("timed out waiting for %s" % what)
        time.sleep(0.05)


def page_target(profile, deadline):
    """The DevTools websocket URL of the browser's page."""
    port_file = os.path.join(profile, "DevToolsActivePort")

    def port():
        try:
            with open(port_file) as fp:
                lines = fp.read().split("\n")
            return int(lines[0]) if len(lines) >= 2 and lines[1] else None
        except (OSError, ValueError):
            return None
    p = poll(deadline, "chromium to write %s" % port_file, port)

    def page():
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % p, timeout=5) as r:
                targets = json.load(r)
        except OSError:
            return None
        pages = [t for t in targets if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"] if pages else None
    return poll(deadline, "a page target on DevTools port %d" % p, page)
