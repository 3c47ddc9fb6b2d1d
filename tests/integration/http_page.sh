#!/bin/bash
# SPDX-License-Identifier: MIT
# The status page in a real browser: headless Chromium loads GET / while a live
# stream is pushed into the daemon, and shows a decoded frame of /stream/default.
#  - Over the DevTools protocol (a minimal websocket client, Python stdlib): the
#    page creates <img src="/stream/default?advance_headers=1"> from /stats; the image gets a natural
#    width and height (320x240); its pixels, drawn to a canvas, are a source frame
#    as libjpeg-turbo decodes it, and they change as new parts arrive; the page's
#    counters (from /stats, refreshed every second) show frames in > 0 and change;
#    a screenshot shows a source frame at the <img>'s place; the daemon lists the
#    browser as an HTTP subscriber that was sent frames, and notices it leave.
#  - As users run it: `chromium --headless --screenshot` shows a source frame
#    (not a blank page), and `--dump-dom` has the <img> and counters with frames
#    in > 0.
#  - Then the producer stops, and the page is loaded again: the <img> must show
#    the stream's latest frame (what /snapshot/default returns) at once, as the
#    design promises every new subscriber. Chrome shows a multipart part only once
#    the next part's header block has arrived (Blink's MultipartImageResourceParser;
#    uStreamer's advance_headers works around it, citing crbug.com/527446), so
#    this holds only if the daemon sends those headers right after each frame,
#    not just the boundary line.
# Skips (77) only when chromium is missing; python3-opencv and python3-numpy are
# build requirements (scripts/setup-debian.sh) and are used to compare pixels.
. "$(dirname "$0")/lib.sh"
CHROMIUM=${FR_CHROMIUM:-chromium}
need "$CHROMIUM"
"$PY" -c 'import cv2, numpy' 2>/dev/null ||
	fail "$PY cannot import cv2 and numpy (Debian python3-opencv python3-numpy, installed by scripts/setup-debian.sh)"

# Ten 320x240 testsrc2 frames, pushed in a loop at 10 fps: a live, colourful stream.
src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
FPS=10

# chromium_fail WHAT LOG: fails with the browser's own messages.
chromium_fail() {
	printf -- '--- last lines of %s ---\n' "$2" >&2
	grep -v 'dbus' "$2" | tail -n 15 | cut -c1-300 >&2
	fail "$1"
}

# Flags for a quiet, throwaway headless browser; root needs --no-sandbox.
# shellcheck disable=SC2054 # the comma is part of --window-size's value
chromium_args=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync
	--disable-default-apps --mute-audio --window-size=1000,800)

cat >"$T/page.py" <<'EOF'
# The browser side of http_page.sh: Chromium driven over DevTools (devtools.py) and
# pixel checks (cv2, numpy).
#   page.py devtools PROFILE_DIR URL SOURCE SHOT.png live|still
#                                                       drive a running chromium
#   page.py shot SHOT.png SOURCE                        a screenshot shows a frame
#   page.py dom DOM.html                                the dumped DOM is live
import base64, json, os, re, sys, time, urllib.parse, urllib.request

import cv2
import numpy as np

sys.path.insert(0, os.environ["FR_HERE"])
import frames  # noqa: E402
from devtools import DevTools, Failed, page_target, poll  # noqa: E402

# A decoded frame matches a source frame decoded by cv2 (libjpeg-turbo as well)
# when the mean absolute difference per channel is below this; different frames
# of the source differ by 4 or more.
MATCH = 2.0


class Defect(Failed):
    """A check that fails because of a known daemon bug (exit status 3)."""


# What the page shows: its images and the counters table (label -> value).
STATE_JS = r"""
JSON.stringify({
  imgs: [...document.images].map(i => ({src: i.getAttribute('src'), w: i.naturalWidth,
    h: i.naturalHeight, rect: i.getBoundingClientRect().toJSON()})),
  cells: Object.fromEntries([...document.querySelectorAll('#streams tr')].map(
    tr => [...tr.children].map(td => td.textContent))),
  meta: (document.getElementById('meta') || {}).textContent,
  dpr: window.devicePixelRatio})
"""

