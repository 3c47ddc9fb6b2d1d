# SPDX-License-Identifier: MIT
"""The scaled-frames part of docs/PERFORMANCE.md (issue 11, rows b and d and the
one-scale-per-frame target), from bench/run's scale_* rows: the loadgen JSON of each
run, the broker's /stats kept at its end (NAME-framerouter-rN.stats.json.txt) and
bench/scalecost.c's JSON (scale_cost.json.txt). Called by report.py."""
import json
import os


def _load(path):
    try:
        with open(path) as fp:
            return json.load(fp)
    except (OSError, ValueError):
        return None


def _stats(results, name):
    """The broker's /stats at the end of the (first) run of row name, or None."""
    return _load(os.path.join(results, f"{name}-framerouter-r1.stats.json.txt"))


def _f(x, nd=1):
    return "—" if x is None else f"{x:.{nd}f}"


def _slow_table(w, res, results):
    w("| slow subscriber reads | frames of | frames received / sent | skipped | frame age p50 / p99 / max (ms) "
      "| bytes per frame | the 10 that keep up: delivered / expected, skipped | broker CPU-s | frames scaled (CPU-s) |")
    w("|---|---|---|---|---|---|---|---|---|")
    for rate, rate_text in (("1m", "1 MB/s"), ("250k", "250 KB/s")):
        for size, size_text in (("full", "full size"), ("half", "?scale=1/2"), ("quarter", "?scale=1/4"),
                                ("auto", "?scale=auto")):
            name = f"scale_slow_{rate}_{size}"
            j = res.get(name, "framerouter")
            if j is None:
                continue
            s, lm = j["slow"], j["slow_latency_ms"]
            st = _stats(results, name)
            d = (st or {}).get("streams", {}).get("default", {})
            scaled = (f"{d['frames_scaled']} ({d['scale_cpu_s']:.2f})" if "frames_scaled" in d else "—")
            per = s["bytes"] // s["frames"] if s["frames"] else 0
            w(f"| {rate_text} | {size_text} | {s['frames']} / {j['frames_sent']} | {s['skipped']} "
              f"| {_f(lm['p50'])} / {_f(lm['p99'])} / {_f(lm['max'])} | {per} "
              f"| {j['frames_delivered']} / {j['frames_expected']}, {j['regular']['skipped']} "
              f"| {_f(j['broker_proc']['cpu_s'], 2)} | {scaled} |")


def _fanout_lines(w, res, results):
    one, many = res.get("scale_x1", "framerouter"), res.get("scale_x100", "framerouter")
    s1, s100 = _stats(results, "scale_x1"), _stats(results, "scale_x100")
    if not (one and many and s1 and s100):
        return
    d1, d100 = s1["streams"]["default"], s100["streams"]["default"]
    w("")
    w("| HTTP subscribers of ?scale=1/2 | frames sent | frames scaled | scaler CPU-s | scaler ms per frame "
      "| broker CPU-s | broker CPU-s less the scaler's | delivered / expected | latency p50 / p99 (ms) |")
    w("|---|---|---|---|---|---|---|---|---|")
    for n, j, d in ((1, one, d1), (100, many, d100)):
        per = d["scale_cpu_s"] * 1000 / d["frames_scaled"] if d["frames_scaled"] else None
        w(f"| {n} | {j['frames_sent']} | {d['frames_scaled']} | {d['scale_cpu_s']:.3f} | {_f(per, 2)} "
          f"| {j['broker_proc']['cpu_s']:.2f} | {j['broker_proc']['cpu_s'] - d['scale_cpu_s']:.2f} "
          f"| {j['frames_delivered']} / {j['frames_expected']} "
          f"| {_f(j['latency_ms']['p50'])} / {_f(j['latency_ms']['p99'])} |")
    if d1["scale_cpu_s"] > 0:
        w("")
        w(f"Scaling with 100 subscribers costs **{d100['scale_cpu_s'] / d1['scale_cpu_s']:.2f}×** "
          f"the scaler CPU of one ({d100['frames_scaled']} against {d1['frames_scaled']} frames scaled: "
          "one scale per frame, whatever the number of subscribers); the rest of the broker's CPU is "
          "the fan-out of their bytes.")


def _cost_table(w, path):
    c = _load(path)
    if not c:
        return
    w("")
    w(f"`bench/scalecost.c`: the daemon's scaler on the {c['frames']} frames of the 1080p input "
      f"({c['source_bytes_mean']} bytes each on average), {c['rounds']} rounds, one thread on core 0:")
    w("")
    w("| factor | output | bytes per frame | CPU ms per frame p50 / p90 / max | wall ms p50 / p90 / max |")
    w("|---|---|---|---|---|")
    for z in c["factors"]:
        cm, wm = z["cpu_ms"], z["wall_ms"]
        w(f"| {z['scale']} | {z['width']}x{z['height']} | {z['bytes_mean']} "
          f"| {cm['p50']:.2f} / {cm['p90']:.2f} / {cm['max']:.2f} "
          f"| {wm['p50']:.2f} / {wm['p90']:.2f} / {wm['max']:.2f} |")


def section(w, res, results, scale_cost_path):
    """Appends the section (nothing when no scale_* row or scale_cost ran)."""
    names = ("scale_slow_1m_full", "scale_x1", "scale_x100")
    if not any(res.get(n, "framerouter") for n in names) and not _load(scale_cost_path or ""):
        return
    w("")
    w("### Scaled frames (issue 11)")
    w("")
    w("One HTTP subscriber reading at a capped rate (`loadgen --slow-http-path`), beside 10 raw ones "
      "that keep up, at full size and with `?scale=1/2`, `?scale=1/4` and `?scale=auto` of the 30 fps "
      "1080p input. "
      "*Frame age*: the time a frame's last byte arrived minus the time the producer began sending its "
      "source frame (scaled frames keep the source's tag). *Frames scaled*: the broker's `frames_scaled` "
      "and `scale_cpu_s` at the end of the run.")
    w("")
    _slow_table(w, res, results)
    _fanout_lines(w, res, results)
    _cost_table(w, scale_cost_path)
