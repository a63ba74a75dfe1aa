"""Start-up, handler import times and zip sizes."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from common import ACCOUNT, HANDLERS, HEAVY_MODULES, REGION, median, progress, tail, timed

from facedetect_cli.build.assets import Assets


# --- start-up, handlers, zips -----------------------------------------------------------------
def help_times(facedetect: str, runs: int, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    walls = []
    for _ in range(runs):
        done = timed([facedetect, "--help"], env=env, cwd=cwd)
        if done.returncode != 0:
            raise RuntimeError(f"facedetect --help failed:\n{tail(done.stderr)}")
        walls.append(done.wall_s)
    bare = [timed([sys.executable, "-c", "pass"], env=env, cwd=cwd).wall_s for _ in range(runs)]
    done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import facedetect_cli.cli.main"],
                          capture_output=True, text=True, env=env, cwd=cwd, check=True)
    imported = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return {"median_s": median(walls), "runs_s": walls, "python_bare_s": median(bare),
            "heavy_imports": sorted(m for m in HEAVY_MODULES if m in imported)}


_IMPORT_PROBE = ("import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); "
                 "import {module}; print(time.perf_counter() - t)")


def handler_imports(runs: int, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Each handler imported from its own zip's contents, in a fresh interpreter that writes
    no bytecode: the zip holds only sources, as Lambda sees them. boto3 alone for reference."""
    assets = Assets()
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1",
           "TABLE_NAME": "facedetect-FaceMetadataTable",
           "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:facedetect-FaceDetectionResults"}
    probes = {"boto3 (reference)": (str(workdir), "boto3")}
    for module in HANDLERS:
        target = workdir / "handlers" / module
        target.mkdir(parents=True, exist_ok=True)
        data = assets.handler_zip(module)
        (workdir / "handlers" / f"{module}.zip").write_bytes(data)
        with zipfile.ZipFile(workdir / "handlers" / f"{module}.zip") as archive:
            archive.extractall(target)
        probes[module] = (str(target), module)
    result: dict[str, Any] = {}
    for name, (path, module) in probes.items():
        inside, walls = [], []
        for _ in range(runs):
            code = _IMPORT_PROBE.format(path=path, module=module)
            done = timed([sys.executable, "-c", code], env=env, cwd=workdir)
            if done.returncode != 0:
                break
            inside.append(float(done.stdout.strip().splitlines()[-1]))
            walls.append(done.wall_s)
        if len(inside) < runs:
            result[name] = {"import_s": float("nan"), "process_s": float("nan"),
                            "error": tail(done.stderr, 3)}
            progress(f"importing {module} failed: {tail(done.stderr, 3)}")
            continue
        result[name] = {"import_s": median(inside), "process_s": median(walls)}
    return result


def zip_sizes() -> dict[str, dict[str, Any]]:
    assets = Assets()
    sizes = {}
    for module in HANDLERS:
        data = assets.handler_zip(module)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = sorted(archive.namelist())
        sizes[module] = {"bytes": len(data), "files": files}
    return sizes


def process_floor(runs: int, env: dict[str, str], cwd: Path, url: str,
                  services: list[str]) -> float:
    """A Python process that imports botocore (as facedetect does; boto3 would add s3transfer)
    and makes the clients `up` uses, calling nothing: the part of every facedetect command that
    no API work can remove."""
    code = ("import botocore.session; s = botocore.session.Session(); "
            f"[s.create_client(x, endpoint_url={url!r}) for x in {services!r}]")
    return median([timed([sys.executable, "-c", code], env=env, cwd=cwd).wall_s
                   for _ in range(runs)])


