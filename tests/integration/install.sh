#!/bin/bash
# SPDX-License-Identifier: MIT
# make install into a DESTDIR, then use what was installed: both programs report
# the version, the installed example config (moved to free ports) starts the
# installed daemon, a fixture pushed raw and over HTTP comes back byte for byte
# through the installed framerouter-grab; the man pages, the example config and
# the systemd unit are where configure said, and the unit names the installed
# binary (and passes systemd-analyze verify when that is available); make
# uninstall removes it all again.
. "$(dirname "$0")/lib.sh"
need make cmp

DEST=$T/root
FIXTURE=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg

# A make of the build tree, untouched by the make check running this test (its
# MAKEFLAGS may carry TESTS=... and jobserver descriptors).
build_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$FR_BUILDDIR" "$@"; }

# The installation directories, fully expanded, as the build tree's Makefile has them.
build_make -s -f Makefile -f - fr-print-install-dirs >"$T/dirs" 2>"$T/dirs.err" <<-'EOF' ||
	.RECIPEPREFIX = >
	fr-print-install-dirs:
	> @echo 'version=$(PACKAGE_VERSION)'
	> @echo 'bindir=$(bindir)'
	> @echo 'sysconfdir=$(sysconfdir)'
	> @echo 'mandir=$(mandir)'
	> @echo 'man1dir=$(man1dir)'
	> @echo 'man8dir=$(man8dir)'
	> @echo 'frexampledir=$(frexampledir)'
	> @echo 'systemdsystemunitdir=$(systemdsystemunitdir)'
EOF
	fail "cannot read the installation directories from $FR_BUILDDIR/Makefile: $(cat "$T/dirs.err")"
declare -A dir
while IFS='=' read -r k v; do
	dir[$k]=$v
