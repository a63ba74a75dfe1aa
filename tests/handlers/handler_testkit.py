"""Helpers shared by the handler tests (kept out of conftest.py so tests can import them).

The handlers are plain modules at the root of each Lambda zip (no package), so importing this
module also puts handlers/ on sys.path, and the tests import the handlers by module name as the
Lambda runtime does.
"""

import copy
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[2]
HANDLERS_DIR = REPO / "handlers"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REGION = "eu-central-1"
BUCKET = "facedetect-images-123456789012-eu-central-1"
TABLE = "facedetect-test-faces"
FIXTURE_KEY = "uploads/team photo 2026.jpg"
FIXTURE_VERSION = "Qx7.pL2aR9nT4vW8yZ1bC3dE5fG6hJ0k"
# The uploaded object as the fixture event describes it, and as every step passes it on.
FIXTURE_OBJECT = {
    "bucket": BUCKET,
    "key": FIXTURE_KEY,
    "version": FIXTURE_VERSION,
    "etag": "9f2b1a6c0d3e4f5a6b7c8d9e0f1a2b3c",
    "size": 734211,
    "sequencer": "00675A2B3C4D5E6F70",
    "eventTime": "2026-11-28T09:15:42Z",
}
FAKE_SECRET = "fake-secret-key-for-tests"
STATE_LIMIT = 262_144  # Step Functions: 256 KiB per state input/output
ITEM_LIMIT = 400 * 1024  # DynamoDB: 400 KB per item

if str(HANDLERS_DIR) not in sys.path:
    sys.path.insert(0, str(HANDLERS_DIR))


def import_fresh(name: str) -> Any:
    """Import or re-import a handler module, re-running its cold-start code."""
    module = sys.modules.get(name)
    return importlib.reload(module) if module else importlib.import_module(name)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def object_created_event(
    key: str = FIXTURE_KEY,
    size: int | None = 734211,
    etag: str | None = "9f2b1a6c0d3e4f5a6b7c8d9e0f1a2b3c",
    version: str | None = FIXTURE_VERSION,
    sequencer: str | None = "00675A2B3C4D5E6F70",
    bucket: str = BUCKET,
) -> dict:
    """The fixture event for another object; fields set to None are absent, as S3 does."""
    event = load_fixture("s3-object-created.eventbridge.json")
    event["detail"]["bucket"]["name"] = bucket
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    obj = {"key": key, "size": size, "etag": etag, "version-id": version, "sequencer": sequencer}
    event["detail"]["object"] = {k: v for k, v in obj.items() if v is not None}
    return event


