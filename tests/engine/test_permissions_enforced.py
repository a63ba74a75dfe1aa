"""`facedetect permissions` against moto with IAM enforced (iam_testkit.py says how close
moto's check comes to AWS's): a user holding exactly the printed policy runs every command on
a stack with both features, repairs included; the same policy without one action makes the
command that needs it fail with one line naming that action. The calls every command really
makes are compared with the policy, so the policy cannot fall behind the code.

The default suite takes one action of each kind of failure (SAMPLE); `pytest -m
permissions_sweep` takes every action of the policy out in turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import Result
from conftest import ACCOUNT, REGION, fake_wheel, role_name
from iam_testkit import CallRecorder, as_admin, enforced, operator, patch_moto, without

from facedetect_cli.aws.actions import actions_for
from facedetect_cli.build import features, wheels
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.permissions import (
    CALLS,
    USE_CALLS,
    granted_actions,
    operator_policy,
)

BOTH = frozenset(features.FEATURES)
STACK = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
UP = ("up", "--with", "duplicates", "--with", "thumbnails", "--email", "ops@example.com")


def policy_for_moto() -> dict[str, Any]:
    # The account and region moto answers for: the policy as `permissions --account --region`
    # prints it.
    return operator_policy(Names(StackConfig(), ACCOUNT, REGION), BOTH)


@pytest.fixture
def wheel_cache(tmp_path, monkeypatch):
    # Small stand-in wheels for the thumbnails function (the real download: test_wheels.py).
    for architecture in ("arm64", "x86_64"):
        target = wheels.Target("python3.13", architecture)
        fake_wheel(tmp_path / "wheels" / target.folder, target)
    monkeypatch.setenv("FACEDETECT_WHEEL_CACHE", str(tmp_path / "wheels"))


@pytest.fixture
def calls() -> CallRecorder:
    return CallRecorder()


@pytest.fixture
def login(invoke, calls, wheel_cache, monkeypatch) -> Callable[..., Any]:
    """`login(policy, name)` makes a user holding exactly `policy` and returns a runner of
    facedetect commands as that user, with IAM enforced."""
    patch_moto(monkeypatch)

    def as_user(policy: dict[str, Any], name: str = "operator") -> Callable[..., Result]:
        with as_admin():
            credentials = operator(policy, name)

        def run(*args: str) -> Result:
            for variable, value in credentials.items():
                monkeypatch.setenv(variable, value)
            with enforced():
                return invoke(*args, fault_rules=[calls])

        return run

    return as_user


# What an operator does, in order: each command with its expected exit code, and what
# somebody else does in between. The default suite takes SAMPLE's actions out just before
# the step that needs them; the sweep takes each action out for the whole sequence.
def steps(tmp_path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    image = tmp_path / "face.png"
    image.write_bytes(PNG)
    return [
        ("up", UP, 0),
        ("status", ("status",), 0),
        ("drift", (), 0),
        # Drifted; and the latest failure read (DescribeExecution, GetExecutionHistory).
        ("status", ("status", "--output", "json"), 3),
        ("up", UP, 0),  # repairs every drift with the calls only repairs make
        # --no-wait: moto's EventBridge starts no execution; following one makes the calls
        # status has made (ListExecutions, DescribeExecution).
        ("detect", ("detect", str(image), "--no-wait"), 0),
        ("results", ("results",), 0),
        ("results", ("results", "--key", "uploads/none.png"), 1),  # none stored
        ("logs", ("logs",), 0),
        ("down", ("down", "--yes"), 0),
    ]


def somebody_else() -> None:
    drift_everything()
    # A failed run of the pipeline, for status to explain.
    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=STACK, input="{}")["executionArn"]
    sfn.stop_execution(executionArn=execution, error="Test", cause="stopped by the test")


def errors(result: Result) -> list[str]:
    """The error lines (stderr). The progress lines on stdout also show the failed step."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def went_wrong(result: Result, expected: int) -> bool:
    # status reports a denied read of the executions in its summary, without failing.
    return result.exit_code != expected or "access denied" in result.stdout + result.stderr


# The default suite: an action of each kind, taken out just before its step: a read of each
# command (a denied read stops the command before it writes anything), then at most one
# write (a run without one write makes all the others, and the next would find them made).
SAMPLE = {
    0: ["iam:GetRole", "lambda:CreateFunction"],  # a JSON service's denial
    # S3 answers a denied GetBucketTagging as it does for another account's bucket.
    1: ["states:DescribeStateMachine", "s3:GetBucketTagging"],
    4: ["s3:PutEncryptionConfiguration"],  # not named after its operation, PutBucketEncryption
    # Denied per key, in DeleteObjects' answer rather than as an error.
    9: ["s3:DeleteObjectVersion"],
}


