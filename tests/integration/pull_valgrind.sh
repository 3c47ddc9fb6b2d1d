#!/bin/bash
# SPDX-License-Identifier: MIT
# Pulled streams under valgrind: streaming (multipart over HTTP, a still image, raw TCP),
# failing (refused, a name that does not resolve), on-demand with a subscriber coming
# and going, a pushed producer taking a stream over and leaving, a SIGHUP that moves,
# drops and adds from= while lookups, connections and backoffs are in flight, then
# SIGTERM with all of them open: exit status 0, no memory errors, no leaks.
. "$(dirname "$0")/lib.sh"

need valgrind curl
grep -q __asan_init "$FR_BIN" && skip "ASan build"

UP_PY=$_fr_here/upstreams.py
clip=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg

pick_ports 8
MP=${PORTS[3]} STILL=${PORTS[4]} DEAD=${PORTS[5]} RAW_IN=127.0.0.1:${PORTS[6]} RAW_LIS=127.0.0.1:${PORTS[7]}
PUSH_IN=127.0.0.1:${PORTS[0]}	# the pulled stream raw's own ingest address
bg "$PY" "$UP_PY" serve multipart "$MP" --file "$clip" --fps 20
bg "$PY" "$UP_PY" serve still "$STILL" --file "$FR_FIXTURES_DIR/baseline.jpg"
wait_until "$FR_WAIT" "the upstreams to listen" is_listening "$MP"
wait_until "$FR_WAIT" "the upstreams to listen" is_listening "$STILL"
# A plain framerouter as the raw TCP upstream, fed by a producer.
fr_start raw --ingest "$RAW_IN" --listen "$RAW_LIS"
RAW_PID=$FR_PID
bg_frames 300 push "$RAW_IN" "$clip" --fps 10 --loop

conf=$T/vg.conf
cat >"$conf" <<EOF
stream mp,from=http://localhost:$MP/,reconnect-max=0.5
stream still,from=http://localhost:$STILL/s.jpg,poll-fps=10
stream raw,ingest=$PUSH_IN,from=tcp://localhost:${RAW_LIS#127.0.0.1:}
stream dead,from=http://localhost:$DEAD/,reconnect-max=0.5
stream nxdomain,from=http://no-such-host.invalid/,reconnect-max=0.5
stream lazy,from=http://localhost:$MP/,on-demand,linger=0.5
EOF
under_valgrind
fr_start_http vg --config "$conf" --producer-timeout 3
wait_json "$FR_WAIT" "s['mp']['frames_in'] >= 10 and s['still']['frames_in'] >= 3 and s['raw']['frames_in'] >= 5 and s['dead']['upstream']['failures']['refused'] >= 2 and s['nxdomain']['upstream']['failures']['dns'] >= 1"
expect_json "s['lazy']['upstream']['state']" idle

# on-demand: a subscriber comes and goes.
timeout "$FR_WAIT" "$PY" "$FRAMES_PY" capture "$HTTP" "$T/lazy.out" --http /stream/lazy --frames 3 ||
	fail "no frames from the on-demand stream"
wait_json "$FR_WAIT" "s['lazy']['upstream']['state'] == 'idle' and s['lazy']['upstream']['connects'] == 1"

# A pushed producer takes the raw stream and leaves.
frames push "$PUSH_IN" "$clip" >/dev/null || fail "push into the pulled stream"
wait_json "$FR_WAIT" "s['raw']['upstream']['connects'] >= 2"

# A reload that moves one stream, drops another's from= and adds one.
cat >"$conf" <<EOF
stream mp,from=http://localhost:$STILL/moved.jpg
stream still
stream raw,ingest=$PUSH_IN,from=tcp://localhost:${RAW_LIS#127.0.0.1:}
stream dead,from=http://localhost:$DEAD/x,reconnect-max=0.5
stream nxdomain,from=http://no-such-host.invalid/,reconnect-max=0.5
stream lazy,from=http://localhost:$MP/,on-demand,linger=0.5
EOF
kill -HUP "$FR_PID"
wait_until "$FR_WAIT" "the reload" grep -q 'reload: done, 5 settings changed' "$FR_LOG"
wait_json "$FR_WAIT" "s['mp']['upstream']['url'] == 'http://localhost:$STILL/moved.jpg' and s['mp']['upstream']['connects'] >= 1"
note "pulled, failed, lingered, yielded and reloaded under valgrind"

fr_stop "$FR_WAIT"
valgrind_clean
FR_PID=$RAW_PID
fr_stop
finish
