#!/bin/bash
# SPDX-License-Identifier: MIT
# Per-stream tokens, snapshots with age and /stats/history, through the daemon as
# operators run it (a config file, token files, SIGHUP, --log-level debug):
#  - Three streams: "default" and "lab" under the global subscribe token only, "yard"
#    with a subscribe token of its own (from a file) and an ingest token of its own.
#    Every endpoint answers by the rules: /stream, /snapshot and /stats/history/NAME
#    401 or 200; /, /stats, /metrics and /stats/history list what the token may see;
#    PUT /ingest takes the stream's own ingest token or the global one.
#  - SIGHUP after the token file changes: the old token is refused, the new one
#    taken; the log says "changed", never the token.
#  - /snapshot's Last-Modified and X-Frame-Age; ?wait= is answered by the next frame
#    pushed, and 503 with Retry-After when none comes; over 30 is 400.
#  - --stale-after 1 (and stale-after=60 for "lab"): a snapshot of a stream whose
#    producer stopped is 503, /stats says stale; "lab" stays fresh.
#  - /stats/history has one sample a second per stream, counting the frames pushed.
#  - No token given in a URL or a header appears in the debug log.
. "$(dirname "$0")/lib.sh"
need curl

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
G=global-tok-7c1 Y1=yard-tok-old-3a2 Y2=yard-tok-new-9e4 YI=yard-in-5d8 GI=global-in-0b6
printf '%s\n' "$Y1" >"$T/yard.token"
pick_ports 2
YARD_IN=127.0.0.1:${PORTS[0]} LAB_IN=127.0.0.1:${PORTS[1]}
cat >"$T/fr.conf" <<EOF
subscribe-token $G
ingest-token $GI
stale-after 1
stream yard,ingest=$YARD_IN,subscribe-token-file=$T/yard.token,ingest-token=$YI
stream lab,ingest=$LAB_IN,stale-after=60
EOF
fr_start_http access --config "$T/fr.conf" --log-level debug

# code TARGET [CURL_ARG...]: the status of GET TARGET.
code() {
	local target=$1
	shift
	curl -s -o "$T/body" -D "$T/head" --max-time 2 -w '%{http_code}' "$@" "$URL$target" || true
}
# expect_code CODE TARGET [CURL_ARG...]
expect_code() {
	local got
	got=$(code "${@:2}")
	[[ $got == "$1" ]] || fail "GET $2 ${*:3}: status $got, expected $1: $(head -c 200 "$T/body")"
}
bearer() { printf 'Authorization: Bearer %s' "$1"; }
# listed TARGET TOKEN: the stream names /stats-like TARGET lists for TOKEN (sorted).
listed() {
	curl -sf -H "$(bearer "$2")" "$URL$1" | "$PY" -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["streams"])))'
}

bg_frames 120 push "$INGEST" "$src" --fps 10 --loop
push_default=$BG_PID
bg_frames 120 push "$YARD_IN" "$src" --fps 10 --loop
push_yard=$BG_PID
bg_frames 120 push "$LAB_IN" "$src" --fps 10 --loop
HTTP_AUTH=(-H "$(bearer "$G")")
wait_json "$FR_WAIT" "all(x['frames_in'] >= 3 for x in s.values())"

# ---- reading: every endpoint that reads one stream ----
for target in /stream/yard /snapshot/yard /stats/history/yard; do
	expect_code 401 "$target"
	expect_code 401 "$target" -H "$(bearer nope)"
	expect_code 200 "$target" -H "$(bearer "$Y1")"
	expect_code 200 "$target?token=$Y1"
	expect_code 200 "$target" -H "$(bearer "$G")"
done
for target in /stream/lab /snapshot/lab /stats/history/lab; do
	expect_code 401 "$target" -H "$(bearer "$Y1")"
	expect_code 200 "$target?token=$G"
done
expect_code 401 /snapshot/nosuch -H "$(bearer "$Y1")"
expect_code 404 /snapshot/nosuch -H "$(bearer "$G")"
# ---- the lists: what the token may see ----
for target in / /stats /metrics /stats/history; do
	expect_code 401 "$target"
	expect_code 200 "$target?token=$Y1"
	expect_code 200 "$target" -H "$(bearer "$G")"
done
[[ $(listed /stats "$Y1") == yard ]] || fail "/stats with yard's token lists: $(listed /stats "$Y1")"
[[ $(listed /stats/history "$Y1") == yard ]] || fail "/stats/history with yard's token lists: $(listed /stats/history "$Y1")"
[[ $(listed /stats "$G") == "default lab yard" ]] || fail "/stats with the global token lists: $(listed /stats "$G")"
curl -sf "$URL/metrics?token=$Y1" >"$T/metrics"
grep -q '^framerouter_frames_in_total{stream="yard"} ' "$T/metrics" || fail "/metrics with yard's token lacks yard"
grep -q 'stream="lab"\|stream="default"' "$T/metrics" && fail "/metrics with yard's token shows other streams"
note "yard's token reads yard, lists only yard; the global token reads and lists all"

