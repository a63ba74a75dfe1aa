"""Send Notification: publish a human-readable result to the SNS topic.

Input: the Store Metadata output. Output: {"bucket", "key", "faceCount", "published", ...}
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
        try:
            response = pipeline_common.client("sns").publish(
                TopicArn=TOPIC_ARN,
                Subject=make_subject(face_count, key),
                Message=make_body(event, faces),
                MessageAttributes={
                    "faceCount": {"DataType": "Number", "StringValue": str(face_count)},
                    "bucket": {"DataType": "String", "StringValue": bucket},
                },
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


def make_subject(face_count: int, key: str) -> str:
    """One ASCII line of at most SUBJECT_MAX characters; long keys keep their end (file name)."""
    if face_count == 0:
        head = f"{SUBJECT_PREFIX}no faces in "
    else:
        head = f"{SUBJECT_PREFIX}{face_count} face{'s' if face_count != 1 else ''} in "
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
