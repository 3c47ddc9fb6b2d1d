#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Federation over NATS (issue 13), with real components on loopback: a 3-server NATS
# cluster (routes, JetStream on), framerouter node A that ingests, edge nodes B and C
# that serve the streams from NATS, and HAProxy in front of B and C with
# contrib/haproxy.cfg. Checks:
#  - raw and HTTP subscribers through HAProxy (on B and C) get byte-identical frames
#    in order; ffmpeg and OpenCV read through HAProxy; /snapshot, the page and
#    ?scale=1/2 too;
#  - killing the NATS server B is connected to: B reconnects to another one and its
#    subscribers keep receiving (the gap is measured and printed);
#  - killing and restarting A: B's and C's subscribers stay connected and resume;
#  - messages that are not JPEG are dropped and counted on the receiving node;
#  - JetStream: a node's first subscriber gets the stream's last frame at once, also
#    when nothing is live (the time to it is printed);
#  - a node with no subscribers receives no bytes from NATS; GET /healthz says 503
#    while a node has no NATS connection; a --max-frame-size above the server's
#    max_payload is refused at startup;
#  - examples/nats_subscriber.py, where nats-py can be imported.
# Skips (77) where nats-server or haproxy is missing or framerouter was built
# without libnats.
. "$(dirname "$0")/lib.sh"

need nats-server haproxy
require ffmpeg curl
"$FR_BIN" --version | grep -q ' nats(' || skip "framerouter was built without libnats"

FRAMES=$FRAMES_PY
TOOL=$(dirname "$0")/nats_tool.py
tool() { "$PY" "$TOOL" "$@"; }

# ---- sources: distinct frames, so that order and identity can be checked ----
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -frames:v 900 \
	-c:v mjpeg -q:v 5 -f mjpeg "$T/src1.mjpeg" || fail "ffmpeg cannot make src1"
ffmpeg -nostdin -v error -f lavfi -i testsrc=size=320x240:rate=30 -frames:v 900 \
	-c:v mjpeg -q:v 5 -f mjpeg "$T/src2.mjpeg" || fail "ffmpeg cannot make src2"
frames slice "$T/src2.mjpeg" "$T/src3.mjpeg" --start 0 --count 30 || fail "slice"

# ---- the NATS cluster ----
pick_ports 9
NC=("${PORTS[@]:0:3}") NR=("${PORTS[@]:3:3}") NM=("${PORTS[@]:6:3}")
NATS_URLS=nats://127.0.0.1:${NC[0]},nats://127.0.0.1:${NC[1]},nats://127.0.0.1:${NC[2]}
routes="nats-route://127.0.0.1:${NR[0]}, nats-route://127.0.0.1:${NR[1]}, nats-route://127.0.0.1:${NR[2]}"
NATS_PID=()
for i in 0 1 2; do
	cat >"$T/nats$i.conf" <<-EOF
		server_name: n$i
		listen: 127.0.0.1:${NC[$i]}
		http: 127.0.0.1:${NM[$i]}
		max_payload: 8MB
		jetstream { store_dir: "$T/js$i", max_memory_store: 268435456, max_file_store: 268435456 }
		cluster { name: frtest, listen: 127.0.0.1:${NR[$i]}, routes: [ $routes ] }
	EOF
	bg nats-server -c "$T/nats$i.conf" -l "$T/nats$i.log"
	NATS_PID[i]=$BG_PID
done
js_ready() { [[ $(curl -s "http://127.0.0.1:${NM[$1]}/healthz?js-enabled-only=true") == *'"ok"'* ]]; }
for i in 0 1 2; do
	wait_until 30 "nats-server n$i to be up with JetStream" js_ready "$i"
done
# A stream needs the JetStream meta leader: wait until the cluster has one.
has_meta_leader() { curl -s "http://127.0.0.1:${NM[0]}/jsz" | grep -q '"leader"'; }
wait_until 30 "a JetStream meta leader" has_meta_leader
note "NATS cluster up: $NATS_URLS"

