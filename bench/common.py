"""What every part of the benchmark shares: settings, process timing, the emulator, and
`facedetect` runs with their API calls read from `--debug`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facedetect_cli.aws.hooks import is_read
from facedetect_cli.engine.naming import FUNCTION_BASENAMES

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's account
EMAIL = "you@example.com"
HANDLERS = tuple(FUNCTION_BASENAMES)  # detect_faces, store_metadata, send_notification
COMMANDS = ("up (empty)", "up (unchanged)", "status", "down")
# `--debug` prints "debug: api call service:Operation" as each call starts. Calls made at the
# same time from several threads can share a line, so the pattern stops at the next "debug:".
DEBUG_CALL = re.compile(r"debug: api call ([a-z0-9-]+:[A-Za-z0-9]+?)(?=debug:|\s|$)")
DEBUG_CALL_BYTES = re.compile(rb"debug: api call [a-z0-9-]+:[A-Za-z0-9]+?(?=debug:|\s)")
DEBUG_SUMMARY = re.compile(r"^debug:\s+(\d+)\s+([a-z0-9-]+:[A-Za-z0-9]+)\s*$", re.MULTILINE)
HEAVY_MODULES = ("boto3", "botocore", "rich", "moto")

# Targets of issue 6.
TARGET_UP_RATIO = 15.0
TARGET_DOWN_RATIO = 10.0
TARGET_UNCHANGED_SHARE = 0.5
TARGET_ROUND_TRIPS = 8
TARGET_HELP_S = 0.25
TARGET_ZIP_BYTES = 20 * 1024

TIMEOUT_S = 300

# One cheap read per service the stack uses: after a reset they make moto build its backends.
WARM_CALLS = {
    "sts": "get_caller_identity",
    "s3": "list_buckets",
    "dynamodb": "list_tables",
    "sns": "list_topics",
    "iam": "list_roles",
    "lambda": "list_functions",
    "stepfunctions": "list_state_machines",
    "events": "list_rules",
    "logs": "describe_log_groups",
}


# --- helpers --------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any AWS or facedetect setting, plus dummy credentials:
    nothing from the user's profile or shell can send a call elsewhere or change the result."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "FACEDETECT_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    env.update(extra)
    return env


@dataclass
class Finished:
    """A finished subprocess: its wall time, and when its last byte of output arrived (what
    follows is the interpreter's own shutdown)."""

    wall_s: float
    last_output_s: float
    returncode: int
    stdout: str
    stderr: str
    # When each call line (DEBUG_CALL_BYTES) arrived on stderr, in seconds from the start.
    call_starts: list[float] = field(default_factory=list)

    @property
    def teardown_s(self) -> float:
        return self.wall_s - self.last_output_s


def timed(argv: Sequence[str], *, env: dict[str, str], cwd: Path,
          calls: re.Pattern[bytes] | None = None) -> Finished:
    """Run a command to its end; with `calls`, also note when each line matching it arrives on
    stderr (the child flushes each line as it starts the call)."""
    started = time.perf_counter()
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    assert process.stdout is not None and process.stderr is not None
    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    last = started
    call_starts: list[float] = []
    stderr_so_far = bytearray()
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = started + TIMEOUT_S - time.perf_counter()
            events = selector.select(timeout=max(remaining, 0))
            if not events and remaining <= 0:
                process.kill()
                process.wait()
                raise RuntimeError(f"{' '.join(argv[:3])} ... took over {TIMEOUT_S} s")
            for key, _ in events:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                    last = time.perf_counter()
                    if calls is not None and key.fd == process.stderr.fileno():
                        stderr_so_far += data
                        new = len(calls.findall(stderr_so_far)) - len(call_starts)
                        call_starts += [last - started] * new
                else:
                    selector.unregister(key.fd)
    returncode = process.wait()
    wall = time.perf_counter() - started
    process.stdout.close()
    process.stderr.close()
    out, err = (b"".join(c).decode(errors="replace") for c in chunks.values())
    return Finished(wall, last - started, returncode, out, err, call_starts)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def find_facedetect() -> str:
    beside = Path(sys.executable).parent / "facedetect"
    if beside.exists():
        return str(beside)
    found = shutil.which("facedetect")
    if found is None:
        sys.exit("bench: no `facedetect` command next to this Python or on PATH: "
                 "pip install -e . first")
    return found


def find_aws_cli(explicit: str | None) -> tuple[str | None, str]:
    """The AWS CLI to run the manual path with, and a note on where it came from. A pyenv
    shim is resolved to the real script: the shim's own start-up (a shell script running
    `pyenv exec`) would be charged to every manual step."""
    if explicit:
        return explicit, f"--aws-cli {explicit}"
    beside = Path(sys.executable).parent / "aws"
    if beside.exists():
        return str(beside), str(beside)
    found = shutil.which("aws")
    if found is None:
        return None, ("no `aws` command found: install the AWS CLI from PyPI "
                      "(`pip install awscli`, best in its own environment, e.g. `pipx install "
                      "awscli`, as it pins its own botocore) or pass --aws-cli PATH, to "
                      "measure the tutorial's manual path")
    if "/shims/" in found and shutil.which("pyenv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            real = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True,
                                  check=True, timeout=30).stdout.strip()
            if real and Path(real).exists():
                return real, f"{real} (pyenv shim {found} resolved)"
    return found, found


# --- the emulator -------------------------------------------------------------------------
class Emulator:
    """facedetect's embedded moto server in its own process."""

    def __init__(self, workdir: Path, command: Sequence[str] | None = None) -> None:
        # command: how to start it, if not as `python -m facedetect_cli.local.emulator`.
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "emulator.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "facedetect_cli.local.emulator"]),
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=clean_env(workdir),
        )
        self._clients: dict[str, Any] = {}

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited ({self.process.returncode}):\n"
                                   f"{tail(self.log_path.read_text())}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"the emulator did not answer on {self.url} within {timeout:.0f} s")

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        self.warm()

    def warm(self) -> None:
        if not self._clients:
            import boto3

            session = boto3.session.Session(aws_access_key_id="test",
                                            aws_secret_access_key="test", region_name=REGION)
            self._clients = {s: session.client(s, endpoint_url=self.url) for s in WARM_CALLS}
        for _ in range(2):
            for service, operation in WARM_CALLS.items():
                getattr(self._clients[service], operation)()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def emulator(workdir: Path, command: Sequence[str] | None = None) -> Iterator[Emulator]:
    server = Emulator(workdir, command)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- facedetect ---------------------------------------------------------------------------
