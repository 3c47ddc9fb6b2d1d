#!/bin/bash
# SPDX-License-Identifier: MIT
# Abuse: the daemon keeps serving the well-behaved while others misbehave.
#  1. 2 000 raw connection attempts beyond --max-clients (and 200 HTTP /stream
#     requests, answered 503) are refused and counted exactly, while the
#     subscribers holding every slot get every frame of a live producer.
#  2. Out of file descriptors (ulimit -n 64): accept backs off instead of spinning
#     (counted: one failed accept per 0.1 s pause, from the rate-limited "accept
#     paused" lines and their "(N more suppressed)"), keeps serving connected
#     subscribers, and recovers. Its CPU use is measured by bench/fd-exhaustion.
#  3. 1 000 raw and 1 000 HTTP subscriber connect/disconnect cycles, 200 raw and
#     100 HTTP producer cycles (whole or half frames) leave RSS flat and counts
#     exact.
#  4. Half-open subscribers (tiny receive buffer, stop reading, never close) of a
#     1080p 30 fps stream are cut by --client-timeout 1; readers get every frame.
#  5. A producer that stays connected but silent is disconnected after
#     --producer-timeout (idle, its partial frame counted truncated) and a new
#     one is picked up cleanly; without the option it is replaced by a new one.
#  6. Junk on the subscriber port (1 MiB of random bytes from each of several
#     subscribers) is discarded; junk on the HTTP port (random bytes, huge and
#     endless headers, TLS, SSH, HTTP/2, NULs) gets an error status and is
#     closed; readers of both kinds get every frame meanwhile.
#  7. A producer pushing ~500 MB as fast as it can to two stuck subscribers and a
#     slow one keeps the daemon's memory bounded (VmHWM < 64 MiB).
# Frames are numbered copies of fixture frames (a COM segment holds the number),
# so that every subscriber's bytes can be checked for whole frames in order.
# Timings and figures are printed, never asserted (RSS bounds are generous
# ceilings, not speeds). RSS and peak-memory bounds are skipped for an ASan
# build, whose quarantine holds freed memory.
. "$(dirname "$0")/lib.sh"

ABUSE_PY=$(cd "$(dirname "$0")" && pwd)/abuse_client.py
SLOW=${FR_TEST_SLOW:-1}
F=$FR_FIXTURES_DIR
is_asan=0
grep -q __asan_init "$FR_BIN" && is_asan=1

# abuse CMD ARG...: abuse_client.py in the foreground; bg_abuse SECS CMD ARG...:
# in the background (bg), killed after SECS at the latest.
abuse() { "$PY" "$ABUSE_PY" "$@"; }
bg_abuse() {
	local secs=$1
	shift
	bg timeout "$secs" "$PY" "$ABUSE_PY" "$@"
}

# status_kib PID FIELD: a /proc/PID/status value in KiB (VmRSS, VmHWM).
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# accept_queue PORT: connections waiting in the accept queue of the TCP listener on PORT.
accept_queue() { ss -Hltn "sport = :$1" | awk '{ print $2; exit }'; }
queue_nonempty() { (($(accept_queue "$1") > 0)); }
queue_empty() { (($(accept_queue "$1") == 0)); }

# progress_ge FILE N: a frames.py push --progress FILE has sent at least N frames.
progress_ge() { [[ -s $1 ]] && (($(cat "$1") >= $2)); }

# one_line FILE: FILE's first line (a helper's summary).

