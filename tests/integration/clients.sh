#!/bin/bash
# SPDX-License-Identifier: MIT
# The clients users run: framerouter-grab (one frame, N frames, stdout; clear
# errors and exit 2 on bad usage) and examples/videodecode.py (OpenCV). Also
# unix:/path and [::1]:PORT addresses on both sides.
. "$(dirname "$0")/lib.sh"
need ffmpeg

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
# The producer loops over src: a frame may be followed by the first one again.
twice=(--source "$src" --source "$src")

has_v6=0
"$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null && has_v6=1
extra=(--stream "local,ingest=unix:$T/in.sock,listen=unix:$T/out.sock")
if ((has_v6)); then
	pick_ports 2 v6
	V6_IN="[::1]:${PORTS[0]}" V6_OUT="[::1]:${PORTS[1]}"
	extra+=(--stream "v6,ingest=$V6_IN,listen=$V6_OUT")
fi
pick_ports 2
TRICKY_IN=127.0.0.1:${PORTS[0]} TRICKY_OUT=127.0.0.1:${PORTS[1]}
extra+=(--stream "tricky,ingest=$TRICKY_IN,listen=$TRICKY_OUT")
fr_start_default clients "${extra[@]}"
bg_frames 120 push "$INGEST" "$src" --fps 30 --loop
wait_stat "$FR_WAIT" frames_in -ge 1

# ---- framerouter-grab ----
timeout 20 "$FR_GRAB" "$LISTEN" -o "$T/one.jpg" || fail "grab -o one.jpg exited with $?"
check_capture "$T/one.jpg" "${twice[@]}" --min 1
[[ $(frame_count "$T/one.jpg") == 1 ]] || fail "grab -o one.jpg wrote more than one frame"
decodes "$T/one.jpg"

cd "$T" || fail "cd $T"
timeout 20 "$FR_GRAB" "$LISTEN" -n 3 -o base.jpg || fail "grab -n 3 -o base.jpg exited with $?"
for i in 1 2 3; do
	[[ -s base-000$i.jpg ]] || fail "grab -n 3 -o base.jpg wrote no base-000$i.jpg"
	decodes "base-000$i.jpg"
	[[ $(frame_count "base-000$i.jpg") == 1 ]] || fail "base-000$i.jpg is not one whole frame"
done
[[ ! -e base-0004.jpg && ! -e base.jpg ]] || fail "grab -n 3 wrote more files than base-0001..3.jpg"
cat base-0001.jpg base-0002.jpg base-0003.jpg >three.mjpeg
check_capture three.mjpeg "${twice[@]}" --min 3
cd - >/dev/null || fail "cd -"

timeout 20 "$FR_GRAB" "$LISTEN" -n 4 -o - >"$T/stdout.mjpeg" || fail "grab -n 4 -o - exited with $?"
check_capture "$T/stdout.mjpeg" "${twice[@]}" --min 4
[[ $(frame_count "$T/stdout.mjpeg") == 4 ]] || fail "grab -n 4 -o - wrote more than 4 frames"
decodes "$T/stdout.mjpeg"
note "grab: -o FILE, -n 3 -o base.jpg (base-0001..3.jpg) and -n 4 -o - give whole decodable frames"

# Nothing listening: a clear message naming the address, non-zero exit.
pick_ports 1
nobody=127.0.0.1:${PORTS[0]}
timeout 10 "$FR_GRAB" "$nobody" -o "$T/none.jpg" 2>"$T/err"
rc=$?
((rc != 0 && rc != 124)) || fail "grab from $nobody (nothing listening) exited with $rc"
if ! grep -qF "$nobody" "$T/err" || ! grep -qi 'refused' "$T/err"; then
	fail "grab from $nobody: unclear message: $(cat "$T/err")"
fi
[[ ! -e $T/none.jpg ]] || fail "grab from $nobody wrote a file"
note "grab with nothing listening: exit $rc: $(cat "$T/err")"

# Bad usage: exit 2 with a message.
bad_grab() {
	timeout 10 "$FR_GRAB" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	((rc == 2)) || fail "framerouter-grab $* exited with $rc, expected 2"
	[[ -s $T/err && ! -s $T/out ]] || fail "framerouter-grab $*: expected a message on stderr only"
}
bad_grab
bad_grab "$LISTEN" -n 0
bad_grab "$LISTEN" -n abc
bad_grab "$LISTEN" -n -3
bad_grab "$LISTEN" --bogus
bad_grab "$LISTEN" "$LISTEN"
bad_grab nonsense
bad_grab "127.0.0.1:70000"
timeout 10 "$FR_GRAB" --help >"$T/out" || fail "grab --help exited with $?"
grep -q usage "$T/out" || fail "grab --help printed no usage"
note "grab: bad usage exits 2"

