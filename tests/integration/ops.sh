#!/bin/bash
# SPDX-License-Identifier: MIT
# Operations:
#  1. --log-file FILE: log lines (stderr's format) are appended to FILE, the
#     "ready" line included, and nothing goes to stderr; SIGHUP reopens FILE (for
#     logrotate: mv FILE FILE.1, then new lines land in a new FILE); a FILE in a
#     missing directory exits 2 with one line before binding.
#  2. SIGHUP reloads --config FILE: changes are applied and logged ("reload:
#     max-clients 100 -> 2", "reload: log-level info -> debug") and take effect (a
#     third subscriber is refused); command-line options still win over the file;
#     a new ingest-token is logged as changed (never its text) and required at
#     once; a change that needs a restart (listen) is a warning and the old
#     listener keeps serving; a bad file is a warning naming FILE:LINE and the
#     daemon keeps serving with the previous values. Every reload ends with a
#     "reload: ... changed" line, which the test waits for instead of sleeping.
#  3. sd_notify (builds with libsystemd): READY=1 once the ports listen,
#     WATCHDOG=1 at WATCHDOG_USEC/2, RELOADING=1 then READY=1 on SIGHUP,
#     STOPPING=1 on SIGTERM (exit 0).
#  4. --user USER[:GROUP] (as root): the daemon serves with every uid and gid set
#     to the user's and no supplementary group left; an unknown user exits 2
#     before binding.
. "$(dirname "$0")/lib.sh"
need curl

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg src_frames=10
frame=$FR_FIXTURES_DIR/ffmpeg-frame.jpg
expect_frames "$src" "$src_frames"


# reload_ends: lines that end a reload ("reload: ... changed", "reload: nothing
# changed"); "reload: ingest-token changed" reports one setting, it ends nothing.
reload_ends() { grep -E 'reload:.*changed' "$FR_LOG" 2>/dev/null | grep -cvE 'reload: [a-z-]*token changed$'; }
last_reload_end() { grep -E 'reload:.*changed' "$FR_LOG" | grep -vE 'reload: [a-z-]*token changed$' | tail -n 1; }

# hup: SIGHUP to the daemon; waits for the line that ends the reload.
hup() {
	local before
	before=$(reload_ends)
	kill -HUP "$FR_PID" 2>/dev/null || fail "framerouter (pid $FR_PID) is not running"
	wait_until "$FR_WAIT" "the line that ends the reload after SIGHUP" _reload_ended "$before"
}
_reload_ended() {
	alive_or_fail "on SIGHUP"
	(($(reload_ends) > $1))
}

# log_has ERE: the daemon's log has a line matching ERE.
log_has() { grep -qE -- "$1" "$FR_LOG"; }

# ==== 1. --log-file ====
log=$T/framerouter.log
printf 'a line from before\n' >"$log"
printf 'max-clients 50\n' >"$T/logfile.conf"
FR_LOG_FILE=$log fr_start_default logfile --config "$T/logfile.conf"
[[ $(head -n 1 "$log") == "a line from before" ]] || fail "--log-file did not append to $log: $(head -n 2 "$log")"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z info: framerouter [^ ]+ ready$' "$log" ||
	fail "no 'YYYY-MM-DDTHH:MM:SS.mmmZ info: framerouter VERSION ready' line in $log: $(tail -n 3 "$log")"
[[ ! -s $T/logfile.stderr ]] || fail "--log-file: the daemon wrote to stderr: $(head -c 300 "$T/logfile.stderr")"
frames push "$INGEST" "$src" >/dev/null || fail "cannot push"
wait_stat "$FR_WAIT" frames_in -eq "$src_frames"
note "--log-file: appended to $log ($(wc -l <"$log") lines, the counter dump included), nothing on stderr"

# logrotate: mv, then SIGHUP.
mv "$log" "$log.1"
hup
[[ -f $log ]] || fail "SIGHUP did not reopen $log"
log_has 'reload:' || fail "the reload lines did not go to the new $log"
! grep -q 'reload:' "$log.1" || fail "reload lines went to the renamed $log.1: $(grep 'reload:' "$log.1")"
grep -q ' ready$' "$log.1" || fail "the renamed $log.1 lost the earlier lines"
! grep -q ' ready$' "$log" || fail "the new $log holds the earlier lines"
fr_stats
fr_stop
grep -q 'framerouter stopped' "$log" || fail "no 'stopped' line in the reopened $log"
[[ ! -s $T/logfile.stderr ]] || fail "--log-file: the daemon wrote to stderr: $(head -c 300 "$T/logfile.stderr")"
note "SIGHUP reopened $log: $(wc -l <"$log.1") lines in $log.1, $(wc -l <"$log") in the new $log"

