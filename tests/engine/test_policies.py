"""Least privilege, verified (issue 4): every policy `up` writes, read back from the account,
has exactly the intended actions on the intended resources, and parliament finds nothing."""

from __future__ import annotations

import json

import boto3
from conftest import role_name
from parliament import analyze_policy_string

from facedetect_cli.engine.policies import STATE_MACHINE_LOG_DELIVERY

ACCOUNT, REGION = "123456789012", "eu-central-1"
# Actions AWS offers no resource-level permissions for; "*" is the only possible resource.
# (Step Functions' log delivery setup is the other documented case.)
NO_RESOURCE_LEVEL = {"rekognition:DetectFaces", *STATE_MACHINE_LOG_DELIVERY}


def written_policies() -> dict[str, dict]:
    """Every identity and resource policy in the account, by where it is attached."""
    iam = boto3.client("iam")
    found = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        found[f"trust:{name}"] = role["AssumeRolePolicyDocument"]
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            found[f"inline:{name}"] = iam.get_role_policy(
                RoleName=name, PolicyName=policy)["PolicyDocument"]
    bucket = f"facedetect-images-{ACCOUNT}-{REGION}"
    found["bucket"] = json.loads(boto3.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    return found


def test_parliament_finds_nothing_in_any_permissions_policy(app):
    app.apply(app.plan_up())
    policies = written_policies()
    checked = 0
    for where, document in policies.items():
        if where.startswith("trust:"):
            continue  # parliament lints identity policies; trust policies are checked below
        findings = analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == [], where
        checked += 1
    assert checked == 6  # five roles' inline policies and the bucket policy


def test_the_only_wildcard_resource_is_for_actions_without_resource_level_permissions(app):
    app.apply(app.plan_up())
    for where, document in written_policies().items():
        if not where.startswith("inline:"):
            continue
        for statement in document["Statement"]:
            resources = statement["Resource"]
            resources = [resources] if isinstance(resources, str) else resources
            actions = statement["Action"]
            actions = {actions} if isinstance(actions, str) else set(actions)
            assert statement["Effect"] == "Allow"
            assert not any(a.endswith("*") for a in actions), (where, actions)
            if any("*" in r.split(":")[-1] and r.endswith("*") and "/" not in r
                   for r in resources):
                assert actions <= NO_RESOURCE_LEVEL, (where, actions)


def test_trust_policies_name_one_service_and_scope_delegated_ones_to_this_account(app):
    app.apply(app.plan_up())
    trusts = {k.removeprefix("trust:"): v for k, v in written_policies().items()
              if k.startswith("trust:")}
    assert len(trusts) == 5
    for role, document in trusts.items():
        [statement] = document["Statement"]
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
        service = statement["Principal"]["Service"]
        if role in {role_name(p) for p in ("DetectFacesRole", "StoreMetadataRole",
                                            "SendNotificationRole")}:
            assert service == "lambda.amazonaws.com"
        else:
            expected = ("states.amazonaws.com" if "StepFunction" in role
                        else "events.amazonaws.com")
            assert service == expected
            # Confused-deputy protection: only this account's resources may use the role.
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_bucket_denies_requests_without_tls(app):
    app.apply(app.plan_up())
    [statement] = written_policies()["bucket"]["Statement"]
    bucket_arn = f"arn:aws:s3:::facedetect-images-{ACCOUNT}-{REGION}"
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [bucket_arn, f"{bucket_arn}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_nothing_printed_contains_credentials(invoke, monkeypatch):
    secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"  # AWS's documented example secret
    key_id = "AKIAIOSFODNN7EXAMPLE"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLETOKEN")
    outputs = []
    for args in (("up", "--debug"), ("status", "--output", "json", "--debug"),
                 ("down", "--yes", "--debug"), ("up", "--endpoint-url", "http://127.0.0.1:9")):
        result = invoke(*args)
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "api call" in text  # --debug really printed the calls
    for credential in (secret, key_id, "FQoGZXIvYXdzEXAMPLETOKEN"):
        assert credential not in text
