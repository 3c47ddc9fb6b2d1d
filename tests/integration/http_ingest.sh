#!/bin/bash
# SPDX-License-Identifier: MIT
# HTTP ingest and multipart streams with the real clients: ffmpeg pushes over
# HTTP PUT (chunked) into named streams; ffmpeg, ffprobe, OpenCV and a strict
# multipart parser read /stream/NAME and get decodable frames of the right size,
# byte-identical to what was pushed; two named streams at once stay separate.
# curl pushes with a Content-Length, chunked, by POST and as a multipart body,
# each publishing exactly its frames (also two pushes and a GET on one kept-alive
# connection); --max-streams and bad stream names are refused; oversize and
# truncated frames over HTTP are dropped and counted; ?fps=2 caps a subscriber
# and counts fps_cap drops; a slow HTTP subscriber skips frames, a stuck one is
# cut, a fast one misses nothing; HTTP and raw TCP producers replace each other
# (the replaced one's connection is closed).
. "$(dirname "$0")/lib.sh"
need curl ffmpeg ffprobe
"$PY" -c 'import cv2' 2>/dev/null || skip "OpenCV for $PY not found (Debian package python3-opencv)"

FPS=15
fix=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
fix_bytes=$(stat -c %s "$fix")
frames slice "$fix" "$T/fix-last.jpg" --start 9 --count 1 || fail "frames.py slice"

# encode NAME WxH SECONDS: a testsrc2 MJPEG source in $T/NAME.mjpeg.
encode() {
	timeout 60 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=$2:rate=$FPS" -t "$3" \
		-c:v mjpeg -q:v 5 -f mjpeg "$T/$1.mjpeg" || fail "ffmpeg cannot make $1.mjpeg"
}
encode cam1 320x240 4
encode cam2 640x360 4
n_cam1=$(frame_count "$T/cam1.mjpeg")
((n_cam1 == 4 * FPS)) || fail "cam1.mjpeg has $n_cam1 frames, expected $((4 * FPS))"

# dims FILE: WIDTHxHEIGHT of the first video stream of FILE or URL, per ffprobe.
dims() {
	timeout 30 ffprobe -v error -select_streams v:0 -show_entries stream=width,height \
		-of csv=s=x:p=0 "$1" 2>&1 | head -n 1
}

# frames_are FILE N: FILE holds exactly N whole frames (for wait_until).
frames_are() { [[ -f $1 ]] && (($(frame_count "$1") == $2)); }

# stop_bg PID: SIGTERM to a background helper, and wait for it.
stop_bg() {
	kill -TERM "$1" 2>/dev/null
	wait_exit "$FR_WAIT" "$1"
}

fr_start_http ingest --validate

# ---- ffmpeg encodes live and PUTs (chunked) into a new stream ----
# At debug level ffmpeg logs the request head it sends.
bg timeout 60 ffmpeg -nostdin -loglevel debug -re -f lavfi -i "testsrc2=size=320x240:rate=$FPS" \
	-t 3 -c:v mjpeg -q:v 5 -f mjpeg -method PUT "$URL/ingest/live" 2>"$T/ffmpeg-live.log"
live_pid=$BG_PID
wait_json "$FR_WAIT" '"live" in s and s["live"]["frames_in"] >= 1'
bg timeout 60 "$PY" "$HTTP_PY" stream "$URL/stream/live" "$T/live.mjpeg" --ready "$T/live.port" \
	--timeout 30
live_sub=$BG_PID
wait_exit 60 "$live_pid"
((WAIT_RC == 0)) || fail "ffmpeg -method PUT $URL/ingest/live exited with $WAIT_RC: $(grep -v '^\[' "$T/ffmpeg-live.log" | tail -n 5)"
grep -q '^Transfer-Encoding: chunked' "$T/ffmpeg-live.log" ||
	fail "ffmpeg did not send its PUT chunked: $(grep -A5 'request:' "$T/ffmpeg-live.log")"