# A log file in a directory that does not exist: exit 2 before binding.
pick_ports 2
start=$(date +%s%N)
timeout 5 "$FR_BIN" --log-file "$T/no-such-dir/framerouter.log" --ingest "127.0.0.1:${PORTS[0]}" \
	--listen "127.0.0.1:${PORTS[1]}" >"$T/out" 2>"$T/err"
rc=$?
((rc == 2)) || fail "--log-file in a missing directory: exit $rc, expected 2 (stderr: $(head -c 300 "$T/err"))"
(($(wc -l <"$T/err") == 1)) || fail "--log-file in a missing directory: expected one line on stderr, got: $(cat "$T/err")"
[[ $(cat "$T/err") == "framerouter: --log-file "*": No such file or directory" ]] ||
	fail "--log-file in a missing directory: $(cat "$T/err")"
[[ ! -s $T/out ]] || fail "--log-file in a missing directory: wrote to stdout"
for p in "${PORTS[@]}"; do
	! is_listening "$p" || fail "--log-file in a missing directory: port $p is listening"
done
note "exit 2 in $(elapsed_ms "$start") ms: $(cat "$T/err")"

# ==== 2. SIGHUP reloads --config ====
conf=$T/reload.conf
TOK_OLD=tok-OLD-5f3a9b TOK_NEW=tok-NEW-9c1e77
# write_conf: $conf from the C_* settings (replaced as a whole, as an editor does).
write_conf() {
	cat >"$conf.tmp" <<-EOF
		# framerouter options for ops.sh
		ingest $R_INGEST
		listen $C_LISTEN
		http $R_HTTP
		max-clients $C_MAXC
		log-level $C_LEVEL   # a comment after the value
		client-timeout $C_CTO

		ingest-token $C_TOKEN
	EOF
	mv -f "$conf.tmp" "$conf"
}
for try in 1 2 3 4 5; do
	pick_ports 4
	R_INGEST=127.0.0.1:${PORTS[0]} R_LISTEN=127.0.0.1:${PORTS[1]} R_HTTP=127.0.0.1:${PORTS[2]}
	R_OTHER=127.0.0.1:${PORTS[3]}
	C_LISTEN=$R_LISTEN C_MAXC=100 C_LEVEL=info C_CTO=3 C_TOKEN=$TOK_OLD
	write_conf
	fr_start reload --config "$conf" --client-timeout 7 && break
	grep -q 'in use' "$FR_LOG" || fail "framerouter --config $conf exited with status $FR_START_RC at startup"
	note "port race lost (try $try), picking new ports"
	((try < 5)) || fail "could not start framerouter on free ports"
done
INGEST=$R_INGEST LISTEN=$R_LISTEN URL=http://$R_HTTP
for p in "${PORTS[@]:0:3}"; do
	is_listening "$p" || fail "port $p from $conf is not listening"
done

# The same file again: nothing changed (client-timeout 3 in the file, 7 on the
# command line: still 7).
hup
[[ $(last_reload_end) == *"nothing changed"* ]] || fail "a reload of the same file: $(last_reload_end)"
note "the same file: $(last_reload_end | sed 's/.*info: //')"

# max-clients 100 -> 2, log-level info -> debug; client-timeout 3 -> 4 in the file
# is overridden by --client-timeout 7.
C_MAXC=2 C_LEVEL=debug C_CTO=4
write_conf
hup
log_has 'info: reload: max-clients 100 -> 2' || fail "no 'info: reload: max-clients 100 -> 2' line"
log_has 'info: reload: log-level info -> debug' || fail "no 'info: reload: log-level info -> debug' line"
! log_has 'reload: client-timeout' ||
	fail "the file's client-timeout overrode --client-timeout 7: $(grep 'reload: client-timeout' "$FR_LOG")"
[[ $(last_reload_end) != *"nothing changed"* ]] || fail "a reload with changes ended with: $(last_reload_end)"
note "$(grep -E 'reload: (max-clients|log-level)' "$FR_LOG" | sed 's/.*info: //' | paste -sd ';' -), $(last_reload_end | sed 's/.*info: //')"