# ---- framerouter nodes ----
# The servers go in a config file: fr_start checks that every 127.0.0.1 port on the
# command line listens, and one of the servers will be down.
printf 'nats %s\n' "$NATS_URLS" >"$T/nats.conf"
# start_node NAME HTTPPORT ARG...: a node on free ports; sets NODE_PID.
start_node() {
	local name=$1 http=$2
	shift 2
	pick_ports 2
	fr_start "$name" --ingest "127.0.0.1:${PORTS[0]}" --listen "127.0.0.1:${PORTS[1]}" \
		--http "127.0.0.1:$http" --config "$T/nats.conf" --node-id "$name" --nats-jetstream \
		--max-frame-size 4M "$@" || fail "node $name exited with status $FR_START_RC at startup"
	NODE_PID=$FR_PID
}
pick_ports 10
HA=${PORTS[0]} HB=${PORTS[1]} HC=${PORTS[2]} IA1=${PORTS[3]} IA2=${PORTS[4]}
LB=${PORTS[5]} LC=${PORTS[6]} HAP_HTTP=${PORTS[7]} HAP_RAW=${PORTS[8]} HD=${PORTS[9]}
A_ARGS=(--stream "cam1,ingest=127.0.0.1:$IA1" --stream "cam2,ingest=127.0.0.1:$IA2")
start_node A "$HA" "${A_ARGS[@]}"
A_PID=$NODE_PID
start_node B "$HB" --stream "cam1,listen=127.0.0.1:$LB"
B_PID=$NODE_PID B_LOG=$FR_LOG
start_node C "$HC" --stream "cam1,listen=127.0.0.1:$LC"
C_PID=$NODE_PID

# node_json PORT EXPR: EXPR over that node's /stats.
node_json() {
	curl -s --max-time 5 "http://127.0.0.1:$1/stats" >"$T/stats-$1.json" || return 1
	json_eval "$2" "$T/stats-$1.json"
}
node_holds() { [[ $(node_json "$1" "bool($2)" 2>/dev/null) == true ]]; }
for p in $HA $HB $HC; do
	wait_until "$FR_WAIT" "node :$p connected to NATS" node_holds "$p" 'j["nats"]["state"] == "connected"'
done

# ---- HAProxy in front of B and C ----
export FR_HAPROXY_HTTP=127.0.0.1:$HAP_HTTP FR_HAPROXY_RAW=127.0.0.1:$HAP_RAW
export FR_EDGE1_HTTP=127.0.0.1:$HB FR_EDGE2_HTTP=127.0.0.1:$HC
export FR_EDGE1_RAW=127.0.0.1:$LB FR_EDGE2_RAW=127.0.0.1:$LC
export FR_EDGE1_HTTP_PORT=$HB FR_EDGE2_HTTP_PORT=$HC
haproxy -c -q -f "$FR_SRCDIR/contrib/haproxy.cfg" || fail "contrib/haproxy.cfg does not check"
bg haproxy -db -f "$FR_SRCDIR/contrib/haproxy.cfg"
HAP_PID=$BG_PID
hap_up() { [[ $(curl -s --max-time 2 "http://$FR_HAPROXY_HTTP/healthz") == ok ]]; }
wait_until "$FR_WAIT" "HAProxy to answer /healthz" hap_up
sleep 2.5	# both servers of each backend pass their first health checks (rise 2, inter 1s)

# ---- a producer on A; subscribers through HAProxy land on B and C ----
bg "$PY" "$FRAMES" push "127.0.0.1:$IA1" "$T/src1.mjpeg" --fps 30
PUSH_PID=$BG_PID
wait_until "$FR_WAIT" "A to ingest cam1" node_holds "$HA" 's["cam1"]["frames_in"] >= 5'

CAPS=()
for i in 1 2; do
	bg "$PY" "$FRAMES" capture "$FR_HAPROXY_RAW" "$T/raw$i.cap"
	CAPS+=("$BG_PID")
	bg "$PY" "$FRAMES" capture "$FR_HAPROXY_HTTP" "$T/http$i.cap" --http /stream/cam1
	CAPS+=("$BG_PID")
