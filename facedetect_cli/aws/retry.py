"""Bounded retries for what AWS answers while it catches up with itself: a role not yet
assumable, a bucket or table still being created or deleted, a conflicting write in progress.

Every retry polls at a fixed short interval within a bound, as terraform-provider-aws does
(its `tfresource.RetryWhen...` helpers poll until a timeout, two minutes for propagation):
a wait that doubles overshoots the moment the resource becomes usable by up to its last
interval, and these answers are cheap to ask again. The sleep is a parameter, so tests run
instantly and can assert the waits; never a fixed sleep in the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from facedetect_cli.errors import AwsError

T = TypeVar("T")


@dataclass(frozen=True)
class Poll:
    """Ask again every `interval` seconds, for at most `budget` seconds in all."""

    interval: float
    budget: float

    def waits(self) -> list[float]:
        return [self.interval] * int(self.budget // self.interval)


# IAM: a role is usable by Lambda and Step Functions seconds after it is made, sometimes tens
# of seconds. terraform-provider-aws waits up to 2 minutes (internal/service/iam/wait.go,
# propagationTimeout); half a second between tries ends the wait within about a second of
# the role becoming usable (the interval plus one call).
PROPAGATION = Poll(interval=0.5, budget=120.0)
# Conflicts and resources in transition (a bucket write in progress, a table or role still
# being deleted): the same two minutes, polled every second.
SETTLING = Poll(interval=1.0, budget=120.0)
# A table still DELETING when it is created again: DynamoDB takes seconds for a small table,
# longer for a large one (terraform-provider-aws waits up to 10 minutes for a delete,
# internal/service/dynamodb/table.go, deleteTableTimeout); five minutes here.
TABLE_DELETING = Poll(interval=1.0, budget=300.0)

# Codes retried on every call of a service, whatever the operation (with SETTLING): they only
# ever mean "another operation on this resource is in progress, try again".
ALWAYS_RETRIED: dict[str, frozenset[str]] = {
    # S3 answers 409 OperationAborted ("A conflicting conditional operation is currently in
    # progress against this resource. Please try again.") to overlapping bucket-level writes
    # and to CreateBucket of a name deleted moments ago; botocore's standard mode retries
    # neither. terraform-provider-aws adds it to the retryer of every S3 call
    # (internal/service/s3/service_package.go) and retries CreateBucket on it (bucket.go).
    "s3": frozenset({"OperationAborted"}),
    # CloudWatch Logs answers OperationAbortedException ("Multiple concurrent requests to
    # update the same resource were in conflict") to CreateLogGroup, DeleteLogGroup,
    # PutRetentionPolicy and TagResource (CloudWatch Logs API Reference, each action's
    # Errors); most of all while Step Functions removes its log delivery from the state
    # machine's group. terraform-provider-aws retries DeleteLogGroup on it for a minute
    # (internal/service/logs/group.go); SETTLING's two minutes here, as for the rest.
    "logs": frozenset({"OperationAbortedException"}),
}

_PROPAGATION_PHRASES = (
    "cannot be assumed",
    "assume the provided role",
    "not authorized to assume",
    "execution role does not have permissions",
)


def is_iam_propagation_error(error: AwsError) -> bool:
    """The errors AWS gives while a just-created or just-changed role is not yet visible to the
    service that must assume it (Lambda, Step Functions, EventBridge). A caller denied
    iam:PassRole is not one of them: waiting never grants a permission."""
    message = str(error).lower()
    if "iam:passrole" in message:
        return False
    return error.code in {
        "InvalidParameterValueException",
        "AccessDeniedException",
        "ValidationException",
        "InvalidArn",
    } and any(phrase in message for phrase in _PROPAGATION_PHRASES)


def retry_while(
    call: Callable[[], T],
    retryable: Callable[[AwsError], bool],
    sleep: Callable[[float], None],
    policy: Poll = SETTLING,
) -> T:
    """Run `call`, retrying while it raises an AwsError that `retryable` accepts; after the
    policy's budget, the last error is raised as it is."""
    for wait in policy.waits():
        try:
            return call()
        except AwsError as error:
            if not retryable(error):
                raise
        sleep(wait)
    return call()
