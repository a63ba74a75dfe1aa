"""Shared fixtures: an isolated AWS environment, moto in process, and the app under test."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import moto.iam.models
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from facedetect_cli.aws.connection import Connection
from facedetect_cli.build import wheels
from facedetect_cli.cli import runner
from facedetect_cli.cli.main import cli
from facedetect_cli.engine.app import StackApp
from facedetect_cli.engine.apply import Outcome
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.plan import Plan, plan_down, plan_up
from facedetect_cli.local.emulator import patch_moto

# The installed command, as a user runs it (end-to-end and process tests).
FACEDETECT = str(Path(sys.executable).parent / "facedetect")
REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
EMAIL = "dev@example.com"

# moto loads ~1,300 AWS managed policies per mock (over a second each time); the stack only
# attaches one, so load just that one. Same behaviour, a tenth of the time.
_ALL_MANAGED = json.loads(moto.iam.models.aws_managed_policies_data)
moto.iam.models.aws_managed_policies_data = json.dumps(
    {"AWSLambdaBasicExecutionRole": _ALL_MANAGED["AWSLambdaBasicExecutionRole"]}
)
patch_moto()


# The longest tests, first: handed out last, one of them would leave one worker running alone
# at the end of the suite (pytest-xdist gives out tests in collection order).


def role_name(purpose: str, stack: str = "facedetect", region: str = REGION) -> str:
    """A role's name as engine/naming.py derives it from its tutorial name (DetectFacesRole);
    test_resources_roles.py pins the spelling a user sees."""
    return Names(StackConfig(stack=stack), ACCOUNT, region).role(purpose)


_SLOW_FIRST = ("test_faults.py", "test_e2e.py", "test_fleet.py", "test_local_pipeline.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in _SLOW_FIRST)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No test ever sees the machine's real AWS configuration or a FACEDETECT_ setting."""
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_", "FACEDETECT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_COLOR", "1")


_MODELS = botocore.loaders.create_loader()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        # Speed only: moto resets boto3's default session at each mock, and a new session
        # parses every service model again; this one shares one loader across the tests, so
        # the tests' own boto3.client(...) calls parse each model once.
        session = botocore.session.get_session()
        session.register_component("data_loader", _MODELS)
        monkeypatch.setattr(boto3, "DEFAULT_SESSION",
                            boto3.session.Session(botocore_session=session))
        yield


class Sleeps(list[float]):
    """A sleep that records instead of waiting: retries run instantly and can be asserted."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_app(aws: None, sleeps: Sleeps) -> Callable[..., StackApp]:
    def make(region: str = REGION, fault_rules: Any = (), **config: Any) -> StackApp:
        config.setdefault("emails", (EMAIL,))
        return StackApp(Connection(region=region), StackConfig(**config),
                        fault_rules=fault_rules, sleep=sleeps)

    return make


@pytest.fixture
def app(make_app: Callable[..., StackApp]) -> StackApp:
    return make_app()


@pytest.fixture
def invoke(aws: None, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the CLI in process against moto, as a user would type it."""
    monkeypatch.setattr(runner, "APP_OVERRIDES", {"sleep": sleeps})

    def run(*args: str, input: str | None = None, **overrides: Any) -> Result:
        runner.APP_OVERRIDES.update(overrides)
        result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
        return result

    return run


def json_out(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


class OneKind:
    """The engine's own planner and executor on the resources of one kind only: what the
    repair and delete tests of a kind need, without reading and writing the rest of the stack
    each time."""

    def __init__(self, app: StackApp, kind: str) -> None:
        self.app = app
        self.aws = app.aws
        self.resources = [r for r in app.resources if r.kind == kind]

    def plan_up(self) -> Plan:
        return plan_up(self.resources, self.app.ctx)

    def plan_down(self) -> Plan:
        return plan_down(self.resources, self.app.ctx)

    def apply(self, plan: Plan) -> list[Outcome]:
        return self.app.apply(plan)


def fake_wheel(folder: Path, target: wheels.Target, version: str = wheels.PILLOW_VERSION) -> Path:
    machine = wheels.MACHINES[target.architecture]
    name = (f"pillow-{version}-{target.abi}-{target.abi}-"
            f"manylinux_2_27_{machine}.manylinux_2_28_{machine}.whl")
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("PIL/__init__.py", "# fake\n")
        archive.writestr(f"PIL/_imaging.{target.abi}-{machine}-linux-gnu.so", b"\x7fELF")
        archive.writestr(f"pillow-{version}.dist-info/METADATA", "Name: pillow\n")
    (folder / name).write_bytes(buffer.getvalue())
    return folder / name


def leftovers(clients: dict | None = None) -> list[str]:
    """Everything of any kind the stack uses that exists in the account (moto's own view,
    whatever a test puts in front of facedetect's calls); `clients`: of moto's server."""
    client = clients or account_clients()
    found = [b["Name"] for b in client["s3"].list_buckets()["Buckets"]]
    found += client["dynamodb"].list_tables()["TableNames"]
    found += [t["TopicArn"] for t in client["sns"].list_topics()["Topics"]]
    found += [s["SubscriptionArn"] for s in client["sns"].list_subscriptions()["Subscriptions"]]
    found += [r["RoleName"] for r in client["iam"].list_roles()["Roles"]]
    found += [f["FunctionName"] for f in client["lambda"].list_functions()["Functions"]]
    found += [m["name"] for m in client["stepfunctions"].list_state_machines()["stateMachines"]]
    found += [r["Name"] for r in client["events"].list_rules()["Rules"]]
    found += [g["logGroupName"] for g in client["logs"].describe_log_groups()["logGroups"]]
    return found


_ACCOUNT_CLIENTS: dict[str, object] = {}


def account_clients() -> dict:
    # Clients outlive a mock (moto intercepts below them); creating them is the costly part.
    if not _ACCOUNT_CLIENTS:
        for service in ("s3", "dynamodb", "sns", "iam", "lambda", "stepfunctions", "events",
                        "logs"):
            _ACCOUNT_CLIENTS[service] = boto3.client(service, region_name=REGION)
    return _ACCOUNT_CLIENTS


def free_port() -> int:
    """A port nothing listens on (for an emulator a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server() -> Iterator[str]:
    """The embedded emulator (moto's HTTP server) in a thread of this process: an endpoint
    for the installed command run in a subprocess."""
    from facedetect_cli.local.emulator import start_in_thread

    port = free_port()
    emulator = start_in_thread(port)
    yield f"http://127.0.0.1:{port}"
    emulator.stop()
