#!/bin/bash
# SPDX-License-Identifier: MIT
# The HTTP endpoints with curl and a strict stdlib client (http_client.py):
# /snapshot bytes equal the latest source frame (503 before the first frame, 404
# for an unknown stream); HEAD gives the GET's headers and no body; exact /stats
# counters after a known push, with an http and a raw subscriber in client_list;
# /metrics says what /stats says and passes `promtool check metrics`; 404, 405
# (with Allow), 431, 400 (bad ?fps=), 401 (ingest and subscribe tokens, Bearer or
# ?token=, from the command line or a file) and 503 (--max-clients counts
# subscribers, not producers); 411; keep-alive, Connection: close, HTTP/1.0 and
# pipelined requests; a client that never completes its request head is closed;
# --http on unix:PATH and [::1]. Exit 77 only when promtool (Debian package
# prometheus) is missing, after every other check has passed.
. "$(dirname "$0")/lib.sh"
need curl

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
expect_frames "$src" 10
frames slice "$src" "$T/last.jpg" --start 9 --count 1 || fail "frames.py slice"
src_bytes=$(stat -c %s "$src")
last_bytes=$(stat -c %s "$T/last.jpg")
# A second stream, pushed over HTTP: three different encoder outputs.
cat "$FR_FIXTURES_DIR/baseline.jpg" "$FR_FIXTURES_DIR/progressive.jpg" \
	"$FR_FIXTURES_DIR/restart.jpg" >"$T/three.mjpeg"
expect_frames "$T/three.mjpeg" 3

# body_has FILE TEXT: the response body saved in FILE mentions TEXT.
body_has() { grep -qF -- "$2" "$1" || fail "the response body does not mention '$2': $(head -c 300 "$1")"; }

# expect_header HEADFILE NAME VALUE
expect_header() {
	local v
	v=$(header_of "$1" "$2")
	[[ $v == "$3" ]] || fail "header $2 is '$v', expected '$3' ($(tr -d '\r' <"$1" | head -n 1))"
}

# fields_diff GET.head HEAD.head: the header fields whose values differ between
# two saved response heads (empty when they agree).
fields_diff() {
	"$PY" - "$1" "$2" <<-'EOF'
		import sys
		def fields(path):
		    lines = open(path, "rb").read().decode("latin-1").split("\r\n")[1:]
		    return {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines if ":" in l}
		get, head = fields(sys.argv[1]), fields(sys.argv[2])
		for k in sorted(set(get) | set(head)):
		    if get.get(k) != head.get(k):
		        print("%s: GET %r, HEAD %r;" % (k, get.get(k), head.get(k)), end=" ")
	EOF
}

# ---- before the first frame ----
fr_start_http main
expect_http 503 "$T/r" "$URL/snapshot"
body_has "$T/r" "no frame yet"
expect_header "$T/r.head" Content-Type "text/plain; charset=utf-8"
expect_header "$T/r.head" Content-Length "$(stat -c %s "$T/r")"
expect_http 503 "$T/r" "$URL/snapshot/default"
expect_http 404 "$T/r" "$URL/snapshot/nope"
body_has "$T/r" "nope"
expect_http 404 "$T/r" "$URL/stream/nope"
expect_http 404 "$T/r" -I "$URL/snapshot/nope"
stats_json
expect_json 'sorted(s)' '["default"]'
expect_json 'j["version"]' "$("$FR_BIN" --version | head -n 1 | awk '{ print $NF }')"
expect_json 's["default"]["latest_frame"]' null
expect_json 's["default"]["frames_in"]' 0
expect_json 's["default"]["client_list"]' '[]'
note "no frame yet: /snapshot 503 with a plain-text reason; unknown stream 404"

