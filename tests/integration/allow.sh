#!/bin/bash
# SPDX-License-Identifier: MIT
# --allow [ingest=|listen=|http=]CIDR: which peers a TCP listener accepts.
#  1. Bad values exit 2 with one line "framerouter: --allow: ..." before binding.
#  2. --allow 127.0.0.1/32: a subscriber, a producer and an HTTP client from
#     127.0.0.2 (a client may bind any of 127/8) are closed at once without a
#     byte, counted in connections_denied (/stats, /metrics, SIGUSR1) and logged
#     ("--listen ADDR: denied PEER (not in --allow)", at most once a second per
#     listener, then "(N more suppressed)"); a denied producer
#     moves no counter and replaces no one; a connected subscriber keeps getting
#     frames throughout; unix: sockets are never filtered.
#  3. Scopes: listen= filters only raw --listen, http= only --http; a bare
#     127.0.0.0/8 admits 127.0.0.2; several rules add up; IPv6 rules, and IPv4
#     rules matching IPv4-mapped peers of a dual-stack [::] listener.
#  3b. Families: a rule admits peers of its own family only. --allow ::/0 denies
#     IPv4 clients of 127.0.0.1 listeners (producer, subscriber, HTTP) and admits
#     ::1; --allow 0.0.0.0/0 and its mapped spelling ::ffff:0:0/96 admit 127.0.0.1
#     and deny ::1 on [::1] listeners; --allow ::1 admits ::1 and denies 127.0.0.1.
#  4. Binding raw --ingest or --http to a non-loopback address with no --allow
#     rule for it (and, for --http, no --ingest-token) logs "is not a loopback
#     address" naming the option; loopback addresses and covered ones do not.
. "$(dirname "$0")/lib.sh"
need curl

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg src_frames=10
frame=$FR_FIXTURES_DIR/ffmpeg-frame.jpg
expect_frames "$src" "$src_frames"

"$PY" -c 'import socket; socket.socket().bind(("127.0.0.2", 0))' 2>/dev/null ||
	skip "a client cannot bind to 127.0.0.2 here"
has_v6=0
"$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null && has_v6=1

# peer.py: connections from a chosen source address.
#   peer.py FRAMES_PY probe SRC ADDR [--send FILE] [--http PATH] [--timeout S]
#       connects from SRC (any port), sends FILE then shuts down its side (a
#       producer) or a GET PATH (HTTP), and reads until the daemon closes or S
#       seconds pass; prints "result=eof|reset|open|refused bytes=N port=P status=S".
#   peer.py FRAMES_PY sub SRC ADDR OUT [--frames N] [--ready FILE] [--timeout S]
#       a raw subscriber from SRC; exit 0 once it has N whole frames (then OUT
#       holds the whole frames only).
#   peer.py FRAMES_PY flood SRC ADDR --count N [--timeout S]
#       N connections from SRC one after the other, each read until it ends;
#       stops at the first one left open. Prints the tally.
cat >"$T/peer.py" <<'EOF'
import os
import socket
import sys
import time

frames_py = sys.argv.pop(1)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(frames_py))
import frames as F  # noqa: E402


