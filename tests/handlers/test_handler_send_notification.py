"""send_notification against moto's SNS, read back as a subscriber does: an SQS queue
subscribed to the topic with RawMessageDelivery off, so each message is the SNS envelope with
Subject, Message and MessageAttributes."""

import copy
import json

import pipeline_common
import pytest
from botocore.stub import Stubber
from handler_testkit import (
    BUCKET,
    FIXTURE_KEY,
    FIXTURE_OBJECT,
    FIXTURE_VERSION,
    import_fresh,
    log_lines,
)

STORED = {
    **FIXTURE_OBJECT,
    "detectedAt": "2026-11-28T09:15:43.512Z",
    "faceCount": 2,
    "faces": [
        {
            "box": [0.1207, 0.1893, 0.2134, 0.3312],
            "conf": 100.0,
            "age": [27, 35],
            "emotion": "HAPPY",
            "emotionConf": 94.61,
            "smile": True,
            "eyeglasses": False,
            "eyesOpen": True,
            "mouthOpen": True,
            "occluded": False,
        },
        {
            "box": [0.6102, 0.2215, 0.1788, 0.2921],
            "conf": 99.87,
            "age": [41, 49],
            "emotion": "CALM",
            "emotionConf": 81.2,
            "eyeglasses": True,
            "beard": True,
            "eyesOpen": False,
        },
    ],
    "stored": True,
    "stale": False,
}


def stored(**changes) -> dict:
    result = copy.deepcopy(STORED)
    result.update(changes)
    return result


def test_publishes_readable_summary_with_filterable_attributes(stack, send_notification):
    out = send_notification.lambda_handler(stored(), None)

    (envelope,) = stack.messages()
    assert out == {
        "bucket": BUCKET,
        "key": FIXTURE_KEY,
        "faceCount": 2,
        "published": True,
        "messageId": envelope["MessageId"],
    }
    assert envelope["TopicArn"] == stack.topic_arn
    assert envelope["Subject"] == "facedetect: 2 faces in uploads/team photo 2026.jpg"
    assert envelope["MessageAttributes"] == {
        "faceCount": {"Type": "Number", "Value": "2"},
        "bucket": {"Type": "String", "Value": BUCKET},
    }
    assert envelope["Message"] == (
        "Face detection finished for an uploaded image.\n"
        "\n"
        f"Image:     s3://{BUCKET}/uploads/team photo 2026.jpg\n"
        f"Version:   {FIXTURE_VERSION}\n"
        "Size:      734,211 bytes\n"
        "Uploaded:  2026-11-28T09:15:42Z\n"
        "Analysed:  2026-11-28T09:15:43.512Z\n"
        "Faces:     2\n"
        "\n"
        "Face 1: age 27-35; mostly happy (94.61%); smiling, eyes open, mouth open; at 12% from "
        "the left and 19% from the top, 21% x 33% of the image; face confidence 100.0%.\n"
        "Face 2: age 41-49; mostly calm (81.2%); wearing glasses, beard, eyes closed; at 61% "
        "from the left and 22% from the top, 18% x 29% of the image; face confidence 99.87%.\n"
        "\n"
        "Positions are shares of the image's width and height, measured from its top-left "
        "corner.\n"
    )


def test_zero_faces_is_notified_as_such(stack, send_notification):
    send_notification.lambda_handler(stored(faceCount=0, faces=[]), None)

    (envelope,) = stack.messages()
    assert envelope["Subject"] == "facedetect: no faces in uploads/team photo 2026.jpg"
    assert envelope["MessageAttributes"]["faceCount"] == {"Type": "Number", "Value": "0"}
    assert "Faces:     0\n\nNo faces were detected in this image.\n" in envelope["Message"]


def test_one_face_subject_is_singular(stack, send_notification):
    send_notification.lambda_handler(stored(faceCount=1, faces=STORED["faces"][:1]), None)

    assert stack.messages()[0]["Subject"] == "facedetect: 1 face in uploads/team photo 2026.jpg"


def test_subscribers_can_filter_on_face_count_and_bucket(stack, send_notification):
    with_faces = stack.subscribe_queue(
        "only-with-faces", FilterPolicy=json.dumps({"faceCount": [{"numeric": [">", 0]}]})
    )
    other_bucket = stack.subscribe_queue(
        "only-other-bucket", FilterPolicy=json.dumps({"bucket": ["some-other-bucket"]})
    )

    send_notification.lambda_handler(stored(faceCount=0, faces=[]), None)
    send_notification.lambda_handler(stored(), None)

    assert [m["MessageAttributes"]["faceCount"]["Value"] for m in stack.messages()] == ["0", "2"]
    assert [m["MessageAttributes"]["faceCount"]["Value"] for m in stack.messages(with_faces)] == [
        "2"
    ]
    assert stack.messages(other_bucket) == []


