"""Fixtures for the Lambda handler tests.

Everything runs in-process against moto (S3, DynamoDB, SNS, SQS) with fake credentials, in
eu-central-1. Rekognition is not implemented by moto: its client is wrapped in a botocore
Stubber, which also validates every stubbed request and response against the Rekognition
service model.
"""

import os
import sys
from pathlib import Path
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
import moto.sns.models as moto_sns_models
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from moto.core.base_backend import BackendDict

# The handlers are top-level modules at the root of their zips, and the helpers sit next to
# this file; both directories must be importable whatever pytest's import mode.
_HERE = Path(__file__).resolve().parent
for _path in (_HERE, _HERE.parents[1] / "handlers"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import pipeline_common  # noqa: E402
from handler_testkit import FAKE_SECRET, REGION, Stack, import_fresh  # noqa: E402


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch, tmp_path):
    """Fake credentials and a fixed region; nothing from the developer's AWS setup leaks in."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in {
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "TABLE_NAME",
            "TOPIC_ARN",
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


# One key pair for every SNS subscription moto creates: it signs each delivered message with
# an RSA key it generates per subscription (~60 ms each), and no test checks signatures.
_SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

# Service models are large JSON files; one loader shared by all sessions parses each once.
_MODEL_LOADER = botocore.loaders.create_loader()


class _Moto:
    """moto started once per test module: registering its URL patterns costs tens of
    milliseconds, so tests get emptied backends instead of a fresh mock. The mock ends with the
    module and never leaks into the repository's other test suites."""

    def __init__(self) -> None:
        core = botocore.session.get_session()
        core.register_component("data_loader", _MODEL_LOADER)
        self.session = boto3.session.Session(botocore_session=core, region_name=REGION)
        # Clients hold no server state, so the fixtures' clients, like the handlers' cached
        # ones (a container's lifetime in Lambda), live as long as the mock.
        self.clients: dict = {}


@pytest.fixture(scope="module")
def _moto():
    with (
        mock.patch.object(moto_sns_models.rsa, "generate_private_key", return_value=_SIGNING_KEY),
        mock_aws(config={"core": {"reset_boto3_session": False}}),
    ):
        pipeline_common.reset_clients()
        yield _Moto()
        pipeline_common.reset_clients()


@pytest.fixture
def aws(_moto, monkeypatch):
    BackendDict.reset()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", _moto.session)
    yield _moto
    BackendDict.reset()


@pytest.fixture
def stack(aws):
    return Stack(aws.clients)


@pytest.fixture
def detect_faces(aws):
    return import_fresh("detect_faces")


@pytest.fixture
def store_metadata(stack, monkeypatch):
    stack.create_table()
    monkeypatch.setenv("TABLE_NAME", stack.table)
    return import_fresh("store_metadata")


@pytest.fixture
def send_notification(stack, monkeypatch):
    stack.create_topic()
    monkeypatch.setenv("TOPIC_ARN", stack.topic_arn)
    return import_fresh("send_notification")


@pytest.fixture
def rekognition(aws):
    """A Stubber on the container's cached Rekognition client, which the handler then uses."""
    client = pipeline_common.client("rekognition")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
