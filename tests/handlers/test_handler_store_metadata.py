"""store_metadata against moto's DynamoDB; every assertion reads the item back from the table."""

import copy
from decimal import Decimal as D

import pipeline_common
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.stub import Stubber
from handler_testkit import (
    BUCKET,
    FIXTURE_KEY,
    FIXTURE_OBJECT,
    FIXTURE_VERSION,
    ITEM_LIMIT,
    dynamodb_item_size,
    import_fresh,
    log_lines,
)

SUMMARY = {
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
            "eyesOpen": True,
            "occluded": False,
        },
        {"box": [0.6102, 0.2215, 0.1788, 0.2921], "conf": 99.87, "age": [41, 49]},
    ],
}


def summary(**changes) -> dict:
    result = copy.deepcopy(SUMMARY)
    result.update(changes)
    return result


def padded(sequencer: str) -> str:
    return sequencer.upper().rjust(64, "0")


def test_item_holds_every_field_with_exact_numbers(stack, store_metadata):
    out = store_metadata.lambda_handler(summary(), None)

    assert out == {**SUMMARY, "stored": True, "stale": False}
    item = stack.item(FIXTURE_KEY)
    # Compared as Decimals: DynamoDB normalises "100.0" to "100" (moto keeps the text), but
    # both differ from Decimal(0.1207), which would carry the binary float's noise.
    assert {name: _deserialize(value) for name, value in item.items()} == {
        "ImageKey": FIXTURE_KEY,
        "Bucket": BUCKET,
        "FaceCount": 2,
        "DetectedAt": "2026-11-28T09:15:43.512Z",
        "EventTime": "2026-11-28T09:15:42Z",
        "ETag": "9f2b1a6c0d3e4f5a6b7c8d9e0f1a2b3c",
        "Size": 734211,
        "VersionId": FIXTURE_VERSION,
        "Sequencer": padded("00675A2B3C4D5E6F70"),
        "Faces": [
            {
                "box": [D("0.1207"), D("0.1893"), D("0.2134"), D("0.3312")],
                "conf": D("100"),
                "age": [27, 35],
                "emotion": "HAPPY",
                "emotionConf": D("94.61"),
                "smile": True,
                "eyesOpen": True,
                "occluded": False,
            },
            {
                "box": [D("0.6102"), D("0.2215"), D("0.1788"), D("0.2921")],
                "conf": D("99.87"),
                "age": [41, 49],
            },
        ],
    }
    assert item["Faces"]["L"][0]["M"]["box"]["L"][0] == {"N": "0.1207"}


def _deserialize(value: dict):
    return TypeDeserializer().deserialize(value)


def test_zero_faces_are_stored_as_such(stack, store_metadata):
    store_metadata.lambda_handler(summary(faceCount=0, faces=[]), None)

    item = stack.item(FIXTURE_KEY)
    assert item["FaceCount"] == {"N": "0"}
    assert item["Faces"] == {"L": []}


def test_unversioned_object_has_no_version_attribute(stack, store_metadata):
    store_metadata.lambda_handler(summary(version=None, etag=None, size=None), None)

    item = stack.item(FIXTURE_KEY)
    assert "VersionId" not in item
    assert "ETag" not in item
    assert "Size" not in item


@pytest.mark.parametrize(
    "key", ["uploads/a+b.jpg", "uploads/100% real.jpg", "uploads/Zoë/写真 2026.png"]
)
def test_special_keys_are_stored_verbatim(stack, store_metadata, key):
    store_metadata.lambda_handler(summary(key=key), None)

    assert stack.item(key)["ImageKey"] == {"S": key}


def test_newer_upload_replaces_older_result(stack, store_metadata):
    store_metadata.lambda_handler(summary(version="v1", sequencer="0065000000000000A1"), None)
    out = store_metadata.lambda_handler(
        summary(version="v2", sequencer="0065000000000000B2", faceCount=0, faces=[]), None
    )

    assert out["stored"] is True
    item = stack.item(FIXTURE_KEY)
    assert item["VersionId"] == {"S": "v2"}
    assert item["FaceCount"] == {"N": "0"}
    assert stack.item_count() == 1


def test_late_event_for_older_upload_is_stale_and_changes_nothing(stack, store_metadata, capsys):
    store_metadata.lambda_handler(summary(version="v2", sequencer="0065000000000000B2"), None)
    before = stack.item(FIXTURE_KEY)

    out = store_metadata.lambda_handler(
        summary(version="v1", sequencer="0065000000000000A1", faceCount=0, faces=[]), None
    )

    assert out == {
        "bucket": BUCKET,
        "key": FIXTURE_KEY,
        "version": "v1",
        "sequencer": "0065000000000000A1",
        "faceCount": 0,
        "stored": False,
        "stale": True,
    }
    assert stack.item(FIXTURE_KEY) == before
    assert [line.get("stale") for line in log_lines(capsys)] == [False, True]


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # 0xFF < 0x100, although "FF" > "0100" as plain strings.
        ("FF", "0100"),
        ("617f08299329d189", "0617F08299329D18A"),
        ("00617F08299329D189", "617f08299329d18a"),
        ("9", "0000000000000000000A"),
    ],
)
def test_sequencers_of_different_length_and_case_order_correctly(
    stack, store_metadata, older, newer
):
    store_metadata.lambda_handler(summary(version="new", sequencer=newer), None)
    stale = store_metadata.lambda_handler(summary(version="old", sequencer=older), None)

    assert stale["stale"] is True
    assert stack.item(FIXTURE_KEY)["VersionId"] == {"S": "new"}


