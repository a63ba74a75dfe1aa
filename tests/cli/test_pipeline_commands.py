"""`facedetect detect` and `facedetect results` (issue 5).

moto delivers no S3 event to Step Functions and runs no Lambda code, so the tests play
EventBridge's part (the upload starts an execution with the S3 event, as the rule would) and
let moto execute the definition with its echoing Lambda, the detection answer queued for the
Detect Faces task."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends

from facedetect_cli.cli import runner
from facedetect_cli.cli.main import cli

ACCOUNT, REGION = "123456789012", "eu-central-1"
BUCKET = f"facedetect-images-{ACCOUNT}-{REGION}"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
FACE = {"box": [0.12, 0.19, 0.21, 0.33], "conf": 99.99, "age": [27, 35], "emotion": "HAPPY",
        "emotionConf": 94.61, "smile": True, "eyeglasses": False}


def as_eventbridge(service, operation, params):
    """Plays the rule: an upload under uploads/ starts an execution with the S3 event."""
    if operation == "PutObject" and params.get("Key", "").startswith("uploads/"):
        event = {"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                 "account": ACCOUNT, "region": REGION, "time": "2026-11-28T09:15:42Z",
                 "detail": {"bucket": {"name": params["Bucket"]},
                            "object": {"key": params["Key"], "size": len(params["Body"]),
                                       "etag": hashlib.md5(params["Body"]).hexdigest(),
                                       "sequencer": "0065"}, "reason": "PutObject"}}

        def deliver():
            # EventBridge names each execution uniquely (moto would name every one "None").
            boto3.client("stepfunctions", region_name=REGION).start_execution(
                stateMachineArn=MACHINE, name=str(uuid.uuid4()), input=json.dumps(event))

        threading.Timer(0.05, deliver).start()
    return None


@pytest.fixture
def deployed() -> Iterator[None]:
    config = {"iam": {"load_aws_managed_policies": True},
              "stepfunctions": {"execute_state_machine": True},
              "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        runner.APP_OVERRIDES.clear()
        # Short real pauses while polling: a loop without any would starve the thread that
        # plays EventBridge of moto's request lock.
        runner.APP_OVERRIDES["sleep"] = lambda s: time.sleep(0.02)
        assert run("up").exit_code == 0
        yield
        runner.APP_OVERRIDES.clear()


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def queue_detection(faces: list[dict]) -> None:
    summary = {"bucket": BUCKET, "key": "uploads/me.png", "faceCount": len(faces),
               "faces": faces}
    lambda_simple_backends[ACCOUNT][REGION].lambda_simple_results_queue.append(
        json.dumps(summary))


def test_detect_follows_the_execution_and_prints_the_faces(deployed, tmp_path):
    image = tmp_path / "me.png"
    image.write_bytes(PNG)
    queue_detection([FACE, {**FACE, "age": [41, 49], "emotion": "CALM", "smile": False}])
    runner.APP_OVERRIDES["fault_rules"] = [as_eventbridge]
    result = run("detect", str(image), "--output", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "SUCCEEDED" and doc["key"] == "uploads/me.png"
    assert doc["faceCount"] == 2 and doc["faces"][1]["emotion"] == "CALM"
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key="uploads/me.png")
    assert stored["Body"].read() == PNG and stored["ContentType"] == "image/png"

    queue_detection([FACE])
    image.write_bytes(PNG + b"\x00")  # the same key again, another upload
    text = run("detect", str(image))
    assert text.exit_code == 0, text.stderr
    assert "1 face(s) in s3://" in text.stdout and "27-35" in text.stdout
    assert "\x1b" not in text.stdout


def test_detect_reports_a_failed_execution_and_exits_1(deployed, tmp_path, monkeypatch):
    image = tmp_path / "bad.jpg"
    image.write_bytes(b"\xff\xd8 not really a jpeg")
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def failing(self, function_name, qualifier, body, headers, response_headers):
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorType": "UnsupportedImageError",
                           "errorMessage": "Request has invalid image format"}).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", failing)
    runner.APP_OVERRIDES["fault_rules"] = [as_eventbridge]
    result = run("detect", str(image))
    assert result.exit_code == 1
    assert "the pipeline failed for s3://" in result.stderr
    assert "ImageProcessingFailed" in result.stderr


def test_detect_without_an_execution_gives_up_with_advice(deployed, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(PNG)
    result = run("detect", str(image), "--timeout", "1")  # nothing plays EventBridge here
    assert result.exit_code == 1
    assert "no execution started" in result.stderr and "five minutes" in result.stderr


@pytest.mark.parametrize(("name", "body", "message"), [
    ("missing.png", None, "no such file"),
    ("photo.gif", b"GIF89a", "only .jpg, .jpeg and .png"),
    ("empty.jpg", b"", "0 bytes"),
])
def test_detect_refuses_bad_images_before_any_call(deployed, tmp_path, name, body, message):
    image = tmp_path / name
    if body is not None:
        image.write_bytes(body)
    result = run("detect", str(image))
    assert result.exit_code == 2
    assert message in result.stderr
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_detect_no_wait_uploads_and_returns(deployed, tmp_path):
    image = tmp_path / "quick.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 jpeg bytes")
    result = run("detect", str(image), "--no-wait", "--output", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "UPLOADED"
    assert boto3.client("s3").head_object(Bucket=BUCKET, Key="uploads/quick.jpg")


def put_result(key: str, detected_at: str, faces: int) -> None:
    boto3.client("dynamodb").put_item(TableName="facedetect-FaceMetadataTable", Item={
        "ImageKey": {"S": key}, "Bucket": {"S": BUCKET}, "FaceCount": {"N": str(faces)},
        "DetectedAt": {"S": detected_at}, "Size": {"N": "1234"},
        "Faces": {"L": [{"M": {"age": {"L": [{"N": "30"}, {"N": "38"}]},
                               "emotion": {"S": "HAPPY"}, "conf": {"N": "99.5"}}}] * faces},
    })


def test_results_newest_first_with_limit_and_key(deployed):
    put_result("uploads/old.jpg", "2026-11-27T10:00:00.000Z", 1)
    put_result("uploads/new.jpg", "2026-11-28T10:00:00.000Z", 2)
    put_result("uploads/mid.jpg", "2026-11-28T08:00:00.000Z", 0)

    listed = run("results", "--output", "json")
    assert listed.exit_code == 0
    keys = [item["ImageKey"] for item in json.loads(listed.stdout)["results"]]
    assert keys == ["uploads/new.jpg", "uploads/mid.jpg", "uploads/old.jpg"]

    limited = run("results", "--limit", "1", "--output", "json")
    assert [i["ImageKey"] for i in json.loads(limited.stdout)["results"]] == ["uploads/new.jpg"]

    one = run("results", "--key", "uploads/new.jpg", "--output", "json")
    [item] = json.loads(one.stdout)["results"]
    assert item["FaceCount"] == 2 and item["Faces"][0]["age"] == [30, 38]

    table = run("results")
    assert table.stdout.index("uploads/new.jpg") < table.stdout.index("uploads/old.jpg")
    missing = run("results", "--key", "uploads/none.jpg")
    assert missing.exit_code == 1 and "no stored result" in missing.stderr


def test_results_without_a_stack_says_to_run_up(invoke):
    result = invoke("results")
    assert result.exit_code == 1
    assert "run `facedetect up` first" in result.stderr
