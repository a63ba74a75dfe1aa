"""Which IAM actions an API call needs: what `facedetect permissions` grants, and what an
access-denied error tells the caller to grant.

An operation is named as the call counter records it, `<botocore service>:<API operation>`.
Most need the one action `<IAM prefix>:<operation>`; the table lists the others, from the
Service Authorization Reference and the API references (sources in docs/permissions.md).
The first action of an entry is the one AWS checks for the call itself; the ones after it are
needed by parameters facedetect passes: tags at creation (each service checks its tagging
action then), or a role handed to the service (iam:PassRole).
"""

from __future__ import annotations

from facedetect_cli.errors import AwsError

# IAM action prefixes differ from botocore's service names for a few services.
PREFIX = {"stepfunctions": "states", "sfn": "states", "eventbridge": "events"}

PASS_ROLE = "iam:PassRole"

_DIFFERENT: dict[str, tuple[str, ...]] = {
    # S3's actions are not named after its operations.
    "s3:CreateBucket": ("s3:CreateBucket", "s3:TagResource"),
    "s3:GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock",),
    "s3:PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "s3:GetBucketEncryption": ("s3:GetEncryptionConfiguration",),
    "s3:PutBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "s3:GetBucketNotificationConfiguration": ("s3:GetBucketNotification",),
    "s3:PutBucketNotificationConfiguration": ("s3:PutBucketNotification",),
    "s3:ListObjectVersions": ("s3:ListBucketVersions",),
    # Checked per key: DeleteObject, and DeleteObjectVersion for a key given with a version
    # (every key `down` deletes comes from ListObjectVersions, so it has one).
    "s3:DeleteObjects": ("s3:DeleteObjectVersion", "s3:DeleteObject"),
    # GetFunction returns the function's tags only to a caller allowed lambda:ListTags
    # (TagsError otherwise), and ownership is read from those tags.
    "lambda:GetFunction": ("lambda:GetFunction", "lambda:ListTags"),
    "lambda:CreateFunction": ("lambda:CreateFunction", "lambda:TagResource", PASS_ROLE),
    "lambda:UpdateFunctionConfiguration": ("lambda:UpdateFunctionConfiguration", PASS_ROLE),
    "stepfunctions:CreateStateMachine": ("states:CreateStateMachine", "states:TagResource",
                                         PASS_ROLE),
    "stepfunctions:UpdateStateMachine": ("states:UpdateStateMachine", PASS_ROLE),
    "events:PutRule": ("events:PutRule", "events:TagResource"),
    "events:PutTargets": ("events:PutTargets", PASS_ROLE),
    "iam:CreateRole": ("iam:CreateRole", "iam:TagRole"),
    "sns:CreateTopic": ("sns:CreateTopic", "sns:TagResource"),
    "logs:CreateLogGroup": ("logs:CreateLogGroup", "logs:TagResource"),
    "dynamodb:CreateTable": ("dynamodb:CreateTable", "dynamodb:TagResource"),
    "rekognition:CreateCollection": ("rekognition:CreateCollection", "rekognition:TagResource"),
    # Answers every caller, whatever its policies say.
    "sts:GetCallerIdentity": (),
}


def prefix(service: str) -> str:
    return PREFIX.get(service, service)


def actions_for(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions a call of `operation` needs, the call's own first."""
    found = _DIFFERENT.get(f"{service}:{operation}")
    if found is not None:
        return found
    return (f"{prefix(service)}:{operation}",)


def primary_action(service: str, operation: str) -> str:
    """The action AWS checks for the call itself (what an access-denied error is about)."""
    found = actions_for(service, operation)
    return found[0] if found else f"{prefix(service)}:{operation}"


def access_denied(action: str, message: str, *, code: str, operation: str,
                  service: str) -> AwsError:
    """The one line every denial becomes: the action to grant comes first. (Here, not in
    errors.py, so that code reporting a denial found in an answer needs no botocore.)"""
    return AwsError(f"access denied for {action}: {message} (grant {action} to the caller, "
                    "or use a profile that has it)", code=code, operation=operation,
                    service=service)
