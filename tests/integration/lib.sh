# SPDX-License-Identifier: MIT
# Shared helpers for tests/integration/*.sh (sourced, bash). A test runs as
#   bash tests/integration/NAME.sh
# with FR_BUILDDIR (framerouter, framerouter-grab), FR_SRCDIR and FR_FIXTURES_DIR
# set by `make check`; run by hand, they default to this checkout. Exit status:
# 0 pass, 1 fail, 77 skip (a needed program is missing).
#
# Rules the helpers enforce: ports are picked free on 127.0.0.1 / ::1 and never
# fixed; every wait has a deadline; everything started is killed on exit; a
# failure prints the daemon's log tail. Timings are printed, never asserted.

set -u -o pipefail

_fr_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FR_SRCDIR=${FR_SRCDIR:-$(cd "$_fr_here/../.." && pwd)}
FR_BUILDDIR=${FR_BUILDDIR:-$FR_SRCDIR}
FR_FIXTURES_DIR=${FR_FIXTURES_DIR:-$FR_SRCDIR/fixtures}
FR_BIN=$FR_BUILDDIR/framerouter
FR_GRAB=$FR_BUILDDIR/framerouter-grab
PY=/usr/bin/python3
FRAMES_PY=$_fr_here/frames.py
TEST_NAME=$(basename "$0" .sh)

# Grace for conditions that should hold within milliseconds; generous because
# CI runs tests in parallel on small machines. Scaled by FR_TEST_SLOW (integer).
FR_WAIT=$((10 * ${FR_TEST_SLOW:-1}))

T=$(mktemp -d "${TMPDIR:-/tmp}/fr-$TEST_NAME.XXXXXX") || exit 1
_fr_pids=()		# everything started in the background, killed on exit
_fr_daemons=()		# log files of the daemons started, for fail()
FR_PID=			# the daemon most recently started by fr_start
FR_LOG=

note() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	local log
	for log in "${_fr_daemons[@]}"; do
		[[ -s $log ]] || continue
		printf -- '--- last lines of %s ---\n' "$log" >&2
		tail -n 25 "$log" | cut -c1-300 >&2
	done
	exit 1
}

# defect WHAT: a check failed because of a known, reported daemon bug. The test
# goes on, so the other checks still run, and fails at finish.
FR_DEFECTS=0
defect() {
	FR_DEFECTS=$((FR_DEFECTS + 1))
	printf '%s: FAIL (daemon bug): %s\n' "$TEST_NAME" "$*" >&2
}

# finish: the end of a test: pass, unless a defect was recorded.
finish() {
	((FR_DEFECTS == 0)) || fail "$FR_DEFECTS check(s) failed because of daemon bugs (marked 'FAIL (daemon bug)' above)"
	note "PASS"
	exit 0
}

skip() {
	printf '%s: SKIP: %s\n' "$TEST_NAME" "$*"
	exit 77
}

# need PROG...: skip the test when a program it needs is missing.
need() {
	local p
	for p; do
		command -v "$p" >/dev/null 2>&1 || skip "$p not found"
	done
}

# require PROG...: fail the test when a program it needs is missing. For programs
# that scripts/setup-debian.sh --test installs: their absence is a broken setup,
# and a check that quietly does not run would pass without checking.
require() {
	local p
	for p; do
		command -v "$p" >/dev/null 2>&1 || fail "$p not found (scripts/setup-debian.sh --test installs it)"
	done
}

[[ -x $FR_BIN && -x $FR_GRAB ]] || fail "build framerouter and framerouter-grab first (FR_BUILDDIR=$FR_BUILDDIR)"
need "$PY" timeout ss

_fr_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${_fr_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	local deadline=$((SECONDS + 5))
	for pid in "${_fr_pids[@]}"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	if ((rc != 0 && rc != 77)) || [[ -n ${FR_KEEP_TMP:-} ]]; then
		printf '%s: files kept in %s\n' "$TEST_NAME" "$T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _fr_cleanup EXIT
trap 'exit 1' INT TERM

# track PID...: kill these on exit (for processes not started by bg).
track() { _fr_pids+=("$@"); }

# bg CMD...: runs CMD in the background, killed on exit; its pid is in $BG_PID.
# CMD must be a program, not a shell function, so that the pid is the program's.
bg() {
	"$@" &
	BG_PID=$!
	_fr_pids+=("$BG_PID")
}

# wait_until SECONDS WHAT CMD...: polls CMD until it succeeds; fails the test
# with WHAT after SECONDS.
wait_until() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for $what"
		sleep 0.05
	done
}

