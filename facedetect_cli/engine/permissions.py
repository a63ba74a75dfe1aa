"""The IAM policy the credentials running facedetect need: every command (up, status, down,
detect, results, logs) on one stack, and nothing else.

It is built from the stack itself (engine/stack.py: each resource with its kind and ARN) and
from the calls each kind of resource makes (CALLS below), turned into IAM actions by
aws/actions.py. Every action is scoped to the stack's own resources, except the two AWS
offers no resource-level permissions for: logs:DescribeLogGroups and
rekognition:CreateCollection (which is limited by the tag it must carry instead).
iam:PassRole names each role and the one service it may be handed to. Sources and the
reasoning: docs/permissions.md.
A test compares CALLS with the calls the commands really make, so this cannot fall behind.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from facedetect_cli.aws.actions import PASS_ROLE, actions_for
from facedetect_cli.aws.connection import validate_region_syntax
from facedetect_cli.build import features as feature_names
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.naming import FUNCTION_BASENAMES, TAG_KEY, Names
from facedetect_cli.engine.policies import VERSION, Document
from facedetect_cli.engine.resources.base import Resource
from facedetect_cli.engine.resources.role import Role
from facedetect_cli.engine.stack import build_stack, feature_resources, legacy_roles
from facedetect_cli.errors import InputError

READ, WRITE, DOWN_READ, DELETE = "read", "write", "down-read", "delete"
# IAM's limits on a policy's length, white space not counted.
MANAGED_POLICY_LIMIT = 6_144
ROLE_INLINE_LIMIT = 10_240
_ACCOUNT_RE = re.compile(r"^\d{12}$")

# The calls of each kind, as `<botocore service>:<operation>`: READ what `up` and `status`
# read; WRITE what `up` creates and repairs with (waiters' reads included); DOWN_READ what
# `down` reads before deleting (also done for features the stack does not have: `down` looks
# for all of them); DELETE what `down` and `up --without` delete with.
CALLS: dict[str, dict[str, tuple[str, ...]]] = {
    "bucket": {
        READ: ("s3:GetBucketTagging", "s3:GetPublicAccessBlock", "s3:GetBucketEncryption",
               "s3:GetBucketNotificationConfiguration", "s3:GetBucketPolicy"),
        WRITE: ("s3:CreateBucket", "s3:PutPublicAccessBlock", "s3:PutBucketEncryption",
                "s3:PutBucketNotificationConfiguration", "s3:PutBucketPolicy"),
        DOWN_READ: ("s3:GetBucketTagging", "s3:ListObjectVersions"),
        DELETE: ("s3:DeleteObjects", "s3:DeleteBucket"),
    },
    "table": {
        READ: ("dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"),
        WRITE: ("dynamodb:CreateTable", "dynamodb:UpdateTable"),
        DOWN_READ: ("dynamodb:DescribeTable", "dynamodb:ListTagsOfResource", "dynamodb:Scan"),
        DELETE: ("dynamodb:DeleteTable",),
    },
    "topic": {
        READ: ("sns:GetTopicAttributes", "sns:ListTagsForResource",
               "sns:ListSubscriptionsByTopic"),
        WRITE: ("sns:CreateTopic", "sns:Subscribe"),
        DOWN_READ: ("sns:GetTopicAttributes", "sns:ListTagsForResource",
                    "sns:ListSubscriptionsByTopic"),
        # DeleteTopic takes the subscriptions with it: sns:Unsubscribe is never needed.
        DELETE: ("sns:DeleteTopic",),
    },
    "role": {
        READ: ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
               "iam:GetRolePolicy"),
        # No role has a managed policy, so iam:AttachRolePolicy is never called; Detach
        # removes one somebody attached.
        WRITE: ("iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy",
                "iam:DeleteRolePolicy", "iam:DetachRolePolicy"),
        DOWN_READ: ("iam:GetRole",),
        # The listings: a DeleteConflict makes `down` read what somebody attached since.
        DELETE: ("iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRole",
                 "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"),
    },
    "log-group": {
        READ: ("logs:DescribeLogGroups", "logs:ListTagsForResource"),
        WRITE: ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"),
        DOWN_READ: ("logs:DescribeLogGroups", "logs:ListTagsForResource"),
        DELETE: ("logs:DeleteLogGroup",),
    },
    "function": {
        READ: ("lambda:GetFunction",),
        WRITE: ("lambda:CreateFunction", "lambda:UpdateFunctionConfiguration",
                "lambda:UpdateFunctionCode"),
        DOWN_READ: ("lambda:GetFunction",),
        DELETE: ("lambda:DeleteFunction",),
    },
    "collection": {
        READ: ("rekognition:DescribeCollection", "rekognition:ListTagsForResource"),
        WRITE: ("rekognition:CreateCollection",),
        DOWN_READ: ("rekognition:DescribeCollection", "rekognition:ListTagsForResource"),
        DELETE: ("rekognition:DeleteCollection",),
    },
    "state-machine": {
        READ: ("stepfunctions:DescribeStateMachine", "stepfunctions:ListTagsForResource"),
        WRITE: ("stepfunctions:CreateStateMachine", "stepfunctions:UpdateStateMachine",
                "stepfunctions:TagResource"),
        DOWN_READ: ("stepfunctions:DescribeStateMachine", "stepfunctions:ListTagsForResource"),
        DELETE: ("stepfunctions:DeleteStateMachine",),
    },
    "rule": {
        READ: ("events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule"),
        WRITE: ("events:PutRule", "events:PutTargets", "events:RemoveTargets"),
        DOWN_READ: ("events:DescribeRule", "events:ListTagsForResource",
                    "events:ListTargetsByRule"),
        DELETE: ("events:RemoveTargets", "events:DeleteRule"),
    },
    # E-mail subscriptions are made through their topic (sns:Subscribe above) and go with it.
    "subscription": {READ: (), WRITE: (), DOWN_READ: (), DELETE: ()},
}

# The calls of the commands that use the pipeline rather than build it, beyond the reads of
# the resources: `status` (recent executions, the latest failure), `detect` (the upload and
# the execution it started), `results` and `logs`.
USE_CALLS = ("stepfunctions:ListExecutions", "stepfunctions:DescribeExecution",
             "stepfunctions:GetExecutionHistory", "s3:PutObject", "dynamodb:Scan",
             "dynamodb:GetItem", "logs:FilterLogEvents")
# s3:PutBucketPolicy (which `up` needs for its TLS-only statement) lets its holder grant
# itself any object action through the bucket policy: granting GetObject and PutObject on
# the bucket's objects adds nothing to what the policy already allows, and says so openly
# (parliament's RESOURCE_POLICY_PRIVILEGE_ESCALATION check asks for exactly that).
IMPLIED_BY_BUCKET_POLICY = ("s3:GetObject", "s3:PutObject")

# Actions with no resource-level permissions (Service Authorization Reference): "*" is the
# only resource they take.
ANY_RESOURCE = {"logs:DescribeLogGroups", "rekognition:CreateCollection"}
# Checked on each object, not on the bucket.
OBJECT_ACTIONS = {"s3:DeleteObject", "s3:DeleteObjectVersion"}


class Grants:
    """Actions on resources, collected, then written as few statements as can be: actions
    with the same resources share one."""

    def __init__(self) -> None:
        self._resources: dict[str, set[str]] = defaultdict(set)

    def add(self, action: str, resources: list[str]) -> None:
        self._resources[action].update(resources)

    def statements(self) -> list[dict[str, Any]]:
        by_resources: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for action, resources in self._resources.items():
            by_resources[tuple(sorted(resources))].append(action)
        return [{"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}
                for resources, actions in sorted(by_resources.items(),
                                                 key=lambda item: sorted(item[1]))]


def _arns(resource: Resource) -> list[str]:
    if resource.kind == "log-group":
        return _log_group_arns(resource.arn)
    return [resource.arn]


def _log_group_arns(arn: str) -> list[str]:
    # Log groups are named in ARNs both without and with ":*" (DescribeLogGroups answers the
    # latter): both, so that either spelling of the check matches. ":*" matches only this
    # group's streams, never another group.
    return [arn, f"{arn}:*"]


def _grant(grants: Grants, names: Names, calls: tuple[str, ...], resources: list[str]) -> None:
    for call in calls:
        service, operation = call.split(":")
        for action in actions_for(service, operation):
            if action == PASS_ROLE or action == "rekognition:CreateCollection":
                continue  # their own statements, with conditions: _pass_role, _create_collection
            if action in ANY_RESOURCE:
                grants.add(action, ["*"])
            elif action in OBJECT_ACTIONS:
                grants.add(action, [f"{names.bucket_arn}/*"])
            else:
                grants.add(action, resources)


def _use_resources(names: Names, call: str) -> list[str]:
    """What each of USE_CALLS acts on."""
    states = f"arn:{names.partition}:states:{names.region}:{names.account}"
    # The SAR lists two resource types for each of these, either of which may be named: the
    # map runs and express executions of this (standard, Map-less) machine are named too,
    # so that the statement names every type it may be checked against.
    if call == "stepfunctions:ListExecutions":
        return [names.state_machine_arn, f"{states}:mapRun:{names.state_machine}/*:*"]
    if call == "stepfunctions:DescribeExecution":
        return [f"{states}:execution:{names.state_machine}:*",
                f"{states}:express:{names.state_machine}:*:*"]
    if call.startswith("stepfunctions:"):
        return [f"{states}:execution:{names.state_machine}:*"]
    if call.startswith("s3:"):
        return [f"{names.bucket_arn}/*"]
    if call.startswith("dynamodb:"):
        return [names.table_arn]
    # `logs` reads the groups of the three functions of every stack.
    return [arn for module in FUNCTION_BASENAMES
            for arn in _log_group_arns(names.log_group_arn(names.function_log_group(module)))]


def _pass_role(roles: list[Role]) -> list[dict[str, Any]]:
    """iam:PassRole on each role, only to the service its trust policy names."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for role in roles:
        for statement in role.trust["Statement"]:
            by_service[statement["Principal"]["Service"]].append(role.arn)
    return [{"Effect": "Allow", "Action": PASS_ROLE, "Resource": sorted(arns),
             "Condition": {"StringEquals": {"iam:PassedToService": service}}}
            for service, arns in sorted(by_service.items())]


