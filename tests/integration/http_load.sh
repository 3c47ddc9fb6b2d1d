#!/bin/bash
# SPDX-License-Identifier: MIT
# HTTP load: 100 multipart subscribers of /stream/default (one Python process)
# each get every frame of a 640x360 30 fps stream (FR_HTTP_LOAD_SIZE=1920x1080
# for more load) as a well-formed part, byte-identical to the source, in order,
# each part followed at once by the boundary line; a few raw TCP subscribers get
# exactly the same frames. One slow HTTP subscriber (tiny receive buffer, reads a
# quarter of the stream's byte rate) and one stuck one (never reads) are skipped
# ahead instead of slowing anybody: their drops are counted per client in /stats
# and in the SIGUSR1 dump, and the slow one still gets only whole parts, in order.
# An HTTP subscriber that joins mid-stream gets a whole, decodable frame at once.
. "$(dirname "$0")/lib.sh"
need ffmpeg

SECS=${FR_HTTP_LOAD_SECONDS:-10}
# 640x360 keeps the one Python process that reads 100 streams well ahead of the
# stream even while `make -j2 check` runs the raw fan-out test next to this one:
# a reader starved of CPU is a slow subscriber, and rightly skipped.
SIZE=${FR_HTTP_LOAD_SIZE:-640x360}
FPS=30
NHTTP=100
NRAW=5
PATH_STREAM=/stream/default

# json_client PORT: the /stats (JSON) entry of the stream-default client with local
# port PORT, as "protocol=... frames_sent=... bytes_sent=... slow_client=...
# fps_cap=..."; empty when it is not in client_list.
json_client() {
	timeout 20 "$PY" - "$HTTP" "$1" <<-'EOF' || fail "cannot read /stats from $HTTP"
		import json, sys, urllib.request
		addr, port = sys.argv[1], sys.argv[2]
		with urllib.request.urlopen("http://%s/stats" % addr, timeout=10) as r:
		    stats = json.load(r)
		for c in stats["streams"]["default"]["client_list"]:
		    if c["peer"].rpartition(":")[2] == port:
		        print("protocol=%s frames_sent=%d bytes_sent=%d slow_client=%d fps_cap=%d" % (
		            c["protocol"], c["frames_sent"], c["bytes_sent"],
		            c["dropped"]["slow_client"], c["dropped"]["fps_cap"]))
	EOF
}


# progress_ge N: the producer has sent at least N frames.
progress_ge() { [[ -s $T/push.progress ]] && (($(cat "$T/push.progress") >= $1)); }

# cpu_ticks PID: user + system clock ticks of PID so far.
cpu_ticks() { echo $(($(proc_stat "$1" 12) + $(proc_stat "$1" 13))); }

src=$T/source.mjpeg
start=$(date +%s%N)
timeout 120 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=$SIZE:rate=$FPS" -t "$SECS" \
	-c:v mjpeg -q:v 5 -f mjpeg "$src" || fail "ffmpeg cannot make the $SIZE source"
nsrc=$(frame_count "$src")
((nsrc == SECS * FPS)) || fail "source has $nsrc frames, expected $((SECS * FPS))"
src_bytes=$(stat -c %s "$src")
note "source: $nsrc frames of $SIZE ($SECS s at $FPS fps), $src_bytes bytes, made in $(elapsed_ms "$start") ms"

fr_start_http load --client-timeout 60

# ---- the odd ones: a stuck and a slow HTTP subscriber ----
bg_frames 120 stuck "$HTTP" --http "$PATH_STREAM" --ready "$T/stuck.port"
wait_until "$FR_WAIT" "the stuck HTTP subscriber to connect" test -s "$T/stuck.port"
stuck_port=$(cat "$T/stuck.port")
# Reads a quarter of the stream's byte rate until SIGUSR1 (so not under timeout,
# which would take the signal; it is killed on exit like the rest).
slow_rate=$((src_bytes / SECS / 4))
bg "$PY" "$FRAMES_PY" capture "$HTTP" "$T/slow.http" --http "$PATH_STREAM" \
	--rate "$slow_rate" --ready "$T/slow.port"