# readers NAME SOURCE RAW HTTP: RAW raw and HTTP /stream subscribers that must get
# every frame of SOURCE, whole and in order (frames.py fanout), their reports in
# $T/NAME.out and $T/NAME-http.out; returns once they are connected.
# readers_ok NAME WHAT: waits for them to end; fails with WHAT unless each got
# every frame.
declare -A READERS_PID
readers() {
	local name=$1 src=$2
	bg_frames 120 fanout "$LISTEN" --clients "$3" --source "$src" --ready "$T/$name.ports" \
		--timeout 100 >"$T/$name.out" 2>&1
	READERS_PID[$name]=$BG_PID
	bg_frames 120 fanout "$HTTP" --http /stream --clients "$4" --source "$src" \
		--ready "$T/$name-http.ports" --timeout 100 >"$T/$name-http.out" 2>&1
	READERS_PID[$name-http]=$BG_PID
	wait_until "$FR_WAIT" "the raw $name subscribers to connect" test -s "$T/$name.ports"
	wait_until "$FR_WAIT" "the HTTP $name subscribers to connect" test -s "$T/$name-http.ports"
}
readers_ok() {
	wait_checks 90 "$2" "${READERS_PID[$1]}" "$T/$1.out" "${READERS_PID[$1-http]}" "$T/$1-http.out"
}
one_line() { head -n 1 "$1"; }

# log_has PATTERN: the daemon's log has a line matching the extended regex PATTERN.
log_has() { grep -qE -- "$1" "$FR_LOG"; }

# sub_got_all PORT FILE: the subscriber with local port PORT (which may have
# joined mid-stream) is still connected and FILE holds every byte the daemon has
# sent it (call once the producer is gone).
sub_got_all() {
	fr_stats
	local l
	l=$(client_line "$1")
	[[ -n $l ]] || fail "subscriber $1 is not connected"
	(($(stat_of bytes_sent "$l") == $(stat -c %s "$2")))
}

# closed_why PORT: why the daemon closed subscriber 127.0.0.1:PORT (empty if it did not).
closed_why() {
	grep -E -- "subscriber 127\.0\.0\.1:$1: closed: " "$FR_LOG" | tail -n 1 |
		sed -E 's/.*: closed: ([^(]*) \(.*/\1/'
}

[[ -f $ABUSE_PY ]] || fail "$ABUSE_PY is missing"
seq320=$T/seq-320x240.mjpeg
seq1080=$T/seq-1080p.mjpeg
abuse mkframes "$F/baseline.jpg" "$seq320" --count 150 || fail "cannot make $seq320"
abuse mkframes "$F/large-1080p.jpg" "$seq1080" --count 180 || fail "cannot make $seq1080"
[[ $(frame_count "$seq320") == 150 && $(frame_count "$seq1080") == 180 ]] ||
	fail "numbered frames are not whole JPEG frames"

# ==== 1. connection attempts beyond --max-clients ====
MAXC=20
NFLOOD=2000
NHTTP=200
fr_start_http limit --max-clients "$MAXC"
# The slots are held by 15 raw and 5 HTTP subscribers.
readers held "$seq320" $((MAXC - 5)) 5
wait_stat "$FR_WAIT" clients -eq "$MAXC"
bg_frames 120 push "$INGEST" "$seq320" --fps 30 --progress "$T/limit.progress"
push_pid=$BG_PID
wait_until "$FR_WAIT" "the producer to start" progress_ge "$T/limit.progress" 3
at_start=$(cat "$T/limit.progress")
start=$(date +%s%N)
timeout 120 "$PY" "$ABUSE_PY" flood "$LISTEN" --count "$NFLOOD" --batch 100 >"$T/flood.out" 2>&1
rc=$?
cat "$T/flood.out"
((rc == 0)) || fail "not every connection beyond --max-clients was closed by the daemon"
grep -q " closed=$NFLOOD silent=$NFLOOD data=0 " "$T/flood.out" ||
	fail "a refused raw subscriber got bytes before being closed: $(one_line "$T/flood.out")"
note "$NFLOOD raw connects refused in $(elapsed_ms "$start") ms, while the producer sent frames $at_start..$(cat "$T/limit.progress") of 150"
wait_stat "$FR_WAIT" clients_refused -eq "$NFLOOD"
expect_stat clients "$MAXC"