wait_json "$FR_WAIT" 'not s["live"]["producer_connected"]'
expect_json 's["live"]["frames_in"]' $((3 * FPS))
expect_json 's["live"]["producer_connects"]' 1
expect_json 's["live"]["garbage_bytes"]' 0
expect_json '[s["live"]["dropped"][k] for k in ("fps_cap", "invalid", "oversize", "truncated")]' '[0, 0, 0, 0]'
expect_json 's["live"]["latest_frame"]["width"]' 320
expect_json 's["live"]["latest_frame"]["height"]' 240
wait_until "$FR_WAIT" "the /stream/live subscriber to connect" test -s "$T/live.port"
live_port=$(cat "$T/live.port")
# Everything sent to the subscriber has arrived once its file holds as many
# whole frames as the daemon counts for it.
_live_synced() {
	stats_json
	[[ $(json_eval "client('live', $live_port)['frames_sent']") == "$(frame_count "$T/live.mjpeg")" ]]
}
wait_until "$FR_WAIT" "the /stream/live subscriber to get what it was sent" _live_synced
stop_bg "$live_sub"
n_live=$(frame_count "$T/live.mjpeg")
((n_live >= 10)) || fail "the /stream/live subscriber got only $n_live frames of a 3 s stream"
frames check "$T/live.mjpeg" --source "$T/live.mjpeg" --expect all >/dev/null ||
	fail "the /stream/live capture is not back-to-back whole frames"
decodes "$T/live.mjpeg"
expect_http 200 "$T/live.jpg" "$URL/snapshot/live"
[[ $(dims "$T/live.jpg") == 320x240 ]] || fail "/snapshot/live is $(dims "$T/live.jpg"), expected 320x240"
note "ffmpeg PUT (live encode): $((3 * FPS)) frames in, a subscriber decoded $n_live frames"
fr_stop

# ---- two named streams at once, read by ffmpeg, ffprobe, OpenCV and a strict parser ----
fr_start_http two --validate
cam_pids=()
for cam in cam1 cam2; do
	bg timeout 120 ffmpeg -nostdin -v error -re -stream_loop -1 -f mjpeg -framerate "$FPS" \
		-i "$T/$cam.mjpeg" -c copy -f mjpeg -method PUT "$URL/ingest/$cam" 2>"$T/ffmpeg-$cam.log"
	cam_pids+=("$BG_PID")
done
wait_json "$FR_WAIT" '"cam1" in s and "cam2" in s and s["cam1"]["frames_in"] >= 2 and s["cam2"]["frames_in"] >= 2'
# A looping producer may wrap around: frame 59 then frame 0.
twice1=(--source "$T/cam1.mjpeg" --source "$T/cam1.mjpeg")
twice2=(--source "$T/cam2.mjpeg" --source "$T/cam2.mjpeg")

# The fps-capped and uncapped subscribers run while the other clients read.
bg timeout 60 "$PY" "$HTTP_PY" stream "$URL/stream/cam1?fps=2" "$T/capped.mjpeg" --duration 3 \
	--hold --ready "$T/capped.port" --result "$T/capped.result"
capped_pid=$BG_PID
bg timeout 60 "$PY" "$HTTP_PY" stream "$URL/stream/cam1" "$T/free.mjpeg" --duration 3 \
	--hold --ready "$T/free.port" --result "$T/free.result"
free_pid=$BG_PID

timeout 60 ffmpeg -nostdin -v error -i "$URL/stream/cam1" -frames:v 10 -c copy -f mjpeg \
	"$T/ff-cam1.mjpeg" || fail "ffmpeg could not read 10 frames from /stream/cam1"
check_capture "$T/ff-cam1.mjpeg" "${twice1[@]}" --min 10
decodes "$T/ff-cam1.mjpeg"
out=$(timeout 60 ffmpeg -nostdin -v error -i "$URL/stream/cam2" -frames:v 10 -f null - 2>&1) ||
	fail "ffmpeg could not decode 10 frames from /stream/cam2: $out"
[[ -z $out ]] || fail "ffmpeg decoding /stream/cam2 said: $out"
for kv in "cam1 320x240" "cam2 640x360"; do
	read -r cam wh <<<"$kv"
	got=$(dims "$URL/stream/$cam")
	[[ $got == "$wh" ]] || fail "ffprobe /stream/$cam: $got, expected $wh"
done
note "ffmpeg read and decoded /stream/cam1 (byte-identical) and /stream/cam2; ffprobe sees 320x240 and 640x360"

