"""The state machine's wiring, executed by moto (issues 3 and 4).

moto runs the definition, Retry and Catch included, but cannot run Lambda code without
Docker: its simple Lambda backend echoes each task's input. The tests below make chosen
invocations fail the way Lambda reports an unhandled error (X-Amz-Function-Error with the
exception's class name as errorType), which is what Step Functions matches in ErrorEquals."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from facedetect_cli.aws.connection import Connection
from facedetect_cli.engine.app import StackApp
from facedetect_cli.engine.config import StackConfig

FIXTURE = Path(__file__).resolve().parents[1] / "handlers" / "fixtures"
EVENT = json.loads((FIXTURE / "s3-object-created.eventbridge.json").read_text()) if (
    FIXTURE / "s3-object-created.eventbridge.json").exists() else None
KEY = "uploads/team photo 2026.jpg"


def s3_event() -> dict:
    # The fixture's shape, written out so the test also runs where shared/ is absent.
    return EVENT or {
        "version": "0", "id": "4b6f2d1e", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-28T09:15:42Z", "region": "eu-central-1",
        "resources": [], "detail": {"version": "0", "bucket": {"name": "b"},
                                    "object": {"key": KEY, "size": 1, "etag": "e",
                                               "sequencer": "00"}, "reason": "PutObject"},
    }


class Invocations:
    """Replaces moto's echoing Lambda: records each invocation and fails the chosen ones."""

    def __init__(self):
        self.calls: list[str] = []
        self.failures: dict[str, list[str]] = {}

    def fail(self, function: str, *errors: str) -> None:
        self.failures[function] = list(errors)

    def __call__(self, original: Callable) -> Callable:
        def invoke(backend, function_name, qualifier, body, headers, response_headers):
            short = function_name.rsplit(":", 1)[-1].removeprefix("facedetect-")
            self.calls.append(short)
            queue = self.failures.get(short)
            if queue:
                error = queue.pop(0)
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": error, "errorMessage": f"{error} raised"}).encode()
            return original(backend, function_name, qualifier, body, headers, response_headers)

        return invoke


@pytest.fixture
def executing(monkeypatch) -> Iterator[tuple[StackApp, Invocations, str]]:
    invocations = Invocations()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invocations(LambdaSimpleBackend.invoke))
    config = {"iam": {"load_aws_managed_policies": True},
              "stepfunctions": {"execute_state_machine": True},
              "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        app = StackApp(Connection(region="eu-central-1"), StackConfig(), sleep=lambda s: None)
        assert all(o.error is None for o in app.apply(app.plan_up()))
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="failures")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns").subscribe(
            TopicArn=app.names.topic_arn(app.names.failures_topic), Protocol="sqs",
            Endpoint=queue_arn)
        yield app, invocations, queue


def run(app: StackApp) -> dict:
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=app.names.state_machine_arn,
                              input=json.dumps(s3_event()))["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sfn.describe_execution(executionArn=arn)
        if found["status"] != "RUNNING":
            history = sfn.get_execution_history(executionArn=arn)["events"]
            entered = [e["stateEnteredEventDetails"]["name"] for e in history
                       if "stateEnteredEventDetails" in e]
            return {**found, "states": entered}
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


def failure_messages(queue: str) -> list[dict]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_definition_passes_the_states_language_validator(app, tmp_path):
    [machine] = [r for r in app.resources if r.kind == "state-machine"]
    definition = machine.definition(app.ctx)
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    statelint = Path(sys.executable).parent / "statelint"
    result = subprocess.run([str(statelint), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_success_path_runs_the_three_steps_in_order(executing):
    app, invocations, queue = executing
    result = run(app)
    assert result["status"] == "SUCCEEDED"
    assert result["states"] == ["Detect Faces", "Store Metadata", "Send Notification"]
    assert invocations.calls == ["DetectFacesLambda", "StoreMetadataLambda",
                                 "SendNotificationLambda"]
    assert failure_messages(queue) == []


def test_throttling_is_retried_and_the_execution_succeeds(executing):
    app, invocations, queue = executing
    invocations.fail("StoreMetadataLambda", "ServiceThrottledError")
    result = run(app)
    assert result["status"] == "SUCCEEDED"
    assert invocations.calls.count("StoreMetadataLambda") == 2
    assert failure_messages(queue) == []


def test_unsupported_image_is_not_retried_and_reaches_the_failure_topic(executing):
    app, invocations, queue = executing
    invocations.fail("DetectFacesLambda", "UnsupportedImageError")
    result = run(app)
    assert result["status"] == "FAILED"
    assert result["error"] == "ImageProcessingFailed"
    assert invocations.calls == ["DetectFacesLambda"]  # no retry, nothing after it
    assert result["states"] == ["Detect Faces", "Notify Failure", "Failed"]
    [message] = failure_messages(queue)
    assert KEY in message["Message"]
    assert "UnsupportedImageError" in message["Message"]
    assert message["MessageAttributes"]["error"]["Value"] == "UnsupportedImageError"


def test_a_later_step_failing_reaches_the_failure_topic_with_the_key(executing):
    app, invocations, queue = executing
    invocations.fail("SendNotificationLambda", "ConfigurationError")
    result = run(app)
    assert result["status"] == "FAILED"
    assert result["states"][-2:] == ["Notify Failure", "Failed"]
    [message] = failure_messages(queue)
    assert KEY in message["Message"]
    assert "ConfigurationError" in message["Message"]