@pytest.mark.parametrize("redelivered", ["00675A2B3C4D5E6F70", "675a2b3c4d5e6f70"])
def test_redelivered_event_is_idempotent(stack, store_metadata, redelivered):
    first = store_metadata.lambda_handler(summary(), None)
    stored = stack.item(FIXTURE_KEY)

    again = store_metadata.lambda_handler(summary(sequencer=redelivered), None)

    assert again["stored"] is True
    assert again["stale"] is False
    assert stack.item(FIXTURE_KEY) == stored
    assert first["faces"] == again["faces"]
    assert stack.item_count() == 1


def test_event_without_sequencer_never_replaces_an_ordered_result(stack, store_metadata):
    out = store_metadata.lambda_handler(summary(sequencer=None), None)
    assert out["stored"] is True
    assert stack.item(FIXTURE_KEY)["Sequencer"] == {"S": "0" * 64}

    store_metadata.lambda_handler(summary(version="ordered"), None)
    late = store_metadata.lambda_handler(summary(version="unordered", sequencer=None), None)

    assert late["stale"] is True
    assert stack.item(FIXTURE_KEY)["VersionId"] == {"S": "ordered"}


def test_item_written_by_older_code_without_sequencer_is_replaced(stack, store_metadata):
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"ImageKey": {"S": FIXTURE_KEY}, "FaceCount": {"N": "7"}},
    )

    assert store_metadata.lambda_handler(summary(), None)["stored"] is True
    assert stack.item(FIXTURE_KEY)["FaceCount"] == {"N": "2"}


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_dynamodb_throttling_raises_retryable_error(stack, store_metadata, code):
    # Error injection on the handler's own client; the table itself stays moto's.
    with Stubber(pipeline_common.client("dynamodb")) as stubber:
        stubber.add_client_error("put_item", service_error_code=code, http_status_code=400)
        with pytest.raises(pipeline_common.ServiceThrottledError, match=code):
            store_metadata.lambda_handler(summary(), None)

    assert stack.item(FIXTURE_KEY) is None


def test_missing_table_is_a_configuration_error_naming_the_variable(stack, store_metadata):
    stack.dynamodb.delete_table(TableName=stack.table)

    with pytest.raises(pipeline_common.ConfigurationError, match="TABLE_NAME"):
        store_metadata.lambda_handler(summary(), None)


@pytest.mark.parametrize(
    "bad",
    [
        summary(faceCount=3),
        summary(faces="none"),
        summary(key=""),
        summary(faceCount=True),
        summary(sequencer="not-hex"),
        summary(size="big"),
        {k: v for k, v in SUMMARY.items() if k != "detectedAt"},
    ],
)
def test_malformed_input_raises_invalid_event_error(stack, store_metadata, bad):
    with pytest.raises(pipeline_common.InvalidEventError):
        store_metadata.lambda_handler(bad, None)

    assert stack.item_count() == 0


def test_missing_table_name_fails_at_cold_start(aws, monkeypatch):
    monkeypatch.delenv("TABLE_NAME", raising=False)

    with pytest.raises(pipeline_common.ConfigurationError, match="TABLE_NAME is not set"):
        import_fresh("store_metadata")


@pytest.mark.parametrize("value", ["x", "bad name", "a" * 256])
def test_invalid_table_name_fails_at_cold_start(aws, monkeypatch, value):
    monkeypatch.setenv("TABLE_NAME", value)

    with pytest.raises(pipeline_common.ConfigurationError, match="TABLE_NAME"):
        import_fresh("store_metadata")


def test_hundred_face_item_stays_under_the_item_limit(stack, store_metadata):
    face = {
        "box": [0.1234, 0.5678, 0.0912, 0.3456],
        "conf": 99.99,
        "age": [27, 35],
        "emotion": "SURPRISED",
        "emotionConf": 94.61,
        **dict.fromkeys(
            ["smile", "eyeglasses", "sunglasses", "beard", "mustache", "eyesOpen", "mouthOpen"],
            True,
        ),
        "occluded": False,
    }
    long_key = "uploads/" + "ü" * 500 + ".jpg"  # S3's longest key: 1024 bytes of UTF-8
    store_metadata.lambda_handler(summary(key=long_key, faceCount=100, faces=[face] * 100), None)

    item = stack.item(long_key)
    assert len(item["Faces"]["L"]) == 100
    assert dynamodb_item_size(item) < ITEM_LIMIT / 10