# HTTP: GET /stream beyond the limit is answered 503 (10 at a time, so that the
# idle-connection cap, which also answers 503 but counts no subscriber, stays out
# of the way).
start=$(date +%s%N)
timeout 120 "$PY" "$ABUSE_PY" flood "$HTTP" --count "$NHTTP" --batch 10 --http /stream >"$T/flood-http.out" 2>&1
rc=$?
cat "$T/flood-http.out"
((rc == 0)) || fail "not every HTTP /stream request beyond --max-clients was answered"
grep -q " closed=$NHTTP silent=0 data=$NHTTP status=503:$NHTTP " "$T/flood-http.out" ||
	fail "HTTP /stream beyond --max-clients: expected $NHTTP answers 503: $(one_line "$T/flood-http.out")"
expect_http 503 "$T/r503" "$URL/stream/default"
[[ $(header_of "$T/r503.head" Retry-After) == 1 ]] || fail "503 for /stream has no Retry-After: 1"
note "$NHTTP HTTP /stream requests answered 503 in $(elapsed_ms "$start") ms; curl got: $(head -c 100 "$T/r503")"
refused=$((NFLOOD + NHTTP + 1))
wait_stat "$FR_WAIT" clients_refused -eq "$refused"
expect_stat clients "$MAXC"
stats_json
expect_json 's["default"]["clients_refused"]' "$refused"
expect_json 's["default"]["clients"]' "$MAXC"
note "clients_refused=$refused in the SIGUSR1 dump and /stats; clients=$MAXC"
logged=$(grep -c 'refused subscriber' "$FR_LOG")
((logged < 200)) || fail "$logged log lines for $NFLOOD refused raw subscribers: not rate-limited"
note "$logged 'refused subscriber' log lines for $NFLOOD refusals (rate-limited): $(grep 'refused subscriber' "$FR_LOG" | tail -n 1 | sed 's/.*warn[a-z]*: //')"

# The held subscribers got every frame of the producer, byte-identical, in order.
wait_ok 60 "$push_pid" "the producer"
readers_ok held "the $MAXC held subscribers did not all get every frame"
wait_stat "$FR_WAIT" clients -eq 0
expect_stat frames_in 150
expect_stat dropped_slow_client 0
# Room again: a subscriber is accepted and gets the latest frame.
timeout "$FR_WAIT" "$FR_GRAB" "$LISTEN" -o "$T/after-limit.jpg" || fail "no subscriber accepted after the held ones left"
abuse checkseq "$T/after-limit.jpg" "$F/baseline.jpg" --min 1 >/dev/null || fail "the subscriber after the limit got a bad frame"
fr_stop

# ==== 2. out of file descriptors ====
NOFILE=64
cat >"$T/lowfd.sh" <<-EOF
	#!/bin/bash
	ulimit -n $NOFILE || exit 1
	exec "$FR_BIN" "\$@"
EOF
chmod +x "$T/lowfd.sh"
real_bin=$FR_BIN
FR_BIN=$T/lowfd.sh
fr_start_http fds --client-timeout 60
FR_BIN=$real_bin
grep -qE "^Max open files +$NOFILE " "/proc/$FR_PID/limits" || fail "the daemon's fd limit is not $NOFILE"
loop_src=$F/ffmpeg-320x240-10.mjpeg
twice=(--source "$loop_src" --source "$loop_src")
bg_frames 120 push "$INGEST" "$loop_src" --fps 5 --loop
subscribe fd-reader 120
wait_stat "$FR_WAIT" clients -eq 1
NHOLD=$((NOFILE + 40))
bg_abuse 120 hold "$LISTEN" --count "$NHOLD" --ready "$T/hold.ready"
hold_pid=$BG_PID
wait_until "$FR_WAIT" "$NHOLD connections to the subscriber port" test -s "$T/hold.ready"
wait_until "$FR_WAIT" "'accept paused' for --listen" log_has "--listen 127\.0\.0\.1:$LISTEN_PORT: accept paused"
bg_abuse 120 hold "$HTTP" --count 10 --http --ready "$T/hold-http.ready"
hold_http_pid=$BG_PID
wait_until "$FR_WAIT" "10 connections to the HTTP port" test -s "$T/hold-http.ready"
wait_until "$FR_WAIT" "'accept paused' for --http" log_has "--http 127\.0\.0\.1:$HTTP_PORT: accept paused"
wait_until "$FR_WAIT" "connections waiting in the --listen backlog" queue_nonempty "$LISTEN_PORT"
fr_stats
note "fd limit $NOFILE: $(ls "/proc/$FR_PID/fd" | wc -l) fds open, clients=$(stat_of clients), $(accept_queue "$LISTEN_PORT") connections waiting on --listen, $(accept_queue "$HTTP_PORT") on --http"
note "$(grep 'accept paused' "$FR_LOG" | head -n 1 | sed 's/.*warn[a-z]*: //')"

