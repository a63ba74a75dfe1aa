"""Send Notification: publish a human-readable result to the SNS topic.

Input: the Store Metadata output (with the features' results when the stack has features).
Output: {"bucket", "key", "faceCount", "published", ...}
(README, "Data flow"). A stale input (an older upload of a key that already has a newer
result) is not published: subscribers would otherwise hear about an image that was replaced.
"""

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import pipeline_common
from botocore.exceptions import ClientError
from pipeline_common import ConfigurationError, InvalidEventError

# SNS wants a subject under 100 characters, without line breaks or control characters, and
# mail clients show plain ASCII most reliably.
SUBJECT_MAX = 99
SUBJECT_PREFIX = "facedetect: "
# An e-mail listing a hundred faces is not read; the table keeps all of them.
MAX_LISTED_FACES = 20

_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")

_ATTRIBUTE_WORDS = (
    ("smile", "smiling", None),
    ("eyeglasses", "wearing glasses", None),
    ("sunglasses", "wearing sunglasses", None),
    ("beard", "beard", None),
    ("mustache", "mustache", None),
    ("eyesOpen", "eyes open", "eyes closed"),
    ("mouthOpen", "mouth open", None),
    ("occluded", "partly covered", None),
)


def load_config() -> str:
    """Return the topic ARN; raises ConfigurationError naming TOPIC_ARN if it is unusable."""
    return pipeline_common.require_env(
        "TOPIC_ARN",
        _TOPIC_ARN,
        "the ARN of a standard SNS topic (arn:aws:sns:<region>:<account>:<name>)",
    )


# Checked at import, so a misconfigured function fails at cold start with the variable's name.
TOPIC_ARN = load_config()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with pipeline_common.invocation_log("send_notification", context) as log:
        event = pipeline_common.require_mapping(event, "The input")
        bucket = pipeline_common.require_str(event, "bucket")
        key = pipeline_common.require_str(event, "key")
        face_count = pipeline_common.require_count(event, "faceCount")
        log["bucket"] = bucket
        log["key"] = key
        log["faceCount"] = face_count
        result: dict[str, Any] = {"bucket": bucket, "key": key, "faceCount": face_count}
        if event.get("stale") is True:
            log["published"] = False
            return {**result, "published": False, "reason": "stale"}
        faces = event.get("faces")
        if not isinstance(faces, list) or not all(isinstance(f, Mapping) for f in faces):
            raise InvalidEventError("Input field 'faces' must be a list of objects.")
        attributes = {
            "faceCount": {"DataType": "Number", "StringValue": str(face_count)},
            "bucket": {"DataType": "String", "StringValue": bucket},
        }
        duplicate = event.get("duplicate")
        is_duplicate = isinstance(duplicate, Mapping) and duplicate.get("duplicate") is True
        if isinstance(duplicate, Mapping):
            # For subscription filter policies, like faceCount: {"duplicate": ["false"]}.
            attributes["duplicate"] = {
                "DataType": "String",
                "StringValue": "true" if is_duplicate else "false",
            }
        try:
            response = pipeline_common.client("sns").publish(
                TopicArn=TOPIC_ARN,
                Subject=make_subject(face_count, key, duplicate=is_duplicate),
                Message=make_body(event, faces),
                MessageAttributes=attributes,
            )
        except ClientError as err:
            pipeline_common.raise_if_throttled(err, "SNS")
            if pipeline_common.error_code(err) == "NotFound":
                raise ConfigurationError(
                    f"TOPIC_ARN={TOPIC_ARN!r}: SNS has no such topic "
                    f"({pipeline_common.error_message(err)})."
                ) from err
            raise
        log["published"] = True
        return {**result, "published": True, "messageId": response["MessageId"]}


def make_subject(face_count: int, key: str, duplicate: bool = False) -> str:
    """One ASCII line of at most SUBJECT_MAX characters; long keys keep their end (file name)."""
    if face_count == 0:
        head = f"{SUBJECT_PREFIX}no faces in "
    else:
        head = f"{SUBJECT_PREFIX}{face_count} face{'s' if face_count != 1 else ''} in "
    if duplicate:
        head = head.replace(SUBJECT_PREFIX, f"{SUBJECT_PREFIX}duplicate, ", 1)
    name = ascii_line(key) or "(unnamed object)"
    room = SUBJECT_MAX - len(head)
    if len(name) > room:
        name = "..." + name[-(room - 3) :]
    return head + name


