#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad upstreams, one stream each (upstreams.py serves them): an error status, too many
# redirects, an HTML page, an endless header, a body that is not JPEG, a server that
# accepts and says nothing, one that closes at once, a refused port and a name that does
# not resolve. Each gets its counter by reason, its last error and a log line; the
# daemon stays up and idle (no busy loop), and the server that closes at once never
# sees two attempts closer than the backoff allows. Up to 3 redirects are followed.
# Credentials (user:password@ and from-token) appear nowhere: log, /stats, /metrics,
# the page. https:// is refused at startup with exit status 2, before anything is bound.
. "$(dirname "$0")/lib.sh"
need curl

UP_PY=$_fr_here/upstreams.py
still=$FR_FIXTURES_DIR/baseline.jpg

# ---- https:// at startup ----
"$FR_BIN" --listen 127.0.0.1:1 --ingest 127.0.0.1:2 --stream "cam,from=https://admin:s3cret@192.0.2.10/video" \
	>"$T/https.out" 2>"$T/https.err"
rc=$?
((rc == 2)) || fail "https:// gave exit status $rc, expected 2"
want="framerouter: --stream: stream cam: from: https:// is not supported: pull through a TLS-terminating proxy (stunnel or HAProxy, see contrib/stunnel-pull.conf)"
[[ $(cat "$T/https.err") == "$want" ]] || fail "https:// said: $(cat "$T/https.err")"
note "https:// refused at startup: $(cat "$T/https.err")"

# ---- the bad servers ----
modes=(status redirect hops2 html endless notjpeg silent close)
pick_ports 13
declare -A port
i=3
for m in "${modes[@]}" refused; do
	port[$m]=${PORTS[$i]}
	i=$((i + 1))
done
for m in "${modes[@]}"; do
	case $m in
	redirect) bg "$PY" "$UP_PY" serve redirect "${port[$m]}" --file "$still" --hops 5 ;;
	hops2) bg "$PY" "$UP_PY" serve redirect "${port[$m]}" --file "$still" --hops 2 ;;
	close) bg "$PY" "$UP_PY" serve close "${port[$m]}" --accepts "$T/close.accepts" ;;
	*) bg "$PY" "$UP_PY" serve "$m" "${port[$m]}" ;;
	esac
done
for m in "${modes[@]}"; do
	wait_until "$FR_WAIT" "the $m server to listen" is_listening "${port[$m]}"
done

streams=()
for m in "${modes[@]}" refused; do
	streams+=(--stream "$m,from=http://localhost:${port[$m]}/start,reconnect-max=1")
done
streams+=(--stream "dns,from=http://no-such-host.invalid/,reconnect-max=1")
streams+=(--stream "creds,from=http://admin:s3cret@localhost:${port[status]}/")
streams+=(--stream "token,from=http://localhost:${port[html]}/,from-token=t0ps3cret")
fr_start_http bad --producer-timeout 1 "${streams[@]}"

# want STREAM REASON TEXT: the stream failed with REASON, its last error says TEXT.
want() {
	wait_json 15 "s['$1']['upstream']['failures']['$2'] >= 1"
	expect_json "s['$1']['upstream']['state'] in ('backoff', 'connecting')" true
	local err
	err=$(json_eval "s['$1']['upstream']['last_error']")
	[[ $err == *"$3"* ]] || fail "stream $1: last error '$err', expected '$3'"
	expect_json "s['$1']['upstream']['connects']" 0
	expect_json "s['$1']['frames_in']" 0
	grep -qF "stream $1: upstream " "$FR_LOG" || fail "no log line for stream $1"
	grep -F "stream $1: upstream " "$FR_LOG" | grep -qF ": $2: " ||
		fail "the log line for stream $1 does not give the reason $2"
	note "$1: $2: $err"
}
want status http_status "HTTP 404 Not Found"
want redirect http_status "more than 3 redirects"
want html bad_content_type "Content-Type text/html is neither MJPEG nor a JPEG image"
want endless bad_response "bad response head: response head too large"
want silent timeout "timed out after 1.0 s waiting for the answer"
want close closed "closed the connection without an answer"
want refused refused "Connection refused"
want dns dns "cannot resolve no-such-host.invalid"
# A body that is not JPEG: counted as garbage, and no frame means the upstream is stuck.
wait_json 15 "s['notjpeg']['upstream']['failures']['timeout'] >= 1"
expect_json "s['notjpeg']['upstream']['connects'] >= 1" true
expect_json "s['notjpeg']['garbage_bytes'] > 0" true
expect_json "s['notjpeg']['frames_in']" 0
note "notjpeg: timeout: $(json_eval "s['notjpeg']['upstream']['last_error']") ($(json_eval "s['notjpeg']['garbage_bytes']") garbage bytes)"
grep -q "stream notjpeg: skipped [0-9]* bytes outside any JPEG frame" "$FR_LOG" ||
	fail "no garbage line for stream notjpeg"