timeout 60 "$PY" - "$URL" >"$T/cv2.out" 2>&1 <<-'EOF'
	import sys
	import cv2
	url = sys.argv[1]
	for cam, shape in (("cam1", (240, 320, 3)), ("cam2", (360, 640, 3))):
	    cap = cv2.VideoCapture("%s/stream/%s" % (url, cam))
	    if not cap.isOpened():
	        sys.exit("cv2.VideoCapture(%s/stream/%s) did not open" % (url, cam))
	    n = 0
	    for _ in range(10):
	        ok, img = cap.read()
	        if not ok:
	            sys.exit("%s: read() failed after %d frames" % (cam, n))
	        if img.shape != shape:
	            sys.exit("%s: frame %d has shape %s, expected %s" % (cam, n, img.shape, shape))
	        if img.std() < 10:
	            sys.exit("%s: frame %d is flat (std %.1f)" % (cam, n, img.std()))
	        n += 1
	    backend = cap.getBackendName()
	    cap.release()
	    print("%s: OpenCV (%s) decoded %d frames of %dx%d" % (cam, backend, n, shape[1], shape[0]))
EOF
rc=$?
cat "$T/cv2.out"
((rc == 0)) || fail "OpenCV could not read the streams"

http_client stream "$URL/stream/cam2" "$T/strict-cam2.mjpeg" --frames 15 --timeout 30 ||
	fail "the strict multipart reader failed on /stream/cam2"
check_capture "$T/strict-cam2.mjpeg" "${twice2[@]}" --min 15

for kv in "cam1 320x240" "cam2 640x360"; do
	read -r cam wh <<<"$kv"
	expect_http 200 "$T/snap-$cam.jpg" "$URL/snapshot/$cam"
	check_capture "$T/snap-$cam.jpg" --source "$T/$cam.mjpeg" --min 1
	[[ $(dims "$T/snap-$cam.jpg") == "$wh" ]] || fail "/snapshot/$cam is $(dims "$T/snap-$cam.jpg")"
done
stats_json
expect_json 'sorted(s)' '["cam1", "cam2", "default"]'
for kv in "cam1 320 240" "cam2 640 360"; do
	read -r cam w h <<<"$kv"
	expect_json "s['$cam']['latest_frame']['width'], s['$cam']['latest_frame']['height']" "[$w, $h]"
	expect_json "s['$cam']['producer_connected']" true
	expect_json "s['$cam']['producer_connects']" 1
	expect_json "s['$cam']['producer'].startswith('127.0.0.1:')" true
	expect_json "s['$cam']['garbage_bytes']" 0
	expect_json "s['$cam']['input_fps'] > 0" true
done
expect_json 's["default"]["frames_in"]' 0
note "two named streams: snapshots, captures and /stats stay apart (320x240 and 640x360)"

# ?fps=2 over 3 s of a 15 fps stream.
wait_until 30 "the fps-capped subscriber's result" test -s "$T/capped.result"
wait_until 30 "the uncapped subscriber's result" test -s "$T/free.result"
note "?fps=2: $(cat "$T/capped.result"); uncapped: $(cat "$T/free.result")"
capped_fps=$(sed 's/.* fps=\([0-9.]*\).*/\1/' "$T/capped.result")
"$PY" -c 'import sys; f = float(sys.argv[1]); sys.exit(0 if 1 <= f <= 4 else 1)' "$capped_fps" ||
	fail "?fps=2 gave $capped_fps fps on average over 3 s of a $FPS fps stream (expected 1..4)"
check_capture "$T/capped.mjpeg" "${twice1[@]}" --min 2
check_capture "$T/free.mjpeg" "${twice1[@]}" --min 2
capped_port=$(cat "$T/capped.port") free_port=$(cat "$T/free.port")
stats_json
expect_json "client('cam1', $capped_port)['protocol']" http
expect_json "client('cam1', $capped_port)['dropped']['fps_cap'] > 0" true
expect_json "client('cam1', $free_port)['dropped']['fps_cap']" 0
expect_json 's["cam1"]["dropped"]["fps_cap"] > 0' true
expect_json 's["cam2"]["dropped"]["fps_cap"]' 0
expect_http 200 "$T/metrics.txt" "$URL/metrics"
grep -qE '^framerouter_frames_dropped_total\{stream="cam1",reason="fps_cap"\} [1-9][0-9]*$' "$T/metrics.txt" ||
	fail "/metrics has no fps_cap drops for cam1: $(grep fps_cap "$T/metrics.txt")"