# wait_exit SECONDS PID: waits for our child PID to end; sets WAIT_RC. Fails the
# test when it is still running after SECONDS.
wait_exit() {
	local secs=$1 pid=$2
	wait_until "$secs" "process $pid to exit" _fr_gone "$pid"
	wait "$pid" 2>/dev/null
	WAIT_RC=$?
}
_fr_gone() { ! kill -0 "$1" 2>/dev/null || [[ $(proc_stat "$1" 1) == Z ]]; }

# wait_ok SECONDS PID WHAT: wait_exit, failing the test unless WHAT (our child PID)
# exited 0.
wait_ok() {
	wait_exit "$1" "$2"
	((WAIT_RC == 0)) || fail "$3 exited with status $WAIT_RC"
}

# wait_checks SECONDS WHAT PID REPORT [PID REPORT]...: waits for each checking
# client PID (one that exits 0 only when what it received was right) and prints
# its REPORT file; then fails the test with WHAT unless every one exited 0.
wait_checks() {
	local secs=$1 what=$2 bad=0
	shift 2
	while (($# >= 2)); do
		wait_exit "$secs" "$1"
		((WAIT_RC == 0)) || bad=1
		cat "$2"
		shift 2
	done
	((bad == 0)) || fail "$what"
}

# alive_or_fail [WHEN]: fails the test if the daemon (FR_PID) has exited, with its status.
alive_or_fail() {
	local rc
	if _fr_gone "$FR_PID"; then
		wait "$FR_PID" 2>/dev/null
		rc=$?
		fail "framerouter exited with status $rc${1:+ $1}"
	fi
}

# proc_stat PID N: field N after the command name in /proc/PID/stat (1 state,
# 2 ppid, 4 session).
proc_stat() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	local -a f
	read -r -a f <<<"$s"
	printf '%s\n' "${f[$(($2 - 1))]}"
}

# ---- ports ----

# pick_ports N [v6]: sets PORTS to N distinct ports that are free now on
# 127.0.0.1 (and ::1 with "v6"). They are taken below the kernel's ephemeral
# range, so the connections the tests make can never land on them; a daemon that
# still loses a race for one is restarted with new ports (fr_start_default).
pick_ports() {
	local out
	out=$("$PY" - "$1" "${2:-}" <<-'EOF'
		import random, socket, sys
		n, v6 = int(sys.argv[1]), sys.argv[2] == "v6"
		lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
		lo = lo if lo > 12000 else 65536
		ports = []
		while len(ports) < n:
		    p = random.randrange(10000, lo)
		    if p in ports:
		        continue
		    try:
		        for fam, host in [(socket.AF_INET, "127.0.0.1")] + ([(socket.AF_INET6, "::1")] if v6 else []):
		            with socket.socket(fam, socket.SOCK_STREAM) as s:
		                s.bind((host, p))
		    except OSError:
		        continue
		    ports.append(p)
		print(" ".join(map(str, ports)))
	EOF
	) || fail "cannot pick free ports"
	read -r -a PORTS <<<"$out"
}

# is_listening PORT: something listens on TCP PORT (any address).
is_listening() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# ---- the daemon ----

# fr_start NAME ARG...: starts framerouter ARG... with its log in $T/NAME.log and
# waits until it is ready (its listeners accept connections). Sets FR_PID and
# FR_LOG. Returns 1 if the daemon exited during startup (the caller decides),
# leaving its status in FR_START_RC.
# FR_LOG_FILE=FILE fr_start...: the daemon logs with --log-file FILE (appended
# to, and FR_LOG), its stderr goes to $T/NAME.stderr. FR_ERR: where stderr went.
fr_start() {
	local name=$1
	shift
	if [[ -n ${FR_LOG_FILE:-} ]]; then
		FR_LOG=$FR_LOG_FILE FR_ERR=$T/$name.stderr
		set -- --log-file "$FR_LOG" "$@"
		_fr_daemons+=("$FR_LOG" "$FR_ERR")
	else
		FR_LOG=$T/$name.log FR_ERR=$T/$name.log
		_fr_daemons+=("$FR_LOG")
	fi
	: >"$FR_ERR"
	"$FR_BIN" "$@" 2>>"$FR_ERR" &
	FR_PID=$!
	_fr_pids+=("$FR_PID")
	local deadline=$((SECONDS + FR_WAIT))
	until grep -qs ' ready$' "$FR_LOG"; do
		if _fr_gone "$FR_PID"; then
			wait "$FR_PID"
			FR_START_RC=$?
			return 1
		fi
		((SECONDS < deadline)) || fail "framerouter $* not ready after ${FR_WAIT}s"
		sleep 0.02
	done
	# "ready" is logged after every listener is bound and listening; check
	# the TCP ones from outside as well.
	local p
	for p in $(printf '%s\n' "$@" | grep -oE '(127\.0\.0\.1|\[::1\]):[0-9]+' | sed 's/.*://'); do
		is_listening "$p" || fail "framerouter is ready but port $p is not listening"
	done
	return 0
}

# fr_start_default NAME ARG...: picks INGEST_PORT and LISTEN_PORT, starts
# framerouter --ingest 127.0.0.1:INGEST_PORT --listen 127.0.0.1:LISTEN_PORT ARG...
# and sets INGEST and LISTEN to those addresses. Retries with new ports if
# another process took one in the meantime.
fr_start_default() {
	local name=$1 try
	shift
	for try in 1 2 3 4 5; do
		pick_ports 2
		INGEST_PORT=${PORTS[0]} LISTEN_PORT=${PORTS[1]}
		INGEST=127.0.0.1:$INGEST_PORT LISTEN=127.0.0.1:$LISTEN_PORT
		fr_start "$name" --ingest "$INGEST" --listen "$LISTEN" "$@" && return 0
		# Lost to another process, or to a port this test picked before for another
		# option ("used twice").
		grep -qsE 'in use|used twice' "$FR_LOG" "$FR_ERR" ||
			fail "framerouter exited with status $FR_START_RC at startup"
		note "port race lost (try $try), picking new ports"
	done
	fail "could not start framerouter on free ports"
}

# fr_start_ports NAME N ARG...: fr_start NAME ARG... with @P1@ .. @PN@ in ARG
# replaced by N ports free on 127.0.0.1 (and on ::1 with FR_PORTS_V6=1), left in
# PORTS. Retries with new ports when another process took one in the meantime.
fr_start_ports() {
	local name=$1 n=$2 try a i args
	shift 2
	for try in 1 2 3 4 5; do
		pick_ports "$n" "$( ((${FR_PORTS_V6:-0})) && echo v6)"
		args=()
		for a; do
			for ((i = 1; i <= n; i++)); do
				a=${a//@P$i@/${PORTS[i - 1]}}
			done
			args+=("$a")
		done
		fr_start "$name" "${args[@]}" && return 0
		grep -qsE 'in use|used twice' "$FR_LOG" "$FR_ERR" ||
			fail "framerouter ${args[*]} exited with status $FR_START_RC at startup"
		note "port race lost (try $try), picking new ports"
	done
	fail "could not start framerouter on free ports"
}

# under_valgrind: from now on fr_start runs the daemon under valgrind (memory errors,
# and definite or indirect leaks, make it exit 99; the report goes to $T/valgrind.txt),
# and every wait is 4 times longer. valgrind_clean fails the test if it reported anything.
under_valgrind() {
	local real=$FR_BIN
	cat >"$T/framerouter-vg" <<-SH
		#!/bin/sh
		exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
			--log-file="$T/valgrind.txt" "$real" "\$@"
	SH
	chmod +x "$T/framerouter-vg"
	FR_BIN=$T/framerouter-vg
	FR_WAIT=$((FR_WAIT * 4))
}
valgrind_clean() {
	if [[ -s $T/valgrind.txt ]]; then
		cat "$T/valgrind.txt" >&2
		fail "valgrind reported errors"
	fi
	note "valgrind: no errors, no leaks"
}

# fr_stop [SECONDS]: SIGTERM to the current daemon; fails unless it exits 0.
fr_stop() {
	kill -TERM "$FR_PID" 2>/dev/null || fail "framerouter (pid $FR_PID) is not running"
	wait_exit "${1:-$FR_WAIT}" "$FR_PID"
	((WAIT_RC == 0)) || fail "framerouter exited with status $WAIT_RC after SIGTERM"
}

# fr_stats [STREAM]: asks the current daemon for its counters (SIGUSR1) and
# waits for the whole dump: the stream line and one line per client. Leaves the
# stream line in STATS and the client lines in $T/clients.txt.
fr_stats() {
	local stream=${1:-default}
	local pat="stream $stream: frames_in="
	local before
	before=$(grep -c -- "$pat" "$FR_LOG")
	kill -USR1 "$FR_PID" 2>/dev/null || fail "framerouter (pid $FR_PID) is not running"
	wait_until "$FR_WAIT" "the SIGUSR1 counter dump" _fr_dump_done "$pat" "$before" "$stream"
}
_fr_dump_done() {
	local pat=$1 before=$2 stream=$3 n line_no
	n=$(grep -c -- "$pat" "$FR_LOG")
	((n > before)) || return 1
	line_no=$(grep -n -- "$pat" "$FR_LOG" | tail -n 1 | cut -d: -f1)
	STATS=$(sed -n "${line_no}p" "$FR_LOG")
	[[ $STATS =~ latest_bytes=[0-9]+$ ]] || return 1
	tail -n "+$((line_no + 1))" "$FR_LOG" | grep -- "stream $stream: client " | head -n "$(stat_of clients)" >"$T/clients.txt"
	(($(wc -l <"$T/clients.txt") == $(stat_of clients)))
}

# stat_of KEY [LINE]: the value of KEY=... in LINE (default: the last STATS).
stat_of() {
	local line=${2-$STATS}
	[[ $line =~ (^|[[:space:]])$1=([^[:space:]]*) ]] || fail "no $1= in: $line"
	printf '%s\n' "${BASH_REMATCH[2]}"
}

# expect_stat KEY VALUE: the last STATS has KEY=VALUE.
expect_stat() {
	local v
	v=$(stat_of "$1")
	[[ $v == "$2" ]] || fail "counter $1 is $v, expected $2 (stats: $STATS)"
}

# client_line PORT: the client line for the subscriber with local port PORT in
# the last dump (empty if it is not connected).
client_line() { grep -E -- "client [^ ]*:$1 " "$T/clients.txt" || true; }

# sub_synced PORT FILE: the subscriber with local port PORT, connected before the
# stream's first frame, has been sent or has skipped every frame the stream took
# in, and FILE (its capture) holds every byte the daemon sent it.
sub_synced() {
	fr_stats
	local l
	l=$(client_line "$1")
	[[ -n $l ]] || fail "subscriber $1 is not connected"
	(($(stat_of frames_sent "$l") + $(stat_of frames_dropped "$l") == $(stat_of frames_in))) &&
		(($(stat_of bytes_sent "$l") == $(stat -c %s "$2")))
}

# wait_stat SECONDS KEY OP VALUE: polls the counters until KEY OP VALUE holds
# (OP: -eq -ge -gt -le -lt).
wait_stat() {
	local secs=$1 key=$2 op=$3 val=$4
	wait_until "$secs" "counter $key $op $val (last: ${STATS:-none})" _fr_stat_holds "$key" "$op" "$val"
}
_fr_stat_holds() {
	fr_stats
	local v
	v=$(stat_of "$1")
	case $2 in
	-eq) ((v == $3)) ;;
	-ge) ((v >= $3)) ;;
	-gt) ((v > $3)) ;;
	-le) ((v <= $3)) ;;
	-lt) ((v < $3)) ;;
	*) fail "wait_stat: unknown operator $2" ;;
	esac
}