@dataclass
class CommandRun:
    wall_s: float
    teardown_s: float
    # From the first "api call" line on stderr to the last output: the command's API work
    # without the process's start-up and shutdown. leading_calls: calls made before --debug
    # prints them (sts:GetCallerIdentity, which everything else waits for).
    phase_s: float | None
    leading_calls: int
    call_starts: list[float]
    ops: Counter[str]
    totals: dict[str, int]
    actions: Counter[str]


def parse_debug(stderr: str) -> Counter[str]:
    """Calls by operation: from the counter's own summary that `--debug` prints at the end,
    else from the per-call lines (which miss the calls made before the hook printing them is
    attached, such as sts:GetCallerIdentity)."""
    summary = DEBUG_SUMMARY.findall(stderr)
    if summary:
        return Counter({op: int(n) for n, op in summary})
    return Counter(DEBUG_CALL.findall(stderr))


@dataclass
class Bench:
    facedetect: str
    server: Emulator
    workdir: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = clean_env(self.workdir)

    def facedetect_run(self, name: str, args: Sequence[str], *, latency_ms: float = 0,
                       ok: tuple[int, ...] = (0,)) -> CommandRun:
        env = dict(self.env)
        if latency_ms:
            env["FACEDETECT_INJECT_LATENCY_MS"] = f"{latency_ms:g}"
        argv = [self.facedetect, *args, "--endpoint-url", self.server.url, "--region", REGION,
                "--output", "json", "--debug"]
        done = timed(argv, env=env, cwd=self.workdir, calls=DEBUG_CALL_BYTES)
        if done.returncode not in ok:
            said = "\n".join(line for line in done.stderr.splitlines()
                             if not line.startswith("debug:"))
            raise RuntimeError(f"facedetect {name} failed ({done.returncode}):\n{tail(said)}\n"
                               f"{done.stdout[-2000:]}")
        document = json.loads(done.stdout)
        ops = parse_debug(done.stderr)
        totals = document["api_calls"]
        counted = {"reads": sum(n for op, n in ops.items() if is_read(op.split(":")[1])),
                   "writes": sum(n for op, n in ops.items() if not is_read(op.split(":")[1]))}
        if counted != totals:
            raise RuntimeError(f"facedetect {name}: --debug counted {counted}, the JSON says "
                               f"{totals}")
        actions = Counter(c["action"] for c in document.get("changes", []))
        actions.update(r["state"] for r in document.get("resources", []))
        phase = (done.last_output_s - done.call_starts[0]) if done.call_starts else None
        leading = max(sum(ops.values()) - len(done.call_starts), 0)
        return CommandRun(done.wall_s, done.teardown_s, phase, leading, done.call_starts, ops,
                          totals, actions)

    def facedetect_cycle(self, *, latency_ms: float = 0) -> dict[str, CommandRun]:
        """up from empty, up again, status, down: each timed, from a freshly reset server."""
        self.server.reset()
        email = ("--email", EMAIL)
        runs = {
            "up (empty)": self.facedetect_run("up", ["up", *email], latency_ms=latency_ms),
            "up (unchanged)": self.facedetect_run("up", ["up", *email], latency_ms=latency_ms),
            "status": self.facedetect_run("status", ["status", *email], latency_ms=latency_ms),
            "down": self.facedetect_run("down", ["down", "--yes"], latency_ms=latency_ms),
        }
        if set(runs["up (empty)"].actions) != {"created"}:
            raise RuntimeError(f"up from empty did not create everything: "
                               f"{dict(runs['up (empty)'].actions)}")
        if set(runs["up (unchanged)"].actions) != {"unchanged"}:
            raise RuntimeError(f"the second up changed something: "
                               f"{dict(runs['up (unchanged)'].actions)}")
        return runs


def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def moto_version() -> str:
    try:
        from importlib.metadata import version

        return version("moto")
    except Exception:
        return "?"


def git_state() -> str:
    """The commit measured, and whether the working tree had changes on top of it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                                capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "facedetect_cli",
                                "handlers", "state_machine.json", "event_rule.json"],
                               cwd=root, check=True, capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{commit}" + (" + uncommitted changes" if dirty else "")