SUBJECT_KEYS = [
    ("uploads/Zoë Ünïcödé/写真 2026.jpg", "facedetect: 2 faces in uploads/Zoe Unicode/?? 2026.jpg"),
    ("uploads/a+b 100%.jpg", "facedetect: 2 faces in uploads/a+b 100%.jpg"),
    (
        "uploads/line\nbreak\tand\rreturn.png",
        "facedetect: 2 faces in uploads/line break and return.png",
    ),
    ("uploads/" + "deep/" * 60 + "end of a very long key.jpg", None),
    ("写真/" * 300 + "名前.jpeg", None),
]


@pytest.mark.parametrize(("key", "expected"), SUBJECT_KEYS)
def test_subject_is_short_single_line_ascii(stack, send_notification, key, expected):
    send_notification.lambda_handler(stored(key=key), None)

    (envelope,) = stack.messages()
    subject = envelope["Subject"]
    assert len(subject) <= 99
    assert subject.isascii()
    assert subject.isprintable()
    if expected:
        assert subject == expected
    else:
        # Shortened from the left: the file name at the end is what a reader recognises.
        assert subject.startswith("facedetect: 2 faces in ...")
        assert subject.endswith(send_notification.ascii_line(key)[-20:])
    # The body keeps the real key for the reader, even where the subject had to fold it.
    assert (
        key.replace("\n", "\\u000a").replace("\t", "\\u0009").replace("\r", "\\u000d")
        in envelope["Message"]
    )


def test_key_cannot_inject_lines_into_the_body(stack, send_notification):
    key = "uploads/x.jpg\nFace 1: a forged line\u202e.jpg"
    send_notification.lambda_handler(stored(key=key), None)

    body = stack.messages()[0]["Message"]
    assert "\nFace 1: a forged line" not in body
    assert "x.jpg\\u000aFace 1: a forged line\\u202e.jpg" in body


def test_many_faces_are_summarised_not_listed(stack, send_notification):
    faces = [STORED["faces"][i % 2] for i in range(100)]
    send_notification.lambda_handler(stored(faceCount=100, faces=faces), None)

    (envelope,) = stack.messages()
    body = envelope["Message"]
    assert envelope["Subject"] == "facedetect: 100 faces in uploads/team photo 2026.jpg"
    assert "Face 20: " in body
    assert "Face 21: " not in body
    assert "... and 80 more faces, not listed here; all 100 are stored" in body
    assert len(body.encode()) < 16 * 1024


def test_stale_result_is_not_published(stack, send_notification, capsys):
    stale = {
        "bucket": BUCKET,
        "key": FIXTURE_KEY,
        "version": "v1",
        "sequencer": "0065000000000000A1",
        "faceCount": 0,
        "stored": False,
        "stale": True,
    }

    out = send_notification.lambda_handler(stale, None)

    assert out == {
        "bucket": BUCKET,
        "key": FIXTURE_KEY,
        "faceCount": 0,
        "published": False,
        "reason": "stale",
    }
    assert stack.messages() == []
    (line,) = log_lines(capsys)
    assert line["published"] is False


@pytest.mark.parametrize("code", ["Throttled", "Throttling", "KMSThrottling"])
def test_sns_throttling_raises_retryable_error(stack, send_notification, code):
    with Stubber(pipeline_common.client("sns")) as stubber:
        stubber.add_client_error("publish", service_error_code=code, http_status_code=400)
        with pytest.raises(pipeline_common.ServiceThrottledError, match=code):
            send_notification.lambda_handler(stored(), None)

    assert stack.messages() == []


def test_deleted_topic_is_a_configuration_error_naming_the_variable(stack, send_notification):
    stack.sns.delete_topic(TopicArn=stack.topic_arn)

    with pytest.raises(pipeline_common.ConfigurationError, match="TOPIC_ARN"):
        send_notification.lambda_handler(stored(), None)


@pytest.mark.parametrize(
    "bad",
    [
        {"key": FIXTURE_KEY, "faceCount": 0, "faces": []},
        stored(faceCount=-1),
        stored(faces=None),
        "not an object",
    ],
)
def test_malformed_input_raises_invalid_event_error(stack, send_notification, bad):
    with pytest.raises(pipeline_common.InvalidEventError):
        send_notification.lambda_handler(bad, None)

    assert stack.messages() == []


def test_missing_topic_arn_fails_at_cold_start(aws, monkeypatch):
    monkeypatch.delenv("TOPIC_ARN", raising=False)

    with pytest.raises(pipeline_common.ConfigurationError, match="TOPIC_ARN is not set"):
        import_fresh("send_notification")


@pytest.mark.parametrize(
    "value",
    ["facedetect-results", "arn:aws:sqs:eu-central-1:123456789012:queue", "arn:aws:sns:x:1:t"],
)
def test_invalid_topic_arn_fails_at_cold_start(aws, monkeypatch, value):
    monkeypatch.setenv("TOPIC_ARN", value)

    with pytest.raises(pipeline_common.ConfigurationError, match="TOPIC_ARN"):
        import_fresh("send_notification")
