#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP and from=: a stream whose from= changed is pulled from the new upstream, one
# whose from= was removed stops being pulled (its subscribers stay), one whose password
# changed reconnects with it, and a stream whose from= did not change is not touched
# (same connection, its subscriber none the wiser). The notes name no credential.
. "$(dirname "$0")/lib.sh"
need curl

UP_PY=$_fr_here/upstreams.py
clip=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg

pick_ports 5
U1=${PORTS[3]} U2=${PORTS[4]}
bg "$PY" "$UP_PY" serve multipart "$U1" --file "$clip" --fps 20
bg "$PY" "$UP_PY" serve multipart "$U2" --file "$FR_FIXTURES_DIR/baseline.jpg" --fps 20
wait_until "$FR_WAIT" "upstream 1 to listen" is_listening "$U1"
wait_until "$FR_WAIT" "upstream 2 to listen" is_listening "$U2"

conf=$T/framerouter.conf
cat >"$conf" <<EOF
stream moved,from=http://localhost:$U1/
stream dropped,from=http://localhost:$U1/
stream secret,from=http://admin:s3cret@localhost:$U2/
stream kept,from=http://localhost:$U1/,on-demand,linger=30
EOF
fr_start_http reload --config "$conf"
for n in moved dropped secret kept; do
	timeout 60 curl -sS -N --max-time 50 "$URL/stream/$n" -o "$T/$n.out" &
	track $!
done
wait_json 15 "all(s[n]['clients'] == 1 and s[n]['frames_out'] >= 5 for n in ('moved', 'dropped', 'secret', 'kept'))"
expect_json "s['kept']['upstream']['connects']" 1
kept_sub=$(json_eval "s['kept']['client_list'][0]['peer']")

cat >"$conf" <<EOF
stream moved,from=http://localhost:$U2/
stream dropped
stream secret,from=http://admin:n3w-s3cret@localhost:$U2/
stream kept,from=http://localhost:$U1/,on-demand,linger=30
EOF
lines=$(wc -l <"$FR_LOG")
kill -HUP "$FR_PID"
wait_until "$FR_WAIT" "the reload to finish" grep -q "reload: done" "$FR_LOG"
tail -n "+$((lines + 1))" "$FR_LOG" | grep "reload" >"$T/reload-notes.txt"
cat "$T/reload-notes.txt"
for line in "reload: stream moved: from http://localhost:$U1/ -> http://localhost:$U2/" \
	"reload: stream dropped: from http://localhost:$U1/ -> (none)" \
	"reload: stream secret: from http://localhost:$U2/ (another user, password or query)" \
	"reload: done, 3 settings changed"; do
	grep -qF "$line" "$T/reload-notes.txt" || fail "no '$line' in the log"
done
! grep -q "s3cret" "$FR_LOG" || fail "a password reached the log"

# U2 serves baseline.jpg: the moved stream's frames are it now.
wait_json 15 "s['moved']['upstream']['url'] == 'http://localhost:$U2/' and s['moved']['latest_frame']['bytes'] == $(stat -c %s "$FR_FIXTURES_DIR/baseline.jpg") and s['secret']['upstream']['connects'] == 1 and s['secret']['frames_in'] > 0"
stats_json
expect_json "'upstream' in s['dropped']" false
expect_json "s['dropped']['producer_connected']" false
# Every subscriber is still there; the untouched stream kept its one connection.
for n in moved dropped secret kept; do
	expect_json "s['$n']['clients']" 1
done
expect_json "s['kept']['upstream']['connects']" 1
expect_json "s['kept']['upstream']['attempts']" 1
expect_json "s['kept']['client_list'][0]['peer']" "$kept_sub"
f=$(json_eval "s['kept']['frames_out']")
wait_json "$FR_WAIT" "s['kept']['frames_out'] > $f + 10"
note "reloaded: moved follows the new upstream, dropped is no longer pulled, secret reconnected with its new password, kept untouched"

alive_or_fail
fr_stop
finish
