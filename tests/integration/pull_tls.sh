#!/bin/bash
# SPDX-License-Identifier: MIT
# contrib/stunnel-pull.conf, run as written but for its ports and certificate: a camera
# behind TLS (stunnel in server mode in front of a multipart server, with a self-signed
# certificate for localhost) is pulled through stunnel in client mode, which checks the
# certificate; the same with a CA that did not sign it gets nothing through.
. "$(dirname "$0")/lib.sh"
need stunnel openssl

UP_PY=$_fr_here/upstreams.py
clip=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$T/cam.key" -out "$T/cam.pem" \
	>"$T/openssl.out" 2>&1 || fail "openssl cannot make a certificate: $(cat "$T/openssl.out")"

pick_ports 6
CAM=${PORTS[3]} TLS=${PORTS[4]} LOCAL=${PORTS[5]}
bg "$PY" "$UP_PY" serve multipart "$CAM" --file "$clip" --fps 20

# The camera's TLS side.
cat >"$T/server.conf" <<EOF
foreground = yes
pid =
[camera]
accept = 127.0.0.1:$TLS
connect = 127.0.0.1:$CAM
cert = $T/cam.pem
key = $T/cam.key
EOF
bg stunnel "$T/server.conf" 2>"$T/stunnel-server.log"
# framerouter's side: the contrib file with this test's ports and CA.
client_conf() {	# CAFILE OUT
	sed -e "s|^accept = .*|accept = 127.0.0.1:$LOCAL|" \
		-e "s|^connect = .*|connect = localhost:$TLS|" \
		-e "s|^CAfile = .*|CAfile = $1|" \
		-e "s|^checkHost = .*|checkHost = localhost|" \
		-e "s|^sni = .*|sni = localhost|" "$FR_SRCDIR/contrib/stunnel-pull.conf" >"$2"
}
for key in accept connect CAfile checkHost sni; do
	(($(grep -c "^$key = " "$FR_SRCDIR/contrib/stunnel-pull.conf") == 1)) ||
		fail "contrib/stunnel-pull.conf no longer has the one '$key = ' line this test adapts"
done
client_conf "$T/cam.pem" "$T/client.conf"
bg stunnel "$T/client.conf" 2>"$T/stunnel-client.log"
client_pid=$BG_PID
for p in "$CAM" "$TLS" "$LOCAL"; do
	wait_until "$FR_WAIT" "port $p to listen" is_listening "$p"
done

fr_start_http tls --stream "front,from=http://127.0.0.1:$LOCAL/video.mjpg"
wait_json 15 "s['front']['frames_in'] >= 20"
expect_json "s['front']['upstream']['state']" streaming
expect_json "s['front']['garbage_bytes']" 0
expect_json "s['front']['latest_frame']['bytes'] > 0" true
note "pulled through stunnel: $(json_eval "s['front']['frames_in']") frames over TLS"

# A CA that did not sign the camera's certificate: stunnel refuses it, nothing comes.
kill -TERM "$client_pid"
wait_exit "$FR_WAIT" "$client_pid"
client_conf /etc/ssl/certs/ca-certificates.crt "$T/wrong.conf"
bg stunnel "$T/wrong.conf" 2>"$T/stunnel-wrong.log"
wait_until "$FR_WAIT" "port $LOCAL to listen" is_listening "$LOCAL"
stats_json
frames=$(json_eval "s['front']['frames_in']")
closed=$(json_eval "s['front']['upstream']['failures']['closed']")
wait_json 15 "s['front']['upstream']['failures']['closed'] >= $closed + 2"
expect_json "s['front']['frames_in']" "$frames"
note "with the wrong CA: $(json_eval "s['front']['upstream']['last_error']"), no frames"

alive_or_fail
fr_stop
finish
