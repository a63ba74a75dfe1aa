"""The three handlers chained the way state_machine.json chains them.

moto cannot run Lambda code without Docker, and its Step Functions echo task inputs, so these
tests walk the real definition with a small interpreter of the states it uses (Task with
Retry/Catch, Pass with Parameters, Fail) and call the handlers in-process. What comes out is
read from moto: the item in the table and the messages a subscriber of each topic receives.
"""

import json
import re

import pipeline_common
import pytest
from handler_testkit import (
    BUCKET,
    FIXTURE_KEY,
    ITEM_LIMIT,
    REPO,
    STATE_LIMIT,
    detect_response,
    dynamodb_item_size,
    expect_detect,
    expect_detect_error,
    load_fixture,
    state_bytes,
)

LAMBDA_PLACEHOLDERS = {
    "DetectFacesFunctionArn": "detect_faces",
    "StoreMetadataFunctionArn": "store_metadata",
    "SendNotificationFunctionArn": "send_notification",
}
ACCOUNT_ARN = "arn:aws:lambda:eu-central-1:123456789012:function:facedetect-test-"


class Execution:
    """Just enough of Step Functions for this definition; Retry waits are skipped."""

    def __init__(self, definition: dict, handlers: dict, sns) -> None:
        self.definition = definition
        self.handlers = handlers
        self.sns = sns
        self.visited: list[str] = []
        self.outputs: dict[str, object] = {}

    def run(self, execution_input: dict) -> tuple[str, object]:
        name, data = self.definition["StartAt"], execution_input
        assert state_bytes(execution_input) < STATE_LIMIT
        while True:
            state = self.definition["States"][name]
            self.visited.append(name)
            if state["Type"] == "Fail":
                return "FAILED", data
            if state["Type"] == "Pass":
                data = resolve(state.get("Parameters"), data) if "Parameters" in state else data
            elif state["Type"] == "Task":
                try:
                    result = self.task(state, select(state.get("InputPath", "$"), data))
                except Exception as exc:
                    catcher = next(
                        c
                        for c in state.get("Catch", [])
                        if type(exc).__name__ in c["ErrorEquals"]
                        or "States.ALL" in c["ErrorEquals"]
                    )
                    error = {
                        "Error": type(exc).__name__,
                        "Cause": json.dumps(
                            {"errorMessage": str(exc), "errorType": type(exc).__name__}
                        ),
                    }
                    data = place(catcher.get("ResultPath", "$"), data, error)
                    name = catcher["Next"]
                    continue
                data = place(state.get("ResultPath", "$"), data, result)
            else:
                raise AssertionError(f"state type {state['Type']} is not interpreted")
            # The limit Step Functions enforces on every state's output; exceeding it fails the
            # execution with States.DataLimitExceeded, which no Catch can handle.
            assert state_bytes(data) < STATE_LIMIT, name
            self.outputs[name] = data
            if state.get("End"):
                return "SUCCEEDED", data
            name = state["Next"]

    def task(self, state: dict, data):
        resource = state["Resource"]
        if resource == "arn:aws:states:::sns:publish":
            return self.sns.publish(**resolve(state["Parameters"], data))
        handler = self.handlers[resource.removeprefix(ACCOUNT_ARN)]
        attempts: dict[int, int] = {}
        while True:
            try:
                # Each attempt gets its own copy, as each Lambda invocation gets its own JSON.
                return handler.lambda_handler(json.loads(json.dumps(data)), None)
            except Exception as exc:
                for number, retrier in enumerate(state.get("Retry", [])):
                    if type(exc).__name__ in retrier["ErrorEquals"]:
                        attempts[number] = attempts.get(number, 0) + 1
                        if attempts[number] <= retrier["MaxAttempts"]:
                            break
                        raise
                else:
                    raise


def select(path: str, data):
    """InputPath: "$" or a "$.field" path."""
    return data if path == "$" else evaluate(path, data)


def place(path, data, result):
    """ResultPath: null discards the result, "$" replaces the input, "$.field" adds it."""
    if path is None:
        return data
    if path == "$":
        return result
    assert re.fullmatch(r"\$\.\w+", path), path
    return {**data, path[2:]: result}


def resolve(parameters, data):
    """Parameters with "key.$" paths and States.Format, as this definition uses them."""
    if isinstance(parameters, dict):
        resolved = {}
        for key, value in parameters.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = evaluate(value, data)
            else:
                resolved[key] = resolve(value, data)
        return resolved
    return parameters