# ---- ingest: the stream's own token or the global one ----
put() { curl -s -o /dev/null -w '%{http_code}' -T "$src" -H 'Content-Type: image/jpeg' "$@"; }
[[ $(put "$URL/ingest/yard") == 401 ]] || fail "PUT /ingest/yard without a token was taken"
[[ $(put "$URL/ingest/yard" -H "$(bearer "$Y1")") == 401 ]] || fail "PUT /ingest/yard with yard's subscribe token was taken"
[[ $(put "$URL/ingest/lab?token=$YI") == 401 ]] || fail "PUT /ingest/lab with yard's ingest token was taken"
[[ $(put "$URL/ingest/new?token=$YI") == 401 ]] || fail "yard's ingest token created a stream"
kill -TERM "$push_yard"
wait_exit "$FR_WAIT" "$push_yard"
[[ $(put "$URL/ingest/yard?token=$YI") == 204 ]] || fail "PUT /ingest/yard with yard's ingest token was refused"
[[ $(put "$URL/ingest/yard" -H "$(bearer "$GI")") == 204 ]] || fail "PUT /ingest/yard with the global ingest token was refused"
stats_json
expect_json "s['yard']['producer_connects']" 3
note "yard takes its own ingest token and the global one, and gives neither to another stream"

# ---- SIGHUP: a new token in the file ----
printf '%s\n' "$Y2" >"$T/yard.token"
before=$(grep -c 'reload: done' "$FR_LOG")
kill -HUP "$FR_PID"
wait_until "$FR_WAIT" "the reload to end" eval '(($(grep -c "reload: done" "$FR_LOG") > before))'
grep -q 'reload: stream yard: subscribe-token changed$' "$FR_LOG" ||
	fail "the reload did not say yard's token changed: $(grep 'reload:' "$FR_LOG" | tail -n 3)"
# (yard has no producer now and may be stale: /stats/history answers all the same)
expect_code 401 /stats/history/yard -H "$(bearer "$Y1")"
expect_code 200 /stats/history/yard -H "$(bearer "$Y2")"
note "SIGHUP: $(grep 'reload: stream yard' "$FR_LOG" | tail -n 1 | sed 's/.*info: //'); the old token is refused"

# ---- snapshots: age, ?wait=, --stale-after ----
expect_code 200 /snapshot/default -H "$(bearer "$G")"
age=$(header_of "$T/head" X-Frame-Age)
[[ $age =~ ^[0-9]+\.[0-9]{3}$ ]] || fail "X-Frame-Age '$age'"
lm=$(header_of "$T/head" Last-Modified)
"$PY" -c 'import email.utils, sys, time; t = email.utils.parsedate_to_datetime(sys.argv[1]).timestamp(); sys.exit(0 if abs(time.time() - t) < 5 else 1)' "$lm" ||
	fail "Last-Modified '$lm' is not the last frame's time"
expect_code 400 "/snapshot/default?wait=31" -H "$(bearer "$G")"
# yard has no producer now: it goes stale after 1 s, a waiting request gets the next frame.
wait_json "$FR_WAIT" "s['yard']['stale'] and not s['lab']['stale'] and s['lab']['stale_after_s'] == 60"
expect_code 503 /snapshot/yard -H "$(bearer "$Y2")"
[[ $(header_of "$T/head" Retry-After) == 1 ]] || fail "a stale snapshot without Retry-After: 1"
grep -q "stream 'yard' is stale" "$T/body" || fail "the 503 does not say yard is stale: $(cat "$T/body")"
expect_code 503 "/snapshot/yard?wait=0.5" -H "$(bearer "$Y2")"
grep -q 'no new frame within 0.5 s' "$T/body" || fail "?wait=0.5: $(cat "$T/body")"
curl -s -o "$T/waited.jpg" -w '%{http_code}' --max-time 20 -H "$(bearer "$Y2")" \
	"$URL/snapshot/yard?wait=15" >"$T/waited.code" &
waiter=$!
track "$waiter"
wait_json "$FR_WAIT" "j['connections_pending'] >= 1"
push_frame "$YARD_IN" "$src" 4 "$T/one.jpg"
wait_exit 20 "$waiter"
[[ $(cat "$T/waited.code") == 200 ]] && cmp -s "$T/waited.jpg" "$T/one.jpg" ||
	fail "?wait=15 on stale yard: status $(cat "$T/waited.code"), not the frame pushed"
note "snapshots: X-Frame-Age $age, Last-Modified $lm; stale yard 503, ?wait= answered by the next frame"

# ---- history: a sample a second ----
kill -TERM "$push_default"
wait_exit "$FR_WAIT" "$push_default"
sleep 2	# samples taken after the producer stopped
curl -sf -H "$(bearer "$G")" "$URL/stats/history/default" >"$T/history.json" || fail "/stats/history/default"
stats_json
"$PY" - "$T/history.json" "$(json_eval "s['default']['frames_in']")" <<-'EOF' || fail "/stats/history/default does not add up"
	import json, sys
	h = json.load(open(sys.argv[1]))
	d = h["streams"]["default"]
	n = d["next"] - d["first"]
	frames = sum(d["input_fps"])
	print("history: %d samples, %d frames in them (/stats: %s), last input fps %s" %
	      (n, frames, sys.argv[2], d["input_fps"][-3:]))
	sys.exit(0 if h["next"] == d["next"] and n == len(d["clients"]) and n >= 3 and
	         frames == int(sys.argv[2]) and d["input_fps"][-1] == 0 and max(d["input_fps"]) >= 8
	         else 1)
EOF

# ---- no token in the debug log ----
for tok in "$G" "$Y1" "$Y2" "$YI" "$GI"; do
	grep -qF -- "$tok" "$FR_LOG" && fail "a token appears in the log: $(grep -F -- "$tok" "$FR_LOG" | head -n 1)"
done
grep -q 'debug: http' "$FR_LOG" || fail "the debug log has no HTTP lines to check"
note "no token in $(wc -l <"$FR_LOG") lines of debug log"
fr_stop
finish
