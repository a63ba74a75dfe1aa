"""A botocore client whose calls raise the tool's errors, with paginators and waiters."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions

from facedetect_cli.aws.errors import translate_error

# The first paginator or waiter of any client makes botocore's loader look for that kind of
# model in every service's directory (about 400, 50 ms). The loader caches the answer, but
# only once it has one: fifteen threads asking at once each did the whole search, a second of
# CPU in all. One at a time, the first searches and the others find the cache.
_MODEL_LOCK = threading.Lock()


class Client:
    """A botocore client whose calls raise the tool's errors instead of botocore's."""

    def __init__(self, raw: Any, service: str) -> None:
        self._raw = raw
        self.service = service

    @property
    def raw(self) -> Any:
        """The botocore client itself, for botocore's Stubber in tests."""
        return self._raw

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        method = getattr(self._raw, operation)
        api_name = self._raw.meta.method_to_api_mapping.get(operation, operation)

        def call(**kwargs: Any) -> dict[str, Any]:
            try:
                return method(**kwargs)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise translate_error(exc, self.service, api_name) from exc

        return call

    def pages(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        api_name = self._raw.meta.method_to_api_mapping.get(operation, operation)
        try:
            with _MODEL_LOCK:
                paginator = self._raw.get_paginator(operation)
            yield from paginator.paginate(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise translate_error(exc, self.service, api_name) from exc

    def wait(self, waiter: str, *, delay: float = 1, max_attempts: int = 120,
             **kwargs: Any) -> None:
        try:
            with _MODEL_LOCK:
                found = self._raw.get_waiter(waiter)
            found.wait(
                **kwargs, WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts}
            )
        except botocore.exceptions.BotoCoreError as exc:
            raise translate_error(exc, self.service, waiter) from exc


def from_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item in the low-level client's typed form as plain JSON-ready values."""
    from decimal import Decimal

    from boto3.dynamodb.types import TypeDeserializer

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | set):
            return [plain(v) for v in value]
        return value

    deserializer = TypeDeserializer()
    return {k: plain(deserializer.deserialize(v)) for k, v in item.items()}
