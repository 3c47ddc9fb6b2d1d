#!/bin/bash
# SPDX-License-Identifier: MIT
# Pulled streams from real upstreams: ffmpeg's own HTTP multipart server as a camera
# (one client per ffmpeg, so a loop restarts it), ffmpeg serving raw MJPEG over TCP, a
# still-image server polled at poll-fps, and a multipart server that is killed and
# restarted 3 s later: the subscriber stays connected, gets only whole source frames,
# /snapshot answers with the last frame meanwhile, and new frames come within the backoff
# in effect + 0.5 s of the upstream listening again. A pushed producer on the stream's
# ingest address takes over, and the puller resumes when it leaves.
. "$(dirname "$0")/lib.sh"
need ffmpeg curl

UP_PY=$_fr_here/upstreams.py
still=$FR_FIXTURES_DIR/baseline.jpg
clip=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg

pick_ports 9
CAM_PORT=${PORTS[3]} RAW_PORT=${PORTS[4]} STILL_PORT=${PORTS[5]} FLAKY_PORT=${PORTS[6]}
FLAKY_IN=127.0.0.1:${PORTS[7]} FLAKY_LIS=127.0.0.1:${PORTS[8]}

# ffmpeg's own servers serve one client each: a loop starts them again.
bg "$PY" "$UP_PY" loop -- ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=1280x720:rate=30 \
	-c:v mjpeg -f mpjpeg -listen 1 "http://127.0.0.1:$CAM_PORT/"
bg "$PY" "$UP_PY" loop -- ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=15 \
	-c:v mjpeg -f mjpeg -listen 1 "tcp://127.0.0.1:$RAW_PORT"
bg "$PY" "$UP_PY" serve still "$STILL_PORT" --file "$still"
flaky() {	# a multipart camera that serves at once: the one killed and restarted
	bg "$PY" "$UP_PY" serve multipart "$FLAKY_PORT" --file "$clip" --fps 30
	FLAKY_PID=$BG_PID
}
flaky
for p in "$CAM_PORT" "$RAW_PORT" "$STILL_PORT" "$FLAKY_PORT"; do
	wait_until "$FR_WAIT" "an upstream to listen on $p" is_listening "$p"
done

# localhost: a name to resolve (c-ares reads /etc/hosts), and out of fr_start's way, which
# checks that every 127.0.0.1:PORT of its arguments listens (ffmpeg stops, serving us).
fr_start_http pull --stream "cam,from=http://localhost:$CAM_PORT/" \
	--stream "raw,from=tcp://localhost:$RAW_PORT" \
	--stream "still,from=http://localhost:$STILL_PORT/snap.jpg,poll-fps=5" \
	--stream "flaky,ingest=$FLAKY_IN,listen=$FLAKY_LIS,from=http://localhost:$FLAKY_PORT/" \
	--validate

# ---- each kind of upstream feeds its stream ----
wait_json 30 "s['cam']['frames_in'] >= 30 and s['raw']['frames_in'] >= 15 and s['still']['frames_in'] >= 5 and s['flaky']['frames_in'] >= 30"
for n in cam raw still flaky; do
	expect_json "s['$n']['upstream']['state']" streaming
	expect_json "s['$n']['garbage_bytes']" 0
	expect_json "s['$n']['dropped']['invalid'] + s['$n']['dropped']['truncated']" 0
	expect_json "s['$n']['producer_connected']" true
done
expect_json "s['cam']['latest_frame']['width']" 1280
expect_json "s['raw']['latest_frame']['height']" 360
expect_json "s['cam']['producer']" "http://localhost:$CAM_PORT/"
expect_json "s['raw']['upstream']['url']" "tcp://localhost:$RAW_PORT"
# The still image: polled over one kept-alive connection, published as it is.
expect_json "s['still']['upstream']['connects']" 1
expect_http 200 "$T/still.jpg" "$URL/snapshot/still"
cmp -s "$T/still.jpg" "$still" || fail "/snapshot/still differs from the served image"
note "pulled: cam $(json_eval "s['cam']['frames_in']") frames (ffmpeg, HTTP multipart), raw $(json_eval "s['raw']['frames_in']") (ffmpeg, tcp://), still $(json_eval "s['still']['frames_in']") (poll-fps=5), flaky $(json_eval "s['flaky']['frames_in']") (multipart)"
timeout 20 ffmpeg -nostdin -v error -i "$URL/stream/cam" -frames:v 5 -f null - 2>"$T/ff.err" ||
	fail "ffmpeg cannot read the pulled stream: $(head -c 300 "$T/ff.err")"

