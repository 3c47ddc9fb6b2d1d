#!/bin/bash
# SPDX-License-Identifier: MIT
# Producer loss and replacement: a producer killed mid-frame delivers no partial
# frame and counts one truncated frame; the next producer is picked up; a second
# producer replaces a live first one (whose connection the daemon closes);
# subscribers stay connected throughout, and a new subscriber gets the last frame
# at once while no producer is connected.
. "$(dirname "$0")/lib.sh"

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
expect_frames "$src" 10

# pieces NAME START COUNT [FRACTION]: source frames START..START+COUNT-1, plus
# FRACTION of the next one, in $T/NAME.bin.
pieces() {
	frames slice "$src" "$T/$1.bin" --start "$2" --count "$3" --fraction "${4:-0}" ||
		fail "frames.py slice $*"
}

# latest_is INDEX: a subscriber connecting now gets source frame INDEX first, at once.
latest_is() {
	local start
	start=$(date +%s%N)
	timeout "$FR_WAIT" "$FR_GRAB" "$LISTEN" -n 1 -o "$T/latest.jpg" ||
		fail "a new subscriber got no frame while no producer is connected"
	note "new subscriber got its first frame after $(elapsed_ms "$start") ms (grab run included)"
	check_capture "$T/latest.jpg" --source "$src" --expect "$1"
}

# ---- a producer killed mid-frame, then a new producer ----
fr_start_default killed
subscribe sub1
wait_stat "$FR_WAIT" clients -eq 1

pieces p1 0 2 0.5
"$PY" "$FRAMES_PY" push "$INGEST" "$T/p1.bin" --hold >"$T/p1.out" 2>&1 &
p1_pid=$!
track "$p1_pid"
wait_stat "$FR_WAIT" bytes_in -eq "$(stat -c %s "$T/p1.bin")"
expect_stat frames_in 2
expect_stat producer_connected 1
wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$(cat "$T/sub1.port")" "$T/sub1.mjpeg"
kill -KILL "$p1_pid"
wait "$p1_pid" 2>/dev/null
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat dropped_truncated 1
expect_stat frames_in 2
expect_stat clients 1
grep -q 'dropped frame: truncated' "$FR_LOG" || fail "no log line for the truncated frame"
note "producer killed after 2.5 frames: $(grep 'dropped frame: truncated' "$FR_LOG" | sed 's/.*: stream/stream/')"
check_capture "$T/sub1.mjpeg" --source "$src" --expect 0,1
latest_is 1

pieces p2 3 3
frames push "$INGEST" "$T/p2.bin" >/dev/null || fail "the second producer could not push"
wait_stat "$FR_WAIT" frames_in -eq 5
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat producer_connects 2
expect_stat dropped_truncated 1
expect_stat dropped_invalid 0
expect_stat garbage_bytes 0
expect_stat clients 1
wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$(cat "$T/sub1.port")" "$T/sub1.mjpeg"
check_capture "$T/sub1.mjpeg" --source "$src" --expect 0,1,3,4,5
note "the next producer was picked up; the subscriber stayed connected and got whole frames only"
fr_stop

# ---- a second producer replaces a live first one ----
fr_start_default replaced
subscribe sub2
wait_stat "$FR_WAIT" clients -eq 1
pieces first 0 3 0.5
bg_frames 60 push "$INGEST" "$T/first.bin" --hold --ready "$T/first.port" >"$T/first.out" 2>&1
first_pid=$BG_PID
wait_stat "$FR_WAIT" bytes_in -eq "$(stat -c %s "$T/first.bin")"
wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$(cat "$T/sub2.port")" "$T/sub2.mjpeg"
pieces second 5 3
bg_frames 60 push "$INGEST" "$T/second.bin" --hold --ready "$T/second.port" >"$T/second.out" 2>&1
second_pid=$BG_PID
wait_exit "$FR_WAIT" "$first_pid"
grep -q 'closed by peer' "$T/first.out" || fail "the first producer's connection was not closed by the daemon: $(cat "$T/first.out")"
wait_stat "$FR_WAIT" frames_in -eq 6
expect_stat producer_connects 2
expect_stat producer_connected 1
expect_stat dropped_truncated 1
expect_stat clients 1
grep -q "producer 127.0.0.1:$(cat "$T/second.port") replaces 127.0.0.1:$(cat "$T/first.port")" "$FR_LOG" ||
	fail "no 'replaces' log line"
wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$(cat "$T/sub2.port")" "$T/sub2.mjpeg"
check_capture "$T/sub2.mjpeg" --source "$src" --expect 0,1,2,5,6,7
note "the second producer replaced the first (closed by the daemon, its half frame dropped as truncated)"

# The second producer leaves at a frame boundary: nothing is truncated, the
# subscriber stays, and the last frame is still served.
kill -TERM "$second_pid"
wait_exit "$FR_WAIT" "$second_pid"
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat dropped_truncated 1
expect_stat clients 1
latest_is 7
fr_stop
finish
