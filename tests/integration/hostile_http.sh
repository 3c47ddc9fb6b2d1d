#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile HTTP peers (issue 10, points 2, 3, 6 and 7), each through real sockets:
#  1. Streams created by PUT /ingest/NAME expire after --stream-idle-timeout without
#     a producer or subscriber: 70 empty pushes no longer fill --max-streams for
#     good; the removal is logged, counted (streams_expired) and gone from /stats;
#     declared streams never expire; a stream in use does not.
#  2. Connections that never send a request do not use up --max-clients: with
#     --max-clients 3, idle connections leave /stats and /stream answering; beyond
#     --max-pending the oldest idle one is closed (pending_evicted); one peer is
#     held to --max-pending-per-peer without touching another's.
#  3. 1000 connect-and-close subscribers write a bounded number of log lines.
#  4. A 204 carries no Content-Length; /snapshot/defaul%74 is stream default;
#     PUT /ingest/.. is refused; HTTP/1.0 keep-alive is kept alive and says so.
. "$(dirname "$0")/lib.sh"
need curl

FIX=$FR_FIXTURES_DIR/baseline.jpg

# idle_conns N FILE [SRC]: opens N TCP connections to HTTP (from SRC, default
# 127.0.0.1) that send nothing, in the background; FILE gets "open N" once they are
# connected, then one line "closed I" whenever the daemon closes connection I.
cat >"$T/idle.py" <<-'EOF'
	import select, socket, sys
	port, n, out, src = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
	socks = []
	for i in range(n):
	    s = socket.socket()
	    s.bind((src, 0))
	    s.connect(("127.0.0.1", port))
	    socks.append(s)
	log = open(out, "w", buffering=1)
	log.write("open %d\n" % n)
	alive = set(range(n))
	while alive:
	    r, _, _ = select.select([socks[i] for i in alive], [], [], 60)
	    if not r:
	        break
	    for s in r:
	        i = socks.index(s)
	        if s.recv(4096) == b"":
	            log.write("closed %d\n" % i)
	            alive.discard(i)
EOF
idle_conns() { bg "$PY" "$T/idle.py" "$HTTP_PORT" "$1" "$2" "${3:-127.0.0.1}"; }
closed_count() { grep -cs '^closed' "$1" || true; }

# ---- 1. pushed streams expire ----
fr_start_http expire --stream-idle-timeout 1 --max-streams 64 --stream decl
for i in $(seq 1 70); do
	http_fetch "$T/push" -X PUT -H 'Content-Length: 0' --data-binary '' "$URL/ingest/empty$i"
	[[ $HTTP_CODE == 204 ]] && continue
	# The 63 free places are taken by the first pushes; each later one must wait
	# until an earlier stream expires.
	((i > 60)) || fail "push $i: status $HTTP_CODE before --max-streams could be reached"
	wait_until 10 "a stream to expire for push $i" \
		sh -c "curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Length: 0' \
			--data-binary '' '$URL/ingest/empty$i' | grep -qx 204"
done
note "70 empty pushes into --max-streams 64 all got 204: the first streams expired meanwhile"
wait_json 10 'set(s) == {"default", "decl"}'
wait_json 5 'j["streams_expired"] == 70'
grep -q 'stream empty1: removed after .* without a producer or a subscriber' "$FR_LOG" ||
	fail "no log line for an expired stream"
note "all 70 expired (streams_expired=70); default and the declared stream stay"
# A stream with a subscriber does not expire; once the subscriber leaves, it does.
expect_http 204 "$T/push" -T "$FIX" "$URL/ingest/watched"
bg timeout 30 curl -sN -o "$T/watched.mjpeg" "$URL/stream/watched"
watcher=$BG_PID
wait_json 5 's["watched"]["clients"] == 1'
sleep 2.5
expect_json 'int("watched" in s)' 1
note "a stream with a subscriber outlives the idle timeout"
kill "$watcher"
wait_json 10 '"watched" not in s'
fr_stop

# ---- 2. the pending budget ----
fr_start_http pending --max-clients 3 --max-pending 8 --max-pending-per-peer 5
idle_conns 5 "$T/idle-a"
wait_until 10 "5 idle connections from 127.0.0.1" grep -qs '^open' "$T/idle-a"
wait_json 5 'j["connections_pending"] == 5'
# The issue's case: idle connections left /stats answering 503 with --max-clients 3.
expect_http 200 "$T/stats" "$URL/stats"
note "5 idle connections and --max-clients 3: /stats answers 200"
# A sixth from the same peer evicts that peer's oldest.
idle_conns 1 "$T/idle-a6"
wait_until 10 "127.0.0.1's oldest idle connection to be closed" \
	test "$(closed_count "$T/idle-a")" -ge 1
