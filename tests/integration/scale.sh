#!/bin/bash
# SPDX-License-Identifier: MIT
# Scaled frames (?scale=, ?q=, listen-scale=) through real sockets: ffprobe, ffmpeg
# and OpenCV read /stream/NAME?scale=1/2 and 1/4 of a 1920x1080 stream and see
# 960x540 and 480x270 pictures; /snapshot?scale= (GET and HEAD, at once or after the
# scaler) decodes at its size; 8 HTTP subscribers of 1/2 make exactly one scale per
# frame, every one of them gets every frame, and nothing is scaled once they have
# left; ?q= and ?scale=auto show in /stats; a raw listener with listen-scale=1/4
# sends 480x270 frames; the counters agree in /stats, /metrics and the SIGUSR1 dump;
# bad values get 400 with a reason, and bad listen-scale= options exit 2.
. "$(dirname "$0")/lib.sh"
need curl ffmpeg ffprobe
"$FR_BIN" --version | grep -q 'scale(libjpeg-turbo)' || skip "built without libjpeg-turbo"

big=$FR_FIXTURES_DIR/large-1080p.jpg
small=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
(($(frame_count "$small") == 10)) || fail "$small should hold 10 frames"

# size_of FILE: "WxH" of the first picture in FILE (a JPEG or concatenated JPEGs).
size_of() {
	ffprobe -v error -f jpeg_pipe -show_entries stream=width,height -of csv=p=0:s=x "$1" |
		head -n 1
}

# expect_size FILE WxH
expect_size() {
	local s
	s=$(size_of "$1")
	[[ $s == "$2" ]] || fail "$1 is $s, expected $2"
}

# ---- options ----
pick_ports 2
"$FR_BIN" --stream "cam,ingest=127.0.0.1:${PORTS[0]},listen-scale=1/2" >"$T/opt.out" 2>&1
rc=$?
((rc == 2)) || fail "listen-scale without listen= exited $rc, expected 2"
grep -qx 'framerouter: --stream cam: listen-scale needs listen=ADDR' "$T/opt.out" ||
	fail "listen-scale without listen=: $(cat "$T/opt.out")"
"$FR_BIN" --stream "cam,listen=127.0.0.1:${PORTS[1]},listen-scale=1/3" >"$T/opt.out" 2>&1
rc=$?
((rc == 2)) || fail "listen-scale=1/3 exited $rc, expected 2"
grep -qx "framerouter: --stream: stream cam: '1/3': expected 1/2, 1/4, 1/8, 1/1 or auto" \
	"$T/opt.out" || fail "listen-scale=1/3: $(cat "$T/opt.out")"
is_listening "${PORTS[1]}" && fail "something listens on ${PORTS[1]} after a refused start"
note "options: listen-scale without listen= and listen-scale=1/3 exit 2 with the reason"

# ---- a 1080p stream, read at 1/2 and 1/4 ----
pick_ports 2
CAM_IN=127.0.0.1:${PORTS[0]} CAM_OUT=127.0.0.1:${PORTS[1]}
fr_start_http main --stream "cam,ingest=$CAM_IN,listen=$CAM_OUT,listen-scale=1/4"
grep -q "stream cam: subscribers read raw MJPEG from $CAM_OUT, scaled 1/4\$" "$FR_LOG" ||
	fail "the listener's log line does not say it scales"
bg_frames 300 push "$INGEST" "$big" --fps 15 --loop
wait_json "$FR_WAIT" 's["default"]["frames_in"] >= 3'

expect_http 200 "$T/half.jpg" "$URL/snapshot?scale=1/2"
[[ $(header_of "$T/half.jpg.head" Content-Type) == image/jpeg ]] || fail "snapshot Content-Type"
[[ $(header_of "$T/half.jpg.head" Content-Length) == "$(stat -c %s "$T/half.jpg")" ]] ||
	fail "snapshot Content-Length"
