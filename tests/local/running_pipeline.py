"""The embedded emulator in its own process (as `--local` starts it) with a deployed stack:
what the local pipeline's tests and its benchmark upload into."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from conftest import EMAIL, FACEDETECT, REGION, free_port

from facedetect_cli.local.lifecycle import answers
from facedetect_cli.local.mailbox import mailbox_dir, read_all


class RunningPipeline:
    def __init__(self, home: Path, *, wheel_cache: Path | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {name: value for name, value in os.environ.items()
                    if not name.startswith(("AWS_", "FACEDETECT_"))}
        self.env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                         "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                         "AWS_CONFIG_FILE": os.devnull, "XDG_STATE_HOME": str(home)})
        if wheel_cache is not None:
            self.env["FACEDETECT_WHEEL_CACHE"] = str(wheel_cache)
        self.log = home / "emulator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._clients: dict[str, Any] = {}

    def start(self, *features: str) -> None:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "facedetect_cli.local.emulator", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start: {self.log.read_text()}")
            time.sleep(0.05)
        args = [a for f in features for a in ("--with", f)]
        up = self.cli("up", "--email", EMAIL, *args)
        if up.returncode != 0:
            raise RuntimeError(f"up failed: {up.stderr}")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FACEDETECT, *args, "--endpoint-url", self.endpoint],
                              capture_output=True, text=True, timeout=timeout, env=self.env,
                              stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name=REGION,
                aws_access_key_id="test", aws_secret_access_key="test")
        return self._clients[service]

    @property
    def bucket(self) -> str:
        return f"facedetect-images-123456789012-{REGION}"

    @property
    def state_machine(self) -> str:
        return (f"arn:aws:states:{REGION}:123456789012:stateMachine:"
                "facedetect-FaceRecognitionWorkflow")

    def upload(self, key: str, body: bytes) -> str:
        """The object's ETag."""
        stored = self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        return str(stored["ETag"]).strip('"')

    def executions(self) -> list[dict[str, Any]]:
        return list(self.client("stepfunctions").list_executions(
            stateMachineArn=self.state_machine, maxResults=1000)["executions"])

    def execution_for(self, key: str, etag: str, timeout: float = 60) -> dict[str, Any]:
        """The finished execution the upload started (DescribeExecution's answer)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for listed in self.executions():
                found = sfn.describe_execution(executionArn=listed["executionArn"])
                obj = json.loads(found["input"])["detail"]["object"]
                if (obj["key"], obj["etag"]) == (key, etag):
                    if found["status"] != "RUNNING":
                        return dict(found)
                    break
            time.sleep(0.05)
        raise TimeoutError(f"no finished execution for {key} within {timeout}s")

    def mail(self) -> list[dict[str, str]]:
        return read_all(mailbox_dir(self.home / "facedetect", self.port))
