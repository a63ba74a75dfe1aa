"""Every account of an organization (issue 17). moto emulates Organizations (nested OUs,
create_account, close_account) and lets STS assume a role in any account, so each target
really works in its own account; it does not check that the member role exists (AWS does:
a member without it is emulated by denying its AssumeRole)."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import role_name

from facedetect_cli.aws.hooks import InjectedFault

ROLE = "OrganizationAccountAccessRole"
MANAGEMENT = "123456789012"  # moto's default account creates the organization


class Org:
    """Root/Workloads/Prod/Web (three OUs deep), Root/Workloads/Dev, Root/Sandbox."""

    def __init__(self) -> None:
        org = boto3.client("organizations")
        org.create_organization(FeatureSet="ALL")
        self.root = org.list_roots()["Roots"][0]["Id"]
        self.client = org
        self.workloads = self._ou(self.root, "Workloads")
        self.prod = self._ou(self.workloads, "Prod")
        self.web = self._ou(self.prod, "Web")
        self.dev = self._ou(self.workloads, "Dev")
        self.sandbox = self._ou(self.root, "Sandbox")
        self.web1 = self._account("web1", self.web)
        self.web2 = self._account("web2", self.web)
        self.prod1 = self._account("prod1", self.prod)
        self.dev1 = self._account("dev1", self.dev)
        self.old1 = self._account("old1", self.sandbox)
        self.lab1 = self._account("lab1", self.sandbox)
        org.close_account(AccountId=self.old1)  # SUSPENDED, as AWS shows a closed account

    def _ou(self, parent: str, name: str) -> str:
        return self.client.create_organizational_unit(
            ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

    def _account(self, name: str, parent: str) -> str:
        account = self.client.create_account(
            Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        self.client.move_account(AccountId=account, SourceParentId=self.root,
                                 DestinationParentId=parent)
        return account


@pytest.fixture
def org(aws: None) -> Org:
    return Org()


def functions(account: str, region: str) -> list[str]:
    """The Lambda functions in an account and region, seen from inside the account."""
    if account == MANAGEMENT:
        client = boto3.client("lambda", region_name=region)
    else:
        credentials = boto3.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="check")["Credentials"]
        client = boto3.client("lambda", region_name=region,
                              aws_access_key_id=credentials["AccessKeyId"],
                              aws_secret_access_key=credentials["SecretAccessKey"],
                              aws_session_token=credentials["SessionToken"])
    return sorted(f["FunctionName"] for f in client.list_functions()["Functions"])


STACK = ["facedetect-DetectFacesLambda", "facedetect-SendNotificationLambda",
         "facedetect-StoreMetadataLambda"]


def assumed(calls: Counter[str]) -> Any:
    """A fault rule that injects nothing and counts AssumeRole calls by account."""
    lock = threading.Lock()

    def rule(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "AssumeRole":
            with lock:
                calls[str(params["RoleArn"]).split(":")[4]] += 1

    return rule


def deny(account: str) -> Any:
    def rule(service: str, operation: str, params: dict[str, Any]) -> InjectedFault | None:
        if operation == "AssumeRole" and f":{account}:" in str(params.get("RoleArn")):
            return InjectedFault("AccessDenied", f"User is not authorized to perform: "
                                 f"sts:AssumeRole on resource: {params['RoleArn']}", 403)
        return None

    return rule


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dry_run_shows_the_targets_per_ou_and_what_it_skips(invoke, org):
    result = invoke("status", "--organization", "--regions", "eu-central-1,us-east-1",
                    "--exclude-account", org.lab1, "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    accounts = {t["account"]: t for t in doc["targets"]}
    assert set(accounts) == {org.web1, org.web2, org.prod1, org.dev1}
    assert accounts[org.web1]["ou_path"] == "Root/Workloads/Prod/Web"
    assert accounts[org.web1]["name"] == "web1"
    assert len(doc["targets"]) == 8  # each account in each region
    assert doc["per_ou"] == {"Root/Workloads/Dev": 1, "Root/Workloads/Prod": 1,
                             "Root/Workloads/Prod/Web": 2}
    skipped = {s["account"]: s["reason"] for s in doc["skipped"]}
    assert skipped == {MANAGEMENT: "management account (add --include-management)",
                       org.old1: "suspended", org.lab1: "excluded (--exclude-account)"}
    text = invoke("up", "--ou", org.prod, "--dry-run", "--include-management")
    assert text.exit_code == 0, text.stderr
    assert "3 accounts x 1 region = 3 targets" in text.stdout
    assert "Root/Workloads/Prod/Web" in text.stdout and "Dev" not in text.stdout
    # The management account is not below Prod: --include-management adds it only when the
    # selection reaches it, and nothing below Prod is skipped.
    assert "skipped" not in text.stdout
    assert functions(org.web1, "eu-central-1") == []  # nothing written


def test_up_by_ou_each_account_holds_exactly_its_own_stack_a_denied_member_fails_alone(
        invoke, org, tmp_path):
    report = tmp_path / "up.jsonl"
    result = invoke("up", "--ou", org.prod, "--regions", "us-east-1", "--report", str(report),
                    "--email", "ops@example.com", "--output", "json",
                    fault_rules=[deny(org.web2)])
    assert result.exit_code == 1
    by_target = {r["target"]: r for r in json.loads(result.stdout)["targets"]}
    assert len(by_target) == 3
    for account in (org.web1, org.prod1):
        assert by_target[f"{account}/us-east-1"]["result"] == "ok"
        assert functions(account, "us-east-1") == STACK
        assert functions(account, "eu-central-1") == []  # only the regions asked for
    failed = by_target[f"{org.web2}/us-east-1"]
    assert failed["result"] == "failed" and "cannot assume role" in failed["error"]
    # Nothing outside the subtree, nothing in the caller's own account.
    assert functions(org.dev1, "us-east-1") == [] and functions(org.web2, "us-east-1") == []
    assert functions(MANAGEMENT, "us-east-1") == []
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert org.web2 in error

    run, *records = lines(report)
    assert run["record"] == "run" and run["command"] == "up" and len(run["targets"]) == 3
    assert sorted(r["target"] for r in records) == sorted(by_target)
    web1 = next(r for r in records if r["target"] == f"{org.web1}/us-east-1")
    assert web1["ou_path"] == "Root/Workloads/Prod/Web" and web1["name"] == "web1"
    assert web1["changes"] == 20  # the stack and the two e-mail subscriptions of --email
    assert web1["api_calls"] > 20 and web1["error"] is None

    # The role now exists in web2: the retry works on its target and nothing else.
    calls: Counter[str] = Counter()
    retried = tmp_path / "retry.jsonl"
    again = invoke("up", "--retry-failed", str(report), "--report", str(retried),
                   fault_rules=[assumed(calls)])
    assert again.exit_code == 0, again.stderr
    assert calls == {org.web2: 1}
    assert functions(org.web2, "us-east-1") == STACK
    assert [r["result"] for r in lines(retried)[1:]] == ["ok"]


def roles_in(account: str) -> set[str]:
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="check")["Credentials"]
    iam = boto3.client("iam", aws_access_key_id=credentials["AccessKeyId"],
                       aws_secret_access_key=credentials["SecretAccessKey"],
                       aws_session_token=credentials["SessionToken"])
    return {r["RoleName"] for r in iam.list_roles()["Roles"]} - {ROLE}


def test_one_stack_in_two_regions_of_each_account_and_down_in_one_leaves_the_other(invoke, org):
    # IAM names are the account's: each region's stack has roles naming its region.
    regions = ("eu-central-1", "us-east-1")
    up = invoke("up", "--ou", org.dev, "--regions", ",".join(regions), "--output", "json")
    assert up.exit_code == 0, up.stderr
    assert sorted(t["target"] for t in json.loads(up.stdout)["targets"]) == [
        f"{org.dev1}/{r}" for r in regions]
    assert functions(org.dev1, "eu-central-1") == STACK == functions(org.dev1, "us-east-1")
    purposes = ("DetectFacesRole", "StoreMetadataRole", "SendNotificationRole",
                "StepFunctionExecutionRole", "EventBridgeExecutionRole")
    assert roles_in(org.dev1) == {role_name(p, region=r) for p in purposes for r in regions}

    down = invoke("down", "--ou", org.dev, "--regions", "us-east-1", "--yes")
    assert down.exit_code == 0, down.stderr
    assert functions(org.dev1, "us-east-1") == []
    # The other region's stack is whole: its roles, and a status that finds nothing amiss.
    assert roles_in(org.dev1) == {role_name(p, region="eu-central-1") for p in purposes}
    status = invoke("status", "--ou", org.dev, "--regions", "eu-central-1")
    assert status.exit_code == 0, status.stdout


def test_the_report_is_exact_after_ctrl_c_and_retry_runs_only_the_unfinished(
        invoke, org, tmp_path):
    report = tmp_path / "status.jsonl"
    started: list[str] = []
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_at_the_third(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "AssumeRole":
            started.append(params["RoleArn"])
            if len(started) == 3:
                signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C while it is in flight
                threading.Event().wait(1)  # the run stops taking targets meanwhile

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = invoke("status", "--organization", "--include-management", "--max-parallel",
                        "1", "--report", str(report), fault_rules=[interrupt_at_the_third])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 130
    run, *records = lines(report)
    planned = {t["label"] for t in run["targets"]}
    assert len(planned) == 6  # five active members and the management account
    finished = {r["target"] for r in records}
    # The target in flight finished and was recorded; the queued ones never started.
    assert 4 <= len(finished) < 6 and finished <= planned
    assert {r["result"] for r in records} == {"unhealthy"}

    calls: Counter[str] = Counter()
    again = invoke("status", "--retry-failed", str(report), fault_rules=[assumed(calls)])
    assert again.exit_code == 3  # no stack anywhere: unhealthy, not failed
    retried = {f"{account}/eu-central-1" for account in calls}
    if f"{MANAGEMENT}/eu-central-1" in planned - finished:
        retried.add(f"{MANAGEMENT}/eu-central-1")  # its own account: no role to assume
    assert retried == planned - finished


def test_listing_absorbs_throttling(invoke, org, sleeps):
    throttled: list[str] = []

    def throttle_twice(service: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListAccountsForParent" and len(throttled) < 2:
            throttled.append(operation)
            return InjectedFault("TooManyRequestsException", "Rate exceeded", 400)
        return None

    result = invoke("status", "--organization", "--dry-run", "--output", "json",
                    fault_rules=[throttle_twice])
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["targets"]) == 5 and len(throttled) == 2
    assert sleeps[:2] == [0.5, 1.0]


@pytest.mark.parametrize(("args", "message"), [
    (["--organization", "--targets", "t.toml"], "--targets and --organization"),
    (["--ou", "ou-12"], "--ou 'ou-12' is not an OU id"),
    (["--organization", "--exclude-account", "12345"], "not an account id"),
    (["--organization", "--exclude-account", "1234567890\uff11\uff12"], "not an account id"),
    (["--organization", "--regions", "eu-central-1,mars-north-9"], "unknown region"),
    (["--organization", "--regions", "eu-central-1,,"], "--regions"),
    (["--regions", "eu-central-1"], "--regions needs --organization or --ou"),
    (["--organization", "--member-role", "a b"], "not an IAM role name"),
    (["--organization", "--ou", "r-abcd"], "--organization and --ou"),
    (["--retry-failed", "nothing.jsonl"], "report not found"),
    (["--organization", "--role-arn", f"arn:aws:iam::{MANAGEMENT}:role/x"], "--role-arn"),
])
def test_bad_organization_options_are_one_line_usage_errors(invoke, args, message):
    result = invoke("status", *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_a_long_run_gets_fresh_credentials_when_they_near_their_end(invoke, org, monkeypatch):
    """AssumeRole sessions end (an hour by default, at most one for a chained role): a target
    whose credentials come near their end assumes its role again and carries on."""
    from moto.sts.models import STSBackend

    assume = STSBackend.assume_role

    def twelve_minutes(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Inside botocore's 15-minute advisory window, outside its 10-minute mandatory one:
        # each use of the credentials asks for new ones, as an hour-long run's would at its end.
        kwargs["duration"] = 12 * 60
        return assume(self, *args, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", twelve_minutes)
    calls: Counter[str] = Counter()
    result = invoke("status", "--ou", org.dev, "--output", "json", fault_rules=[assumed(calls)])
    assert result.exit_code == 3  # no stack: unhealthy, and every read went through
    assert [t["result"] for t in json.loads(result.stdout)["targets"]] == ["unhealthy"]
    assert calls[org.dev1] > 1


def test_an_ou_outside_the_organization_and_no_organization_are_one_line(invoke, aws):
    alone = invoke("status", "--organization", "--dry-run")
    assert alone.exit_code == 2
    assert alone.stderr.strip() == (f"error: account {MANAGEMENT} is not in an organization: "
                                    "--organization and --ou need one")
    Org()
    elsewhere = invoke("status", "--ou", "ou-abcd-12345678", "--dry-run")
    assert elsewhere.exit_code == 2
    assert "--ou ou-abcd-12345678 is not an OU of this organization" in elsewhere.stderr


def test_a_member_is_asked_who_it_is_by_assuming_its_role_only(invoke, org):
    # The role's ARN names the account; a GetCallerIdentity per target would repeat what the
    # AssumeRole answer already proved. The caller's own one remains (which organization?).
    calls: Counter[str] = Counter()

    def count(service: str, operation: str, params: dict[str, Any]) -> None:
        calls[operation] += 1

    result = invoke("status", "--ou", org.prod, "--output", "json", fault_rules=[count])
    assert result.exit_code == 3
    assert {t["account"] for t in json.loads(result.stdout)["targets"]} == {
        org.prod1, org.web1, org.web2}
    assert calls["AssumeRole"] == 3 and calls["GetCallerIdentity"] == 1