# Accept backs off: each accept that fails for want of an fd pauses the listener
# for 0.1 s, so it fails at most about 10 times a second (a spinning one fails
# thousands of times). Every failure is either an "accept paused" line (one a
# second at most) or counted in a later line's "(N more suppressed)"; the failures
# after the first line are bounded by the daemon's own timestamps of the first and
# last line, at 20 a second with slack: a busy machine only lowers the count.
# pause_tally OPTION PORT: "LINES FAILURES SPAN_MS" over the accept-paused lines of
# OPTION 127.0.0.1:PORT (FAILURES and SPAN_MS after the first line).
pause_tally() {
	grep -E -- "$1 127\.0\.0\.1:$2: accept paused" "$FR_LOG" | "$PY" -c '
import datetime, re, sys
lines = sys.stdin.read().splitlines()
at = [datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ") for l in lines]
more = [int(m.group(1)) if m else 0 for m in (re.search(r"\((\d+) more suppressed\)$", l) for l in lines)]
span = (at[-1] - at[0]).total_seconds() * 1000 if lines else 0
print(len(lines), len(lines) - 1 + sum(more[1:]) if lines else 0, int(span))'
}
pause_lines() { (($(pause_tally "$1" "$2" | cut -d' ' -f1) >= $3)); }
for listener in "--listen $LISTEN_PORT" "--http $HTTP_PORT"; do
	wait_until "$FR_WAIT" "three 'accept paused' lines for $listener" pause_lines $listener 3
	read -r lines failures span_ms <<<"$(pause_tally $listener)"
	note "out of fds, $listener: $failures failed accepts in the $span_ms ms after the first of $lines 'accept paused' lines"
	((failures >= 1)) || fail "$listener: no failed accept was counted after the first 'accept paused' line"
	((failures <= span_ms * 20 / 1000 + 5)) ||
		fail "$listener: $failures failed accepts in $span_ms ms while out of fds: accept does not back off"
done
queue_nonempty "$LISTEN_PORT" || fail "the backlog emptied while the fds were still taken: nothing was counted"

# Connected subscribers are still served while accept is paused.
n0=$(frame_count "$T/fd-reader.mjpeg")
wait_until "$FR_WAIT" "the reader to get frames while accept is paused" has_frames "$T/fd-reader.mjpeg" $((n0 + 3))
queue_nonempty "$LISTEN_PORT" || fail "the backlog emptied while the fds were still taken"
note "the reader got frames $n0..$(frame_count "$T/fd-reader.mjpeg") while accept was paused"

# Recovery: once the holders leave, new subscribers are accepted again.
kill -TERM "$hold_pid" "$hold_http_pid"
wait_exit "$FR_WAIT" "$hold_pid"
wait_exit "$FR_WAIT" "$hold_http_pid"
start=$(date +%s%N)
wait_until $((3 * FR_WAIT)) "the --listen backlog to drain" queue_empty "$LISTEN_PORT"
wait_until "$FR_WAIT" "the --http backlog to drain" queue_empty "$HTTP_PORT"
wait_stat "$FR_WAIT" clients -eq 1
note "backlogs drained $(elapsed_ms "$start") ms after the holders left"
timeout "$FR_WAIT" "$PY" "$FRAMES_PY" capture "$LISTEN" "$T/fd-new.mjpeg" --frames 2 >/dev/null ||
	fail "a new subscriber got no frames after the fds were released"
check_capture "$T/fd-new.mjpeg" "${twice[@]}" --min 2
# The capture has left; the daemon notices at its next write (EOF alone may be a
# half-close), so wait for it.
wait_stat "$FR_WAIT" clients -eq 1
stats_json
expect_json 's["default"]["clients"]' 1
[[ -n $(client_line "$(cat "$T/fd-reader.port")") ]] || fail "the reader was disconnected"
note "recovered: a new subscriber got 2 frames, /stats answers, the reader is still connected"
fr_stop

# ==== 3. connect/disconnect churn leaves RSS flat ====
frame=$F/ffmpeg-frame.jpg
fr_start_http churn
churn() {
	timeout $((60 * SLOW)) "$PY" "$ABUSE_PY" churn --listen "$LISTEN" --http "$HTTP" --ingest "$INGEST" \
		--frame "$frame" --subs "$1" --http-subs "$1" --producers "$2" --http-producers "$3" \
		>"$T/churn.out" 2>&1
	local rc=$?
	cat "$T/churn.out"
	((rc == 0)) || fail "churn client failed (status $rc)"
	wait_stat "$FR_WAIT" clients -eq 0
	wait_stat "$FR_WAIT" producer_connected -eq 0
}
churn 100 100 20
rss_before=$(status_kib "$FR_PID" VmRSS)
start=$(date +%s%N)
churn 1000 200 100
rss_after=$(status_kib "$FR_PID" VmRSS)
note "1000 raw + 1000 HTTP subscriber, 200 raw + 100 HTTP producer cycles in $(elapsed_ms "$start") ms"
note "the daemon logged $(grep -c ': subscriber .* connected' "$FR_LOG") raw and $(grep -c ': http subscriber .* connected' "$FR_LOG") HTTP subscribers in all"
expect_stat producer_connects 420
expect_stat frames_in 210
expect_stat dropped_truncated 210
expect_stat garbage_bytes 0
expect_stat dropped_invalid 0
note "VmRSS after a warm-up of 100 cycles: $rss_before KiB; after 1000 more: $rss_after KiB ($((rss_after - rss_before)) KiB)"
if ((is_asan)); then
	note "ASan build: RSS growth not checked (the quarantine holds freed memory)"
elif ((rss_after - rss_before >= 2048)); then
	defect "RSS grew by $((rss_after - rss_before)) KiB over 2000 subscriber and 300 producer cycles (bound: 2 MiB)"
fi
fr_stop

# ==== 4. half-open subscribers are cut by --client-timeout ====
fr_start_http halfopen --client-timeout 1
readers ho-readers "$seq1080" 3 2
bg_abuse 120 halfopen "$LISTEN" --count 3 --ready "$T/ho1.ports"
bg_abuse 120 halfopen "$LISTEN" --count 2 --read-first 200000 --ready "$T/ho2.ports"
bg_abuse 120 halfopen "$HTTP" --http /stream --count 2 --ready "$T/ho3.ports"
for f in ho1 ho2 ho3; do
	wait_until "$FR_WAIT" "the $f subscribers to connect" test -s "$T/$f.ports"
done
wait_stat "$FR_WAIT" clients -eq 12
start=$(date +%s%N)
bg_frames 120 push "$INGEST" "$seq1080" --fps 30 --progress "$T/ho.progress"
push_pid=$BG_PID
wait_stat $((30 * SLOW)) clients -le 5
note "7 half-open subscribers cut $(elapsed_ms "$start") ms after 1080p frames began to flow (producer at frame $(cat "$T/ho.progress" 2>/dev/null) of 180)"
for p in $(cat "$T/ho1.ports" "$T/ho2.ports" "$T/ho3.ports"); do
	why=$(closed_why "$p")
	[[ $why == "no write progress within --client-timeout" ]] ||
		fail "half-open subscriber $p: closed because '${why:-it was not closed}'"
done
note "$(grep "no write progress" "$FR_LOG" | head -n 1 | sed 's/.*info: //')"
wait_ok 60 "$push_pid" "the producer"
readers_ok ho-readers "a reader did not get every 1080p frame while half-open subscribers were cut"
wait_stat "$FR_WAIT" clients -eq 0
expect_stat frames_in 180
fr_stop

# ==== 5. a producer that stays connected but silent ====
src=$F/ffmpeg-320x240-10.mjpeg
"$FR_BIN" --help | grep -q -- --producer-timeout || fail "framerouter --help does not list --producer-timeout"
# pieces NAME START COUNT [FRACTION]: source frames START..START+COUNT-1, plus
# FRACTION of the next one, in $T/NAME.bin.
pieces() {
	frames slice "$src" "$T/$1.bin" --start "$2" --count "$3" --fraction "${4:-0}" ||
		fail "frames.py slice $*"
}
pushed=0
# silent NAME ADDR [--http PATH]: producer NAME sends $T/NAME.bin to ADDR and stays silent until
# the daemon lets it go (--producer-timeout); checks that this happened and why.
silent() {
	local name=$1 addr=$2
	shift 2
	bg_abuse 60 silent "$addr" "$T/$name.bin" "$@" --ready "$T/$name.port" --timeout $((30 * SLOW)) >"$T/$name.out"
	local pid=$BG_PID
	pushed=$((pushed + $(stat -c %s "$T/$name.bin")))
	wait_until "$FR_WAIT" "producer $name to connect" test -s "$T/$name.port"
	wait_stat "$FR_WAIT" bytes_in -eq "$pushed"
	wait_exit $((30 * SLOW)) "$pid"
	((WAIT_RC == 0)) || fail "silent producer $name was not disconnected: $(cat "$T/$name.out")"
	wait_stat "$FR_WAIT" producer_connected -eq 0
	log_has "producer 127\.0\.0\.1:$(cat "$T/$name.port") idle for [0-9.]+ s \(--producer-timeout\)" ||
		fail "no 'idle' log line for silent producer $name"
	note "$name: $(cat "$T/$name.out")"
}
fr_start_http idle --producer-timeout 1
subscribe idle-sub 120
wait_stat "$FR_WAIT" clients -eq 1
pieces mid 0 2 0.5	# silent mid-frame: the partial frame counts as truncated
silent mid "$INGEST"
expect_stat frames_in 2
expect_stat dropped_truncated 1
note "$(grep 'idle for' "$FR_LOG" | head -n 1 | sed 's/.*warn[a-z]*: //')"
pieces boundary 3 2	# silent between frames: nothing is lost
silent boundary "$INGEST"
expect_stat frames_in 4
expect_stat dropped_truncated 1
: >"$T/mute.bin"	# connects and never says a word
silent mute "$INGEST"
pieces http 5 1 0.5	# an HTTP PUT producer silent mid-body
silent http "$HTTP" --http /ingest/default
expect_stat frames_in 5
expect_stat dropped_truncated 2
# A new producer is picked up cleanly.
pieces next 7 3
frames push "$INGEST" "$T/next.bin" >/dev/null || fail "the next producer could not push"
pushed=$((pushed + $(stat -c %s "$T/next.bin")))
wait_stat "$FR_WAIT" bytes_in -eq "$pushed"
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat frames_in 8
expect_stat producer_connects 5
expect_stat dropped_truncated 2
expect_stat dropped_invalid 0
expect_stat garbage_bytes 0
expect_stat clients 1
wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$(cat "$T/idle-sub.port")" "$T/idle-sub.mjpeg"
check_capture "$T/idle-sub.mjpeg" --source "$src" --expect 0,1,3,4,5,7,8,9
fr_stop

# Without the option (default 10 s), a silent producer stays until a new one
# replaces it.
fr_start_http replaced
subscribe rep-sub 120
wait_stat "$FR_WAIT" clients -eq 1
pieces old 0 2 0.5
bg_frames 60 push "$INGEST" "$T/old.bin" --hold --ready "$T/old.port" >"$T/old.out" 2>&1
old_pid=$BG_PID
wait_stat "$FR_WAIT" bytes_in -eq "$(stat -c %s "$T/old.bin")"
sleep 1.5	# longer than the --producer-timeout above: not cut by default
fr_stats
expect_stat producer_connected 1
pieces new 3 3
frames push "$INGEST" "$T/new.bin" >/dev/null || fail "the new producer could not push"
wait_exit "$FR_WAIT" "$old_pid"
grep -q 'closed by peer' "$T/old.out" || fail "the silent producer's connection was not closed: $(cat "$T/old.out")"
grep -q "producer 127.0.0.1:[0-9]* replaces 127.0.0.1:$(cat "$T/old.port")" "$FR_LOG" || fail "no 'replaces' log line"
wait_stat "$FR_WAIT" frames_in -eq 5
wait_stat "$FR_WAIT" producer_connected -eq 0
expect_stat dropped_truncated 1
expect_stat producer_connects 2
wait_until "$FR_WAIT" "the subscriber to read what it was sent" sub_synced "$(cat "$T/rep-sub.port")" "$T/rep-sub.mjpeg"
check_capture "$T/rep-sub.mjpeg" --source "$src" --expect 0,1,3,4,5
! log_has 'idle for' || fail "a producer was cut as idle without --producer-timeout, before its default"
note "without --producer-timeout: the silent producer stayed 1.5 s, then a new one replaced it (its half frame dropped as truncated)"
fr_stop

# ==== 6. junk on the subscriber port and the HTTP port ====
fr_start_http junk
readers j-readers "$seq320" 2 2
wait_stat "$FR_WAIT" clients -eq 4
bg_frames 120 push "$INGEST" "$seq320" --fps 20 --progress "$T/j.progress"
push_pid=$BG_PID
wait_until "$FR_WAIT" "the producer to start" progress_ge "$T/j.progress" 3
NJUNK=4
junk_pids=()
for ((i = 0; i < NJUNK; i++)); do
	bg_frames 120 capture "$LISTEN" "$T/junk$i.mjpeg" --junk 1048576 --ready "$T/junk$i.port"
	junk_pids+=("$BG_PID")
done
# A request head that never ends is closed by the head timeout.
bg "$PY" "$HTTP_PY" slow "$HTTP" 'GET /stats HTTP/1.1\r\nHost: x\r\n' --timeout $((20 * SLOW)) >"$T/slowloris.out"
slowloris_pid=$BG_PID
for kind in random hugeline endless longuri tls ssh h2 nul pipelined; do
	out=$(timeout 60 "$PY" "$ABUSE_PY" httpjunk "$HTTP" "$kind") || fail "httpjunk $kind failed: $out"
	note "HTTP junk: $out"
	[[ $out =~ status=([^ ]*).*end=([a-z]*).*responses=([^ ]*) ]] || fail "httpjunk $kind: $out"
	status=${BASH_REMATCH[1]} end=${BASH_REMATCH[2]} responses=${BASH_REMATCH[3]}
	[[ $end != open ]] || fail "HTTP junk '$kind': the connection was left open"
	case $kind in
	pipelined) [[ $responses == 200,400 ]] || fail "HTTP junk '$kind': responses $responses, expected 200,400" ;;
	hugeline | endless) [[ $status == 431 || $status == none ]] || fail "HTTP junk '$kind': status $status" ;;
	longuri) [[ $status == 414 || $status == 431 || $status == none ]] || fail "HTTP junk '$kind': status $status" ;;
	*) [[ $status =~ ^(400|501|505|none)$ ]] || fail "HTTP junk '$kind': status $status" ;;
	esac
