#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, --enable-fuzzing) in build/fuzz, replays the
# committed seed corpora, then fuzzes each target for SECONDS (default 30) on a working
# copy of its corpus in build/fuzz/corpus (kept between runs; the committed corpus is
# never written). Prints the executions per target and in total; exits 1 if any target
# found a crash, a leak, a timeout or a mismatch, with the reproducer's path in the output.
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
targets=(splitter http_parse http_response config)
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

step "fuzz each target for ${seconds} s"
declare -A execs
total=0
for t in "${targets[@]}"; do
	bin=$build/fuzz/$t-fuzzer
	log=$build/logs/$t-fuzz.log
	work=$build/corpus/$t
	mkdir -p "$work"
	cp -n "$top/fuzz/corpus/$t"/* "$work"/
	flags_for "$t"
	rc=0
	"$bin" "${flags[@]}" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$t-" "$work" >"$log" 2>&1 || rc=$?
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	n=${n:-0}
	execs[$t]=$n
	total=$((total + n))
	if ((rc != 0)); then
		printf '%-12s %12s executions  FAILED (exit %d)\n' "$t" "$n" "$rc" >&2
		report_crash "$log"
		failed=1
	else
		printf '%-12s %12s executions  %6d inputs in %s\n' "$t" "$n" \
			"$(find "$work" -type f | wc -l)" "${work#"$top"/}"
	fi
done

step "summary (${seconds} s per target)"
for t in "${targets[@]}"; do
	printf '%-12s %12s\n' "$t" "${execs[$t]}"
done
printf '%-12s %12s\n' total "$total"
if ((failed)); then
	echo "fuzz: FAILED: see the reproducers above (build/fuzz/crashes)" >&2
	exit 1
fi
step "all passed"
