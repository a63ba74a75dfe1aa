"""Failures AWS reports mid-run become one line that names what to do (issue 4's table)."""

from __future__ import annotations

import boto3
import pytest

from facedetect_cli.aws.hooks import InjectedFault


def deny(operation: str, code: str = "AccessDenied", message: str = "User is not authorized"):
    def rule(service, op, params):
        return InjectedFault(code, message, 403) if op == operation else None

    return rule


@pytest.mark.parametrize(("operation", "action"), [
    ("CreateTable", "dynamodb:CreateTable"),
    ("CreateFunction", "lambda:CreateFunction"),
    ("PutRolePolicy", "iam:PutRolePolicy"),
])
def test_access_denied_mid_up_names_the_action(invoke, operation, action):
    code = "AccessDeniedException" if operation != "PutRolePolicy" else "AccessDenied"
    result = invoke("up", fault_rules=[deny(operation, code)])
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line]
    assert line.startswith("error: ") and f"access denied for {action}" in line
    assert "Traceback" not in result.stderr


def test_expired_credentials_are_one_line_and_exit_1(invoke):
    expired = InjectedFault("ExpiredToken", "The security token included in the request is "
                            "expired", 403)
    result = invoke("status", fault_rules=[lambda s, op, p: expired])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: AWS credentials have expired (ExpiredToken): refresh them (for example "
        "`aws sso login`) and run the command again"]


def test_bucket_name_owned_by_another_account(invoke):
    taken = InjectedFault("BucketAlreadyExists", "The requested bucket name is not available",
                          409)
    result = invoke("up", fault_rules=[lambda s, op, p: taken if op == "CreateBucket" else None])
    assert result.exit_code == 1
    assert "is owned by another AWS account" in result.stderr
    assert "choose another --stack" in result.stderr


def test_debug_lists_calls_by_operation(invoke):
    result = invoke("status", "--debug")
    assert "debug: api call s3:GetBucketTagging" in result.stderr
    assert "debug: api call sts:GetCallerIdentity" in result.stderr  # the very first call
    assert "debug: api calls by operation:" in result.stderr
    assert "s3:GetBucketTagging" in result.stderr.split("by operation:")[1]
    assert "\ndebug: " in result.stderr and " writes" in result.stderr
    assert boto3.client("s3").list_buckets()["Buckets"] == []  # status wrote nothing
