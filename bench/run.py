#!/usr/bin/env python3
"""facedetect's benchmark (issue 6): one run, one report, against moto's HTTP server.

    python bench/run.py [--runs N] [--latency-ms 100] [--probe-latency-ms 1000]
                        [--json FILE] [--aws-cli PATH] [--no-manual]

It starts the embedded emulator (`python -m facedetect_cli.local.emulator`) as a separate
process on a free port, runs the installed `facedetect` command (the one next to this
interpreter) in subprocesses against it, and reports:

1. the API calls of `up` from empty, `up` unchanged, `status` and `down`, by service and
   operation, split into reads and writes (`--debug` lines, checked against `--output json`);
2. the critical path: the same commands again with FACEDETECT_INJECT_LATENCY_MS = L (a sleep
   before every HTTP send); (wall time with latency - wall time without) / L = sequential round
   trips, next to the number of calls; also on the API phase alone, and counted exactly on the
   call timeline of runs with a large latency (see critical_path);
3. the tutorial's manual path, one `aws` process per step against the same server, next to
   `facedetect up` and `facedetect down`: medians and ratios;
4. `facedetect --help` start time, whether boto3/botocore/rich are imported by it, each
   handler's import time (from its own zip, as Lambda loads it) and each zip's size.

Every number is the median of --runs runs, and every ratio is computed from medians of this one
run. Between cycles the server is reset (POST /moto-api/reset), so `up` from empty really starts
from an empty account, and then warmed with one cheap read per service: moto builds its backends
lazily, and its first requests after a reset take seconds that neither path should be charged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import (
    Bench,
    CommandRun,
    emulator,
    find_aws_cli,
    find_facedetect,
    git_state,
    median,
    moto_version,
    progress,
)
from manual_path import ManualPath
from probes import handler_imports, help_times, process_floor, zip_sizes
from report import critical_path, report, summarise, targets

from facedetect_cli.build.assets import Assets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="facedetect's benchmark against moto's server")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--latency-ms", type=float, default=100,
                        help="latency added before every API call for the critical path")
    parser.add_argument("--probe-latency-ms", type=float, default=1000,
                        help="the large latency of the runs whose call timeline is counted")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--aws-cli", help="the AWS CLI for the manual path (default: `aws` "
                        "next to this Python, else on PATH)")
    parser.add_argument("--no-manual", action="store_true",
                        help="skip the tutorial's manual path (the slowest part)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.latency_ms <= 0 or args.probe_latency_ms <= 0:
        parser.error("--runs must be at least 1 and the latencies positive")

    facedetect = find_facedetect()
    aws, aws_note = (None, "--no-manual") if args.no_manual else find_aws_cli(args.aws_cli)
    if aws is None:
        progress(f"{aws_note}; the manual path is skipped")
    lat = args.latency_ms

    load_before = os.getloadavg()
    code_state = git_state()
    with tempfile.TemporaryDirectory(prefix="facedetect-bench-") as tmp, \
            emulator(Path(tmp)) as server:
        workdir = Path(tmp)
        bench = Bench(facedetect, server, workdir)
        manual = ManualPath(aws, server.url, workdir) if aws else None
        plain: list[dict[str, CommandRun]] = []
        slow: list[dict[str, CommandRun]] = []
        probe: list[dict[str, CommandRun]] = []
        manual_up: list[float] = []
        manual_down: list[float] = []
        manual_rest: list[float] = []
        per_process: list[float] = []
        for i in range(args.runs):
            run = f"run {i + 1}/{args.runs}"
            progress(f"{run}: facedetect up, up, status, down")
            plain.append(bench.facedetect_cycle())
            progress(f"{run}: the same with +{lat:g} ms per call")
            slow.append(bench.facedetect_cycle(latency_ms=lat))
            progress(f"{run}: the same with +{args.probe_latency_ms:g} ms per call")
            probe.append(bench.facedetect_cycle(latency_ms=args.probe_latency_ms))
            if manual is not None:
                progress(f"{run}: the tutorial's manual path")
                server.reset()
                for steps, totals in ((manual.up_steps(), manual_up),
                                      (manual.down_steps(), manual_down),
                                      (manual.leftover_steps(), manual_rest)):
                    total, walls = manual.run(steps, bench.env)
                    totals.append(total)
                    per_process += walls
        progress("start-up, handler imports, zips")
        results: dict[str, Any] = {
            "meta": {
                "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "cores": os.cpu_count(), "python": platform.python_version(),
                "machine": platform.machine(), "runs": args.runs, "latency_ms": lat,
                "probe_latency_ms": args.probe_latency_ms,
                "moto": moto_version(), "git": code_state,
                "facedetect_cli": str(Path(Assets().root)), "facedetect": facedetect,
                "load_average": {"before": load_before, "after": os.getloadavg()},
                "command": "python bench/run.py " + " ".join(
                    sys.argv[1:] if argv is None else argv),
            },
            **summarise(plain),
            "help": help_times(facedetect, args.runs, bench.env, workdir),
            "handler_imports": handler_imports(args.runs, bench.env, workdir),
            "zips": zip_sizes(),
        }
        services = sorted({op.split(":")[0] for op in
                           results["calls"]["up (empty)"]["by_operation"]})
        results["process_floor_services"] = services
        results["process_floor_s"] = process_floor(args.runs, bench.env, workdir, server.url,
                                                   services)
    results["critical_path"] = critical_path(results, summarise(slow), probe, lat / 1000,
                                             args.probe_latency_ms / 1000)
    if manual is None:
        results["manual"] = {"skipped": aws_note}
    else:
        fd_up = results["timing"]["up (empty)"]["median_s"]
        fd_down = results["timing"]["down"]["median_s"]
        complete = [d + r for d, r in zip(manual_down, manual_rest, strict=True)]
        results["manual"] = {
            "aws_cli": aws_note,
            "per_process_s": median(per_process),
            "up": {"steps": len(manual.up_steps()), "median_s": median(manual_up),
                   "runs_s": manual_up, "facedetect_median_s": fd_up,
                   "ratio": median(manual_up) / fd_up},
            "down": {"steps": len(manual.down_steps()), "median_s": median(manual_down),
                     "runs_s": manual_down, "facedetect_median_s": fd_down,
                     "ratio": median(manual_down) / fd_down},
            "down_complete": {"steps": len(manual.down_steps()) + len(manual.leftover_steps()),
                              "extra_steps": len(manual.leftover_steps()),
                              "median_s": median(complete), "runs_s": complete,
                              "ratio": median(complete) / fd_down},
            "steps": {"up": [s.label for s in manual.up_steps()],
                      "down": [s.label for s in manual.down_steps()],
                      "leftovers": [s.label for s in manual.leftover_steps()]},
        }
    results["targets"] = targets(results)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        progress(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
