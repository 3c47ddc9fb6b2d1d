#!/bin/bash
# SPDX-License-Identifier: MIT
# A raw subscriber that half-closes its sending side, as
# `ncat HOST PORT </dev/null >out.mjpeg` does (shutdown(SHUT_WR) on EOF of its
# stdin), is still a subscriber: it keeps getting whole frames, in order, while a
# producer pushes at a real rate, and the daemon does not spin on the EOF it reads
# (counted: it reads the EOF once, then stops reading, which its debug line "end
# of its input" says exactly once; CPU time is printed). Once the subscriber closes for
# good, the daemon drops it (clients falls back) while frames flow, and a normal
# subscriber is undisturbed throughout. The real ncat with stdin from /dev/null
# gets whole, decodable frames.
. "$(dirname "$0")/lib.sh"

ABUSE_PY=$(cd "$(dirname "$0")" && pwd)/abuse_client.py
[[ -f $ABUSE_PY ]] || fail "$ABUSE_PY is missing"
FPS=25
READ_S=2	# how long the half-closed subscriber reads
seq=$T/seq.mjpeg
"$PY" "$ABUSE_PY" mkframes "$FR_FIXTURES_DIR/baseline.jpg" "$seq" --count 150 || fail "cannot make $seq"
expect_frames "$seq" 150
# The producer loops over seq: frame 149 may be followed by frame 0.
twice=(--source "$seq" --source "$seq")

# halfclose.py FRAMES_PY ADDR OUT READY SECONDS: connects to ADDR, writes its
# local port to READY, shuts down its sending side and reads for SECONDS (or
# until the daemon closes), then closes. OUT gets what it read, OUT.whole the
# whole frames of it. Exit 0 if it read for SECONDS, 1 if the daemon closed first.
cat >"$T/halfclose.py" <<'EOF'
import os
import socket
import sys
import time

frames_py, addr, out, ready, seconds = sys.argv[1:6]
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(frames_py))
import frames as F  # noqa: E402

s = F.connect(addr)
s.shutdown(socket.SHUT_WR)
F.write_atomic(ready, "%d\n" % F.local_port(s))
how, data = F.read_until_end(s, time.monotonic() + float(seconds))
s.close()
end = {"open": "time", "eof": "closed by the daemon", "reset": "reset by the daemon"}[how]
with open(out, "wb") as f:
    f.write(data)
whole = F.raw_capture_frames(bytes(data))[0]
with open(out + ".whole", "wb") as f:
    for _, fr in whole:
        f.write(fr)
print("halfclose: read %d bytes, %d whole frames in %s s after shutdown(SHUT_WR); ended: %s"
      % (len(data), len(whole), seconds, end), flush=True)
sys.exit(0 if end == "time" else 1)
EOF

# cpu_ticks PID: utime + stime of PID, in clock ticks.
cpu_ticks() { echo $(($(proc_stat "$1" 12) + $(proc_stat "$1" 13))); }

# wait_clients N: polls the counters until the daemon has N subscribers.
wait_clients() { wait_until "$FR_WAIT" "$1 subscribers in the counters" _clients_are "$1"; }
_clients_are() {
	alive_or_fail
	fr_stats
	[[ $(stat_of clients) == "$1" ]]
}

fr_start_default halfclose --log-level debug
# A normal subscriber, connected throughout.
subscribe reader 120
reader_pid=$SUB_PID
wait_clients 1
bg_frames 120 push "$INGEST" "$seq" --fps "$FPS" --loop
push_pid=$BG_PID
wait_until "$FR_WAIT" "the normal subscriber to get frames" has_frames "$T/reader.mjpeg" 2

# ---- the half-closed subscriber keeps getting frames ----
hz=$(getconf CLK_TCK)
bg timeout $((READ_S + 60)) "$PY" "$T/halfclose.py" "$FRAMES_PY" "$LISTEN" "$T/hc.mjpeg" "$T/hc.port" "$READ_S" \
	>"$T/hc.out" 2>&1
hc_pid=$BG_PID
wait_until "$FR_WAIT" "the half-closed subscriber to connect" test -s "$T/hc.port"
c0=$(cpu_ticks "$FR_PID") t0=$(date +%s%N)
hc_port=$(cat "$T/hc.port")
wait_exit $((READ_S + FR_WAIT)) "$hc_pid"
hc_rc=$WAIT_RC
c1=$(cpu_ticks "$FR_PID") t1=$(date +%s%N)
cat "$T/hc.out"
cpu_ms=$(((c1 - c0) * 1000 / hz)) wall_ms=$(((t1 - t0) / 1000000))
note "daemon CPU while the half-closed subscriber read: $cpu_ms ms in $wall_ms ms"
grep -q "subscriber 127\.0\.0\.1:$hc_port connected" "$FR_LOG" ||
	fail "the daemon did not log the half-closed subscriber 127.0.0.1:$hc_port as connected"