def test_exactly_the_policy_runs_every_command_and_without_an_action_one_line_names_it(
        login, calls, tmp_path):
    policy = policy_for_moto()
    run = login(policy)
    for number, (command, args, expected) in enumerate(steps(tmp_path)):
        for action in SAMPLE.get(number, []):
            result = login(without(policy, action), name=action.replace(":", "-"))(*args)
            assert result.exit_code != 0, action
            [line] = errors(result)
            assert action in line, (action, result.stderr)
        if command == "drift":
            with as_admin():
                somebody_else()
            continue
        result = run(*args)
        assert not went_wrong(result, expected), (command, result.stdout, result.stderr)
        if command == "status" and "json" in args:
            # moto keeps no error of a stopped execution, only its status.
            failure = json.loads(result.stdout)["executions"]["latest_failure"]
            assert failure["error"] == "ABORTED"

    # Every call the commands made is one the policy was built from, and allows.
    made = set(calls.seen)
    assert made - known_calls() == set(), "calls permissions.py does not know of"
    needed = {action for call in made for action in actions_for(*call.split(":"))}
    assert needed - granted_actions(policy) == set()
    # ... and every call the policy was built from was made: none is granted for nothing.
    assert known_calls() - made == set()


def known_calls() -> set[str]:
    return {*[c for kind in CALLS.values() for phase in kind.values() for c in phase],
            *USE_CALLS, "sts:GetCallerIdentity"}


def drift_everything() -> None:
    """Changes, as somebody else, that `up` repairs with each of its update calls."""
    s3, iam = boto3.client("s3"), boto3.client("iam")
    bucket = f"facedetect-images-{ACCOUNT}-{REGION}"
    s3.delete_bucket_encryption(Bucket=bucket)
    s3.delete_public_access_block(Bucket=bucket)
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    boto3.client("dynamodb").update_table(
        TableName="facedetect-FaceMetadataTable", BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    sns = boto3.client("sns")
    results = f"arn:aws:sns:{REGION}:{ACCOUNT}:facedetect-FaceDetectionResults"
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=results)["Subscriptions"]
    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    role = role_name("DetectFacesRole")
    anyone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                     "Resource": "*"}]}
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]}))
    iam.put_role_policy(RoleName=role, PolicyName="extra", PolicyDocument=json.dumps(anyone))
    iam.put_role_policy(RoleName=role_name("StoreMetadataRole"),
                        PolicyName="facedetect-least-privilege", PolicyDocument=json.dumps(anyone))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/service-role/"
                           "AWSLambdaBasicExecutionRole")
    lam = boto3.client("lambda")
    lam.update_function_configuration(FunctionName="facedetect-DetectFacesLambda", Timeout=3)
    lam.update_function_code(FunctionName="facedetect-StoreMetadataLambda", ZipFile=PNG)
    logs = boto3.client("logs")
    logs.put_retention_policy(logGroupName="/aws/lambda/facedetect-DetectFacesLambda",
                              retentionInDays=1)
    # As Lambda leaves a group it makes itself: untagged; `up` takes it over.
    logs.untag_log_group(logGroupName="/aws/lambda/facedetect-StoreMetadataLambda",
                         tags=["facedetect:stack"])
    sfn = boto3.client("stepfunctions")
    sfn.update_state_machine(stateMachineArn=STACK, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))
    sfn.tag_resource(resourceArn=STACK, tags=[{"key": "facedetect:features",
                                               "value": "duplicates"}])
    events = boto3.client("events")
    events.disable_rule(Name="facedetect-FaceDetectionTrigger")
    events.put_targets(Rule="facedetect-FaceDetectionTrigger", Targets=[
        {"Id": "Stranger", "Arn": STACK}])


# The sweep: every action out in turn -------------------------------------------------------
# Found by running the sweep (moto 5.2.5): the actions whose absence no command notices,
# because moto checks one action per request (the call's own) and these are the others a
# call needs, or one no call needs.
_TAGS_AT_CREATION = "needed, with the create that carries tags, on AWS"
NOT_ENFORCED = {
    **{action: _TAGS_AT_CREATION for action in (
        "s3:TagResource", "dynamodb:TagResource", "sns:TagResource", "iam:TagRole",
        "lambda:TagResource", "events:TagResource", "rekognition:TagResource")},
    "iam:PassRole": "needed by CreateFunction, CreateStateMachine, PutTargets... on AWS",
    "lambda:ListTags": "GetFunction answers without Tags on AWS",
    "s3:DeleteObject": "DeleteObjects is checked for DeleteObjectVersion (keys with versions)",
    "s3:GetObject": "no call needs it: granted as PutBucketPolicy implies it",
}
# Denied, and the command does without it, as designed.
TOLERATED = {
    "states:GetExecutionHistory": "status falls back on DescribeExecution's error",
}


def first_wrong_step(run: Callable[..., Result], tmp_path: Path) -> tuple[Result, int] | None:
    for command, args, expected in steps(tmp_path):
        if command == "drift":
            with as_admin():
                somebody_else()
            continue
        result = run(*args)
        if went_wrong(result, expected):
            return result, expected
    return None


@pytest.mark.permissions_sweep
@pytest.mark.parametrize("action", sorted(granted_actions(policy_for_moto())))
def test_without_any_one_action_the_command_needing_it_fails_naming_it(login, tmp_path,
                                                                        action):
    wrong = first_wrong_step(login(without(policy_for_moto(), action)), tmp_path)
    if action in NOT_ENFORCED or action in TOLERATED:
        assert wrong is None, (action, wrong and wrong[0].stderr)
        return
    assert wrong is not None, f"{action}: no command failed without it"
    result, expected = wrong
    if result.exit_code != expected:
        lines = errors(result)
    else:  # status's summary of the executions says so, in one line
        lines = [line for line in (result.stdout + result.stderr).splitlines()
                 if "access denied" in line]
    assert len(lines) == 1 and action in lines[0], (action, result.stdout, result.stderr)
