"""Bad input at its edges (issue 14): a trailing newline, an empty value, a digit of another
script, a value of the wrong type in the targets file, a time before 1970. Each is exit 2 with
one line on stderr, before any AWS call."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from conftest import json_out

from facedetect_cli.aws import session as aws
from facedetect_cli.errors import InputError
from facedetect_cli.fleet.targets import MAX_FILE_BYTES, load_targets

pytestmark = pytest.mark.usefixtures("aws")

ROLE = "arn:aws:iam::111111111111:role/Deploy"


@pytest.fixture
def no_session(monkeypatch):
    """Any AWS session at all fails the test: bad input must stop before the first call."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("an AWS session was opened for bad input")

    monkeypatch.setattr(aws.AwsSession, "__init__", refuse)


def assert_usage_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("args, fragment", [
    # `re`'s `$` matches before a final newline: these passed as valid before.
    (["--stack", "ab\n"], "invalid stack name"),
    (["--email", "nl@example.com\n"], "invalid e-mail address"),
    (["--region", "eu-central-1\n"], "unknown region"),
    (["--endpoint-url", "http://127.0.0.1:4566\n"], "malformed endpoint URL"),
    (["--role-arn", f"{ROLE}\n"], "is not an IAM role ARN"),
    # `\d` matches Arabic-Indic digits too.
    (["--region", "eu-central-\u0661"], "unknown region"),
    # An empty value (an unset shell variable) never means "the default".
    (["--region", ""], "--region is empty"),
    (["--profile", ""], "--profile is empty"),
    (["--endpoint-url", ""], "--endpoint-url is empty"),
    (["--role-arn", ""], "--role-arn is empty"),
    (["--role-arn", "not-an-arn"], "is not an IAM role ARN"),
    (["--role-arn", ROLE, "--external-id", "x"], "invalid --external-id"),
    (["--role-arn", ROLE, "--role-session-name", "a b"], "invalid --role-session-name"),
    (["--external-id", "abc"], "--external-id is only used with --role-arn"),
    # The emulator has one account and takes any credentials: refused, not ignored.
    (["--local", "--role-arn", ROLE], "--role-arn does not combine with --local"),
    (["--local", "--profile", "dev"], "--profile does not combine with --local"),
])
@pytest.mark.parametrize("command", [["up"], ["status"], ["down", "--yes"], ["results"],
                                     ["logs"]])
def test_bad_connection_options_are_usage_errors(invoke, no_session, command, args, fragment):
    if "--email" in args and command[0] not in ("up", "status"):
        pytest.skip("only up and status take --email")
    assert_usage_error(invoke(*command, *args), fragment)


@pytest.mark.parametrize("since, fragment", [
    ("1900-01-01T00:00", "before 1970"),
    ("0001-01-01T00:00", "before 1970"),
    ("1000000d", "before 1970"),
    ("99999999999999999999w", "before 1970"),
    ("9999-12-31T23:59", "in the future"),
    ("10m\nx", "invalid --since"),
])
def test_logs_since_outside_what_cloudwatch_keeps_is_a_usage_error(invoke, no_session, since,
                                                                    fragment):
    assert_usage_error(invoke("logs", "--since", since), fragment)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("line, fragment", [
    ("external_id = 42", "external_id must be a non-empty string, not 42"),
    ("profile = 1", "profile must be a non-empty string, not 1"),
    ("stack = true", "stack must be a non-empty string, not True"),
    ('name = ""', "name must be a non-empty string"),
    ('role_session_name = ["a"]', "role_session_name must be a non-empty string"),
    ('external_id = "x"', "invalid external_id"),
    ('role_session_name = "a b"', "invalid role_session_name"),
])
def test_a_targets_value_of_the_wrong_type_is_refused_up_front(tmp_path, line, fragment):
    path = write(tmp_path, f'[[targets]]\nrole_arn = "{ROLE}"\nregion = "eu-central-1"\n{line}\n')
    with pytest.raises(InputError, match=fragment.replace("[", r"\[")):
        load_targets(path, known_regions={"eu-central-1"})


def test_a_wrong_type_in_defaults_is_refused_too(tmp_path):
    path = write(tmp_path, f'[defaults]\nexternal_id = 42\n[[targets]]\nrole_arn = "{ROLE}"\n'
                 'region = "eu-central-1"\n')
    with pytest.raises(InputError, match=r"defaults.*external_id must be a non-empty string"):
        load_targets(path, known_regions={"eu-central-1"})


def test_a_targets_file_that_never_ends_is_refused_after_a_bounded_read(invoke, no_session,
                                                                        tmp_path):
    # /dev/zero was read until memory ran out.
    result = invoke("status", "--targets", "/dev/zero")
    assert_usage_error(result, "larger than 1024 KiB")
    big = write(tmp_path, "#" * (MAX_FILE_BYTES + 1))
    assert_usage_error(invoke("up", "--targets", str(big)), "larger than 1024 KiB")


def subscribed() -> dict[str, list[str]]:
    sns = boto3.client("sns")
    return {topic["TopicArn"].rsplit(":", 1)[1]: sorted(
        s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])[
            "Subscriptions"]) for topic in sns.list_topics()["Topics"]}


def test_addresses_differing_only_in_case_are_one_subscription_in_up_and_status(invoke):
    up = invoke("up", "--email", "D@Example.com", "--email", "d@example.com")
    assert up.exit_code == 0, up.stderr
    # The first spelling is the one subscribed; the second is the same mailbox.
    assert subscribed() == {"facedetect-FaceDetectionResults": ["D@Example.com"],
                            "facedetect-ImageProcessingFailures": ["D@Example.com"]}

    again = invoke("up", "--email", "d@EXAMPLE.com", "--output", "json")
    assert again.exit_code == 0, again.stderr
    subscriptions = [c for c in json_out(again)["changes"] if c["kind"] == "subscription"]
    assert {c["action"] for c in subscriptions} == {"unchanged"}
    assert subscribed() == {"facedetect-FaceDetectionResults": ["D@Example.com"],
                            "facedetect-ImageProcessingFailures": ["D@Example.com"]}

    status = invoke("status", "--email", "d@example.COM", "--output", "json")
    assert status.exit_code == 0, status.stderr
    rows = [r for r in json_out(status)["resources"] if r["kind"] == "subscription"]
    assert [r["state"] for r in rows] == ["present", "present"]
