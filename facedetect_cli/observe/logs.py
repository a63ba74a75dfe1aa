"""Reading the pipeline's logs for `facedetect logs`: the functions' log groups merged into one
timeline, oldest first, and followed without repeating or dropping a line.

CloudWatch Logs has no single call across groups that pages by time, so each group is read
with FilterLogEvents and the events are merged here by (timestamp, group, event id): the same
events always print in the same order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from facedetect_cli.aws.parallel import parallel
from facedetect_cli.errors import EXIT_UNHEALTHY, AwsError, FacedetectError, InputError

if TYPE_CHECKING:
    from facedetect_cli.aws.client import Client

# --function's names for the handler modules, and the name each line carries.
FUNCTIONS = {"detect": "detect_faces", "store": "store_metadata", "notify": "send_notification"}
SHORT_NAMES = {module: short for short, module in FUNCTIONS.items()}

POLL_INTERVAL_S = 2.0
# Each poll looks this far behind the newest event it has seen: an event can reach CloudWatch
# Logs after events with later timestamps (another log stream, another container). The event
# ids already printed keep those re-read seconds from printing twice.
LATE_MS = 60_000

_DURATION = re.compile(r"(\d+)\s*([smhdw])", re.ASCII)
# CloudWatch Logs counts time in milliseconds since 1970; nothing can be older.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Lambda's own lines around each invocation; the handler's JSON line says what matters.
_LAMBDA_LINES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START ",
                 "INIT_REPORT ", "EXTENSION ", "TELEMETRY ")
_ERROR_MARKS = ("[ERROR]", "Task timed out", "Runtime.", "Traceback (most recent call last)")


class NotDeployedError(FacedetectError):
    """None of the log groups exists: the stack is not deployed in this account and region.
    Exit 3, as `status` does for a missing stack."""

    exit_code = EXIT_UNHEALTHY


def parse_since(text: str, now: datetime) -> datetime:
    """--since: a duration back from now (30s, 10m, 2h, 1d, 1w) or an ISO 8601 time (local
    time when it names no zone)."""
    cleaned = text.strip().lower()
    match = _DURATION.fullmatch(cleaned)
    try:
        moment = (now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}) if match
                  else datetime.fromisoformat(text.strip()))
    except ValueError:
        raise InputError(
            f"invalid --since {text!r}: use a duration such as 30s, 10m, 2h or 1d, or a time "
            "such as 2026-11-28T09:00 or 2026-11-28T09:00:00Z"
        ) from None
    except OverflowError:  # more days back than a date can count
        moment = datetime.min.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        # Local time; a year the platform's clock cannot place is long before 1970 anyway.
        moment = moment.astimezone() if moment.year > 1970 else moment.replace(tzinfo=UTC)
    if moment < _EPOCH:
        raise InputError(f"--since {text!r} is before 1970, where CloudWatch Logs' time "
                         "begins: use a later time or a shorter duration")
    if moment > now:
        raise InputError(f"--since {text!r} is in the future: no lines are there yet")
    return moment


@dataclass(frozen=True)
class LogEvent:
    """One event as FilterLogEvents returned it, with the group and function it came from."""

    group: str
    function: str
    raw: dict[str, Any]

    @property
    def timestamp(self) -> int:
        return int(self.raw["timestamp"])

    @property
    def identity(self) -> tuple[str, str]:
        # Event ids are unique in a group on AWS; the stream too costs nothing and is safe
        # with emulators that number events per stream.
        return (str(self.raw.get("logStreamName", "")), str(self.raw.get("eventId", "")))

    def sort_key(self) -> tuple[int, str, str]:
        return (self.timestamp, self.group, str(self.raw.get("eventId", "")))

    def as_json(self) -> dict[str, Any]:
        """The raw event, plus which group and function it is from."""
        return {"logGroupName": self.group, "function": self.function, **self.raw}


@dataclass
class LogReader:
    """Reads the selected groups; each read returns only events not returned before."""

    client: Client
    groups: dict[str, str]  # log group -> function short name
    missing: set[str] = field(default_factory=set)
    _seen: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    _newest: dict[str, int] = field(default_factory=dict)

    def read(self, since_ms: int, until_ms: int | None = None) -> list[LogEvent]:
        """New events of every group from `since_ms` (or a little before the newest seen in
        that group, whichever is later) to `until_ms`, merged oldest first."""
        batches = parallel(*[
            lambda group=group: self._read_group(group, since_ms, until_ms)
            for group in self.groups
        ])
        return sorted((e for batch in batches for e in batch), key=LogEvent.sort_key)

    def _read_group(self, group: str, since_ms: int, until_ms: int | None) -> list[LogEvent]:
        newest = self._newest.get(group)
        start = since_ms if newest is None else max(since_ms, newest - LATE_MS)
        params: dict[str, Any] = {"logGroupName": group, "startTime": start}
        if until_ms is not None:
            params["endTime"] = until_ms
        try:
            raw_events = [event for page in self.client.pages("filter_log_events", **params)
                          for event in page.get("events", [])]
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise
            self.missing.add(group)
            return []
        self.missing.discard(group)
        seen = self._seen.setdefault(group, {})
        fresh = []
        for raw in raw_events:
            event = LogEvent(group, self.groups[group], raw)
            if event.identity not in seen:
                seen[event.identity] = event.timestamp
                fresh.append(event)
        if seen:
            self._newest[group] = max(self._newest.get(group, 0), *seen.values())
            # What the next read cannot return again need not be remembered.
            horizon = self._newest[group] - LATE_MS
            self._seen[group] = {k: ts for k, ts in seen.items() if ts >= horizon}
        return fresh

    @property
    def all_missing(self) -> bool:
        return self.missing == set(self.groups)


@dataclass(frozen=True)
class LogLine:
    """One event as a person reads it: `HH:MM:SS detect  uploads/a.jpg  2 faces  412 ms`."""

    time: str
    function: str
    text: str
    error: bool = False
    # Lines that are not the handler's own record (plain prints, the runtime's messages).
    dim: bool = False

    def plain(self) -> str:
        return f"{self.time} {self.function:<6}  {self.text}"


def describe(event: LogEvent) -> LogLine | None:
    """The readable line for an event, or None for Lambda's START/END/REPORT lines."""
    message = str(event.raw.get("message", "")).rstrip("\r\n")
    time = datetime.fromtimestamp(event.timestamp / 1000).astimezone().strftime("%H:%M:%S")
    record = _handler_record(message)
    if record is not None:
        return LogLine(time, event.function, _record_text(record), error="error" in record)
    if message.startswith(_LAMBDA_LINES):
        return None
    lines = message.splitlines() or [""]
    text = lines[0] + (f"  (+{len(lines) - 1} lines)" if len(lines) > 1 else "")
    return LogLine(time, event.function, text, error=any(m in message for m in _ERROR_MARKS),
                   dim=True)


def _handler_record(message: str) -> dict[str, Any] | None:
    if not message.lstrip().startswith("{"):
        return None
    try:
        record = json.loads(message)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "handler" in record else None


def _record_text(record: dict[str, Any]) -> str:
    parts = [str(record.get("key") or "-")]
    if "error" in record:
        message = record.get("errorMessage")
        parts.append(f"{record['error']}: {message}" if message else str(record["error"]))
    else:
        count = record.get("faceCount")
        if isinstance(count, int):
            parts.append(f"{count} face" if count == 1 else f"{count} faces")
        if record.get("stale"):
            parts.append("stale, a newer version is stored")
        if record.get("published") is False and not record.get("stale"):
            parts.append("not published")
    duration = record.get("durationMs")
    if isinstance(duration, int | float):
        parts.append(f"{round(duration)} ms")
    return "  ".join(parts)