def evaluate(expression: str, data):
    match = re.fullmatch(r"States\.Format\('(.*)', (.*)\)", expression, re.DOTALL)
    if match:
        template, args = match.groups()
        values = [evaluate(arg.strip(), data) for arg in args.split(",")]
        for value in values:
            template = template.replace("{}", str(value), 1)
        return template
    assert expression.startswith("$."), expression
    for part in expression[2:].split("."):
        data = data[part]  # a missing field fails the state (States.Runtime) in AWS too
    return data


@pytest.fixture
def pipeline(stack, detect_faces, store_metadata, send_notification):
    failure_topic = stack.sns.create_topic(Name="facedetect-test-failures")["TopicArn"]
    failures_queue = stack.subscribe_queue("facedetect-test-failures", topic_arn=failure_topic)
    values = {"StackName": "test", "FailureTopicArn": failure_topic}
    values.update({name: ACCOUNT_ARN + module for name, module in LAMBDA_PLACEHOLDERS.items()})
    text = (REPO / "state_machine.json").read_text(encoding="utf-8")
    # Only ${Name} placeholders: the definition's JSONPaths ("$.key") stay as they are.
    definition = json.loads(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text))
    handlers = {
        "detect_faces": detect_faces,
        "store_metadata": store_metadata,
        "send_notification": send_notification,
    }

    def run(event: dict) -> tuple[str, object, Execution]:
        execution = Execution(definition, handlers, stack.sns)
        status, output = execution.run(event)
        return status, output, execution

    run.failures_queue = failures_queue
    return run


HAPPY_PATH = ["Detect Faces", "Store Metadata", "Send Notification"]


def test_fixture_event_flows_to_item_and_message(stack, pipeline, rekognition):
    expect_detect(rekognition)

    status, output, execution = pipeline(load_fixture("s3-object-created.eventbridge.json"))

    assert status == "SUCCEEDED"
    assert execution.visited == HAPPY_PATH
    # The S3 event stays at the root of every state (the failure branch reads the bucket and
    # key there); the detection travels beside it, replaced by Store Metadata's summary.
    for name in HAPPY_PATH:
        assert execution.outputs[name]["detail"]["object"]["key"] == FIXTURE_KEY
        assert execution.outputs[name]["detection"]["bucket"] == BUCKET
        assert execution.outputs[name]["detection"]["key"] == FIXTURE_KEY
    assert execution.outputs["Store Metadata"]["detection"]["stored"] is True
    item = stack.item(FIXTURE_KEY)
    assert item["FaceCount"] == {"N": "2"}
    assert item["Bucket"] == {"S": BUCKET}
    (message,) = stack.messages()
    assert message["Subject"] == "facedetect: 2 faces in uploads/team photo 2026.jpg"
    assert output["notification"] == {
        "bucket": BUCKET,
        "key": FIXTURE_KEY,
        "faceCount": 2,
        "published": True,
        "messageId": message["MessageId"],
    }


def test_hundred_faces_fit_every_limit(stack, pipeline, rekognition):
    landmarks = list(
        pipeline_common.client("rekognition").meta.service_model.shape_for("LandmarkType").enum
    )
    expect_detect(rekognition, response=detect_response(faces=100, landmarks=landmarks))

    status, _, execution = pipeline(load_fixture("s3-object-created.eventbridge.json"))

    assert status == "SUCCEEDED"
    for name in HAPPY_PATH:
        assert state_bytes(execution.outputs[name]) < 64 * 1024, name
    item = stack.item(FIXTURE_KEY)
    assert len(item["Faces"]["L"]) == 100
    assert dynamodb_item_size(item) < ITEM_LIMIT / 10
    (message,) = stack.messages()
    assert message["MessageAttributes"]["faceCount"]["Value"] == "100"
    assert len(message["Message"].encode()) < 256 * 1024


def test_zero_faces_flow_through(stack, pipeline, rekognition):
    expect_detect(rekognition, response={"FaceDetails": []})

    status, output, _ = pipeline(load_fixture("s3-object-created.eventbridge.json"))

    assert status == "SUCCEEDED"
    assert output["notification"]["faceCount"] == 0
    assert stack.item(FIXTURE_KEY)["Faces"] == {"L": []}
    assert stack.messages()[0]["Subject"].startswith("facedetect: no faces in ")


