"""An access-denied error names the IAM action to grant, not the API operation: S3 names its
actions otherwise (GetBucketEncryption needs s3:GetEncryptionConfiguration), and a call can
need more than its own action (CreateFunction needs iam:PassRole, which AWS's message names).
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from facedetect_cli.aws.actions import actions_for
from facedetect_cli.aws.errors import translate_error


def denial(code: str, message: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}}, "operation")


@pytest.mark.parametrize(("service", "operation", "message", "action"), [
    ("s3", "GetBucketEncryption", "Access Denied", "s3:GetEncryptionConfiguration"),
    ("s3", "PutPublicAccessBlock", "Access Denied", "s3:PutBucketPublicAccessBlock"),
    ("s3", "ListObjectVersions", "Access Denied", "s3:ListBucketVersions"),
    ("stepfunctions", "DescribeStateMachine", "not allowed", "states:DescribeStateMachine"),
    ("lambda", "CreateFunction", "User: arn:aws:iam::111122223333:user/ops is not authorized "
     "to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/x because no "
     "identity-based policy allows the iam:PassRole action", "iam:PassRole"),
    ("dynamodb", "CreateTable", "User: arn:aws:sts::111122223333:assumed-role/ci/s is not "
     "authorized to perform: dynamodb:TagResource on resource: arn:aws:dynamodb:eu-west-1:"
     "111122223333:table/t", "dynamodb:TagResource"),
])
def test_denials_name_the_action_to_grant(service, operation, message, action):
    code = "AccessDenied" if service == "s3" else "AccessDeniedException"
    error = translate_error(denial(code, message), service, operation)
    assert str(error).startswith(f"access denied for {action}: ")
    assert f"(grant {action} to the caller" in str(error)


def test_every_call_needs_its_own_action_first():
    assert actions_for("s3", "CreateBucket") == ("s3:CreateBucket", "s3:TagResource")
    assert actions_for("lambda", "GetFunction") == ("lambda:GetFunction", "lambda:ListTags")
    assert actions_for("stepfunctions", "ListExecutions") == ("states:ListExecutions",)
    assert actions_for("sts", "GetCallerIdentity") == ()  # answers every caller
