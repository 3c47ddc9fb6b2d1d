#!/bin/bash
# SPDX-License-Identifier: MIT
# The status page with 12 live streams in headless Chromium, more than the browser's
# six connections per host could show as live MJPEG. Each stream is its own colour
# (an ffmpeg colour source with a white bar moving across it), pushed at 10 fps; the
# daemon wants a global subscribe token, which the page URL passes on.
#  - A screenshot in which every stream shows a picture and the plots are drawn,
#    checked by pixels: each card's image region is not uniform and its median
#    colour is its stream's colour (nearest of the 12), and each card's input-fps plot
#    has bars of the plot's colour.
#  - The first 4 streams in view play live (<img src="/stream/NAME">) and are the only
#    HTTP subscribers the daemon has; the other 8 show snapshots that are refreshed
#    (the picture changes).
#  - The viewport is made short and scrolled to the last row: the live streams move
#    there (the daemon's subscribers follow) and those out of view stop.
#  - One producer stops: with --stale-after 2 the page marks its card stale, and
#    /snapshot of it answers 503.
# Skips (77) only when chromium is missing.
. "$(dirname "$0")/lib.sh"
CHROMIUM=${FR_CHROMIUM:-chromium}
need "$CHROMIUM"
require ffmpeg
"$PY" -c 'import cv2, numpy' 2>/dev/null ||
	fail "$PY cannot import cv2 and numpy (Debian python3-opencv python3-numpy, installed by scripts/setup-debian.sh)"

N=12
TOKEN=page-secret
# Twelve hues 30 degrees apart, as RRGGBB.
colours=(d92626 d97f26 d9d926 7fd926 26d926 26d97f 26d9d9 267fd9 2626d9 7f26d9 d926d9 d9267f)
names=(default)
for ((i = 2; i <= N; i++)); do
	names+=("$(printf 'cam%02d' "$i")")
done

# Ten 320x240 frames per stream: its colour with a white bar at a new place in each.
for ((i = 0; i < N; i++)); do
	ffmpeg -nostdin -v error -y -f lavfi -i "color=c=0x${colours[i]}:s=320x240:r=10" \
		-f lavfi -i "color=c=white:s=24x240:r=10" -frames:v 10 \
		-filter_complex "[0][1]overlay=x='mod(n*32,320)':y=0" -q:v 3 -f mjpeg \
		"$T/${names[i]}.mjpeg" || fail "ffmpeg could not make the test pattern of ${names[i]}"
	(($(frame_count "$T/${names[i]}.mjpeg") == 10)) || fail "${names[i]}.mjpeg should hold 10 frames"
done

# Streams 2..12 each have a raw ingest port of their own; "default" has --ingest.
pick_ports $((N - 1))
stream_args=()
ingest=()
for ((i = 1; i < N; i++)); do
	ingest[i]=127.0.0.1:${PORTS[i - 1]}
	stream_args+=(--stream "${names[i]},ingest=${ingest[i]}")
done
fr_start_http page12 --subscribe-token "$TOKEN" --stale-after 2 "${stream_args[@]}"
ingest[0]=$INGEST
pushers=()
for ((i = 0; i < N; i++)); do
	bg_frames 300 push "${ingest[i]}" "$T/${names[i]}.mjpeg" --fps 10 --loop
	pushers[i]=$BG_PID
done
HTTP_AUTH=(-H "Authorization: Bearer $TOKEN")
wait_json "$FR_WAIT" "all(s['frames_in'] >= 3 for s in s.values()) and len(s) == $N"

cat >"$T/page12.py" <<'EOF'
# The browser side of page_streams.sh: Chromium over DevTools (devtools.py) and the
# pixel checks (cv2, numpy).
#   page12.py show PROFILE URL SHOT.png COLOURS...   every stream, plots, live/snapshots
#   page12.py scroll PROFILE URL                     live streams follow the viewport
#   page12.py stale PROFILE URL NAME                 a stopped stream is marked stale
import base64, json, os, sys, time, urllib.request

import cv2
import numpy as np

sys.path.insert(0, os.environ["FR_HERE"])
from devtools import DevTools, Failed, page_target, poll  # noqa: E402

LIVE = 4
FPS_PLOT = (0x66, 0xbb, 0x6a)	# the colour of the page's input-fps bars

