#!/bin/bash
# SPDX-License-Identifier: MIT
# The man pages man/framerouter.8 and man/framerouter-grab.1: groff and man
# format them without a single warning, man-db can index them, and they cannot
# fall behind the code. Every option (from --help and from the option tables in
# the source) has its own entry under OPTIONS and nothing else has one; the
# default --help gives for an option is in its entry and in its row of the
# README's options table, and every option has such a row; every
# counter of a live SIGUSR1 dump and every /metrics family is described (a pulled
# stream's too), every key of a pulled stream has its entry; every HTTP endpoint and
# every handled signal is mentioned.
. "$(dirname "$0")/lib.sh"
need groff

MAN8=$FR_SRCDIR/man/framerouter.8
MAN1=$FR_SRCDIR/man/framerouter-grab.1
[[ -f $MAN8 && -f $MAN1 ]] || fail "no $MAN8 or $MAN1"
export LC_ALL=C.UTF-8

# ---- formatting: not one warning ----

for page in "$MAN8" "$MAN1"; do
	# -ww: every warning; -z: format, print nothing. Any stderr is a failure.
	groff -ww -man -Tutf8 -z "$page" >"$T/out" 2>"$T/err" ||
		fail "groff -ww -man failed on $page: $(head -c 1000 "$T/err")"
	[[ ! -s $T/err ]] || fail "groff -ww -man warns about $page: $(head -c 1000 "$T/err")"
	# Narrow terminals make different line breaks: try a few widths.
	for w in 80 60 132; do
		groff -ww -man -Tutf8 -rLL="${w}n" -z "$page" 2>"$T/err" ||
			fail "groff -rLL=${w}n failed on $page: $(head -c 1000 "$T/err")"
		[[ ! -s $T/err ]] || fail "groff -rLL=${w}n warns about $page: $(head -c 1000 "$T/err")"
	done
	note "groff -ww: $(basename "$page") clean"
done

require man
for page in "$MAN8" "$MAN1"; do
	for w in 80 60; do
		# man-db's own sandbox can fail in containers; it is not what is tested.
		MAN_DISABLE_SECCOMP=1 MANWIDTH=$w man --warnings -E UTF-8 -l "$page" \
			>"$T/out" 2>"$T/err" || fail "man -l $page failed: $(head -c 1000 "$T/err")"
		[[ ! -s $T/err ]] || fail "man --warnings (MANWIDTH=$w) warns about $page: $(head -c 1000 "$T/err")"
		[[ -s $T/out ]] || fail "man -l $page printed nothing"
	done
done
note "man --warnings: both pages clean"

# lexgrog (man-db) parses the NAME section the way mandb does for whatis/apropos.
require lexgrog
for page in "$MAN8" "$MAN1"; do
	out=$(lexgrog "$page" 2>&1) || fail "lexgrog cannot parse the NAME section of $page: $out"
	note "$out"
done

# ---- options: one OPTIONS entry per option of the code, and no more ----

# options_of_help PROG: "-x --long" or "- --long" per option in PROG --help.
options_of_help() {
	"$1" --help | grep -E '^ +(-[A-Za-z0-9], +)?--[a-z]' |
		sed -E 's/^ +(-([A-Za-z0-9]), +)?--([a-z][a-z0-9-]*).*/-\2 --\3/'
}