def open_from(src, addr, timeout):
    """A socket bound to (src, 0) and connected to addr, or None if refused."""
    family, target = F.parse_addr(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    try:
        s.connect(target)
    except ConnectionRefusedError:
        s.close()
        return None
    return s


def cmd_probe(a):
    s = open_from(a.src, a.addr, a.timeout)
    if s is None:
        print("result=refused bytes=0 port=0 status=-")
        return 0
    port = F.local_port(s)
    try:
        if a.send:
            s.sendall(F.read_file(a.send))
            s.shutdown(socket.SHUT_WR)
        if a.http:
            s.sendall(("GET %s HTTP/1.1\r\nHost: framerouter\r\nConnection: close\r\n\r\n"
                       % a.http).encode())
    except OSError:
        pass    # closed by the daemon while sending: the read below tells how
    how, got = F.read_until_end(s, time.monotonic() + a.timeout)
    s.close()
    status = "-"
    if got.startswith(b"HTTP/") and b" " in got:
        status = got.split(b" ", 2)[1].decode("ascii", "replace")
    print("result=%s bytes=%d port=%d status=%s" % (how, len(got), port, status))
    return 0


def cmd_sub(a):
    F.on_sigterm_exit()
    s = open_from(a.src, a.addr, a.timeout)
    if s is None:
        print("sub: connection refused")
        return 1
    if a.ready:
        F.write_atomic(a.ready, "%d\n" % F.local_port(s))
    with open(a.out, "wb") as out:
        how, got = F.read_until_end(s, time.monotonic() + a.timeout, a.frames, out)
    s.close()
    if how == "frames":
        # Keep the whole frames only: the start of the next one may have come too.
        with open(a.out, "wb") as out:
            for _, f in F.raw_capture_frames(bytes(got))[0]:
                out.write(f)
    print("sub: %s after %d bytes, %d whole frames" % (how, len(got), F.count_whole_frames(got)))
    return 0 if how == "frames" else 1


def cmd_flood(a):
    tally = {"eof": 0, "reset": 0, "open": 0, "refused": 0}
    data = 0
    for _ in range(a.count):
        s = open_from(a.src, a.addr, a.timeout)
        if s is None:
            tally["refused"] += 1
            continue
        how, got = F.read_until_end(s, time.monotonic() + a.timeout)
        s.close()
        tally[how] += 1
        data += 1 if got else 0
        if how == "open":
            break
    print("flood: count=%d closed=%d open=%d refused=%d data=%d" % (
        a.count, tally["eof"] + tally["reset"], tally["open"], tally["refused"], data))
    return 0


def main():
    cli = F.Cli("peer.py: connections from a chosen source address")
    q = cli.command("probe", cmd_probe, "src", "addr")
    q.add_argument("--send")
    q.add_argument("--http")
    q.add_argument("--timeout", type=float, default=10)
    q = cli.command("sub", cmd_sub, "src", "addr", "out")
    q.add_argument("--frames", type=int)
    q.add_argument("--ready")
    q.add_argument("--timeout", type=float, default=10)
    q = cli.command("flood", cmd_flood, "src", "addr")
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--timeout", type=float, default=10)
    return cli.run()


sys.exit(main())
EOF
peer() { "$PY" "$T/peer.py" "$FRAMES_PY" "$@"; }

# denied counts the connections this test expects the current daemon to deny.
denied=0


# expect_denied WHAT SRC ADDR [ARG...]: a connection from SRC to ADDR is closed at
# once without a single byte. Sets PROBE_PORT (its local port).
expect_denied() {
	local what=$1 out
	shift
	alive_or_fail
	out=$(peer probe "$@" --timeout "$FR_WAIT") || fail "peer.py probe $* failed: $out"
	alive_or_fail
	[[ $out =~ ^result=(eof|reset)\ bytes=0\ port=([0-9]+) ]] ||
		fail "$what was not closed at once without a byte: $out"
	PROBE_PORT=${BASH_REMATCH[2]}
	denied=$((denied + 1))
	note "$what: $out"
}

# sub_from SRC ADDR NAME: a raw subscriber from SRC gets a whole frame (the latest).
sub_from() {
	local out
	out=$(peer sub "$1" "$2" "$T/$3.mjpeg" --frames 1 --timeout "$FR_WAIT") ||
		fail "a subscriber from $1 to $2 got no frame: $out"
}

# push_from SRC ADDR: a producer from SRC pushes $src whole (and is then closed
# by the daemon after its EOF); the caller checks frames_in.
push_from() {
	local out
	out=$(peer probe "$1" "$2" --send "$src" --timeout "$FR_WAIT") || fail "peer.py probe failed: $out"
	[[ $out == result=eof* ]] || fail "producer from $1 to $2: $out"
}

# deny_lines OPTION PORT: log lines for denied connections on 127.0.0.1:PORT.
deny_lines() { grep -E -- "warn: $1 127\.0\.0\.1:$2: denied " "$FR_LOG" || true; }

# expect_dump_denied N [WHAT]: a fresh SIGUSR1 counter dump says connections_denied=N
# (all a test can ask a daemon whose --http does not admit it).
expect_dump_denied() {
	local before v
	before=$(grep -c 'connections_denied=' "$FR_LOG")
	kill -USR1 "$FR_PID" 2>/dev/null || fail "framerouter (pid $FR_PID) is not running"
	wait_until "$FR_WAIT" "a connections_denied= line in the SIGUSR1 dump" _dump_has_denied "$before"
	v=$(grep -o 'connections_denied=[0-9]*' "$FR_LOG" | tail -n 1 | cut -d= -f2)
	[[ $v == "$1" ]] || fail "${2:+$2: }SIGUSR1 dump: connections_denied=$v, expected $1"
}
_dump_has_denied() { (($(grep -c 'connections_denied=' "$FR_LOG") > $1)); }

# expect_denied_count N: connections_denied is N in /stats, /metrics and SIGUSR1.
expect_denied_count() {
	stats_json
	expect_json 'j["connections_denied"]' "$1"
	expect_http 200 "$T/metrics" "$URL/metrics"
	grep -qx "framerouter_connections_denied_total $1" "$T/metrics" ||
		fail "/metrics: expected 'framerouter_connections_denied_total $1', got: $(grep connections_denied "$T/metrics")"
	expect_dump_denied "$1"
	note "connections_denied=$1 in /stats, /metrics and the SIGUSR1 dump"
}

# ==== 1. bad values ====
pick_ports 3
A1=127.0.0.1:${PORTS[0]} A2=127.0.0.1:${PORTS[1]} A3=127.0.0.1:${PORTS[2]}
bad_allow() {
	timeout 5 "$FR_BIN" --ingest "$A1" --listen "$A2" --http "$A3" \
		--stream "u,ingest=unix:$T/never.sock" --allow "$1" >"$T/out" 2>"$T/err"
	local rc=$? p
	((rc == 2)) || fail "--allow '$1' exited with $rc, expected 2 (stderr: $(head -c 300 "$T/err"))"
	(($(wc -l <"$T/err") == 1)) || fail "--allow '$1': expected one line on stderr, got: $(cat "$T/err")"
	[[ $(cat "$T/err") == "framerouter: --allow:"* ]] ||
		fail "--allow '$1': the message does not start with 'framerouter: --allow:': $(cat "$T/err")"
	[[ ! -s $T/out ]] || fail "--allow '$1': wrote to stdout: $(head -c 300 "$T/out")"
	for p in "${PORTS[@]}"; do
		! is_listening "$p" || fail "--allow '$1': port $p is listening"
	done
	[[ ! -e $T/never.sock ]] || fail "--allow '$1': bound unix:$T/never.sock before failing"
	note "exit 2: --allow '$1' -> $(cat "$T/err")"
}
for v in 10.0.0.0/33 foo=10.0.0.0/8 300.1.1.1 '' ::1/129 listen= 10.0.0.0/abc; do
	bad_allow "$v"
done

# ==== 2. --allow 127.0.0.1/32 on every TCP listener ====
fr_start_http allow --allow 127.0.0.1/32 --stream "local,ingest=unix:$T/in.sock,listen=unix:$T/out.sock"
denied=0
denied_listen=0
# A subscriber from 127.0.0.1, connected throughout.
bg_frames 120 capture "$LISTEN" "$T/keep.mjpeg" --ready "$T/keep.port"
keep_pid=$BG_PID
wait_until "$FR_WAIT" "the subscriber from 127.0.0.1 to connect" test -s "$T/keep.port"
wait_stat "$FR_WAIT" clients -eq 1

# A producer from 127.0.0.2 (no producer connected): refused, nothing counted.
fr_stats
f0=$(stat_of frames_in) b0=$(stat_of bytes_in) pc0=$(stat_of producer_connects)
expect_denied "a producer from 127.0.0.2" 127.0.0.2 "$INGEST" --send "$src"
fr_stats
expect_stat frames_in "$f0"
expect_stat bytes_in "$b0"
expect_stat producer_connects "$pc0"
expect_stat producer_connected 0
[[ $(frame_count "$T/keep.mjpeg") == 0 ]] || fail "the subscriber got frames from a denied producer"
# One from 127.0.0.1 is taken.
frames push "$INGEST" "$src" >/dev/null || fail "the producer from 127.0.0.1 could not push"
wait_stat "$FR_WAIT" frames_in -eq $((f0 + src_frames))
expect_stat producer_connects $((pc0 + 1))
wait_until "$FR_WAIT" "the subscriber to get the 10 frames" has_frames "$T/keep.mjpeg" "$src_frames"
check_capture "$T/keep.mjpeg" --source "$src" --expect all
note "a producer from 127.0.0.2 moved no counter; one from 127.0.0.1 published its $src_frames frames"

# From here on a producer from 127.0.0.1 pushes at a real rate.
bg_frames 120 push "$INGEST" "$src" --fps 20 --loop
wait_stat "$FR_WAIT" producer_connected -eq 1
n=$(frame_count "$T/keep.mjpeg")
wait_until "$FR_WAIT" "the subscriber to get frames" has_frames "$T/keep.mjpeg" $((n + 2))

# A subscriber from 127.0.0.2: closed at once, no byte; logged with its address.
expect_denied "a subscriber from 127.0.0.2" 127.0.0.2 "$LISTEN"
denied_listen=$((denied_listen + 1))
wait_until "$FR_WAIT" "the log line for the denied subscriber" grep -qE -- \
	"warn: --listen 127\.0\.0\.1:$LISTEN_PORT: denied 127\.0\.0\.2:$PROBE_PORT \(not in --allow\)" "$FR_LOG"
note "logged: $(deny_lines --listen "$LISTEN_PORT" | head -n 1 | sed 's/.*warn: //')"
# ... while a subscriber from 127.0.0.1 gets frames (the latest first).
sub_from 127.0.0.1 "$LISTEN" allowed
# The producer loops the clip: a capture may span a loop or two.
check_capture "$T/allowed.mjpeg" --source "$src" --source "$src" --source "$src" --min 1

# A producer from 127.0.0.2 while one from 127.0.0.1 is connected: it replaces nothing.
fr_stats
pc0=$(stat_of producer_connects)
expect_denied "a producer from 127.0.0.2 while one is connected" 127.0.0.2 "$INGEST" --send "$src"
fr_stats
expect_stat producer_connects "$pc0"
expect_stat producer_connected 1
! grep -q 'replaces 127\.0\.0\.1' "$FR_LOG" || fail "a denied producer replaced the connected one"
wait_until "$FR_WAIT" "the log line for the denied producer" grep -qE -- \
	"warn: --ingest 127\.0\.0\.1:$INGEST_PORT: denied 127\.0\.0\.2:[0-9]+ \(not in --allow\)" "$FR_LOG"

# HTTP from 127.0.0.2: closed without an answer; from 127.0.0.1: 200.
expect_denied "GET /stats from 127.0.0.2" 127.0.0.2 "$HTTP" --http /stats
expect_http 200 "$T/r" --interface 127.0.0.1 "$URL/stats"
wait_until "$FR_WAIT" "the log line for the denied HTTP client" grep -qE -- \
	"warn: --http 127\.0\.0\.1:$HTTP_PORT: denied 127\.0\.0\.2:[0-9]+ \(not in --allow\)" "$FR_LOG"
note "HTTP: 127.0.0.2 closed without an answer, 127.0.0.1 got 200"

# unix: sockets are never filtered.
push_grab local "unix:$T/in.sock" "unix:$T/out.sock" "$frame"
note "unix: sockets: pushed and grabbed a frame under --allow 127.0.0.1/32"

expect_denied_count "$denied"

# 50 denied subscribers in a row: a few log lines, the rest counted in a later one.
lines0=$(deny_lines --listen "$LISTEN_PORT" | wc -l)
n=$(frame_count "$T/keep.mjpeg")
start=$(date +%s%N)
out=$(peer flood 127.0.0.2 "$LISTEN" --count 50 --timeout "$FR_WAIT") || fail "peer.py flood failed: $out"
flood_ms=$(elapsed_ms "$start")
note "$out ($flood_ms ms)"
[[ $out == "flood: count=50 closed=50 open=0 refused=0 data=0" ]] ||
	fail "not every one of 50 subscribers from 127.0.0.2 was closed at once without a byte: $out"
denied=$((denied + 50)) denied_listen=$((denied_listen + 50))
logged=$(($(deny_lines --listen "$LISTEN_PORT" | wc -l) - lines0))
note "$logged log lines for 50 denied connections in $flood_ms ms"
((logged < 50 && logged <= flood_ms / 1000 + 2)) ||
	fail "$logged log lines for 50 denied connections in $flood_ms ms: not limited to one a second"
# One more denied connection now and then, until one is logged (a second or more
# after the last line) with the count of those suppressed.
more_denied() { deny_lines --listen "$LISTEN_PORT" | grep -cE '\([0-9]+ more suppressed\)'; }
more0=$(more_denied)
_suppressed_reported() {
	(($(more_denied) > more0)) && return 0
	alive_or_fail
	expect_denied "one more subscriber from 127.0.0.2" 127.0.0.2 "$LISTEN" >/dev/null
	denied_listen=$((denied_listen + 1))
	sleep 0.2
	return 1
}
wait_until "$FR_WAIT" "a log line saying how many were not logged" _suppressed_reported
note "$(deny_lines --listen "$LISTEN_PORT" | grep 'more suppressed' | tail -n 1 | sed 's/.*warn: //')"
# Every denied connection on --listen is either logged or counted in a later line.
logged=$(deny_lines --listen "$LISTEN_PORT" | wc -l)
suppressed=$(deny_lines --listen "$LISTEN_PORT" | sed -nE 's/.*\(([0-9]+) more suppressed\).*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
((logged + suppressed == denied_listen)) ||
	fail "--listen: $logged lines + $suppressed reported as suppressed != $denied_listen denied connections"
note "--listen: $denied_listen denied = $logged log lines + $suppressed reported as suppressed"
wait_until "$FR_WAIT" "the subscriber to keep getting frames" has_frames "$T/keep.mjpeg" $((n + 5))
expect_denied_count "$denied"
wait_stat "$FR_WAIT" clients -eq 1
[[ -n $(client_line "$(cat "$T/keep.port")") ]] || fail "the subscriber from 127.0.0.1 was disconnected"
note "the subscriber from 127.0.0.1 got frames $n..$(frame_count "$T/keep.mjpeg") and stayed connected throughout"
kill -TERM "$keep_pid"
wait_exit "$FR_WAIT" "$keep_pid"
fr_stop

# ==== 3. scopes ====
# listen=: only raw --listen.
fr_start_http scope-listen --allow listen=127.0.0.1/32
denied=0
push_from 127.0.0.2 "$INGEST"
wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
expect_denied "listen=: a subscriber from 127.0.0.2" 127.0.0.2 "$LISTEN"
sub_from 127.0.0.1 "$LISTEN" scope-listen
expect_http 200 "$T/r" --interface 127.0.0.2 "$URL/stats"
expect_denied_count 1
[[ -n $(deny_lines --listen "$LISTEN_PORT") ]] || fail "listen=: no log line for the denied subscriber"
[[ -z $(deny_lines --ingest "$INGEST_PORT")$(deny_lines --http "$HTTP_PORT") ]] ||
	fail "listen=: a connection to --ingest or --http was denied"
note "--allow listen=127.0.0.1/32: 127.0.0.2 denied on --listen, admitted on --ingest and --http"
fr_stop

# http=: only --http.
fr_start_http scope-http --allow http=127.0.0.1
denied=0
expect_denied "http=: GET /stats from 127.0.0.2" 127.0.0.2 "$HTTP" --http /stats
expect_http 200 "$T/r" --interface 127.0.0.1 "$URL/stats"
push_from 127.0.0.2 "$INGEST"
wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
sub_from 127.0.0.2 "$LISTEN" scope-http
expect_denied_count 1
note "--allow http=127.0.0.1: 127.0.0.2 denied on --http, admitted on --ingest and --listen"
fr_stop

# A bare 127.0.0.0/8 admits 127.0.0.2 everywhere.
fr_start_http slash8 --allow 127.0.0.0/8
push_from 127.0.0.2 "$INGEST"
wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
sub_from 127.0.0.2 "$LISTEN" slash8
expect_http 200 "$T/r" --interface 127.0.0.2 "$URL/stats"
expect_denied_count 0
! grep -q ': denied ' "$FR_LOG" || fail "--allow 127.0.0.0/8: a connection was denied"
note "--allow 127.0.0.0/8: 127.0.0.2 admitted on --ingest, --listen and --http"
fr_stop

# Rules add up: 127.0.0.2 is in the second one.
fr_start_http two-rules --allow listen=10.0.0.0/8 --allow listen=127.0.0.2
denied=0
frames push "$INGEST" "$src" >/dev/null || fail "the producer could not push"
wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
sub_from 127.0.0.2 "$LISTEN" two-rules
expect_denied "listen=10.0.0.0/8 + listen=127.0.0.2: a subscriber from 127.0.0.1" 127.0.0.1 "$LISTEN"
expect_denied_count 1
note "two listen= rules: 127.0.0.2 admitted, 127.0.0.1 denied"
fr_stop

# fr_start_v6 NAME ARG...: framerouter with --ingest, --listen and --http on free
# ports of 127.0.0.1 (INGEST, LISTEN, HTTP and URL as fr_start_http sets them) and
# a stream v6 with ingest=V6_IN and listen=V6_OUT on [::1], then ARG..., where
# @PORT@ stands for one more free port (SPARE_PORT). Retries when a port is taken.
fr_start_v6() {
	local name=$1
	shift
	FR_PORTS_V6=1 fr_start_ports "$name" 6 --ingest 127.0.0.1:@P1@ --listen 127.0.0.1:@P2@ \
		--http 127.0.0.1:@P3@ --stream "v6,ingest=[::1]:@P4@,listen=[::1]:@P5@" "${@//@PORT@/@P6@}"
	INGEST_PORT=${PORTS[0]} LISTEN_PORT=${PORTS[1]} HTTP_PORT=${PORTS[2]}
	INGEST=127.0.0.1:$INGEST_PORT LISTEN=127.0.0.1:$LISTEN_PORT HTTP=127.0.0.1:$HTTP_PORT
	URL=http://$HTTP
	V6_IN="[::1]:${PORTS[3]}" V6_OUT="[::1]:${PORTS[4]}" SPARE_PORT=${PORTS[5]}
}

# v6_frame: pushes one frame from ::1 to V6_IN and waits for stream v6 to take it.
v6_frame() {
	frames push "$V6_IN" "$frame" >/dev/null || fail "cannot push to $V6_IN"
	wait_until "$FR_WAIT" "a frame on stream v6" _v6_has_frame
}
_v6_has_frame() { fr_stats v6 && [[ $(stat_of frames_in) == 1 ]]; }

# IPv6: a ::1 rule; an IPv4 rule matches IPv4 clients of a dual-stack [::] listener.
if ((has_v6)); then
	dual=0
	[[ $(cat /proc/sys/net/ipv6/bindv6only 2>/dev/null) == 0 ]] && dual=1
	args=(--allow listen=::1 --allow listen=127.0.0.1/32)
	# The [::] listener is bound only for the few checks below.
	((dual)) && args+=(--stream "dual,ingest=unix:$T/dual.sock,listen=[::]:@PORT@")
	fr_start_v6 v6 "${args[@]}"
	DUAL_PORT=$SPARE_PORT
	denied=0
	v6_frame
	sub_from ::1 "$V6_OUT" v6
	frames push "$INGEST" "$src" >/dev/null || fail "the producer could not push"
	wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
	sub_from 127.0.0.1 "$LISTEN" v4
	expect_denied "listen=::1 + listen=127.0.0.1/32: a subscriber from 127.0.0.2" 127.0.0.2 "$LISTEN"
	if ((dual)); then
		frames push "unix:$T/dual.sock" "$frame" >/dev/null || fail "cannot push to unix:$T/dual.sock"
		_dual_has_frame() { fr_stats dual && [[ $(stat_of frames_in) == 1 ]]; }
		wait_until "$FR_WAIT" "a frame on stream dual" _dual_has_frame
		out=$(peer probe 127.0.0.1 "127.0.0.1:$DUAL_PORT" --timeout 1)
		if [[ $out == result=refused* ]]; then
			note "[::]:$DUAL_PORT takes no IPv4 clients (IPV6_V6ONLY): IPv4-mapped peers not checked"
		else
			sub_from 127.0.0.1 "127.0.0.1:$DUAL_PORT" dual-v4
			sub_from ::1 "[::1]:$DUAL_PORT" dual-v6
			expect_denied "[::] listener: a subscriber from 127.0.0.2 (IPv4-mapped)" 127.0.0.2 "127.0.0.1:$DUAL_PORT"
			note "[::] listener: IPv4-mapped 127.0.0.1 matches listen=127.0.0.1/32, 127.0.0.2 does not"
		fi
	fi
	fr_stats
	expect_dump_denied "$denied"
	note "--allow listen=::1: ::1 admitted on [::1] listeners; IPv4 rules and peers as expected"
	fr_stop
else
	note "no IPv6 loopback here: IPv6 rules not checked"
fi

# ==== 3b. families: a rule admits peers of its own family only ====
if ((has_v6)); then
	# --allow ::/0 (every IPv6 address, ::ffff:0:0/96 included): no IPv4 client.
	fr_start_v6 fam-v6-all --allow ::/0
	denied=0
	expect_denied "--allow ::/0: a producer from 127.0.0.1" 127.0.0.1 "$INGEST" --send "$src"
	expect_denied "--allow ::/0: a subscriber from 127.0.0.1" 127.0.0.1 "$LISTEN"
	expect_denied "--allow ::/0: GET /stats from 127.0.0.1" 127.0.0.1 "$HTTP" --http /stats
	v6_frame
	sub_from ::1 "$V6_OUT" fam-v6-all
	expect_dump_denied "$denied" "--allow ::/0"
	! grep -qE -- "denied \[::1\]" "$FR_LOG" || fail "--allow ::/0: ::1 was denied"
	note "--allow ::/0: 127.0.0.1 denied on --ingest, --listen and --http; ::1 admitted"
	fr_stop

	# --allow 0.0.0.0/0, spelled as IPv4 or IPv4-mapped: no IPv6 client.
	for rule in 0.0.0.0/0 ::ffff:0:0/96; do
		tag=fam-v4-${rule//[:\/]/_}
		fr_start_v6 "$tag" --allow "$rule"
		denied=0
		push_from 127.0.0.1 "$INGEST"
		wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
		sub_from 127.0.0.1 "$LISTEN" "$tag"
		expect_denied "--allow $rule: a producer from ::1" ::1 "$V6_IN" --send "$frame"
		expect_denied "--allow $rule: a subscriber from ::1" ::1 "$V6_OUT"
		fr_stats v6
		expect_stat frames_in 0
		expect_denied_count 2
		note "--allow $rule: 127.0.0.1 admitted on --ingest, --listen and --http; ::1 denied on [::1] listeners"
		fr_stop
	done

	# --allow ::1: ::1 only.
	fr_start_v6 fam-v6-one --allow ::1
	denied=0
	v6_frame
	sub_from ::1 "$V6_OUT" fam-v6-one
	expect_denied "--allow ::1: a subscriber from 127.0.0.1" 127.0.0.1 "$LISTEN"
	expect_dump_denied "$denied" "--allow ::1"
	note "--allow ::1: ::1 admitted on [::1] listeners; 127.0.0.1 denied"
	fr_stop
else
	note "no IPv6 loopback here: rule families not checked"
fi

# ==== 4. the non-loopback warning ====
# fr_start_wild NAME ARG...: fr_start with @P1@ .. @P4@ in ARG replaced by free
# ports (on ::1 too when there is IPv6); retries with new ports when one is taken (0.0.0.0 may collide with
# a port in use on another address).
fr_start_wild() { FR_PORTS_V6=$has_v6 fr_start_ports "$1" 4 "${@:2}"; }
# warns_for OPTION: startup warnings that name OPTION (not, e.g., --ingest-token).
warns_for() {
	grep -E 'warn: .*is not a loopback address' "$FR_LOG" | grep -cE -- "$1([^-[:alnum:]]|$)"
}
# expect_warning YES|NO OPTION ARG...: starts framerouter ARG... and checks that
# it warns (or not) that OPTION is not bound to a loopback address.
expect_warning() {
	local want=$1 opt=$2 n
	shift 2
	fr_start_wild "warn$((++warn_runs))" "$@"
	n=$(warns_for "$opt")
	if [[ $want == YES ]]; then
		((n >= 1)) || fail "framerouter $*: no warning that $opt is not a loopback address"
		note "$*: $(grep -E 'warn: .*is not a loopback address' "$FR_LOG" | grep -E -- "$opt([^-[:alnum:]]|$)" |
			head -n 1 | sed 's/.*warn: //')"
	else
		((n == 0)) || fail "framerouter $*: warned that $opt is not a loopback address: $(grep 'is not a loopback' "$FR_LOG")"
		note "$*: no warning for $opt"
	fi
	fr_stop
}
warn_runs=0
expect_warning YES --ingest --ingest 0.0.0.0:@P1@ --listen 127.0.0.1:@P2@
expect_warning YES --ingest --ingest 0.0.0.0:@P1@ --listen 127.0.0.1:@P2@ --allow listen=127.0.0.1/32
expect_warning NO --ingest --ingest 0.0.0.0:@P1@ --listen 127.0.0.1:@P2@ --allow ingest=127.0.0.1/32
expect_warning YES --http --ingest 127.0.0.1:@P1@ --listen 127.0.0.1:@P2@ --http 0.0.0.0:@P3@
expect_warning NO --http --ingest 127.0.0.1:@P1@ --listen 127.0.0.1:@P2@ --http 0.0.0.0:@P3@ --ingest-token abc
expect_warning NO --http --ingest 127.0.0.1:@P1@ --listen 127.0.0.1:@P2@ --http 0.0.0.0:@P3@ --allow http=127.0.0.1
expect_warning NO --ingest --ingest 0.0.0.0:@P1@ --listen 127.0.0.1:@P2@ --http 0.0.0.0:@P3@ --allow 127.0.0.1
[[ $(warns_for --http) == 0 ]] || fail "--allow 127.0.0.1 (bare): warned for --http"
# Loopback addresses: no warning at all.
loop_args=(--ingest 127.0.0.1:@P1@ --listen 127.0.0.1:@P2@ --http 127.0.0.1:@P3@)
((has_v6)) && loop_args+=(--stream "v6,ingest=[::1]:@P4@,listen=unix:$T/v6out.sock")
fr_start_wild loopback "${loop_args[@]}"
! grep -q 'is not a loopback address' "$FR_LOG" ||
	fail "loopback addresses: $(grep 'is not a loopback address' "$FR_LOG")"
note "loopback addresses (127.0.0.1$( ((has_v6)) && echo ', [::1]')): no warning"
fr_stop
finish
