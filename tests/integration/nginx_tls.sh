#!/bin/bash
# SPDX-License-Identifier: MIT
# The nginx recipe (contrib/nginx-framerouter.conf), run as it is but for addresses
# and paths: Debian's nginx on loopback with a self-signed certificate (openssl) in
# front of framerouter, which wants a subscribe and an ingest token.
#  - curl --cacert reads /stream/default through nginx: every whole part it got is
#    a source frame, byte for byte, in order;
#  - with the producer paused, a new viewer through nginx still gets the latest frame
#    whole at once, with the boundary after it (proxy_buffering off: nginx holds
#    nothing back);
#  - /snapshot/default through nginx is the latest frame, with X-Frame-Age and
#    Last-Modified; ?wait= is answered by the next frame;
#  - a PUT /ingest/pushed with a chunked body passes through (proxy_request_buffering
#    off) and its frames arrive;
#  - the token, given as ?token=, is in neither nginx's access log nor framerouter's.
. "$(dirname "$0")/lib.sh"
require nginx openssl curl
need curl

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
TOKEN=nginx-secret
INTOKEN=nginx-ingest

# A certificate for localhost and 127.0.0.1, valid for a day.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.log" ||
	fail "openssl could not make a certificate: $(tail -n 3 "$T/openssl.log")"

fr_start_http daemon --subscribe-token "$TOKEN" --ingest-token "$INTOKEN" --allow http=127.0.0.1/32
HTTP_AUTH=(-H "Authorization: Bearer $TOKEN")	# for the direct requests
pick_ports 1
TLS_PORT=${PORTS[0]}
TLS=https://localhost:$TLS_PORT

# The recipe with this test's addresses and files; nothing else changes.
mkdir -p "$T/nginx/tmp"
chmod 777 "$T/nginx/tmp"	# nginx's workers run as nobody when it starts as root
sed -e "s|listen 443 ssl;|listen 127.0.0.1:$TLS_PORT ssl;|" \
	-e "s|server 127.0.0.1:8080;|server $HTTP;|" \
	-e "s|/etc/ssl/certs/camera.example.org.pem|$T/cert.pem|" \
	-e "s|/etc/ssl/private/camera.example.org.key|$T/key.pem|" \
	-e "s|/var/log/nginx/framerouter.log|$T/nginx/access.log|" \
	"$FR_SRCDIR/contrib/nginx-framerouter.conf" >"$T/nginx/site.conf"
(($(diff "$FR_SRCDIR/contrib/nginx-framerouter.conf" "$T/nginx/site.conf" | grep -c '^>') == 5)) ||
	fail "the recipe's addresses and paths are not where the test expects them"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log info;
events { worker_connections 64; }
http {
	client_body_temp_path $T/nginx/tmp/body;
	proxy_temp_path $T/nginx/tmp/proxy;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	access_log off;
	include $T/nginx/site.conf;
}
EOF
nginx -t -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" >"$T/nginx/test.log" 2>&1 ||
	fail "nginx -t refuses the recipe: $(tail -n 5 "$T/nginx/test.log")"
bg nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"
_fr_daemons+=("$T/nginx/error.log")
wait_until "$FR_WAIT" "nginx to listen on $TLS_PORT" is_listening "$TLS_PORT"

# tls_fetch OUT URL [CURL_ARG...]: curl through nginx, trusting only our certificate.
tls_fetch() {
	local out=$1 url=$2
	shift 2
	http_fetch "$out" --cacert "$T/cert.pem" "$@" "$url"
}

# ---- /stream: whole frames, byte for byte, in order ----
bg_frames 120 push "$INGEST" "$src" --fps 10 --loop
push_pid=$BG_PID
wait_stat "$FR_WAIT" frames_in -ge 2
HTTP_CODE=$(curl -sS --cacert "$T/cert.pem" --max-time 3 -D "$T/stream.head" -o "$T/stream.body" \
	-w '%{http_code}' "$TLS/stream/default?token=$TOKEN" 2>"$T/stream.err")
[[ $HTTP_CODE == 200 ]] || fail "GET /stream through nginx: status $HTTP_CODE: $(cat "$T/stream.err")"
[[ $(header_of "$T/stream.head" Content-Type) == "multipart/x-mixed-replace;boundary=framerouter-frame" ]] ||
	fail "GET /stream through nginx: Content-Type $(header_of "$T/stream.head" Content-Type)"