done
bg "$PY" "$TOOL" timed "127.0.0.1:$LB" "$T/b.times"
TIMED_PID=$BG_PID
wait_until "$FR_WAIT" "subscribers on B" node_holds "$HB" 's["cam1"]["clients"] >= 2'
wait_until "$FR_WAIT" "subscribers on C" node_holds "$HC" 's["cam1"]["clients"] >= 2'
wait_until "$FR_WAIT" "frames on B" node_holds "$HB" 's["cam1"]["frames_out"] >= 30'
wait_until "$FR_WAIT" "frames on C" node_holds "$HC" 's["cam1"]["frames_out"] >= 20'
node_holds "$HB" 's["cam1"]["producer"] == "nats:framerouter.frames.cam1"' ||
	fail "B's cam1 is not fed from NATS: $(node_json "$HB" 's["cam1"]')"
node_holds "$HA" 'j["nats"]["frames_published"] >= 5 and j["nats"]["subscriptions"] == 0' ||
	fail "A publishes cam1 and subscribes to nothing: $(node_json "$HA" 'j["nats"]')"
note "raw and HTTP subscribers through HAProxy: B has $(node_json "$HB" 's["cam1"]["clients"]'), C has $(node_json "$HC" 's["cam1"]["clients"]')"

# ffmpeg, OpenCV, /snapshot and the page through HAProxy.
timeout 30 ffmpeg -nostdin -v error -i "http://$FR_HAPROXY_HTTP/stream/cam1" -frames:v 5 \
	-f image2 "$T/ff%d.jpg" || fail "ffmpeg cannot read /stream/cam1 through HAProxy"
[[ -s $T/ff5.jpg ]] || fail "ffmpeg wrote no 5th frame"
cv=$(timeout 30 "$PY" - "http://$FR_HAPROXY_HTTP/stream/cam1" <<-'EOF'
	import sys, cv2
	cap = cv2.VideoCapture(sys.argv[1])
	shapes = set()
	for _ in range(3):
	    ok, img = cap.read()
	    if not ok:
	        sys.exit("no frame")
	    shapes.add(img.shape)
	print(sorted(shapes))
EOF
) || fail "OpenCV cannot read through HAProxy: $cv"
[[ $cv == '[(240, 320, 3)]' ]] || fail "OpenCV read frames of $cv"
# A stream fed from NATS is a local stream like any other: ?scale= works on it.
if "$FR_BIN" --version | grep -q 'validate('; then
	timeout 30 ffmpeg -nostdin -v error -i "http://$FR_HAPROXY_HTTP/stream/cam1?scale=1/2" \
		-frames:v 2 -f image2 "$T/half%d.jpg" || fail "ffmpeg cannot read ?scale=1/2 through HAProxy"
	size=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$T/half2.jpg")
	[[ $size == 160,120 ]] || fail "?scale=1/2 of a stream fed from NATS is $size, not 160,120"
fi
expect_http 200 "$T/snap.jpg" "http://$FR_HAPROXY_HTTP/snapshot/cam1"
check_capture "$T/snap.jpg" --source "$T/src1.mjpeg" --min 1
expect_http 200 "$T/page.html" "http://$FR_HAPROXY_HTTP/"
note "ffmpeg, OpenCV, /snapshot, the page and ?scale=1/2 read through HAProxy"