grep -qx 'closed 0' "$T/idle-a" || fail "not the oldest was closed: $(cat "$T/idle-a")"
# Another peer is not held to 127.0.0.1's share: 3 more from 127.0.0.2 fit in the
# budget of 8 without closing anything of theirs.
idle_conns 3 "$T/idle-b" 127.0.0.2
wait_until 10 "3 idle connections from 127.0.0.2" grep -qs '^open' "$T/idle-b"
wait_json 5 'j["connections_pending"] == 8'
(($(closed_count "$T/idle-b") == 0)) || fail "127.0.0.2 lost connections to 127.0.0.1's cap"
# The budget is full: a real request still gets through, closing the oldest.
expect_http 200 "$T/stats" "$URL/stats"
bg timeout 30 curl -sN -o "$T/sub.mjpeg" "$URL/stream"
wait_json 5 's["default"]["clients"] == 1'
evicted=$(json_eval 'j["pending_evicted"]')
((evicted >= 2)) || fail "pending_evicted is $evicted, expected at least 2"
note "budget of 8 full of idle connections: /stats and /stream still served; pending_evicted=$evicted"
grep -q 'connections without a request is full: closing the oldest' "$FR_LOG" ||
	fail "no log line for an evicted connection"
fr_stop

# ---- 3. connection floods are logged rate-limited ----
fr_start_http flood
flood_start=$(date +%s%N)
"$PY" - "$LISTEN_PORT" <<-'EOF' || fail "connect-and-close flood failed"
	import socket, sys
	for _ in range(1000):
	    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	    s.close()
EOF
wait_json 10 's["default"]["clients"] == 0'
flood_ms=$(elapsed_ms "$flood_start")
sleep 1.2	# a last line after the window, to report what was suppressed
"$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' \
	"$LISTEN_PORT"
lines=$(grep -cE 'subscriber [^ ]+ (connected|closed)|subscriber 127[^ ]*: closed' "$FR_LOG")
note "1001 connect-and-close subscribers in $flood_ms ms wrote $lines connect/close lines"
# 10 a second (FR_STREAM_LOG_BURST), in as many windows as the flood took to pass.
((lines <= 10 * (flood_ms / 1000 + 2) + 1)) ||
	fail "$lines log lines for 1001 connections in $flood_ms ms: not rate-limited"
grep -q 'more suppressed)' "$FR_LOG" || fail "no '(N more suppressed)' line after the flood"
fr_stop

# ---- 4. small things ----
fr_start_http small
expect_http 204 "$T/r" -T "$FIX" "$URL/ingest/default"
grep -qi '^content-length' "$T/r.head" && fail "a 204 carries Content-Length: $(cat "$T/r.head")"
note "204 without Content-Length"
expect_http 200 "$T/snap.jpg" "$URL/snapshot/defaul%74"
cmp -s "$T/snap.jpg" "$FIX" || fail "/snapshot/defaul%74 is not the frame pushed to default"
expect_http 400 "$T/r" "$URL/snapshot/%zz"
expect_http 404 "$T/r" "$URL/snapshot/%64efault%2F"
note "/snapshot/defaul%74 serves stream default; a bad escape is 400, %2F no stream (404)"
for bad in .. . '%2e%2e' ...; do
	expect_http 400 "$T/r" --path-as-is -X PUT --data-binary "@$FIX" "$URL/ingest/$bad"
done
expect_json 'sorted(s)' '["default"]'
note "PUT /ingest/.. (and ., %2e%2e, ...) is refused with 400"
"$PY" - "$HTTP_PORT" >"$T/keepalive.out" <<-'EOF' || fail "HTTP/1.0 keep-alive: $(cat "$T/keepalive.out")"
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	f = s.makefile("rb")
	def get(extra):
	    s.sendall(b"GET /stats HTTP/1.0\r\n" + extra + b"\r\n")
	    head = {}
	    status = f.readline()
	    while True:
	        line = f.readline().strip()
	        if not line:
	            break
	        k, v = line.split(b":", 1)
	        head[k.strip().lower()] = v.strip().lower()
	    f.read(int(head[b"content-length"]))
	    return status, head
	st, h = get(b"Connection: keep-alive\r\n")
	assert b" 200 " in st and h.get(b"connection") == b"keep-alive", (st, h)
	st, h = get(b"Connection: keep-alive\r\n")
	assert b" 200 " in st and h.get(b"connection") == b"keep-alive", (st, h)
	st, h = get(b"")
	assert b" 200 " in st and h.get(b"connection") == b"close", (st, h)
	assert f.read(1) == b"", "not closed after an HTTP/1.0 request without keep-alive"
	print("ok")
EOF
note "HTTP/1.0 keep-alive is kept alive and answered with Connection: keep-alive"
fr_stop
finish
