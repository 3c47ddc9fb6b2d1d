#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input never reaches a subscriber and never stops the daemon: garbage,
# truncated, structurally broken and oversize frames are dropped and counted
# exactly, the good frame pushed after each of them arrives alone, and a 48 MiB
# frame is dropped without being buffered; mixed.mjpeg yields exactly
# mixed.expect; --validate drops frames libjpeg-turbo cannot read (and keeps
# DHT-less ones); junk from a subscriber is ignored; drop messages are
# rate-limited.
. "$(dirname "$0")/lib.sh"

F=$FR_FIXTURES_DIR
fsize() { stat -c %s "$1"; }

# Expected state, updated by each step: good lists the fixture files the
# subscriber must have got, in order.
# push FILE...: one producer connection sends FILE... as one byte stream, then closes.
push() {
	frames push "$INGEST" "$@" >/dev/null || fail "cannot push $*"
	local f
	for f; do
		exp_bytes_in=$((exp_bytes_in + $(fsize "$f")))
	done
}

# subscribe: a fresh recording subscriber; expectations start from zero.
subscribe() {
	good=() exp_garbage=0 exp_invalid=0 exp_oversize=0 exp_truncated=0 exp_bytes_in=0
	rm -f "$T/sub.mjpeg" "$T/sub.port"
	bg_frames 120 capture "$LISTEN" "$T/sub.mjpeg" --ready "$T/sub.port"
	wait_until "$FR_WAIT" "the subscriber to connect" test -s "$T/sub.port"
	sub_port=$(cat "$T/sub.port")
	wait_stat "$FR_WAIT" clients -eq 1
}