done
for ((i = 0; i < NJUNK; i++)); do
	wait_until "$FR_WAIT" "junk sender $i to connect" test -s "$T/junk$i.port"
	wait_until $((2 * FR_WAIT)) "junk sender $i to get frames" has_frames "$T/junk$i.mjpeg" 2
done
note "junk on the HTTP port ended while the producer was at frame $(cat "$T/j.progress") of 150"
wait_exit $((30 * SLOW)) "$slowloris_pid"
note "endless request head: $(cat "$T/slowloris.out")"
((WAIT_RC == 0)) || fail "a request head that never ends was not closed"
wait_ok 60 "$push_pid" "the producer"
readers_ok j-readers "a reader did not get every frame while junk arrived on both ports"
wait_stat "$FR_WAIT" clients -eq "$NJUNK"
expect_stat frames_in 150
expect_stat garbage_bytes 0
for ((i = 0; i < NJUNK; i++)); do
	port=$(cat "$T/junk$i.port")
	[[ -n $(client_line "$port") ]] || fail "the junk-sending subscriber $port was disconnected"
	wait_until "$FR_WAIT" "junk sender $i to read what it was sent" sub_got_all "$port" "$T/junk$i.mjpeg"
	kill -TERM "${junk_pids[$i]}"
	wait_exit "$FR_WAIT" "${junk_pids[$i]}"
	abuse checkseq "$T/junk$i.mjpeg" "$F/baseline.jpg" --min 2 --last 149 >"$T/check.out" ||
		fail "junk sender $i: $(cat "$T/check.out")"
