"""Store Metadata: write one DynamoDB item per image key, where the newest upload always wins.

Input: the Detect Faces summary, or with features on {"detection": summary, "duplicate",
"index", "thumbnails"}. Output: the summary (with the features' results merged in) plus
"stored"/"stale" (README, "Data flow"). The function's role may only call dynamodb:PutItem on
the table, so ordering is decided by a conditional put alone: a ConditionalCheckFailedException
is how a late event for an older upload of the same key learns that it is stale.
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pipeline_common
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from pipeline_common import ConfigurationError, InvalidEventError

# S3 sequencers are hex strings of varying length that order the events of one key once the
# shorter is left-padded with zeros. Storing them padded to one fixed width lets DynamoDB's
# plain string comparison do that ordering inside the condition expression.
SEQUENCER_WIDTH = 64
_HEX = re.compile(r"[0-9A-Fa-f]*")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")

# "<=" rather than "<": a redelivered event (same sequencer) rewrites the same item instead of
# failing, which makes the write idempotent. A stored item without a sequencer is treated as
# older than anything, so an item from before this scheme can still be replaced.
_CONDITION = "attribute_not_exists(ImageKey) OR attribute_not_exists(#seq) OR #seq <= :seq"

_serializer = TypeSerializer()


def load_config() -> str:
    """Return the table name; raises ConfigurationError naming TABLE_NAME if it is unusable."""
    return pipeline_common.require_env(
        "TABLE_NAME",
        _TABLE_NAME,
        "the DynamoDB table name (3-255 letters, digits, '_', '-' or '.')",
    )


# Checked at import, so a misconfigured function fails at cold start with the variable's name
# instead of at the first upload.
TABLE_NAME = load_config()


# With features on, the state machine sends {"detection": <summary>, "duplicate": ...,
# "index": ..., "thumbnails": ...} (those present); without, the summary alone.
FEATURE_RESULTS = ("duplicate", "index", "thumbnails")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with pipeline_common.invocation_log("store_metadata", context) as log:
        summary = parse_input(event)
        log["bucket"] = summary["bucket"]
        log["key"] = summary["key"]
        log["faceCount"] = summary["faceCount"]
        item = build_item(summary)
        try:
            pipeline_common.client("dynamodb").put_item(
                TableName=TABLE_NAME,
                Item=item,
                ConditionExpression=_CONDITION,
                ExpressionAttributeNames={"#seq": "Sequencer"},
                ExpressionAttributeValues={":seq": item["Sequencer"]},
            )
        except ClientError as err:
            code = pipeline_common.error_code(err)
            if code == "ConditionalCheckFailedException":
                log["stale"] = True
                return {
                    "bucket": summary["bucket"],
                    "key": summary["key"],
                    "version": summary["version"],
                    "sequencer": summary["sequencer"],
                    "faceCount": summary["faceCount"],
                    "stored": False,
                    "stale": True,
                }
            pipeline_common.raise_if_throttled(err, "DynamoDB")
            if code == "ResourceNotFoundException":
                raise ConfigurationError(
                    f"TABLE_NAME={TABLE_NAME!r}: DynamoDB has no such table in this region "
                    f"({pipeline_common.error_message(err)})."
                ) from err
            raise
        log["stale"] = False
        return {**summary, "stored": True, "stale": False}


def parse_input(event: Any) -> dict[str, Any]:
    """The summary to store, with the features' results merged in when there are any."""
    event = pipeline_common.require_mapping(event, "The input")
    if "detection" not in event:
        return parse_summary(event)
    summary = parse_summary(event["detection"])
    for name in FEATURE_RESULTS:
        if name in event:
            summary[name] = parse_feature_result(name, event[name])
    return summary


def parse_feature_result(name: str, value: Any) -> dict[str, Any]:
    result = dict(pipeline_common.require_mapping(value, f"Input field {name!r}"))
    lists = {"index": "faceIds", "thumbnails": "keys"}
    if name in lists:
        items = result.get(lists[name])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidEventError(f"Input field {name}.{lists[name]} must be a list of strings.")
    if name == "duplicate" and not isinstance(result.get("duplicate"), bool):
        raise InvalidEventError("Input field duplicate.duplicate must be true or false.")
    return result


def parse_summary(event: Any) -> dict[str, Any]:
    """Validate the Detect Faces output and keep only the fields this pipeline defines."""
    event = pipeline_common.require_mapping(event, "The input")
    faces = event.get("faces")
    if not isinstance(faces, list) or not all(isinstance(f, Mapping) for f in faces):
        raise InvalidEventError("Input field 'faces' must be a list of objects.")
    face_count = pipeline_common.require_count(event, "faceCount")
    if face_count != len(faces):
        raise InvalidEventError(f"faceCount is {face_count} but 'faces' has {len(faces)} entries.")
    size = event.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise InvalidEventError("Input field 'size' must be an integer or null.")
    return {
        "bucket": pipeline_common.require_str(event, "bucket"),
        "key": pipeline_common.require_str(event, "key"),
        "version": pipeline_common.optional_str(event, "version"),
        "etag": pipeline_common.optional_str(event, "etag"),
        "size": size,
        "sequencer": pipeline_common.optional_str(event, "sequencer"),
        "eventTime": pipeline_common.optional_str(event, "eventTime"),
        "detectedAt": pipeline_common.require_str(event, "detectedAt"),
        "faceCount": face_count,
        "faces": faces,
    }


def sortable_sequencer(sequencer: str | None) -> str:
    """Left-pad an S3 sequencer to a fixed width so string order equals event order.

    An event without a sequencer sorts as the oldest possible one: it can create a missing item
    but never replaces a result that came with real ordering information.
    """
    value = (sequencer or "").strip()
    if not _HEX.fullmatch(value) or len(value) > SEQUENCER_WIDTH:
        raise InvalidEventError(
            f"Sequencer {sequencer!r} is not a hex string of at most {SEQUENCER_WIDTH} digits."
        )
    return value.upper().rjust(SEQUENCER_WIDTH, "0")


def build_item(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The DynamoDB item, in the low-level attribute-value format."""
    attributes = {
        "ImageKey": summary["key"],
        "Bucket": summary["bucket"],
        "FaceCount": summary["faceCount"],
        "Faces": to_dynamodb_numbers(summary["faces"]),
        "DetectedAt": summary["detectedAt"],
        "EventTime": summary["eventTime"],
        "ETag": summary["etag"],
        "Size": summary["size"],
        "VersionId": summary["version"],
        "Sequencer": sortable_sequencer(summary["sequencer"]),
    }
    # The features' results (absent without features, so such items look as they always did).
    duplicate = summary.get("duplicate")
    if duplicate is not None:
        attributes["Duplicate"] = to_dynamodb_numbers(duplicate)
    index = summary.get("index")
    if index is not None:
        # The face ids are what DeleteFaces needs to take this image out of the collection.
        attributes["FaceIds"] = index["faceIds"]
        attributes["ExternalImageId"] = index.get("externalImageId")
    thumbnails = summary.get("thumbnails")
    if thumbnails is not None:
        attributes["Thumbnails"] = thumbnails["keys"]
    return {
        name: _serializer.serialize(value)
        for name, value in attributes.items()
        if value is not None
    }


def to_dynamodb_numbers(value: Any) -> Any:
    """Replace floats by Decimals built from their text, recursively.

    Decimal(str(x)) keeps the rounded value the summary shows (0.1207); Decimal(x) would carry
    the binary float's noise (0.12070000000000000562...) into the table.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: to_dynamodb_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_dynamodb_numbers(v) for v in value]
    return value
