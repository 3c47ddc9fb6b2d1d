#!/bin/bash
# SPDX-License-Identifier: MIT
# Fresh frames (issue 11), with ffmpeg pushing a live stream at 30 fps:
# - subscribers that keep up (three raw and two HTTP ones checking every byte, and an
#   ffmpeg recorder) get every frame, and the daemon skips none for them;
# - a raw and an HTTP subscriber that never read (4 KiB receive buffers) are handed
#   only what their sockets hold beyond what is in flight, about TCP_NOTSENT_LOWAT:
#   the daemon skips frames for them instead of letting the kernel queue the stream
#   (without the low-water mark it takes all of it, megabytes, seconds old);
# - the frame age: per client in /stats; a subscriber left stuck after the last frame
#   and then drained reports an age of at least the time it was stuck; per stream in
#   /metrics, a histogram that counts every frame sent.
# No timings are asserted, only bounds that follow from what happened.
. "$(dirname "$0")/lib.sh"
need ffmpeg

W=640 H=360 FPS=30
src=$T/source.mjpeg
timeout 60 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=${W}x$H:rate=$FPS" -t 4 \
	-c:v mjpeg -q:v 5 -f mjpeg "$src" || fail "ffmpeg cannot make the source stream"
nsrc=$(frame_count "$src")
src_bytes=$(stat -c %s "$src")
((nsrc >= 100)) || fail "source has only $nsrc frames"
note "source: $nsrc frames of ${W}x$H, $src_bytes bytes"

fr_start_http fresh --client-timeout 120
STREAM=/stream/default

# ---- the subscribers, all connected before the first frame ----
bg_frames 120 stuck "$LISTEN" --ready "$T/stuck_raw.port"
bg_frames 120 stuck "$HTTP" --http "$STREAM" --ready "$T/stuck_http.port"
# Reads a byte a second (about stuck) until SIGUSR1 lets it read at full speed.
bg "$PY" "$FRAMES_PY" capture "$LISTEN" "$T/late.mjpeg" --rate 1 --ready "$T/late.port"
late_pid=$BG_PID
bg_frames 120 fanout "$LISTEN" --clients 3 --source "$src" --ready "$T/raw.ports" \
	--timeout 90 --idle 10 >"$T/raw.out" 2>&1
raw_pid=$BG_PID
bg_frames 120 fanout "$HTTP" --http "$STREAM" --clients 2 --source "$src" \
	--ready "$T/http.ports" --timeout 90 --idle 10 >"$T/http.out" 2>&1
http_pid=$BG_PID
bg timeout 90 ffmpeg -nostdin -v error -f mjpeg -i "tcp://$LISTEN" -c copy -f mjpeg \
	"$T/recorded.mjpeg"
rec_pid=$BG_PID
for f in stuck_raw.port stuck_http.port late.port raw.ports http.ports; do
	wait_until "$FR_WAIT" "$f" test -s "$T/$f"
done
wait_stat "$FR_WAIT" clients -eq 9
stuck_raw=$(cat "$T/stuck_raw.port") stuck_http=$(cat "$T/stuck_http.port")
late=$(cat "$T/late.port")

# ---- ffmpeg pushes the stream in real time ----
start=$(date +%s%N)
timeout 60 ffmpeg -nostdin -v error -re -f mjpeg -framerate "$FPS" -i "$src" -c copy -f mjpeg \
	"tcp://$INGEST" || fail "the ffmpeg producer failed"
note "ffmpeg pushed $nsrc frames at -re in $(elapsed_ms "$start") ms"
wait_stat "$FR_WAIT" producer_connected -eq 0
ended=$(date +%s%N)	# the daemon has read every frame by now
expect_stat frames_in "$nsrc"
expect_stat dropped_invalid 0

# ---- those that keep up got everything ----
wait_exit 90 "$raw_pid"
((WAIT_RC == 0)) || fail "not every raw subscriber got every frame: $(cat "$T/raw.out")"
wait_exit 90 "$http_pid"
((WAIT_RC == 0)) || fail "not every HTTP subscriber got every frame: $(cat "$T/http.out")"
note "$(cat "$T/raw.out")"
note "$(cat "$T/http.out")"

# The ones left (stuck and late) are the only ones the stream skipped frames for:
# one snapshot, so the stream's total and theirs are from the same instant.
stats_json
drops=$(json_eval "[s['default']['dropped']['slow_client']] + [client('default', p)['dropped']['slow_client'] for p in ($stuck_raw, $stuck_http, $late)]") ||
	fail "the stuck and late subscribers are not all in /stats: $(head -c 1500 "$T/stats.json")"
read -r total d_raw d_http d_late <<<"$(tr -d '[],' <<<"$drops")"
((total == d_raw + d_http + d_late)) ||
	fail "the stream skipped $total frames, the stuck and late subscribers $d_raw + $d_http + $d_late: frames were skipped for subscribers that keep up"
