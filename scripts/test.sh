#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   0. the layout of the C sources (scripts/style.sh);
#   1. gcc build with -Werror: unit and integration tests (make check);
#   2. clang build with ASan+UBSan and -Werror: the same suite again;
#   3. the unit tests under valgrind (no leaks, no errors);
#   4. make distcheck (the tarball builds and its unit tests pass);
#   5. the fuzzers: replay the committed corpora, then fuzz each target for 30 s.
# Installs missing Debian packages first. Build trees go to build/ in the checkout.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
cd "$top"

step() { printf '\n==== %s\n' "$*"; }

show_failures() {
	local dir=$1
	for log in $(find "$dir/tests" -name '*.log' 2>/dev/null); do
		grep -qE '^(FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null || continue
		printf '\n---- %s\n' "$log"
		tail -n 60 "$log"
	done
}

run_check() {
	local dir=$1
	shift
	if ! make -C "$dir" -j"$jobs" check "$@"; then
		show_failures "$dir"
		return 1
	fi
}

step "style (scripts/style.sh)"
scripts/style.sh

step "setup (gcc, -Werror)"
scripts/setup-debian.sh --test build/gcc CC=gcc --enable-werror
make -C build/gcc -j"$jobs" >/dev/null
step "make check (gcc)"
run_check build/gcc

step "setup (clang, ASan+UBSan, -Werror)"
scripts/setup-debian.sh --test build/asan CC=clang --enable-asan --enable-werror
make -C build/asan -j"$jobs" >/dev/null
step "make check (clang, ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_check build/asan

step "unit tests under valgrind"
unit_tests=$(make -s -C build/gcc print-unit-tests)
for t in $unit_tests; do
	echo "valgrind $t"
	(cd build/gcc && CK_FORK=no valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=1 "./$t" >"$t.valgrind.log" 2>&1) || {
		tail -n 80 "build/gcc/$t.valgrind.log"
		exit 1
	}
	tail -n 1 "build/gcc/$t.valgrind.log"
done

step "make distcheck (unit tests)"
make -C build/gcc -j"$jobs" distcheck TESTS="$unit_tests" >build/distcheck.log 2>&1 || {
	tail -n 80 build/distcheck.log
	exit 1
}
grep -E '^=+$|archives ready' build/distcheck.log | tail -n 3

step "fuzzing (corpus replay, then 30 s per target)"
scripts/fuzz.sh 30

step "all passed"
