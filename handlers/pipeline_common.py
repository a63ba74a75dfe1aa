"""Code shared by the facedetect Lambda handlers.

The packager zips this file next to each handler at the zip root, so the handlers import it as
the top-level module ``pipeline_common``. Standard library and boto3 only: the Lambda runtime
ships both, which keeps every zip a few kilobytes and cold starts short.

The exception class names are the error names Step Functions sees (the Python runtime reports
``type(exc).__name__`` as ``errorType``), so the state machine's Retry/Catch rules match them.
"""

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