# ---- fault: kill the NATS server B is connected to ----
b_server=$(node_json "$HB" 'j["nats"]["server"]')
b_port=${b_server##*:}
victim=
for i in 0 1 2; do [[ ${NC[$i]} == "$b_port" ]] && victim=$i; done
[[ -n $victim ]] || fail "B's server $b_server is none of the cluster's"
kill_at=$(date +%s.%N)
kill -KILL "${NATS_PID[$victim]}"
wait_until 20 "B to reconnect to another server" node_holds "$HB" \
	"j['nats']['state'] == 'connected' and not j['nats']['server'].endswith(':$b_port')"
has_frame_after() { tool gap "$T/b.times" "$kill_at" >/dev/null; }
wait_until 20 "B's subscriber to receive again after the kill" has_frame_after
sleep 1
GAP_MS=$(tool gap "$T/b.times" "$kill_at") || fail "gap: $GAP_MS"
node_holds "$HB" 'j["nats"]["reconnects"] >= 1' || fail "B counted no reconnect"
note "failover: killed n$victim (B's server); B reconnected to $(node_json "$HB" 'j["nats"]["server"]'); its subscriber's longest wait for a frame: $GAP_MS ms"

# ---- fault: kill and restart A (the producer goes with it) ----
clients_b=$(node_json "$HB" 's["cam1"]["clients"]')
clients_c=$(node_json "$HC" 's["cam1"]["clients"]')
kill -KILL "$A_PID" "$PUSH_PID"
wait "$A_PID" 2>/dev/null
sleep 1
in_b=$(node_json "$HB" 's["cam1"]["frames_in"]')
start_node A "$HA" "${A_ARGS[@]}"
A_PID=$NODE_PID
wait_until "$FR_WAIT" "A to reconnect to NATS" node_holds "$HA" 'j["nats"]["state"] == "connected"'
bg "$PY" "$FRAMES" push "127.0.0.1:$IA1" "$T/src2.mjpeg" --fps 30
PUSH_PID=$BG_PID
wait_until 20 "B to get frames of the restarted A" node_holds "$HB" "s['cam1']['frames_in'] >= $in_b + 30"
wait_until 20 "C to get frames of the restarted A" node_holds "$HC" "s['cam1']['frames_out'] >= 30"
[[ $(node_json "$HB" 's["cam1"]["clients"]') == "$clients_b" ]] || fail "B's subscribers did not all stay connected"
[[ $(node_json "$HC" 's["cam1"]["clients"]') == "$clients_c" ]] || fail "C's subscribers did not all stay connected"
note "A killed and restarted: B's $clients_b and C's $clients_c subscribers stayed connected and resumed"

# Every capture: byte-identical source frames, in order, from before and after.
sleep 1
kill -TERM "${CAPS[@]}" "$TIMED_PID"
for pid in "${CAPS[@]}"; do wait "$pid" 2>/dev/null; done
for i in 1 2; do
	check_capture "$T/raw$i.cap" --source "$T/src1.mjpeg" --source "$T/src2.mjpeg" --min 60
	check_capture "$T/http$i.cap" --http --source "$T/src1.mjpeg" --source "$T/src2.mjpeg" --min 60
	# Against src1 alone the check stops at the first frame of src2: frames from
	# after A's restart arrived, after those from before.
	for cap in "raw$i.cap" "http$i.cap --http"; do
		out=$(frames check "$T/"$cap --source "$T/src1.mjpeg" 2>&1) &&
			fail "$cap: no frame from after A's restart"
		grep -q 'matches no source frame' <<<"$out" || fail "$cap: $out"
	done
done

# ---- a node with no subscribers receives nothing ----
wait_until "$FR_WAIT" "C to unsubscribe" node_holds "$HC" 'j["nats"]["subscriptions"] == 0'
rx=$(node_json "$HC" 'j["nats"]["bytes_received"]')
pub=$(node_json "$HA" 'j["nats"]["frames_published"]')
sleep 1
node_holds "$HA" "j['nats']['frames_published'] >= $pub + 15" || fail "A stopped publishing"
[[ $(node_json "$HC" 'j["nats"]["bytes_received"]') == "$rx" ]] ||
	fail "C received NATS bytes without a subscriber"
note "C without subscribers: 0 bytes received from NATS while A published $(( $(node_json "$HA" 'j["nats"]["frames_published"]') - pub )) frames"

# ---- messages that are not JPEG are dropped and counted ----
bg curl -s -N --max-time 20 -o "$T/junk.out" "http://127.0.0.1:$HB/stream/junk"
JUNK_PID=$BG_PID
wait_until "$FR_WAIT" "B to subscribe to junk" node_holds "$HB" \
	's["junk"]["clients"] == 1 and s["junk"]["producer"] == "nats:framerouter.frames.junk"'
sleep 0.3	# the publisher thread sends the SUB
before=$(node_json "$HB" 'j["nats"]["dropped"]["invalid"] + j["nats"]["dropped"]["slow_consumer"]')
tool pub "127.0.0.1:${NC[$(((victim + 1) % 3))]}" framerouter.frames.junk 5 "this is not a JPEG" ||
	fail "cannot publish on NATS"
# Each message is dropped as invalid, or replaced in B's inbox by the next one before
# the loop took it (newest wins): counted either way, and never a frame.
wait_until "$FR_WAIT" "B to count 5 dropped messages" node_holds "$HB" \
	"j['nats']['dropped']['invalid'] + j['nats']['dropped']['slow_consumer'] == $before + 5"
node_holds "$HB" "s['junk']['frames_in'] == 0 and s['junk']['garbage_bytes'] >= 18 and
	s['junk']['garbage_bytes'] % 18 == 0" || fail "junk: $(node_json "$HB" 's["junk"]')"
kill "$JUNK_PID" 2>/dev/null
grep -q 'image/jpeg' "$T/junk.out" && fail "a subscriber of junk was sent a part"
note "5 messages that are not JPEG: dropped and counted on B"

# ---- JetStream: a node's first subscriber gets the last frame at once ----
"$PY" "$FRAMES" push "127.0.0.1:$IA2" "$T/src3.mjpeg" --fps 100 || fail "push to cam2"
wait_until "$FR_WAIT" "A to publish cam2" node_holds "$HA" 's["cam2"]["frames_in"] == 30'
sleep 0.5
node_holds "$HC" '"cam2" not in s' || fail "C knew cam2 before anyone asked"
FIRST_MS=$(tool first "127.0.0.1:$HC" /stream/cam2) ||
	fail "C's first subscriber of cam2 (nothing live) got no frame from JetStream: $FIRST_MS"
FIRST_LIVE_MS=$(tool first "127.0.0.1:$HC" /stream/cam1) ||
	fail "a first subscriber of live cam1 on C got no frame: $FIRST_LIVE_MS"
note "JetStream: a first subscriber on C got a frame after $FIRST_MS ms (nothing live; the stream was new to C); $FIRST_LIVE_MS ms on cam1, which C still held"

# ---- /healthz without a NATS connection; max_payload too small ----
pick_ports 3
fr_start D --ingest "127.0.0.1:${PORTS[0]}" --listen "127.0.0.1:${PORTS[1]}" --http "127.0.0.1:$HD" \
	--nats "nats://localhost:${PORTS[2]}" --max-frame-size 4M || fail "node D did not start"
expect_http 503 "$T/healthz" "http://127.0.0.1:$HD/healthz"
grep -q 'nats: connecting' "$T/healthz" || fail "D's /healthz says: $(cat "$T/healthz")"
expect_http 200 "$T/healthz" "http://127.0.0.1:$HB/healthz"
pick_ports 3
if fr_start E --ingest "127.0.0.1:${PORTS[0]}" --listen "127.0.0.1:${PORTS[1]}" \
	--http "127.0.0.1:${PORTS[2]}" --config "$T/nats.conf"; then
	fail "a --max-frame-size of 8M was accepted with max_payload 8MB"
fi
grep -q 'max-frame-size 8388608 does not fit the server.s max_payload 8388608' "$FR_LOG" ||
	fail "no clear refusal: $(tail -n 3 "$FR_LOG")"
note "/healthz: 503 without NATS; --max-frame-size above max_payload refused (status $FR_START_RC)"

# ---- the Python example, where nats-py exists ----
if "$PY" -c 'import nats' 2>/dev/null; then
	timeout 20 "$PY" "$FR_SRCDIR/examples/nats_subscriber.py" --server "nats://127.0.0.1:${NC[$(((victim + 1) % 3))]}" \
		--stream cam1 --frames 3 >"$T/example.out" 2>&1 || fail "examples/nats_subscriber.py: $(tail -n 5 "$T/example.out")"
	grep -q '320x240' "$T/example.out" || fail "the example decoded no 320x240 frame: $(cat "$T/example.out")"
	note "examples/nats_subscriber.py decoded frames of cam1"
else
	note "examples/nats_subscriber.py not run: nats-py cannot be imported here (pip install nats-py)"
fi

kill "$PUSH_PID" 2>/dev/null
for pid in $A_PID $B_PID $C_PID; do
	kill -TERM "$pid"
	wait_exit "$FR_WAIT" "$pid"
	((WAIT_RC == 0)) || fail "a node exited with status $WAIT_RC after SIGTERM"
done
note "hop figures: failover gap ${GAP_MS} ms, JetStream first frame ${FIRST_MS} ms"
finish