note "?fps=2: fps_cap drops counted for that client only ($(json_eval "client('cam1', $capped_port)['dropped']"))"
stop_bg "$capped_pid"
stop_bg "$free_pid"
stop_bg "${cam_pids[0]}"
stop_bg "${cam_pids[1]}"
fr_stop

# ---- curl: Content-Length, chunked, POST and multipart bodies ----
long_name=$(printf 'n%.0s' {1..64})
fr_start_http curl --stream up
expect_http 503 "$T/r" "$URL/snapshot/up"
bg timeout 60 "$PY" "$HTTP_PY" stream "$URL/stream/up" "$T/up.mjpeg" --hold --ready "$T/up.port" \
	--timeout 60
up_sub=$BG_PID
wait_until "$FR_WAIT" "the /stream/up subscriber" test -s "$T/up.port"
up_port=$(cat "$T/up.port")
wait_json "$FR_WAIT" 's["up"]["clients"] == 1'

n_in=0 bytes_in=0 sources=()
# sent FILE FRAMES BYTES: a push of FILE's FRAMES frames in BYTES body bytes is done.
sent() {
	n_in=$((n_in + $2)) bytes_in=$((bytes_in + $3))
	sources+=(--source "$1")
}
# pushed FILE FRAMES BYTES LAST: sent, and the stream took in exactly the frames and
# bytes sent so far, the last frame being LAST.
pushed() {
	sent "$1" "$2" "$3"
	wait_json "$FR_WAIT" "s['up']['frames_in'] == $n_in and not s['up']['producer_connected']"
	expect_json 's["up"]["bytes_in"]' "$bytes_in"
	expect_json 's["up"]["garbage_bytes"]' 0
	# (The subscriber may skip frames as slow_client; nothing else is dropped.)
	expect_json '[s["up"]["dropped"][k] for k in ("fps_cap", "invalid", "oversize", "truncated")]' '[0, 0, 0, 0]'
	expect_http 200 "$T/snap.jpg" "$URL/snapshot/up"
	cmp -s "$T/snap.jpg" "$4" || fail "/snapshot/up is not the last frame of $1"
}

expect_http 204 "$T/r" -v -T "$fix" "$URL/ingest/up"
grep -q "^> Content-Length: $fix_bytes" "$T/r.err" || fail "curl -T FILE did not send a Content-Length"
pushed "$fix" 10 "$fix_bytes" "$T/fix-last.jpg"
expect_http 204 "$T/r" -v -T - -H 'Transfer-Encoding: chunked' "$URL/ingest/up" <"$fix"
grep -q '^> Transfer-Encoding: chunked' "$T/r.err" || fail "curl -T - did not send chunked"
pushed "$fix" 10 "$fix_bytes" "$T/fix-last.jpg"
expect_http 204 "$T/r" -X POST -H 'Content-Type: image/jpeg' --data-binary "@$fix" "$URL/ingest/up"
pushed "$fix" 10 "$fix_bytes" "$T/fix-last.jpg"
note "curl -T (Content-Length), -T - (chunked) and POST --data-binary each published exactly 10 frames"

# A multipart/x-mixed-replace body, with a Content-Length and chunked.
cat "$FR_FIXTURES_DIR/baseline.jpg" "$FR_FIXTURES_DIR/progressive.jpg" \
	"$FR_FIXTURES_DIR/restart.jpg" >"$T/three.mjpeg"
http_client multipart "$T/three.multipart" "$T/three.mjpeg" --boundary x || fail "http_client.py multipart"
mp_bytes=$(stat -c %s "$T/three.multipart")
expect_http 204 "$T/r" -H 'Content-Type: multipart/x-mixed-replace;boundary=x' \
	--data-binary "@$T/three.multipart" "$URL/ingest/up"
pushed "$T/three.mjpeg" 3 "$mp_bytes" "$FR_FIXTURES_DIR/restart.jpg"
http_client multipart "$T/fix.multipart" "$fix" --boundary framerouter-frame || fail "http_client.py multipart"
expect_http 204 "$T/r" -T - -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: multipart/x-mixed-replace; boundary=framerouter-frame' "$URL/ingest/up" \
	<"$T/fix.multipart"