# check_options PAGE NAME: every option in $T/NAME.opts ("-x --long" lines) has
# an entry (a .TP tag) under OPTIONS in PAGE, with its short form if it has one;
# every option with an entry is in $T/NAME.opts.
check_options() {
	"$PY" - "$1" "$T/$2.opts" <<-'EOF'
		import re, sys
		page, opts_file = sys.argv[1], sys.argv[2]
		src = open(page, encoding="utf-8").read()
		m = re.search(r"^\.SH OPTIONS\n(.*?)^\.SH ", src, re.S | re.M)
		if not m:
		    sys.exit("%s: no OPTIONS section" % page)
		lines = m.group(1).split("\n")
		# The tag of each .TP, as plain text: \- is -, fonts and quotes dropped.
		tags = []
		for i, l in enumerate(lines[:-1]):
		    if l.startswith(".TP"):
		        t = lines[i + 1]
		        t = re.sub(r"\\f[BIRP]|\\c", "", t).replace("\\-", "-")
		        t = re.sub(r"^\.[A-Z]+ ?", "", t).replace('"', " ")
		        tags.append(t)
		def documented(t):
		    return set(re.findall(r"(?<![\w-])(--?[A-Za-z0-9][A-Za-z0-9-]*)", t))
		tagged = {}
		for t in tags:
		    for o in documented(t):
		        tagged.setdefault(o, t)
		want, bad = set(), []
		for l in open(opts_file):
		    short, long_ = l.split()
		    want.add(long_)
		    t = [t for t in tags if long_ in documented(t)]
		    if not t:
		        bad.append("%s has no entry under OPTIONS" % long_)
		    elif short != "-" and short not in documented(t[0]):
		        bad.append("the entry of %s does not give %s" % (long_, short))
		    if short != "-":
		        want.add(short)
		for o in sorted(tagged):
		    if o.startswith("--") and o not in want:
		        bad.append("OPTIONS has an entry for %s, which the program does not have" % o)
		for b in bad:
		    print("%s: %s" % (page.rsplit("/", 1)[-1], b))
		sys.exit(1 if bad else 0)
	EOF
}

# framerouter: --help, plus the option table in src/config.c (the rows of
# fr_config_options[]) and the options fr_config_parse adds (config, help, version).
options_of_help "$FR_BIN" >"$T/framerouter.opts"
(($(wc -l <"$T/framerouter.opts") >= 15)) ||
	fail "framerouter --help lists only $(wc -l <"$T/framerouter.opts") options: the parser in this test is out of date"
if [[ -f $FR_SRCDIR/src/config.c ]]; then
	"$PY" - "$FR_SRCDIR/src/config.c" >"$T/table.opts" <<-'EOF'
		import re, sys
		src = open(sys.argv[1]).read()
		m = re.search(r"^const struct fr_config_option fr_config_options\[\] = \{\n(.*?)^\};", src, re.S | re.M)
		if not m:
		    sys.exit("no fr_config_options[] table in " + sys.argv[1])
		for row in re.split(r"\{ \.name = ", m.group(1))[1:]:
		    name = re.match(r'"([a-z][a-z0-9-]*)"', row)
		    if not name:
		        continue
		    short = re.search(r"\.short_name = \x27(.)\x27", row)
		    print("%s --%s" % ("-" + short.group(1) if short else "-", name.group(1)))
		for name, short in re.findall(r'\(struct option\)\{ "([a-z][a-z0-9-]*)", \w+, NULL, \x27(.)\x27 \}', src):
		    print("-%s --%s" % (short, name))
	EOF
	(($(wc -l <"$T/table.opts") >= 15)) ||
		fail "found only $(wc -l <"$T/table.opts") options in src/config.c: the parser in this test is out of date"
	cat "$T/table.opts" >>"$T/framerouter.opts"
fi
sort -u -o "$T/framerouter.opts" "$T/framerouter.opts"
# A long option listed with and without its short form means the sources disagree.
dups=$(awk '{ print $2 }' "$T/framerouter.opts" | uniq -d)
[[ -z $dups ]] || fail "--help and src/config.c disagree about the short form of: $dups"
out=$(check_options "$MAN8" framerouter) || fail "framerouter.8 is behind the code:
$out"
note "framerouter.8 has an entry for each of the $(wc -l <"$T/framerouter.opts") options"

# ---- defaults: the man page and the README say what --help says ----