alive_or_fail
if ((hc_rc != 0)); then
	fail "the daemon closed a subscriber that had only shut down its sending side: $(grep -E "subscriber 127\.0\.0\.1:$hc_port: closed" "$FR_LOG" | sed 's/.*info: //')"
fi
n=$(frame_count "$T/hc.mjpeg.whole")
((n >= 5)) || fail "the half-closed subscriber got $n whole frames in ${READ_S}s at $FPS fps"
check_capture "$T/hc.mjpeg.whole" "${twice[@]}" --min 5
# A read watcher left on at EOF would call read_cb, and log, on every loop iteration.
wait_until "$FR_WAIT" "the debug line for the half-closed subscriber's EOF" \
	grep -qE "debug: client 127\.0\.0\.1:$hc_port: end of its input; sending on$" "$FR_LOG"
eof_lines=$(grep -cE "debug: client 127\.0\.0\.1:$hc_port: end of its input; sending on$" "$FR_LOG")
((eof_lines == 1)) ||
	fail "the daemon read the half-closed subscriber's EOF $eof_lines times, not once: it spins on EOF"
note "after shutdown(SHUT_WR) the subscriber got $n whole frames in order in ${READ_S}s"

# ---- once it closes for good, the daemon notices while frames flow ----
start=$(date +%s%N)
wait_clients 1
note "clients back to 1 $(elapsed_ms "$start") ms after the half-closed subscriber closed"
wait_until "$FR_WAIT" "a 'closed' log line for 127.0.0.1:$hc_port" \
	grep -qE "subscriber 127\.0\.0\.1:$hc_port: closed: " "$FR_LOG"
note "$(grep -E "subscriber 127\.0\.0\.1:$hc_port: closed: " "$FR_LOG" | sed 's/.*info: //' | cut -c1-160)"
[[ -n $(client_line "$(cat "$T/reader.port")") ]] || fail "the normal subscriber was disconnected"
n=$(frame_count "$T/reader.mjpeg")
wait_until "$FR_WAIT" "the normal subscriber to keep getting frames" has_frames "$T/reader.mjpeg" $((n + 3))
kill -TERM "$reader_pid"
wait_exit "$FR_WAIT" "$reader_pid"
wait_clients 0

# ---- ncat HOST PORT </dev/null >out.mjpeg ----
if ! command -v ncat >/dev/null 2>&1; then
	fr_stop
	skip "ncat not found (Debian package ncat): the real half-closing client not checked"
fi
require ffmpeg
timeout 60 ncat 127.0.0.1 "$LISTEN_PORT" </dev/null >"$T/ncat.mjpeg" 2>"$T/ncat.err" &
ncat_pid=$!
track "$ncat_pid"
# ncat_has N: ncat's output holds N whole frames; fails the test if ncat has exited.
ncat_has() {
	local rc
	alive_or_fail
	if _fr_gone "$ncat_pid"; then
		wait "$ncat_pid"
		rc=$?
		fail "ncat exited (status $rc) after $(frame_count "$T/ncat.mjpeg") whole frames: the daemon closed its connection ($(cat "$T/ncat.err"))"
	fi
	has_frames "$T/ncat.mjpeg" "$1"
}
wait_until "$FR_WAIT" "ncat to get 10 frames" ncat_has 10
fr_stats
ncat_port=$(head -n 1 "$T/clients.txt" | sed -nE 's/.*client [^ ]*:([0-9]+) .*/\1/p')
[[ -n $ncat_port ]] || fail "ncat is not in the client list: $(cat "$T/clients.txt")"
# The producer leaves (its partial frame is dropped), then ncat reads all it was sent.
kill -TERM "$push_pid"
wait_exit "$FR_WAIT" "$push_pid"
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat clients 1
# ncat_synced: ncat's output holds every byte the daemon sent it, as the client list
# says while it is connected, or its close line once the daemon has let it go (2 s
# after its end of input, with nothing more to send it).
ncat_synced() {
	local l
	fr_stats
	l=$(client_line "$ncat_port")
	if [[ -z $l ]]; then
		l=$(grep -E -- "subscriber 127\.0\.0\.1:$ncat_port: closed: " "$FR_LOG" | tail -n 1 |
			tr "()" "  ")
		[[ -n $l ]] || fail "ncat (port $ncat_port) is neither connected nor logged as closed"
	fi
	(($(stat_of bytes_sent "$l") == $(stat -c %s "$T/ncat.mjpeg")))
}
wait_until "$FR_WAIT" "ncat to read all it was sent" ncat_synced
kill -TERM "$ncat_pid"
wait_exit "$FR_WAIT" "$ncat_pid"
check_capture "$T/ncat.mjpeg" "${twice[@]}" --min 10
decodes "$T/ncat.mjpeg"
note "ncat with stdin from /dev/null: $(frame_count "$T/ncat.mjpeg") whole frames in order, decoded by ffmpeg"
wait_clients 0
fr_stop
finish