# Three redirects are followed: /start -> /hop/1 -> /hop/2 -> /ok.
wait_json 15 "s['hops2']['frames_in'] >= 2"
expect_json "s['hops2']['upstream']['failures']" '{"dns": 0, "refused": 0, "timeout": 0, "http_status": 0, "bad_content_type": 0, "bad_response": 0, "closed": 0}'
expect_json "s['hops2']['upstream']['attempts']" 1
note "hops2: 3 redirects followed, streaming a still image"

# ---- backoff: never two attempts closer than the shortest delay for their place ----
sleep 3
"$PY" - "$T/close.accepts" <<-'EOF' || fail "the server that closes at once was retried too soon"
	import sys
	times = [float(x) for x in open(sys.argv[1]).read().split()[1:]]
	# The shortest delay before retry n (1, 2, ...): 0.1 s doubled, capped at
	# reconnect-max 1, times the smallest jitter factor 0.75 (pull.h); 5 ms of slack
	# for the two clocks.
	short = [0.75 * min(1.0, 0.1 * 2 ** n) - 0.005 for n in range(len(times))]
	gaps = [b - a for a, b in zip(times, times[1:])]
	bad = [(i + 1, round(g, 3), round(short[i], 3)) for i, g in enumerate(gaps) if g < short[i]]
	print("close: %d attempts, %s s apart" % (len(times), [round(g, 2) for g in gaps]))
	sys.exit(1 if bad or len(times) < 4 else 0)
EOF

# ---- no busy loop: the daemon idles while all of them fail ----
cpu() { "$PY" -c "import os; f = open('/proc/$FR_PID/stat').read().rsplit(')', 1)[1].split(); print(int(f[11]) + int(f[12]))"; }
c0=$(cpu)
sleep 3
c1=$(cpu)
ticks=$(getconf CLK_TCK)
note "CPU while 10 upstreams fail for 3 s: $(((c1 - c0) * 1000 / ticks)) ms"
(((c1 - c0) * 1000 / ticks < 600)) || fail "framerouter used $(((c1 - c0) * 1000 / ticks)) ms of CPU in 3 s of failing upstreams"
alive_or_fail

# ---- credentials appear nowhere ----
want creds http_status "HTTP 404 Not Found"
wait_json 15 "s['token']['upstream']['failures']['bad_content_type'] >= 1"
expect_json "s['creds']['upstream']['url']" "http://localhost:${port[status]}/"
expect_http 200 "$T/metrics" "$URL/metrics"
expect_http 200 "$T/page.html" "$URL/"
kill -USR1 "$FR_PID"
sleep 0.3
for f in "$FR_LOG" "$T/stats.json" "$T/metrics" "$T/page.html"; do
	for secret in s3cret t0ps3cret YWRtaW46czNjcmV0 admin; do
		! grep -q "$secret" "$f" || fail "$secret appears in $f: $(grep -m1 "$secret" "$f")"
	done
done
grep -q "stream creds: upstream http://localhost:${port[status]}/ state=" "$FR_LOG" ||
	fail "SIGUSR1 dumped no upstream line"
note "no credential in the log, /stats, /metrics or the page"

fr_stop
finish
