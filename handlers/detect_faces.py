"""Detect Faces: run Rekognition DetectFaces on the uploaded object and return a compact summary.

Input: the EventBridge "Object Created" event from S3 (the state machine's execution input).
Output: the summary documented in the README ("Data flow"); it stays a few tens of kilobytes
even for the 100 faces Rekognition reports at most, far below the 256 KiB state limit that the
raw DetectFaces answer with ALL attributes can exceed.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import pipeline_common
from botocore.exceptions import ClientError
from pipeline_common import InvalidEventError, UnsupportedImageError

# Rekognition reads JPEG and PNG only, at most 15 MB from S3. Checking the event first saves a
# billed call and gives a clearer error than Rekognition's for files the rule should not have sent.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_IMAGE_BYTES = 15 * 1024 * 1024

_UNSUPPORTED_CODES = frozenset(
    {
        "InvalidImageFormatException",
        "ImageTooLargeException",
        # Also what Rekognition answers for a missing object, version or key: a deleted object
        # stays deleted, so retrying cannot help.
        "InvalidS3ObjectException",
        # Image-level problems such as an image under 80 px per side.
        "InvalidParameterException",
    }
)

# Rekognition attribute -> field name in the summary. Only the yes/no attributes: Gender is a
# two-valued guess, not a yes/no property, and is left out on purpose.
_YES_NO_ATTRIBUTES = (
    ("Smile", "smile"),
    ("Eyeglasses", "eyeglasses"),
    ("Sunglasses", "sunglasses"),
    ("Beard", "beard"),
    ("Mustache", "mustache"),
    ("EyesOpen", "eyesOpen"),
    ("MouthOpen", "mouthOpen"),
    ("FaceOccluded", "occluded"),
)

BOX_DECIMALS = 4
CONFIDENCE_DECIMALS = 2


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with pipeline_common.invocation_log("detect_faces", context) as log:
        image = parse_event(event)
        log["bucket"] = image["bucket"]
        log["key"] = image["key"]
        check_supported(image)
        response, key = detect(image)
        if key != image["key"]:
            # Worth seeing in the logs: it is evidence that a key arrived URL-encoded.
            log["keyDecoded"] = True
            log["key"] = key
        faces = [summarize_face(face) for face in response.get("FaceDetails", [])]
        log["faceCount"] = len(faces)
        return {
            "bucket": image["bucket"],
            "key": key,
            "version": image["version"],
            "etag": image["etag"],
            "size": image["size"],
            "sequencer": image["sequencer"],
            "eventTime": image["eventTime"],
            "detectedAt": utc_now(),
            "faceCount": len(faces),
            "faces": faces,
        }


def parse_event(event: Any) -> dict[str, Any]:
    """Pull the object's identity out of an S3 "Object Created" EventBridge event."""
    event = pipeline_common.require_mapping(event, "The event")
    detail_type = event.get("detail-type")
    if detail_type != "Object Created":
        raise InvalidEventError(f"Expected an S3 'Object Created' event, got {detail_type!r}.")
    detail = pipeline_common.require_mapping(event.get("detail"), "The event's detail")
    bucket = pipeline_common.require_mapping(detail.get("bucket"), "detail.bucket")
    obj = pipeline_common.require_mapping(detail.get("object"), "detail.object")
    size = obj.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise InvalidEventError("detail.object.size must be an integer.")
    return {
        "bucket": pipeline_common.require_str(bucket, "name"),
        # Used exactly as delivered: EventBridge does not URL-encode it (see README and the
        # test comment on key encoding); detect() falls back to a decoded key only on proof.
        "key": pipeline_common.require_str(obj, "key"),
        "version": pipeline_common.optional_str(obj, "version-id"),
        # moto spells it "eTag" (the classic notification spelling); S3 sends "etag".
        "etag": pipeline_common.optional_str(obj, "etag")
        or pipeline_common.optional_str(obj, "eTag"),
        "size": size,
        "sequencer": pipeline_common.optional_str(obj, "sequencer"),
        "eventTime": event.get("time") if isinstance(event.get("time"), str) else None,
    }