# ---- frames ----

# frames CMD ARG...: runs frames.py in the foreground.
frames() { "$PY" "$FRAMES_PY" "$@"; }

# bg_frames SECONDS CMD ARG...: runs frames.py in the background (bg), killed
# after SECONDS at the latest.
bg_frames() {
	local secs=$1
	shift
	bg timeout "$secs" "$PY" "$FRAMES_PY" "$@"
}

# subscribe NAME [SECONDS]: a raw subscriber to $LISTEN that records into
# $T/NAME.mjpeg (frames.py capture, killed after SECONDS, default 60); returns once
# it is connected, its local port in $T/NAME.port and its pid in SUB_PID.
subscribe() {
	bg_frames "${2:-60}" capture "$LISTEN" "$T/$1.mjpeg" --ready "$T/$1.port"
	SUB_PID=$BG_PID
	wait_until "$FR_WAIT" "subscriber $1 to connect" test -s "$T/$1.port"
}

# push_frame ADDR SOURCE INDEX FILE: frame INDEX of SOURCE, saved in FILE, pushed to
# ADDR by a producer that connects, sends it and leaves.
push_frame() {
	frames slice "$2" "$4" --start "$3" --count 1 || fail "frames.py slice $2 --start $3"
	frames push "$1" "$4" >/dev/null || fail "could not push one frame to $1"
}

