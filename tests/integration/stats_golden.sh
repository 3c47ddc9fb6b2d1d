#!/bin/bash
# SPDX-License-Identifier: MIT
# The golden counter texts in tests/golden (which tests/check_stats asserts the
# formatters write byte for byte) are valid: every NAME.prom passes
# `promtool check metrics` without a remark, and every NAME.json is strict JSON
# (UTF-8, no NaN or Infinity) that Python loads. Exit 77 only when promtool
# (Debian package prometheus) is missing.
. "$(dirname "$0")/lib.sh"

need promtool
G=$FR_SRCDIR/tests/golden
n=0
for f in "$G"/*.prom; do
	[[ -e $f ]] || fail "no golden files in $G"
	out=$(promtool check metrics <"$f" 2>&1) || fail "promtool check metrics $(basename "$f"): $out"
	[[ -z $out ]] || fail "promtool check metrics $(basename "$f") has remarks: $out"
	n=$((n + 1))
done
for f in "$G"/*.json; do
	"$PY" - "$f" <<-'PYEOF' || fail "$(basename "$f") is not strict JSON"
		import json, sys
		def strict(c):
		    raise ValueError(c)
		json.loads(open(sys.argv[1], "rb").read().decode("utf-8"), parse_constant=strict)
	PYEOF
	n=$((n + 1))
done
((n >= 6)) || fail "expected at least 3 .prom and 3 .json golden files, found $n"
note "$n golden files: promtool accepts the .prom ones without remarks, Python the .json ones"
finish