expect_size "$T/half.jpg" 960x540
decodes "$T/half.jpg"
expect_http 200 "$T/head.out" -I "$URL/snapshot/default?scale=1/8&q=30"
[[ $(header_of "$T/head.out.head" Content-Length) -gt 0 ]] || fail "HEAD snapshot: no length"
[[ $(header_of "$T/head.out.head" Content-Type) == image/jpeg ]] || fail "HEAD Content-Type"
# curl -I writes the head where the body would go: nothing more came.
cmp -s "$T/head.out" "$T/head.out.head" || fail "HEAD snapshot has a body"
expect_http 200 "$T/eighth.jpg" "$URL/snapshot/default?scale=1/8&q=30"
expect_size "$T/eighth.jpg" 240x135
note "/snapshot?scale=1/2 is a 960x540 JPEG that ffmpeg decodes; HEAD and ?q= work"

out=$(timeout 30 ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x \
	"$URL/stream?scale=1/2" 2>&1 | head -n 1)
[[ $out == 960x540 ]] || fail "ffprobe /stream?scale=1/2: $out"
out=$(timeout 30 ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x \
	"$URL/stream/default?scale=1/4" 2>&1 | head -n 1)
[[ $out == 480x270 ]] || fail "ffprobe /stream?scale=1/4: $out"
timeout 60 ffmpeg -nostdin -v error -i "$URL/stream?scale=1/4" -frames:v 5 -f null - ||
	fail "ffmpeg cannot decode 5 frames of /stream?scale=1/4"
out=$(timeout 60 "$PY" - "$URL/stream?scale=1/2" "$URL/stream?scale=1/4" <<-'EOF'
	import sys, cv2
	for url in sys.argv[1:]:
	    c = cv2.VideoCapture(url)
	    shapes = set()
	    for _ in range(3):
	        ok, img = c.read()
	        if not ok:
	            print("cannot read", url)
	            sys.exit(1)
	        shapes.add(img.shape)
	    c.release()
	    print(" ".join("%dx%d" % (s[1], s[0]) for s in sorted(shapes)))
	EOF
)
(($? == 0)) || fail "OpenCV: $out"
[[ $(echo $out) == "960x540 480x270" ]] || fail "OpenCV saw $out, expected 960x540 then 480x270"
note "ffprobe, ffmpeg and OpenCV read /stream?scale=1/2 at 960x540 and ?scale=1/4 at 480x270"

# ---- a raw listener with listen-scale=1/4 ----
bg_frames 300 push "$CAM_IN" "$big" --fps 15 --loop
frames capture "$CAM_OUT" "$T/raw.mjpeg" --frames 3 >/dev/null || fail "capture from $CAM_OUT"
(($(frame_count "$T/raw.mjpeg") == 3)) || fail "the raw capture does not hold 3 frames"
expect_size "$T/raw.mjpeg" 480x270
decodes "$T/raw.mjpeg"
note "raw listen-scale=1/4 sends whole 480x270 frames"

# ---- bad values ----
bad() {
	local url=$1 why=$2
	expect_http 400 "$T/bad" "$url"
	grep -qF -- "400 Bad Request: $why" "$T/bad" || fail "$url: $(cat "$T/bad")"
}
bad "$URL/stream?scale=1/3" "scale must be 1/2, 1/4, 1/8, 1/1 or auto"
bad "$URL/stream?scale=half" "scale must be 1/2, 1/4, 1/8, 1/1 or auto"
bad "$URL/snapshot?scale=2" "scale must be 1/2, 1/4, 1/8, 1/1 or auto"
bad "$URL/stream?scale=1/2&q=0" "q must be a whole number from 1 to 100"
bad "$URL/stream?q=101" "q must be a whole number from 1 to 100"
bad "$URL/snapshot?scale=1/2&q=abc" "q must be a whole number from 1 to 100"
bad "$URL/snapshot?scale=auto" "scale=auto is for /stream"
note "bad ?scale= and ?q= values: 400 with the reason"
fr_stop

# ---- one scale per frame, however many subscribers ----
fr_start_http count
N=8
for ((i = 0; i < N; i++)); do
	bg timeout 120 "$PY" "$HTTP_PY" stream "$URL/stream?scale=1/2" "$T/sub$i.mjpeg" --frames 10 \
		--hold --timeout 60 --result "$T/sub$i.result"
	subs[i]=$BG_PID
done
bg timeout 120 "$PY" "$HTTP_PY" stream "$URL/stream?scale=1/4&q=40" "$T/q40.mjpeg" --frames 10 \
	--hold --timeout 60 --result "$T/q40.result"
