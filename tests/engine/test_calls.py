"""No wasted calls (issue 6): every command asks AWS each thing once. Calls are recorded
through the same botocore hook that counts them, with their parameters, so a repeated read of
the same resource shows up whatever thread made it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from facedetect_cli.aws.hooks import is_read


class Calls:
    """A fault rule that never injects a fault: it records (service, operation, parameters)."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, str]] = Counter()

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        self.seen[(service, operation, json.dumps(params, sort_keys=True, default=str))] += 1

    def repeated(self) -> list[tuple[str, str, str]]:
        return [call for call, n in self.seen.items() if n > 1]

    def operations(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for (service, operation, _), n in self.seen.items():
            found[f"{service}:{operation}"] += n
        return found

    def writes(self) -> list[str]:
        return [op for op in self.operations() if not is_read(op.split(":")[1])]


def _run(make_app: Any, command: str, **config: Any) -> Calls:
    calls = Calls()
    app = make_app(fault_rules=[calls], **config)
    if command == "status":
        app.status()
    else:
        plan = app.plan_up() if command == "up" else app.plan_down()
        outcomes = app.apply(plan)
        assert [o.error for o in outcomes if o.error is not None] == []
    return calls


def test_up_from_empty_asks_each_thing_once(make_app: Any) -> None:
    calls = _run(make_app, "up")
    assert calls.repeated() == []
    # The features come with the state machine's own read, not from a read of their own.
    assert calls.operations()["stepfunctions:ListTagsForResource"] == 0  # nothing to tag yet
    assert calls.operations()["stepfunctions:DescribeStateMachine"] == 1


def test_up_unchanged_writes_nothing_and_reads_each_thing_once(make_app: Any) -> None:
    _run(make_app, "up")
    calls = _run(make_app, "up")
    assert calls.writes() == []
    assert calls.repeated() == []
    assert calls.operations()["stepfunctions:ListTagsForResource"] == 1


def test_a_stack_with_features_learns_them_from_the_same_reads(make_app: Any) -> None:
    _run(make_app, "up", with_features=("duplicates",))
    calls = _run(make_app, "up")  # no --with: the stack remembers
    assert calls.writes() == []
    assert calls.repeated() == []
    # The two functions of the feature are read too, and its collection, each once.
    assert calls.operations()["lambda:GetFunction"] == 5
    assert calls.operations()["rekognition:DescribeCollection"] == 1


def test_status_reads_each_thing_once(make_app: Any) -> None:
    _run(make_app, "up")
    calls = _run(make_app, "status")
    assert calls.writes() == []
    assert calls.repeated() == []


def test_down_reads_only_what_deleting_needs_and_deletes_each_thing_once(make_app: Any) -> None:
    _run(make_app, "up")
    calls = _run(make_app, "down")
    assert calls.repeated() == []
    ops = calls.operations()
    # No settings are read for what is deleted: no bucket configuration, no policy documents.
    assert [op for op in ops if op.startswith(("s3:GetBucket", "s3:GetPublic"))] == [
        "s3:GetBucketTagging"]
    assert [op for op in ops if "Policies" in op or op == "iam:GetRolePolicy"] == []
    # One listing counts the objects and empties the bucket; DeleteTopic takes the
    # subscriptions with it.
    assert ops["s3:ListObjectVersions"] == 1
    assert ops["sns:Unsubscribe"] == 0
    assert ops["iam:DeleteRole"] == 5