# push_grab STREAM IN OUT FILE: pushes the frame FILE to IN, waits for stream
# STREAM to take it (its first frame), and fails the test unless framerouter-grab
# OUT (into $T/STREAM.jpg) gets it, byte-identical.
push_grab() {
	frames push "$2" "$4" >/dev/null || fail "cannot push to $2"
	wait_until "$FR_WAIT" "a frame on stream $1" _fr_has_first_frame "$1"
	timeout "$FR_WAIT" "$FR_GRAB" "$3" -o "$T/$1.jpg" || fail "grab $3 exited with $?"
	cmp -s "$T/$1.jpg" "$4" || fail "grab over $3 got other bytes than $4"
}
_fr_has_first_frame() { fr_stats "$1" && [[ $(stat_of frames_in) == 1 ]]; }

# check_capture CAPTURE ARG...: frames.py check, failing the test on a mismatch.
check_capture() {
	local out
	out=$(frames check "$@" 2>&1)
	local rc=$?
	printf '%s\n' "$out"
	((rc == 0)) || fail "capture check failed: frames.py check $*"
}

# frame_count FILE: number of whole frames in FILE (bytes outside frames and
# a partial frame at the end are skipped; use check_capture for strictness).
frame_count() { frames split "$1" 2>/dev/null | head -n 1 | sed -n 's/.*: \([0-9]*\) frames,.*/\1/p'; }

