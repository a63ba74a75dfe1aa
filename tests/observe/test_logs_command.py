"""`facedetect logs` against moto's CloudWatch Logs, with events written by put_log_events in
the handlers' format (one JSON line per invocation, between Lambda's START/END/REPORT lines):
one timeline oldest first across the functions, readable lines, raw JSON, filters, and
--follow printing each line once and ending cleanly at Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from conftest import json_out

from facedetect_cli.observe.logs import LATE_MS, POLL_INTERVAL_S

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

GROUPS = {
    "detect": "/aws/lambda/facedetect-DetectFacesLambda",
    "store": "/aws/lambda/facedetect-StoreMetadataLambda",
    "notify": "/aws/lambda/facedetect-SendNotificationLambda",
}
HANDLERS = {"detect": "detect_faces", "store": "store_metadata", "notify": "send_notification"}
BASE = 0  # set before each test: see base_time


@pytest.fixture(autouse=True)
def base_time() -> None:
    """Events are written five minutes before the test starts, inside the default 10m. Taken
    per test, not at import: a long suite under load ran these tests more than five minutes
    after collection, and the events fell outside the window."""
    global BASE
    BASE = int(time.time() * 1000) - 5 * 60_000



def make_groups(*functions: str) -> None:
    """The groups as `up` makes them: with the stack's tag (`logs` reads no look-alike)."""
    logs = boto3.client("logs")
    for function in functions or tuple(GROUPS):
        logs.create_log_group(logGroupName=GROUPS[function], tags={"facedetect:stack":
                                                                   "facedetect"})


def put(function: str, at: int, message: str | dict, stream: str = "2026/11/28/[$LATEST]a") -> None:
    """One event, as Lambda writes a line of the function's output."""
    logs = boto3.client("logs")
    group = GROUPS[function]
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    text = json.dumps(message) if isinstance(message, dict) else message
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": at, "message": text + "\n"}])


def record(function: str, key: str, faces: int | None, ms: float, **extra) -> dict:
    return {"handler": HANDLERS[function], "key": key, "faceCount": faces,
            "requestId": "9b1c", "bucket": "facedetect-images", "durationMs": ms, **extra}


def hhmmss(at: int) -> str:
    return datetime.fromtimestamp(at / 1000).astimezone().strftime("%H:%M:%S")


def one_upload() -> list[str]:
    """A success for a.jpg through the three functions and a failure for b.gif, written out of
    order across groups; returns the lines `logs` should print, in order."""
    make_groups()
    put("notify", BASE + 300, record("notify", "uploads/a.jpg", 2, 88.0, published=True))
    put("detect", BASE + 90, "START RequestId: 9b1c Version: $LATEST")
    put("detect", BASE + 100, record("detect", "uploads/a.jpg", 2, 412.3))
    put("detect", BASE + 110, "END RequestId: 9b1c")
    put("detect", BASE + 111, "REPORT RequestId: 9b1c\tDuration: 413.01 ms")
    put("store", BASE + 200, record("store", "uploads/a.jpg", 2, 35.2, stale=False))
    put("detect", BASE + 150, record(
        "detect", "uploads/b.gif", None, 3.2, error="UnsupportedImageError",
        errorMessage="s3://facedetect-images/uploads/b.gif is not a JPEG or PNG file"))
    put("detect", BASE + 151, "[ERROR] UnsupportedImageError: not a JPEG or PNG file\n"
        "Traceback (most recent call last):\n  File \"/var/task/detect_faces.py\"")
    put("store", BASE - 20 * 60_000, record("store", "uploads/old.jpg", 1, 30.0))  # too old
    return [
        f"{hhmmss(BASE + 100)} detect  uploads/a.jpg  2 faces  412 ms",
        f"{hhmmss(BASE + 150)} detect  uploads/b.gif  UnsupportedImageError: "
        "s3://facedetect-images/uploads/b.gif is not a JPEG or PNG file  3 ms",
        f"{hhmmss(BASE + 151)} detect  [ERROR] UnsupportedImageError: not a JPEG or PNG file"
        "  (+2 lines)",
        f"{hhmmss(BASE + 200)} store   uploads/a.jpg  2 faces  35 ms",
        f"{hhmmss(BASE + 300)} notify  uploads/a.jpg  2 faces  88 ms",
    ]


