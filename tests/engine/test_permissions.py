"""`facedetect permissions` (issue 13): the policy itself, without AWS. That it is enough and
that each action is needed: test_permissions_enforced.py."""

from __future__ import annotations

import json

import pytest
from parliament import analyze_policy_string

from facedetect_cli.build import features
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.permissions import (
    MANAGED_POLICY_LIMIT,
    granted_actions,
    operator_policy,
    scope,
    size,
    split,
)

SCOPES = [(None, None), ("123456789012", "eu-central-1"), (None, "us-gov-west-1"),
          ("210987654321", "cn-north-1")]
SETS = [frozenset(), frozenset({"duplicates"}), frozenset({"thumbnails"}),
        frozenset(features.FEATURES)]
# What the Service Authorization Reference gives no resource-level permissions: "*" only.
NO_RESOURCE_LEVEL = {"logs:DescribeLogGroups", "rekognition:CreateCollection"}


def policy(account: str | None = None, region: str | None = None,
           enabled: frozenset[str] = frozenset(), stack: str = "facedetect") -> dict:
    return operator_policy(scope(StackConfig(stack=stack), region, account), enabled)


def statements(document: dict) -> list[dict]:
    listed = []
    for statement in document["Statement"]:
        actions, resources = statement["Action"], statement["Resource"]
        listed.append({**statement,
                       "Action": [actions] if isinstance(actions, str) else actions,
                       "Resource": [resources] if isinstance(resources, str) else resources})
    return listed


@pytest.mark.parametrize("account,region", SCOPES)
@pytest.mark.parametrize("enabled", SETS, ids=lambda s: "+".join(sorted(s)) or "none")
def test_parliament_finds_nothing(account, region, enabled):
    findings = analyze_policy_string(json.dumps(policy(account, region, enabled))).findings
    assert [(f.issue, f.detail) for f in findings] == []


def test_only_actions_without_resource_level_permissions_take_any_resource():
    for statement in statements(policy("123456789012", "eu-central-1",
                                       frozenset(features.FEATURES))):
        assert statement["Effect"] == "Allow"
        assert not any("*" in a for a in statement["Action"])
        if "*" in statement["Resource"]:
            assert set(statement["Action"]) <= NO_RESOURCE_LEVEL, statement
        else:
            # Every other ARN names this account, this region and this stack.
            for arn in statement["Resource"]:
                assert "facedetect-" in arn, arn
                assert arn.split(":")[3] in ("", "eu-central-1"), arn
                assert arn.split(":")[4] in ("", "123456789012"), arn


@pytest.mark.parametrize("theirs", ["face-two", "face-images-x", "face-images-abcdefgh"])
def test_a_stack_never_reaches_another_stacks_resources(theirs):
    """Another stack whose name starts with this one's (or could fill the bucket name's
    wildcards): none of its resources matches this stack's policy."""
    import fnmatch

    patterns = [arn for s in statements(policy(stack="face")) for arn in s["Resource"]
                if arn != "*"]
    for statement in statements(policy("123456789012", "eu-west-1", stack=theirs)):
        for arn in statement["Resource"]:
            assert not [p for p in patterns if fnmatch.fnmatchcase(arn, p)], arn


def test_pass_role_names_each_role_and_only_the_service_that_assumes_it():
    passes = [s for s in statements(policy(enabled=frozenset(features.FEATURES)))
              if s["Action"] == ["iam:PassRole"]]
    services = {s["Condition"]["StringEquals"]["iam:PassedToService"]:
                [arn.split("/")[-1] for arn in s["Resource"]] for s in passes}
    assert sorted(services) == ["events.amazonaws.com", "lambda.amazonaws.com",
                                "states.amazonaws.com"]
    # Without a region, any region's roles of this stack (the region ends the name).
    assert services["states.amazonaws.com"] == ["facedetect-StepFunctionExecutionRole-*"]
    assert services["events.amazonaws.com"] == ["facedetect-EventBridgeExecutionRole-*"]
    assert len(services["lambda.amazonaws.com"]) == 6  # one role per function
    assert all(role.endswith("Role-*") and "Execution" not in role
               for role in services["lambda.amazonaws.com"])


