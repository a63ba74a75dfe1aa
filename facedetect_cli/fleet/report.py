"""`--report FILE` and `--retry-failed FILE`: a JSON Lines record of a run over many targets.

The first line describes the run and lists every target it was to work on; then one line per
target, written and flushed the moment that target finishes. A run that is interrupted (Ctrl-C,
a killed CI job) leaves every finished target's record and nothing half written, so that
`--retry-failed` can run exactly the targets that failed or never finished.

    {"record": "run", "version": 1, "command": "up", "started_at": "...", "targets": [...]}
    {"record": "target", "target": "111111111111/eu-central-1", "account": "111111111111",
     "name": "web1", "ou_path": "Root/Prod", "region": "eu-central-1", "stack": "facedetect",
     "result": "ok", "changes": 20,
     "api_calls": 61, "seconds": 4.2, "error": null, "finished_at": "..."}
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from facedetect_cli.aws.connection import Connection
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.errors import FacedetectError, InputError
from facedetect_cli.fleet.run import FAILED, TargetResult
from facedetect_cli.fleet.targets import Target

VERSION = 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def target_entry(target: Target) -> dict[str, Any]:
    """What it takes to work on the target again: where, as whom, which stack. Never keys."""
    connection = target.connection
    return {"label": target.label, "account": target.account or target.account_hint,
            "name": target.name, "ou_path": target.ou_path, "region": connection.region,
            "profile": connection.profile, "role_arn": connection.role_arn,
            "external_id": connection.external_id,
            "role_session_name": connection.role_session_name,
            "stack": target.config.stack, "emails": list(target.config.emails)}


def record(result: TargetResult) -> dict[str, Any]:
    target = result.target
    return {"record": "target", "target": target.label,
            "account": result.account or target.account_hint, "name": target.name,
            "ou_path": target.ou_path,
            "region": result.region or target.connection.region, "stack": target.config.stack,
            "result": result.result, "changes": result.changed,
            "api_calls": sum(result.api_calls.values()), "seconds": round(result.seconds, 2),
            "error": result.error, "finished_at": _now()}


class ReportWriter:
    """Appends one line per finished target, whole and flushed, from any worker thread."""

    def __init__(self, path: Path, command: str, targets: list[Target]) -> None:
        try:
            self._file: IO[str] = path.open("w", encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot write the report {path}: {error.strerror}") from None
        self.path = path
        self._lock = threading.Lock()
        self._write({"record": "run", "version": VERSION, "command": command,
                     "started_at": _now(),
                     "targets": [target_entry(target) for target in targets]})

    def _write(self, document: dict[str, Any]) -> None:
        line = json.dumps(document, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def finished(self, result: TargetResult) -> None:
        self._write(record(result))

    def close(self) -> None:
        with self._lock:
            self._file.close()


@dataclass(frozen=True)
class Retry:
    command: str
    targets: list[Target]
    failed: int
    unfinished: int


def _target(entry: dict[str, Any], base: Connection, config: StackConfig) -> Target:
    # Endpoint and local credentials come from this run's command line (--local,
    # --endpoint-url), like everything the report does not record.
    connection = Connection(
        region=entry["region"], profile=entry.get("profile") or base.profile,
        endpoint_url=base.endpoint_url, role_arn=entry.get("role_arn"),
        external_id=entry.get("external_id"),
        role_session_name=entry.get("role_session_name") or "facedetect",
        access_key_id=base.access_key_id, secret_access_key=base.secret_access_key)
    stack_config = StackConfig(**{**config.__dict__, "stack": entry["stack"],
                                  "emails": tuple(entry.get("emails") or config.emails)})
    return Target(entry["label"], connection, stack_config, account=entry.get("account", ""),
                  name=entry.get("name", ""), ou_path=entry.get("ou_path", ""))


def load_retry(path: Path, command: str, base: Connection, config: StackConfig) -> Retry:
    """The targets of an earlier report that failed or have no record (never finished)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"report not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the report {path}: {error}") from None
    lines = text.splitlines()
    documents: list[Any] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            documents.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines) and not text.endswith("\n"):
                # A run killed mid-write leaves its last line torn: that target counts as
                # unfinished, and every record before it is whole.
                break
            raise InputError(f"{path}: not a facedetect report (line {number}: "
                             f"{error.msg})") from None
    if not documents or not isinstance(documents[0], dict) or documents[0].get(
            "record") != "run":
        raise InputError(f"{path}: not a facedetect report (no run record on its first line)")
    run = documents[0]
    if run.get("command") != command:
        raise InputError(f"{path} is a report of `{run.get('command')}`: retry it with "
                         f"`facedetect {run.get('command')} --retry-failed {path}`")
    # A target is its label (account/region, or its name in a targets file) and its stack.
    last: dict[tuple[str, str], str] = {}
    for document in documents[1:]:
        if isinstance(document, dict) and document.get("record") == "target":
            last[(str(document.get("target")), str(document.get("stack")))] = str(
                document.get("result"))
    targets: list[Target] = []
    failed = unfinished = 0
    try:
        for entry in run["targets"]:
            result = last.get((str(entry["label"]), str(entry["stack"])))
            if result is None:
                unfinished += 1
            elif result == FAILED:
                failed += 1
            else:
                continue
            targets.append(_target(entry, base, config))
    except (KeyError, TypeError) as error:
        raise InputError(f"{path}: a target of the run record lacks {error}") from None
    except FacedetectError as error:
        raise InputError(f"{path}: {error}") from None
    return Retry(command, targets, failed, unfinished)
