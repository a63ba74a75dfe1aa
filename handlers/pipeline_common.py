"""Code shared by the facedetect Lambda handlers.

The packager zips this file next to each handler at the zip root, so the handlers import it as
the top-level module ``pipeline_common``. Standard library and boto3 only: the Lambda runtime
ships both, which keeps every zip a few kilobytes and cold starts short.

The exception class names are the error names Step Functions sees (the Python runtime reports
``type(exc).__name__`` as ``errorType``), so the state machine's Retry/Catch rules match them.
"""

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


class PipelineError(Exception):
    """Base of the errors the state machine routes by name."""


class UnsupportedImageError(PipelineError):
    """Not retryable: the object is not an image Rekognition can analyse, or it is gone."""


class ServiceThrottledError(PipelineError):
    """Retryable: an AWS service throttled the call; the state machine retries with backoff."""


class ConfigurationError(PipelineError):
    """The function is misconfigured (environment variable, table or topic)."""


class InvalidEventError(PipelineError):
    """The input does not have the shape this handler expects; a retry cannot help."""


# Every code AWS uses for "slow down" on the services the handlers call. Rekognition and
# DynamoDB use the first five; SNS answers "Throttled"/"Throttling", and a topic encrypted with
# KMS can pass on KMS throttling.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "Throttling",
        "Throttled",
        "ThrottledException",
        "KMSThrottling",
        "KMSThrottlingException",
    }
)

# Standard mode retries throttling and transient errors with jittered backoff inside the
# invocation; what is still throttled after that becomes ServiceThrottledError, which the state
# machine retries with longer waits without holding a Lambda container meanwhile.
BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
)

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """Return the container's client for ``service``, creating it on first use.

    A client costs tens of milliseconds to build, so each container builds one per service and
    reuses it for every invocation. Tests wrap the cached client in a botocore Stubber.
    """
    cached = _clients.get(service)
    if cached is None:
        cached = boto3.client(service, config=BOTO_CONFIG)
        _clients[service] = cached
    return cached


def reset_clients() -> None:
    """Forget cached clients (tests do this so each test gets clients bound to its mock)."""
    _clients.clear()


def require_env(name: str, pattern: re.Pattern[str], description: str) -> str:
    """Read a required environment variable, or raise ConfigurationError naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"Environment variable {name} is not set: it must hold {description}."
        )
    if not pattern.fullmatch(value):
        raise ConfigurationError(
            f"Environment variable {name}={value!r} is not valid: it must hold {description}."
        )
    return value


def optional_env_number(
    name: str, default: float, low: float, high: float, description: str
) -> float:
    """Read an optional numeric environment variable within [low, high], or raise
    ConfigurationError naming it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # also false for NaN
        raise ConfigurationError(
            f"Environment variable {name}={raw!r} is not valid: it must hold {description}."
        )
    return value


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", ""))


def raise_if_throttled(err: ClientError, service: str) -> None:
    """Turn a throttling ClientError into ServiceThrottledError; leave other errors alone."""
    code = error_code(err)
    if code in THROTTLING_CODES:
        raise ServiceThrottledError(
            f"{service} throttled the request ({code}): {error_message(err)}"
        ) from err