q40=$BG_PID
bg timeout 120 "$PY" "$HTTP_PY" stream "$URL/stream?scale=auto" "$T/auto.mjpeg" --frames 10 \
	--hold --timeout 60 --result "$T/auto.result"
wait_json "$FR_WAIT" "s['default']['clients'] == $N + 2"
expect_json 'sorted(c["scale"] for c in s["default"]["client_list"])' \
	"[\"1/2\", \"1/2\", \"1/2\", \"1/2\", \"1/2\", \"1/2\", \"1/2\", \"1/2\", \"1/4,q=40\", \"auto:1/1\"]"
frames push "$INGEST" "$small" --fps 10 >/dev/null || fail "push"
wait_json 30 's["default"]["frames_in"] == 10 and s["default"]["frames_scaled"] == 20'
for ((i = 0; i < N; i++)); do
	wait_until 30 "subscriber $i's 10 frames" test -s "$T/sub$i.result"
	grep -q '^frames=10 ' "$T/sub$i.result" || fail "subscriber $i: $(cat "$T/sub$i.result")"
	(($(frame_count "$T/sub$i.mjpeg") == 10)) || fail "subscriber $i: not 10 whole frames"
done
expect_size "$T/sub0.mjpeg" 160x120
decodes "$T/sub7.mjpeg"
wait_until 30 "the 1/4,q=40 subscriber's frames" test -s "$T/q40.result"
expect_size "$T/q40.mjpeg" 80x60
wait_until 30 "the auto subscriber's frames" test -s "$T/auto.result"
expect_size "$T/auto.mjpeg" 320x240
stats_json
expect_json 's["default"]["frames_scaled"]' 20
expect_json 'sorted((z["scale"], z["clients"], z["frames"], z["frames_scaled"]) for z in s["default"]["scaled"])' \
	"[[\"1/2\", $N, 10, 10], [\"1/4,q=40\", 1, 10, 10]]"
expect_json 'sorted((z["scale"], z["latest_frame"]["width"], z["latest_frame"]["quality"]) for z in s["default"]["scaled"])' \
	'[["1/2", 160, 80], ["1/4,q=40", 80, 40]]'
expect_json 's["default"]["frames_out"]' $(((N + 2) * 10))
expect_json 's["default"]["scale_cpu_s"] > 0' true
expect_json 's["default"]["dropped"]["scale_invalid"]' 0
note "$N subscribers of 1/2 (+1 of 1/4,q=40, +1 auto): 10 frames in, 20 scaled (10 per size), each got all 10"

# The counters in /metrics and in the SIGUSR1 dump say the same.
expect_http 200 "$T/metrics" "$URL/metrics"
grep -qx 'framerouter_frames_scaled_total{stream="default"} 20' "$T/metrics" ||
	fail "/metrics: $(grep scaled "$T/metrics")"
grep -q '^framerouter_scale_cpu_seconds_total{stream="default"} [0-9.]*$' "$T/metrics" ||
	fail "/metrics has no scale_cpu_seconds_total"
grep -qx 'framerouter_frames_dropped_total{stream="default",reason="scale_invalid"} 0' \
	"$T/metrics" || fail "/metrics has no scale_invalid drops"
fr_stats
expect_stat frames_scaled 20
expect_stat clients $((N + 2))
(($(grep -c ' scale=1/2$' "$T/clients.txt") == N)) || fail "SIGUSR1: not $N clients at scale=1/2"
grep -q "stream default: scale 1/2: clients=$N frames=10 frames_scaled=10 " "$FR_LOG" ||
	fail "SIGUSR1: no line for the size 1/2"

# Everyone leaves: nothing is scaled any more.
kill "${subs[@]}" "$q40" "$BG_PID"
wait_json "$FR_WAIT" 's["default"]["clients"] == 0'
frames push "$INGEST" "$small" --fps 20 >/dev/null || fail "push"
wait_json "$FR_WAIT" 's["default"]["frames_in"] == 20'
expect_json 's["default"]["frames_scaled"]' 20
expect_json 'sorted((z["scale"], z["clients"], z["latest_frame"]) for z in s["default"]["scaled"])' \
	'[["1/2", 0, null], ["1/4,q=40", 0, null]]'
note "once they left, 10 more frames in and none scaled"
fr_stop
finish
