"""Recent runs of the pipeline for `status`: how the state machine's executions of the last 24
hours ended, and which image the latest failure was about and why it failed.

Read calls only. What it finds never makes the stack unhealthy: a failed upload is the
pipeline working as designed (the failure branch notified someone), not a broken stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from facedetect_cli.errors import AwsError

if TYPE_CHECKING:
    from facedetect_cli.aws.client import Client

WINDOW = timedelta(hours=24)
PAGE_SIZE = 1000  # ListExecutions' maximum
# A bound on what `status` reads on a very busy pipeline; the summary then says "truncated".
MAX_EXECUTIONS = 10_000
FAILED = {"FAILED", "TIMED_OUT", "ABORTED"}
RUNNING = {"RUNNING", "PENDING_REDRIVE"}
MAX_CAUSE = 500
# History events that carry the error of a step (the Fail state's ExecutionFailed only says
# "ImageProcessingFailed": the step's own error is the useful one).
_STEP_FAILURES = ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed",
                  "LambdaFunctionScheduleFailed", "TaskFailed", "TaskTimedOut",
                  "TaskStartFailed", "TaskSubmitFailed", "ExecutionTimedOut",
                  "ExecutionAborted")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def summarize(sfn: Client, state_machine_arn: str, *, now: datetime | None = None,
              window: timedelta = WINDOW) -> dict[str, Any]:
    """Counts of the executions started since `now - window`, by outcome, and the latest
    failure. Raises AwsError StateMachineDoesNotExist when there is no state machine."""
    since = (now or datetime.now(UTC)) - window
    counts = {"succeeded": 0, "failed": 0, "running": 0}
    latest_failure: dict[str, Any] | None = None
    truncated = False
    for seen, execution in enumerate(_started_since(sfn, state_machine_arn, since)):
        if seen == MAX_EXECUTIONS:
            truncated = True
            break
        status = execution["status"]
        if status == "SUCCEEDED":
            counts["succeeded"] += 1
        elif status in FAILED:
            counts["failed"] += 1
            if latest_failure is None:  # newest first: the first failure is the latest
                latest_failure = _failure(sfn, execution)
        elif status in RUNNING:
            counts["running"] += 1
    return {"since": _iso(since), **counts, "latest_failure": latest_failure,
            "truncated": truncated}


def _started_since(sfn: Client, state_machine_arn: str,
                   since: datetime) -> Iterator[dict[str, Any]]:
    # ListExecutions lists the newest first: the first one older than the window ends it.
    for page in sfn.pages("list_executions", stateMachineArn=state_machine_arn,
                          PaginationConfig={"PageSize": PAGE_SIZE}):
        for execution in page.get("executions", []):
            if execution["startDate"] < since:
                return
            yield execution


def _failure(sfn: Client, execution: dict[str, Any]) -> dict[str, Any]:
    arn = execution["executionArn"]
    found = sfn.describe_execution(executionArn=arn)
    error, cause = found.get("error"), found.get("cause")
    step = _step_failure(sfn, arn)
    if step is not None:
        error, cause = step.get("error") or error, step.get("cause") or cause
    return {
        "key": _image_key(found.get("input")),
        "error": error or execution["status"],
        "cause": _readable_cause(cause),
        "time": _iso(found.get("stopDate") or execution.get("stopDate")
                     or execution["startDate"]),
        "execution": arn,
    }


def _step_failure(sfn: Client, execution_arn: str) -> dict[str, Any] | None:
    """The error of the last step that failed, from the end of the history (one page)."""
    try:
        events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True,
                                           maxResults=100).get("events", [])
    except AwsError:
        return None  # without states:GetExecutionHistory, DescribeExecution's error will do
    for event in events:
        if event.get("type") not in _STEP_FAILURES:
            continue
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                return details
    return None


def _image_key(execution_input: str | None) -> str | None:
    """The S3 key of the upload that started the execution ($.detail.object.key)."""
    try:
        key = json.loads(execution_input or "")["detail"]["object"]["key"]
    except (ValueError, KeyError, TypeError):
        return None
    return key if isinstance(key, str) else None


def _readable_cause(cause: str | None) -> str | None:
    """Lambda reports an unhandled error as JSON ({"errorType", "errorMessage", ...}): its
    message is what a person wants."""
    if not cause:
        return None
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        cause = parsed["errorMessage"]
    return cause if len(cause) <= MAX_CAUSE else cause[: MAX_CAUSE - 1] + "…"