# Per card: its name, the picture (rect, src, natural size, mode badge), the rects of
# its plots, the columns of the input-fps plot with bars drawn, and its classes.
CARDS_JS = r"""
JSON.stringify([...document.querySelectorAll('#streams .stream')].map(d => {
  const img = d.querySelector('img'), cvs = [...d.querySelectorAll('canvas')];
  const fps = cvs[0], g = fps.getContext('2d');
  const px = fps.width && fps.height ? g.getImageData(0, 0, fps.width, fps.height).data : [];
  let cols = 0;
  for (let x = 0; x < fps.width; x++) {
    for (let y = Math.floor(fps.height / 2); y < fps.height; y++)
      if (px[(y * fps.width + x) * 4 + 3]) { cols++; break; }
  }
  return {name: d.querySelector('h2').firstChild.textContent, src: img.getAttribute('src') || '',
    w: img.naturalWidth, h: img.naturalHeight, rect: img.getBoundingClientRect().toJSON(),
    card: d.getBoundingClientRect().toJSON(), mode: d.querySelectorAll('.badge')[1].textContent,
    state: d.querySelectorAll('.badge')[0].textContent, stale: d.classList.contains('stale'),
    plots: cvs.map(c => c.getBoundingClientRect().toJSON()), fps_columns: cols};
}))
"""


def stats(url):
    with urllib.request.urlopen(url.split("?")[0].rstrip("/") + "/stats?" + url.split("?")[1],
                                timeout=10) as r:
        return json.load(r)["streams"]


def browser(profile, deadline):
    return DevTools(page_target(profile, deadline), deadline)


def cards(dt):
    return dt.evaluate(CARDS_JS)


def hex_bgr(h):
    return np.array([int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)], float)


def cmd_show(profile, url, shot_path, colours):
    deadline = time.monotonic() + 60
    dt = browser(profile, deadline)
    dt.call("Page.navigate", url=url)
    palette = [hex_bgr(c) for c in colours]

    def ready():
        cs = cards(dt)
        return cs if len(cs) == len(colours) and all(
            c["w"] == 320 and c["h"] == 240 and c["fps_columns"] >= 3 for c in cs) else None
    cs = poll(deadline, "%d cards with a 320x240 picture and input-fps bars" % len(colours),
              ready)
    names = [c["name"] for c in cs]
    live = [c["name"] for c in cs if c["src"].startswith("/stream/")]
    still = [c["name"] for c in cs if c["src"].startswith("blob:")]
    print("show: %d cards; live: %s; snapshots: %s" % (len(cs), " ".join(live), " ".join(still)))
    if live != names[:LIVE] or still != names[LIVE:]:
        raise Failed("expected the first %d streams live and the rest as snapshots" % LIVE)
    if any(c["mode"] != ("live" if i < LIVE else "snapshot") for i, c in enumerate(cs)):
        raise Failed("the badges say %s" % [c["mode"] for c in cs])
    # The token travels with every request the page makes, /stream included.
    if any("token=" not in c["src"] for c in cs[:LIVE]):
        raise Failed("a live <img> lacks the page's token: %s" % [c["src"] for c in cs[:LIVE]])

    # The screenshot: a picture of the right colour in every card, and drawn plots.
    png = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
    with open(shot_path, "wb") as fp:
        fp.write(png)
    shot = cv2.imread(shot_path, cv2.IMREAD_COLOR)
    for i, c in enumerate(cs):
        r = c["rect"]
        x, y, w, h = (int(round(r[k])) for k in ("x", "y", "width", "height"))
        region = shot[y:y + h, x:x + w].reshape(-1, 3).astype(float)
        if w < 300 or h < 220 or region.size == 0:
            raise Failed("%s: the picture is %dx%d at (%d,%d) in the screenshot" %
                         (c["name"], w, h, x, y))
        median = np.median(region, axis=0)
        nearest = int(np.argmin([np.abs(median - p).sum() for p in palette]))
        spread = float(region.std(axis=0).max())
        p = c["plots"][0]
        px, py, pw, ph = (int(round(p[k])) for k in ("x", "y", "width", "height"))
        plot = shot[py:py + ph, px:px + pw].reshape(-1, 3).astype(int)
        bars = int((np.abs(plot - np.array(FPS_PLOT[::-1])).sum(axis=1) < 40).sum())
        print("show: %-8s %-8s picture %dx%d at (%d,%d): median BGR %s (stream colour %s, "
              "nearest %s), spread %.0f; fps plot %d bar pixels" %
              (c["name"], c["mode"], w, h, x, y, median.astype(int).tolist(), colours[i],
               colours[nearest], spread, bars))
        if nearest != i:
            raise Failed("%s shows the colour of stream #%d, not its own" % (c["name"], nearest))
        if spread < 20:
            raise Failed("%s's picture is uniform (spread %.1f): no test pattern" %
                         (c["name"], spread))
        if bars < 10:
            raise Failed("%s's input-fps plot has %d bar pixels in the screenshot" %
                         (c["name"], bars))

    # The daemon serves the live ones, and only those, as subscribers.
    st = stats(url)
    clients = {n: st[n]["clients"] for n in names}
    print("show: the daemon's subscribers per stream: %s" % clients)
    if clients != {n: (1 if n in live else 0) for n in names}:
        raise Failed("expected one subscriber on each live stream and none on the others")

    # Snapshots are refreshed: a snapshot card's picture changes.
    first = cs[LIVE]
    sx, sy = int(first["rect"]["x"]), int(first["rect"]["y"])

    def grab():
        png = base64.b64decode(dt.call("Page.captureScreenshot", format="png",
                               clip={"x": sx, "y": sy, "width": 320, "height": 240,
                                     "scale": 1})["data"])
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)
    before = grab()
    changed = poll(deadline, "the snapshot of %s to be refreshed" % first["name"],
                   lambda: float(np.abs(grab() - before).mean()) > 1 or None)
    print("show: the snapshot of %s was refreshed (%s)" % (first["name"], changed))


