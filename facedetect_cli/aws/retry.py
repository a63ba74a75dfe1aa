"""Bounded exponential backoff for AWS's eventual consistency (IAM propagation, a state
machine still deleting). The sleep is a parameter so tests run instantly and can assert the
waits; never a fixed sleep."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from facedetect_cli.errors import AwsError

T = TypeVar("T")

FIRST_WAIT_S = 0.5
MAX_WAIT_S = 10.0
TOTAL_BUDGET_S = 120.0

_PROPAGATION_PHRASES = (
    "cannot be assumed",
    "assume the provided role",
    "not authorized to assume",
    "execution role does not have permissions",
    "is not authorized to perform: iam:passrole",
)


def is_iam_propagation_error(error: AwsError) -> bool:
    """The errors AWS gives while a just-created or just-changed role is not yet visible to the
    service that must assume it (Lambda, Step Functions, EventBridge)."""
    message = str(error).lower()
    return error.code in {
        "InvalidParameterValueException",
        "AccessDeniedException",
        "ValidationException",
        "InvalidArn",
    } and any(phrase in message for phrase in _PROPAGATION_PHRASES)


def backoff_waits(
    first: float = FIRST_WAIT_S, cap: float = MAX_WAIT_S, budget: float = TOTAL_BUDGET_S,
    jitter: Callable[[], float] = random.random,
) -> list[float]:
    """The waits between attempts: doubling from `first`, each at most `cap`, with up to 25 %
    subtracted as jitter so parallel retries spread out, summing to at most `budget`."""
    waits: list[float] = []
    wait = first
    while True:
        step = min(wait, cap) * (1 - 0.25 * jitter())
        if sum(waits) + step > budget:
            return waits
        waits.append(step)
        wait *= 2


def retry_while(
    call: Callable[[], T],
    retryable: Callable[[AwsError], bool],
    sleep: Callable[[float], None],
    waits: list[float] | None = None,
) -> T:
    """Run `call`, retrying while it raises an AwsError that `retryable` accepts; after the
    budget, the last error is raised as it is."""
    for wait in backoff_waits() if waits is None else waits:
        try:
            return call()
        except AwsError as error:
            if not retryable(error):
                raise
        sleep(wait)
    return call()
