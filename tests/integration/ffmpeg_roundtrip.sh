#!/bin/bash
# SPDX-License-Identifier: MIT
# Real programs on both sides: ffmpeg pushes a live MJPEG stream at real-time rate,
# ffmpeg records it from the listen port, every recorded frame decodes and is
# byte-identical to a source frame, in order; ffprobe reading the listen port
# sees an mjpeg stream of the right size.
. "$(dirname "$0")/lib.sh"
need ffmpeg ffprobe

W=640 H=360 FPS=30
src=$T/source.mjpeg
timeout 60 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=${W}x$H:rate=$FPS" -t 4 \
	-c:v mjpeg -q:v 5 -f mjpeg "$src" || fail "ffmpeg cannot make the source stream"
nsrc=$(frame_count "$src")
((nsrc >= 100)) || fail "source has only $nsrc frames"
note "source: $nsrc frames of ${W}x$H, $(stat -c %s "$src") bytes"

fr_start_default daemon

# The recorder connects first, so it must get every frame from the first on.
out=$T/recorded.mjpeg
bg timeout 60 ffmpeg -nostdin -v error -f mjpeg -i "tcp://$LISTEN" -c copy -f mjpeg "$out"
rec_pid=$BG_PID
wait_stat "$FR_WAIT" clients -eq 1

start=$(date +%s%N)
timeout 60 ffmpeg -nostdin -v error -re -f mjpeg -framerate "$FPS" -i "$src" -c copy -f mjpeg \
	"tcp://$INGEST" || fail "the ffmpeg producer failed"
note "ffmpeg pushed $nsrc frames at -re in $(elapsed_ms "$start") ms"
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat frames_in "$nsrc"
wait_stat "$FR_WAIT" frames_out -eq "$nsrc"
expect_stat dropped_slow_client 0
expect_stat dropped_invalid 0
expect_stat dropped_truncated 0
expect_stat garbage_bytes 0
expect_stat bytes_in "$(stat -c %s "$src")"

# The daemon keeps subscribers through producer loss; its shutdown ends the
# recording, and ffmpeg then finishes the file.
fr_stop
wait_exit 30 "$rec_pid"
((WAIT_RC == 0)) || fail "the ffmpeg recorder exited with $WAIT_RC"

check_capture "$out" --source "$src" --expect all
decodes "$out"
decoded=$(timeout 60 ffprobe -v error -count_frames -select_streams v:0 \
	-show_entries stream=nb_read_frames -of csv=p=0 "$out")
[[ $decoded == "$nsrc" ]] || fail "ffprobe decoded $decoded frames of $nsrc"
note "recorded $nsrc/$nsrc frames, all decoded by ffmpeg without a message"

# ffprobe straight from the listen port, with a live producer.
fr_start_default probe
bg timeout 60 ffmpeg -nostdin -v error -re -stream_loop -1 -f mjpeg -framerate "$FPS" -i "$src" \
	-c copy -f mjpeg "tcp://$INGEST"
wait_stat "$FR_WAIT" frames_in -ge 1
probe=$(timeout 30 ffprobe -v error -f mjpeg -i "tcp://$LISTEN" -read_intervals '%+#5' \
	-select_streams v:0 -show_entries stream=codec_name,width,height -of default=nw=1 2>&1) ||
	fail "ffprobe from the listen port failed: $probe"
for kv in codec_name=mjpeg width=$W height=$H; do
	grep -qx "$kv" <<<"$probe" || fail "ffprobe from the listen port: no $kv in: $probe"
done
note "ffprobe tcp://$LISTEN: $(tr '\n' ' ' <<<"$probe")"
fr_stop
finish