# ---- kill the upstream, restart it 3 s later ----
bg_frames 60 capture "$FLAKY_LIS" "$T/flaky.mjpeg" --ready "$T/flaky.port"
cap_pid=$BG_PID
wait_until "$FR_WAIT" "the subscriber to connect" test -s "$T/flaky.port"
wait_until "$FR_WAIT" "frames at the subscriber" has_frames "$T/flaky.mjpeg" 10
kill -TERM "$FLAKY_PID"
wait_exit "$FR_WAIT" "$FLAKY_PID"
killed=$(date +%s%N)
wait_json "$FR_WAIT" "s['flaky']['upstream']['state'] == 'backoff'"
frames_before=$(json_eval "s['flaky']['frames_in']")
note "upstream killed: $(json_eval "s['flaky']['upstream']['last_error']")"
sleep 1.5
# Meanwhile the stream keeps its last frame, and says how old it is.
expect_http 200 "$T/snap.jpg" "$URL/snapshot/flaky"
[[ $(header_of "$T/snap.jpg.head" content-type) == image/jpeg ]] || fail "/snapshot/flaky is not a JPEG"
stats_json
expect_json "s['flaky']['clients']" 1
expect_json "s['flaky']['latest_frame']['age_s'] > 1.0" true
# A watcher times the return from the moment the upstream listens (polling finely).
timeout 30 "$PY" "$UP_PY" back "$FLAKY_PORT" "$URL/stats" flaky >"$T/back.json" 2>"$T/back.err" &
watch_pid=$!
track "$watch_pid"
sleep "$("$PY" -c "print(max(0, 3 - ($(date +%s%N) - $killed) / 1e9))")"
flaky
wait "$watch_pid" || fail "timing the upstream's return failed: $(cat "$T/back.err")"
back=$(date +%s%N)
retry_s=$(json_eval "j['retry_s']" "$T/back.json")
gap_ms=$(json_eval "j['gap_ms']" "$T/back.json")
budget_ms=$("$PY" -c "print(int(($retry_s + 0.5) * 1000 * ${FR_TEST_SLOW:-1}))")
note "upstream back: the first new frame came $gap_ms ms after it listened, the puller's retry being due $("$PY" -c "print(round($retry_s * 1000))") ms after that; frames stopped for $(((back - killed) / 1000000)) ms in all (3 s down, and the server's start)"
((gap_ms <= budget_ms)) || fail "new frames came $gap_ms ms after the upstream was back, more than the backoff + 0.5 s ($budget_ms ms)"
stats_json
expect_json "s['flaky']['clients']" 1
expect_json "s['flaky']['upstream']['connects']" 2
expect_json "s['flaky']['upstream']['failures']['closed']" 1
expect_json "s['flaky']['upstream']['failures']['refused'] >= 1" true
expect_json "s['flaky']['dropped']['truncated'] + s['flaky']['garbage_bytes']" 0
n_before=$(frame_count "$T/flaky.mjpeg")
wait_until "$FR_WAIT" "new frames at the subscriber" has_frames "$T/flaky.mjpeg" $((n_before + 10))
kill -TERM "$cap_pid"
wait_exit "$FR_WAIT" "$cap_pid"
# Whole source frames only, before and after the gap (the test may have cut the last
# one when it stopped the capture).
"$PY" - "$T/flaky.mjpeg" "$FRAMES_PY" "$clip" <<-'EOF' || fail "the subscriber got something else than whole source frames"
	import importlib.util, sys
	spec = importlib.util.spec_from_file_location("frames", sys.argv[2])
	frames = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(frames)
	data = open(sys.argv[1], "rb").read()
	source = {frames.sha(f) for _, f in frames.split_frames(open(sys.argv[3], "rb").read())}
	got, error = frames.raw_capture_frames(data)
	covered = sum(len(f) for _, f in got)
	foreign = [i for i, (_, f) in enumerate(got) if frames.sha(f) not in source]
	print("capture: %d whole frames, every one a source frame: %s; %d bytes of a last frame "
	      "cut by the test" % (len(got), not foreign, len(data) - covered))
	sys.exit(1 if error or foreign else 0)
EOF

# ---- a pushed producer wins while it is there ----
bg_frames 60 push "$FLAKY_IN" "$still" --fps 10 --loop
push_pid=$BG_PID
wait_json "$FR_WAIT" "s['flaky']['upstream']['state'] == 'paused' and s['flaky']['latest_frame']['bytes'] == $(stat -c %s "$still")"
expect_json "s['flaky']['producer'].startswith('127.0.0.1:')" true
grep -q "stream flaky: a pushed producer has the stream: pulling http://localhost:$FLAKY_PORT/ paused" "$FR_LOG" ||
	fail "no log line for the pause"
kill -TERM "$push_pid"
wait_exit "$FR_WAIT" "$push_pid"
wait_json 15 "s['flaky']['upstream']['state'] == 'streaming' and s['flaky']['latest_frame']['width'] == 320"
expect_json "s['flaky']['upstream']['connects']" 3
note "a pushed producer took the stream and gave it back to the puller"

alive_or_fail
fr_stop
finish