# max-clients 2 is in force: a third raw subscriber is refused, two are served.
subscribe s1
s1_pid=$SUB_PID
subscribe s2
s2_pid=$SUB_PID
wait_stat "$FR_WAIT" clients -eq 2
expect_stat clients_refused 0
bg_frames 60 capture "$LISTEN" "$T/s3.mjpeg"
s3_pid=$BG_PID
wait_stat "$FR_WAIT" clients_refused -eq 1
expect_stat clients 2
wait_exit "$FR_WAIT" "$s3_pid"
frames push "$INGEST" "$src" >/dev/null || fail "cannot push"
wait_until "$FR_WAIT" "subscriber 1 to get 10 frames" has_frames "$T/s1.mjpeg" "$src_frames"
wait_until "$FR_WAIT" "subscriber 2 to get 10 frames" has_frames "$T/s2.mjpeg" "$src_frames"
check_capture "$T/s1.mjpeg" --source "$src" --expect all
check_capture "$T/s2.mjpeg" --source "$src" --expect all
[[ ! -s $T/s3.mjpeg ]] || fail "the refused third subscriber got bytes"
stats_json
expect_json 's["default"]["clients_refused"]' 1
kill -TERM "$s1_pid" "$s2_pid"
wait_exit "$FR_WAIT" "$s1_pid"
wait_exit "$FR_WAIT" "$s2_pid"
wait_stat "$FR_WAIT" clients -eq 0
note "after the reload: two subscribers got every frame, a third was refused (clients_refused=1)"

# ingest-token: the new one is required at once; its text is never logged.
frames slice "$src" "$T/three.mjpeg" --start 0 --count 3 || fail "frames.py slice"
expect_http 204 "$T/r" -H "Authorization: Bearer $TOK_OLD" -T "$T/three.mjpeg" "$URL/ingest/cam"
expect_http 401 "$T/r" -H "Authorization: Bearer $TOK_NEW" -T "$T/three.mjpeg" "$URL/ingest/cam"
C_TOKEN=$TOK_NEW
write_conf
hup
log_has 'reload: ingest-token changed' || fail "no 'reload: ingest-token changed' line"
expect_http 401 "$T/r" -H "Authorization: Bearer $TOK_OLD" -T "$T/three.mjpeg" "$URL/ingest/cam"
expect_http 204 "$T/r" -H "Authorization: Bearer $TOK_NEW" -T "$T/three.mjpeg" "$URL/ingest/cam"
wait_json "$FR_WAIT" '"cam" in s and s["cam"]["frames_in"] == 6 and not s["cam"]["producer_connected"]'
for tok in "$TOK_OLD" "$TOK_NEW"; do
	! grep -qF -- "$tok" "$FR_LOG" || fail "the token $tok is in the log: $(grep -F -- "$tok" "$FR_LOG" | head -n 1)"
done
note "ingest-token: the old one worked before the reload (204) and is refused after it (401), the new one the other way round; neither is in the log"

# A change that needs a restart: a warning, and the old listener keeps serving.
C_LISTEN=$R_OTHER
write_conf
hup
log_has 'warn: .*reload: --listen.*restart' || fail "no warning 'reload: --listen ... restart': $(grep 'reload:' "$FR_LOG" | tail -n 3)"
note "$(grep -E 'warn: .*reload: --listen' "$FR_LOG" | tail -n 1 | sed 's/.*warn: //')"
is_listening "${R_LISTEN##*:}" || fail "the old listen address $R_LISTEN stopped listening"
! is_listening "${R_OTHER##*:}" || fail "the new listen address $R_OTHER is listening without a restart"
timeout "$FR_WAIT" "$FR_GRAB" "$LISTEN" -o "$T/after-restart-warning.jpg" ||
	fail "no frame from $LISTEN after the reload"
check_capture "$T/after-restart-warning.jpg" --source "$src" --expect 9
# grab has closed; with no frame to send the daemon lets it go within 2 s.
wait_stat "$FR_WAIT" clients -eq 0

