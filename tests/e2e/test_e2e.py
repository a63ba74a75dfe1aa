"""End to end: the installed `facedetect` command in a subprocess, as a user runs it, against
moto's HTTP server (the same embedded emulator `--local` starts)."""

from __future__ import annotations

import json
import os
import subprocess

import boto3
from conftest import FACEDETECT, free_port


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run([FACEDETECT, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def test_installed_command_up_status_down(server):
    env = {"AWS_ENDPOINT_URL": server}  # boto3's own variable, as a user would set it
    up = run("up", "--email", "ops@example.com", "--output", "json", env=env)
    assert up.returncode == 0, up.stderr
    changes = json.loads(up.stdout)["changes"]
    # 20: bucket, table, 2 topics, 2 subscriptions, 5 roles, 4 log groups, 3 functions,
    # state machine, rule.
    assert len(changes) == 20 and {c["action"] for c in changes} == {"created"}

    lam = boto3.client("lambda", endpoint_url=server)
    names = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
    assert names == ["facedetect-DetectFacesLambda", "facedetect-SendNotificationLambda",
                     "facedetect-StoreMetadataLambda"]

    again = run("up", "--email", "ops@example.com", "--endpoint-url", server)
    assert again.returncode == 0, again.stderr
    assert "20 unchanged" in again.stdout
    assert "\x1b" not in again.stdout  # a pipe gets plain lines, no control codes

    status = run("status", "--endpoint-url", server, "--output", "json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["healthy"] is True

    refused = run("down", "--endpoint-url", server)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert lam.list_functions()["Functions"]  # nothing deleted

    down = run("down", "--yes", "--endpoint-url", server)
    assert down.returncode == 0, down.stderr
    assert lam.list_functions()["Functions"] == []
    assert boto3.client("s3", endpoint_url=server).list_buckets()["Buckets"] == []
    assert boto3.client("logs", endpoint_url=server).describe_log_groups()["logGroups"] == []
    gone = run("status", "--endpoint-url", server)
    assert gone.returncode == 3


def test_local_flag_starts_and_stop_stops_the_embedded_emulator(tmp_path):
    port = str(free_port())
    env = {"XDG_STATE_HOME": str(tmp_path), "FACEDETECT_LOCAL_PORT": port}
    try:
        up = run("up", "--local", env=env)
        assert up.returncode == 0, up.stderr
        assert f"Started the local emulator on http://127.0.0.1:{port}" in up.stdout
        status = run("status", "--local", "--output", "json", env=env)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["healthy"] is True
        down = run("down", "--local", "--yes", env=env)
        assert down.returncode == 0, down.stderr
        assert (tmp_path / "facedetect" / f"emulator-{port}.log").exists()
    finally:
        stopped = run("local", "stop", env=env)
    assert stopped.returncode == 0
    assert "Stopped" in stopped.stdout
    assert run("local", "status", env=env).returncode == 3