def ascii_line(text: str) -> str:
    """Fold text to printable ASCII on one line: accents dropped, other letters become '?'."""
    out = []
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char):
            continue
        if char.isascii() and char.isprintable():
            out.append(char)
        elif char.isspace() or unicodedata.category(char).startswith("C"):
            out.append(" ")
        else:
            out.append("?")
    return re.sub(r"\s+", " ", "".join(out)).strip()


def printable(text: str) -> str:
    """Escape control and invisible format characters, so a crafted key cannot add lines."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def make_body(event: Mapping[str, Any], faces: list[Mapping[str, Any]]) -> str:
    lines = [
        "Face detection finished for an uploaded image.",
        "",
        f"Image:     s3://{printable(str(event['bucket']))}/{printable(str(event['key']))}",
    ]
    if event.get("version"):
        lines.append(f"Version:   {printable(str(event['version']))}")
    if isinstance(event.get("size"), int):
        lines.append(f"Size:      {event['size']:,} bytes")
    if event.get("eventTime"):
        lines.append(f"Uploaded:  {printable(str(event['eventTime']))}")
    if event.get("detectedAt"):
        lines.append(f"Analysed:  {printable(str(event['detectedAt']))}")
    lines.append(f"Faces:     {len(faces)}")
    lines.extend(feature_lines(event))
    lines.append("")
    if not faces:
        lines.append("No faces were detected in this image.")
    else:
        for number, face in enumerate(faces[:MAX_LISTED_FACES], start=1):
            lines.append(f"Face {number}: {describe_face(face)}")
        hidden = len(faces) - MAX_LISTED_FACES
        if hidden > 0:
            lines.append(
                f"... and {hidden} more faces, not listed here; all {len(faces)} are stored "
                "in the image's metadata item."
            )
        lines.append("")
        lines.append(
            "Positions are shares of the image's width and height, measured from its "
            "top-left corner."
        )
    return "\n".join(lines) + "\n"


def feature_lines(event: Mapping[str, Any]) -> list[str]:
    """What the stack's features found (none of these lines without features)."""
    lines = []
    duplicate = event.get("duplicate")
    if isinstance(duplicate, Mapping):
        if duplicate.get("duplicate") is True:
            matched = duplicate.get("matchedImage") or duplicate.get("matchedImageId") or "?"
            lines.append(
                f"Duplicate: yes, the largest face matches a face of {printable(str(matched))} "
                f"(similarity {duplicate.get('similarity', '?')}%)"
            )
        elif duplicate.get("checked") is False:
            lines.append("Duplicate: not checked, there is no face to compare")
        else:
            lines.append(
                f"Duplicate: no, no earlier face matches at {duplicate.get('threshold', '?')}% "
                "or more"
            )
    index = event.get("index")
    if isinstance(index, Mapping) and isinstance(index.get("faceIds"), list):
        lines.append(f"Indexed:   {len(index['faceIds'])} face(s) added to the collection")
    thumbnails = event.get("thumbnails")
    if isinstance(thumbnails, Mapping) and isinstance(thumbnails.get("keys"), list):
        keys = [str(k) for k in thumbnails["keys"]]
        folder = keys[0].rsplit("/", 1)[0] + "/" if keys else ""
        where = f" in s3://{printable(str(event['bucket']))}/{printable(folder)}" if keys else ""
        lines.append(f"Thumbnails: {len(keys)}{where}")
    return lines


def describe_face(face: Mapping[str, Any]) -> str:
    parts = []
    age = face.get("age")
    if isinstance(age, list) and len(age) == 2:
        parts.append(f"age {age[0]}-{age[1]}")
    if face.get("emotion"):
        parts.append(f"mostly {str(face['emotion']).lower()} ({face.get('emotionConf', 0)}%)")
    words = []
    for field, yes, no in _ATTRIBUTE_WORDS:
        if face.get(field) is True:
            words.append(yes)
        elif face.get(field) is False and no:
            words.append(no)
    if words:
        parts.append(", ".join(words))
    box = face.get("box")
    if isinstance(box, list) and len(box) == 4:
        left, top, width, height = (round(float(v) * 100) for v in box)
        parts.append(
            f"at {left}% from the left and {top}% from the top, {width}% x {height}% of the image"
        )
    if "conf" in face:
        parts.append(f"face confidence {face['conf']}%")
    return "; ".join(parts) + "." if parts else "no details."