slow_pid=$BG_PID
wait_until "$FR_WAIT" "the slow HTTP subscriber to connect" test -s "$T/slow.port"
slow_port=$(cat "$T/slow.port")

# ---- 100 HTTP subscribers and a few raw ones, each checking every byte ----
bg_frames $((SECS + 120)) fanout "$HTTP" --http "$PATH_STREAM" --clients "$NHTTP" \
	--source "$src" --ready "$T/http.ports" --summary "$T/http.summary" \
	--timeout $((SECS + 90)) --idle 10 >"$T/http.out" 2>&1
http_pid=$BG_PID
bg_frames $((SECS + 120)) fanout "$LISTEN" --clients "$NRAW" \
	--source "$src" --ready "$T/raw.ports" --summary "$T/raw.summary" \
	--timeout $((SECS + 90)) --idle 10 >"$T/raw.out" 2>&1
raw_pid=$BG_PID
wait_until "$FR_WAIT" "the subscribers to connect" test -s "$T/http.ports" -a -s "$T/raw.ports"
wait_stat "$FR_WAIT" clients -eq $((NHTTP + NRAW + 2))
note "$NHTTP HTTP + $NRAW raw subscribers + 1 slow + 1 stuck HTTP subscriber connected (clients=$(stat_of clients))"
cpu0=$(cpu_ticks "$FR_PID")

start=$(date +%s%N)
bg_frames $((SECS + 120)) push "$INGEST" "$src" --fps "$FPS" --progress "$T/push.progress"
push_pid=$BG_PID

# ---- join over HTTP mid-stream: the first part is a whole frame, at once ----
wait_until $((SECS + 30)) "the producer to be half-way" progress_ge $((nsrc / 2))
join_midstream "$src" "$HTTP" --http "$PATH_STREAM"
note "mid-stream HTTP joiner: first part is a whole, byte-identical, decodable frame"

wait_ok $((SECS + 60)) "$push_pid" "the producer"
note "producer sent $nsrc frames in $(elapsed_ms "$start") ms"
# The daemon's view of them, read while they wait out their idle time connected
# (their close lines are rate-limited, so the log need not show each): every one was
# sent every frame and skipped none.
ports=$(cat "$T/http.ports" "$T/raw.ports" | tr -s ' \n' ',')
wait_json "$FR_WAIT" "all(client('default', p)['frames_sent'] == $nsrc and client('default', p)['dropped']['slow_client'] == 0 for p in [${ports%,}])"
note "daemon: each of the $((NHTTP + NRAW)) subscribers: frames_sent=$nsrc, dropped slow_client=0"
wait_exit 90 "$http_pid"
http_rc=$WAIT_RC
wait_exit 90 "$raw_pid"
raw_rc=$WAIT_RC
note "subscribers done $(elapsed_ms "$start") ms after the producer started"
printf 'raw: ' && cat "$T/raw.out"
cat "$T/http.out"
((raw_rc == 0)) || fail "not every raw subscriber got every frame byte-identical and in order"
((http_rc == 0)) || fail "not every HTTP subscriber got every frame byte-identical and in order, as well-formed parts"

# Same frames through both doors: every subscriber's list of source frames is the
# same, and it is all of them.
lists=$(cat "$T/http.summary" "$T/raw.summary" | awk '{print $1, $5}' | sort | uniq -c)
if (($(wc -l <<<"$lists") != 2)) || [[ $(awk '{print $3}' <<<"$lists" | sort -u) != "0-$((nsrc - 1))" ]]; then
	fail "HTTP and raw subscribers did not all get source frames 0-$((nsrc - 1)): $(head -n 10 <<<"$lists")"
