"""detect_faces against moto's S3, with Rekognition stubbed by botocore's Stubber."""

import json
import re

import boto3
import pipeline_common
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from handler_testkit import (
    BUCKET,
    FAKE_SECRET,
    FIXTURE_KEY,
    FIXTURE_OBJECT,
    REGION,
    STATE_LIMIT,
    detect_response,
    expect_detect,
    expect_detect_error,
    load_fixture,
    log_lines,
    object_created_event,
    state_bytes,
)


def test_fixture_event_gives_compact_summary(detect_faces, rekognition, capsys):
    expect_detect(rekognition)

    out = detect_faces.lambda_handler(load_fixture("s3-object-created.eventbridge.json"), None)

    assert {k: v for k, v in out.items() if k not in ("faces", "detectedAt")} == {
        **FIXTURE_OBJECT,
        "faceCount": 2,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out["detectedAt"])
    assert out["faces"][0] == {
        "box": [0.1207, 0.1893, 0.2134, 0.3312],
        "conf": 100.0,
        "age": [27, 35],
        "emotion": "HAPPY",
        "emotionConf": 94.61,
        "smile": True,
        "eyeglasses": False,
        "sunglasses": False,
        "beard": False,
        "mustache": False,
        "eyesOpen": True,
        "mouthOpen": True,
        "occluded": False,
    }
    assert out["faces"][1]["emotion"] == "CALM"
    assert out["faces"][1]["eyeglasses"] is True
    # Landmarks, pose, quality and the gender guess stay behind: they would only bloat state.
    assert "Landmarks" not in json.dumps(out)
    assert "gender" not in json.dumps(out).lower()
    assert log_lines(capsys)[0]["faceCount"] == 2


# Does EventBridge deliver detail.object.key URL-encoded? Decision: no, the key is used exactly
# as delivered. A decoded key (unquote_plus) is tried once, and only when Rekognition reports the
# object as missing (InvalidS3ObjectException) and decoding changes the key; so a key that truly
# contains '+' or '%' is never corrupted, and an encoded key would still be found.
# Evidence:
# - AWS S3 User Guide, "EventBridge event message structure"
#   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html) shows
#   detail.object.key with no word on encoding, whereas the classic notification page
#   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)
#   says explicitly that the key "is URL encoded", "red flower.jpg" becoming "red+flower.jpg".
# - aws-solutions-library-samples/guidance-for-medialake-on-aws pull request 21 (2026-03,
#   https://github.com/aws-solutions-library-samples/guidance-for-medialake-on-aws/pull/21)
#   tested on AWS with keys "%2B%20%%%.png", "%2B++ %20.mp3", "ARTISTS K to O.png" and
#   "test+b.png": classic S3 events need unquote_plus, EventBridge keys must be used as-is; its
#   test class TestEventBridgeKeyNotDecoded pins that down.
# - moto makes the same split: quote_plus for classic notifications (getmoto/moto PR 9060), the
#   raw key for EventBridge (moto/s3/notifications.py, _send_event_bridge_message).
# Counter-evidence: Powertools for AWS Lambda (Python) applies unquote_plus in
# S3EventBridgeNotificationObject.key, which would turn an object "a+b.jpg" into "a b.jpg";
# no AWS document backs that, so the handler does not copy it.
SPECIAL_KEYS = [
    "uploads/team photo 2026.jpg",
    "uploads/a+b.jpg",
    "uploads/c++ meetup + friends.png",
    "uploads/100% real.jpeg",
    "uploads/already%20encoded%2B.jpg",
    "uploads/Zoë Ünïcödé/写真 2026.JPG",
]


@pytest.mark.parametrize("key", SPECIAL_KEYS)
def test_key_is_used_exactly_as_delivered(stack, detect_faces, rekognition, key):
    event = stack.upload(key)
    version = event["detail"]["object"]["version-id"]
    # One call with the raw key: had the handler decoded it first, the Stubber would reject
    # the request for not matching these expected parameters.
    expect_detect(rekognition, key=key, version=version)

    out = detect_faces.lambda_handler(event, None)

    assert out["key"] == key
    # The key the summary carries names the object that is really in the bucket.
    head = stack.s3.head_object(Bucket=BUCKET, Key=out["key"], VersionId=out["version"])
    assert head["ContentLength"] == out["size"]