# expect_frames FILE N: fails the test unless FILE (a source it counts on) holds N
# whole frames.
expect_frames() { (($(frame_count "$1") == $2)) || fail "$1 should hold $2 frames"; }

# has_frames FILE N: FILE holds at least N whole frames (for wait_until).
has_frames() { [[ -f $1 ]] && (($(frame_count "$1") >= $2)); }

# decodes FILE: ffmpeg decodes every frame of FILE without a single message.
decodes() {
	local out
	out=$(timeout 60 ffmpeg -nostdin -v error -i "$1" -f null - 2>&1)
	local rc=$?
	((rc == 0)) && [[ -z $out ]] || fail "ffmpeg cannot decode $1 cleanly (status $rc): $(head -c 500 <<<"$out")"
}

# join_midstream SOURCE ADDR [--http PATH]: a subscriber joins ADDR while SOURCE is
# being pushed (frames.py join); fails the test unless its first bytes are a whole
# frame of SOURCE, the next ones follow in order, and that first frame decodes.
join_midstream() {
	local src=$1
	shift
	timeout 30 "$PY" "$FRAMES_PY" join "$@" --source "$src" --out "$T/joiner-first.jpg" \
		--frames 5 >"$T/join.out" 2>&1
	local rc=$?
	cat "$T/join.out"
	((rc == 0)) || fail "the mid-stream subscriber ($*) did not get whole source frames in order"
	decodes "$T/joiner-first.jpg"
}

# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N).
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- HTTP ----

HTTP_PY=$_fr_here/http_client.py
HTTP_AUTH=()		# extra curl arguments for the helpers below (a token)

# http_client CMD ARG...: runs http_client.py in the foreground.
http_client() { "$PY" "$HTTP_PY" "$@"; }

