"""`status`'s recent runs against moto's Step Functions, which executes the stack's state
machine (Lambda tasks echo their input; chosen invocations fail the way Lambda reports an
unhandled error, as in test_state_machine.py): counts by outcome, the latest failure's image
key and cause, and that none of it decides `healthy` or the exit code."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from click.testing import CliRunner, Result
from conftest import json_out
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from facedetect_cli.aws.connection import Connection
from facedetect_cli.aws.hooks import InjectedFault
from facedetect_cli.cli import runner
from facedetect_cli.cli.main import cli
from facedetect_cli.engine.app import StackApp
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.observe.executions import summarize

BAD = "uploads/not-an-image.gif"


def upload_event(key: str) -> dict:
    return {"version": "0", "id": key, "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "time": "2026-11-28T09:15:42Z", "region": "eu-central-1",
            "resources": [], "detail": {"bucket": {"name": "b"}, "object": {"key": key,
                                                                             "size": 1}}}


def failing_detect(original: Callable) -> Callable:
    """Detect Faces fails on BAD as the handler would (UnsupportedImageError)."""

    def invoke(backend, function_name, qualifier, body, headers, response_headers):
        text = body.decode() if isinstance(body, bytes) else str(body)
        if function_name.endswith("DetectFacesLambda") and BAD in text:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "UnsupportedImageError",
                               "errorMessage": f"{BAD} is not a JPEG or PNG file"}).encode()
        return original(backend, function_name, qualifier, body, headers, response_headers)

    return invoke


@pytest.fixture
def deployed(monkeypatch, sleeps) -> Iterator[StackApp]:
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", failing_detect(LambdaSimpleBackend.invoke))
    monkeypatch.setattr(runner, "APP_OVERRIDES", {"sleep": sleeps})
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True},
                          "lambda": {"use_docker": False}}):
        app = StackApp(Connection(region="eu-central-1"), StackConfig(), sleep=sleeps)
        assert [o.error for o in app.apply(app.plan_up()) if o.error] == []
        yield app


def cli_run(*args: str, **overrides) -> Result:
    runner.APP_OVERRIDES.update(overrides)
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_uploads(app: StackApp, *keys: str) -> None:
    sfn = boto3.client("stepfunctions")
    arn = app.names.state_machine_arn
    for number, key in enumerate(keys):
        sfn.start_execution(stateMachineArn=arn, name=f"upload-{number}",
                            input=json.dumps(upload_event(key)))
    deadline = time.monotonic() + 30
    while any(e["status"] == "RUNNING"
              for e in sfn.list_executions(stateMachineArn=arn)["executions"]):
        assert time.monotonic() < deadline, "executions did not finish"
        time.sleep(0.05)


def test_status_summarises_the_last_24_hours_without_judging_them(deployed):
    app = deployed
    run_uploads(app, "uploads/a.jpg", BAD, "uploads/b.png")

    status = cli_run("status", "--output", "json")
    assert status.exit_code == 0, status.stderr  # a failed upload is no unhealthy stack
    doc = json_out(status)
    assert doc["healthy"] is True
    runs = doc["executions"]
    assert (runs["succeeded"], runs["failed"], runs["running"]) == (2, 1, 0)
    assert runs["truncated"] is False
    since = datetime.fromisoformat(runs["since"])
    assert abs(since - (datetime.now(UTC) - timedelta(hours=24))) < timedelta(minutes=1)
    failure = runs["latest_failure"]
    # The step's own error, not the Fail state's generic ImageProcessingFailed.
    assert failure["key"] == BAD
    assert failure["error"] == "UnsupportedImageError"
    assert failure["cause"] == f"{BAD} is not a JPEG or PNG file"
    assert failure["execution"].endswith(":upload-1")
    assert since < datetime.fromisoformat(failure["time"]) <= datetime.now(UTC)

    text = cli_run("status")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert "Runs in the last 24 hours: 2 succeeded, 1 failed, 0 running" in lines
    assert next(line for line in lines if line.startswith("Latest failure at ")).endswith(
        f": {BAD} - UnsupportedImageError: {BAD} is not a JPEG or PNG file")

    # A day later, none of these runs is recent.
    later = summarize(app.ctx.client("stepfunctions"), app.names.state_machine_arn,
                      now=datetime.now(UTC) + timedelta(hours=25))
    assert (later["succeeded"], later["failed"], later["running"]) == (0, 0, 0)
    assert later["latest_failure"] is None

    # Runs that cannot be read are said so, and still decide nothing.
    def deny(service: str, operation: str, params: dict) -> InjectedFault | None:
        if operation == "ListExecutions":
            return InjectedFault("AccessDeniedException", "not allowed")
        return None

    denied = cli_run("status", "--output", "json", fault_rules=[deny])
    assert denied.exit_code == 0, denied.stderr
    assert json_out(denied)["executions"] == {
        "error": "access denied for states:ListExecutions: not allowed (grant "
                 "states:ListExecutions to the caller, or use a profile that has it)"}


def test_without_a_state_machine_there_are_no_runs_to_show(invoke):
    status = invoke("status", "--output", "json")
    assert status.exit_code == 3
    assert json_out(status)["executions"] is None
    assert "Runs in the last" not in invoke("status").stdout
