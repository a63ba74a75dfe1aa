"""Check Face Duplicate: was the image's largest face seen before in the stack's collection?

Runs before Add Face To Index (which then adds this image's faces), so a match is always an
earlier image. Rekognition SearchFacesByImage looks only at the largest face of the image.

Input: the Detect Faces summary ($.detection). Output ($.duplicate), one of:

    {"checked": true,  "duplicate": true, "threshold": 90.0, "matchedImage": "uploads/a.jpg",
     "matchedImageId": "uploads:a.jpg", "matchedFaceId": "...", "similarity": 99.31}
    {"checked": true,  "duplicate": false, "threshold": 90.0}
    {"checked": false, "duplicate": false, "threshold": 90.0, "reason": "no face"}

`matchedImage` is null when the matched face's ExternalImageId does not name a key (a key too
long for the id; see pipeline_common.external_image_id); `matchedImageId` is always there.
"""

import re
from collections.abc import Mapping
from typing import Any

import pipeline_common
from botocore.exceptions import ClientError
from pipeline_common import ConfigurationError, UnsupportedImageError

# Enough matches to skip the faces this same key indexed before (a redelivered event, an
# earlier upload of the key) and still find the best match with another image.
SEARCH_MAX_FACES = 5
DEFAULT_THRESHOLD = 90.0
SIMILARITY_DECIMALS = 2

_COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")

_UNSUPPORTED_CODES = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidS3ObjectException"}
)


def load_config() -> tuple[str, float]:
    """The collection id and the match threshold; ConfigurationError names a bad variable."""
    collection = pipeline_common.require_env(
        "COLLECTION_ID", _COLLECTION_ID, "the Rekognition collection id ([a-zA-Z0-9_.-]+)"
    )
    threshold = pipeline_common.optional_env_number(
        "MATCH_THRESHOLD", DEFAULT_THRESHOLD, 0, 100, "a similarity in percent, from 0 to 100"
    )
    return collection, threshold


# Checked at import, so a misconfigured function fails at cold start with the variable's name.
COLLECTION_ID, MATCH_THRESHOLD = load_config()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with pipeline_common.feature_invocation("check_face_duplicate", event, context) as (image, log):
        result = check(image)
        log["duplicate"] = result["duplicate"]
        return result


def check(image: Mapping[str, Any]) -> dict[str, Any]:
    nothing = {
        "checked": False,
        "duplicate": False,
        "threshold": MATCH_THRESHOLD,
        "reason": "no face",
    }
    if image["faceCount"] == 0:
        # Detect Faces found nothing: no billed call for an answer we already know.
        return nothing
    try:
        response = pipeline_common.client("rekognition").search_faces_by_image(
            CollectionId=COLLECTION_ID,
            Image=pipeline_common.rekognition_s3_image(image),
            MaxFaces=SEARCH_MAX_FACES,
            FaceMatchThreshold=MATCH_THRESHOLD,
        )
    except ClientError as err:
        if _no_face(err):
            # SearchFacesByImage's own detection can disagree with DetectFaces on a borderline
            # face; no face to compare is a normal result either way.
            return nothing
        raise _translate(err, image) from err
    own_id = pipeline_common.external_image_id(image["key"])
    matches = [
        match
        for match in response.get("FaceMatches", [])
        if match.get("Face", {}).get("ExternalImageId") != own_id
    ]
    result: dict[str, Any] = {
        "checked": True,
        "duplicate": bool(matches),
        "threshold": MATCH_THRESHOLD,
    }
    if matches:
        best = max(matches, key=lambda m: float(m.get("Similarity", 0.0)))
        face = best.get("Face", {})
        matched_id = face.get("ExternalImageId")
        result.update(
            matchedImage=pipeline_common.key_from_external_image_id(matched_id or ""),
            matchedImageId=matched_id,
            matchedFaceId=face.get("FaceId"),
            similarity=round(float(best.get("Similarity", 0.0)), SIMILARITY_DECIMALS),
        )
    return result


def _no_face(err: ClientError) -> bool:
    # Rekognition's answer for an image without a face: InvalidParameterException, "There are
    # no faces in the image. Should be at least 1."
    return (
        pipeline_common.error_code(err) == "InvalidParameterException"
        and "face" in pipeline_common.error_message(err).lower()
    )


def _translate(err: ClientError, image: Mapping[str, Any]) -> Exception:
    pipeline_common.raise_if_throttled(err, "Rekognition")
    code = pipeline_common.error_code(err)
    location = f"s3://{image['bucket']}/{image['key']}"
    if code == "ResourceNotFoundException":
        return ConfigurationError(
            f"COLLECTION_ID={COLLECTION_ID!r}: Rekognition has no such collection "
            f"({code}: {pipeline_common.error_message(err)})."
        )
    if code in _UNSUPPORTED_CODES or code == "InvalidParameterException":
        return UnsupportedImageError(
            f"Rekognition cannot search faces of {location} "
            f"({code}: {pipeline_common.error_message(err)})"
        )
    return err