def check_supported(image: Mapping[str, Any]) -> None:
    key = image["key"]
    if not key.lower().endswith(IMAGE_SUFFIXES):
        raise UnsupportedImageError(
            f"s3://{image['bucket']}/{key} is not a JPEG or PNG file "
            f"(accepted suffixes: {', '.join(IMAGE_SUFFIXES)})."
        )
    size = image["size"]
    if size == 0:
        raise UnsupportedImageError(f"s3://{image['bucket']}/{key} is empty.")
    if size is not None and size > MAX_IMAGE_BYTES:
        raise UnsupportedImageError(
            f"s3://{image['bucket']}/{key} has {size} bytes; Rekognition reads at most "
            f"{MAX_IMAGE_BYTES} bytes from S3 (ImageTooLarge)."
        )


def detect(image: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Call DetectFaces; return the response and the key that worked.

    The key is tried exactly as the event carries it. Only if Rekognition cannot find that
    object, and URL-decoding would change the key, is the decoded key tried once: so a key that
    really contains '+' or '%' is never corrupted, and an encoded key (classic S3
    notification style, should EventBridge ever deliver one) still works.
    """
    key = image["key"]
    try:
        return _detect_faces(image, key), key
    except ClientError as err:
        decoded = unquote_plus(key)
        if pipeline_common.error_code(err) != "InvalidS3ObjectException" or decoded == key:
            raise _translate(err, image, key) from err
    try:
        return _detect_faces(image, decoded), decoded
    except ClientError as err:
        raise _translate(err, image, key) from err


def _detect_faces(image: Mapping[str, Any], key: str) -> dict[str, Any]:
    s3_object = {"Bucket": image["bucket"], "Name": key}
    if image["version"]:
        s3_object["Version"] = image["version"]
    return pipeline_common.client("rekognition").detect_faces(
        Image={"S3Object": s3_object}, Attributes=["ALL"]
    )


def _translate(err: ClientError, image: Mapping[str, Any], key: str) -> Exception:
    pipeline_common.raise_if_throttled(err, "Rekognition")
    code = pipeline_common.error_code(err)
    if code in _UNSUPPORTED_CODES:
        return UnsupportedImageError(
            f"Rekognition cannot analyse s3://{image['bucket']}/{key} "
            f"({code}: {pipeline_common.error_message(err)})"
        )
    return err


def summarize_face(face: Mapping[str, Any]) -> dict[str, Any]:
    """The compact per-face record that travels between states and lands in DynamoDB."""
    summary: dict[str, Any] = {}
    box = face.get("BoundingBox")
    if isinstance(box, Mapping):
        summary["box"] = [
            round(float(box.get(side, 0.0)), BOX_DECIMALS)
            for side in ("Left", "Top", "Width", "Height")
        ]
    if "Confidence" in face:
        summary["conf"] = round(float(face["Confidence"]), CONFIDENCE_DECIMALS)
    age = face.get("AgeRange")
    if isinstance(age, Mapping) and "Low" in age and "High" in age:
        summary["age"] = [int(age["Low"]), int(age["High"])]
    emotions = [e for e in face.get("Emotions") or [] if "Type" in e]
    if emotions:
        strongest = max(emotions, key=lambda e: float(e.get("Confidence", 0.0)))
        summary["emotion"] = strongest["Type"]
        summary["emotionConf"] = round(float(strongest.get("Confidence", 0.0)), CONFIDENCE_DECIMALS)
    for attribute, field in _YES_NO_ATTRIBUTES:
        value = face.get(attribute)
        if isinstance(value, Mapping) and "Value" in value:
            summary[field] = bool(value["Value"])
    return summary


def utc_now() -> str:
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