pushed "$fix" 10 "$(stat -c %s "$T/fix.multipart")" "$T/fix-last.jpg"
note "multipart bodies (Content-Length and chunked): exact frames, garbage_bytes 0"

# Two pushes and then a GET, on one kept-alive connection.
curl -sS -v --max-time "$FR_WAIT" -o /dev/null -o /dev/null -T "$T/three.mjpeg" "$URL/ingest/up" \
	-T "$fix" "$URL/ingest/up" --next -o "$T/next.jpg" "$URL/snapshot/up" 2>"$T/two.err" ||
	fail "two curl -T and a GET on one connection"
(($(grep -c 'Re-using existing connection' "$T/two.err") == 2)) ||
	fail "curl did not reuse the connection after a PUT: $(grep -E '^\* (Re-using|Connected|Closing)' "$T/two.err")"
(($(grep -c '^< HTTP/1.1 204' "$T/two.err") == 2)) || fail "two PUTs: $(grep '^< HTTP' "$T/two.err")"
cmp -s "$T/next.jpg" "$T/fix-last.jpg" || fail "GET /snapshot/up after two PUTs on the same connection"
sent "$T/three.mjpeg" 3 "$(stat -c %s "$T/three.mjpeg")"
pushed "$fix" 10 "$fix_bytes" "$T/fix-last.jpg"
expect_json 's["up"]["producer_connects"]' 7

# The subscriber connected before the first push got whole frames only, in order,
# and was sent or skipped every one.
wait_json "$FR_WAIT" "client('up', $up_port)['frames_sent'] + client('up', $up_port)['dropped']['slow_client'] == $n_in"
up_sent=$(json_eval "client('up', $up_port)['frames_sent']")
wait_until "$FR_WAIT" "the /stream/up subscriber to read what it was sent" \
	frames_are "$T/up.mjpeg" "$up_sent"
stop_bg "$up_sub"
check_capture "$T/up.mjpeg" "${sources[@]}" --min 1
note "/stream/up got $up_sent of $n_in frames (the rest counted as slow_client), byte-identical and in order"

# Stream names: 64 characters are fine, 65 and odd characters are refused.
expect_http 204 "$T/r" -T "$fix" "$URL/ingest/$long_name"
for bad in "${long_name}n" 'bad!name' 'a%20b' 'caf%C3%A9' '%2e%2e'; do
	expect_http 400 "$T/r" -T "$fix" "$URL/ingest/$bad"
done
stats_json
expect_json 'sorted(s)' "[\"default\", \"$long_name\", \"up\"]"
note "a 64-character name is created; 65 characters and names outside [A-Za-z0-9._-] get 400"
fr_stop

# ---- --max-streams; oversize and truncated frames over HTTP ----
fr_start_http max --max-streams 2 --max-frame-size 64K
expect_http 204 "$T/r" -T "$fix" "$URL/ingest/cam1"
expect_http 503 "$T/r" -T "$fix" "$URL/ingest/cam2"
grep -q 'max-streams' "$T/r" || fail "the 503 does not say why: $(cat "$T/r")"
expect_http 204 "$T/r" -T "$fix" "$URL/ingest/cam1"
expect_http 204 "$T/r" -T "$fix" "$URL/ingest/default"
expect_http 404 "$T/r" "$URL/snapshot/cam2"
wait_json "$FR_WAIT" 's["cam1"]["frames_in"] == 20 and s["default"]["frames_in"] == 10'
expect_json 'sorted(s)' '["cam1", "default"]'
note "--max-streams 2: a third stream gets 503; the existing ones still take pushes"

big=$FR_FIXTURES_DIR/large-1080p.jpg
(($(stat -c %s "$big") > 65536)) || fail "$big should be larger than 64K"
cat "$big" "$fix" >"$T/big.mjpeg"
expect_http 204 "$T/r" -T "$T/big.mjpeg" "$URL/ingest/cam1"
wait_json "$FR_WAIT" 's["cam1"]["frames_in"] == 30 and not s["cam1"]["producer_connected"]'
expect_json 's["cam1"]["dropped"]["oversize"]' 1
frames slice "$fix" "$T/fix-first.jpg" --start 0 --count 1 || fail "frames.py slice"
first_bytes=$(stat -c %s "$T/fix-first.jpg")
http_client push "$URL/ingest/cam1" "$fix" --abort-after $((first_bytes + 1000)) ||
	fail "http_client.py push --abort-after"