def test_url_encoded_key_falls_back_to_the_decoded_key(stack, detect_faces, rekognition, capsys):
    real_key = "uploads/team photo + 2026 ü.jpg"
    event = stack.upload(real_key)
    version = event["detail"]["object"]["version-id"]
    encoded = "uploads/team+photo+%2B+2026+%C3%BC.jpg"  # classic S3 notification encoding
    event["detail"]["object"]["key"] = encoded
    expect_detect_error(rekognition, "InvalidS3ObjectException", key=encoded, version=version)
    expect_detect(rekognition, key=real_key, version=version)

    out = detect_faces.lambda_handler(event, None)

    assert out["key"] == real_key
    assert stack.s3.head_object(Bucket=BUCKET, Key=out["key"])["ContentLength"] == out["size"]
    (line,) = log_lines(capsys)
    assert line["keyDecoded"] is True
    assert line["key"] == real_key


def test_deleted_object_is_unsupported_without_a_second_try(stack, detect_faces, rekognition):
    event = stack.upload("uploads/gone.jpg")
    version = event["detail"]["object"]["version-id"]
    stack.s3.delete_object(Bucket=BUCKET, Key="uploads/gone.jpg", VersionId=version)
    # What Rekognition answers when the object (version) does not exist.
    expect_detect_error(
        rekognition,
        "InvalidS3ObjectException",
        key="uploads/gone.jpg",
        version=version,
        message="Unable to get object metadata from S3. Check object key, region and/or "
        "access permissions.",
    )

    with pytest.raises(pipeline_common.UnsupportedImageError, match="InvalidS3ObjectException"):
        detect_faces.lambda_handler(event, None)


def test_deleted_object_with_encodable_key_tries_both_keys_then_fails(
    stack, detect_faces, rekognition
):
    event = stack.upload("uploads/gone+away.jpg")
    version = event["detail"]["object"]["version-id"]
    stack.s3.delete_object(Bucket=BUCKET, Key="uploads/gone+away.jpg", VersionId=version)
    expect_detect_error(
        rekognition, "InvalidS3ObjectException", key="uploads/gone+away.jpg", version=version
    )
    expect_detect_error(
        rekognition, "InvalidS3ObjectException", key="uploads/gone away.jpg", version=version
    )

    with pytest.raises(pipeline_common.UnsupportedImageError) as raised:
        detect_faces.lambda_handler(event, None)

    assert "uploads/gone+away.jpg" in str(raised.value)


@pytest.mark.parametrize(
    "code",
    [
        "InvalidImageFormatException",
        "ImageTooLargeException",
        "InvalidS3ObjectException",
        "InvalidParameterException",
    ],
)
def test_images_rekognition_rejects_raise_unsupported_image_error(
    stack, detect_faces, rekognition, code
):
    event = stack.upload("uploads/photo.jpg", body=b"this is text, not a JPEG")
    expect_detect_error(
        rekognition, code, key="uploads/photo.jpg", version=event["detail"]["object"]["version-id"]
    )

    with pytest.raises(pipeline_common.UnsupportedImageError, match=code):
        detect_faces.lambda_handler(event, None)


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_rekognition_throttling_raises_retryable_error(stack, detect_faces, rekognition, code):
    event = stack.upload("uploads/photo.png")
    expect_detect_error(
        rekognition, code, key="uploads/photo.png", version=event["detail"]["object"]["version-id"]
    )

    with pytest.raises(pipeline_common.ServiceThrottledError, match=code):
        detect_faces.lambda_handler(event, None)


def test_other_rekognition_errors_are_not_disguised(stack, detect_faces, rekognition):
    # A missing IAM permission is neither a bad image nor throttling: it must surface as is.
    event = stack.upload("uploads/photo.png")
    expect_detect_error(
        rekognition,
        "AccessDeniedException",
        key="uploads/photo.png",
        version=event["detail"]["object"]["version-id"],
    )

    with pytest.raises(ClientError) as raised:
        detect_faces.lambda_handler(event, None)

    assert not isinstance(raised.value, pipeline_common.PipelineError)


@pytest.mark.parametrize("key", ["uploads/notes.txt", "uploads/photo.jpg.exe", "uploads/scan.gif"])
def test_non_image_is_rejected_without_calling_rekognition(stack, detect_faces, rekognition, key):
    # No stubbed response: a Rekognition call would fail the test with UnStubbedResponseError.
    with pytest.raises(pipeline_common.UnsupportedImageError, match="not a JPEG or PNG"):
        detect_faces.lambda_handler(stack.upload(key), None)


@pytest.mark.parametrize("size", [0, 15 * 1024 * 1024 + 1])
def test_empty_or_oversized_object_is_rejected_without_calling_rekognition(
    detect_faces, rekognition, size
):
    with pytest.raises(pipeline_common.UnsupportedImageError):
        detect_faces.lambda_handler(object_created_event(size=size), None)


