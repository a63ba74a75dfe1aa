"""Many accounts at once (issue 9): moto keeps resources per account and lets STS assume roles
across accounts, so each target really works in its own account and region."""

from __future__ import annotations

import json
import threading

import boto3
from conftest import role_name

from facedetect_cli.aws.hooks import InjectedFault

A, B, C = "111111111111", "222222222222", "333333333333"


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"


def clients_for(account: str, region: str) -> dict:
    credentials = boto3.client("sts").assume_role(
        RoleArn=role(account), RoleSessionName="check")["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region)
    return {name: session.client(name) for name in ("lambda", "s3", "stepfunctions", "iam")}


def functions(account: str, region: str) -> list[str]:
    found = clients_for(account, region)["lambda"].list_functions()["Functions"]
    return sorted(f["FunctionName"] for f in found)


def write_targets(tmp_path, extra: str = "") -> str:
    path = tmp_path / "targets.toml"
    path.write_text(f'''
[defaults]
region = "eu-central-1"
emails = ["ops@example.com"]

[[targets]]
role_arn = "{role(A)}"

[[targets]]
name = "b-virginia"
role_arn = "{role(B)}"
region = "us-east-1"
stack = "faces"
{extra}''')
    return str(path)


def roles_of(account: str) -> set[str]:
    return {r["RoleName"] for r in clients_for(account, "us-east-1")["iam"].list_roles()["Roles"]}


def test_up_status_down_on_two_accounts_each_holds_exactly_its_own_stack(invoke, tmp_path):
    # Account A twice, in two regions, with the same stack: IAM names are the account's, so
    # each region needs roles of its own.
    targets = write_targets(tmp_path, f'''
[[targets]]
role_arn = "{role(A)}"
region = "us-east-1"
''')
    up = invoke("up", "--targets", targets, "--output", "json")
    assert up.exit_code == 0, up.stderr
    results = {r["target"]: r for r in json.loads(up.stdout)["targets"]}
    assert results[f"{A}/eu-central-1"]["account"] == A
    assert results["b-virginia"]["account"] == B and results["b-virginia"]["region"] == "us-east-1"
    assert len(results) == 3
    assert all(r["result"] == "ok" and r["resources_changed"] == 20 for r in results.values())

    stack = ["facedetect-DetectFacesLambda", "facedetect-SendNotificationLambda",
             "facedetect-StoreMetadataLambda"]
    assert functions(A, "eu-central-1") == stack and functions(A, "us-east-1") == stack
    assert functions(B, "us-east-1") == ["faces-DetectFacesLambda", "faces-SendNotificationLambda",
                                         "faces-StoreMetadataLambda"]
    purposes = ("DetectFacesRole", "StoreMetadataRole", "SendNotificationRole",
                "StepFunctionExecutionRole", "EventBridgeExecutionRole")
    assert roles_of(A) == {role_name(p, region=r) for p in purposes
                           for r in ("eu-central-1", "us-east-1")}
    assert roles_of(B) == {role_name(p, stack="faces", region="us-east-1") for p in purposes}
    for region in ("eu-central-1", "us-east-1"):  # each region's functions use its own roles
        lam = clients_for(A, region)["lambda"]
        assert {f["Role"].rsplit("/", 1)[1] for f in lam.list_functions()["Functions"]} == {
            role_name(p, region=region) for p in purposes[:3]}
    # Nothing leaked into the other account, the other region, or the caller's own account.
    assert functions(B, "eu-central-1") == []
    assert boto3.client("lambda").list_functions()["Functions"] == []
    buckets_b = clients_for(B, "us-east-1")["s3"].list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets_b] == [f"faces-images-{B}-us-east-1"]

    status = invoke("status", "--targets", targets, "--output", "json")
    assert status.exit_code == 0
    assert {r["result"] for r in json.loads(status.stdout)["targets"]} == {"ok"}

    down = invoke("down", "--targets", targets, "--yes")
    assert down.exit_code == 0, down.stderr
    assert functions(A, "eu-central-1") == [] and functions(B, "us-east-1") == []
    assert functions(A, "us-east-1") == [] and roles_of(A) == set() == roles_of(B)
    assert invoke("status", "--targets", targets).exit_code == 3


def test_a_target_whose_role_cannot_be_assumed_fails_alone(invoke, tmp_path):
    targets = write_targets(tmp_path, f'''
[[targets]]
role_arn = "{role(C)}"
''')

    def no_such_role(service, operation, params):
        if operation == "AssumeRole" and C in str(params.get("RoleArn")):
            return InjectedFault("AccessDenied", f"User is not authorized to perform: "
                                 f"sts:AssumeRole on resource: {role(C)}", 403)
        return None

    result = invoke("up", "--targets", targets, "--output", "json", fault_rules=[no_such_role])
    assert result.exit_code == 1
    by_account = {r["account"]: r for r in json.loads(result.stdout)["targets"]}
    assert by_account[C]["result"] == "failed"
    assert f"cannot assume role {role(C)}" in by_account[C]["error"]
    assert by_account[A]["result"] == by_account[B]["result"] == "ok"
    assert len(functions(A, "eu-central-1")) == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and role(C) in errors[0]


def test_targets_run_concurrently_up_to_max_parallel(invoke, tmp_path):
    targets = write_targets(tmp_path)
    running, peak = [0], [0]
    lock = threading.Lock()

    def measure(service, operation, params):
        if operation == "AssumeRole":
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            threading.Event().wait(0.3)  # both targets are mid-start at once
            with lock:
                running[0] -= 1
        return None

    assert invoke("status", "--targets", targets, fault_rules=[measure]).exit_code == 3
    assert peak[0] == 2
    peak[0] = 0
    assert invoke("status", "--targets", targets, "--max-parallel", "1",
                  fault_rules=[measure]).exit_code == 3
    assert peak[0] == 1


def test_bad_targets_files_change_nothing(invoke, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(f'[[targets]]\nrole_arn = "{role(A)}"\nregion = "eu-central-1"\ncolor = 1\n')
    result = invoke("up", "--targets", str(path))
    assert result.exit_code == 2 and "unknown key 'color'" in result.stderr
    assert functions(A, "eu-central-1") == []
    down = invoke("down", "--targets", write_targets(tmp_path))
    assert down.exit_code == 2 and "--yes" in down.stderr


def test_role_arn_works_inside_the_assumed_account(invoke):
    result = invoke("up", "--role-arn", role(A), "--external-id", "bootstrap", "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["account"] == A
    assert len(functions(A, "eu-central-1")) == 3
    assert boto3.client("lambda").list_functions()["Functions"] == []


def test_a_role_that_cannot_be_assumed_is_one_line_naming_it(invoke):
    denied = InjectedFault("AccessDenied", "not authorized to perform: sts:AssumeRole", 403)
    result = invoke("status", "--role-arn", role(C),
                    fault_rules=[lambda s, op, p: denied if op == "AssumeRole" else None])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot assume role {role(C)}")
