#!/bin/bash
# SPDX-License-Identifier: MIT
# Fan-out: 100 subscribers of a 1080p 30 fps stream each get every frame, whole and
# byte-identical, in order, while one subscriber that never reads and one that
# reads too slowly are skipped ahead (their drops counted, the slow one still gets
# whole frames in order) instead of slowing anybody; a subscriber that joins
# mid-stream gets a whole, decodable frame at once; with --client-timeout 1 the
# stuck subscriber is disconnected and a reading one is not.
. "$(dirname "$0")/lib.sh"
need ffmpeg

SECS=${FR_FANOUT_SECONDS:-10}
NSUBS=100
FPS=30
src=$T/source-1080p.mjpeg
start=$(date +%s%N)
timeout 120 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1920x1080:rate=$FPS" -t "$SECS" \
	-c:v mjpeg -q:v 5 -f mjpeg "$src" || fail "ffmpeg cannot make the 1080p source"
nsrc=$(frame_count "$src")
((nsrc == SECS * FPS)) || fail "source has $nsrc frames, expected $((SECS * FPS))"
note "source: $nsrc frames of 1920x1080 ($SECS s at $FPS fps), $(stat -c %s "$src") bytes, made in $(elapsed_ms "$start") ms"

# progress_ge N: the producer has sent at least N frames.
progress_ge() { [[ -s $T/push.progress ]] && (($(cat "$T/push.progress") >= $1)); }

# ---- 100 subscribers, a stuck one, a slow one, a mid-stream joiner ----
fr_start_default fanout --client-timeout 60

bg_frames 120 stuck "$LISTEN" --ready "$T/stuck.port"
wait_until "$FR_WAIT" "the stuck subscriber to connect" test -s "$T/stuck.port"
stuck_port=$(cat "$T/stuck.port")

# A slow subscriber: reads 1 MB/s of a stream of about 2.4 MB/s.
bg_frames $((SECS + 120)) capture "$LISTEN" "$T/slow.mjpeg" --rate 1000000 --ready "$T/slow.port"
slow_pid=$BG_PID
wait_until "$FR_WAIT" "the slow subscriber to connect" test -s "$T/slow.port"
slow_port=$(cat "$T/slow.port")

bg_frames $((SECS + 120)) fanout "$LISTEN" --clients "$NSUBS" --source "$src" \
	--ready "$T/fanout.ports" --timeout $((SECS + 90)) >"$T/fanout.out" 2>&1
fanout_pid=$BG_PID
wait_until "$FR_WAIT" "$NSUBS subscribers to connect" test -s "$T/fanout.ports"
wait_stat "$FR_WAIT" clients -eq $((NSUBS + 2))
note "$NSUBS subscribers + 1 slow + 1 stuck subscriber connected (clients=$(stat_of clients))"

start=$(date +%s%N)
bg_frames $((SECS + 120)) push "$INGEST" "$src" --fps "$FPS" --progress "$T/push.progress"
push_pid=$BG_PID

# Join mid-stream: the first bytes must be a whole frame, and it must decode.
wait_until $((SECS + 30)) "the producer to be half-way" progress_ge $((nsrc / 2))
join_midstream "$src" "$LISTEN"
note "mid-stream joiner: first frame is whole, byte-identical and decodable"

wait_ok $((SECS + 60)) "$push_pid" "the producer"
note "producer sent $nsrc frames in $(elapsed_ms "$start") ms"
wait_checks 90 "not every subscriber got every frame byte-identical and in order" \
	"$fanout_pid" "$T/fanout.out"

# The slow subscriber skipped to newer frames but got only whole ones, in order.
wait_until 60 "the slow subscriber to read what it was sent" sub_synced "$slow_port" "$T/slow.mjpeg"
kill -TERM "$slow_pid"
wait_exit "$FR_WAIT" "$slow_pid"
line=$(client_line "$slow_port")
check_capture "$T/slow.mjpeg" --source "$src" --min 1
got=$(frame_count "$T/slow.mjpeg")
[[ $got == "$(stat_of frames_sent "$line")" ]] || fail "slow subscriber: captured $got frames, daemon says $line"
(($(stat_of frames_dropped "$line") > 0)) || fail "slow subscriber: no frames dropped ($line)"
note "slow subscriber: $got of $nsrc frames, whole and in order; ${line#*raw }"

fr_stats
expect_stat frames_in "$nsrc"
expect_stat dropped_invalid 0
expect_stat dropped_truncated 0
expect_stat garbage_bytes 0
line=$(client_line "$stuck_port")
[[ -n $line ]] || fail "the stuck subscriber (port $stuck_port) is not in the client list"
note "stuck subscriber: ${line#*: stream }"
(($(stat_of dropped_slow_client) > 0)) || fail "dropped_slow_client is 0 with a stuck subscriber"
(($(stat_of frames_dropped "$line") > 0)) || fail "the stuck subscriber's frames_dropped is 0"
note "dropped_slow_client=$(stat_of dropped_slow_client), of which the stuck subscriber's: $(stat_of frames_dropped "$line")"
fr_stop

# ---- --client-timeout 1 disconnects the stuck subscriber, not the reader ----
fr_start_default timeout --client-timeout 1
bg_frames 120 stuck "$LISTEN" --ready "$T/stuck2.port"
wait_until "$FR_WAIT" "the stuck subscriber to connect" test -s "$T/stuck2.port"
stuck_port=$(cat "$T/stuck2.port")
subscribe reader 120
reader_pid=$SUB_PID
reader_port=$(cat "$T/reader.port")
wait_stat "$FR_WAIT" clients -eq 2
rm -f "$T/push.progress"
start=$(date +%s%N)
bg_frames 120 push "$INGEST" "$src" --fps "$FPS" --progress "$T/push.progress"
push_pid=$BG_PID
wait_stat 30 clients -eq 1
note "stuck subscriber disconnected $(elapsed_ms "$start") ms after the stream started"
grep -q "subscriber 127.0.0.1:$stuck_port: closed: no write progress" "$FR_LOG" ||
	fail "no timeout message for the stuck subscriber $stuck_port"
[[ -n $(client_line "$reader_port") ]] || fail "the reading subscriber was disconnected too"
closed=$(grep "subscriber 127.0.0.1:$stuck_port: closed" "$FR_LOG")
note "${closed#*info: }"
# The reader goes on; stop the producer, let the reader catch up, then check.
kill -TERM "$push_pid"
wait_exit "$FR_WAIT" "$push_pid"
wait_stat "$FR_WAIT" producer_connected -eq 0
wait_until "$FR_WAIT" "the reader to catch up" sub_synced "$reader_port" "$T/reader.mjpeg"
kill -TERM "$reader_pid"
wait_exit "$FR_WAIT" "$reader_pid"
check_capture "$T/reader.mjpeg" --source "$src" --min 1
note "reader: $(client_line "$reader_port" | sed 's/.* raw //')"
fr_stop
finish