note "skipped: $total frames, all for the stuck and the late subscribers ($d_raw + $d_http + $d_late)"

# ---- the stuck ones were handed only what their sockets hold ----
# A 4 KiB receive buffer takes a few KiB in flight; TCP_NOTSENT_LOWAT lets 16 KiB
# plus a segment wait unsent. Without it the kernel takes the whole stream.
for p in $stuck_raw $stuck_http; do
	c=$(json_eval "client('default', $p)")
	sent=$(json_eval "client('default', $p)['bytes_sent']") || fail "no bytes_sent for $p: $c"
	frames_sent=$(json_eval "client('default', $p)['frames_sent']")
	skipped=$(json_eval "client('default', $p)['dropped']['slow_client']")
	note "stuck subscriber $p: $c"
	((sent <= 131072)) ||
		fail "a subscriber that never reads was handed $sent bytes (more than 128 KiB): the kernel queues frames for it"
	# It holds at most the frame it is stuck on and the newest one; the rest it skipped.
	((frames_sent + skipped >= nsrc - 2)) ||
		fail "stuck subscriber $p: $frames_sent sent + $skipped skipped of $nsrc frames"
done

# ---- the frame age ----
# The late subscriber has read nothing since the stream ended: it is stuck on its last
# frames. Drained now, the last frame it is sent is at least as old as it was stuck.
sleep 1
drained_at=$(date +%s%N)
kill -USR1 "$late_pid"
wait_until 30 "the late subscriber to be drained" sub_synced "$late" "$T/late.mjpeg"
stuck_ms=$(((drained_at - ended) / 1000000))
stats_json
age=$(json_eval "client('default', $late)['frame_age_ms']") || fail "no frame_age_ms in /stats"
age_max=$(json_eval "client('default', $late)['frame_age_max_ms']") ||
	fail "no frame_age_max_ms in /stats"
note "late subscriber, stuck for at least $stuck_ms ms, then drained: frame_age_ms=$age frame_age_max_ms=$age_max"
((age >= stuck_ms)) || fail "the late subscriber's last frame is $age ms old, but it was stuck for $stuck_ms ms"
((age_max >= age)) || fail "frame_age_max_ms $age_max < frame_age_ms $age"
# Every client has them.
json_eval "all(isinstance(c['frame_age_ms'], int) and c['frame_age_max_ms'] >= c['frame_age_ms'] for c in s['default']['client_list'])" |
	grep -qx true || fail "not every client in /stats has frame_age_ms <= frame_age_max_ms"

# /metrics: a histogram per stream that counts every frame the stream sent.
expect_http 200 "$T/metrics.txt" "$URL/metrics"
"$PY" - "$T/metrics.txt" <<-'EOF' || fail "framerouter_frame_age_seconds is not a histogram of every frame sent"
	import re, sys
	text = open(sys.argv[1]).read()
	def value(name, labels):
	    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
	    if m is None:
	        sys.exit("no %s{%s}" % (name, labels))
	    return float(m.group(1))
	if "# TYPE framerouter_frame_age_seconds histogram" not in text:
	    sys.exit("no TYPE line for framerouter_frame_age_seconds")
	les = re.findall(r'^framerouter_frame_age_seconds_bucket\{stream="default",le="([^"]+)"\} (\S+)$', text, re.M)
	bounds = [le for le, _ in les]
	counts = [float(v) for _, v in les]
	if len(bounds) < 3 or bounds[-1] != "+Inf" or float(bounds[0]) > 0.005 or float(bounds[-2]) < 10:
	    sys.exit("buckets %s: not from a few ms to 10 s and +Inf" % bounds)
	if counts != sorted(counts):
	    sys.exit("buckets not cumulative: %s" % counts)
	count = value("framerouter_frame_age_seconds_count", 'stream="default"')
	out = value("framerouter_frames_out_total", 'stream="default"')
	if not counts[-1] == count == out:
	    sys.exit("+Inf bucket %g, _count %g, frames_out %g differ" % (counts[-1], count, out))
	total = value("framerouter_frame_age_seconds_sum", 'stream="default"')
	print("freshness: /metrics: %d frames sent, %d of them within 100 ms of arriving, sum %.1f s"
	      % (count, counts[bounds.index("0.1")], total))
EOF

# ---- the recorder (ffmpeg) has every frame ----
fr_stop
wait_exit 30 "$rec_pid"
((WAIT_RC == 0)) || fail "the ffmpeg recorder exited with $WAIT_RC"
check_capture "$T/recorded.mjpeg" --source "$src" --expect all
note "ffmpeg recorded $nsrc/$nsrc frames"
finish