fi
note "every HTTP and raw subscriber got the same frames: $(awk '{printf "%s%s %s subscribers: source frames %s", (NR > 1 ? "; " : ""), $1, $2, $3}' <<<"$lists")"

# ---- the slow HTTP subscriber skipped frames but got only whole parts, in order ----
# The stream is over: let it read at full speed what the kernel still buffers.
kill -USR1 "$slow_pid"
wait_until 60 "the slow subscriber to read what it was sent" sub_synced "$slow_port" "$T/slow.http"
json=$(json_client "$slow_port")
[[ -n $json ]] || fail "the slow HTTP subscriber (port $slow_port) is not in /stats client_list"
line=$(client_line "$slow_port")
note "slow HTTP subscriber, /stats: $json"
note "slow HTTP subscriber, dump: ${line#*: stream }"
[[ $(stat_of protocol "$json") == http ]] || fail "slow subscriber: /stats protocol is not http: $json"
(($(stat_of slow_client "$json") > 0)) || fail "slow subscriber: /stats dropped.slow_client is 0: $json"
kill -TERM "$slow_pid"
wait_exit "$FR_WAIT" "$slow_pid"
check_capture "$T/slow.http" --http --source "$src" --min 1
got=$(frames check "$T/slow.http" --http --source "$src" | sed -n 's/.* \([0-9]*\) whole frames.*/\1/p')
[[ $got == "$(stat_of frames_sent "$line")" ]] || fail "slow subscriber: captured $got parts, daemon says $line"
(($(stat_of frames_dropped "$line") > 0)) || fail "slow subscriber: no frames dropped ($line)"
note "slow HTTP subscriber: $got of $nsrc frames as whole parts, in order"

# ---- the stuck HTTP subscriber: still connected, its drops counted ----
fr_stats
line=$(client_line "$stuck_port")
[[ -n $line ]] || fail "the stuck HTTP subscriber (port $stuck_port) is not in the client list"
json=$(json_client "$stuck_port")
[[ -n $json ]] || fail "the stuck HTTP subscriber (port $stuck_port) is not in /stats client_list"
note "stuck HTTP subscriber, /stats: $json"
note "stuck HTTP subscriber, dump: ${line#*: stream }"
[[ $(stat_of protocol "$json") == http ]] || fail "stuck subscriber: /stats protocol is not http: $json"
(($(stat_of slow_client "$json") > 0)) || fail "stuck subscriber: /stats dropped.slow_client is 0: $json"
[[ $(stat_of slow_client "$json") == "$(stat_of frames_dropped "$line")" &&
	$(stat_of frames_sent "$json") == "$(stat_of frames_sent "$line")" ]] ||
	fail "stuck subscriber: /stats ($json) and the dump ($line) disagree"
(($(stat_of frames_sent "$line") + $(stat_of frames_dropped "$line") <= nsrc)) ||
	fail "stuck subscriber: more frames sent and dropped than came in: $line"
note "stuck HTTP subscriber: the kernel took $(stat_of frames_sent "$line") frames ($(stat_of bytes_sent "$line") bytes) before the daemon had to skip"

expect_stat frames_in "$nsrc"
expect_stat dropped_invalid 0
expect_stat dropped_truncated 0
expect_stat dropped_fps_cap 0
expect_stat garbage_bytes 0
(($(stat_of dropped_slow_client) > 0)) || fail "dropped_slow_client is 0 with a stuck and a slow subscriber"
ticks=$(($(cpu_ticks "$FR_PID") - cpu0))
hz=$(getconf CLK_TCK)
out=$(stat_of bytes_out)
note "stream: frames_out=$(stat_of frames_out) bytes_out=$out dropped_slow_client=$(stat_of dropped_slow_client)"
note "daemon: $((ticks * 1000 / hz)) ms CPU for $((out / 1000000)) MB out ($((out * hz / (ticks > 0 ? ticks : 1) / 1000000)) MB per CPU second); $(grep -E '^Vm(HWM|RSS)' "/proc/$FR_PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
fr_stop
finish