# A bad file: a warning naming FILE:LINE; the previous values stay (max-clients 2,
# log-level debug) and the daemon keeps serving.
C_LISTEN=$R_LISTEN C_MAXC=banana C_LEVEL=info
write_conf
bad_line=$(grep -n '^max-clients banana' "$conf" | cut -d: -f1)
failed0=$(grep -c 'reload failed' "$FR_LOG")
kill -HUP "$FR_PID" 2>/dev/null || fail "framerouter (pid $FR_PID) is not running"
_reload_failed() {
	alive_or_fail "on SIGHUP with a bad config file"
	(($(grep -c 'reload failed' "$FR_LOG") > failed0))
}
wait_until "$FR_WAIT" "a 'reload failed' line" _reload_failed
line=$(grep 'reload failed' "$FR_LOG" | tail -n 1)
[[ $line == *" warn: "* ]] || fail "'reload failed' is not a warning: $line"
[[ $line == *"$conf:$bad_line"* ]] || fail "'reload failed' does not name $conf:$bad_line: $line"
note "${line#* warn: }"
alive_or_fail "after a failed reload"
! log_has 'reload: log-level debug -> info' || fail "a failed reload applied log-level info"
! log_has 'reload: max-clients 2 ->' || fail "a failed reload changed max-clients"
expect_http 200 "$T/r" "$URL/stats"
subscribe b1
b1_pid=$SUB_PID
subscribe b2
b2_pid=$SUB_PID
wait_stat "$FR_WAIT" clients -eq 2
wait_until "$FR_WAIT" "subscriber 1 to get the latest frame" has_frames "$T/b1.mjpeg" 1
wait_until "$FR_WAIT" "subscriber 2 to get the latest frame" has_frames "$T/b2.mjpeg" 1
bg_frames 60 capture "$LISTEN" "$T/b3.mjpeg"
wait_stat "$FR_WAIT" clients_refused -eq 2
expect_stat clients 2
kill -TERM "$b1_pid" "$b2_pid"
wait_exit "$FR_WAIT" "$b1_pid"
wait_exit "$FR_WAIT" "$b2_pid"
note "after the failed reload: still serving, max-clients still 2 (a third subscriber refused)"
fr_stop

# ==== 3. sd_notify ====
if ! "$FR_BIN" --version 2>/dev/null | grep -q systemd; then
	note "framerouter --version does not mention systemd (built without libsystemd): sd_notify not checked"
else
	# notify.py SOCKET OUT SECONDS: receives datagrams on SOCKET for SECONDS,
	# appending "MONOTONIC_TIME PAYLOAD" lines (newlines in PAYLOAD as spaces) to OUT.
	cat >"$T/notify.py" <<-'EOF'
		import socket, sys, time
		path, out, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3])
		s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		s.bind(path)
		end = time.monotonic() + lifetime
		with open(out, "a") as f:
		    while True:
		        left = end - time.monotonic()
		        if left <= 0:
		            break
		        s.settimeout(left)
		        try:
		            data = s.recv(65536)
		        except socket.timeout:
		            break
		        f.write("%.3f %s\n" % (time.monotonic(),
		                               data.decode("utf-8", "replace").replace("\n", " ")))
		        f.flush()
	EOF
	nsock=$T/notify.sock nlog=$T/notify.txt
	: >"$nlog"
	bg "$PY" "$T/notify.py" "$nsock" "$nlog" 120
	wait_until "$FR_WAIT" "the notify socket" test -S "$nsock"
	# notified WORD [FROM_LINE]: a datagram holding WORD arrived (after line FROM_LINE).
	notified() { tail -n +$((${2:-0} + 1)) "$nlog" | grep -q -- "$1"; }
	notified_alive() {
		alive_or_fail "while waiting for $1"
		notified "$@"
	}
	pick_ports 2
	INGEST_PORT=${PORTS[0]} LISTEN_PORT=${PORTS[1]}
	INGEST=127.0.0.1:$INGEST_PORT LISTEN=127.0.0.1:$LISTEN_PORT
	FR_LOG=$T/notify.log
	: >"$FR_LOG"
	_fr_daemons+=("$FR_LOG")
	bg env NOTIFY_SOCKET="$nsock" WATCHDOG_USEC=300000 "$FR_BIN" --ingest "$INGEST" --listen "$LISTEN" 2>>"$FR_LOG"
	FR_PID=$BG_PID
	start=$(date +%s%N)
	wait_until "$FR_WAIT" "READY=1" notified_alive READY=1
	is_listening "$INGEST_PORT" && is_listening "$LISTEN_PORT" ||
		fail "READY=1 came before the ports were listening"
	note "READY=1 $(elapsed_ms "$start") ms after the start, the ports listening"
	wait_until "$FR_WAIT" "the 'ready' log line" grep -q ' ready$' "$FR_LOG"
	start=$(date +%s%N)
	_watchdogs() { alive_or_fail "while waiting for WATCHDOG=1"; (($(grep -c 'WATCHDOG=1' "$nlog") >= 3)); }
	wait_until "$FR_WAIT" "3 datagrams WATCHDOG=1 (WATCHDOG_USEC=300000)" _watchdogs
	note "3 WATCHDOG=1 within $(elapsed_ms "$start") ms of READY=1 (WATCHDOG_USEC=300000)"
	push_grab default "$INGEST" "$LISTEN" "$frame"
	# SIGHUP: RELOADING=1, then READY=1.
	n0=$(wc -l <"$nlog")
	hup
	wait_until "$FR_WAIT" "RELOADING=1 after SIGHUP" notified_alive RELOADING=1 "$n0"
	n1=$(tail -n +$((n0 + 1)) "$nlog" | grep -n 'RELOADING=1' | head -n 1 | cut -d: -f1)
	wait_until "$FR_WAIT" "READY=1 after RELOADING=1" notified_alive READY=1 $((n0 + n1))
	note "SIGHUP: $(tail -n +$((n0 + 1)) "$nlog" | grep -E 'RELOADING=1|READY=1' | cut -d' ' -f2- | paste -sd '|' -)"
	# SIGTERM: STOPPING=1, exit 0.
	n0=$(wc -l <"$nlog")
	fr_stop
	wait_until "$FR_WAIT" "STOPPING=1 after SIGTERM" notified STOPPING=1 "$n0"
	note "sd_notify: READY=1, WATCHDOG=1, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM (exit 0)"