# The <img>'s current picture as RGBA, drawn to a canvas (same origin: not tainted).
PIXELS_JS = r"""
(() => {
  const img = document.querySelector('img[src^="/stream/default?"]');
  const c = document.createElement('canvas');
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000)
    s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  return JSON.stringify({w: c.width, h: c.height, rgba: btoa(s)});
})()
"""


def decode_sources(path):
    out = []
    for f in frames.source_frames([path]):
        bgr = cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise Failed("cv2 cannot decode a frame of %s" % path)
        out.append(bgr.astype(np.int16))
    return out


def match_exact(bgr, sources):
    """The source frame closest to bgr: (index, mean abs difference, next best)."""
    d = sorted((float(np.abs(bgr.astype(np.int16) - s).mean()), k)
               for k, s in enumerate(sources) if s.shape == bgr.shape)
    if not d:
        raise Failed("the image is %dx%d, no source frame is" % (bgr.shape[1], bgr.shape[0]))
    return d[0][1], d[0][0], (d[1][0] if len(d) > 1 else float("nan"))


def find_in_shot(shot, sources):
    """Where a source frame shows in a screenshot: (index, x, y, mean abs diff)."""
    best = None
    img = shot.astype(np.float32)
    for k, s in enumerate(sources):
        h, w = s.shape[:2]
        if img.shape[0] < h or img.shape[1] < w:
            continue
        r = cv2.matchTemplate(img, s.astype(np.float32), cv2.TM_SQDIFF)
        x, y = cv2.minMaxLoc(r)[2]
        diff = float(np.abs(img[y:y + h, x:x + w] - s).mean())
        if best is None or diff < best[3]:
            best = (k, x, y, diff)
    return best


def colours(bgr):
    return len(np.unique(bgr.reshape(-1, 3), axis=0))


def saturated(bgr):
    """Pixels with colour: the page itself is all greys, testsrc2 is not."""
    b = bgr.astype(np.int16)
    return int(((b.max(axis=2) - b.min(axis=2)) > 64).sum())


def ms(t0):
    return (time.monotonic() - t0) * 1000


def number(text):
    return int(text) if text is not None and re.fullmatch(r"\d+", text) else None


def canvas_frame(dt, sources):
    """The source frame the <img> shows now: (index, mean abs diff, next, colours)."""
    p = dt.evaluate(PIXELS_JS)
    rgba = np.frombuffer(base64.b64decode(p["rgba"]), np.uint8).reshape(p["h"], p["w"], 4)
    bgr = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)
    k, diff, second = match_exact(bgr, sources)
    if diff > MATCH:
        raise Failed("the <img> shows no source frame: closest is #%d, mean abs "
                     "difference %.2f (%d colours)" % (k, diff, colours(bgr)))
    return k, diff, second, colours(bgr)