def _create_collection(names: Names) -> dict[str, Any]:
    # CreateCollection has no resource-level permissions; the stack's tag, which facedetect
    # puts on the collection in the same call, is what limits it to this stack.
    return {"Effect": "Allow", "Action": "rekognition:CreateCollection", "Resource": "*",
            "Condition": {"StringEquals": {f"aws:RequestTag/{TAG_KEY}": names.stack}}}


def scope(config: StackConfig, region: str | None, account: str | None) -> Names:
    """The names the policy grants on. Without a region or an account the ARNs say `*` there:
    no AWS call is made to learn the caller's account. Bad input stops here."""
    if account is not None and not _ACCOUNT_RE.match(account):
        raise InputError(f"invalid account id {account!r}: expected 12 digits")
    if region is not None:
        # A malformed region is refused before botocore is imported (usage errors start fast);
        # botocore's endpoint data then decides whether it exists.
        validate_region_syntax(region)
        from facedetect_cli.aws.session import validate_region

        validate_region(region)
    if account is None:
        return _AnyAccount(config, "*", region or "*")
    return Names(config, account, region or "*")


class _AnyAccount(Names):
    """Names in whatever account the policy is attached in: `*` in the ARNs' account field,
    and twelve `?` where the account is part of a name (the bucket's): `<stack>-images-*-...`
    would also match the bucket of a stack named `<stack>-images-x`, while twelve characters
    leave no room for another stack's name (at most 20 long)."""

    @property
    def bucket(self) -> str:
        return f"{self.stack}-images-{'?' * 12}-{self.region}"


