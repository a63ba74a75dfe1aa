"""A botocore client whose calls raise the tool's errors, with paginators and waiters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from facedetect_cli.aws.errors import BOTOCORE_ERRORS, not_aws, raised_by_parser, translate_error
from facedetect_cli.aws.retry import ALWAYS_RETRIED, retry_while

# The first paginator or waiter of any client makes botocore's loader look for that kind of
# model in every service's directory (about 400, 50 ms). The loader caches the answer, but
# only once it has one: fifteen threads asking at once each did the whole search, a second of
# CPU in all. One at a time, the first searches and the others find the cache.
_MODEL_LOCK = threading.Lock()


class Client:
    """A botocore client whose calls raise the tool's errors instead of botocore's, and retry
    the codes that only ever mean "try again" for this service (retry.ALWAYS_RETRIED)."""

    def __init__(self, raw: Any, service: str,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._raw = raw
        self.service = service
        self._sleep = sleep
        self._transient = ALWAYS_RETRIED.get(service, frozenset())

    @property
    def raw(self) -> Any:
        """The botocore client itself, for botocore's Stubber in tests."""
        return self._raw

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        method = getattr(self._raw, operation)
        api_name = self._raw.meta.method_to_api_mapping.get(operation, operation)

        def once(**kwargs: Any) -> dict[str, Any]:
            with self._translated(api_name):
                return method(**kwargs)

        if not self._transient:
            return once

        def call(**kwargs: Any) -> dict[str, Any]:
            return retry_while(lambda: once(**kwargs), lambda e: e.code in self._transient,
                               self._sleep)

        return call

    def pages(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        api_name = self._raw.meta.method_to_api_mapping.get(operation, operation)
        with self._translated(api_name):
            with _MODEL_LOCK:
                paginator = self._raw.get_paginator(operation)
            yield from paginator.paginate(**kwargs)

    @contextmanager
    def _translated(self, api_name: str) -> Iterator[None]:
        """botocore's errors, and those its parser raises on an answer that is not AWS's, as
        the tool's."""
        try:
            yield
        except BOTOCORE_ERRORS as exc:
            raise translate_error(exc, self.service, api_name) from exc
        except Exception as exc:
            if raised_by_parser(exc):
                raise not_aws(self.service, api_name) from exc
            raise

    def wait(self, waiter: str, *, delay: float = 1, max_attempts: int = 120,
             **kwargs: Any) -> None:
        with self._translated(waiter):
            with _MODEL_LOCK:
                found = self._raw.get_waiter(waiter)
            found.wait(
                **kwargs, WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts}
            )


def from_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item in the low-level client's typed form as plain JSON-ready values."""
    return {key: _plain(value) for key, value in item.items()}


def _number(text: str) -> int | float:
    from decimal import Decimal

    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _plain(typed: dict[str, Any]) -> Any:
    """One attribute value ({"S": "x"}, {"N": "1.5"}, {"M": {...}}...) as a plain value: all
    the tool needs of boto3's TypeDeserializer, without boto3 as a dependency."""
    ((kind, value),) = typed.items()
    if kind == "N":
        return _number(value)
    if kind == "NS":
        return [_number(v) for v in value]
    if kind == "M":
        return {k: _plain(v) for k, v in value.items()}
    if kind == "L":
        return [_plain(v) for v in value]
    if kind == "NULL":
        return None
    if kind in ("SS", "BS"):
        return list(value)
    return value  # S, B, BOOL