# step_ok WHAT: after a step, every counter is as expected and the subscriber
# holds exactly the good frames so far.
step_ok() {
	wait_stat "$FR_WAIT" bytes_in -eq "$exp_bytes_in"
	wait_stat "$FR_WAIT" producer_connected -eq 0
	wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$sub_port" "$T/sub.mjpeg"
	expect_stat frames_in "${#good[@]}"
	expect_stat garbage_bytes "$exp_garbage"
	expect_stat dropped_invalid "$exp_invalid"
	expect_stat dropped_oversize "$exp_oversize"
	expect_stat dropped_truncated "$exp_truncated"
	expect_stat dropped_slow_client 0
	local srcs=() g
	for g in "${good[@]}"; do
		srcs+=(--source "$g")
	done
	if ((${#good[@]})); then
		frames check "$T/sub.mjpeg" "${srcs[@]}" --expect all >"$T/check.out" ||
			fail "after $1: $(cat "$T/check.out")"
	else
		[[ ! -s $T/sub.mjpeg ]] || fail "after $1: the subscriber got $(fsize "$T/sub.mjpeg") bytes"
	fi
	note "$1: ok (frames_in=${#good[@]} garbage_bytes=$exp_garbage invalid=$exp_invalid oversize=$exp_oversize truncated=$exp_truncated)"
}

large=$F/large-1080p.jpg
max=65536
(($(fsize "$large") > max)) || fail "large-1080p.jpg must be larger than $max bytes"
fr_start_default bad --max-frame-size "$max"
subscribe

# Garbage before a frame, in the same connection.
push "$F/junk.bin" "$F/ffmpeg-frame.jpg"
good+=("$F/ffmpeg-frame.jpg") exp_garbage=$((exp_garbage + $(fsize "$F/junk.bin")))
step_ok "junk.bin + a frame"

# Garbage full of FF xx pairs that ends with a lone FF right before the SOI.
push "$F/junk-with-ff.bin" "$F/baseline.jpg"
good+=("$F/baseline.jpg") exp_garbage=$((exp_garbage + $(fsize "$F/junk-with-ff.bin")))
step_ok "junk-with-ff.bin + a frame"

# A producer that leaves mid-scan, then one that leaves mid-header.
push "$F/truncated-scan.bin"
exp_truncated=$((exp_truncated + 1))
push "$F/progressive.jpg"
good+=("$F/progressive.jpg")
step_ok "truncated-scan.bin (producer gone) + a frame"
push "$F/truncated-header.bin"
exp_truncated=$((exp_truncated + 1))
push "$F/restart.jpg"
good+=("$F/restart.jpg")
step_ok "truncated-header.bin (producer gone) + a frame"

# Oversize: dropped, and the frame right behind it survives. The log says how
# large the frame really was, and the limit.
push "$large" "$F/stuffed.jpg"
good+=("$F/stuffed.jpg") exp_oversize=$((exp_oversize + 1))
step_ok "$(fsize "$large")-byte frame over --max-frame-size $max + a frame"
want_line="dropped frame: oversize, $(fsize "$large") bytes: larger than --max-frame-size $max"
grep -qF "$want_line" "$FR_LOG" ||
	fail "no log line '$want_line': $(grep 'dropped frame: oversize' "$FR_LOG")"

# A huge frame is dropped without being buffered: the daemon's peak memory
# hardly moves while 48 MiB go through the 64 KiB limit.
"$PY" - "$T/huge.bin" <<-'EOF' || fail "cannot write huge.bin"
	import sys
	with open(sys.argv[1], "wb") as fp:
	    fp.write(bytes.fromhex("ffd8 ffda0008010100003f00"))	# SOI, scan header
	    block = (bytes(range(255)) * 4113)[:1 << 20]		# 1 MiB, no FF
	    for _ in range(48):
	        fp.write(block)
	    fp.write(bytes.fromhex("ffd9"))
EOF
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$FR_PID/status"; }
hwm_before=$(hwm)
push "$T/huge.bin" "$F/ffmpeg-frame.jpg"
good+=("$F/ffmpeg-frame.jpg") exp_oversize=$((exp_oversize + 1))
step_ok "a $(($(fsize "$T/huge.bin") >> 20)) MiB frame + a frame"
growth_kib=$(($(hwm) - hwm_before))
((growth_kib < 16384)) || fail "peak memory grew by $growth_kib KiB while a 48 MiB frame was dropped"
note "peak memory grew by $growth_kib KiB while a 48 MiB oversize frame was dropped"
rm -f "$T/huge.bin"

# A frame broken off by the next SOI (structurally invalid).
push "$F/truncated-scan.bin" "$F/exif-thumbnail.jpg"
good+=("$F/exif-thumbnail.jpg") exp_invalid=$((exp_invalid + 1))
step_ok "truncated-scan.bin + a frame in one connection"

# mixed.mjpeg in one go: exactly the frames in mixed.expect. Garbage: junk.bin,
# the 00 00 after baseline, and the bytes between the abandoned SOI of
# truncated-header.bin and the next SOI (rescanned from the byte after it).
push "$F/mixed.mjpeg"
while read -r name; do
	good+=("$F/$name")
done <"$F/mixed.expect"
exp_invalid=$((exp_invalid + 2)) exp_garbage=$((exp_garbage + $(fsize "$F/junk.bin") + 2 + 98))
step_ok "mixed.mjpeg"

# Unusual but valid frames all pass.
push "$F/arithmetic.jpg" "$F/app-with-eoi.jpg" "$F/com-with-eoi.jpg" "$F/fill-bytes.jpg" "$F/dht-less.jpg"
good+=("$F/arithmetic.jpg" "$F/app-with-eoi.jpg" "$F/com-with-eoi.jpg" "$F/fill-bytes.jpg" "$F/dht-less.jpg")
step_ok "arithmetic, APPn/COM holding FF D9, fill bytes, DHT-less"

# Junk sent on the subscriber port is read and dropped; nobody notices.
bg_frames 60 capture "$LISTEN" "$T/junky.mjpeg" --junk 262144 --ready "$T/junky.port"
junky_pid=$BG_PID
wait_stat "$FR_WAIT" clients -eq 2
push "$F/ffmpeg-frame.jpg"
good+=("$F/ffmpeg-frame.jpg")
step_ok "a subscriber sending 256 KiB of junk"
wait_until "$FR_WAIT" "2 frames at the junk-sending subscriber" has_frames "$T/junky.mjpeg" 2
kill -TERM "$junky_pid"
wait_exit "$FR_WAIT" "$junky_pid"
check_capture "$T/junky.mjpeg" --source "$F/dht-less.jpg" --source "$F/ffmpeg-frame.jpg" --expect 0,1
wait_stat "$FR_WAIT" clients -eq 1

# Many bad frames within a second: every one counted, few logged, and a later
# message says how many were held back.
burst=40
for ((i = 0; i < burst; i++)); do
	cat "$F/truncated-scan.bin"
done >"$T/burst.bin"
lines_before=$(grep -c 'dropped frame: invalid' "$FR_LOG")
push "$T/burst.bin" "$F/baseline.jpg"
good+=("$F/baseline.jpg") exp_invalid=$((exp_invalid + burst))
step_ok "$burst broken frames in a burst"
# One more broken frame at a time until the limiter has let a line through.
deadline=$((SECONDS + 15))
until grep 'dropped frame: invalid' "$FR_LOG" | grep -q 'more suppressed)'; do
	((SECONDS < deadline)) || fail "no '(N more suppressed)' drop message within 15 s"
	push "$F/truncated-scan.bin" "$F/baseline.jpg"
	good+=("$F/baseline.jpg") exp_invalid=$((exp_invalid + 1))
	step_ok "one more broken frame" >/dev/null
	sleep 0.2
done
step_ok "rate-limited drop messages"
logged=$(($(grep -c 'dropped frame: invalid' "$FR_LOG") - lines_before))
((logged < burst / 4)) || fail "$logged drop messages for $exp_invalid broken frames: not rate-limited"
note "$logged drop messages for the burst and what followed; $(grep 'more suppressed)' "$FR_LOG" | grep 'dropped frame: invalid' | head -n 1 | sed 's/.*: stream/stream/')"
fr_stop

# ---- --validate ----
"$PY" - "$F/ffmpeg-frame.jpg" "$T/sos-only.jpg" "$T/bad-sof.jpg" <<-'EOF' || fail "cannot craft frames"
	import sys
	good, sos_only, bad_sof = sys.argv[1:]
	# SOI, a scan header with no frame header (SOF) or tables before it, EOI.
	open(sos_only, "wb").write(bytes.fromhex("ffd8 ffda0008 010100 003f00") +
	                           bytes(range(1, 200)) + bytes.fromhex("ffd9"))
	# A real frame whose SOF0 says the image is 0 pixels wide.
	d = bytearray(open(good, "rb").read())
	i = 2
	while d[i + 1] != 0xC0:
	    i += 2 + (d[i + 2] << 8 | d[i + 3])
	d[i + 7:i + 9] = b"\0\0"	# FF C0 Lh Ll P Yh Yl Xh Xl
	open(bad_sof, "wb").write(d)
EOF
for f in sos-only bad-sof; do
	[[ $(frame_count "$T/$f.jpg") == 1 ]] || fail "$f.jpg should be one structurally whole frame"
done
fr_start_default validate --validate
subscribe
push "$F/dht-less.jpg" "$F/progressive.jpg" "$F/arithmetic.jpg" "$F/ffmpeg-frame.jpg"
good+=("$F/dht-less.jpg" "$F/progressive.jpg" "$F/arithmetic.jpg" "$F/ffmpeg-frame.jpg")
step_ok "--validate: DHT-less, progressive, arithmetic and ffmpeg frames pass"
push "$T/sos-only.jpg"
exp_invalid=$((exp_invalid + 1))
step_ok "--validate: SOS without SOF is dropped"
grep 'dropped frame: invalid' "$FR_LOG" | grep -q 'libjpeg-turbo' ||
	fail "the --validate drop message does not come from libjpeg-turbo"
note "$(grep 'dropped frame: invalid' "$FR_LOG" | tail -n 1 | sed 's/.*: stream/stream/')"
# A good frame after a rejected one must pass again.
push "$F/baseline.jpg"
wait_stat "$FR_WAIT" bytes_in -eq "$exp_bytes_in"
wait_stat "$FR_WAIT" producer_connected -eq 0
if [[ $(stat_of frames_in) == $((${#good[@]} + 1)) ]]; then
	good+=("$F/baseline.jpg")
	step_ok "--validate: a good frame after a rejected one passes"
else
	# Reported: the TurboJPEG handle stays in its error state after a rejection.
	defect "--validate: baseline.jpg pushed after a rejected frame was dropped as well" \
		"(dropped_invalid=$(stat_of dropped_invalid) frames_in=$(stat_of frames_in)); every frame" \
		"after the first rejection is rejected with the same error"
fi
fr_stop

# Each rejection on its own daemon, so that one cannot hide behind another.
fr_start_default validate-sof --validate
subscribe
push "$T/bad-sof.jpg"
exp_invalid=$((exp_invalid + 1))
step_ok "--validate: a frame whose SOF says width 0 is dropped"
note "$(grep 'dropped frame: invalid' "$FR_LOG" | tail -n 1 | sed 's/.*: stream/stream/')"
fr_stop
finish