fi

# ==== 4. --user ====
# ids PID FIELD: the four ids of FIELD (Uid, Gid) in /proc/PID/status.
ids() { awk -v f="$2:" '$1 == f { print $2, $3, $4, $5 }' "/proc/$1/status"; }
if ((EUID != 0)); then
	note "not root: --user not checked"
else
	getent passwd nobody >/dev/null || fail "no user nobody"
	nobody_uid=$(id -u nobody) nobody_gid=$(id -g nobody)
	fr_start_default user --user nobody
	bg_frames 60 capture "$LISTEN" "$T/user.mjpeg"
	cap_pid=$BG_PID
	wait_stat "$FR_WAIT" clients -eq 1
	frames push "$INGEST" "$src" >/dev/null || fail "cannot push to the daemon running as nobody"
	wait_until "$FR_WAIT" "the subscriber to get 10 frames" has_frames "$T/user.mjpeg" "$src_frames"
	kill -TERM "$cap_pid"
	wait_exit "$FR_WAIT" "$cap_pid"
	check_capture "$T/user.mjpeg" --source "$src" --expect all
	[[ $(ids "$FR_PID" Uid) == "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ]] ||
		fail "--user nobody: Uid is $(ids "$FR_PID" Uid)"
	[[ $(ids "$FR_PID" Gid) == "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" ]] ||
		fail "--user nobody: Gid is $(ids "$FR_PID" Gid)"
	groups=$(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$FR_PID/status")
	for g in $groups; do
		[[ $g == "$nobody_gid" ]] || fail "--user nobody: supplementary group $g kept (Groups:$groups)"
	done
	log_has 'info: running as user nobody' || fail "no 'info: running as user nobody' line"
	note "--user nobody: serves; Uid $(ids "$FR_PID" Uid), Gid $(ids "$FR_PID" Gid), Groups:${groups:- none}"
	fr_stop

	if getent group nogroup >/dev/null; then
		nogroup_gid=$(getent group nogroup | cut -d: -f3)
		fr_start_default user-group --user nobody:nogroup
		[[ $(ids "$FR_PID" Uid) == "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ]] ||
			fail "--user nobody:nogroup: Uid is $(ids "$FR_PID" Uid)"
		[[ $(ids "$FR_PID" Gid) == "$nogroup_gid $nogroup_gid $nogroup_gid $nogroup_gid" ]] ||
			fail "--user nobody:nogroup: Gid is $(ids "$FR_PID" Gid)"
		push_grab default "$INGEST" "$LISTEN" "$frame"
		note "--user nobody:nogroup: Uid $(ids "$FR_PID" Uid), Gid $(ids "$FR_PID" Gid)"
		fr_stop
	fi

	pick_ports 2
	timeout 5 "$FR_BIN" --user no-such-user-xyz --ingest "127.0.0.1:${PORTS[0]}" \
		--listen "127.0.0.1:${PORTS[1]}" >"$T/out" 2>"$T/err"
	rc=$?
	((rc == 2)) || fail "--user no-such-user-xyz: exit $rc, expected 2 (stderr: $(head -c 300 "$T/err"))"
	(($(wc -l <"$T/err") == 1)) || fail "--user no-such-user-xyz: expected one line on stderr, got: $(cat "$T/err")"
	grep -q -- '--user' "$T/err" && grep -q 'no such user' "$T/err" ||
		fail "--user no-such-user-xyz: the message does not say '--user' and 'no such user': $(cat "$T/err")"
	for p in "${PORTS[@]}"; do
		! is_listening "$p" || fail "--user no-such-user-xyz: port $p is listening"
	done
	note "exit 2: --user no-such-user-xyz -> $(cat "$T/err")"
	note "(not root: --user refusing to run is not checked, the test runs as root)"
fi
finish