def test_roles_of_earlier_versions_may_be_read_and_deleted_only():
    """Every command looks for the roles as earlier versions named them (no region), and
    `up` and `down` delete this region's: reads and deletes on those exact names, no writes."""
    document = policy("123456789012", "eu-central-1")
    legacy = "arn:aws:iam::123456789012:role/facedetect-DetectFacesRole"
    on_legacy = {a for s in statements(document) if legacy in s["Resource"] for a in s["Action"]}
    assert on_legacy == {"iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                         "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
                         "iam:DeleteRole"}
    new = "arn:aws:iam::123456789012:role/facedetect-DetectFacesRole-eu-central-1"
    assert "iam:CreateRole" in {a for s in statements(document) if new in s["Resource"]
                                for a in s["Action"]}


def test_features_add_what_they_build_and_down_still_looks_for_them_without():
    without, both = policy(), policy(enabled=frozenset(features.FEATURES))
    assert "rekognition:CreateCollection" not in granted_actions(without)
    assert "rekognition:CreateCollection" in granted_actions(both)
    # `down` reads every feature's resources, so even without them it may look.
    assert "rekognition:DescribeCollection" in granted_actions(without)
    lambda_writes = [s for s in statements(without) if "lambda:CreateFunction" in s["Action"]]
    [functions] = [s["Resource"] for s in lambda_writes]
    assert not [f for f in functions if "Thumbnail" in f or "Duplicate" in f]


@pytest.mark.parametrize("enabled", SETS, ids=lambda s: "+".join(sorted(s)) or "none")
def test_split_documents_fit_a_managed_policy_and_allow_exactly_the_policy(enabled):
    whole = policy("123456789012", "ap-southeast-2", enabled)
    parts = split(whole)
    assert all(size(part) <= MANAGED_POLICY_LIMIT for part in parts)
    assert same_statements(parts, whole)
    # First fit: no two parts could have been one.
    assert all(size({"Statement": a["Statement"] + b["Statement"]}) > MANAGED_POLICY_LIMIT
               for a in parts for b in parts if a is not b)


def same_statements(parts: list[dict], whole: dict) -> bool:
    def spelled(listed: list[dict]) -> list[str]:
        return sorted(json.dumps(s, sort_keys=True) for s in listed)

    return spelled([s for part in parts for s in part["Statement"]]) == spelled(
        whole["Statement"])


# Calls in the code that the policy grants nothing of its own for, and why.
NOT_GRANTED_CALLS = {
    "lambda:ListTags": "made only when GetFunction answers without Tags, i.e. to a caller "
                       "without lambda:ListTags; the policy grants it (through GetFunction)",
    "iam:AttachRolePolicy": "no role has a managed policy: never called",
    "sns:Unsubscribe": "subscriptions go with their topic: never called",
}
SERVICES = ("dynamodb", "events", "iam", "lambda", "logs", "rekognition", "s3", "sns",
            "stepfunctions")


def test_every_call_in_the_code_is_one_the_policy_is_built_from():
    """Statically, for the paths no test takes (a conflict, a fallback): each botocore method
    named in the code that works on a stack (not aws/, the emulator, the fleet's management
    calls) is a call of CALLS or USE_CALLS, or listed above with why."""
    import re
    from pathlib import Path

    import botocore.session
    from botocore import xform_name
    from botocore.exceptions import DataNotFoundError, UnknownServiceError

    from facedetect_cli.engine.permissions import CALLS, USE_CALLS

    session = botocore.session.get_session()
    by_method: dict[str, set[str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            by_method.setdefault(xform_name(operation), set()).add(f"{service}:{operation}")
        try:
            waiters = session.get_waiter_model(service)
        except (UnknownServiceError, DataNotFoundError):
            continue  # a service without waiters
        for name in waiters.waiter_names:
            waiter = waiters.get_waiter(name)
            by_method.setdefault(f"wait:{xform_name(name)}", set()).add(
                f"{service}:{waiter.operation}")
    known = {c for kind in CALLS.values() for phase in kind.values() for c in phase}
    known |= set(USE_CALLS) | set(NOT_GRANTED_CALLS)
    called = re.compile(r'\.([a-z0-9_]+)\(|pages\("([a-z0-9_]+)"|wait\("([a-z0-9_]+)"')
    package = Path(__file__).resolve().parents[2] / "facedetect_cli"
    unknown, seen = [], set()
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] in ("aws", "local", "fleet"):
            continue
        for match in called.finditer(path.read_text(encoding="utf-8")):
            method = match.group(1) or match.group(2) or f"wait:{match.group(3)}"
            candidates = by_method.get(method, set())
            seen |= candidates & known
            if candidates and not candidates & known:
                unknown.append((path.name, method, sorted(candidates)))
    assert unknown == []
    assert set(NOT_GRANTED_CALLS) <= seen  # the list names no call the code stopped making