def test_lines_of_all_functions_oldest_first_and_readable(invoke):
    expected = one_upload()
    result = invoke("logs")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected
    assert result.stderr == ""

    wider = invoke("logs", "--since", "1h")
    assert wider.stdout.splitlines() == [
        f"{hhmmss(BASE - 20 * 60_000)} store   uploads/old.jpg  1 face  30 ms", *expected]

    only = invoke("logs", "--function", "store", "--function", "notify")
    assert only.stdout.splitlines() == expected[3:]

    iso = datetime.fromtimestamp((BASE + 250) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert invoke("logs", "--since", iso).stdout.splitlines() == expected[4:]


def test_json_passes_the_raw_events_through(invoke):
    one_upload()
    result = invoke("logs", "--output", "json")
    assert result.exit_code == 0, result.stderr
    doc = json_out(result)
    assert set(doc) == {"stack", "region", "account", "since", "functions", "events",
                        "api_calls"}
    assert doc["functions"] == ["detect", "store", "notify"]
    events = doc["events"]
    # Everything in the window, Lambda's own lines included, in time order.
    assert [e["timestamp"] - BASE for e in events] == [90, 100, 110, 111, 150, 151, 200, 300]
    assert [e["function"] for e in events] == ["detect"] * 6 + ["store", "notify"]
    assert {e["logGroupName"] for e in events} == set(GROUPS.values())
    assert {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"} <= set(
        events[0])
    assert json.loads(events[1]["message"])["durationMs"] == 412.3
    assert doc["api_calls"]["writes"] == 0


def test_bad_since_is_a_usage_error_before_any_call(invoke):
    for value in ("ten minutes", "10x", "2026-13-45"):
        result = invoke("logs", "--since", value)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: invalid --since {value!r}: use a duration")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stdout + result.stderr


def test_a_stack_without_log_groups_exits_3_and_a_missing_one_is_noted(invoke):
    result = invoke("logs")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: stack facedetect has no log groups in account")
    assert result.stderr.count("\n") == 1
    as_json = invoke("logs", "--output", "json")
    assert json_out(as_json)["exit_code"] == 3

    make_groups("detect")
    put("detect", BASE + 100, record("detect", "uploads/a.jpg", 0, 50.0))
    partial = invoke("logs")
    assert partial.exit_code == 0
    assert partial.stdout.splitlines() == [
        f"{hhmmss(BASE + 100)} detect  uploads/a.jpg  0 faces  50 ms"]
    assert partial.stderr.splitlines() == [
        f"note: log group {GROUPS[g]} does not exist (yet): no lines of its function"
        for g in ("notify", "store")]


class Arrivals:
    """The poll's sleep: each call, the next batch of events reaches CloudWatch Logs; after
    the last, Ctrl-C."""

    def __init__(self, batches):
        self.batches = list(batches)
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if not self.batches:
            raise KeyboardInterrupt
        for function, at, message, stream in self.batches.pop(0):
            put(function, at, message, stream)


def follow_batches() -> list:
    now = int(time.time() * 1000)
    return [
        # A later line, and one from another container stamped before the last line printed
        # (it reached CloudWatch Logs late): both printed once, in time order.
        [("store", now - 1000, record("store", "uploads/a.jpg", 2, 20.0), "s1"),
         ("detect", now - 2000, record("detect", "uploads/c.png", 1, 300.0), "other")],
        [],
        [("notify", now, record("notify", "uploads/a.jpg", 2, 60.0), "s1")],
    ]


def test_follow_prints_each_line_once_and_ctrl_c_ends_it_cleanly(invoke):
    make_groups()
    now = int(time.time() * 1000)
    put("detect", now - 3000, record("detect", "uploads/a.jpg", 2, 400.0))
    put("detect", now - 1500, record("detect", "uploads/b.png", 0, 380.0))
    arrivals = Arrivals(follow_batches())
    result = invoke("logs", "--follow", sleep=arrivals)
    assert result.exit_code == 0
    assert result.stderr == ""
    keys = [line.split()[2] for line in result.stdout.splitlines()]
    assert keys == ["uploads/a.jpg", "uploads/b.png",  # the first read
                    "uploads/c.png", "uploads/a.jpg",  # late detect line first: older
                    "uploads/a.jpg"]
    assert [line.split()[1] for line in result.stdout.splitlines()] == [
        "detect", "detect", "detect", "store", "notify"]
    assert arrivals.calls == [POLL_INTERVAL_S] * 4


def test_follow_in_json_is_one_raw_event_per_line(invoke):
    make_groups()
    arrivals = Arrivals(follow_batches())
    result = invoke("logs", "--follow", "--output", "json", sleep=arrivals)
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["function"] for e in events] == ["detect", "store", "notify"]
    assert len({(e["logGroupName"], e["logStreamName"], e["eventId"]) for e in events}) == 3


def test_an_event_later_than_the_look_back_is_still_read_once(aws):
    """The reader's bookkeeping: ids are forgotten only once no read can return them."""
    from facedetect_cli.aws.connection import Connection
    from facedetect_cli.engine.app import StackApp
    from facedetect_cli.engine.config import StackConfig

    make_groups("detect")
    now = int(time.time() * 1000)
    put("detect", now - 3 * LATE_MS, record("detect", "uploads/old.jpg", 1, 1.0))
    put("detect", now, record("detect", "uploads/new.jpg", 1, 1.0))
    reader = StackApp(Connection(region="eu-central-1"), StackConfig()).log_reader(["detect"])
    assert len(reader.read(now - 4 * LATE_MS)) == 2
    assert reader.read(now - 4 * LATE_MS) == []  # the old one is before the look-back now
    put("detect", now - LATE_MS // 2, record("detect", "uploads/late.jpg", 1, 1.0), "late")
    [late] = reader.read(now - 4 * LATE_MS)
    assert json.loads(late.raw["message"])["key"] == "uploads/late.jpg"
    assert reader.read(now - 4 * LATE_MS) == []
