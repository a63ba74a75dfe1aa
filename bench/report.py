"""Turning one run's measurements into the report, the critical path and the targets."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from common import (
    COMMANDS,
    HEAVY_MODULES,
    TARGET_DOWN_RATIO,
    TARGET_HELP_S,
    TARGET_ROUND_TRIPS,
    TARGET_UNCHANGED_SHARE,
    TARGET_UP_RATIO,
    TARGET_ZIP_BYTES,
    CommandRun,
    median,
)

from facedetect_cli.aws.hooks import is_read


# --- the report -----------------------------------------------------------------------------
def ops_table(ops: dict[str, int]) -> list[str]:
    by_service: dict[str, list[str]] = {}
    for op, n in sorted(ops.items()):
        service, operation = op.split(":", 1)
        kind = "R" if is_read(operation) else "W"
        by_service.setdefault(service, []).append(f"{operation} {n}{kind}")
    return [f"    {service:<14} {', '.join(items)}" for service, items in by_service.items()]


def summarise(runs: list[dict[str, CommandRun]]) -> dict[str, Any]:
    calls, timing = {}, {}
    for command in COMMANDS:
        these = [r[command] for r in runs]
        first = these[0].ops
        walls = [r.wall_s for r in these]
        calls[command] = {**these[0].totals, "by_operation": dict(sorted(first.items())),
                          "stable": all(r.ops == first for r in these)}
        phases = [r.phase_s for r in these if r.phase_s is not None]
        timing[command] = {"median_s": median(walls), "min_s": min(walls), "max_s": max(walls),
                           "runs_s": walls,
                           "teardown_s": median([r.teardown_s for r in these]),
                           "phase_s": median(phases), "phase_runs_s": phases,
                           "leading_calls": max(r.leading_calls for r in these)}
    return {"calls": calls, "timing": timing}


def waves(call_starts: list[float], latency_s: float) -> tuple[int, float]:
    """Sequential round trips seen in one run's call timeline with a large added latency: calls
    that start together (within half the latency) are one wave; each later wave waited for an
    earlier call to come back. Every wave holds a call of the critical path, so their number
    is its length in round trips. Also returns the widest wave (first to last start): when it
    nears half the latency, waves may merge and the count is too low."""
    times = sorted(call_starts)
    if not times:
        return 0, 0.0
    groups = [[times[0]]]
    for a, b in itertools.pairwise(times):
        if b - a > latency_s / 2:
            groups.append([])
        groups[-1].append(b)
    return len(groups), max(g[-1] - g[0] for g in groups)


def critical_path(results: dict[str, Any], with_l: dict[str, Any],
                  probe: list[dict[str, CommandRun]], latency_s: float,
                  probe_s: float) -> dict[str, Any]:
    """Sequential round trips, three ways (L = the added latency):

    - wall: (wall at L - wall at 0) / L, the issue's definition;
    - phase: the same on the API phase only (first `api call` line to last output), plus the
      calls made before --debug prints them (sts:GetCallerIdentity, which everything waits
      for): the process's start-up (about a second on 2 cores) is cut out, with its noise;
    - timeline: the waves of call starts in runs with a large latency (--probe-latency-ms),
      plus the same leading calls.

    Both differences under-count when a command is bound by CPU rather than by round trips,
    as these are against a local emulator on 2 cores: without latency the CPU work (botocore
    building requests and parsing answers, moto serving one request at a time) is on the wall
    clock, with latency much of it hides behind the sleeps. The timeline does not depend on it.
    """
    found = {}
    for command in COMMANDS:
        zero, at_l = results["timing"][command], with_l["timing"][command]
        totals = results["calls"][command]
        leading = zero["leading_calls"]
        counted = [waves(r[command].call_starts, probe_s) for r in probe]
        timeline = [n + r[command].leading_calls for (n, _), r in zip(counted, probe, strict=True)]
        found[command] = {
            "median_s": at_l["median_s"], "runs_s": at_l["runs_s"],
            "phase_s": {"0": zero["phase_s"], "L": at_l["phase_s"]},
            "leading_calls": leading,
            "round_trips": (at_l["median_s"] - zero["median_s"]) / latency_s,
            "round_trips_phase": (at_l["phase_s"] - zero["phase_s"]) / latency_s + leading,
            "round_trips_timeline": median(timeline),
            "timeline_runs": timeline,
            "widest_wave_s": max(spread for _, spread in counted),
            "probe_median_s": median([r[command].wall_s for r in probe]),
            "calls": totals["reads"] + totals["writes"],
            "same_calls_with_latency": (
                with_l["calls"][command]["by_operation"] == totals["by_operation"]
                and all(r[command].ops == Counter(totals["by_operation"]) for r in probe)),
        }
    return found


def report(results: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    meta = results["meta"]
    lat = meta["latency_ms"]
    add(f"facedetect benchmark  {meta['date']}  {meta['cores']} cores  python {meta['python']}"
        f"  runs={meta['runs']}  latency={lat:g} ms")
    load = meta["load_average"]
    add(f"code: {meta['git']}   emulator: moto {meta['moto']} (separate process)   "
        f"load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} after")
    add("")
    add("1. API calls (R = read, W = write)")
    for command in COMMANDS:
        calls = results["calls"][command]
        note = "" if calls["stable"] else "   (varied between runs; first run shown)"
        add(f"  {command:<15} {calls['reads']:3d} reads {calls['writes']:3d} writes "
            f"{calls['reads'] + calls['writes']:3d} calls{note}")
        out.extend(ops_table(calls["by_operation"]))
    add("")
    probe = meta["probe_latency_ms"]
    add(f"2. Wall time (s, median of runs) and sequential round trips (+{lat:g} ms, and "
        f"+{probe:g} ms for the timeline, before every HTTP send)")
    add(f"  {'command':<15} {'median':>7} {'min':>6} {'max':>6} {'api':>6} {'exit':>6} "
        f"{'+' + format(lat, 'g') + 'ms':>7} {'wall':>5} {'phase':>5} {'timeline':>8} "
        f"{'calls':>5}")
    for command in COMMANDS:
        t = results["timing"][command]
        cp = results["critical_path"][command]
        add(f"  {command:<15} {t['median_s']:7.3f} {t['min_s']:6.3f} {t['max_s']:6.3f} "
            f"{t['phase_s']:6.3f} {t['teardown_s']:6.3f} {cp['median_s']:7.3f} "
            f"{cp['round_trips']:5.1f} {cp['round_trips_phase']:5.1f} "
            f"{cp['round_trips_timeline']:8g} {cp['calls']:5d}")
    add("  api = first `api call` line to last output; exit = last output to exit (interpreter "
        "shutdown)")
    add("  round trips: wall = (+L - 0) / L on wall times (the issue's); phase = the same on the "
        "API phase;")
    add(f"  timeline = waves of call starts at +{probe:g} ms; phase and timeline count the "
        "calls made before --debug prints them as sequential")
    widest = max(results["critical_path"][c]["widest_wave_s"] for c in COMMANDS)
    add(f"  widest wave {widest:.2f} s" + (
        "" if widest < 0.4 * probe / 1000 else
        f": near half of {probe:g} ms, waves may have merged; use a larger --probe-latency-ms"))
    varied = [c for c in COMMANDS if not results["critical_path"][c]["same_calls_with_latency"]]
    if varied:
        add(f"  note: with latency, other calls were made by: {', '.join(varied)}")
    services = results["process_floor_services"]
    add(f"  process floor: python + import botocore + {len(services)} clients, no call: "
        f"{results['process_floor_s']:.3f} s")
    add("")
    add("3. Against the tutorial's manual path (one `aws` process per step)")
    manual = results["manual"]
    if manual.get("skipped"):
        add(f"  skipped: {manual['skipped']}")
    else:
        add(f"  aws cli: {manual['aws_cli']}; median per aws process "
            f"{manual['per_process_s']:.3f} s")
        for key in ("up", "down"):
            m = manual[key]
            add(f"  {key:<5} manual {m['steps']:2d} steps {m['median_s']:7.3f} s   "
                f"facedetect {m['facedetect_median_s']:6.3f} s   ratio {m['ratio']:5.1f}x")
        c = manual["down_complete"]
        add(f"  down with the {c['extra_steps']} steps the tutorial's cleanup misses: "
            f"{c['steps']} steps {c['median_s']:.3f} s   ratio {c['ratio']:.1f}x")
    add("")
    add("4. Start-up, handlers, zips")
    h = results["help"]
    add(f"  facedetect --help {h['median_s']:.3f} s (bare python {h['python_bare_s']:.3f} s); "
        "imported by facedetect_cli.cli.main: "
        f"{', '.join(h['heavy_imports']) or 'none of ' + '/'.join(HEAVY_MODULES)}")
    for name, t in results["handler_imports"].items():
        size = results["zips"].get(name)
        zip_text = f"   zip {size['bytes']:,} B ({', '.join(size['files'])})" if size else ""
        add(f"  import {name:<18} {t['import_s']:.3f} s (process {t['process_s']:.3f} s)"
            f"{zip_text}")
    add("")
    add("Targets")
    for target in results["targets"]:
        add(f"  [{'met' if target['met'] else 'NOT met'}] {target['name']}: {target['value']}")
    return "\n".join(out)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    manual = results["manual"]
    timing = results["timing"]
    calls = results["calls"]
    cp = results["critical_path"]
    lat = results["meta"]["latency_ms"]
    if not manual.get("skipped"):
        for key, goal in (("up", TARGET_UP_RATIO), ("down", TARGET_DOWN_RATIO)):
            ratio = manual[key]["ratio"]
            found.append({"name": f"{key} at least {goal:g}x faster than the manual path",
                          "value": f"{ratio:.1f}x", "met": ratio >= goal})
    writes = calls["up (unchanged)"]["writes"]
    found.append({"name": "up on an unchanged stack: zero writes", "value": f"{writes} writes",
                  "met": writes == 0})
    shares = (
        ("", timing["up (unchanged)"]["median_s"] / timing["up (empty)"]["median_s"]),
        (f" (both with +{lat:g} ms per call)",
         cp["up (unchanged)"]["median_s"] / cp["up (empty)"]["median_s"]),
    )
    for label, share in shares:
        found.append({"name": f"up unchanged under {TARGET_UNCHANGED_SHARE:g} x up from empty"
                      f"{label}", "value": f"{share:.2f} x",
                      "met": share < TARGET_UNCHANGED_SHARE})
    up = cp["up (empty)"]
    found.append({"name": f"critical path of up from empty at most {TARGET_ROUND_TRIPS} "
                  "sequential round trips (no IAM propagation waits against moto)",
                  "value": f"{up['round_trips_timeline']:g} by the timeline (wall "
                  f"{up['round_trips']:.1f}, phase {up['round_trips_phase']:.1f}), "
                  f"{up['calls']} calls",
                  "met": up["round_trips_timeline"] <= TARGET_ROUND_TRIPS})
    help_s = results["help"]["median_s"]
    found.append({"name": f"facedetect --help under {TARGET_HELP_S:g} s",
                  "value": f"{help_s:.3f} s", "met": help_s < TARGET_HELP_S})
    biggest = max(z["bytes"] for z in results["zips"].values())
    found.append({"name": f"every handler zip under {TARGET_ZIP_BYTES // 1024} KB",
                  "value": f"largest {biggest:,} B", "met": biggest < TARGET_ZIP_BYTES})
    return found
