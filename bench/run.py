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
import contextlib
import datetime as dt
import io
import itertools
import json
import os
import platform
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facedetect_cli.aws.hooks import is_read
from facedetect_cli.build.assets import Assets
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

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "emulator.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "facedetect_cli.local.emulator", "--port", str(self.port)],
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
def emulator(workdir: Path) -> Iterator[Emulator]:
    server = Emulator(workdir)
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


# --- the tutorial's manual path -------------------------------------------------------------
@dataclass
class Step:
    label: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)


class ManualPath:
    """The tutorial's AWS CLI commands (/work/shared/seed/000_157002f8e7d720d8.txt), one `aws`
    process per step, with inputs that succeed: moto's account, one bucket name, an example.com
    address, zips of the project's handlers, and the tutorial's JSON documents in files."""

    def __init__(self, aws: str, url: str, workdir: Path) -> None:
        self.aws = aws
        self.url = url
        self.dir = workdir / "manual"
        self.dir.mkdir(exist_ok=True)
        self.bucket = f"face-detection-images-{ACCOUNT}"
        self._write_files()

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def _write_files(self) -> None:
        assets = Assets()
        for module in HANDLERS:
            (self.dir / f"{module}.zip").write_bytes(assets.handler_zip(module))
        # The tutorial's state machine and its Step Functions policy, with the account filled in.
        definition = {
            "Comment": "Face Recognition State Machine",
            "StartAt": "Detect Faces",
            "States": {
                "Detect Faces": {"Type": "Task", "Next": "Store Metadata",
                                 "Resource": self._arn("lambda", "function:DetectFacesLambda")},
                "Store Metadata": {"Type": "Task", "Next": "Send Notification",
                                   "Resource": self._arn("lambda",
                                                         "function:StoreMetadataLambda")},
                "Send Notification": {"Type": "Task", "End": True,
                                      "Resource": self._arn("lambda",
                                                            "function:SendNotificationLambda")},
            },
        }
        stepfunction_policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["dynamodb:PutItem"],
             "Resource": self._arn("dynamodb", "table/FaceMetadataTable")},
            {"Effect": "Allow", "Action": ["sns:Publish"],
             "Resource": self._arn("sns", "FaceDetectionResults")},
        ]}
        # Not in the tutorial: what its EventBridgeExecutionRole needs to start the workflow.
        eventbridge_policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["states:StartExecution"],
             "Resource": self._arn("states", "stateMachine:FaceRecognitionWorkflow")},
        ]}
        rule = {"source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["PutObject"],
                           "requestParameters": {"bucketName": [self.bucket]}}}
        for name, document in (("state-machine.json", definition),
                               ("stepfunction-iam-policy.json", stepfunction_policy),
                               ("eventbridge-iam-policy.json", eventbridge_policy),
                               ("event-rule.json", rule)):
            (self.dir / name).write_text(json.dumps(document, indent=2))

    def _aws(self, label: str, *args: str, ok: tuple[int, ...] = (0,)) -> Step:
        return Step(label, [self.aws, "--endpoint-url", self.url, *args], ok)

    @staticmethod
    def _trust(service: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})

    def up_steps(self) -> list[Step]:
        functions = {"detect_faces": "DetectFacesLambda", "store_metadata": "StoreMetadataLambda",
                     "send_notification": "SendNotificationLambda"}
        steps = [
            self._aws("s3api create-bucket", "s3api", "create-bucket", "--bucket", self.bucket,
                      "--region", REGION, "--create-bucket-configuration",
                      f"LocationConstraint={REGION}"),
            self._aws("dynamodb create-table", "dynamodb", "create-table",
                      "--table-name", "FaceMetadataTable",
                      "--attribute-definitions", "AttributeName=ImageKey,AttributeType=S",
                      "--key-schema", "AttributeName=ImageKey,KeyType=HASH",
                      "--billing-mode", "PAY_PER_REQUEST", "--region", REGION),
            self._aws("sns create-topic", "sns", "create-topic", "--name", "FaceDetectionResults",
                      "--region", REGION),
            self._aws("sns subscribe", "sns", "subscribe",
                      "--topic-arn", self._arn("sns", "FaceDetectionResults"),
                      "--protocol", "email", "--notification-endpoint", EMAIL,
                      "--region", REGION),
            self._aws("iam create-role LambdaExecutionRole", "iam", "create-role",
                      "--role-name", "LambdaExecutionRole",
                      "--assume-role-policy-document", self._trust("lambda.amazonaws.com"),
                      "--region", REGION),
            self._aws("iam attach-role-policy", "iam", "attach-role-policy",
                      "--role-name", "LambdaExecutionRole", "--policy-arn",
                      "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            # The tutorial references these two roles but never creates them.
            self._aws("iam create-role StepFunctionExecutionRole*", "iam", "create-role",
                      "--role-name", "StepFunctionExecutionRole",
                      "--assume-role-policy-document", self._trust("states.amazonaws.com")),
            self._aws("iam put-role-policy stepfunction-iam-policy*", "iam", "put-role-policy",
                      "--role-name", "StepFunctionExecutionRole",
                      "--policy-name", "stepfunction-iam-policy", "--policy-document",
                      f"file://{self.dir / 'stepfunction-iam-policy.json'}"),
            self._aws("iam create-role EventBridgeExecutionRole*", "iam", "create-role",
                      "--role-name", "EventBridgeExecutionRole",
                      "--assume-role-policy-document", self._trust("events.amazonaws.com")),
            self._aws("iam put-role-policy eventbridge-iam-policy*", "iam", "put-role-policy",
                      "--role-name", "EventBridgeExecutionRole",
                      "--policy-name", "eventbridge-iam-policy", "--policy-document",
                      f"file://{self.dir / 'eventbridge-iam-policy.json'}"),
        ]
        steps += [
            self._aws(f"lambda create-function {name}", "lambda", "create-function",
                      "--function-name", name, "--runtime", "python3.13",
                      "--role", f"arn:aws:iam::{ACCOUNT}:role/LambdaExecutionRole",
                      "--handler", f"{module}.lambda_handler",
                      "--zip-file", f"fileb://{self.dir / (module + '.zip')}",
                      "--region", REGION)
            for module, name in functions.items()
        ]
        steps += [
            self._aws("stepfunctions create-state-machine", "stepfunctions",
                      "create-state-machine", "--name", "FaceRecognitionWorkflow",
                      "--definition", f"file://{self.dir / 'state-machine.json'}",
                      "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/StepFunctionExecutionRole",
                      "--region", REGION),
            self._aws("events put-rule", "events", "put-rule", "--name", "FaceDetectionTrigger",
                      "--event-pattern", f"file://{self.dir / 'event-rule.json'}",
                      "--region", REGION),
            self._aws("events put-targets", "events", "put-targets",
                      "--rule", "FaceDetectionTrigger", "--targets", json.dumps([{
                          "Arn": self._arn("states", "stateMachine:FaceRecognitionWorkflow"),
                          "Id": "StepFunctionTarget",
                          "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/EventBridgeExecutionRole",
                      }])),
        ]
        return steps

    def down_steps(self) -> list[Step]:
        """The tutorial's cleanup list, without the commands for what it never created
        (CheckFaceDuplicate/AddFaceToIndex/CreateThumbnail functions, the LambdaPolicy inline
        policy, the rider-photos collection, the ImageProcessingFailures topic)."""
        steps = [
            self._aws("stepfunctions delete-state-machine", "stepfunctions",
                      "delete-state-machine", "--state-machine-arn",
                      self._arn("states", "stateMachine:FaceRecognitionWorkflow")),
            self._aws("lambda list-functions", "lambda", "list-functions",
                      "--query", "Functions[*].FunctionName"),
        ]
        steps += [self._aws(f"lambda delete-function {name}", "lambda", "delete-function",
                            "--function-name", name)
                  for name in ("DetectFacesLambda", "StoreMetadataLambda",
                               "SendNotificationLambda")]
        steps += [
            self._aws("iam detach-role-policy", "iam", "detach-role-policy",
                      "--role-name", "LambdaExecutionRole", "--policy-arn",
                      "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            self._aws("iam delete-role", "iam", "delete-role", "--role-name",
                      "LambdaExecutionRole"),
            # `aws s3 ls` exits 1 when it lists nothing.
            self._aws("s3 ls --recursive", "s3", "ls", f"s3://{self.bucket}", "--recursive",
                      ok=(0, 1)),
            self._aws("s3 rm --recursive", "s3", "rm", f"s3://{self.bucket}", "--recursive"),
            self._aws("s3 rb", "s3", "rb", f"s3://{self.bucket}"),
            self._aws("dynamodb delete-table", "dynamodb", "delete-table",
                      "--table-name", "FaceMetadataTable"),
        ]
        return steps

    def leftover_steps(self) -> list[Step]:
        """What the tutorial's cleanup leaves behind: the rule, its topic, two roles."""
        steps = [
            self._aws("events remove-targets", "events", "remove-targets",
                      "--rule", "FaceDetectionTrigger", "--ids", "StepFunctionTarget"),
            self._aws("events delete-rule", "events", "delete-rule", "--name",
                      "FaceDetectionTrigger"),
            self._aws("sns delete-topic FaceDetectionResults", "sns", "delete-topic",
                      "--topic-arn", self._arn("sns", "FaceDetectionResults")),
        ]
        for role, policy in (("StepFunctionExecutionRole", "stepfunction-iam-policy"),
                             ("EventBridgeExecutionRole", "eventbridge-iam-policy")):
            steps += [
                self._aws(f"iam delete-role-policy {policy}", "iam", "delete-role-policy",
                          "--role-name", role, "--policy-name", policy),
                self._aws(f"iam delete-role {role}", "iam", "delete-role", "--role-name", role),
            ]
        return steps

    def run(self, steps: list[Step], env: dict[str, str]) -> tuple[float, list[float]]:
        """Run the steps one after the other: the total wall time, and each step's."""
        started = time.perf_counter()
        walls = []
        for step in steps:
            done = timed(step.argv, env=env, cwd=self.dir)
            if done.returncode not in step.ok:
                raise RuntimeError(f"manual step `aws {step.label}` failed "
                                   f"({done.returncode}):\n{tail(done.stderr)}")
            walls.append(done.wall_s)
        return time.perf_counter() - started, walls


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