wait_json "$FR_WAIT" 's["cam1"]["frames_in"] == 31 and not s["cam1"]["producer_connected"]'
expect_json 's["cam1"]["dropped"]["truncated"]' 1
expect_json 's["cam1"]["dropped"]["oversize"]' 1
expect_json 's["cam1"]["dropped"]["invalid"]' 0
expect_http 200 "$T/snap.jpg" "$URL/snapshot/cam1"
cmp -s "$T/snap.jpg" "$T/fix-first.jpg" || fail "/snapshot/cam1 is not the last whole frame of the cut push"
grep -q 'dropped frame: truncated' "$FR_LOG" || fail "no log line for the truncated frame"
note "over HTTP, a frame above --max-frame-size counts as oversize, a body cut mid-frame as truncated"
fr_stop

# ---- slow and stuck HTTP subscribers ----
# 720p at 30 fps (about 1.4 MB/s), so that a reader of 100 kB/s falls behind
# by more than the kernel buffers and the daemon has to skip frames for it.
timeout 60 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1280x720:rate=30" -t 3 \
	-c:v mjpeg -q:v 5 -f mjpeg "$T/hd.mjpeg" || fail "ffmpeg cannot make hd.mjpeg"
# The producer loops the 3 s clip; the captures may span several loops (more on a busy
# machine, where cutting the stuck subscriber takes longer), each in order.
looped_hd=()
for _ in 1 2 3 4 5 6 7 8; do looped_hd+=(--source "$T/hd.mjpeg"); done
fr_start_http slow --client-timeout 2
bg_frames 120 push "$INGEST" "$T/hd.mjpeg" --fps 30 --loop
hd_push=$BG_PID
wait_json "$FR_WAIT" 's["default"]["frames_in"] >= 1'
bg timeout 90 "$PY" "$HTTP_PY" stuck "$URL/stream" --ready "$T/stuck.port"
stuck_pid=$BG_PID
bg timeout 90 "$PY" "$HTTP_PY" stream "$URL/stream" "$T/slow.mjpeg" --duration 80 --rate 100000 \
	--ready "$T/slow.port" --timeout 80
slow_pid=$BG_PID
bg timeout 90 "$PY" "$HTTP_PY" stream "$URL/stream" "$T/fast.mjpeg" --duration 80 \
	--ready "$T/fast.port" --timeout 80
fast_pid=$BG_PID
for who in stuck slow fast; do
	wait_until "$FR_WAIT" "the $who subscriber to connect" test -s "$T/$who.port"
done
stuck_port=$(cat "$T/stuck.port") slow_port=$(cat "$T/slow.port") fast_port=$(cat "$T/fast.port")
wait_until 60 "the daemon to cut the stuck subscriber" \
	grep -q "subscriber 127.0.0.1:$stuck_port: closed: no write progress" "$FR_LOG"
wait_json 60 "client('default', $slow_port)['dropped']['slow_client'] > 0"
expect_json 's["default"]["clients"]' 2
expect_json "client('default', $stuck_port)" null
expect_json "client('default', $fast_port)['dropped']['slow_client']" 0
note "slow subscriber: $(json_eval "client('default', $slow_port)"); fast: $(json_eval "client('default', $fast_port)")"
stop_bg "$slow_pid"
stop_bg "$fast_pid"
check_capture "$T/slow.mjpeg" "${looped_hd[@]}" --min 1
check_capture "$T/fast.mjpeg" "${looped_hd[@]}" --min 10
note "a slow HTTP subscriber skips frames (counted) and gets whole ones in order; a stuck one is cut after --client-timeout; a fast one misses nothing"
stop_bg "$stuck_pid"
stop_bg "$hd_push"
fr_stop

# ---- HTTP and raw TCP producers replace each other ----
fr_start_http replace
bg timeout 60 "$PY" "$HTTP_PY" stream "$URL/stream" "$T/rep.mjpeg" --hold --timeout 60 \
	--ready "$T/rep.port"
rep_sub=$BG_PID
wait_until "$FR_WAIT" "the subscriber to connect" test -s "$T/rep.port"
rep_port=$(cat "$T/rep.port")