# --help prints each default from the option table: "... (default 8M)". Every such
# default is in the option's man page entry ("Default: 8M", "default: 1024") and in
# its row of the README's options table; every key of --stream NAME[,KEY=...] is in
# the --stream entry and row; and every option of --help has a README row.
"$FR_BIN" --help >"$T/help.txt"
out=$("$PY" - "$T/help.txt" "$MAN8" "$FR_SRCDIR/README.md" 2>&1 <<-'EOF'
	import re, sys
	help_text, page, readme = (open(f, encoding="utf-8").read() for f in sys.argv[1:])

	opts = {}	# --name -> (default or None, [stream keys])
	for l in help_text.splitlines():
	    m = re.match(r"^ +(?:-[A-Za-z0-9], +)?--([a-z][a-z0-9-]*)(?: (\S+))?", l)
	    if not m:
	        continue
	    d = re.search(r" \(default ([^)]*)\)$", l)
	    keys = re.findall(r"\[,([a-z][a-z0-9-]*)", m.group(2) or "")
	    opts["--" + m.group(1)] = (d.group(1) if d else None, keys)
	if len([o for o in opts.values() if o[0]]) < 8:
	    sys.exit("--help gives only %d defaults: the parser in this test is out of date" %
	             len([o for o in opts.values() if o[0]]))

	def plain(line):
	    """One line of roff as the reader sees it."""
	    m = re.match(r"^\.(B|I|BR|RB|BI|IB|IR|RI)(?: (.*))?$", line)
	    if m:
	        args = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', m.group(2) or "")]
	        line = ("" if len(m.group(1)) == 2 else " ").join(args)
	    elif line.startswith("."):
	        return ""
	    for roff, text in (("\\-", "-"), ("\\(en", "-"), ("\\&", ""), ("\\c", "")):
	        line = line.replace(roff, text)
	    return re.sub(r"\\f[BIRP]", "", line)

	# The man page: each .TP entry under OPTIONS as (tag, body), in plain text.
	section = re.search(r"^\.SH OPTIONS\n(.*?)^\.S[HS] ", page, re.S | re.M).group(1)
	entries = []
	for chunk in re.split(r"^\.TP\n", section, flags=re.M)[1:]:
	    lines = re.split(r"^\.(?:TP|PP|SS|SH)\b", chunk, flags=re.M)[0].split("\n")
	    entries.append((plain(lines[0]), " ".join(plain(l) for l in lines[1:])))

	def man_entry(opt):
	    for tag, body in entries:
	        if re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", tag):
	            return tag, body
	    return None, None

	# The README: the rows of the table under "## Options" as (options, default).
	block = re.search(r"^## Options\n(.*?)^## ", readme, re.S | re.M).group(1)
	rows = [[c.strip() for c in l.strip().strip("|").split("|")]
	        for l in block.splitlines() if l.startswith("|") and not l.startswith("|---")][1:]

	def readme_rows(opt):
	    pat = r"`" + re.escape(opt) + r"(?:[ =][^`]*)?`"
	    return [r for r in rows if re.search(pat, r[0])]

	bad = []
	for opt, (default, keys) in sorted(opts.items()):
	    tag, body = man_entry(opt)
	    found = readme_rows(opt)
	    if len(found) != 1:
	        bad.append("README.md: %d rows of the options table name %s" % (len(found), opt))
	    if default is not None:
	        said = r"(?i)default:\s+" + re.escape(default) + r"(?![A-Za-z0-9]|[.:][A-Za-z0-9])"
	        if tag is not None and not re.search(said, body):
	            bad.append("framerouter.8: the entry of %s does not say 'Default: %s'" % (opt, default))
	        if len(found) == 1 and found[0][1] != "`%s`" % default:
	            bad.append("README.md: the row of %s gives the default %r, --help %r" %
	                       (opt, found[0][1], default))
	    for k in keys:
	        if tag is not None and not re.search(r"\b" + re.escape(k) + r"\b", tag):
	            bad.append("framerouter.8: the entry of %s does not show its key %s" % (opt, k))
	        if len(found) == 1 and not re.search(r"\b" + re.escape(k) + r"\b", found[0][0]):
	            bad.append("README.md: the row of %s does not show its key %s" % (opt, k))
	for r in rows:
	    for opt in re.findall(r"`(--[a-z][a-z0-9-]*)", r[0]):
	        if opt not in opts:
	            bad.append("README.md: the options table has %s, which --help does not" % opt)
	if bad:
	    sys.exit("\n".join(bad))
	print("%d options, each with a README row; their %d defaults and the keys of --stream "
	      "agree with --help" % (len(opts), len([o for o in opts.values() if o[0]])))
EOF
) || fail "the man page or the README disagrees with --help:
$out"
note "framerouter.8 and README.md: $out"

