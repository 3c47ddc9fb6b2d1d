#!/usr/bin/env bash
# What scripts/test.sh holds the C sources to: lines of at most 100 columns with tabs of 8,
# no trailing blanks, and indentation by tabs (continuation lines add 4 spaces after them).
# clang-format is not the gate: see .clang-format. Prints each offending line; exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."

# The daemon, its tests and fuzzers; bench/ is tooling and keeps its denser tables.
files=(src/*.c include/fr/*.h tests/*.c tests/*.h fuzz/*.c fuzz/*.h)
awk '
	FNR == 1 { file = FILENAME }
	{
		line = $0; col = 0
		for (i = 1; i <= length(line); i++) {
			ch = substr(line, i, 1)
			if (ch == "\t") col += 8 - col % 8; else col++
		}
		if (col > 100) { printf "%s:%d: %d columns (at most 100)\n", file, FNR, col; bad = 1 }
		if (line ~ /[ \t]$/) { printf "%s:%d: trailing blanks\n", file, FNR; bad = 1 }
		# Eight spaces spelled out: mawk (the awk of Debian) has no /^ {8}/.
		if (line ~ /^        /) { printf "%s:%d: indented with spaces, not tabs\n", file, FNR; bad = 1 }
	}
	END { exit bad }
' $(ls "${files[@]}" 2>/dev/null)
