"""The IAM documents the stack writes: each role may do exactly what its step needs.

The tutorial gave Step Functions lambda:InvokeFunction on "*" and one shared Lambda role;
here every function has its own role, every action names its resource, and the only wildcards
are on actions that have no resource-level permissions: rekognition:DetectFaces, and the log
delivery actions Step Functions needs to write its own logs.
"""

from __future__ import annotations

from typing import Any

from facedetect_cli.engine.naming import Names

VERSION = "2012-10-17"
INLINE_POLICY_NAME = "facedetect-least-privilege"

Document = dict[str, Any]


def _statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources)}


def trust(service: str, names: Names, *, source_account: bool = True) -> Document:
    """Who may assume the role. Step Functions and EventBridge assume it on behalf of a
    resource; the SourceAccount condition stops another account's resource from using it
    (AWS's confused-deputy guidance)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": names.account}}
    return {"Version": VERSION, "Statement": [statement]}


def lambda_trust(names: Names) -> Document:
    # Lambda assumes execution roles as itself, not on behalf of a caller: no condition.
    return trust("lambda.amazonaws.com", names, source_account=False)


def detect_faces(names: Names) -> Document:
    uploads = f"{names.bucket_arn}/{names.config.uploads_prefix}*"
    return {
        "Version": VERSION,
        "Statement": [
            _statement(["rekognition:DetectFaces"], ["*"]),
            # Rekognition reads the object with the caller's permissions; GetObjectVersion
            # covers events that name a version (versioned buckets).
            _statement(["s3:GetObject", "s3:GetObjectVersion"], [uploads]),
        ],
    }


def store_metadata(names: Names) -> Document:
    # A conditional PutItem only: the handler learns of a newer item from the failed condition.
    return {"Version": VERSION, "Statement": [_statement(["dynamodb:PutItem"], [names.table_arn])]}


def send_notification(names: Names) -> Document:
    topic = names.topic_arn(names.results_topic)
    return {"Version": VERSION, "Statement": [_statement(["sns:Publish"], [topic])]}


def _read_uploads(names: Names) -> dict[str, Any]:
    # Rekognition reads the object with the caller's permissions, as for DetectFaces.
    uploads = f"{names.bucket_arn}/{names.config.uploads_prefix}*"
    return _statement(["s3:GetObject", "s3:GetObjectVersion"], [uploads])


def check_face_duplicate(names: Names) -> Document:
    # Collection actions do have resource-level permissions: this collection only.
    return {
        "Version": VERSION,
        "Statement": [
            _statement(["rekognition:SearchFacesByImage"], [names.collection_arn]),
            _read_uploads(names),
        ],
    }


def add_face_to_index(names: Names) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            _statement(["rekognition:IndexFaces"], [names.collection_arn]),
            _read_uploads(names),
        ],
    }


def create_thumbnail(names: Names) -> Document:
    # Reads uploads, writes only under the thumbnails prefix (which the rule does not match).
    thumbnails = f"{names.bucket_arn}/{names.config.thumbnails_prefix}*"
    return {
        "Version": VERSION,
        "Statement": [_read_uploads(names), _statement(["s3:PutObject"], [thumbnails])],
    }


FUNCTION_POLICIES = {
    "detect_faces": detect_faces,
    "store_metadata": store_metadata,
    "send_notification": send_notification,
    "check_face_duplicate": check_face_duplicate,
    "add_face_to_index": add_face_to_index,
    "create_thumbnail": create_thumbnail,
}


def function_logs(names: Names, module: str) -> dict[str, Any]:
    """Writing its own log group and nothing else. Replaces AWSLambdaBasicExecutionRole, which
    allows logs:CreateLogGroup, CreateLogStream and PutLogEvents on every group of the account:
    `up` makes the group before the function, so CreateLogGroup is not needed either."""
    group = names.log_group_arn(names.function_log_group(module))
    return _statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group}:*"])


def function_role(names: Names, module: str) -> Document:
    """The function's inline policy: what its step needs, and writing its own logs."""
    document = FUNCTION_POLICIES[module](names)
    return {**document, "Statement": [*document["Statement"], function_logs(names, module)]}


# What Step Functions needs to set up delivery of a state machine's logs to CloudWatch Logs
# (Step Functions Developer Guide, "Logging using CloudWatch Logs", IAM policies). None of these
# actions has resource-level permissions: the Service Authorization Reference for CloudWatch
# Logs lists the *LogDelivery actions as permission-only with no resource type, and CloudWatch
# Logs' "Logs sent to CloudWatch Logs" requires a "*" resource for DescribeLogGroups,
# DescribeResourcePolicies and PutResourcePolicy. So "*" here is not a shortcut.
STATE_MACHINE_LOG_DELIVERY = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]


def state_machine(names: Names, function_modules: list[str]) -> Document:
    functions = [names.function_arn(module) for module in function_modules]
    failures = names.topic_arn(names.failures_topic)
    return {
        "Version": VERSION,
        "Statement": [
            _statement(["lambda:InvokeFunction"], functions),
            _statement(["sns:Publish"], [failures]),
            _statement(STATE_MACHINE_LOG_DELIVERY, ["*"]),
        ],
    }


def events(names: Names) -> Document:
    return {
        "Version": VERSION,
        "Statement": [_statement(["states:StartExecution"], [names.state_machine_arn])],
    }


def bucket_tls_only(names: Names) -> Document:
    """Deny every request to the bucket that does not use TLS."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [names.bucket_arn, f"{names.bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