# ---- a known push: the raw ingest gets 10 frames, /ingest/cam1 gets 3 ----
frames push "$INGEST" "$src" >/dev/null || fail "frames.py push"
wait_json "$FR_WAIT" 's["default"]["frames_in"] == 10 and not s["default"]["producer_connected"]'
expect_json 's["default"]["bytes_in"]' "$src_bytes"
expect_json 's["default"]["frames_out"]' 0
expect_json 's["default"]["bytes_out"]' 0
expect_json 's["default"]["dropped"]' \
	'{"slow_client": 0, "fps_cap": 0, "invalid": 0, "oversize": 0, "truncated": 0, "scale_invalid": 0}'
expect_json 's["default"]["garbage_bytes"]' 0
expect_json 's["default"]["clients"]' 0
expect_json 's["default"]["clients_refused"]' 0
expect_json 's["default"]["producer_connects"]' 1
expect_json 's["default"]["producer"]' null
expect_json 's["default"]["latest_frame"]["bytes"]' "$last_bytes"
expect_json 'type(s["default"]["latest_frame"]["age_s"]).__name__' float
expect_json 'type(j["uptime_s"]).__name__' float

expect_http 204 "$T/r" -T "$T/three.mjpeg" "$URL/ingest/cam1"
wait_json "$FR_WAIT" '"cam1" in s and s["cam1"]["frames_in"] == 3 and not s["cam1"]["producer_connected"]'
expect_json 's["cam1"]["bytes_in"]' "$(stat -c %s "$T/three.mjpeg")"
expect_json 's["cam1"]["garbage_bytes"]' 0
expect_json 's["cam1"]["producer_connects"]' 1
expect_json 's["cam1"]["latest_frame"]["bytes"]' "$(stat -c %s "$FR_FIXTURES_DIR/restart.jpg")"
expect_json 's["default"]["frames_in"]' 10
note "exact /stats counters after 10 frames on the raw ingest and 3 on /ingest/cam1"

# ---- /snapshot is the latest frame, byte for byte ----
for path in /snapshot /snapshot/ /snapshot/default; do
	expect_http 200 "$T/snap.jpg" "$URL$path"
	cmp -s "$T/snap.jpg" "$T/last.jpg" || fail "GET $path is not the last source frame"
	expect_header "$T/snap.jpg.head" Content-Type image/jpeg
	expect_header "$T/snap.jpg.head" Content-Length "$last_bytes"
done
decodes "$T/snap.jpg"
expect_http 200 "$T/snap1.jpg" "$URL/snapshot/cam1"
cmp -s "$T/snap1.jpg" "$FR_FIXTURES_DIR/restart.jpg" || fail "/snapshot/cam1 is not restart.jpg"
note "/snapshot and /snapshot/cam1 are byte-identical to the last frames pushed"

# ---- HEAD: the GET's headers, no body ----
expect_http 200 "$T/r" -I "$URL/snapshot"
expect_header "$T/r.head" Content-Type image/jpeg
expect_header "$T/r.head" Content-Length "$last_bytes"
expect_http 200 "$T/r" -I "$URL/stats"
expect_header "$T/r.head" Content-Type application/json
expect_http 200 "$T/r" -I "$URL/stream"
[[ $(header_of "$T/r.head" Content-Type) == multipart/x-mixed-replace* ]] ||
	fail "HEAD /stream: Content-Type $(header_of "$T/r.head" Content-Type)"
# GET /stream has no Content-Length (the body ends with the connection), so
# HEAD /stream must not send one (RFC 9110 section 8.6: only the GET body's
# length), and it should send the GET's other header fields (section 9.3.2).
http_client stream "$URL/stream" "$T/one.mjpeg" --frames 1 --head-out "$T/get-stream.head" \
	>/dev/null || fail "GET /stream"
head_diff=$(fields_diff "$T/get-stream.head" "$T/r.head")
[[ -z $head_diff ]] || defect "HEAD /stream headers differ from GET /stream's: $head_diff"
# Pipelined in one write, HEAD then GET: the GET's status line must come right
# after the HEAD's head (no body in between), with the same Content-Length. Both
# are answered in one loop iteration, so even /stats has the same length.
http_client request "$HTTP" 'HEAD /snapshot' 'GET /snapshot' 'HEAD /stats' 'GET /stats' \
	'HEAD /metrics' 'GET /metrics' --out "$T/pipe" >"$T/pipe.out" ||
	fail "pipelined HEAD/GET: $(cat "$T/pipe.out")"