def test_zero_faces_is_a_normal_result(stack, detect_faces, rekognition):
    event = stack.upload("uploads/landscape.jpg")
    expect_detect(
        rekognition,
        key="uploads/landscape.jpg",
        version=event["detail"]["object"]["version-id"],
        response={"FaceDetails": []},
    )

    out = detect_faces.lambda_handler(event, None)

    assert out["faceCount"] == 0
    assert out["faces"] == []


def test_unversioned_bucket_event_sends_no_version(detect_faces, rekognition):
    event = object_created_event(version=None)
    expect_detect(rekognition, version=None)

    out = detect_faces.lambda_handler(event, None)

    assert out["version"] is None


def test_faces_without_optional_attributes(detect_faces, rekognition):
    # Rekognition's DEFAULT attributes, e.g. from an older API: no age, emotions or yes/no.
    minimal = {
        "FaceDetails": [
            {
                "BoundingBox": {"Width": 0.5, "Height": 0.25, "Left": -0.01, "Top": 0.75},
                "Confidence": 87.123456,
            }
        ]
    }
    expect_detect(rekognition, response=minimal)

    out = detect_faces.lambda_handler(object_created_event(), None)

    assert out["faces"] == [{"box": [-0.01, 0.75, 0.5, 0.25], "conf": 87.12}]


def test_hundred_faces_stay_far_below_the_state_limit(detect_faces, rekognition):
    all_landmarks = list(
        pipeline_common.client("rekognition").meta.service_model.shape_for("LandmarkType").enum
    )
    raw = detect_response(faces=100, landmarks=all_landmarks)
    expect_detect(rekognition, response=raw)

    out = detect_faces.lambda_handler(object_created_event(), None)

    assert out["faceCount"] == 100
    # The raw answer would not fit into a state (States.DataLimitExceeded, uncatchable) ...
    assert state_bytes(raw) > STATE_LIMIT
    # ... the summary uses a small fraction of it.
    assert state_bytes(out) < 64 * 1024
    assert all(len(str(v)) <= 7 for face in out["faces"] for v in face["box"])


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "Object Deleted", "detail": {}},
        {"detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}, "object": {}}},
        {"detail-type": "Object Created", "detail": {"object": {"key": "a.jpg"}}},
        ["not", "an", "event"],
    ],
)
def test_malformed_events_raise_invalid_event_error(detect_faces, event):
    with pytest.raises(pipeline_common.InvalidEventError):
        detect_faces.lambda_handler(event, None)


def test_one_json_log_line_per_invocation(detect_faces, rekognition, capsys):
    class Context:
        aws_request_id = "11111111-2222-3333-4444-555555555555"

    expect_detect(rekognition)
    detect_faces.lambda_handler(object_created_event(), Context())
    expect_detect_error(rekognition, "InvalidImageFormatException")
    with pytest.raises(pipeline_common.UnsupportedImageError):
        detect_faces.lambda_handler(object_created_event(), Context())

    output = capsys.readouterr().out
    lines = output.splitlines()
    assert len(lines) == 2
    ok, failed = (json.loads(line) for line in lines)
    assert ok["handler"] == "detect_faces"
    assert ok["key"] == FIXTURE_KEY
    assert ok["faceCount"] == 2
    assert ok["requestId"] == Context.aws_request_id
    assert isinstance(ok["durationMs"], float)
    assert "error" not in ok
    assert failed["error"] == "UnsupportedImageError"
    assert failed["key"] == FIXTURE_KEY
    assert FAKE_SECRET not in output
    assert "FaceDetails" not in output


def test_rekognition_client_is_created_once_per_container(detect_faces, monkeypatch):
    created = []
    real_client = boto3.client

    def counting_client(service, *args, **kwargs):
        client = real_client(service, *args, **kwargs)
        if service == "rekognition":
            created.append(client)
            stubber = Stubber(client)
            for _ in range(3):
                expect_detect(stubber)
            stubber.activate()
        return client

    pipeline_common.reset_clients()  # a new container
    monkeypatch.setattr(boto3, "client", counting_client)
    try:
        for _ in range(3):
            assert detect_faces.lambda_handler(object_created_event(), None)["faceCount"] == 2
    finally:
        pipeline_common.reset_clients()  # the stubbed client must not outlive this test

    assert len(created) == 1
    assert created[0].meta.region_name == REGION
