"""Add Face To Index: add the image's faces to the stack's collection (Rekognition IndexFaces).

Runs after Check Face Duplicate, so later uploads are compared with this one. Each face is
stored under an ExternalImageId derived from the S3 key (pipeline_common.external_image_id),
which is how Check Face Duplicate names the image a later face matched.

Input: the Detect Faces summary ($.detection). Output:

    {"externalImageId": "uploads:team_20photo.jpg", "faceIds": ["..."], "unindexed": 1,
     "unindexedReasons": {"EXCEEDS_MAX_FACES": 1}}

The face ids go into the stored item: they are what DeleteFaces needs to remove an image's
faces from the collection again.
"""

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pipeline_common
from botocore.exceptions import ClientError
from pipeline_common import ConfigurationError, UnsupportedImageError

# IndexFaces keeps at most MaxFaces faces, the largest first, and reports the others as
# unindexed with the reason EXCEEDS_MAX_FACES. A crowd photo is not a set of riders: a bound
# keeps the collection (billed per stored face) from filling with bystanders.
DEFAULT_MAX_FACES = 10
MAX_FACES_LIMIT = 100  # IndexFaces' own limit

_COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_UNSUPPORTED_CODES = frozenset(
    {
        "InvalidImageFormatException",
        "ImageTooLargeException",
        "InvalidS3ObjectException",
        "InvalidParameterException",
    }
)


def load_config() -> tuple[str, int]:
    """The collection id and the face bound; ConfigurationError names a bad variable."""
    collection = pipeline_common.require_env(
        "COLLECTION_ID", _COLLECTION_ID, "the Rekognition collection id ([a-zA-Z0-9_.-]+)"
    )
    max_faces = pipeline_common.optional_env_number(
        "MAX_FACES",
        DEFAULT_MAX_FACES,
        1,
        MAX_FACES_LIMIT,
        f"a whole number of faces from 1 to {MAX_FACES_LIMIT}",
    )
    if max_faces != int(max_faces):
        raise ConfigurationError(
            f"Environment variable MAX_FACES={max_faces} is not valid: it must hold a whole "
            f"number of faces from 1 to {MAX_FACES_LIMIT}."
        )
    return collection, int(max_faces)


# Checked at import, so a misconfigured function fails at cold start with the variable's name.
COLLECTION_ID, MAX_FACES = load_config()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with pipeline_common.feature_invocation("add_face_to_index", event, context) as (image, log):
        result = index(image)
        log["indexed"] = len(result["faceIds"])
        return result


def index(image: Mapping[str, Any]) -> dict[str, Any]:
    image_id = pipeline_common.external_image_id(image["key"])
    result: dict[str, Any] = {
        "externalImageId": image_id,
        "faceIds": [],
        "unindexed": 0,
        "unindexedReasons": {},
    }
    if image["faceCount"] == 0:
        # IndexFaces would find nothing either: no billed call.
        return result
    try:
        response = pipeline_common.client("rekognition").index_faces(
            CollectionId=COLLECTION_ID,
            Image=pipeline_common.rekognition_s3_image(image),
            ExternalImageId=image_id,
            MaxFaces=MAX_FACES,
            # Rekognition's own choice of the quality bar: blurred or tiny faces would only
            # produce false matches later.
            QualityFilter="AUTO",
            DetectionAttributes=["DEFAULT"],
        )
    except ClientError as err:
        raise _translate(err, image) from err
    result["faceIds"] = [
        record["Face"]["FaceId"]
        for record in response.get("FaceRecords", [])
        if record.get("Face", {}).get("FaceId")
    ]
    reasons: Counter[str] = Counter()
    unindexed = response.get("UnindexedFaces", [])
    for face in unindexed:
        reasons.update(face.get("Reasons", []))
    result["unindexed"] = len(unindexed)
    result["unindexedReasons"] = dict(sorted(reasons.items()))
    return result


def _translate(err: ClientError, image: Mapping[str, Any]) -> Exception:
    pipeline_common.raise_if_throttled(err, "Rekognition")
    code = pipeline_common.error_code(err)
    if code == "ResourceNotFoundException":
        return ConfigurationError(
            f"COLLECTION_ID={COLLECTION_ID!r}: Rekognition has no such collection "
            f"({code}: {pipeline_common.error_message(err)})."
        )
    if code in _UNSUPPORTED_CODES:
        return UnsupportedImageError(
            f"Rekognition cannot index faces of s3://{image['bucket']}/{image['key']} "
            f"({code}: {pipeline_common.error_message(err)})"
        )
    return err