# framerouter-grab: --help, plus the getopt_long table in src/grab.c (its --help
# shows the short options only).
options_of_help "$FR_GRAB" >"$T/grab.opts"
if [[ -f $FR_SRCDIR/src/grab.c ]]; then
	"$PY" - "$FR_SRCDIR/src/grab.c" >>"$T/grab.opts" <<-'EOF'
		import re, sys
		src = open(sys.argv[1]).read()
		for name, short in re.findall(r'\{ "([a-z][a-z0-9-]*)", \w+_argument, NULL, \x27(.)\x27 \}', src):
		    print("-%s --%s" % (short, name))
	EOF
fi
sort -u -o "$T/grab.opts" "$T/grab.opts"
(($(wc -l <"$T/grab.opts") >= 4)) ||
	fail "found only $(wc -l <"$T/grab.opts") framerouter-grab options: the parser in this test is out of date"
# The short options of the usage line, which --help does show.
for s in $("$FR_GRAB" --help | head -n 1 | grep -oE '\[-[A-Za-z0-9]' | tr -d '['); do
	grep -q -- "^$s " "$T/grab.opts" || fail "framerouter-grab --help shows $s, which has no long form in src/grab.c"
done
out=$(check_options "$MAN1" grab) || fail "framerouter-grab.1 is behind the code:
$out"
note "framerouter-grab.1 has an entry for each of the $(wc -l <"$T/grab.opts") options"

# ---- counters, metrics, endpoints, signals ----

# mentioned WORD PAGE: PAGE's source has WORD as a whole word (roff's \- read as -).
# (No "sed | grep -q": with pipefail, grep quitting early fails the pipeline.)
mentioned() {
	sed 's/\\-/-/g' "$2" >"$T/plain"
	grep -qE -- "(^|[^A-Za-z0-9_-])$1([^A-Za-z0-9_]|-[^A-Za-z0-9]|-?\$)" "$T/plain"
}

