"""The three Lambda functions as `up` leaves them, read back from moto, the deterministic zips
their code comes from, and an `up` after one handler changed that updates that function only."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest
from conftest import role_name

from facedetect_cli.aws.connection import Connection
from facedetect_cli.aws.hooks import is_read
from facedetect_cli.build.assets import Assets
from facedetect_cli.build.packaging import code_sha256
from facedetect_cli.engine.app import StackApp
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.plan import UNCHANGED, UPDATE

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
EMAIL = "dev@example.com"
REPO = Path(__file__).resolve().parents[2]



FUNCTIONS = {
    "detect_faces": ("facedetect-DetectFacesLambda", role_name("DetectFacesRole"), {}),
    "store_metadata": ("facedetect-StoreMetadataLambda", role_name("StoreMetadataRole"),
                       {"TABLE_NAME": "facedetect-FaceMetadataTable"}),
    "send_notification": (
        "facedetect-SendNotificationLambda", role_name("SendNotificationRole"),
        {"TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:facedetect-FaceDetectionResults"}),
}


def apply_plan(app, plan):
    outcomes = app.apply(plan)
    failed = [(o.step.resource.key, o.error) for o in outcomes if o.error is not None]
    assert failed == []
    return outcomes


def test_functions_run_python313_on_arm64_with_their_own_code_and_settings(app):
    apply_plan(app, app.plan_up())
    lam = boto3.client("lambda")
    assert sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]) == sorted(
        name for name, _, _ in FUNCTIONS.values())

    for module, (name, role, environment) in FUNCTIONS.items():
        config = lam.get_function_configuration(FunctionName=name)
        # moto accepts any runtime string; AWS would reject an unsupported one.
        assert config["Runtime"] == "python3.13", name
        assert config["Architectures"] == ["arm64"], name
        assert config["Handler"] == f"{module}.lambda_handler", name
        assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{role}", name
        assert config.get("Environment", {}).get("Variables", {}) == environment, name
        # moto computes CodeSha256 from the uploaded bytes as AWS does.
        assert config["CodeSha256"] == code_sha256(app.ctx.assets.handler_zip(module)), name
        tags = lam.list_tags(Resource=config["FunctionArn"])["Tags"]
        assert tags["facedetect:stack"] == "facedetect", name


def test_handler_zips_are_deterministic_and_hold_only_the_handler_and_its_helper():
    handlers = REPO / "handlers"
    for module in FUNCTIONS:
        first = Assets().handler_zip(module)
        again = Assets().handler_zip(module)  # a fresh instance: no cache shared
        assert first == again, module

        with zipfile.ZipFile(io.BytesIO(first)) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            assert names == sorted(names) == sorted([f"{module}.py", "pipeline_common.py"])
            for info in infos:
                assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
                assert info.external_attr >> 16 == 0o100644, info.filename
                assert archive.read(info) == (handlers / info.filename).read_bytes()


def copy_assets(root: Path) -> Path:
    shutil.copytree(REPO / "handlers", root / "handlers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("state_machine.json", "event_rule.json"):
        shutil.copy(REPO / name, root / name)
    return root


def test_up_after_one_handler_changed_updates_that_function_only(app, sleeps, tmp_path):
    apply_plan(app, app.plan_up())
    lam = boto3.client("lambda")
    before = {name: lam.get_function_configuration(FunctionName=name)["CodeSha256"]
              for name, _, _ in FUNCTIONS.values()}

    root = copy_assets(tmp_path / "assets")
    handler = root / "handlers" / "store_metadata.py"
    handler.write_text(handler.read_text() + "\n# a change to the handler\n")
    changed = StackApp(Connection(region=REGION), StackConfig(emails=(EMAIL,)), sleep=sleeps,
                       assets=Assets(root))

    plan = changed.plan_up()
    assert [(s.resource.name, s.action, s.reason) for s in plan.changes] == [
        ("facedetect-StoreMetadataLambda", UPDATE, "code changed")]
    assert {s.action for s in plan.steps if s not in plan.changes} == {UNCHANGED}

    before_calls = changed.aws.counter.by_operation()
    apply_plan(changed, plan)
    after_calls = changed.aws.counter.by_operation()
    writes = {op: n - before_calls.get(op, 0) for op, n in after_calls.items()
              if n != before_calls.get(op, 0) and not is_read(op.split(":")[1])}
    assert writes == {"lambda:UpdateFunctionCode": 1}

    new_sha = code_sha256(changed.ctx.assets.handler_zip("store_metadata"))
    assert new_sha != before["facedetect-StoreMetadataLambda"]
    after = {name: lam.get_function_configuration(FunctionName=name)["CodeSha256"]
             for name, _, _ in FUNCTIONS.values()}
    assert after == {**before, "facedetect-StoreMetadataLambda": new_sha}
    assert changed.plan_up().changes == []