def test_out_of_order_events_keep_the_newest_result(stack, pipeline, rekognition):
    older = stack.upload("uploads/portrait.png", body=b"\x89PNG first upload")
    newer = stack.upload("uploads/portrait.png", body=b"\x89PNG second upload, replaces it")
    older["detail"]["object"]["sequencer"] = "0065A1B2C3D4E5F6A7"
    newer["detail"]["object"]["sequencer"] = "0065A1B2C3D4E5F6B8"
    for event, faces in ((newer, 1), (older, 3)):
        expect_detect(
            rekognition,
            key="uploads/portrait.png",
            version=event["detail"]["object"]["version-id"],
            response=detect_response(faces=faces),
        )

    first = pipeline(newer)
    late = pipeline(older)

    assert first[0] == late[0] == "SUCCEEDED"
    assert late[2].outputs["Store Metadata"]["detection"]["stale"] is True
    assert late[1]["notification"] == {
        "bucket": BUCKET,
        "key": "uploads/portrait.png",
        "faceCount": 3,
        "published": False,
        "reason": "stale",
    }
    item = stack.item("uploads/portrait.png")
    assert item["VersionId"] == {"S": newer["detail"]["object"]["version-id"]}
    assert item["FaceCount"] == {"N": "1"}
    assert [m["MessageAttributes"]["faceCount"]["Value"] for m in stack.messages()] == ["1"]


def test_redelivered_event_stores_once_and_stays_consistent(stack, pipeline, rekognition):
    event = stack.upload("uploads/again.jpg")
    for _ in range(2):
        expect_detect(
            rekognition, key="uploads/again.jpg", version=event["detail"]["object"]["version-id"]
        )

    assert pipeline(event)[0] == "SUCCEEDED"
    stored = stack.item("uploads/again.jpg")
    assert pipeline(event)[0] == "SUCCEEDED"

    assert stack.item_count() == 1
    assert stack.item("uploads/again.jpg")["Faces"] == stored["Faces"]


def test_unsupported_image_goes_to_the_failure_topic(stack, pipeline, rekognition):
    event = stack.upload("uploads/not really.jpg", body=b"plain text")
    expect_detect_error(
        rekognition,
        "InvalidImageFormatException",
        key="uploads/not really.jpg",
        version=event["detail"]["object"]["version-id"],
        message="Request has invalid image format",
    )

    status, _, execution = pipeline(event)

    assert status == "FAILED"
    assert execution.visited == ["Detect Faces", "Notify Failure", "Failed"]
    assert stack.item_count() == 0
    assert stack.messages() == []
    (failure,) = stack.messages(pipeline.failures_queue)
    assert failure["MessageAttributes"]["error"]["Value"] == "UnsupportedImageError"
    assert failure["MessageAttributes"]["bucket"]["Value"] == BUCKET
    assert "The image uploads/not really.jpg in bucket" in failure["Message"]
    assert "InvalidImageFormatException" in failure["Message"]


def test_throttled_detection_is_retried_then_succeeds(stack, pipeline, rekognition):
    for code in ("ThrottlingException", "ProvisionedThroughputExceededException"):
        expect_detect_error(rekognition, code)
    expect_detect(rekognition)

    status, _, execution = pipeline(load_fixture("s3-object-created.eventbridge.json"))

    assert status == "SUCCEEDED"
    assert execution.visited == HAPPY_PATH
    assert stack.item(FIXTURE_KEY)["FaceCount"] == {"N": "2"}
    assert len(stack.messages()) == 1


def test_store_failure_reports_the_key_from_the_detect_output(stack, pipeline, rekognition):
    expect_detect(rekognition)
    stack.dynamodb.delete_table(TableName=stack.table)

    status, _, execution = pipeline(load_fixture("s3-object-created.eventbridge.json"))

    assert status == "FAILED"
    assert execution.visited == ["Detect Faces", "Store Metadata", "Notify Failure", "Failed"]
    (failure,) = stack.messages(pipeline.failures_queue)
    assert failure["MessageAttributes"]["error"]["Value"] == "ConfigurationError"
    assert f"The image {FIXTURE_KEY} in bucket {BUCKET}" in failure["Message"]
    assert stack.messages() == []