def cmd_devtools(profile, url, source, shot_path, mode):
    deadline = time.monotonic() + 45
    sources = decode_sources(source)
    dt = DevTools(page_target(profile, deadline), deadline)
    if mode == "still":
        return devtools_still(dt, url, source, sources, deadline)
    t0 = time.monotonic()
    dt.call("Page.navigate", url=url)
    # The multipart <img> never finishes loading, so there is no load event to
    # wait for: poll what the page shows.

    def shown():
        st = dt.evaluate(STATE_JS)
        imgs = [i for i in st["imgs"] if i["src"].split("?")[0] == "/stream/default"]
        return st if imgs and imgs[0]["w"] > 0 and number(st["cells"].get("frames in")) else None
    st = poll(deadline, "<img src=\"/stream/default\"> with a natural width and the "
              "counters with frames in", shown)
    img = [i for i in st["imgs"] if i["src"].split("?")[0] == "/stream/default"][0]
    print("page: <img src=\"%s\"> naturalWidth=%d naturalHeight=%d %.0f ms after navigating; "
          "%d image(s) on the page" % (img["src"], img["w"], img["h"], ms(t0), len(st["imgs"])))
    print("page: header: %s; counters: %s" % (st["meta"], ", ".join(
        "%s=%s" % kv for kv in st["cells"].items())))
    if (img["w"], img["h"]) != (sources[0].shape[1], sources[0].shape[0]):
        raise Failed("the image is %dx%d, the stream %dx%d" %
                     (img["w"], img["h"], sources[0].shape[1], sources[0].shape[0]))
    if number(st["cells"]["frames in"]) <= 0:
        raise Failed("the page shows frames in = %s" % st["cells"]["frames in"])

    # The picture is a decoded source frame, and it changes: the stream is live.
    seen = []

    def new_frame():
        k, diff, second, n = canvas_frame(dt, sources)
        if not seen or seen[-1][0] != k:
            seen.append((k, diff, second, n, ms(t0)))
        return len(seen) >= 3
    poll(deadline, "the <img> to show 3 different source frames", new_frame)
    for k, diff, second, n, at in seen:
        print("page: at %.0f ms the <img> shows source frame #%d: mean abs difference %.2f "
              "(next best %.2f), %d colours" % (at, k, diff, second, n))

    # The counters are refreshed from /stats.
    first = number(st["cells"]["frames in"])

    def refreshed():
        s = dt.evaluate(STATE_JS)
        return s if number(s["cells"].get("frames in")) != first and \
            number(s["cells"].get("clients")) else None
    st2 = poll(deadline, "the page's counters to be refreshed", refreshed)
    print("page: counters refreshed by %.0f ms: frames in %d -> %s, clients %s" %
          (ms(t0), first, st2["cells"]["frames in"], st2["cells"]["clients"]))
    if number(st2["cells"]["clients"]) < 1:
        raise Failed("the page shows clients = %s with its own <img> subscribed" %
                     st2["cells"]["clients"])

    # A screenshot: the source frame shows where the <img> is.
    png = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
    with open(shot_path, "wb") as fp:
        fp.write(png)
    check_shot(shot_path, sources, st2["imgs"][0]["rect"], st2["dpr"])


def devtools_still(dt, url, source, sources, deadline):
    """The producer has stopped: the stream's latest frame is all there is. Chrome
    shows a multipart part only once the boundary after it has arrived, so the
    page shows that frame only if the daemon sends the boundary right after it."""
    with urllib.request.urlopen(urllib.parse.urljoin(url, "/snapshot/default"), timeout=10) as r:
        snap = r.read()
    latest = [k for k, f in enumerate(frames.source_frames([source])) if f == snap]
    if not latest:
        raise Failed("/snapshot/default (%d bytes) is not a source frame" % len(snap))
    print("still: the stream's latest frame (/snapshot/default) is source frame #%d" % latest[0])
    t0 = time.monotonic()
    dt.call("Page.navigate", url=url)

    def shown():
        st = dt.evaluate(STATE_JS)
        imgs = [i for i in st["imgs"] if i["src"].split("?")[0] == "/stream/default"]
        return st if imgs and imgs[0]["w"] > 0 else None
    try:
        st = poll(min(deadline, time.monotonic() + 10), "the <img> to show the latest frame",
                  shown)
    except Failed:
        raise Defect("with the producer stopped, the reloaded page's <img src=\"/stream/default"
                     "\"> still has naturalWidth 0 after 10 s, although the daemon sent it the "
                     "latest frame as a whole part and the boundary line after it: Blink "
                     "(MultipartImageResourceParser) shows a part only once the NEXT part's "
                     "header block has arrived, so the latest frame shows only when the next "
                     "frame comes (and every frame one frame late)")
    k, diff, second, n = canvas_frame(dt, sources)
    print("still: <img> naturalWidth=%d %.0f ms after reloading, shows source frame #%d: mean "
          "abs difference %.2f (next best %.2f), %d colours; counters: frames in=%s, producer=%s"
          % ([i for i in st["imgs"] if i["src"].split("?")[0] == "/stream/default"][0]["w"], ms(t0), k, diff,
             second, n, st["cells"].get("frames in"), st["cells"].get("producer")))
    if k != latest[0]:
        raise Failed("the <img> shows source frame #%d, the stream's latest is #%d" %
                     (k, latest[0]))