# producer_is PORT: /stats names 127.0.0.1:PORT as the connected producer.
producer_is() {
	stats_json
	[[ $(json_eval 's["default"]["producer"]') == "127.0.0.1:$1" ]]
}
# http_push NAME: an HTTP producer looping over the fixture at 15 fps; its pid
# in BG_PID, its output in $T/NAME.out.
http_push() {
	bg timeout 60 "$PY" "$HTTP_PY" push "$URL/ingest" "$fix" --fps "$FPS" --loop \
		--ready "$T/$1.port" >"$T/$1.out"
	wait_until "$FR_WAIT" "producer $1 to connect" test -s "$T/$1.port"
	wait_until "$FR_WAIT" "producer $1 to be the stream's producer" producer_is "$(cat "$T/$1.port")"
}
# replaced NAME PID BY: producer NAME (pid PID) ended because the daemon closed its
# connection, and the daemon logged that producer BY replaces it.
replaced() {
	wait_exit "$FR_WAIT" "$2"
	grep -q 'closed by peer' "$T/$1.out" || fail "producer $1 was not closed by the daemon: $(cat "$T/$1.out")"
	grep -q "producer 127.0.0.1:$(cat "$T/$3.port") replaces 127.0.0.1:$(cat "$T/$1.port")" "$FR_LOG" ||
		fail "no log line 'producer ... replaces ...' for $3 replacing $1"
}

# frames_flow: the current producer's frames flow: stream default takes 3 more.
frames_flow() {
	local before
	before=$(json_eval 's["default"]["frames_in"]')
	wait_json "$FR_WAIT" "s['default']['frames_in'] >= $before + 3"
}

http_push h1
h1_pid=$BG_PID
wait_json "$FR_WAIT" 's["default"]["frames_in"] >= 3'
bg_frames 60 push "$INGEST" "$fix" --fps "$FPS" --loop --ready "$T/r1.port" >"$T/r1.out" 2>&1
r1_pid=$BG_PID
wait_until "$FR_WAIT" "the raw producer to connect" test -s "$T/r1.port"
wait_until "$FR_WAIT" "the raw producer to replace the HTTP one" producer_is "$(cat "$T/r1.port")"
replaced h1 "$h1_pid" r1
note "a raw TCP producer replaced an HTTP one: $(cat "$T/h1.out")"

frames_flow
http_push h2
h2_pid=$BG_PID
replaced r1 "$r1_pid" h2
note "an HTTP producer replaced a raw one: $(tail -n 1 "$T/r1.out")"

frames_flow
http_push h3
h3_pid=$BG_PID
replaced h2 "$h2_pid" h3
note "an HTTP producer replaced an HTTP one: $(cat "$T/h2.out")"
frames_flow
expect_json 's["default"]["producer_connects"]' 4
expect_json 's["default"]["producer_connected"]' true
expect_json 's["default"]["clients"]' 1
expect_json 's["default"]["garbage_bytes"]' 0
stop_bg "$h3_pid"
wait_json "$FR_WAIT" 'not s["default"]["producer_connected"]'
wait_json "$FR_WAIT" "client('default', $rep_port)['frames_sent'] + client('default', $rep_port)['dropped']['slow_client'] == s['default']['frames_in']"
rep_sent=$(json_eval "client('default', $rep_port)['frames_sent']")
wait_until "$FR_WAIT" "the subscriber to read what it was sent" \
	frames_are "$T/rep.mjpeg" "$rep_sent"
stop_bg "$rep_sub"
# Producers were cut anywhere, so the subscriber's frames come from several
# passes over the fixture; each must still be a whole fixture frame.
"$PY" - "$T/rep.mjpeg" "$fix" "$(dirname "$HTTP_PY")" <<-'EOF' || fail "the subscriber got something other than whole source frames"
	import os, sys
	sys.path.insert(0, sys.argv[3])
	import frames
	src = {f for f in frames.source_frames([sys.argv[2]])}
	got = frames.split_frames(open(sys.argv[1], "rb").read(), strict=True)
	bad = [i for i, (_, f) in enumerate(got) if f not in src]
	print("replace: the subscriber got %d whole frames, %d not from the source" % (len(got), len(bad)))
	sys.exit(1 if bad or len(got) < 3 else 0)
EOF
fr_stop
finish