done
note "$NJUNK subscribers sent 1 MiB of junk each, stayed connected and got whole frames in order: $(cat "$T/check.out")"
stats_json
fr_stop

# ==== 7. a producer faster than every subscriber: memory stays bounded ====
BLAST=$((500000000 / SLOW))
fr_start_http blast --client-timeout 120
bg_frames 120 stuck "$LISTEN" --ready "$T/b-stuck.port"
bg_frames 120 stuck "$HTTP" --http /stream --ready "$T/b-stuck-http.port"
bg "$PY" "$FRAMES_PY" capture "$LISTEN" "$T/b-slow.mjpeg" --rate 1000000 --ready "$T/b-slow.port"
slow_pid=$BG_PID
for f in b-stuck b-stuck-http b-slow; do
	wait_until "$FR_WAIT" "the $f subscriber to connect" test -s "$T/$f.port"
done
wait_stat "$FR_WAIT" clients -eq 3
rss0=$(status_kib "$FR_PID" VmRSS)
timeout $((120 * SLOW)) "$PY" "$ABUSE_PY" blast "$INGEST" "$F/large-1080p.jpg" --bytes "$BLAST" \
	--result "$T/blast.result" || fail "the fast producer failed"
read -r nframes nbytes <"$T/blast.result"
wait_stat "$FR_WAIT" frames_in -eq "$nframes"
hwm=$(status_kib "$FR_PID" VmHWM)
rss1=$(status_kib "$FR_PID" VmRSS)
expect_stat bytes_in "$nbytes"
expect_stat dropped_truncated 0
expect_stat garbage_bytes 0
expect_stat clients 3
(($(stat_of dropped_slow_client) > 0)) || fail "dropped_slow_client is 0"
note "$nbytes bytes in $nframes 1080p frames to 2 stuck + 1 slow subscriber: VmRSS $rss0 -> $rss1 KiB, peak (VmHWM) $hwm KiB; dropped_slow_client=$(stat_of dropped_slow_client)"
if ((is_asan)); then
	note "ASan build: the 64 MiB peak memory bound is not checked"
elif ((hwm >= 65536)); then
	defect "peak RSS $hwm KiB while a producer outran its subscribers (bound: 64 MiB)"
fi
kill -USR1 "$slow_pid"
wait_until 60 "the slow subscriber to catch up" sub_synced "$(cat "$T/b-slow.port")" "$T/b-slow.mjpeg"
kill -TERM "$slow_pid"
wait_exit "$FR_WAIT" "$slow_pid"
abuse checkseq "$T/b-slow.mjpeg" "$F/large-1080p.jpg" --min 1 || fail "the slow subscriber got bad frames"
fr_stop
finish
