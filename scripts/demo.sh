#!/usr/bin/env bash
# Builds framerouter and runs it with a live demo stream: ffmpeg's testsrc2 pattern,
# 1280x720 at 30 fps, pushed as MJPEG into the ingest port. Ctrl-C stops both.
#   scripts/demo.sh     (addresses: FR_INGEST, FR_LISTEN, FR_HTTP; default ports 12345/12346/8080)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ingest=${FR_INGEST:-127.0.0.1:12345}
listen=${FR_LISTEN:-127.0.0.1:12346}
http=${FR_HTTP:-127.0.0.1:8080}

"$top/scripts/setup-debian.sh"
if [[ ! -f $top/build/demo/Makefile ]]; then
	"$top/scripts/setup-debian.sh" "$top/build/demo"
fi
make -C "$top/build/demo" -j"$(nproc)" framerouter framerouter-grab >/dev/null
bin=$top/build/demo

pids=()
cleanup() {
	trap - EXIT INT TERM
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$bin/framerouter" --ingest "$ingest" --listen "$listen" --http "$http" &
pids+=($!)
# Wait until the ingest port listens (bounded), without connecting to it.
for _ in $(seq 50); do
	[[ -n $(ss -Hltn "sport = :${ingest##*:}") ]] && break
	sleep 0.1
done

(
	while :; do
		ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=1280x720:rate=30 \
			-c:v mjpeg -q:v 5 -f mjpeg "tcp://$ingest" || sleep 1
	done
) &
pids+=($!)

cat <<MSG

framerouter is running with a demo stream (ffmpeg testsrc2, 1280x720, 30 fps).
Watch it:
  a browser:   http://$http/          (every stream, live, with its counters)
  ffplay -f mjpeg tcp://$listen
  ffplay http://$http/stream/default
  curl -o frame.jpg http://$http/snapshot/default
  curl http://$http/stats            (JSON; Prometheus text at /metrics)
  $bin/framerouter-grab $listen -o frame.jpg
  /usr/bin/python3 $top/examples/videodecode.py $listen
Counters:  kill -USR1 ${pids[0]}   (written to this terminal)
Stop:      Ctrl-C

MSG
wait "${pids[0]}"
