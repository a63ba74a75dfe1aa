"""Reading a report back for --retry-failed (issue 17): which targets run again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from facedetect_cli.aws.connection import Connection
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.errors import InputError
from facedetect_cli.fleet.report import load_retry

ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444"]


def entry(account: str) -> dict:
    return {"label": f"{account}/eu-central-1", "account": account, "name": f"n{account[0]}",
            "ou_path": "Root/Prod", "region": "eu-central-1", "profile": None,
            "role_arn": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            "external_id": None, "role_session_name": "facedetect", "stack": "faces",
            "emails": ["ops@example.com"]}


def record(account: str, result: str) -> str:
    return json.dumps({"record": "target", "target": f"{account}/eu-central-1",
                       "account": account, "stack": "faces", "result": result})


def write(path: Path, *records: str, tail: str = "") -> Path:
    run = json.dumps({"record": "run", "version": 1, "command": "up",
                      "targets": [entry(a) for a in ACCOUNTS]})
    path.write_text("\n".join([run, *records]) + "\n" + tail)
    return path


def load(path: Path, command: str = "up"):
    return load_retry(path, command, Connection(endpoint_url="http://127.0.0.1:4566"),
                      StackConfig(stack="other", log_retention_days=7))


def test_retry_takes_the_failed_and_the_unfinished_with_what_the_report_recorded(tmp_path):
    # 111 failed then succeeded on a retry written to the same report: its last record counts.
    path = write(tmp_path / "r.jsonl", record(ACCOUNTS[0], "failed"), record(ACCOUNTS[1], "ok"),
                 record(ACCOUNTS[2], "failed"), record(ACCOUNTS[0], "ok"))
    retry = load(path)
    assert (retry.failed, retry.unfinished) == (1, 1)
    [failed, unfinished] = retry.targets
    assert (failed.account, unfinished.account) == (ACCOUNTS[2], ACCOUNTS[3])
    assert failed.connection.role_arn == entry(ACCOUNTS[2])["role_arn"]
    assert failed.connection.endpoint_url == "http://127.0.0.1:4566"  # from this run
    assert failed.config.stack == "faces" and failed.config.emails == ("ops@example.com",)
    assert failed.config.log_retention_days == 7  # the other settings from this command line
    assert failed.ou_path == "Root/Prod" and failed.name == "n3"


def test_a_torn_last_line_counts_as_unfinished(tmp_path):
    path = write(tmp_path / "r.jsonl", record(ACCOUNTS[0], "ok"), record(ACCOUNTS[1], "ok"),
                 tail=record(ACCOUNTS[2], "ok")[:30])
    assert [t.account for t in load(path).targets] == ACCOUNTS[2:]


@pytest.mark.parametrize(("content", "message"), [
    ("not json\n", "not a facedetect report (line 1"),
    ('{"record": "target"}\n', "no run record"),
    ("", "no run record"),
])
def test_what_is_no_report_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(message)):
        load(path)


def test_a_report_is_retried_by_its_own_command(tmp_path):
    path = write(tmp_path / "r.jsonl")
    with pytest.raises(InputError, match="is a report of `up`: retry it with `facedetect up"):
        load(path, "down")
