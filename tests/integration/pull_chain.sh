#!/bin/bash
# SPDX-License-Identifier: MIT
# A chain of three framerouters: a producer pushes into A, B pulls A's /stream/default,
# C pulls B's. Subscribers on A, B and C receive every frame byte-identical to what the
# producer sent (hops.py stamps each frame and compares it by its sequence number), the
# relays count no garbage and no drop, and the latency each hop adds is measured and
# printed (not asserted: speed lives in bench/, whose relay row measures it under load).
. "$(dirname "$0")/lib.sh"

HOPS_PY=$_fr_here/hops.py
src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
SECS=${FR_CHAIN_SECONDS:-5}

start_node() {	# NAME ARG...: fr_start on three fresh ports; sets NODE_{IN,LIS,HTTP,PID}
	local name=$1 try
	shift
	for try in 1 2 3 4 5; do
		pick_ports 3
		NODE_IN=127.0.0.1:${PORTS[0]} NODE_LIS=127.0.0.1:${PORTS[1]} NODE_HTTP=127.0.0.1:${PORTS[2]}
		fr_start "$name" --ingest "$NODE_IN" --listen "$NODE_LIS" --http "$NODE_HTTP" \
			--log-level debug "$@" && { NODE_PID=$FR_PID; return 0; }
		grep -q 'in use' "$FR_LOG" || fail "framerouter $name exited with status $FR_START_RC"
	done
	fail "could not start framerouter $name on free ports"
}

start_node a
A_IN=$NODE_IN A_LIS=$NODE_LIS A_HTTP=$NODE_HTTP
start_node b --stream "default,from=http://$A_HTTP/stream/default"
B_LIS=$NODE_LIS B_HTTP=$NODE_HTTP B_LOG=$FR_LOG
start_node c --stream "default,from=http://$B_HTTP/stream/default"
C_LIS=$NODE_LIS C_HTTP=$NODE_HTTP C_LOG=$FR_LOG

# Both relays are connected upstream, waiting for frames.
URL=http://$B_HTTP
wait_json "$FR_WAIT" "s['default']['upstream']['state'] == 'streaming'"
URL=http://$C_HTTP
wait_json "$FR_WAIT" "s['default']['upstream']['state'] == 'streaming'"
note "A <- B <- C connected: B pulls http://$A_HTTP/stream/default, C pulls http://$B_HTTP/stream/default"

timeout $((SECS + 30)) "$PY" "$HOPS_PY" --producer "$A_IN" --sub "A=$A_LIS" --sub "B=$B_LIS" \
	--sub "C=$C_LIS" --source "$src" --fps 30 --seconds "$SECS" >"$T/hops.json" 2>"$T/hops.err" ||
	fail "hops.py failed: $(cat "$T/hops.err")"
note "hops.py: $(cat "$T/hops.json")"

sent=$(json_eval "j['sent']" "$T/hops.json")
((sent >= 30 * SECS - 2)) || fail "the producer sent $sent frames in $SECS s"
for n in A B C; do
	expect_json "j['$n']['mismatches']" 0 "$T/hops.json"
	expect_json "j['$n']['frames']" "$sent" "$T/hops.json"
done
note "all $sent frames reached A, B and C byte-identical, in $SECS s at 30 fps"

# The relays: every byte they took from upstream was a frame or its framing.
for u in "$B_HTTP" "$C_HTTP"; do
	URL=http://$u
	stats_json
	expect_json "s['default']['garbage_bytes']" 0
	expect_json "s['default']['dropped']" '{"slow_client": 0, "fps_cap": 0, "invalid": 0, "oversize": 0, "truncated": 0, "scale_invalid": 0}'
	expect_json "s['default']['upstream']['connects']" 1
	expect_json "sum(s['default']['upstream']['failures'].values())" 0
done

hop() {	# FROM TO PCT: what the hop from FROM to TO adds at percentile PCT, in ms
	json_eval "round(j['$2']['$3_ms'] - j['$1']['$3_ms'], 3)" "$T/hops.json"
}
note "latency at A (producer -> A's subscriber): p50 $(json_eval "j['A']['p50_ms']" "$T/hops.json") ms, p99 $(json_eval "j['A']['p99_ms']" "$T/hops.json") ms"
note "added by hop A -> B: p50 $(hop A B p50) ms, p99 $(hop A B p99) ms"
note "added by hop B -> C: p50 $(hop B C p50) ms, p99 $(hop B C p99) ms"
finish
