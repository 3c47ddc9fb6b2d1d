#!/bin/bash
# SPDX-License-Identifier: MIT
# on-demand: framerouter B pulls A's stream only while B's stream has subscribers. With
# none, B has no connection to A (ss says so) and its upstream is idle; the first
# subscriber makes B connect within 100 ms (from B's own log) and gets frames; linger
# seconds after the last one left there is no connection again.
. "$(dirname "$0")/lib.sh"

LINGER=1
fr_start_http a
A_IN=$INGEST A_HTTP=$HTTP A_HTTP_PORT=$HTTP_PORT A_PID=$FR_PID
bg_frames 120 push "$A_IN" "$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg" --fps 20 --loop
wait_json "$FR_WAIT" "s['default']['frames_in'] >= 5"

fr_start_http b --stream "cam,from=http://$A_HTTP/stream/default,on-demand,linger=$LINGER" \
	--stream "cam2,from=http://$A_HTTP/stream/default,on-demand,linger=0"
B_LOG=$FR_LOG

# upstream_conns: TCP connections from B to A's HTTP port (the tests make no other).
upstream_conns() { ss -Htn state established "dport = :$A_HTTP_PORT" | wc -l; }
log_ms() {	# the time of the first line of B's log matching PATTERN (after line N), in ms
	"$PY" - "$B_LOG" "$1" "${2:-0}" <<-'EOF'
		import datetime, re, sys
		lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[3]):]
		for l in lines:
		    if re.search(sys.argv[2], l):
		        t = datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
		        print(int(t.timestamp() * 1000))
		        break
	EOF
}

sleep 1
((($(upstream_conns)) == 0)) || fail "B is connected to A without a subscriber: $(ss -Htn state established "dport = :$A_HTTP_PORT")"
stats_json
expect_json "s['cam']['upstream']['state']" idle
expect_json "s['cam']['upstream']['attempts']" 0
expect_json "s['cam']['upstream']['on_demand']" true
expect_json "s['cam']['producer_connected']" false
note "no subscriber, no upstream connection (ss), upstream idle"

# ---- the first subscriber ----
lines=$(wc -l <"$B_LOG")
timeout 30 curl -sS -N --max-time 20 "$URL/stream/cam" -o "$T/sub.mjpeg" &
curl_pid=$!
track "$curl_pid"
wait_json "$FR_WAIT" "s['cam']['clients'] == 1 and s['cam']['frames_out'] >= 5"
((($(upstream_conns)) == 1)) || fail "with a subscriber, B has $(upstream_conns) connections to A"
t_sub=$(log_ms "stream cam: http subscriber .* connected" "$lines")
t_up=$(log_ms "stream cam: producer http://$A_HTTP/stream/default connected" "$lines")
[[ -n $t_sub && -n $t_up ]] || fail "the connect lines are not in B's log"
note "the first subscriber at +0 ms, the upstream connected (response head read) at +$((t_up - t_sub)) ms, frames flowing"
((t_up - t_sub <= 100 * ${FR_TEST_SLOW:-1})) || fail "the upstream connected $((t_up - t_sub)) ms after the first subscriber, more than 100 ms"
expect_json "s['cam']['upstream']['state']" streaming

# ---- the last one leaves ----
kill "$curl_pid"
wait "$curl_pid" 2>/dev/null
wait_json "$FR_WAIT" "s['cam']['clients'] == 0"
t_left=$(log_ms "subscriber .*: closed" "$lines")
[[ -n $t_left ]] || fail "no close line for the subscriber in B's log"
# Until linger is over the connection stays (judged by B's own clock, from its log, so
# a slow test cannot blur it); then it goes, and ss agrees.
wait_until "$FR_WAIT" "the on-demand disconnect" grep -q "stream cam: no subscribers for" "$B_LOG"
t_gone=$(log_ms "stream cam: no subscribers for" "$lines")
note "the last subscriber left; the upstream connection closed $((t_gone - t_left)) ms later (linger=$LINGER)"
((t_gone - t_left >= LINGER * 1000 - 20)) || fail "the upstream went $((t_gone - t_left)) ms after the last subscriber, before the linger of $LINGER s"
((t_gone - t_left <= (LINGER * 1000 + 500) * ${FR_TEST_SLOW:-1})) || fail "the upstream went $((t_gone - t_left)) ms after the last subscriber, more than linger + 0.5 s"
wait_until "$FR_WAIT" "no connection to A" test "$(upstream_conns)" -eq 0
stats_json
expect_json "s['cam']['upstream']['state']" idle
expect_json "s['cam']['upstream']['connects']" 1
expect_json "s['cam']['producer_connected']" false
grep -q "stream cam: no subscribers for 1.0 s: upstream http://$A_HTTP/stream/default disconnected (on-demand)" "$B_LOG" ||
	fail "no log line for the on-demand disconnect"
# The stream kept its last frame for the next subscriber.
expect_http 200 "$T/snap.jpg" "$URL/snapshot/cam"

# ---- linger=0, and a second round ----
lines=$(wc -l <"$B_LOG")
timeout 30 "$PY" "$FRAMES_PY" capture "$HTTP" "$T/cam2.mjpeg" --http /stream/cam2 --frames 3 ||
	fail "no frames from cam2"
wait_json "$FR_WAIT" "s['cam2']['upstream']['state'] == 'idle' and s['cam2']['upstream']['connects'] == 1"
((($(upstream_conns)) == 0)) || fail "cam2 is still connected after its only subscriber left (linger=0)"
note "linger=0: connected for one subscriber, gone when it left"

alive_or_fail
fr_stop
finish
