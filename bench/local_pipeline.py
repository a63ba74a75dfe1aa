#!/usr/bin/env python3
"""The local pipeline's benchmark (issue 16): one run, one report.

    python bench/local_pipeline.py [--uploads 20] [--demo] [--json FILE]

1. the embedded detector: time per image (YuNet detection, and detection + SFace embedding of
   every face) on the demo photo, a four-face sheet and the demo photo at 1600x1600;
2. upload to notification, locally: the embedded emulator in its own process (as `--local`
   starts it), a stack with both features (duplicates, thumbnails: every function runs), and
   N uploads one after the other, each timed from the start of its PutObject to its message in
   the local mailbox; the first is reported alone (cold: the functions' workers start), the
   others as p50 / p95 (warm);
3. with --demo: `make demo` from a fresh clone of this repository (a new virtualenv, pip
   installing '.[local]' with pip's cache as it is on this machine), timed end to end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "local"), str(ROOT / "tests")]

from photos import ASTRONAUT, four_faces, one_face  # noqa: E402
from running_pipeline import RunningPipeline  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def detector_times(repeats: int = 20) -> dict[str, dict[str, float]]:
    from photos import _encode
    from PIL import Image

    from facedetect_cli.local.faces.detector import decode, shared

    detector = shared()
    big = _encode(Image.open(ASTRONAUT).resize((1600, 1600)))
    report = {}
    for name, data in (("astronaut 512x512", one_face()), ("four faces 900x400", four_faces()),
                       ("astronaut 1600x1600 (scaled to 1280)", big)):
        image = decode(data)
        detector.faces(image)  # warm
        detect, embed = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            faces = detector.faces(image)
            detect.append(time.perf_counter() - started)
            for face in faces:
                detector.embedding(image, face)
            embed.append(time.perf_counter() - started)
        report[name] = {"faces": len(faces), "detect_ms": statistics.median(detect) * 1000,
                        "detect_and_embed_ms": statistics.median(embed) * 1000}
    return report


def upload_to_notification(uploads: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        pipeline = RunningPipeline(Path(home))
        body = one_face()
        times = []
        try:
            started = time.perf_counter()
            pipeline.start("duplicates", "thumbnails")
            setup_s = time.perf_counter() - started
            for number in range(uploads):
                key = f"uploads/bench-{number:03d}.png"
                started = time.perf_counter()
                pipeline.upload(key, body)
                while not any(key in message["body"] for message in pipeline.mail()):
                    if time.perf_counter() - started > 60:
                        raise TimeoutError(f"no notification for {key}")
                    time.sleep(0.005)
                times.append(time.perf_counter() - started)
        finally:
            pipeline.stop()
    warm = times[1:]
    return {"uploads": uploads, "setup_s": setup_s, "first_s": times[0],
            "warm_p50_s": statistics.median(warm), "warm_p95_s": percentile(warm, 0.95),
            "cold_over_warm": times[0] / statistics.median(warm)}


def demo_from_fresh_clone() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        clone = Path(work) / "facedetect"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env_home = Path(work) / "state"
        started = time.perf_counter()
        done = subprocess.run(["make", "demo", "EMAIL=bench@example.com"], cwd=clone,
                              capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin:/usr/local/bin",
                                   "HOME": str(Path.home()), "XDG_STATE_HOME": str(env_home),
                                   "FACEDETECT_LOCAL_PORT": "4599"})
        total = time.perf_counter() - started
        subprocess.run([str(clone / ".venv" / "bin" / "facedetect"), "local", "stop",
                        "--local-port", "4599"], capture_output=True,
                       env={"XDG_STATE_HOME": str(env_home), "PATH": "/usr/bin:/bin"})
        if done.returncode != 0:
            raise RuntimeError(f"make demo failed: {done.stderr[-2000:]}")
        return {"demo_total_s": total, "found_a_face": float("1 face(s)" in done.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--demo", action="store_true", help="also time `make demo` from a clone")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, object] = {"detector": detector_times()}
    for name, row in report["detector"].items():  # type: ignore[union-attr]
        print(f"detector  {name:22s} {row['faces']} face(s)  detect {row['detect_ms']:6.1f} ms"
              f"  detect+embed {row['detect_and_embed_ms']:6.1f} ms")
    flow = upload_to_notification(args.uploads)
    report["upload_to_notification"] = flow
    print(f"pipeline  emulator start + up (both features) {flow['setup_s']:.1f} s")
    print(f"pipeline  upload -> notification, first (cold workers) {flow['first_s']:.2f} s")
    print(f"pipeline  upload -> notification, warm, {args.uploads - 1} uploads: "
          f"p50 {flow['warm_p50_s']:.3f} s, p95 {flow['warm_p95_s']:.3f} s "
          f"(first / p50 = {flow['cold_over_warm']:.1f}x)")
    if args.demo:
        demo = demo_from_fresh_clone()
        report["demo"] = demo
        print(f"demo      make demo from a fresh clone: {demo['demo_total_s']:.0f} s "
              f"(found a face: {bool(demo['found_a_face'])})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