# ---- unix:/path and [::1] ----
push_grab local "unix:$T/in.sock" "unix:$T/out.sock" "$FR_FIXTURES_DIR/ffmpeg-frame.jpg"
note "unix:/path: pushed and grabbed a frame"
if ((has_v6)); then
	push_grab v6 "$V6_IN" "$V6_OUT" "$FR_FIXTURES_DIR/baseline.jpg"
	note "[::1]: pushed to $V6_IN and grabbed from $V6_OUT"
else
	note "no IPv6 loopback here: [::1] not checked"
fi

# ---- examples/videodecode.py ----
example=$FR_SRCDIR/examples/videodecode.py
[[ -f $example ]] || fail "$example is missing"
if ! "$PY" -c 'import cv2' 2>/dev/null; then
	fr_stop
	skip "python3-opencv (cv2) not installed: examples/videodecode.py not checked"
fi
out=$(timeout 30 "$PY" "$example" "$LISTEN" -o "$T/videodecode.jpg" 2>&1) ||
	fail "videodecode.py $LISTEN exited with $?: $out"
note "videodecode.py: $out"
[[ $out == "$T/videodecode.jpg: $(stat -c %s "$T/videodecode.jpg") bytes, 320x240" ]] ||
	fail "videodecode.py printed: $out"
check_capture "$T/videodecode.jpg" --source "$src" --min 1
[[ $(frame_count "$T/videodecode.jpg") == 1 ]] || fail "videodecode.py saved more than one frame"
decodes "$T/videodecode.jpg"
# Frames whose end a naive FF D9 search gets wrong, one at a time as the latest
# frame of stream "tricky"; videodecode.py with its default output file.
n=0
for f in exif-thumbnail app-with-eoi com-with-eoi progressive fill-bytes restart; do
	n=$((n + 1))
	frames push "$TRICKY_IN" "$FR_FIXTURES_DIR/$f.jpg" >/dev/null || fail "cannot push $f.jpg"
	_tricky_has() { fr_stats tricky && [[ $(stat_of frames_in) == "$1" ]]; }
	wait_until "$FR_WAIT" "frame $n on stream tricky" _tricky_has "$n"
	rm -f "$T/frame.jpg"
	out=$(cd "$T" && timeout 30 "$PY" "$example" "$TRICKY_OUT" 2>&1) ||
		fail "videodecode.py $TRICKY_OUT ($f.jpg) exited with $?: $out"
	[[ $out == "frame.jpg: $(stat -c %s "$FR_FIXTURES_DIR/$f.jpg") bytes, 320x240" ]] ||
		fail "videodecode.py on $f.jpg printed: $out"
	cmp -s "$T/frame.jpg" "$FR_FIXTURES_DIR/$f.jpg" || fail "videodecode.py saved other bytes than $f.jpg"
done
note "videodecode.py: exif-thumbnail, APPn/COM with FF D9, progressive, fill bytes, restart markers ok"
if ((has_v6)); then
	# IPv6 address.
	out=$(cd "$T" && timeout 30 "$PY" "$example" "$V6_OUT" 2>&1) ||
		fail "videodecode.py $V6_OUT exited with $?: $out"
	[[ $out == "frame.jpg: $(stat -c %s "$FR_FIXTURES_DIR/baseline.jpg") bytes, 320x240" ]] ||
		fail "videodecode.py $V6_OUT printed: $out"
	cmp -s "$T/frame.jpg" "$FR_FIXTURES_DIR/baseline.jpg" || fail "videodecode.py $V6_OUT: wrong frame"
fi
timeout 30 "$PY" "$example" "$nobody" -o "$T/none.jpg" >"$T/out" 2>"$T/err"
rc=$?
if ((rc != 1)) || ! grep -qF "$nobody" "$T/err"; then
	fail "videodecode.py with nothing listening: exit $rc: $(cat "$T/err")"
fi
note "videodecode.py: saved and decoded a whole frame; exit 1 with a message when nothing listens"
fr_stop
finish