# parts BODY SOURCE MIN: the whole parts of a multipart body (the last one may be cut
# short by the end of the capture) are source frames in order, at least MIN of them.
parts() {
	"$PY" - "$@" <<-'EOF'
		import hashlib, os, sys
		sys.path.insert(0, os.environ["FR_HERE"])
		import frames
		body = open(sys.argv[1], "rb").read()
		src = [hashlib.sha256(f).digest() for f in frames.source_frames([sys.argv[2]])]
		delim = b"--framerouter-frame\r\n"
		if not body.startswith(delim):
		    sys.exit("the body does not start with the boundary: %r" % body[:40])
		at, got = len(delim), []
		while True:
		    head_end = body.find(b"\r\n\r\n", at)
		    if head_end < 0:
		        break
		    head = body[at:head_end].decode("latin-1").lower().split("\r\n")
		    if "content-type: image/jpeg" not in head:
		        sys.exit("part at %d: headers %s" % (at, head))
		    n = [int(h.split(":")[1]) for h in head if h.startswith("content-length:")]
		    start = head_end + 4
		    end = start + n[0] if n else body.find(b"\r\n" + delim, start)
		    if not n and end < 0:
		        break
		    if len(body) < end + 2 + len(delim):
		        break	# the capture ended inside this part
		    if body[end:end + 2 + len(delim)] != b"\r\n" + delim:
		        sys.exit("part at %d: no boundary after its %d bytes" % (at, end - start))
		    h = hashlib.sha256(body[start:end]).digest()
		    if h not in src:
		        sys.exit("part at %d (%d bytes) is no source frame" % (at, end - start))
		    got.append(src.index(h))
		    at = end + 2 + len(delim)
		in_order = all((b - a) % len(src) >= 1 for a, b in zip(got, got[1:]))
		print("%d whole parts, source frames %s" % (len(got), got))
		if len(got) < int(sys.argv[3]) or not in_order:
		    sys.exit("expected at least %s whole parts in order" % sys.argv[3])
	EOF
}
export FR_HERE
FR_HERE=$(dirname "$FRAMES_PY")
out=$(parts "$T/stream.body" "$src" 10 2>&1) || fail "/stream through nginx: $out"
note "/stream through nginx for 3 s: $out"

# ---- the latest frame of a paused stream comes whole at once ----
kill -TERM "$push_pid"
wait_exit "$FR_WAIT" "$push_pid"
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_http 200 "$T/latest.jpg" "${HTTP_AUTH[@]}" "$URL/snapshot/default"
curl -sS --cacert "$T/cert.pem" --max-time 2 -o "$T/paused.body" \
	"$TLS/stream/default?token=$TOKEN" 2>/dev/null
out=$(parts "$T/paused.body" "$src" 1 2>&1) || fail "a paused stream through nginx: $out"
"$PY" - "$T/paused.body" "$T/latest.jpg" <<-'EOF' || fail "a paused stream through nginx did not bring its latest frame whole"
	import sys
	body, latest = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
	sys.exit(0 if latest + b"\r\n--framerouter-frame\r\n" in body else 1)
EOF
note "a paused stream through nginx: its latest frame came whole with the boundary after it ($out)"

# ---- /snapshot through nginx, with its age; ?wait= answered by the next frame ----
tls_fetch "$T/snap.jpg" "$TLS/snapshot/default?token=$TOKEN"
[[ $HTTP_CODE == 200 ]] || fail "GET /snapshot through nginx: status $HTTP_CODE"
cmp -s "$T/snap.jpg" "$T/latest.jpg" || fail "/snapshot through nginx is not the latest frame"
age=$(header_of "$T/snap.jpg.head" X-Frame-Age)
[[ $age =~ ^[0-9]+\.[0-9]{3}$ ]] || fail "X-Frame-Age through nginx: '$age'"
[[ -n $(header_of "$T/snap.jpg.head" Last-Modified) ]] || fail "no Last-Modified through nginx"
tls_fetch "$T/nope.txt" "$TLS/snapshot/default"
[[ $HTTP_CODE == 401 ]] || fail "GET /snapshot through nginx without a token: status $HTTP_CODE"
curl -sS --cacert "$T/cert.pem" --max-time 20 -D "$T/wait.head" -o "$T/wait.jpg" \
	"$TLS/snapshot/default?wait=15&token=$TOKEN" 2>"$T/wait.err" &
wait_pid=$!
track "$wait_pid"
wait_json "$FR_WAIT" "j['connections_pending'] >= 1"
push_frame "$INGEST" "$src" 3 "$T/next.jpg"
wait_exit 20 "$wait_pid"
((WAIT_RC == 0)) || fail "the waiting snapshot through nginx failed: $(cat "$T/wait.err")"
cmp -s "$T/wait.jpg" "$T/next.jpg" || fail "?wait= through nginx did not answer the next frame"
note "/snapshot through nginx: the latest frame (X-Frame-Age $age); ?wait= answered by the next"

# ---- an ingest body streams through ----
HTTP_CODE=$(curl -sS --cacert "$T/cert.pem" --max-time 20 -o /dev/null -w '%{http_code}' \
	-H 'Transfer-Encoding: chunked' -H 'Content-Type: image/jpeg' -T "$src" \
	"$TLS/ingest/pushed?token=$INTOKEN" 2>"$T/put.err")
[[ $HTTP_CODE == 204 ]] || fail "PUT /ingest through nginx: status $HTTP_CODE: $(cat "$T/put.err")"
stats_json
expect_json "s['pushed']['frames_in']" 10
expect_json "s['pushed']['dropped']['truncated']" 0

# ---- tokens stay out of both logs ----
grep -c "GET /stream/default " "$T/nginx/access.log" >/dev/null ||
	fail "nginx's access log has no line for /stream: $(head -n 3 "$T/nginx/access.log")"
for log in "$T/nginx/access.log" "$FR_LOG"; do
	grep -qE -- "$TOKEN|$INTOKEN" "$log" && fail "a token appears in $log: $(grep -E -- "$TOKEN|$INTOKEN" "$log" | head -n 2)"
done
note "nginx's access log: $(head -n 1 "$T/nginx/access.log")"
fr_stop
finish