cat "$T/pipe.out"
mapfile -t lines <"$T/pipe.out"
((${#lines[@]} == 6)) || fail "6 pipelined requests got ${#lines[@]} responses"
for k in 0 2 4; do
	read -r _ st_h len_h body_h <<<"${lines[k]}"
	read -r _ st_g len_g body_g <<<"${lines[k + 1]}"
	[[ $st_h == 200 && $st_g == 200 ]] || fail "HEAD/GET pair $k: status $st_h/$st_g"
	[[ $body_h == body=0 ]] || fail "HEAD $k: $body_h"
	[[ $len_h == "$len_g" && $body_g == "body=${len_g#content-length=}" ]] ||
		fail "HEAD/GET pair $k: HEAD $len_h, GET $len_g $body_g"
done
cmp -s "$T/pipe/1.body" "$T/last.jpg" || fail "pipelined GET /snapshot is not the last frame"
for k in 0 2 4; do
	d=$(fields_diff "$T/pipe/$((k + 1)).head" "$T/pipe/$k.head")
	[[ -z $d ]] || fail "HEAD and GET headers differ for request pair $k: $d"
done
note "HEAD /snapshot, /stats, /metrics: the GET's Content-Length, no body"

# ---- keep-alive and pipelining ----
curl -sS -v --max-time "$FR_WAIT" -o /dev/null -o /dev/null -o /dev/null \
	"$URL/stats" "$URL/snapshot" "$URL/metrics" 2>"$T/curl-v.txt" || fail "curl with three URLs"
grep -q 'Re-using existing connection' "$T/curl-v.txt" ||
	fail "curl did not reuse the connection: $(grep -E '^\* ' "$T/curl-v.txt" | head -n 20)"
(($(grep -c 'Connected to' "$T/curl-v.txt") == 1)) ||
	fail "curl connected $(grep -c 'Connected to' "$T/curl-v.txt") times for three URLs"
http_client request "$HTTP" --one-by-one 'GET /stats' 'GET /snapshot/cam1' 'HEAD /' \
	'GET /metrics' >"$T/seq.out" || fail "keep-alive requests: $(cat "$T/seq.out")"
[[ $(awk '{ print $2 }' "$T/seq.out" | tr '\n' ' ') == "200 200 200 200 " ]] ||
	fail "keep-alive requests: $(cat "$T/seq.out")"
http_client request "$HTTP" 'GET /snapshot/cam1' 'GET /nothing' 'POST /stats' 'GET /stats' \
	>"$T/pipe2.out" || fail "pipelined requests: $(cat "$T/pipe2.out")"
[[ $(awk '{ print $2 }' "$T/pipe2.out" | tr '\n' ' ') == "200 404 405 200 " ]] ||
	fail "pipelined requests with errors between: $(cat "$T/pipe2.out")"
note "keep-alive: curl reused one connection for 3 URLs; 4 requests one by one and 4 pipelined (errors included) on one connection"

# ---- /stats with an http and a raw subscriber ----
wait_json "$FR_WAIT" 's["default"]["clients"] == 0'
out0=$(json_eval 's["default"]["frames_out"]') bytes0=$(json_eval 's["default"]["bytes_out"]')
bg_frames 60 capture "$LISTEN" "$T/raw.mjpeg" --ready "$T/raw.port"
bg timeout 60 "$PY" "$HTTP_PY" stream "$URL/stream" "$T/http.mjpeg" --frames 1 --hold \
	--ready "$T/http.port" --result "$T/http.result"
wait_until "$FR_WAIT" "the http subscriber's first part" test -s "$T/http.result"
wait_until "$FR_WAIT" "the raw subscriber's first frame" has_frames "$T/raw.mjpeg" 1
grep -q '^frames=1 ' "$T/http.result" || fail "http subscriber: $(cat "$T/http.result")"
raw_port=$(cat "$T/raw.port") http_port=$(cat "$T/http.port")
http_bytes=$(sed 's/.* bytes=//' "$T/http.result")
wait_json "$FR_WAIT" "s['default']['clients'] == 2 and s['default']['frames_out'] == $out0 + 2"
expect_json "client('default', $raw_port)['peer']" "127.0.0.1:$raw_port"
expect_json "client('default', $raw_port)['protocol']" raw
expect_json "client('default', $raw_port)['frames_sent']" 1
expect_json "client('default', $raw_port)['bytes_sent']" "$last_bytes"
expect_json "client('default', $raw_port)['dropped']" '{"slow_client": 0, "fps_cap": 0}'
expect_json "client('default', $http_port)['peer']" "127.0.0.1:$http_port"
expect_json "client('default', $http_port)['protocol']" http
expect_json "client('default', $http_port)['frames_sent']" 1
expect_json "client('default', $http_port)['bytes_sent']" "$http_bytes"
expect_json "client('default', $http_port)['dropped']" '{"slow_client": 0, "fps_cap": 0}'
expect_json "client('default', $http_port)['connected_s'] >= 0" true
expect_json 's["default"]["bytes_out"]' "$((bytes0 + last_bytes + http_bytes))"
expect_json 'len(s["default"]["client_list"])' 2
expect_json 's["cam1"]["client_list"]' '[]'
check_capture "$T/raw.mjpeg" --source "$src" --expect 9
check_capture "$T/http.mjpeg" --source "$src" --expect 9
note "client_list: raw and http subscribers with exact frames and bytes (http: $http_bytes bytes with the multipart framing)"

# ---- /metrics says what /stats says, and promtool accepts it ----
expect_http 200 "$T/metrics.txt" "$URL/metrics"
expect_header "$T/metrics.txt.head" Content-Type "text/plain; version=0.0.4; charset=utf-8"
# Both in one write: answered in the same loop iteration, so every value,
# uptime and ages included, must be equal.
http_client request "$HTTP" 'GET /stats' 'GET /metrics' --out "$T/sm" >"$T/sm.out" ||
	fail "GET /stats + /metrics: $(cat "$T/sm.out")"
"$PY" - "$T/sm/0.body" "$T/sm/1.body" >"$T/compare.out" 2>&1 <<-'EOF'
	import json, re, sys
	j = json.load(open(sys.argv[1]))
	samples = {}
	for line in open(sys.argv[2]):
	    line = line.rstrip("\n")
	    if not line or line.startswith("#"):
	        continue
	    m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
	    if not m:
	        sys.exit("unparsable sample line: %r" % line)
	    labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
	    samples[(m.group(1), labels)] = float(m.group(3))
	want = {}
	def put(name, value, **labels):
	    want[(name, tuple(sorted(labels.items())))] = float(value)
	# Every counter of /stats, found by its kind rather than from a list: an integer
	# or true/false is a counter, framerouter_KEY_total, or a gauge, framerouter_KEY
	# (whichever /metrics has); a number named NAME_s is seconds,
	# framerouter_NAME_seconds(_total); a group object is one family with a label; a
	# histogram object (count, sum, buckets) is one Prometheus histogram.
	groups = {"dropped": ("framerouter_frames_dropped_total", "reason")}
	def put_counter(key, value, **labels):
	    name = "framerouter_%s" % key
	    if (name, tuple(sorted(labels.items()))) not in samples:
	        name += "_total"
	    put(name, int(value), **labels)
	def put_counters(obj, **labels):
	    for key, v in obj.items():
	        if key in groups:
	            family, label = groups[key]
	            for k, n in v.items():
	                put(family, n, **labels, **{label: k})
	        elif isinstance(v, dict) and set(v) == {"count", "sum", "buckets"}:
	            # A histogram: framerouter_KEY_bucket{le=...}, _sum and _count.
	            for le, n in v["buckets"].items():
	                put("framerouter_%s_bucket" % key, n, **labels, le=le)
	            put("framerouter_%s_sum" % key, v["sum"], **labels)
	            put("framerouter_%s_count" % key, v["count"], **labels)
	        elif isinstance(v, (bool, int)):
	            put_counter(key, v, **labels)
	        elif isinstance(v, float) and key.endswith("_s"):
	            name = "framerouter_%s_seconds" % key[:-2]
	            if (name, tuple(sorted(labels.items()))) not in samples:
	                name += "_total"
	            put(name, v, **labels)
	for name, st in j["streams"].items():
	    put_counters(st, stream=name)
	    put("framerouter_input_fps", st["input_fps"], stream=name)
	    lf = st["latest_frame"]
	    put("framerouter_latest_frame_bytes", lf["bytes"] if lf else 0, stream=name)
	    if lf:
	        put("framerouter_latest_frame_age_seconds", lf["age_s"], stream=name)
	put_counters(j)
	put("framerouter_uptime_seconds", j["uptime_s"])
	put("framerouter_build_info", 1, version=j["version"])
	bad = 0
	for k, v in sorted(want.items()):
	    if k not in samples:
	        print("missing in /metrics: %s%s (/stats: %s)" % (k[0], dict(k[1]), v)); bad += 1
	    elif samples[k] != v:
	        print("%s%s: /metrics %s, /stats %s" % (k[0], dict(k[1]), samples[k], v)); bad += 1
	for k in sorted(set(samples) - set(want)):
	    print("in /metrics, not in /stats: %s%s" % (k[0], dict(k[1]))); bad += 1
	print("%d samples compared, %d differences" % (len(want), bad))
	sys.exit(1 if bad else 0)
EOF
rc=$?
cat "$T/compare.out"
((rc == 0)) || fail "/metrics and /stats disagree"
grep -q '^framerouter_frames_in_total{stream="cam1"} 3$' "$T/sm/1.body" ||
	fail "no framerouter_frames_in_total{stream=\"cam1\"} 3 in /metrics"
have_promtool=0
if command -v promtool >/dev/null 2>&1; then
	have_promtool=1
	for f in "$T/metrics.txt" "$T/sm/1.body"; do
		out=$(promtool check metrics <"$f" 2>&1) || fail "promtool check metrics: $out"
		[[ -z $out ]] || fail "promtool check metrics has remarks: $out"
	done
	note "/metrics matches /stats sample for sample and passes promtool check metrics"
fi

# ---- the page ----
expect_http 200 "$T/page.html" "$URL/"
[[ $(header_of "$T/page.html.head" Content-Type) == text/html* ]] || fail "GET / is not text/html"
body_has "$T/page.html" "/stats"
body_has "$T/page.html" "/stream/"
! grep -qiE '(src|href)="(https?:)?//' "$T/page.html" || fail "GET / loads external assets"

# ---- errors: 404, 405, 431, 400 ----
for path in /nothing /streams /stream/a/b /snapshotx /stats/x /ingest/a/b; do
	expect_http 404 "$T/r" "$URL$path"
done
expect_http 405 "$T/r" -X POST "$URL/stats"
expect_header "$T/r.head" Allow "GET, HEAD"
expect_http 405 "$T/r" -X PUT --data-binary x "$URL/metrics"
expect_header "$T/r.head" Allow "GET, HEAD"
expect_http 405 "$T/r" -X POST --data-binary x "$URL/snapshot"
expect_header "$T/r.head" Allow "GET, HEAD"
expect_http 405 "$T/r" "$URL/ingest/x"
expect_header "$T/r.head" Allow "PUT, POST"
expect_http 405 "$T/r" -I "$URL/ingest"
expect_header "$T/r.head" Allow "PUT, POST"
expect_http 411 "$T/r" -X PUT "$URL/ingest/x"
expect_http 411 "$T/r" -X POST "$URL/ingest/x"
stats_json
expect_json '"x" in s' false
# Connection: close and HTTP/1.0 end the connection after the response.
http_client request "$HTTP" 'GET /stats' 'GET /stats' --header 'Connection: close' >"$T/close.out"
if [[ $(head -n 1 "$T/close.out") != "0 200 "* ]] || ! grep -q '^1 .*connection closed' "$T/close.out"; then
	fail "Connection: close was not honoured: $(cat "$T/close.out")"
fi
expect_http 200 "$T/r" --http1.0 "$URL/stats"
expect_header "$T/r.head" Connection close

big=$(head -c 9216 /dev/zero | tr '\0' a)
expect_http 431 "$T/r" -H "X-Big: $big" "$URL/stats"
expect_header "$T/r.head" Connection close
expect_http 431 "$T/r" -H "X-A: ${big:0:4700}" -H "X-B: ${big:0:4700}" "$URL/snapshot"
# Just below the limit is fine.
expect_http 200 "$T/r" -H "X-Big: ${big:0:7000}" "$URL/stats"

for q in fps=abc fps=0 fps=-2 fps=1001 'fps=' fps=2x fps=nan fps=inf; do
	expect_http 400 "$T/r" "$URL/stream?$q"
	body_has "$T/r" "fps"
done
expect_http 400 "$T/r" "$URL/stream?fps=%zz"
for q in fps=2 fps=0.5 fps=1000; do
	expect_http 200 "$T/r" -I "$URL/stream?$q"
done
note "404 for unknown paths, 405 with Allow, 411, 431 for a 9 KiB header, 400 for bad ?fps=; Connection: close and HTTP/1.0 close"

# ---- a client that never completes its head is closed ----
# The head timeout is 5 s; the bound here only keeps a broken daemon from
# hanging the test.
bound=$((20 * ${FR_TEST_SLOW:-1}))
bg "$PY" "$HTTP_PY" slow "$HTTP" 'GET /stats HTTP/1.1\r\nHost: x\r\n' --timeout "$bound"
half_pid=$BG_PID
bg "$PY" "$HTTP_PY" slow "$HTTP" \
	'GET /stats HTTP/1.1\r\nHost: x\r\nUser-Agent: a-very-slow-client-sending-one-byte-at-a-time\r\n\r\n' \
	--interval 0.2 --timeout "$bound"
trickle_pid=$BG_PID
wait_exit $((bound + 10)) "$half_pid"
((WAIT_RC == 0)) || fail "a client that sent half a request head was not closed within ${bound}s"
wait_exit $((bound + 10)) "$trickle_pid"
((WAIT_RC == 0)) || fail "a client trickling its request head was not closed within ${bound}s"
expect_http 200 "$T/r" "$URL/stats"
note "half a head and a trickled head: both closed (timings above); the daemon still answers"
fr_stop

# ---- tokens: 401 ----
printf 'sub-s3cret\n' >"$T/sub.token"
fr_start_http tokens --ingest-token ing-s3cret --subscribe-token-file "$T/sub.token"
for auth in "" "-H Authorization:Bearer wrong" "-H Authorization:Bearer sub-s3cret" \
	"-H Authorization:Basic aW5nLXMzY3JldA==" "?token=wrong" "?token=sub-s3cret"; do
	q="" args=()
	[[ $auth == \?* ]] && q=$auth
	[[ $auth == -H* ]] && args=(-H "${auth#-H }")
	expect_http 401 "$T/r" "${args[@]}" -T "$src" "$URL/ingest/cam1$q"
	expect_header "$T/r.head" WWW-Authenticate 'Bearer realm="framerouter"'
done
HTTP_AUTH=(-H "Authorization: Bearer sub-s3cret")
stats_json
expect_json '"cam1" in s' false
expect_http 204 "$T/r" -H "Authorization: Bearer ing-s3cret" -T "$src" "$URL/ingest/cam1"
wait_json "$FR_WAIT" '"cam1" in s and s["cam1"]["frames_in"] == 10 and not s["cam1"]["producer_connected"]'
expect_http 204 "$T/r" -T "$T/three.mjpeg" "$URL/ingest/cam1?token=ing-s3cret"
wait_json "$FR_WAIT" 's["cam1"]["frames_in"] == 13 and not s["cam1"]["producer_connected"]'
expect_json 's["cam1"]["producer_connects"]' 2
note "ingest token: 401 without it, with a wrong one, the subscribe token or Basic; Bearer and ?token= work"

for path in /snapshot/cam1 /stats /metrics /stream/cam1 / "/stream/cam1?fps=2"; do
	expect_http 401 "$T/r" "$URL$path"
	expect_http 401 "$T/r" -H "Authorization: Bearer wrong" "$URL$path"
	expect_http 401 "$T/r" -H "Authorization: Bearer ing-s3cret" "$URL$path"
done
expect_http 401 "$T/r" -I "$URL/snapshot/cam1"
expect_http 401 "$T/r" "$URL/snapshot/cam1?token=wrong"
expect_http 200 "$T/snap.jpg" -H "Authorization: Bearer sub-s3cret" "$URL/snapshot/cam1"
cmp -s "$T/snap.jpg" "$FR_FIXTURES_DIR/restart.jpg" || fail "/snapshot/cam1 with the token is not restart.jpg"
expect_http 200 "$T/snap.jpg" "$URL/snapshot/cam1?token=sub-s3cret"
cmp -s "$T/snap.jpg" "$FR_FIXTURES_DIR/restart.jpg" || fail "/snapshot/cam1?token= is not restart.jpg"
expect_http 200 "$T/r" "$URL/metrics?token=sub-s3cret"
http_client stream "$URL/stream/cam1?token=sub-s3cret" "$T/tok.mjpeg" --frames 1 >/dev/null ||
	fail "/stream/cam1?token= did not stream"
cmp -s "$T/tok.mjpeg" "$FR_FIXTURES_DIR/restart.jpg" || fail "/stream/cam1?token= first part is not restart.jpg"
note "subscribe token (from a file): 401 without it, with a wrong one or the ingest token; Bearer and ?token= work"
fr_stop

printf 'only-ingest\n' >"$T/ing.token"
fr_start_http ingest-token-file --ingest-token-file "$T/ing.token"
HTTP_AUTH=()	# reading is open here
expect_http 401 "$T/r" -T "$src" "$URL/ingest"
expect_http 204 "$T/r" -H "Authorization: Bearer only-ingest" -T "$src" "$URL/ingest"
wait_json "$FR_WAIT" 's["default"]["frames_in"] == 10 and not s["default"]["producer_connected"]'
expect_http 200 "$T/snap.jpg" "$URL/snapshot"
cmp -s "$T/snap.jpg" "$T/last.jpg" || fail "/snapshot is not the last frame"
note "--ingest-token-file: ingest needs the token, reading stays open"
fr_stop

# ---- a full server: 503 ----
fr_start_http full --max-clients 2
frames push "$INGEST" "$src" >/dev/null || fail "frames.py push"
wait_stat "$FR_WAIT" frames_in -eq 10
bg timeout 60 curl -sN -o "$T/c1.mjpeg" "$URL/stream"
bg timeout 60 curl -sN -o "$T/c2.mjpeg" "$URL/stream"
c2_pid=$BG_PID
wait_stat "$FR_WAIT" clients -eq 2
expect_http 503 "$T/r" "$URL/stream"
body_has "$T/r" "max-clients"
# One-shot requests are no subscribers: an operator can still see why it is full.
expect_http 200 "$T/r" "$URL/snapshot"
expect_http 200 "$T/r" "$URL/stats"
json_clients_refused=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["streams"]["default"]["clients_refused"])' "$T/r")
[[ $json_clients_refused == 1 ]] || fail "/stats clients_refused $json_clients_refused after one refused /stream, expected 1"
# The limit counts every kind of subscriber: a raw one is refused too.
frames capture "$LISTEN" "$T/refused.mjpeg" >"$T/refused.out" 2>&1 ||
	fail "raw subscriber: $(cat "$T/refused.out")"
if ! grep -q 'closed by peer' "$T/refused.out" || [[ -s $T/refused.mjpeg ]]; then
	fail "a raw subscriber beyond --max-clients was not refused: $(cat "$T/refused.out")"
fi
fr_stats
expect_stat clients 2
expect_stat clients_refused 2
note "--max-clients 2: with two /stream clients, the next /stream gets 503 and a raw subscriber is refused; /snapshot and /stats still answer"

# --max-clients limits subscribers ("refuse subscribers beyond this many"); a
# producer is none. The raw --ingest takes one whatever the subscribers; so
# should /ingest, or viewers at the limit lock the camera out.
frames push "$INGEST" "$src" >/dev/null || fail "frames.py push to the raw ingest"
wait_stat "$FR_WAIT" frames_in -eq 20
http_fetch "$T/r" -T "$src" "$URL/ingest"
[[ $HTTP_CODE == 204 ]] ||
	defect "with --max-clients 2 taken by two /stream subscribers, PUT /ingest (a producer) got $HTTP_CODE '$(head -c 100 "$T/r")', while the raw --ingest still took a producer"

kill -TERM "$c2_pid"
wait_stat "$FR_WAIT" clients -eq 1
expect_http 200 "$T/snap.jpg" "$URL/snapshot"
cmp -s "$T/snap.jpg" "$T/last.jpg" || fail "/snapshot after the server had room again"
note "with room again, 200"

# One subscriber and one HTTP producer: a second subscriber fits the limit of 2.
bg timeout 60 "$PY" "$HTTP_PY" push "$URL/ingest" "$src" --fps 15 --loop --ready "$T/hp.port"
hp_pid=$BG_PID
wait_until "$FR_WAIT" "the HTTP producer to connect" test -s "$T/hp.port"
wait_stat "$FR_WAIT" producer_connected -eq 1
http_fetch "$T/r" "$URL/snapshot"
[[ $HTTP_CODE == 200 ]] ||
	defect "with --max-clients 2, one /stream subscriber and one HTTP producer, GET /snapshot got $HTTP_CODE '$(head -c 100 "$T/r")': the producer takes a subscriber slot"
kill -TERM "$hp_pid"
wait_exit "$FR_WAIT" "$hp_pid"
fr_stop

# ---- --http on a unix socket and on [::1] ----
fr_start_default unix --http "unix:$T/http.sock"
frames push "$INGEST" "$src" >/dev/null || fail "frames.py push"
wait_stat "$FR_WAIT" frames_in -eq 10
expect_http 200 "$T/snap.jpg" --unix-socket "$T/http.sock" http://localhost/snapshot
cmp -s "$T/snap.jpg" "$T/last.jpg" || fail "/snapshot over unix:$T/http.sock"
expect_http 200 "$T/r" --unix-socket "$T/http.sock" http://localhost/stats
expect_json 's["default"]["frames_in"]' 10 "$T/r"
fr_stop
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	pick_ports 1 v6
	v6_port=${PORTS[0]}
	fr_start_default v6 --http "[::1]:$v6_port"
	frames push "$INGEST" "$src" >/dev/null || fail "frames.py push"
	wait_stat "$FR_WAIT" frames_in -eq 10
	expect_http 200 "$T/snap.jpg" -g "http://[::1]:$v6_port/snapshot"
	cmp -s "$T/snap.jpg" "$T/last.jpg" || fail "/snapshot over [::1]"
	fr_stop
	note "--http unix:PATH and [::1]:PORT serve the same"
else
	note "--http unix:PATH serves the same (no IPv6 here)"
fi

((have_promtool || FR_DEFECTS)) || skip "promtool not found (Debian package prometheus): /metrics was not linted; every other check passed"
finish
