"""`facedetect permissions`: prints the policy with no credentials and no AWS call, scoped as
asked; bad input is one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import json_out

from facedetect_cli.cli.main import cli
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.permissions import operator_policy, scope, size


def policy(account: str | None = None, region: str | None = None,
           enabled: frozenset[str] = frozenset(), stack: str = "facedetect") -> dict:
    return operator_policy(scope(StackConfig(stack=stack), region, account), enabled)


def same_statements(parts: list[dict], whole: dict) -> bool:
    def spelled(listed: list[dict]) -> list[str]:
        return sorted(json.dumps(s, sort_keys=True) for s in listed)

    return spelled([s for part in parts for s in part["Statement"]]) == spelled(
        whole["Statement"])


@pytest.fixture
def cli_runner():
    def run(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def test_the_command_prints_the_policy_without_credentials_or_any_call(cli_runner,
                                                                     monkeypatch):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                     "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    from facedetect_cli.aws import session

    def no_session(*args, **kwargs):
        raise AssertionError("permissions opened an AWS session")

    monkeypatch.setattr(session.AwsSession, "__init__", no_session)
    result = cli_runner("permissions", "--with", "duplicates")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == policy(enabled=frozenset({"duplicates"}))
    assert "account *, region *" in result.stderr  # says what it is scoped to


def test_the_command_scopes_to_the_region_and_account_and_splits_in_json(cli_runner,
                                                                         monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # where `up` would work too
    result = cli_runner("permissions", "--stack", "shop", "--account", "123456789012",
                        "--output", "json")
    assert result.exit_code == 0, result.stderr
    doc = json_out(result)
    assert (doc["stack"], doc["region"], doc["account"]) == ("shop", "eu-west-1",
                                                             "123456789012")
    assert doc["policy"] == policy("123456789012", "eu-west-1", stack="shop")
    assert same_statements(doc["managed_policies"], doc["policy"])
    assert doc["characters"] == size(doc["policy"])


@pytest.mark.parametrize("args,message", [
    (("--account", "12345"), "invalid account id '12345': expected 12 digits"),
    (("--region", "mars-north-1"), "unknown region 'mars-north-1'"),
    (("--region", "eu"), "unknown region 'eu'"),
    (("--stack", "Bad_Name"), "invalid stack name 'Bad_Name'"),
])
def test_bad_input_is_one_line_and_exit_2(cli_runner, args, message):
    result = cli_runner("permissions", *args)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message}")


def test_help_and_usage_errors_start_fast():
    from test_startup import probe

    for args in (["permissions", "--help"], ["permissions", "--stack", "Bad"],
                 ["permissions", "--account", "1"], ["permissions", "--region", "eu"]):
        found = probe(*args)
        assert found["code"] in (0, 2), (args, found)
        assert not found["botocore"] and not found["rich"], (args, found)



def test_one_missing_action_is_one_line_whichever_resources_it_stopped(invoke):
    from facedetect_cli.aws.hooks import InjectedFault

    def deny_create_role(service, operation, params):
        if operation != "CreateRole":
            return None
        # As AWS words it: the resource differs for every role.
        return InjectedFault("AccessDenied", "User: arn:aws:iam::123456789012:user/ops is not "
                             "authorized to perform: iam:CreateRole on resource: "
                             f"arn:aws:iam::123456789012:role/{params['RoleName']}", 403)

    result = invoke("up", fault_rules=[deny_create_role])
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "access denied for iam:CreateRole" in line and "(and 4 more)" in line
