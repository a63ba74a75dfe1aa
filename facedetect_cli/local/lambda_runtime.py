"""Runs deployed Lambda functions on the host: warm workers, one per concurrent invocation.

Each function's own zip is unpacked once per CodeSha256 and run by the host's Python in a
worker subprocess (lambda_worker.py) with the function's handler, environment variables and
timeout, and AWS_ENDPOINT_URL pointing back at the emulator. A worker stays warm after an
invocation, keeping module state (cached clients) as a Lambda sandbox does; an invocation that
finds every warm worker busy starts another (a cold start). A timeout or a crash ends the
worker, as it ends the sandbox on AWS.

Packages with compiled code in the zip (Pillow, built for the function's architecture and
Lambda's glibc) are left out when unpacking, so the host's own build is imported instead.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

WORKER = Path(__file__).resolve().parent / "lambda_worker.py"
_BINARY_SUFFIXES = (".so", ".pyd", ".dylib")
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionSpec:
    """What an invocation needs of a deployed function (read from the emulator's Lambda)."""

    arn: str
    name: str
    handler: str
    runtime: str
    code_sha256: str
    environment: tuple[tuple[str, str], ...]
    timeout_s: int
    memory_mb: int
    region: str
    log_group: str
    code: bytes = field(compare=False, repr=False, default=b"")


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    function_error: str | None
    log_stream: str
    log_lines: list[str]
    duration_ms: float
    cold: bool


class WorkerGone(Exception):
    """The worker ended (timed out, crashed or exited) during an invocation."""


def unpack(code: bytes, into: Path) -> list[str]:
    """Unpack a function zip; returns the compiled packages it left out for the host's."""
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        names = archive.namelist()
        binary = {PurePosixPath(n).parts[0] for n in names
                  if n.endswith(_BINARY_SUFFIXES) and len(PurePosixPath(n).parts) > 1}
        skipped = set(binary)
        for name in names:
            top = PurePosixPath(name).parts[0]
            if top.endswith(".dist-info") and name.endswith("/RECORD"):
                record = archive.read(name).decode("utf-8", "replace")
                if any(line.split("/", 1)[0] in binary for line in record.splitlines()):
                    skipped.add(top)
                    skipped.update(line.split("/", 1)[0] for line in record.splitlines()
                                   if line.split("/", 1)[0].endswith(".libs"))
        for name in names:
            if PurePosixPath(name).parts[0] not in skipped:
                archive.extract(name, into)
    return sorted(t for t in skipped if not t.endswith((".dist-info", ".libs")))


class Worker:
    def __init__(self, spec: FunctionSpec, task_root: Path, endpoint_url: str) -> None:
        now = datetime.now(UTC)
        self.log_stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        env = {name: os.environ[name] for name in _KEEP_ENV if name in os.environ}
        env.update(dict(spec.environment))
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": spec.region, "AWS_DEFAULT_REGION": spec.region,
            # The emulator's dummy credentials; never the host's profile or config.
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": endpoint_url,
            "LAMBDA_TASK_ROOT": str(task_root), "_HANDLER": spec.handler, "TZ": ":UTC",
        })
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(task_root), spec.handler],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=task_root)
        self._buffer = b""
        self.used = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise WorkerGone("exited") from exc
        deadline = time.monotonic() + timeout_s
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self.stop()
                raise WorkerGone("timeout")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = self.process.wait()
                raise WorkerGone(f"exit status {code}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(Exception):
                stream.close() if stream else None


class LambdaRuntime:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._root = Path(tempfile.mkdtemp(prefix="facedetect-lambda-"))
        self._lock = threading.Lock()
        self._idle: dict[FunctionSpec, list[Worker]] = {}
        self._roots: dict[str, Path] = {}
        self.skipped: dict[str, list[str]] = {}
        atexit.register(self.close)

    def _task_root(self, spec: FunctionSpec) -> Path:
        key = hashlib.sha256(spec.code).hexdigest()
        if key not in self._roots:
            root = self._root / key[:16]
            if not root.exists():
                unpacking = Path(tempfile.mkdtemp(dir=self._root))
                self.skipped[key] = unpack(spec.code, unpacking)
                unpacking.rename(root)
            self._roots[key] = root
        return self._roots[key]

    def _acquire(self, spec: FunctionSpec) -> Worker:
        with self._lock:
            # A changed function (code or configuration) gets new sandboxes, as on AWS.
            for old in [s for s in self._idle if s.arn == spec.arn and s != spec]:
                for worker in self._idle.pop(old):
                    worker.stop()
            idle = self._idle.setdefault(spec, [])
            while idle:
                worker = idle.pop()
                if worker.alive():
                    return worker
            root = self._task_root(spec)
        return Worker(spec, root, self.endpoint_url)

    def _release(self, spec: FunctionSpec, worker: Worker) -> None:
        with self._lock:
            if worker.alive():
                self._idle.setdefault(spec, []).append(worker)

    def invoke(self, spec: FunctionSpec, payload: bytes) -> Invocation:
        request_id = str(uuid.uuid4())
        worker = self._acquire(spec)
        cold = not worker.used
        worker.used = True
        started = time.monotonic()
        request = {"requestId": request_id, "payload": (payload or b"{}").decode("utf-8"),
                   "timeoutMs": spec.timeout_s * 1000, "functionArn": spec.arn}
        lines = [f"START RequestId: {request_id} Version: $LATEST"]
        try:
            answer = worker.call(request, spec.timeout_s)
            lines += answer["logs"]
            result, error = answer["payload"].encode("utf-8"), (
                None if answer["ok"] else "Unhandled")
        except WorkerGone as gone:
            result, error = self._gone(request_id, spec, str(gone), lines), "Unhandled"
        finally:
            self._release(spec, worker)
        duration = (time.monotonic() - started) * 1000
        lines += [f"END RequestId: {request_id}",
                  f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {spec.memory_mb} MB"]
        return Invocation(request_id, result, error, worker.log_stream, lines, duration, cold)

    @staticmethod
    def _gone(request_id: str, spec: FunctionSpec, why: str, lines: list[str]) -> bytes:
        if why == "timeout":
            message = (f"RequestId: {request_id} Error: Task timed out after "
                       f"{spec.timeout_s:.2f} seconds")
            kind = "Sandbox.Timedout"
        else:
            message = f"RequestId: {request_id} Error: Runtime exited with error: {why}"
            kind = "Runtime.ExitError"
        lines.append(message)
        return json.dumps({"errorType": kind, "errorMessage": message}).encode()

    def close(self) -> None:
        with self._lock:
            workers = [w for idle in self._idle.values() for w in idle]
            self._idle.clear()
        for worker in workers:
            worker.stop()
        shutil.rmtree(self._root, ignore_errors=True)