def check_shot(path, sources, rect=None, dpr=1):
    shot = cv2.imread(path, cv2.IMREAD_COLOR)
    if shot is None:
        raise Failed("cannot read the screenshot %s" % path)
    k, x, y, diff = find_in_shot(shot, sources)
    h, w = sources[k].shape[:2]
    region = shot[y:y + h, x:x + w]
    print("screenshot %s: %dx%d, %d colours, %d colourful pixels; source frame #%d at "
          "(%d,%d), mean abs difference %.2f" % (os.path.basename(path), shot.shape[1],
                                                 shot.shape[0], colours(shot), saturated(shot),
                                                 k, x, y, diff))
    if diff > MATCH:
        raise Failed("the screenshot shows no source frame (closest: #%d at (%d,%d), mean abs "
                     "difference %.2f; %d colourful pixels)" % (k, x, y, diff, saturated(shot)))
    if saturated(region) < w * h // 2:
        raise Failed("the frame in the screenshot is mostly grey: %d colourful pixels of %d" %
                     (saturated(region), w * h))
    if rect is not None and dpr == 1 and (abs(rect["x"] - x) > 1 or abs(rect["y"] - y) > 1):
        raise Failed("the frame shows at (%d,%d), the <img> is at (%.1f,%.1f)" %
                     (x, y, rect["x"], rect["y"]))


def cmd_dom(path):
    with open(path, encoding="utf-8", errors="replace") as fp:
        dom = fp.read()
    imgs = re.findall(r"<img\b[^>]*>", dom)
    if not any(re.search(r'\bsrc="/stream/default[?"]', i) for i in imgs):
        raise Failed("the dumped DOM has no <img src=\"/stream/default\"> (images: %s; "
                     "%d bytes)" % (imgs, len(dom)))
    cells = dict(re.findall(r"<tr><td>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", dom))
    print("dom: %d bytes, images: %s; counters: %s" % (len(dom), " ".join(imgs), ", ".join(
        "%s=%s" % kv for kv in cells.items())))
    if not (number(cells.get("frames in")) or 0) > 0:
        raise Failed("the dumped DOM shows no frames in > 0: %s" % cells)


def main():
    try:
        if sys.argv[1] == "devtools":
            cmd_devtools(*sys.argv[2:7])
        elif sys.argv[1] == "shot":
            check_shot(sys.argv[2], decode_sources(sys.argv[3]))
        elif sys.argv[1] == "dom":
            cmd_dom(sys.argv[2])
        else:
            raise SystemExit("usage: page.py devtools|shot|dom ...")
    except Defect as e:
        print("page: FAIL (daemon bug): %s" % e, flush=True)
        return 3
    except Failed as e:
        print("page: FAIL: %s" % e, flush=True)
        return 1
    return 0


sys.exit(main())
EOF

fr_start_http page
bg_frames 120 push "$INGEST" "$src" --fps "$FPS" --loop
push_pid=$BG_PID
wait_stat "$FR_WAIT" frames_in -ge 1
url=http://$HTTP/
export FR_HERE
FR_HERE=$(dirname "$FRAMES_PY")

# ---- DevTools: the <img> has a natural width and shows live source frames ----
profile=$T/profile-devtools
mkdir -p "$profile"
start=$(date +%s%N)
bg timeout -k 5 120 "$CHROMIUM" "${chromium_args[@]}" --user-data-dir="$profile" \
	--remote-debugging-port=0 about:blank 2>"$T/chromium-devtools.log"
