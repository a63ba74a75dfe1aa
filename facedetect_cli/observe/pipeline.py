"""Use the deployed pipeline: upload an image, find the execution its upload started, follow
it, and read the stored results. Only reads and one upload; the stack itself is untouched."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from facedetect_cli.aws.client import Client, from_dynamodb
from facedetect_cli.errors import FacedetectError, InputError

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
MAX_IMAGE_BYTES = 15 * 1024 * 1024  # Rekognition's limit for an image read from S3
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def is_local_emulator(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and urlparse(endpoint_url).hostname in _LOOPBACK


def check_image(path: Path) -> str:
    """The image's content type; bad input stops before anything is uploaded."""
    try:
        found = path.stat()
    except OSError as error:  # missing, a name too long, a directory not searchable...
        raise InputError(f"no such file: {path} ({error.strerror or error})") from None
    if not stat.S_ISREG(found.st_mode):
        raise InputError(f"not a file: {path}")
    content_type = IMAGE_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise InputError(f"{path.name}: only .jpg, .jpeg and .png images are analysed "
                         "(Rekognition's formats)")
    size = found.st_size
    if size == 0 or size > MAX_IMAGE_BYTES:
        raise InputError(f"{path.name}: {size} bytes; Rekognition takes 1 byte to 15 MB")
    return content_type


@dataclass
class Upload:
    bucket: str
    key: str
    etag: str
    started: datetime


@dataclass
class Execution:
    arn: str
    status: str
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    cause: str = ""

    @property
    def detection(self) -> dict[str, Any]:
        return self.output.get("detection") or {}


@dataclass(frozen=True)
class PipelineNames:
    """The deployed pipeline's parts that uploads and reads go to (told by the engine)."""

    bucket: str
    uploads_prefix: str
    table: str
    state_machine_arn: str


class Pipeline:
    def __init__(self, client: Callable[[str], Client], names: PipelineNames,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.sleep = sleep
        self.names = names
        self._inputs: dict[str, tuple[str, str] | None] = {}

    def upload(self, path: Path) -> Upload:
        content_type = check_image(path)
        key = f"{self.names.uploads_prefix}{path.name}"
        started = datetime.now(UTC)
        try:
            body = path.read_bytes()
        except OSError as error:  # unreadable: the permissions, or a file gone meanwhile
            raise InputError(f"cannot read {path}: {error.strerror or error}") from None
        stored = self.client("s3").put_object(
            Bucket=self.names.bucket, Key=key, Body=body, ContentType=content_type
        )
        return Upload(self.names.bucket, key, str(stored.get("ETag", "")).strip('"'), started)

    def _object_of(self, arn: str) -> tuple[str, str] | None:
        """The object (key, etag) an execution was started for: its input is the S3 event."""
        if arn not in self._inputs:
            found = self.client("stepfunctions").describe_execution(executionArn=arn)
            try:
                detail = json.loads(found.get("input") or "{}")["detail"]["object"]
                self._inputs[arn] = (str(detail["key"]), str(detail.get("etag", "")))
            except (KeyError, TypeError, ValueError):
                self._inputs[arn] = None
        return self._inputs[arn]

    @staticmethod
    def _started_by(upload: Upload, found: tuple[str, str] | None) -> bool:
        # The ETag tells this upload from an earlier one of the same key.
        return found is not None and found[0] == upload.key and found[1] in ("", upload.etag)

    def find_execution(self, upload: Upload, *, timeout_s: float, poll_s: float = 2.0,
                       tick: Callable[[], None] = lambda: None) -> str | None:
        """The newest execution started for this upload, waiting up to timeout_s for
        EventBridge to deliver the event."""
        sfn = self.client("stepfunctions")
        # Clocks differ a little between this machine and AWS.
        since = upload.started - timedelta(seconds=30)
        deadline = time.monotonic() + timeout_s
        while True:
            page = sfn.list_executions(stateMachineArn=self.names.state_machine_arn,
                                       maxResults=50)
            for execution in page.get("executions", []):
                if execution["startDate"] < since:
                    break  # newest first: the rest are older
                if self._started_by(upload, self._object_of(execution["executionArn"])):
                    return str(execution["executionArn"])
            if time.monotonic() >= deadline:
                return None
            tick()
            self.sleep(poll_s)

    def follow(self, arn: str, *, timeout_s: float, poll_s: float = 1.0,
               tick: Callable[[], None] = lambda: None) -> Execution:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while True:
            found = sfn.describe_execution(executionArn=arn)
            if found["status"] != "RUNNING":
                output = json.loads(found.get("output") or "{}")
                return Execution(arn, found["status"], output if isinstance(output, dict) else {},
                                 found.get("error", ""), found.get("cause", ""))
            if time.monotonic() >= deadline:
                raise FacedetectError(f"the execution is still running after {timeout_s:.0f}s: "
                                      f"{arn}")
            tick()
            self.sleep(poll_s)

    def results(self, *, key: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Stored results, newest first."""
        dynamodb = self.client("dynamodb")
        if key is not None:
            found = dynamodb.get_item(TableName=self.names.table, Key={"ImageKey": {"S": key}})
            return [from_dynamodb(found["Item"])] if "Item" in found else []
        items = [
            from_dynamodb(item)
            for page in dynamodb.pages("scan", TableName=self.names.table)
            for item in page.get("Items", [])
        ]
        items.sort(key=lambda item: str(item.get("DetectedAt", "")), reverse=True)
        return items[:limit]