def require_str(payload: Mapping[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"Input field {field!r} must be a non-empty string.")
    return value


def optional_str(payload: Mapping[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEventError(f"Input field {field!r} must be a string or null.")
    return value


def require_count(payload: Mapping[str, Any], field: str) -> int:
    value = payload.get(field)
    # bool is an int subclass; a true/false face count is a malformed input, not 1/0.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidEventError(f"Input field {field!r} must be a non-negative integer.")
    return value


def require_mapping(payload: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise InvalidEventError(f"{what} must be a JSON object, got {type(payload).__name__}.")
    return payload


_MAX_LOGGED_MESSAGE = 300


@contextmanager
def invocation_log(handler: str, context: Any) -> Iterator[dict[str, Any]]:
    """Print exactly one JSON line per invocation, also when the handler raises.

    The handler fills in key, faceCount and its own outcome fields on the yielded dict. Only
    names, counts and timings go in: never image bytes, event payloads or credentials.
    """
    record: dict[str, Any] = {"handler": handler, "key": None, "faceCount": None}
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        record["requestId"] = request_id
    started = time.perf_counter()
    try:
        yield record
    except Exception as exc:
        record["error"] = type(exc).__name__
        record["errorMessage"] = str(exc)[:_MAX_LOGGED_MESSAGE]
        raise
    finally:
        record["durationMs"] = round((time.perf_counter() - started) * 1000, 1)
        # json.dumps escapes control characters, so even a key containing a newline stays on
        # one line and CloudWatch Logs Insights parses it as one event.
        print(json.dumps(record, ensure_ascii=False, default=str), flush=True)


# --- The stack's optional features (duplicates, thumbnails) ----------------------------------


def detection_image(payload: Any) -> dict[str, Any]:
    """The image a Detect Faces summary describes: bucket, key, version and faces.

    The feature handlers (Check Face Duplicate, Add Face To Index, Create Thumbnail) all take
    the summary as input; they need only these fields of it.
    """
    payload = require_mapping(payload, "The input")
    faces = payload.get("faces")
    if not isinstance(faces, list) or not all(isinstance(f, Mapping) for f in faces):
        raise InvalidEventError("Input field 'faces' must be a list of objects.")
    face_count = require_count(payload, "faceCount")
    if face_count != len(faces):
        raise InvalidEventError(f"faceCount is {face_count} but 'faces' has {len(faces)} entries.")
    return {
        "bucket": require_str(payload, "bucket"),
        "key": require_str(payload, "key"),
        "version": optional_str(payload, "version"),
        "faceCount": face_count,
        "faces": faces,
    }


@contextmanager
def feature_invocation(
    handler: str, event: Any, context: Any
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """invocation_log for a feature handler: the image its input describes, and the log
    record with the image's bucket, key and face count already filled in."""
    with invocation_log(handler, context) as log:
        image = detection_image(event)
        log["bucket"] = image["bucket"]
        log["key"] = image["key"]
        log["faceCount"] = image["faceCount"]
        yield image, log


def rekognition_s3_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """Rekognition's Image parameter for the object (its version when the event named one)."""
    s3_object = {"Bucket": image["bucket"], "Name": image["key"]}
    if image.get("version"):
        s3_object["Version"] = image["version"]
    return {"S3Object": s3_object}


# IndexFaces allows ExternalImageId only [a-zA-Z0-9_.\-:]+, at most 255 characters, and S3 keys
# are any UTF-8 of up to 1,024 bytes. The mapping below is injective and reversible:
#   - letters, digits, '.' and '-' stay as they are, so ids stay readable;
#   - '/' (the commonest other character in keys) becomes ':';
#   - every other byte of the key's UTF-8, '_' and ':' included, becomes '_' and two
#     upper-case hex digits ('_20' for a space, '_5F' for '_', '_3A' for ':').
# Decoding is unambiguous because '_' only ever starts a three-character escape.
# An escaped key longer than 255 characters cannot be carried whole (no reversible encoding
# fits 1,024 bytes into 255 characters of a 65-letter alphabet), so it becomes "_h", the first
# 40 hex digits of the key's SHA-256 and '.', followed by as much of the escaped key's end (the
# file name) as fits. "_h" never starts an escaped id ('h' is not an upper-case hex digit), so
# the two forms cannot collide; a hashed id decodes to None (the key is not recoverable from
# it) and Check Face Duplicate reports the id itself.
EXTERNAL_ID_MAX = 255
HASHED_ID_PREFIX = "_h"
_HASH_DIGITS = 40
_ID_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_HEX_UPPER = frozenset("0123456789ABCDEF")


def external_image_id(key: str) -> str:
    """The ExternalImageId that names the S3 key `key` in the face collection."""
    # One token per character, so the tail of a hashed id never starts inside a character.
    tokens = []
    for char in key:
        if char == "/":
            tokens.append(":")
        elif len(char.encode("utf-8")) == 1 and ord(char) in _ID_LITERAL:
            tokens.append(char)
        else:
            tokens.append("".join(f"_{byte:02X}" for byte in char.encode("utf-8")))
    escaped = "".join(tokens)
    if escaped and len(escaped) <= EXTERNAL_ID_MAX:
        return escaped
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
    room = EXTERNAL_ID_MAX - len(HASHED_ID_PREFIX) - _HASH_DIGITS - 1
    tail: list[str] = []
    # Whole tokens from the end: the tail never starts inside an escape or a character.
    for token in reversed(tokens):
        if len(token) > room:
            break
        tail.append(token)
        room -= len(token)
    return f"{HASHED_ID_PREFIX}{digest}.{''.join(reversed(tail))}"


def key_from_external_image_id(image_id: str) -> str | None:
    """The S3 key an ExternalImageId names, or None for a hashed id or an id that
    external_image_id did not make (a face someone else indexed)."""
    if not image_id or image_id.startswith(HASHED_ID_PREFIX):
        return None
    data = bytearray()
    position = 0
    while position < len(image_id):
        char = image_id[position]
        if char == ":":
            data.append(0x2F)
            position += 1
        elif char == "_":
            digits = image_id[position + 1 : position + 3]
            if len(digits) != 2 or not set(digits) <= _HEX_UPPER:
                return None
            byte = int(digits, 16)
            if byte == 0x2F or byte in _ID_LITERAL:
                return None  # external_image_id never escapes these: not one of its ids
            data.append(byte)
            position += 3
        elif ord(char) < 128 and ord(char) in _ID_LITERAL:
            data.append(ord(char))
            position += 1
        else:
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
