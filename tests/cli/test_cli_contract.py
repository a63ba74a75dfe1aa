"""The command-line contract, through click's CliRunner against moto: exit codes, one-line
errors on stderr without tracebacks, JSON documents, dry runs, confirmation, environment
variables, and that bad input touches nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import click.testing
import pytest

from facedetect_cli import __version__
from facedetect_cli.aws import session as aws

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
EMAIL = "dev@example.com"
REPO = Path(__file__).resolve().parents[2]
SERVICES = ("s3", "dynamodb", "sns", "iam", "lambda", "stepfunctions", "events")



@pytest.fixture
def inventory():
    """Names of everything in the (moto) account, in every region the tests use."""
    regions = (REGION, "us-east-1")
    clients = {(service, region): boto3.client(service, region_name=region)
               for service in ("dynamodb", "sns", "lambda", "stepfunctions", "events")
               for region in regions}
    s3, iam = boto3.client("s3"), boto3.client("iam")

    def read() -> dict[str, list[str]]:
        found = {"buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
                 "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]]}
        for region in regions:
            found[f"tables {region}"] = clients["dynamodb", region].list_tables()["TableNames"]
            found[f"topics {region}"] = [
                t["TopicArn"] for t in clients["sns", region].list_topics()["Topics"]]
            found[f"functions {region}"] = [
                f["FunctionName"] for f in clients["lambda", region].list_functions()["Functions"]]
            found[f"machines {region}"] = [
                m["name"] for m in
                clients["stepfunctions", region].list_state_machines()["stateMachines"]]
            found[f"rules {region}"] = [
                r["Name"] for r in clients["events", region].list_rules()["Rules"]]
        return found

    return read


EMPTY = {
    "buckets": [], "roles": [],
    **{f"{kind} {region}": [] for region in (REGION, "us-east-1")
       for kind in ("tables", "topics", "functions", "machines", "rules")},
}


@pytest.fixture
def sessions(monkeypatch):
    """Every AwsSession the CLI opens: none means not a single AWS call was made."""
    opened = []
    original = aws.AwsSession.__init__

    def record(self, *args, **kwargs):
        opened.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(aws.AwsSession, "__init__", record)
    return opened


def assert_one_error_line(result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def up_stack(app) -> None:
    outcomes = app.apply(app.plan_up())
    assert [o for o in outcomes if o.error is not None] == []


# --- bad input: exit 2, one line, nothing touched ------------------------------------------
BAD_STACK_NAMES = ["Bad", "a_b", "x" * 21, "-a", "a-"]


def test_an_invalid_stack_name_is_refused_before_any_aws_call(invoke, inventory, sessions,
                                                              monkeypatch):
    for name in BAD_STACK_NAMES:
        for command in (["up", "--email", EMAIL], ["status"], ["down", "--yes"]):
            # --stack=NAME: "-a" as a separate word would be parsed as an option by click.
            result = invoke(*command, f"--stack={name}")
            assert_one_error_line(result, 2, "invalid stack name", repr(name))
        # The same through the environment.
        with monkeypatch.context() as env:
            env.setenv("FACEDETECT_STACK", name)
            result = invoke("up", "--email", EMAIL)
        assert_one_error_line(result, 2, "invalid stack name", repr(name))
    assert sessions == []
    assert inventory() == EMPTY


def test_an_invalid_email_is_refused(invoke, inventory, sessions):
    for address in ["not-an-email", "dev@example", "dev@@example.com", "", "dev example.com"]:
        result = invoke("up", "--email", EMAIL, "--email", address)
        assert_one_error_line(result, 2, "invalid e-mail address", repr(address))
    assert sessions == []
    assert inventory() == EMPTY


def test_an_unknown_region_is_refused(invoke, inventory):
    for region in ["xx-nowhere-1", "Mars"]:
        result = invoke("up", "--email", EMAIL, "--region", region)
        assert_one_error_line(result, 2, "unknown region", repr(region))
    assert inventory() == EMPTY


def test_a_malformed_endpoint_url_is_refused(invoke, inventory, sessions):
    for url in ["not a url", "http://", "http://h:port", "ftp://host"]:
        result = invoke("up", "--email", EMAIL, "--endpoint-url", url)
        assert_one_error_line(result, 2, "malformed endpoint URL", repr(url))
    assert sessions == []
    assert inventory() == EMPTY


def test_an_unknown_profile_is_refused(invoke, inventory, monkeypatch):
    result = invoke("up", "--email", EMAIL, "--profile", "no-such-profile")
    assert_one_error_line(result, 2, "no-such-profile")

    # Without a region anywhere, the profile is where the region would come from.
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = invoke("up", "--email", EMAIL, "--profile", "no-such-profile")
    assert_one_error_line(result, 2, "no-such-profile")
    assert inventory() == EMPTY


# --- run-time failures: exit 1 -----------------------------------------------------------
def test_an_unreachable_endpoint_fails_fast(invoke, inventory):
    # Nothing listens on port 9 (discard), so the connection is refused at once; moto does not
    # intercept a URL that is not an AWS endpoint.
    started = time.monotonic()
    result = invoke("status", "--endpoint-url", "http://127.0.0.1:9")
    elapsed = time.monotonic() - started
    line = assert_one_error_line(result, 1, "cannot reach the AWS endpoint")
    assert elapsed < 10

    # In JSON mode stdout still carries one document, with the same error.
    as_json = invoke("status", "--endpoint-url", "http://127.0.0.1:9", "--output", "json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout) == {"error": line[len("error: "):], "exit_code": 1}
    assert inventory() == EMPTY


def test_no_credentials_fails_with_a_hint(invoke, inventory, monkeypatch, tmp_path):
    # moto's mock_aws puts fake keys into the environment when it starts (the `aws` fixture
    # is already running here), so they are removed after it, together with every other source.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty-credentials"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))

    result = invoke("up", "--email", EMAIL)
    assert_one_error_line(result, 1, "no AWS credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert inventory() == EMPTY


# --- down asks before deleting --------------------------------------------------------------
def test_down_deletes_nothing_unless_confirmed(app, invoke, inventory, monkeypatch):
    outcomes = app.apply(app.plan_up())
    assert [o for o in outcomes if o.error is not None] == []
    before = inventory()

    # No terminal (CliRunner's stdin is a pipe) and no --yes: refused, in text and in JSON.
    result = invoke("down")
    assert_one_error_line(result, 2, "--yes")
    assert inventory() == before
    as_json = invoke("down", "--output", "json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout) == {"error": as_json.stderr.strip()[len("error: "):],
                                          "exit_code": 2}
    assert inventory() == before

    # A dry run only reads.
    dry = invoke("down", "--dry-run", "--output", "json")
    assert dry.exit_code == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["api_calls"]["writes"] == 0
    assert {step["action"] for step in doc["plan"]} == {"delete"}
    assert inventory() == before

    # At a terminal the answer decides. CliRunner's stdin is never a terminal: make it claim to
    # be one (stdout stays a pipe).
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty",
                        lambda self: self.name == "<stdin>")
    declined = invoke("down", input="n\n")
    assert declined.exit_code == 1
    # 20: bucket, table, 2 topics, 2 subscriptions, 5 roles, 4 log groups, 3 functions,
    # state machine, rule.
    assert "Delete these 20 resources? [y/N]" in declined.stdout
    assert "Nothing deleted." in declined.stdout
    assert inventory() == before

    accepted = invoke("down", "--output", "json", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert inventory() == EMPTY


# --- JSON documents ---------------------------------------------------------------------------
CHANGE_KEYS = {"kind", "name", "action", "reason"}
ROW_KEYS = {"kind", "name", "arn", "state", "detail"}
KINDS = {"bucket", "table", "topic", "subscription", "role", "log-group", "function",
         "state-machine", "rule"}


def test_json_output_is_one_document_with_the_contracts_keys(invoke):
    up = invoke("up", "--email", EMAIL, "--output", "json")
    assert up.exit_code == 0, up.stderr
    doc = json.loads(up.stdout)  # fails on anything but exactly one JSON document
    assert set(doc) == {"stack", "region", "account", "features", "changes", "api_calls"}
    assert (doc["stack"], doc["region"], doc["account"]) == ("facedetect", REGION, ACCOUNT)
    assert doc["features"] == []
    assert {tuple(sorted(c)) for c in doc["changes"]} == {tuple(sorted(CHANGE_KEYS))}
    assert {c["kind"] for c in doc["changes"]} == KINDS
    assert {c["action"] for c in doc["changes"]} == {"created"}
    assert set(doc["api_calls"]) == {"reads", "writes"}
    assert doc["api_calls"]["writes"] > 0

    status = invoke("status", "--output", "json")
    assert status.exit_code == 0
    doc = json.loads(status.stdout)
    assert set(doc) == {"stack", "region", "account", "healthy", "features", "resources",
                        "executions", "api_calls"}
    assert doc["features"] == {}
    assert doc["healthy"] is True
    assert {tuple(sorted(r)) for r in doc["resources"]} == {tuple(sorted(ROW_KEYS))}
    assert {r["state"] for r in doc["resources"]} == {"present"}
    assert {r["kind"] for r in doc["resources"]} == KINDS
    assert all(r["arn"].startswith("arn:aws:") for r in doc["resources"])
    assert doc["api_calls"]["writes"] == 0

    down = invoke("down", "--yes", "--output", "json")
    assert down.exit_code == 0, down.stderr
    doc = json.loads(down.stdout)
    assert set(doc) == {"stack", "region", "account", "changes", "api_calls"}
    assert {tuple(sorted(c)) for c in doc["changes"]} == {tuple(sorted(CHANGE_KEYS))}
    assert {c["action"] for c in doc["changes"]} == {"deleted"}


def test_up_dry_run_makes_no_write_call_and_creates_nothing(invoke, inventory):
    result = invoke("up", "--email", EMAIL, "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True
    assert doc["api_calls"]["writes"] == 0
    assert doc["api_calls"]["reads"] > 0
    assert {step["action"] for step in doc["plan"]} == {"create"}
    assert inventory() == EMPTY

    text = invoke("up", "--email", EMAIL, "--dry-run")
    assert text.exit_code == 0
    assert "nothing changed" in text.stdout
    assert inventory() == EMPTY


# --- text output, environment, entry points --------------------------------------------------
def test_text_output_without_a_terminal_has_no_ansi_escapes(invoke, monkeypatch):
    # conftest sets NO_COLOR; without it, and with a colour terminal type, only the missing
    # terminal keeps the escapes out.
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    results = [
        invoke("up", "--email", EMAIL),
        invoke("status"),
        invoke("down", "--yes"),
        invoke("up", "--stack", "Bad"),
    ]
    assert [r.exit_code for r in results] == [0, 0, 0, 2]
    assert "created" in results[0].stdout
    assert "present" in results[1].stdout
    for result in results:
        assert "\x1b" not in result.stdout + result.stderr


def test_settings_come_from_the_environment(invoke, monkeypatch):
    monkeypatch.setenv("FACEDETECT_STACK", "from-env")
    monkeypatch.setenv("FACEDETECT_OUTPUT", "json")
    monkeypatch.setenv("FACEDETECT_REGION", "us-east-1")  # over AWS_REGION=eu-central-1
    result = invoke("up", "--email", EMAIL)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["stack"], doc["region"]) == ("from-env", "us-east-1")
    assert {c["name"] for c in doc["changes"] if c["kind"] == "table"} == {
        "from-env-FaceMetadataTable"}
    # Read back: the stack is where the environment said.
    tables = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    assert tables == ["from-env-FaceMetadataTable"]
    assert boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []
    bucket = f"from-env-images-{ACCOUNT}-us-east-1"
    assert bucket in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]

    # An option on the command line wins over the environment.
    text = invoke("status", "--output", "text", "--stack", "other")
    assert text.exit_code == 3
    assert text.stdout.startswith("Stack other in account")


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"facedetect, version {__version__}"


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "facedetect_cli", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ")
    for command in ("up", "down", "status"):
        assert f"  {command} " in result.stdout