def cmd_scroll(profile, url):
    deadline = time.monotonic() + 60
    dt = browser(profile, deadline)
    dt.call("Emulation.setDeviceMetricsOverride", width=1700, height=600, deviceScaleFactor=1,
            mobile=False)
    dt.evaluate("window.scrollTo(0, document.body.scrollHeight), JSON.stringify(scrollY)")
    names = [c["name"] for c in cards(dt)]

    def moved():
        cs = cards(dt)
        inview = [c["name"] for c in cs if c["card"]["bottom"] > 0 and c["card"]["top"] < 600]
        live = [c["name"] for c in cs if c["mode"] == "live"]
        st = stats(url)
        subs = [n for n in names if st[n]["clients"] > 0]
        ok = inview and names[0] not in inview and live == inview[:LIVE] and subs == live
        return (inview, live, subs) if ok else None
    inview, live, subs = poll(deadline, "the live streams to follow the viewport", moved)
    print("scroll: in view %s; live %s; the daemon's subscribers %s" % (inview, live, subs))
    dt.call("Emulation.clearDeviceMetricsOverride")


def cmd_stale(profile, url, name):
    deadline = time.monotonic() + 30
    dt = browser(profile, deadline)

    def marked():
        c = [c for c in cards(dt) if c["name"] == name][0]
        return c if c["stale"] and c["state"] == "stale" else None
    c = poll(deadline, "the card of %s to be marked stale" % name, marked)
    others = [x["name"] for x in cards(dt) if x["stale"]]
    print("stale: %s is marked stale (%s); stale cards: %s" % (name, c["state"], others))
    if others != [name]:
        raise Failed("only %s should be stale, these are: %s" % (name, others))


def main():
    try:
        cmd = sys.argv[1]
        if cmd == "show":
            cmd_show(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
        elif cmd == "scroll":
            cmd_scroll(sys.argv[2], sys.argv[3])
        elif cmd == "stale":
            cmd_stale(sys.argv[2], sys.argv[3], sys.argv[4])
        else:
            raise SystemExit("usage: page12.py show|scroll|stale ...")
    except Failed as e:
        print("page12: FAIL: %s" % e, flush=True)
        return 1
    return 0


sys.exit(main())
EOF

export FR_HERE
FR_HERE=$(dirname "$FRAMES_PY")
url="http://$HTTP/?token=$TOKEN"
profile=$T/profile
mkdir -p "$profile"
bg timeout -k 5 240 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
	--no-first-run --disable-background-networking --disable-component-update --disable-sync \
	--disable-default-apps --mute-audio --force-device-scale-factor=1 --window-size=1700,1900 \
	--user-data-dir="$profile" --remote-debugging-port=0 about:blank 2>"$T/chromium.log"
chromium_pid=$BG_PID

# page12 CMD ARG...: runs page12.py, failing the test with the browser's messages.
page12() {
	timeout -k 5 90 "$PY" "$T/page12.py" "$1" "$profile" "$url" "${@:2}" >"$T/$1.out" 2>&1
	local rc=$?
	cat "$T/$1.out"
	if ((rc != 0)); then
		grep -v dbus "$T/chromium.log" | tail -n 15 | cut -c1-300 >&2
		fail "the page with $N streams: $1 checks failed"
	fi
}
page12 show "$T/page12.png" "${colours[@]}"
page12 scroll

# A producer stops: its stream goes stale, on the page and for /snapshot.
kill -TERM "${pushers[N - 1]}"
wait_exit "$FR_WAIT" "${pushers[N - 1]}"
page12 stale "${names[N - 1]}"
expect_http 503 "$T/stale.txt" "${HTTP_AUTH[@]}" "$URL/snapshot/${names[N - 1]}"
grep -q "stream '${names[N - 1]}' is stale" "$T/stale.txt" || fail "503 without saying why: $(cat "$T/stale.txt")"
expect_http 200 "$T/fresh.jpg" "${HTTP_AUTH[@]}" "$URL/snapshot/${names[0]}"

kill -TERM "$chromium_pid"
wait_exit 30 "$chromium_pid"
wait_json "$FR_WAIT" "sum(x['clients'] for x in s.values()) == 0"
# The token rode in every URL the page asked for; none reached the log.
grep -q -- "$TOKEN" "$FR_LOG" && fail "the token appears in the daemon's log"
fr_stop
finish
