#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns bench/run's results (one loadgen JSON per scenario and broker, the
iperf3 JSON, the perf summary) into docs/PERFORMANCE.md. Called by bench/run."""
import argparse
import datetime
import json
import os
import platform
import subprocess

import report_scale

BROKERS = ["framerouter", "reference", "ncat"]
LABELS = {"ref_sendfile": "reference --sendfile (experiment)"}


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine():
    model = cores = ""
    for line in sh("lscpu").splitlines():
        k, _, v = line.partition(":")
        if k.strip() == "Model name":
            model = v.strip()
        elif k.strip() == "CPU(s)":
            cores = v.strip()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    virt = []
    hv = sh("sh", "-c", "lscpu | sed -n 's/^Hypervisor vendor: *//p'")
    if hv:
        virt.append(f"{hv} guest")
    ct = sh("systemd-detect-virt", "--container")
    if ct and ct != "none":
        virt.append(f"in a {ct} container")
    return model, cores, mem, platform.release(), " ".join(virt)


def f(x, nd=2):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def rx(r):
    return "—" if r is None else f"{r:.2f}×"


def mib(kb):
    return "—" if kb is None or kb < 0 else f"{kb / 1024:.1f} MiB"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


class Results:
    """One entry per (scenario, broker). A row run several times (BENCH_KEY_REPEAT)
    is represented by its run of median CPU-s per GB, carrying the medians of
    CPU-s per GB and of the latency percentiles, and their ranges."""

    def __init__(self, d):
        runs = {}
        for name in sorted(os.listdir(d)):
            if name.endswith(".json") and name != "iperf3.json":
                try:
                    with open(os.path.join(d, name)) as fp:
                        j = json.load(fp)
                except (OSError, ValueError):
                    continue
                runs.setdefault((j["name"], j["broker"]), []).append(j)
        self.r = {}
        self.all = runs
        for key, js in runs.items():
            js.sort(key=lambda j: j["cpu_s_per_gb"])
            rep = dict(js[(len(js) - 1) // 2])
            rep["_runs"] = len(js)
            rep["_other_max"] = max(j.get("other_cpu_s", -1.0) for j in js)
            if len(js) > 1:
                rep["cpu_s_per_gb"] = median([j["cpu_s_per_gb"] for j in js])
                rep["_cpu_range"] = (js[0]["cpu_s_per_gb"], js[-1]["cpu_s_per_gb"])
                lm = dict(rep["latency_ms"])
                for k in ("p50", "p99", "max"):
                    v = [j["latency_ms"][k] for j in js]
                    lm[k] = median(v)
                    rep["_" + k + "_range"] = (min(v), max(v))
                rep["latency_ms"] = lm
            self.r[key] = rep

    def get(self, name, broker):
        return self.r.get((name, broker))


def other(j):
    """CPU-s that other processes used during the run (max over repeated runs)."""
    v = j.get("_other_max", j.get("other_cpu_s"))
    if v is None or v == -1.0:	# not measured (no /proc/stat)
        return "—"
    return f"{max(v, 0):.2f}"	# jiffies vs nanoseconds: a few hundredths below 0 mean 0


def rng(j, key, nd):
    r = j.get(key)
    return f" ({r[0]:.{nd}f}–{r[1]:.{nd}f})" if r else ""


def cpu_gb(j):
    return j["cpu_s_per_gb"] if j and j["bytes_delivered"] > 0 else None


def lat(j, k):
    return j["latency_ms"][k] if j and j["latency_ms"]["n"] > 0 else None


def main_table(out, res, name, brokers):
    n = max((res.get(name, b) or {}).get("_runs", 1) for b in brokers)
    if n > 1:
        out.append(f"{n} runs per broker, interleaved; CPU-s per GB and latency are medians, "
                   "(min–max) in brackets; *other work CPU-s* is the largest of the runs; the other "
                   "figures are from the run of median CPU-s per GB.")
        out.append("")
    out.append("| broker | frames delivered / expected | per subscriber min / median | corrupt "
               "| latency p50 / p99 / max (ms) | broker CPU-s | CPU-s per GB | peak RSS "
               "| delivered Gbit/s | producer fps | load generator CPU-s | other work CPU-s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in brokers:
        j = res.get(name, b)
        if j is None:
            out.append(f"| {LABELS.get(b, b)} | no result (see bench/out/logs/{name}-{b}-r*) |||||||||")
            continue
        reg = j["regular"]
        pct = 100.0 * j["frames_delivered"] / j["frames_expected"] if j["frames_expected"] else 0
        dead = "" if j.get("broker_alive", True) else " **(broker died)**"
        out.append(
            f"| {LABELS.get(b, b)}{dead} | {j['frames_delivered']} / {j['frames_expected']} ({pct:.1f}%) "
            f"| {reg['per_sub_min']} / {reg['per_sub_median']} | {j['corrupt']} "
            f"| {f(lat(j, 'p50'))} / {f(lat(j, 'p99'))}{rng(j, '_p99_range', 1)} / {f(lat(j, 'max'))} "
            f"| {f(j['broker_proc']['cpu_s'], 3)} | {f(cpu_gb(j), 3)}{rng(j, '_cpu_range', 3)} "
            f"| {mib(j['broker_proc']['peak_rss_kb'])} | {f(j['gbit_s'], 2)} "
            f"| {f(j['fps_achieved'], 0)} "
            f"| {f(j['loadgen_cpu_s'], 2)} ({100 * j['loadgen_cpu_s'] / max(j['total_s'], 1e-9):.0f}%) "
            f"| {other(j)} |")


def ratio_lines(out, res, name):
    fr = res.get(name, "framerouter")
    if fr is None:
        return
    parts = []
    for other in ("reference", "ncat"):
        o = res.get(name, other)
        if o is None:
            continue
        parts.append(
            f"framerouter / {other}: CPU-s per GB **{rx(ratio(cpu_gb(fr), cpu_gb(o)))}**, "
            f"latency p50 **{rx(ratio(lat(fr, 'p50'), lat(o, 'p50')))}**, "
            f"p99 **{rx(ratio(lat(fr, 'p99'), lat(o, 'p99')))}**")
    sf, ref = res.get(name, "ref_sendfile"), res.get(name, "reference")
    if sf and ref:
        parts.append(f"reference --sendfile / reference: CPU-s per GB {rx(ratio(cpu_gb(sf), cpu_gb(ref)))}")
    if parts:
        out.append("")
        out.append("; ".join(parts) + ".")


def joiners_table(out, res, name, brokers):
    out.append("| broker | joiners with a frame | connect → first whole frame p50 / p99 / max (ms) "
               "| bytes skipped before the first frame | corrupt | regular subscribers delivered / expected "
               "| load generator CPU-s |")
    out.append("|---|---|---|---|---|---|---|")
    for b in brokers:
        j = res.get(name, b)
        if j is None:
            out.append(f"| {b} | no result ||||||")
            continue
        jn, jm = j["joiner"], j["join_ms"]
        out.append(
            f"| {b} | {jm['n']} of {j['joiners_started']} | {f(jm['p50'], 3)} / {f(jm['p99'], 3)} / "
            f"{f(jm['max'], 3)} | {jn['lead_bytes']} | {j['corrupt']} "
            f"| {j['frames_delivered']} / {j['frames_expected']} | {f(j['loadgen_cpu_s'], 2)} |")


def slow_table(out, res, name, brokers):
    out.append("| broker | subscribers that keep up: delivered / expected, skipped | slow (1 MB/s): frames, "
               "skipped, latency p50 (ms) | stuck: closed by the broker | latency p50 / p99 of the others (ms) "
               "| producer fps | RSS start → end (peak) | corrupt | load generator CPU-s |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for b in brokers:
        j = res.get(name, b)
        if j is None:
            out.append(f"| {b} | no result ||||||||")
            continue
        reg, slow, stuck, p = j["regular"], j["slow"], j["stuck"], j["broker_proc"]
        slow_cell = (f"{slow['frames']}, {slow['skipped']}, {f(j['slow_latency_ms']['p50'])}"
                     if slow["subs"] else "—")
        stuck_cell = f"{stuck['closed']} of {stuck['subs']}" if stuck["subs"] else "—"
        out.append(
            f"| {b} | {j['frames_delivered']} / {j['frames_expected']}, {reg['skipped']} | {slow_cell} "
            f"| {stuck_cell} | {f(lat(j, 'p50'))} / {f(lat(j, 'p99'))} | {f(j['fps_achieved'], 0)} "
            f"| {mib(p['rss_start_kb'])} → {mib(p['rss_end_kb'])} ({mib(p['peak_rss_kb'])}) "
            f"| {j['corrupt']} | {f(j['loadgen_cpu_s'], 2)} |")


def fresh_table(out, res, name, brokers):
    """The slow_* rows (issue 11): how old the frames a slow subscriber gets are, and
    what it costs the subscribers that keep up."""
    out.append("| broker | slow subscriber: frames received, skipped | its frame age p50 / p99 / max (ms) "
               "| the others: delivered / expected, skipped | their latency p50 / p99 (ms) | CPU-s per GB "
               "| producer fps | corrupt | other work CPU-s |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for b in brokers:
        j = res.get(name, b)
        if j is None:
            out.append(f"| {b} | no result (see bench/out/logs/{name}-{b}-r*) ||||||||")
            continue
        slow, reg, sl = j["slow"], j["regular"], j["slow_latency_ms"]
        age = (f"{f(sl['p50'], 0)} / {f(sl['p99'], 0)} / {f(sl['max'], 0)}" if sl["n"] else "—")
        out.append(
            f"| {b} | {slow['frames']}, {slow['skipped']} | {age} "
            f"| {j['frames_delivered']} / {j['frames_expected']}, {reg['skipped']} "
            f"| {f(lat(j, 'p50'))} / {f(lat(j, 'p99'))} | {f(cpu_gb(j), 3)} | {f(j['fps_achieved'], 0)} "
            f"| {j['corrupt']} | {other(j)} |")


def idle_table(out, res, name, brokers):
    out.append("| broker | subscribers | RSS before → after | RSS per subscriber | connect time (s) "
               "| closed by the broker |")
    out.append("|---|---|---|---|---|---|")
    for b in brokers:
        j = res.get(name, b)
        if j is None:
            out.append(f"| {b} | no result |||||")
            continue
        i = j["idle"]
        if not j.get("broker_alive", True):
            out.append(f"| {b} | {i['subs']} | **the broker died** (see bench/out/logs/{name}-{b}-r1.broker.log) "
                       f"| — | {f(i['connect_s'])} | — |")
            continue
        out.append(
            f"| {b} | {i['subs']} | {mib(i['rss_before_kb'])} → {mib(i['rss_after_kb'])} "
            f"| {i['rss_per_sub_bytes']:.0f} bytes | {f(i['connect_s'])} | {j['closed_by_broker']} |")


def verdict(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**not met**"


def targets(out, res, args):
    rows = []

    def le(a, b, k):
        return None if a is None or b is None else a <= k * b

    for name in ("fps30_x500", "max_x100"):
        fr, ref, nc = (res.get(name, b) for b in BROKERS)
        a, b = cpu_gb(fr), cpu_gb(ref)
        rows.append((f"CPU-s per delivered GB, {name} ≤ 1.3× reference",
                     f"{f(a, 3)} vs {f(b, 3)} = {rx(ratio(a, b))} (ncat {f(cpu_gb(nc), 3)}: "
                     f"{rx(ratio(a, cpu_gb(nc)))} of ncat)", verdict(le(a, b, 1.3))))
    for name in ("fps30_x100", "fps30_x500"):
        fr, ref = res.get(name, "framerouter"), res.get(name, "reference")
        for k in ("p50", "p99"):
            a, b = lat(fr, k), lat(ref, k)
            rows.append((f"latency {k}, {name} ≤ 1.3× reference",
                         f"{f(a, 3)} ms vs {f(b, 3)} ms = {rx(ratio(a, b))}", verdict(le(a, b, 1.3))))
    j = res.get("joiners", "framerouter")
    jm = j["join_ms"] if j and j["join_ms"]["n"] else None
    rows.append(("mid-stream joiner has a whole frame: p50 ≤ 1 ms",
                 f"{f(jm['p50'], 3)} ms" if jm else "—", verdict(jm["p50"] <= 1 if jm else None)))
    rows.append(("mid-stream joiner has a whole frame: p99 ≤ 5 ms",
                 f"{f(jm['p99'], 3)} ms" if jm else "—", verdict(jm["p99"] <= 5 if jm else None)))
    j = res.get("idle", "framerouter")
    per = j["idle"]["rss_per_sub_bytes"] if j else None
    rows.append(("RSS per idle subscriber < 4 KiB",
                 f"{per:.0f} bytes ({j['idle']['subs']} subscribers)" if j else "—",
                 verdict(per < 4096 if j else None)))
    for name, what in (("max_stuck", "producer outruns all readers, one subscriber stuck"),
                       ("slow", "one slow and one stuck subscriber")):
        j = res.get(name, "framerouter")
        if j:
            p = j["broker_proc"]
            grow = p["peak_rss_kb"] - p["rss_start_kb"]
            rows.append((f"RSS flat: {what} (peak − start ≤ 4 MiB, i.e. a few frames)",
                         f"{mib(p['rss_start_kb'])} → peak {mib(p['peak_rss_kb'])} (+{grow} KiB)",
                         verdict(grow <= 4096)))
        else:
            rows.append((f"RSS flat: {what}", "—", verdict(None)))
    keep = []
    for name in ("fps30_x10", "fps30_x100", "fps30_x500", "fps30_x1000", "http_x100", "slow",
                 "slow_1m", "slow_250k", "slow_4m"):
        j = res.get(name, "framerouter")
        if j:
            keep.append((name, j["frames_delivered"], j["frames_expected"], j["regular"]["skipped"],
                         j["corrupt"]))
    if keep:
        ok = all(d == e and s == 0 for _, d, e, s, _ in keep)
        rows.append(("zero dropped frames for subscribers that keep up (30 fps runs)",
                     "; ".join(f"{n}: {d}/{e}" + (f", {s} skipped" if s else "") for n, d, e, s, _ in keep),
                     verdict(ok)))
    j = res.get("slow", "framerouter")
    if j:
        rows.append(("drops only for the slow ones", f"slow subscriber skipped {j['slow']['skipped']}, "
                     f"the 8 others {j['regular']['skipped']}",
                     verdict(j["regular"]["skipped"] == 0 and j["slow"]["skipped"] > 0)))
    fr, ref = res.get("maxp_x100", "framerouter"), res.get("maxp_x100", "reference")
    a, b = cpu_gb(fr), cpu_gb(ref)
    per = (f"; frames per subscriber (median) {fr['regular']['per_sub_median']} vs "
           f"{ref['regular']['per_sub_median']}, producer fps {f(fr['fps_achieved'], 0)} vs "
           f"{f(ref['fps_achieved'], 0)}") if fr and ref else ""
    rows.append(("CPU-s per delivered GB, max rate x 100 with the producer in its own process "
                 "≤ 1.2× reference (issue 11)", f"{f(a, 3)} vs {f(b, 3)} = {rx(ratio(a, b))}{per}",
                 verdict(le(a, b, 1.2))))
    for name, what, p50, p99 in (("slow_1m", "1 MB/s", 250, 400), ("slow_250k", "250 KB/s", 800, None)):
        j = res.get(name, "framerouter")
        sl = j["slow_latency_ms"] if j and j["slow_latency_ms"]["n"] else None
        lim = f"p50 ≤ {p50} ms" + (f", p99 ≤ {p99} ms" if p99 else "")
        ok = None if sl is None else sl["p50"] <= p50 and (p99 is None or sl["p99"] <= p99)
        rows.append((f"a slow subscriber at {what} (32 KiB receive buffer) gets frames no older than: "
                     f"{lim} (issue 11)",
                     f"p50 {f(sl['p50'], 0)} ms, p99 {f(sl['p99'], 0)} ms, {j['slow']['frames']} frames"
                     if sl else "—", verdict(ok)))
    h, r = res.get("http_x100", "framerouter"), res.get("fps30_x100", "framerouter")
    a, b = cpu_gb(h), cpu_gb(r)
    rows.append(("HTTP subscribers cost ≤ 1.1× raw per delivered GB (30 fps x 100)",
                 f"{f(a, 3)} vs {f(b, 3)} = {rx(ratio(a, b))}", verdict(le(a, b, 1.1))))
    out.append("| target | measured | |")
    out.append("|---|---|---|")
    for t, m, v in rows:
        out.append(f"| {t} | {m} | {v} |")


def main():
    ap = argparse.ArgumentParser()
    for a in ("results", "doc", "command", "seconds", "quick", "load-start", "load-run", "load-waited",
              "max-load", "load-settled", "input-frames", "frame-bytes", "elapsed", "perf", "iperf", "scale-cost",
              "framerouter",
              "verify", "date", "commit"):
        ap.add_argument("--" + a, default="")
    args = ap.parse_args()
    res = Results(args.results)
    matrix = []
    with open(os.path.join(args.results, "matrix.txt")) as fp:
        for line in fp:
            if line.strip():
                name, brokers, largs, title = line.rstrip("\n").split("|")
                matrix.append((name, brokers.split(), largs, title))
    model, cores, mem, kernel, virt = machine()
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = args.commit or sh("git", "-C", top, "describe", "--always", "--dirty")
    date = args.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    secs = args.seconds
    out = []
    w = out.append
    w("# framerouter performance")
    w("")
    w("Written by `bench/run` (issue 5); do not edit by hand: rerun it. The analysis at the end is")
    w("kept in `bench/notes.md` and copied in. Absolute numbers vary between machines; compare the")
    w("ratios, which come from one run on one machine.")
    w("")
    w("## The run")
    w("")
    w(f"- Command: `BENCH_SECONDS={secs} {args.command}`" + (" (quick mode: reduced matrix)" if args.quick == "1" else ""))
    w(f"- Date: {date}; framerouter {commit}; run took {args.elapsed} s")
    w(f"- Machine: {model}, {cores} cores, {mem} RAM, Linux {kernel}" + (f", {virt}" if virt else ""))
    waited = int(args.load_waited or 0)
    load_note = (f"{args.load_start} at start" +
                 (f", {args.load_run} after waiting {waited} s for it to fall below {args.max_load}" if waited else "") +
                 (f"; **the machine never settled below {args.max_load} (other work was running): "
                  f"runs were cut to {secs} s and the numbers are noisier than on a quiet machine**"
                  if args.load_settled == "0" else ""))
    others = [j.get("other_cpu_s", -1) for js in res.all.values() for j in js]
    others = [max(x, 0) for x in others if x != -1.0]
    if others:
        busy = sum(1 for x in others if x > 0.5)
        load_note += (f"; CPU used by other processes during a run (all cores, less the broker and the "
                      f"load generator): median {median(others):.2f} s, max {max(others):.2f} s"
                      + (f", over 0.5 s in {busy} of {len(others)} runs (see *other work CPU-s*)" if busy else ""))
    w(f"- Load: 1-minute load average {load_note}")
    w(f"- Input: ffmpeg `testsrc2` 1920x1080, `-q:v 5`, {args.input_frames} frames looped, "
      f"{int(args.frame_bytes) / 1000:.1f} kB per frame on average; {secs} s of stream per run")
    w("- Pinning: each broker on core 0 (`taskset -c 0`), the load generator on core 1")
    w("- Brokers: `framerouter --ingest … --listen … --http … --max-clients 20000` (defaults otherwise); "
      "`bench/reference.c`; `ncat -n --broker --listen 127.0.0.1 PORT --max-conns 20000` (producer and "
      "subscribers on one port)")
    iperf = None
    try:
        with open(args.iperf) as fp:
            ij = json.load(fp)
        e = ij["end"]
        bps = e["sum_received"]["bits_per_second"]
        srv = e["cpu_utilization_percent"]["remote_total"]
        dur = e["sum_received"]["seconds"]
        gb = e["sum_received"]["bytes"] / 1e9
        iperf = (bps / 1e9, srv, srv / 100 * dur / gb if gb else None)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if iperf:
        w(f"- Scale: `iperf3 -R` over loopback (server sending on core 0, client on core 1), one TCP "
          f"stream: **{iperf[0]:.1f} Gbit/s**, the sending side at {iperf[1]:.0f}% of its core, "
          f"= {iperf[2]:.3f} CPU-s per GB sent")
    w("")
    w("### How to read the tables")
    w("")
    w("- *frames delivered / expected*: whole frames received by the subscribers that were connected "
      "before the producer started, against frames sent × those subscribers. Every frame is checked: "
      "SOI, the COM tag right after it (sequence number, send time, length, source index, run id), the "
      "length, EOI" + (", and every byte against the source" if args.verify == "1" else
                         " (the joiner and slow runs also compare every byte with the source)") +
      "; anything else counts as *corrupt*.")
    w("- *latency*: the time the last byte of a frame arrived at a subscriber minus the time the "
      "producer started sending it (both CLOCK_MONOTONIC in the one load generator process), over "
      "every frame of every subscriber that keeps up. At 500 and more subscribers most of it is the "
      "load generator working through its sockets one by one on its single core.")
    w("- *broker CPU-s*: the broker's CPU time (user + system) over the run, from "
      "`/proc/PID/task/*/schedstat` (nanoseconds; `/proc/PID/stat` utime+stime, in 10 ms ticks, is in "
      "the JSON as a cross-check). *CPU-s per GB*: that divided by the bytes all subscribers received, "
      "in 10^9 bytes. Loopback TCP charges much of the receive path to the sender, so a broker pays "
      "for part of its subscribers' receiving too; the same holds for all three brokers.")
    w("- *peak RSS*: VmHWM of the broker process (each run starts a fresh broker), plus the most "
      "memory its memfds held, sampled once a second: framerouter keeps frames in a memfd for "
      "`sendfile()` and writes them with `pwrite()`, so those pages are in no VmRSS/VmHWM. "
      "*RSS start → end* counts the memfds too.")
    w("- *load generator CPU-s*: its own CPU time over the run and the share of its core. Near 100% "
      "it, not the broker, limits throughput and latency: compare brokers there by CPU-s per GB.")
    w("- *other work CPU-s*: CPU time the rest of the machine used during the run (`/proc/stat`, all "
      "cores, less the broker's and the load generator's): near 0 means nothing else disturbed it.")
    w("- Raw JSON per run: `bench/out/results/NAME-BROKER-rN.json`.")
    w("")
    w("## Results")
    for name, brokers, largs, title in matrix:
        if name.startswith("scale_") or not any(res.get(name, b) for b in brokers):
            continue	# scaled frames: one section of their own, below
        w("")
        w(f"### {title}")
        w("")
        w(f"`loadgen {largs}`")
        w("")
        if name == "joiners":
            joiners_table(out, res, name, brokers)
            w("")
            w("The reference starts a new subscriber at the next frame and ncat at the next byte "
              "(the joiner skips to the next frame start); framerouter sends the latest frame at once.")
        elif name.startswith("slow_"):
            fresh_table(out, res, name, brokers)
            w("")
            w("*frame age*: the time the slow subscriber received a frame's last byte minus the time the "
              "producer began sending it, over every frame it received (issue 11: ≤ about two of its own "
              "frame-transfer times plus one frame interval).")
        elif name in ("slow", "max_stuck"):
            slow_table(out, res, name, brokers)
            if name == "max_stuck":
                w("")
                main_table(out, res, name, brokers)
                ratio_lines(out, res, name)
        elif name == "idle":
            idle_table(out, res, name, brokers)
            w("")
            w("RSS counts the process's memory only; the kernel's socket buffers are not in it. "
              "ncat uses select(), which cannot watch a descriptor above 1023: it aborts "
              "(`Attempt to FD_SET fd 1024`) at about 1020 connections.")
        else:
            main_table(out, res, name, brokers)
            ratio_lines(out, res, name)
            if name == "http_x100":
                r = res.get("fps30_x100", "framerouter")
                h = res.get(name, "framerouter")
                if r and h:
                    w("")
                    w(f"HTTP / raw at 30 fps x 100 (framerouter): CPU-s per GB **{rx(ratio(cpu_gb(h), cpu_gb(r)))}**, "
                      f"latency p50 {rx(ratio(lat(h, 'p50'), lat(r, 'p50')))}, p99 {rx(ratio(lat(h, 'p99'), lat(r, 'p99')))}. "
                      "The reference and ncat do not speak HTTP.")
    report_scale.section(w, res, args.results, args.scale_cost)
    w("")
    w("## Targets")
    w("")
    w("From issues 5 and 11; framerouter against the reference from the same run.")
    w("")
    targets(out, res, args)
    perf = ""
    try:
        with open(args.perf) as fp:
            perf = fp.read().strip()
    except OSError:
        pass
    if perf:
        w("")
        w("## Profile: framerouter at 30 fps x 500")
        w("")
        w("`perf record -F 999 -g -p PID` (cpu-clock) over one run of the 30 fps x 500 scenario; "
          "flat profile, self time:")
        w("")
        w("```")
        w(perf)
        w("```")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):
        with open(notes) as fp:
            w("")
            w(fp.read().rstrip())
    os.makedirs(os.path.dirname(os.path.abspath(args.doc)), exist_ok=True)
    with open(args.doc, "w") as fp:
        fp.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