done <"$T/dirs"
for k in version bindir sysconfdir mandir man1dir man8dir frexampledir; do
	[[ ${dir[$k]:-} == /* || ($k == version && -n ${dir[$k]:-}) ]] ||
		fail "no usable $k in $FR_BUILDDIR/Makefile: '${dir[$k]:-}'"
done
note "bindir ${dir[bindir]}, man8dir ${dir[man8dir]}, unit dir ${dir[systemdsystemunitdir]:-none}"

# ---- make install ----
build_make install DESTDIR="$DEST" >"$T/install.log" 2>&1 ||
	fail "make install DESTDIR=$DEST failed: $(tail -n 30 "$T/install.log")"
note "make install DESTDIR=$DEST: $(find "$DEST" -type f | wc -l) files"

BIN=$DEST${dir[bindir]}/framerouter
GRAB=$DEST${dir[bindir]}/framerouter-grab
[[ -x $BIN && -x $GRAB ]] || fail "not installed as executables: $BIN, $GRAB ($(find "$DEST" -type f | head -n 20))"
for page in "${dir[man8dir]}/framerouter.8" "${dir[man1dir]}/framerouter-grab.1"; do
	[[ -f $DEST$page ]] || fail "man page not installed: $page"
	cmp -s "$DEST$page" "$FR_SRCDIR/man/$(basename "$page")" || fail "$page differs from man/$(basename "$page")"
done
EXAMPLE=$DEST${dir[frexampledir]}/framerouter.conf
[[ -f $EXAMPLE ]] || fail "example config not installed: ${dir[frexampledir]}/framerouter.conf"
cmp -s "$EXAMPLE" "$FR_SRCDIR/contrib/framerouter.conf" || fail "the installed example config differs from contrib/framerouter.conf"

# man finds the installed pages by name.
require man
for name in 8:framerouter 1:framerouter-grab; do
	found=$(MAN_DISABLE_SECCOMP=1 MANPATH=$DEST${dir[mandir]} man -w "${name%%:*}" "${name#*:}" 2>&1) ||
		fail "man -w ${name%%:*} ${name#*:} does not find the installed page: $found"
done
note "man finds framerouter(8) and framerouter-grab(1) under $DEST${dir[mandir]}"

# ---- the systemd unit ----
if [[ -n ${dir[systemdsystemunitdir]} ]]; then
	UNIT=$DEST${dir[systemdsystemunitdir]}/framerouter.service
	[[ -f $UNIT ]] || fail "unit not installed: ${dir[systemdsystemunitdir]}/framerouter.service"
	! grep -nE '@[a-z_]+@' "$UNIT" >"$T/err" || fail "unsubstituted placeholders in the unit: $(cat "$T/err")"
	exec_start="ExecStart=${dir[bindir]}/framerouter --config ${dir[sysconfdir]}/framerouter.conf"
	grep -qxF -- "$exec_start" "$UNIT" || fail "the unit has no line '$exec_start': $(grep ExecStart "$UNIT")"
	# Type=notify only for a daemon that notifies: systemd would wait for READY=1.
	type=exec watchdog='# WatchdogSec= needs a build with libsystemd'
	! "$BIN" --version | grep -q 'sd_notify' || type=notify watchdog=WatchdogSec=30s
	for line in Type=$type "$watchdog" DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes Restart=on-failure \
	    'ExecReload=/bin/kill -HUP $MAINPID'; do
		grep -qx -- "$line" "$UNIT" || fail "the unit has no $line"
	done
	require systemd-analyze
	# verify checks that ExecStart's program exists and that Documentation=
	# resolves: point both at the DESTDIR copy.
	mkdir -p "$T/unit"
	sed "s|^ExecStart=${dir[bindir]}/|ExecStart=$DEST${dir[bindir]}/|" "$UNIT" >"$T/unit/framerouter.service"
	MAN_DISABLE_SECCOMP=1 MANPATH=$DEST${dir[mandir]} systemd-analyze verify "$T/unit/framerouter.service" \
		>"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
	[[ ! -s $T/verify ]] || fail "systemd-analyze verify complains: $(cat "$T/verify")"
	note "systemd-analyze verify: the installed unit is clean"
else
	note "configured --without-systemdsystemunitdir: no unit to check"
	[[ -z $(find "$DEST" -name framerouter.service) ]] || fail "a unit was installed although configure was told not to"
fi

# ---- the installed programs ----
v=$(timeout 5 "$BIN" --version | head -n 1) || fail "installed framerouter --version failed"
[[ $v == "framerouter ${dir[version]}" ]] || fail "installed framerouter --version: '$v', expected 'framerouter ${dir[version]}'"
v=$(timeout 5 "$GRAB" --version) || fail "installed framerouter-grab --version failed"
[[ $v == "framerouter-grab ${dir[version]}" ]] || fail "installed framerouter-grab --version: '$v'"
note "installed programs report version ${dir[version]}"

# Every option name in the example, commented out or not, is an option of --help.
"$BIN" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u >"$T/help-opts"
for o in $(sed -nE 's/^#?([a-z][a-z0-9-]*)( .*)?$/\1/p' "$EXAMPLE" | sort -u); do
	grep -qx -- "--$o" "$T/help-opts" || fail "the example config sets '$o', which framerouter does not know"
done

# A session with the installed daemon, started from the installed example config
# with its addresses moved to free ports, plus one declared stream.
FR_BIN=$BIN	# what fr_start runs
for k in ingest listen http; do
	(($(grep -c "^$k " "$EXAMPLE") == 1)) || fail "the example config has no single active '$k' line to move"
done
for try in 1 2 3 4 5; do
	pick_ports 4
	INGEST=127.0.0.1:${PORTS[0]} LISTEN=127.0.0.1:${PORTS[1]} HTTP=127.0.0.1:${PORTS[2]}
	CAM_LISTEN=127.0.0.1:${PORTS[3]} URL=http://$HTTP
	sed -e "s|^ingest .*|ingest $INGEST|" -e "s|^listen .*|listen $LISTEN|" -e "s|^http .*|http $HTTP|" \
		"$EXAMPLE" >"$T/framerouter.conf"
	echo "stream cam1,listen=$CAM_LISTEN" >>"$T/framerouter.conf"
	fr_start installed --config "$T/framerouter.conf" && break
	grep -q 'in use' "$FR_LOG" || fail "installed framerouter exited with status $FR_START_RC at startup"
	note "port race lost (try $try), picking new ports"
	((try < 5)) || fail "could not start the installed framerouter on free ports"
done
for p in "${PORTS[@]}"; do
	is_listening "$p" || fail "the installed framerouter does not listen on port $p from its config"
done
note "installed framerouter runs from the installed example config (pid $FR_PID)"

frames slice "$FIXTURE" "$T/last.jpg" --start 9 --count 1 || fail "cannot cut the fixture's last frame"

# Raw: push the fixture, then the installed grab gets the latest frame at once.
frames push "$INGEST" "$FIXTURE" >/dev/null || fail "push to $INGEST failed"
wait_stat "$FR_WAIT" frames_in -eq 10
timeout "$FR_WAIT" "$GRAB" "$LISTEN" -o "$T/grab.jpg" || fail "installed framerouter-grab $LISTEN failed ($?)"
cmp -s "$T/grab.jpg" "$T/last.jpg" || fail "framerouter-grab got a frame that is not the fixture's last one"
timeout "$FR_WAIT" "$GRAB" "$LISTEN" -o - >"$T/stdout.jpg" || fail "installed framerouter-grab -o - failed"
cmp -s "$T/stdout.jpg" "$T/last.jpg" || fail "framerouter-grab -o - wrote something else than the last frame"
note "raw: pushed 10 frames, the installed framerouter-grab got the last one byte for byte"

# HTTP into the stream the config declared, read back raw and over HTTP.
require curl
expect_http 204 "$T/put" -T "$FIXTURE" -H 'Transfer-Encoding: chunked' "$URL/ingest/cam1"
timeout "$FR_WAIT" "$GRAB" "$CAM_LISTEN" -o "$T/cam1.jpg" || fail "installed framerouter-grab $CAM_LISTEN failed"
cmp -s "$T/cam1.jpg" "$T/last.jpg" || fail "stream cam1: framerouter-grab got a frame that is not the fixture's last one"
expect_http 200 "$T/snapshot.jpg" "$URL/snapshot/cam1"
cmp -s "$T/snapshot.jpg" "$T/last.jpg" || fail "/snapshot/cam1 is not the fixture's last frame"
expect_http 200 "$T/metrics" "$URL/metrics"
grep -qF "framerouter_build_info{version=\"${dir[version]}\"} 1" "$T/metrics" ||
	fail "/metrics does not report version ${dir[version]}"
note "http: PUT /ingest/cam1 204, the installed framerouter-grab and /snapshot/cam1 got the last frame"

fr_stats
expect_stat frames_in 10
fr_stop
note "the installed framerouter exits 0 on SIGTERM"

# ---- make uninstall takes every file away again ----
build_make uninstall DESTDIR="$DEST" >"$T/uninstall.log" 2>&1 ||
	fail "make uninstall DESTDIR=$DEST failed: $(tail -n 30 "$T/uninstall.log")"
left=$(find "$DEST" -type f -o -type l)
[[ -z $left ]] || fail "make uninstall left: $left"
note "make uninstall removed every installed file"
finish
