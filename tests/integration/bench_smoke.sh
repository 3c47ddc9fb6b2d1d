#!/bin/bash
# SPDX-License-Identifier: MIT
# The benchmark's load generator (bench/loadgen.c) keeps working: built from
# source (or taken from the build tree), it pushes 30 tagged 1080p frames through
# framerouter to 3 raw and 2 HTTP subscribers and one mid-stream joiner, and its
# JSON summary must say every frame arrived whole and byte-identical, in order,
# with nothing corrupt. Speed is not checked here: that is bench/run's job.
. "$(dirname "$0")/lib.sh"
need ffmpeg cc

loadgen=$FR_BUILDDIR/bench/loadgen
if [[ ! -x $loadgen ]]; then
	loadgen=$T/loadgen
	cc -std=c11 -O2 -Wall -Wextra -Werror -o "$loadgen" "$FR_SRCDIR/bench/loadgen.c" -lm ||
		fail "cannot build bench/loadgen.c"
fi

src=$T/source.mjpeg
timeout 60 ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1920x1080:rate=30" -frames:v 10 \
	-c:v mjpeg -q:v 5 -f mjpeg "$src" || fail "ffmpeg cannot make the source"

pick_ports 1
HTTP=127.0.0.1:${PORTS[0]}
fr_start_default bench --http "$HTTP" --max-clients 100

start=$(date +%s%N)
timeout 60 "$loadgen" --input "$src" --producer "$INGEST" --raw "$LISTEN" --raw-subs 3 \
	--http "$HTTP" --http-subs 2 --joiners 1 --join-after 0.3 --fps 30 --frames 30 \
	--verify-bytes --drain 10 --broker-pid "$FR_PID" --name smoke --label framerouter \
	--out "$T/summary.json" 2>"$T/loadgen.err"
rc=$?
cat "$T/loadgen.err"
((rc == 0)) || fail "loadgen exited with status $rc"
note "loadgen ran in $(elapsed_ms "$start") ms"

"$PY" - "$T/summary.json" <<-'EOF' || fail "the load generator's summary shows lost or broken frames"
	import json, sys
	d = json.load(open(sys.argv[1]))
	reg, joiner = d["regular"], d["joiner"]
	checks = [
	    ("frames sent", d["frames_sent"], 30),
	    ("frames delivered", d["frames_delivered"], 5 * 30),
	    ("frames expected", d["frames_expected"], 5 * 30),
	    ("corrupt frames", d["corrupt"], 0),
	    ("least frames to one subscriber", reg["per_sub_min"], 30),
	    ("skipped frames", reg["skipped"], 0),
	    ("frames out of order", reg["out_of_order"], 0),
	    ("bytes before the first frame", reg["lead_bytes"] + joiner["lead_bytes"], 0),
	    ("joiners with a whole first frame", d["join_ms"]["n"], 1),
	    ("subscribers closed by the broker", d["closed_by_broker"], 0),
	    ("latency samples", d["latency_ms"]["n"], 5 * 30),
	]
	bad = [f"{what}: {got}, expected {want}" for what, got, want in checks if got != want]
	for b in bad:
	    print("bench_smoke: " + b, file=sys.stderr)
	print(f"bench_smoke: {d['frames_delivered']}/{d['frames_expected']} frames whole and byte-identical, "
	      f"latency p50 {d['latency_ms']['p50']} ms, joiner's first frame after {d['join_ms']['p50']} ms")
	sys.exit(1 if bad else 0)
EOF
fr_stop
finish