def detect_response(faces: int | None = None, landmarks: list[str] | None = None) -> dict:
    """A DetectFaces response shaped like the fixture, optionally with `faces` faces.

    Copies are spread over the image and given every landmark type the Rekognition model
    knows, as a real response with Attributes=["ALL"] has.
    """
    response = load_fixture("detect-faces.response.json")
    if faces is None:
        return response
    template = response["FaceDetails"]
    details = []
    for i in range(faces):
        face = copy.deepcopy(template[i % len(template)])
        face["BoundingBox"] = {
            "Width": 0.0731 + (i % 7) / 1000,
            "Height": 0.0917 + (i % 5) / 1000,
            "Left": (i % 10) / 10 + 0.01234567,
            "Top": (i // 10) / 10 + 0.00987654,
        }
        face["Confidence"] = 99.0 + (i % 100) / 101
        if landmarks:
            face["Landmarks"] = [
                {"Type": name, "X": 0.123456789 + j / 1000, "Y": 0.987654321 - j / 1000}
                for j, name in enumerate(landmarks)
            ]
        details.append(face)
    response["FaceDetails"] = details
    return response


def s3_object(key: str, version: str | None, bucket: str = BUCKET) -> dict:
    obj = {"Bucket": bucket, "Name": key}
    if version:
        obj["Version"] = version
    return obj


def expect_detect(
    stubber: Stubber,
    key: str = FIXTURE_KEY,
    response: dict | None = None,
    version: str | None = FIXTURE_VERSION,
    bucket: str = BUCKET,
) -> None:
    """Stub one DetectFaces call and assert its request: this object, this version, ALL."""
    stubber.add_response(
        "detect_faces",
        response if response is not None else detect_response(),
        expected_params={
            "Image": {"S3Object": s3_object(key, version, bucket)},
            "Attributes": ["ALL"],
        },
    )


def expect_detect_error(
    stubber: Stubber,
    code: str,
    key: str = FIXTURE_KEY,
    version: str | None = FIXTURE_VERSION,
    status: int = 400,
    message: str = "stubbed by the test",
) -> None:
    stubber.add_client_error(
        "detect_faces",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params={"Image": {"S3Object": s3_object(key, version)}, "Attributes": ["ALL"]},
    )


class Stack:
    """The stack's resources in moto, created on demand as the provisioning CLI would.

    Each test pays only for the services it touches, which keeps the suite fast.
    """

    def __init__(self, clients: dict | None = None) -> None:
        self._clients = {} if clients is None else clients
        self.bucket = BUCKET
        self.table = TABLE
        self.topic_arn = ""
        self.queue_url = ""
        self._bucket_ready = False

    @property
    def s3(self) -> Any:
        return self._client("s3")

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @property
    def sns(self) -> Any:
        return self._client("sns")

    @property
    def sqs(self) -> Any:
        return self._client("sqs")

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    def create_bucket(self) -> None:
        if self._bucket_ready:
            return
        self.s3.create_bucket(
            Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        self.s3.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        self._bucket_ready = True

    def create_table(self) -> None:
        self.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "ImageKey", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "ImageKey", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def create_topic(self) -> None:
        """The results topic with one e-mail-like subscriber: an SQS queue."""
        self.topic_arn = self.sns.create_topic(Name="facedetect-test-results")["TopicArn"]
        self.queue_url = self.subscribe_queue("facedetect-test-subscriber")

    def upload(self, key: str, body: bytes = b"\xff\xd8\xff\xe0 stand-in JPEG", **event) -> dict:
        """Put an object and return the EventBridge event S3 sends for it."""
        self.create_bucket()
        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return object_created_event(
            key=key,
            size=len(body),
            etag=put["ETag"].strip('"'),
            version=put.get("VersionId"),
            **event,
        )

    def item(self, key: str) -> dict | None:
        """The item as DynamoDB stores it (low-level attribute-value format)."""
        return self.dynamodb.get_item(
            TableName=self.table, Key={"ImageKey": {"S": key}}, ConsistentRead=True
        ).get("Item")

    def item_count(self) -> int:
        return self.dynamodb.scan(TableName=self.table, Select="COUNT")["Count"]

    def subscribe_queue(self, name: str, topic_arn: str | None = None, **attributes) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(
            TopicArn=topic_arn or self.topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            # Off: the subscriber gets the SNS envelope with Subject and MessageAttributes.
            Attributes={"RawMessageDelivery": "false", **attributes},
        )
        return url

    def messages(self, queue_url: str | None = None) -> list[dict]:
        """Every SNS envelope that reached the queue, oldest first."""
        url = queue_url or self.queue_url
        envelopes = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return envelopes
            for message in batch:
                envelopes.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def log_lines(capsys) -> list[dict]:
    """The JSON lines the handlers printed since the last call."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def state_bytes(payload: Any) -> int:
    """Size as Step Functions counts it: the UTF-8 bytes of the JSON text."""
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def dynamodb_item_size(item: dict) -> int:
    """Upper bound of an item's size by DynamoDB's documented rules.

    Names and strings count their UTF-8 bytes; a number at most 21 bytes (1 per 2 significant
    digits + 1); booleans and nulls 1; lists and maps 3 bytes plus 1 per element.
    """

    def value_size(value: dict) -> int:
        ((kind, data),) = value.items()
        if kind == "S":
            return len(data.encode("utf-8"))
        if kind == "N":
            digits = len(data.lstrip("-").replace(".", "").lstrip("0")) or 1
            return min(21, (digits + 1) // 2 + 1)
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "L":
            return 3 + sum(value_size(v) + 1 for v in data)
        if kind == "M":
            return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in data.items())
        raise AssertionError(f"unexpected attribute type {kind}")

    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())