chromium_pid=$BG_PID
timeout -k 5 60 "$PY" "$T/page.py" devtools "$profile" "$url" "$src" "$T/devtools.png" live \
	>"$T/devtools.out" 2>&1
rc=$?
cat "$T/devtools.out"
((rc == 0)) || chromium_fail "Chromium did not show the live stream on the page (DevTools checks)" "$T/chromium-devtools.log"
note "DevTools checks done in $(elapsed_ms "$start") ms, browser start included"

# The daemon's view: the browser's <img> is an HTTP subscriber that was sent frames.
fr_stats
browser=$(grep ' http ' "$T/clients.txt")
[[ $(wc -l <<<"$browser") == 1 && -n $browser ]] ||
	fail "expected one HTTP subscriber (the browser), got: $(cat "$T/clients.txt")"
(($(stat_of frames_sent "$browser") > 0)) || fail "the browser was sent no frames: $browser"
note "browser subscriber: ${browser#*: stream }"

# ---- chromium --headless --screenshot, as users run it ----
start=$(date +%s%N)
timeout -k 5 60 "$CHROMIUM" "${chromium_args[@]}" --user-data-dir="$T/profile-shot" \
	--virtual-time-budget=5000 --screenshot="$T/screenshot.png" "$url" \
	>"$T/chromium-shot.log" 2>&1 ||
	chromium_fail "chromium --screenshot failed (status $?)" "$T/chromium-shot.log"
[[ -s $T/screenshot.png ]] || chromium_fail "chromium --screenshot wrote no file" "$T/chromium-shot.log"
note "chromium --screenshot took $(elapsed_ms "$start") ms"
timeout 60 "$PY" "$T/page.py" shot "$T/screenshot.png" "$src" ||
	fail "the --screenshot of the page shows no frame of the stream"

# ---- chromium --headless --dump-dom: the page's script ran and read /stats ----
start=$(date +%s%N)
timeout -k 5 60 "$CHROMIUM" "${chromium_args[@]}" --user-data-dir="$T/profile-dom" \
	--virtual-time-budget=5000 --run-all-compositor-stages-before-draw --dump-dom "$url" \
	>"$T/dom.html" 2>"$T/chromium-dom.log" ||
	chromium_fail "chromium --dump-dom failed (status $?)" "$T/chromium-dom.log"
note "chromium --dump-dom took $(elapsed_ms "$start") ms"
timeout 60 "$PY" "$T/page.py" dom "$T/dom.html" ||
	fail "the page's DOM does not show the stream and its counters"

# ---- the producer stops: a page loaded now shows the stream's latest frame ----
kill -TERM "$push_pid"
wait_exit "$FR_WAIT" "$push_pid"
wait_stat "$FR_WAIT" producer_connected -eq 0
timeout -k 5 60 "$PY" "$T/page.py" devtools "$profile" "$url" "$src" - still \
	>"$T/still.out" 2>&1
rc=$?
cat "$T/still.out"
if ((rc == 3)); then
	fr_stats
	defect "Chrome never shows the latest frame of a paused stream: the daemon sends each part followed by the boundary line only, but Chrome needs the next part's headers too (daemon's view of the browser: $(grep ' http ' "$T/clients.txt" | sed 's/.* http //'))"
elif ((rc != 0)); then
	chromium_fail "Chromium did not show the paused stream's latest frame" "$T/chromium-devtools.log"
fi

kill -TERM "$chromium_pid"
wait_exit 30 "$chromium_pid"
wait_stat "$FR_WAIT" clients -eq 0
note "the browser quit; the daemon closed its subscriber: $(grep -E 'subscriber [^ ]+: closed' "$FR_LOG" | tail -n 1 | sed 's/.*info: //')"
expect_stat dropped_invalid 0
expect_stat garbage_bytes 0
fr_stop
finish