# fr_start_http NAME ARG...: like fr_start_default, plus --http on a third free
# port. Sets HTTP (127.0.0.1:PORT), HTTP_PORT and URL (http://$HTTP) too.
fr_start_http() {
	local name=$1 try
	shift
	for try in 1 2 3 4 5; do
		pick_ports 3
		INGEST_PORT=${PORTS[0]} LISTEN_PORT=${PORTS[1]} HTTP_PORT=${PORTS[2]}
		INGEST=127.0.0.1:$INGEST_PORT LISTEN=127.0.0.1:$LISTEN_PORT HTTP=127.0.0.1:$HTTP_PORT
		URL=http://$HTTP
		fr_start "$name" --ingest "$INGEST" --listen "$LISTEN" --http "$HTTP" "$@" && return 0
		grep -qsE 'in use|used twice' "$FR_LOG" "$FR_ERR" ||
			fail "framerouter exited with status $FR_START_RC at startup"
		note "port race lost (try $try), picking new ports"
	done
	fail "could not start framerouter on free ports"
}

# http_fetch OUT CURL_ARG...: runs curl ARG... (the URL among them) with the
# body in OUT and the response head in OUT.head, and sets HTTP_CODE. Fails the
# test when curl gets no response at all.
http_fetch() {
	local out=$1
	shift
	HTTP_CODE=$(curl -sS --max-time "$FR_WAIT" -D "$out.head" -o "$out" -w '%{http_code}' \
		"$@" 2>"$out.err")
	local rc=$?
	((rc == 0)) || fail "curl $* failed with status $rc: $(cat "$out.err")"
}

# expect_http CODE OUT CURL_ARG...: http_fetch, failing unless the status is CODE.
expect_http() {
	local code=$1
	shift
	http_fetch "$@"
	[[ $HTTP_CODE == "$code" ]] ||
		fail "curl ${*:2}: status $HTTP_CODE, expected $code: $(head -c 300 "$1")"
}

# header_of HEADFILE NAME: the value of header NAME in a saved response head
# (the last response's, when curl saved several, e.g. after 100 Continue).
header_of() {
	tr -d '\r' <"$1" | awk -v n="$2" 'BEGIN { n = tolower(n) }
		/^HTTP\// { v = "" }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v) } }
		END { print v }'
}

# stats_json: GET /stats (with HTTP_AUTH) into $T/stats.json; fails the test
# unless the answer is 200 and valid JSON.
stats_json() {
	expect_http 200 "$T/stats.json" "${HTTP_AUTH[@]}" "$URL/stats"
	"$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/stats.json" 2>/dev/null ||
		fail "/stats is not valid JSON: $(head -c 300 "$T/stats.json")"
}

# json_eval EXPR [FILE]: evaluates the Python expression EXPR over the JSON in
# FILE (default: the last stats_json), where j is the document and s its
# "streams", and prints the result: strings as they are, anything else as JSON.
# Status 1 when EXPR raises (e.g. a key is missing).
json_eval() {
	"$PY" - "$1" "${2:-$T/stats.json}" <<-'EOF'
		import json, sys
		j = json.load(open(sys.argv[2]))
		s = j.get("streams", {}) if isinstance(j, dict) else {}
		def client(stream, port):
		    """The client_list entry of the subscriber with local port `port`."""
		    m = [c for c in s[stream]["client_list"] if c["peer"].endswith(":%s" % port)]
		    return m[0] if len(m) == 1 else None
		try:
		    v = eval(sys.argv[1])
		except Exception as e:
		    print("%s: %s" % (type(e).__name__, e))
		    sys.exit(1)
		print(v if isinstance(v, str) else json.dumps(v))
	EOF
}

# expect_json EXPR VALUE [FILE]: in FILE (default: the last stats_json), EXPR is
# VALUE (as json_eval prints it).
expect_json() {
	local v
	v=$(json_eval "$1" "${3:-$T/stats.json}") || fail "${3:-/stats}: $1: $v"
	[[ $v == "$2" ]] || fail "${3:-/stats}: $1 is $v, expected $2"
}

# wait_json SECONDS EXPR: polls /stats until the Python expression EXPR holds.
wait_json() {
	local deadline=$((SECONDS + $1))
	until stats_json && [[ $(json_eval "bool($2)" 2>/dev/null) == true ]]; do
		((SECONDS < deadline)) ||
			fail "timed out after $1s waiting for /stats: $2 (last: $(head -c 1500 "$T/stats.json"))"
		sleep 0.05
	done
}
