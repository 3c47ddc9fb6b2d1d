#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, --enable-fuzzing) in build/fuzz, replays the
# committed seed corpora, then fuzzes each target for SECONDS (default 30) on a working
# copy of its corpus in build/fuzz/corpus (kept between runs; the committed corpus is
# never written). Then the slow-input run: the byte-stream targets again for SECONDS
# each, with inputs up to 2 MiB and a timeout of 10 s, seeded with large hostile
# inputs too, so that an input that makes a parser slow is a finding, in
# build/fuzz/corpus-slow. Prints the executions per target and in total; exits 1 if any
# target found a crash, a leak, a timeout or a mismatch, with the reproducer's path in
# the output.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      a longer run: scripts/fuzz.sh 3600
# See docs/FUZZING.md.
set -euo pipefail

seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ ]] || {
	echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
	exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build/fuzz
targets=(splitter http_parse config)
# The slow-input run: targets that take a byte stream of any length, the largest input,
# and the time one may take. The slowest linear inputs of 2 MiB found take about 1.5 s of
# CPU in these instrumented targets (a million SOIs, fed a byte at a time, with ASan,
# UBSan and coverage), several times that in wall-clock time on a loaded machine; the
# quadratic splitter of issue 10 took 150 s on 1 MiB.
slow_targets=(splitter http_parse)
slow_max_len=$((2 << 20))
slow_timeout=10
jobs=$(nproc 2>/dev/null || echo 2)
cd "$top"

step() { printf '\n==== %s\n' "$*"; }

if [[ -f $top/config.status ]]; then
	echo "fuzz: $top is configured in place; automake builds in build/fuzz need" \
		"'make distclean' there first" >&2
	exit 2
fi

step "setup (clang, --enable-fuzzing)"
scripts/setup-debian.sh --test "$build" CC=clang --enable-fuzzing
programs=("${targets[@]/%/-fuzzer}")
make -C "$build" -j"$jobs" "${programs[@]/#/fuzz/}" >"$build/make.log" 2>&1 || {
	tail -n 40 "$build/make.log" >&2
	exit 1
}

# "key = value" from the [libfuzzer] section of an oss-fuzz .options file
option() {
	sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | head -n 1
}

# Sets flags to the libFuzzer flags from fuzz/NAME-fuzzer.options: -max_len and -dict.
flags_for() {
	local opts=$top/fuzz/$1-fuzzer.options max_len dict
	max_len=$(option "$opts" max_len)
	dict=$(option "$opts" dict)
	flags=()
	[[ -z $max_len ]] || flags+=("-max_len=$max_len")
	[[ -z $dict ]] || flags+=("-dict=$top/fuzz/$dict")
}

# The failing input ("Running: FILE" when replaying, "Test unit written to FILE" when
# fuzzing) and the first lines of the report, from a failed run's log.
report_crash() {
	local log=$1
	grep -E '^(==[0-9]+==ERROR|SUMMARY|[a-z_]+-fuzzer: )' "$log" | head -n 5 >&2 || true
	grep -E '^Running: ' "$log" | tail -n 1 >&2 || true
	grep -E 'Test unit written to' "$log" >&2 || true
	echo "fuzz: full log in $log" >&2
}

failed=0
mkdir -p "$build/crashes" "$build/logs"

step "replay the committed corpora"
for t in "${targets[@]}"; do
	bin=$build/fuzz/$t-fuzzer
	log=$build/logs/$t-replay.log
	files=("$top/fuzz/corpus/$t"/*)
	flags_for "$t"
	# Files given by name are each run once, whole (a directory would be cut to max_len).
	if "$bin" "${flags[@]}" -artifact_prefix="$build/crashes/$t-" "${files[@]}" >"$log" 2>&1; then
		printf '%-12s %4d inputs ok\n' "$t" "${#files[@]}"
	else
		printf '%-12s FAILED on the committed corpus\n' "$t" >&2
		report_crash "$log"
		failed=1
	fi
done
((failed == 0)) || exit 1

# fuzz_run TARGET LOG_NAME ARTIFACT_PREFIX WORK FLAG...: fuzzes TARGET for $seconds on
# the working corpus WORK with FLAG..., its log in build/fuzz/logs/LOG_NAME.log and its
# findings named build/fuzz/crashes/ARTIFACT_PREFIX…; prints one line, adds the
# executions to total and sets RUN_EXECS to them, sets failed=1 on a finding.
fuzz_run() {
	local t=$1 log=$build/logs/$2.log prefix=$build/crashes/$3 work=$4 rc=0 n
	shift 4
	"$build/fuzz/$t-fuzzer" "$@" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$prefix" "$work" >"$log" 2>&1 || rc=$?
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	RUN_EXECS=${n:-0}
	total=$((total + RUN_EXECS))
	if ((rc != 0)); then
		printf '%-12s %12s executions  FAILED (exit %d)\n' "$t" "$RUN_EXECS" "$rc" >&2
		report_crash "$log"
		failed=1
	else
		printf '%-12s %12s executions  %6d inputs in %s\n' "$t" "$RUN_EXECS" \
			"$(find "$work" -type f | wc -l)" "${work#"$top"/}"
	fi
}

step "fuzz each target for ${seconds} s"
declare -A execs
total=0
for t in "${targets[@]}"; do
	work=$build/corpus/$t
	mkdir -p "$work"
	cp -n "$top/fuzz/corpus/$t"/* "$work"/
	flags_for "$t"
	fuzz_run "$t" "$t-fuzz" "$t-" "$work" "${flags[@]}" -timeout=10
	execs[$t]=$RUN_EXECS
done

# Large seeds for the slow-input run: hostile inputs of 1 MiB that are linear now but
# were not (or could be). Each gets the target's header bytes (see fuzz/NAME-fuzzer.c).
write_slow_seeds() {
	python3 - "$1" "$2" <<-'EOF'
		import os, sys
		target, out = sys.argv[1:]
		MIB = 1 << 20
		def put(name, header, body):
		    with open(os.path.join(out, "seed-" + name), "wb") as fp:
		        fp.write(bytes(header) + body)
		if target == "splitter":
		    # [0] 0x80: no limit, 0xc0: 8 MiB; [3] chunking: 0 = 1 byte, 5 = random
		    nest = lambda unit: b"\xff\xd8" + unit * (MIB // len(unit))
		    for chunking in (0, 5):
		        h = [0xC0, 0, 0, chunking, 1, 2, 3, 4]
		        put(f"nested-com-{chunking}", h, nest(b"\xff\xfe\x00\x04\xff\xd8") + b"\x00")
		        put(f"nested-app-{chunking}", h, nest(b"\xff\xe1\x00\x04\xff\xd8") + b"\x00")
		        sos = b"\xff\xda\x00\x04\xff\xd8" * (MIB // 12)
		        put(f"nested-sos-{chunking}", h, b"\xff\xd8" + sos + b"\x11" * (MIB // 2) + b"\xff\x02")
		    h = [0x80, 0, 0, 5, 4, 3, 2, 1]
		    put("long-segments", h, b"\xff\xd8\xff\xfe\xff\xff" * (MIB // 6))
		    put("soi-eoi", h, b"\xff\xd8\xff\xd9" * (MIB // 4))
		    put("fill", h, b"\xff\xd8" + b"\xff" * MIB + b"\x00")
		elif target == "http_parse":
		    # [0] chunking (0 = 1 byte), [1] max_head_bytes (127: 8128)
		    head = b"PUT /ingest/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		    put("tiny-chunks", [0, 0, 0, 1], head + b"1\r\nX\r\n" * (MIB // 6) + b"0\r\n\r\n")
		    put("chunk-ext", [5, 0, 0, 1], head + b"1;" + b"e" * MIB + b"\r\nX\r\n0\r\n\r\n")
		    put("long-query", [0, 127, 0, 1], b"GET /?" + b"a=b&" * (MIB // 4) + b" HTTP/1.1\r\n\r\n")
	EOF
}

step "slow inputs: up to $slow_max_len bytes, -timeout=$slow_timeout, ${seconds} s per target"
declare -A slow_execs
for t in "${slow_targets[@]}"; do
	work=$build/corpus-slow/$t
	mkdir -p "$work"
	cp -n "$top/fuzz/corpus/$t"/* "$work"/
	write_slow_seeds "$t" "$work"
	flags_for "$t"
	slow_flags=()
	for f in "${flags[@]}"; do
		[[ $f == -max_len=* ]] || slow_flags+=("$f")
	done
	# -len_control=0: mutate at any length at once instead of growing inputs slowly.
	fuzz_run "$t" "$t-slow" "$t-slow-" "$work" "${slow_flags[@]}" \
		-max_len="$slow_max_len" -len_control=0 -timeout="$slow_timeout"
	slow_execs[$t]=$RUN_EXECS
done

step "summary (${seconds} s per target)"
for t in "${targets[@]}"; do
	printf '%-12s %12s\n' "$t" "${execs[$t]}"
done
for t in "${slow_targets[@]}"; do
	printf '%-12s %12s\n' "$t (slow)" "${slow_execs[$t]}"
done
printf '%-12s %12s\n' total "$total"
if ((failed)); then
	echo "fuzz: FAILED: see the reproducers above (build/fuzz/crashes)" >&2
	exit 1
fi
step "all passed"
