"""The proxy works out from raw HTTP what botocore names each call: checked on the requests
botocore itself makes for every operation the model's rules read (captured before sending,
against an IP endpoint as the end-to-end tests use)."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.session import get_session
from conftest import EMAIL, leftovers

from awsmodel.clock import ScaledClock
from awsmodel.model import AwsModel, Settings
from awsmodel.proxy import identify, proxy
from facedetect_cli.local.emulator import start_in_thread

FACEDETECT = str(Path(sys.executable).parent / "facedetect")

_SESSION = get_session()  # one loader: each service model parsed once
ARN = "arn:aws:iam::123456789012:role/r1"
MACHINE = "arn:aws:states:eu-central-1:123456789012:stateMachine:m1"
CALLS = [
    ("dynamodb", "CreateTable", {"TableName": "t1", "BillingMode": "PAY_PER_REQUEST",
                                 "AttributeDefinitions": [{"AttributeName": "K",
                                                           "AttributeType": "S"}],
                                 "KeySchema": [{"AttributeName": "K", "KeyType": "HASH"}]},
     {"TableName": "t1"}),
    ("stepfunctions", "CreateStateMachine", {"name": "m1", "definition": "{}", "roleArn": ARN},
     {"name": "m1", "roleArn": ARN}),
    ("stepfunctions", "DeleteStateMachine", {"stateMachineArn": MACHINE},
     {"stateMachineArn": MACHINE}),
    ("logs", "DeleteLogGroup", {"logGroupName": "/aws/x"}, {"logGroupName": "/aws/x"}),
    ("iam", "DeleteRole", {"RoleName": "r1"}, {"RoleName": "r1"}),
    ("iam", "PutRolePolicy", {"RoleName": "r1", "PolicyName": "p", "PolicyDocument": "{}"},
     {"RoleName": "r1"}),
    ("lambda", "CreateFunction", {"FunctionName": "f1", "Role": ARN, "Code": {"ZipFile": b"x"}},
     {"FunctionName": "f1", "Role": ARN}),
    ("lambda", "GetFunction", {"FunctionName": "f1"}, {"FunctionName": "f1"}),
    ("lambda", "UpdateFunctionConfiguration", {"FunctionName": "f1", "Timeout": 3},
     {"FunctionName": "f1"}),
    ("lambda", "UpdateFunctionCode", {"FunctionName": "f1", "ZipFile": b"x"},
     {"FunctionName": "f1"}),
    ("s3", "CreateBucket", {"Bucket": "b1"}, {"Bucket": "b1"}),
    ("s3", "DeleteBucket", {"Bucket": "b1"}, {"Bucket": "b1"}),
    ("s3", "PutBucketPolicy", {"Bucket": "b1", "Policy": "{}"}, {"Bucket": "b1"}),
    ("s3", "PutPublicAccessBlock", {"Bucket": "b1", "PublicAccessBlockConfiguration": {}},
     {"Bucket": "b1"}),
    ("s3", "GetBucketTagging", {"Bucket": "b1"}, {"Bucket": "b1"}),
    ("s3", "PutBucketNotificationConfiguration",
     {"Bucket": "b1", "NotificationConfiguration": {}}, {"Bucket": "b1"}),
]


@pytest.mark.parametrize(("service", "operation", "params", "expected"), CALLS,
                         ids=[f"{c[0]}:{c[1]}" for c in CALLS])
def test_identify_names_each_call_as_botocore_does(service, operation, params, expected):
    client = _SESSION.create_client(
        service, region_name="eu-central-1", endpoint_url="http://127.0.0.1:5999",
        aws_access_key_id="x", aws_secret_access_key="x")
    seen = []

    def capture(request, **_):
        seen.append(identify(request.method, request.url.split("5999", 1)[1],
                             request.headers, request.body or b""))
        raise _Sent

    client.meta.events.register_first("before-send", capture)
    method = client.meta.method_to_api_mapping
    python_name = next(k for k, v in method.items() if v == operation)
    with pytest.raises(_Sent):
        getattr(client, python_name)(**params)
    found_service, found_operation, found_params = seen[0]
    assert (found_service, found_operation) == (service, operation)
    assert {k: found_params.get(k) for k in expected} == expected


class _Sent(Exception):
    """Stops the call once its request is captured."""


# In real time (the installed command sleeps for real): AWS's windows a quarter as long.
QUICK = Settings(**{
    name: (low / 4, high / 4) for name, (low, high) in (
        (f.name, getattr(Settings(), f.name)) for f in dataclasses.fields(Settings)
        if isinstance(getattr(Settings(), f.name), tuple))})
SERVICES = ("s3", "dynamodb", "sns", "iam", "lambda", "stepfunctions", "events", "logs")


@pytest.mark.soak
@pytest.mark.parametrize("seed", (1, 2, 3), ids=lambda s: f"seed_{s}")
def test_installed_command_life_cycle_through_the_proxy(seed, tmp_path):
    """The soak's life cycle, by the installed command against moto's server with the model
    in front (seconds of real time per seed: behind the soak marker)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    emulator = start_in_thread(port)
    server = f"http://127.0.0.1:{port}"
    try:
        with AwsModel(seed, ScaledClock(1), QUICK) as model, proxy(model, server) as url:
            def step(*args: str) -> dict:
                done = subprocess.run(
                    [FACEDETECT, *args, "--output", "json"], capture_output=True, text=True,
                    timeout=300, stdin=subprocess.DEVNULL,
                    env={**os.environ, "AWS_ENDPOINT_URL": url})
                assert done.returncode == 0, (
                    f"seed {seed}: facedetect {' '.join(args)}: {done.stderr}\n"
                    f"{model.ledger.tail()}")
                return json.loads(done.stdout)

            step("up", "--email", EMAIL)
            assert step("status")["healthy"] is True
            assert step("up", "--email", EMAIL)["api_calls"]["writes"] == 0
            step("down", "--yes")
            step("up", "--email", EMAIL)
            step("down", "--yes")
        assert sum(model.ledger.injected().values()) > 0
        clients = {s: boto3.client(s, endpoint_url=server) for s in SERVICES}
        assert leftovers(clients) == [], f"seed {seed} left these behind"
    finally:
        emulator.stop()