# man_text [SECTION]: framerouter.8 as plain text (no \- or font escapes): the
# whole page, or its .SH SECTION only.
man_text() {
	if (($#)); then
		sed -n "/^\.SH $1/,/^\.SH /p" "$MAN8"
	else
		cat "$MAN8"
	fi | sed 's/\\-/-/g; s/\\f[BIRP]//g'
}

# at_least N WHAT WORD...: fails unless there are N WORDs or more (WHAT: what they
# are; fewer means the daemon, or this test's parsing of it, lost some).
at_least() {
	local n=$1 what=$2
	shift 2
	(($# >= n)) || fail "found only these $what: $*"
}

# all_mentioned WHAT WORD...: framerouter.8 mentions every WORD; fails with those
# it does not (WHAT: what they are).
all_mentioned() {
	local what=$1 k missing=()
	shift
	for k; do
		mentioned "$k" "$MAN8" || missing+=("$k")
	done
	((${#missing[@]} == 0)) || fail "framerouter.8 does not mention these $what: ${missing[*]}"
}

# A live dump: a stream with a frame and one raw subscriber, so every counter the
# SIGUSR1 dump writes (stream line and client line) is there.
need curl
fr_start_http counters
frames push "$INGEST" "$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg" >/dev/null || fail "push failed"
wait_stat "$FR_WAIT" frames_in -eq 10
subscribe capture 30
wait_stat "$FR_WAIT" clients -eq 1
client=$(head -n 1 "$T/clients.txt")
keys=$( (printf '%s\n' "$STATS" "$client") | grep -oE '[a-z_]+=' | tr -d = | sort -u)
at_least 15 "counters in the SIGUSR1 dump" $keys
all_mentioned "counters of the SIGUSR1 dump" $keys
note "framerouter.8 mentions all $(wc -w <<<"$keys") counters of the SIGUSR1 dump"

expect_http 200 "$T/metrics" "$URL/metrics"
families=$(sed -n 's/^# TYPE \([a-z_:]*\) .*/\1/p' "$T/metrics" | sort -u)
at_least 10 "families in /metrics" $families
labels=$(grep -v '^#' "$T/metrics" | grep -oE '[a-z_]+="[^"]*"' | sed -E 's/="[^"]*"//' | sort -u)
reasons=$(grep -oE 'reason="[a-z_]+"' "$T/metrics" | sed -E 's/reason="(.*)"/\1/' | sort -u)
all_mentioned "/metrics names" $families $labels $reasons
note "framerouter.8 mentions all $(wc -w <<<"$families") /metrics families, labels and reasons"

# A pulled stream (from the daemon above): its SIGUSR1 line and its /metrics families.
up_http=$HTTP
up_pid=$FR_PID
fr_start_http pulled --stream "up,from=http://$up_http/stream/default"
wait_json "$FR_WAIT" "s['up']['upstream']['state'] == 'streaming'"
kill -USR1 "$FR_PID"
wait_until "$FR_WAIT" "the upstream line of the dump" grep -q "stream up: upstream " "$FR_LOG"
keys=$(grep "stream up: upstream " "$FR_LOG" | tail -n 1 | grep -oE '[a-z_]+=' | tr -d = | sort -u)
at_least 9 "counters in the upstream line of the dump" $keys
expect_http 200 "$T/metrics" "$URL/metrics"
families=$(sed -n 's/^# TYPE \(framerouter_upstream_[a-z_]*\) .*/\1/p' "$T/metrics" | sort -u)
at_least 5 "upstream families in /metrics" $families
labels=$(grep '^framerouter_upstream' "$T/metrics" | grep -oE '[a-z_]+="[^"]*"' | sed -E 's/="([^"]*)"/ \1/' | tr ' ' '\n' | grep -vE '^(up|url|stream|http:.*)$' | sort -u)
all_mentioned "names of a pulled stream" $keys $families $labels
note "framerouter.8 mentions the $(wc -w <<<"$keys") counters of a pulled stream's dump line and its $(wc -w <<<"$families") /metrics families"
fr_stop
FR_PID=$up_pid
fr_stop

# Every key of a pulled stream (the --stream keys from from= to reconnect-max=, in src/config.c) has
# its own entry in the PULLED STREAMS section.
if [[ -f $FR_SRCDIR/src/config.c ]]; then
	pull_keys=$(sed -n '/^const struct fr_config_option fr_config_stream_keys/,/^};/p' \
		"$FR_SRCDIR/src/config.c" | grep -oE '\.name = "[a-z-]+"' | sed -E 's/.*"(.*)"/\1/' |
		sed -n '/^from$/,/^reconnect-max$/p')
	at_least 7 "pull keys in src/config.c" $pull_keys
	section=$(man_text "PULLED STREAMS")
	for k in $pull_keys; do
		grep -A1 '^\.TP' <<<"$section" | grep -qE "^\.B[IR]* $k(=| |\$)" ||
			fail "the PULLED STREAMS section of framerouter.8 has no entry for $k"
	done
	note "framerouter.8 PULLED STREAMS has an entry for each key:" $pull_keys
fi

# Endpoints: the paths src/http.c dispatches on.
if [[ -f $FR_SRCDIR/src/http.c ]]; then
	paths=$(grep -oE '(strcmp\(path|stream_name\(path), "/[a-z.]*"' "$FR_SRCDIR/src/http.c" |
		sed -E 's/.*"(.*)"/\1/' | sort -u)
	at_least 6 "paths in src/http.c" $paths
	man_text >"$T/plain"
	for p in $paths; do
		[[ $p == / ]] && p='GET /'
		grep -qF -- "$p" "$T/plain" || fail "framerouter.8 does not mention the HTTP endpoint $p"
	done
	note "framerouter.8 mentions the HTTP endpoints:" $paths
fi

# Signals: those src/main.c handles, in the SIGNALS section.
if [[ -f $FR_SRCDIR/src/main.c ]]; then
	sigs=$(grep -oE 'ev_signal_init\([^;]*(SIG[A-Z0-9]+)\)' "$FR_SRCDIR/src/main.c" |
		grep -oE 'SIG[A-Z0-9]+' | sort -u)
	[[ -n $sigs ]] || fail "found no ev_signal_init in src/main.c"
	section=$(man_text SIGNALS)
	for s in $sigs; do
		grep -qw -- "$s" <<<"$section" || fail "the SIGNALS section of framerouter.8 does not mention $s"
	done
	note "framerouter.8 SIGNALS covers:" $sigs
fi

finish