def where_it_fits(length: int, documents: int) -> str:
    """Where a policy of `length` characters can be attached, for the person reading it."""
    if length <= MANAGED_POLICY_LIMIT:
        return "fits one customer managed policy"
    place = ("an inline policy of a role" if length <= ROLE_INLINE_LIMIT
             else "an IAM Identity Center permission set")
    return (f"over the {MANAGED_POLICY_LIMIT:,} of one customer managed policy: attach it as "
            f"{place}, or as the {documents} managed policies of `--output json` "
            "(managed_policies)")


def operator_policy(names: Names, features: frozenset[str]) -> Document:
    """The identity policy for running every command on the stack `names` describes, with
    the optional `features`."""
    grants = Grants()
    stack = build_stack(names, features)
    for resource in stack:
        calls = tuple(c for phase in (READ, WRITE, DOWN_READ, DELETE)
                      for c in CALLS[resource.kind][phase])
        _grant(grants, names, calls, _arns(resource))
    # `down` looks for every feature's resources, those the stack never had included.
    for feature in feature_names.FEATURES:
        if feature not in features:
            for resource in feature_resources(names, feature):
                _grant(grants, names, CALLS[resource.kind][DOWN_READ], _arns(resource))
    # The roles as earlier versions named them (no region): every command looks for them, and
    # `up` and `down` remove this region's (engine/resources/legacy_role.py).
    for legacy in legacy_roles(names):
        _grant(grants, names, (*CALLS[legacy.kind][READ], *CALLS[legacy.kind][DELETE]),
               [legacy.arn])
    for call in (*USE_CALLS, *IMPLIED_BY_BUCKET_POLICY):
        _grant(grants, names, (call,), _use_resources(names, call))
    statements = grants.statements()
    if feature_names.DUPLICATES in features:
        statements.append(_create_collection(names))
    statements += _pass_role([r for r in stack if isinstance(r, Role)])
    return {"Version": VERSION, "Statement": statements}


def split(policy: Document, limit: int = MANAGED_POLICY_LIMIT) -> list[Document]:
    """The policy as documents of at most `limit` characters (white space not counted, as
    IAM counts), for attaching as customer managed policies. Statements stay whole: together
    the documents allow exactly what the policy allows."""
    documents: list[list[dict[str, Any]]] = []
    for statement in policy["Statement"]:
        for statements in documents:
            if size({"Version": VERSION, "Statement": [*statements, statement]}) <= limit:
                statements.append(statement)
                break
        else:
            documents.append([statement])
    return [{"Version": VERSION, "Statement": statements} for statements in documents]


def size(document: Document) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def granted_actions(policy: Document) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        found.update([actions] if isinstance(actions, str) else actions)
    return found
