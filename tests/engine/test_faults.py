"""Faults at every step: a failure at any write call leaves the account in a state that one
more command repairs (issue 4). moto emulates none of AWS's timing, so the real error codes
are injected through the same botocore before-call hook that counts API calls."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from conftest import EMAIL, REGION, account_clients, leftovers
from moto import mock_aws

from facedetect_cli.aws.connection import Connection
from facedetect_cli.aws.hooks import InjectedFault, is_read
from facedetect_cli.cli import runner
from facedetect_cli.cli.main import cli
from facedetect_cli.engine.app import StackApp, is_healthy
from facedetect_cli.engine.config import StackConfig

# The parameters that say which resource a call is about.
_IDENTIFYING = ("Bucket", "TableName", "Name", "TopicArn", "Endpoint", "SubscriptionArn",
                "RoleName", "PolicyName", "PolicyArn", "FunctionName", "name",
                "stateMachineArn", "Rule", "ResourceArn", "logGroupName")
# Small chunks (about 6 s each) let the two test workers share them out evenly.
CHUNKS = 12
BUCKET = f"facedetect-images-123456789012-{REGION}"


def _stable(key: str, value: object) -> str:
    # A subscription's ARN ends in a random id: name it by its topic.
    return str(value).rsplit(":", 1)[0] if key == "SubscriptionArn" else str(value)


def signature(service: str, operation: str, params: dict) -> tuple:
    return (service, operation,
            tuple((k, _stable(k, params[k])) for k in _IDENTIFYING if k in params))


class FailOnce:
    """Fails the first call with the given signature with a non-retryable error."""

    def __init__(self, target: tuple):
        self.target = target
        self.fired = False

    def __call__(self, service: str, operation: str, params: dict) -> InjectedFault | None:
        if not self.fired and signature(service, operation, params) == self.target:
            self.fired = True
            return InjectedFault("InternalFailure", f"injected fault in {operation}", 400)
        return None


class Recorder:
    def __init__(self):
        self.writes: list[tuple] = []

    def __call__(self, service: str, operation: str, params: dict) -> None:
        if not is_read(operation):
            found = signature(service, operation, params)
            if found not in self.writes:
                self.writes.append(found)


@pytest.fixture
def fresh_account() -> Iterator[None]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


def new_app(**kwargs) -> StackApp:
    return StackApp(Connection(region=REGION), StackConfig(emails=(EMAIL,)),
                    sleep=lambda s: None, **kwargs)


@functools.cache  # once per test process, not once per chunk
def writes_of(command: str) -> list[tuple]:
    recorder = Recorder()
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        if command == "down":
            new_app().apply(new_app().plan_up())
            account_clients()["s3"].put_object(Bucket=BUCKET, Key="uploads/a.jpg", Body=b"x")
        app = new_app(fault_rules=[recorder])
        plan = app.plan_up() if command == "up" else app.plan_down()
        app.apply(plan)
    # Sorted: calls run in parallel, and every chunk must see the same list.
    return sorted(recorder.writes)


def cli_run(*args: str, fault: FailOnce | None = None):
    runner.APP_OVERRIDES.clear()
    runner.APP_OVERRIDES.update({"sleep": lambda s: None,
                                 "fault_rules": [fault] if fault else []})
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        runner.APP_OVERRIDES.clear()


def assert_one_line_failure(result, target: tuple) -> None:
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    _service, operation, _ident = target
    assert lines[0].startswith("error: ")
    assert f"injected fault in {operation}" in lines[0]
    assert "Traceback" not in result.stderr


def recovered(app: StackApp, plan) -> None:
    outcomes = app.apply(plan)
    assert [o for o in outcomes if o.status in ("failed", "skipped")] == []


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_write_of_up_and_down_fails_once_and_one_more_command_recovers(chunk):
    """For the i-th write call of `up` (and of `down`), in a fresh account:
    up fails there -> down leaves nothing; up fails there again -> up completes the stack;
    down fails at the i-th write of down -> down again leaves nothing.
    The failing commands run through the CLI (exit code, the one error line); the commands
    that recover run through the engine with one session, which is what the CLI runs too."""
    up_writes, down_writes = writes_of("up"), writes_of("down")
    # 20 creates (4 of them log groups), 4 log retentions, 4 bucket settings, 5 inline
    # policies, 1 rule target. No managed policy is attached any more.
    assert len(up_writes) == 34
    # 18 deletes (the subscriptions go with their topics: no Unsubscribe), 1 rule target,
    # 5 inline policies, 1 bucket object batch.
    assert len(down_writes) == 25
    for i in range(chunk, max(len(up_writes), len(down_writes)), CHUNKS):
        with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
            app = new_app()
            if i < len(up_writes):
                target = up_writes[i]
                fault = FailOnce(target)
                failed = cli_run("up", "--email", EMAIL, fault=fault)
                assert fault.fired, target
                assert_one_line_failure(failed, target)
                recovered(app, app.plan_down())
                assert leftovers() == [], target

                app.aws.fault_rules[:] = [FailOnce(target)]
                outcomes = app.apply(app.plan_up())
                assert len([o for o in outcomes if o.error is not None]) == 1, target
                app.aws.fault_rules[:] = []
            # up completes the stack: every step done or already in place, none failed.
            recovered(app, app.plan_up())
            if i < CHUNKS:  # and, once per chunk (its first write), a full read confirms it
                rows = app.status()
                assert is_healthy(rows), [r for r in rows if r.state != "present"]

            if i < len(down_writes):
                account_clients()["s3"].put_object(Bucket=BUCKET, Key="uploads/a.jpg", Body=b"x")
                target = down_writes[i]
                fault = FailOnce(target)
                failed = cli_run("down", "--yes", fault=fault)
                assert fault.fired, target
                assert_one_line_failure(failed, target)
                recovered(app, app.plan_down())
                assert leftovers() == [], target
