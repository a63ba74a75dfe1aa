"""Features of a stack (issue 8): every feature set through up, status and down; a feature
switched off; the features remembered; the collection's data confirmed and kept; the thumbnail
function's architecture; least privilege of the new roles.

moto has no Rekognition collections: the emulator patch (facedetect_cli/emulator_collections.py,
applied by conftest's patch_moto) answers the collection calls; the resource kind itself is
tested with botocore's Stubber in test_resources_collection.py. Pillow is not downloaded here:
the wheel cache holds small stand-in wheels (the real download is in test_wheels.py)."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import ACCOUNT, REGION, fake_wheel, json_out, role_name
from moto.rekognition.models import rekognition_backends
from parliament import analyze_policy_string

from facedetect_cli.build import wheels
from facedetect_cli.build.packaging import code_sha256
from facedetect_cli.errors import FacedetectError

DUPLICATES, THUMBNAILS = "duplicates", "thumbnails"
COLLECTION = "facedetect-rider-photos"
COLLECTION_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:collection/{COLLECTION}"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
FEATURE_KEYS = {
    DUPLICATES: {
        f"collection:{COLLECTION}",
        "function:facedetect-CheckFaceDuplicateLambda",
        "function:facedetect-AddFaceToIndexLambda",
        "role:" + role_name("CheckFaceDuplicateRole"),
        "role:" + role_name("AddFaceToIndexRole"),
        "log-group:/aws/lambda/facedetect-CheckFaceDuplicateLambda",
        "log-group:/aws/lambda/facedetect-AddFaceToIndexLambda",
    },
    THUMBNAILS: {
        "function:facedetect-CreateThumbnailLambda",
        "role:" + role_name("CreateThumbnailRole"),
        "log-group:/aws/lambda/facedetect-CreateThumbnailLambda",
    },
}
SETS = [frozenset({DUPLICATES}), frozenset({THUMBNAILS}), frozenset({DUPLICATES, THUMBNAILS})]


@pytest.fixture(scope="module")
def _wheel_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("wheels")
    for architecture in ("arm64", "x86_64"):
        target = wheels.Target("python3.13", architecture)
        fake_wheel(cache / target.folder, target)
    return cache


@pytest.fixture(autouse=True)
def wheel_cache(_wheel_cache, monkeypatch):
    monkeypatch.setenv("FACEDETECT_WHEEL_CACHE", str(_wheel_cache))
    return _wheel_cache


def apply_ok(app, plan=None):
    plan = plan if plan is not None else app.plan_up()
    outcomes = app.apply(plan)
    assert [(o.step.resource.key, str(o.error)) for o in outcomes if o.error] == []
    return outcomes


def done(outcomes, action: str) -> set[str]:
    return {o.step.resource.key for o in outcomes
            if o.status == "done" and o.step.action == action}


def machine_tags() -> dict[str, str]:
    tags = boto3.client("stepfunctions").list_tags_for_resource(resourceArn=MACHINE_ARN)["tags"]
    return {t["key"]: t["value"] for t in tags}


def collections() -> list[str]:
    return boto3.client("rekognition").list_collections()["CollectionIds"]


def functions() -> set[str]:
    return {f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]}


@pytest.mark.parametrize("enabled", SETS, ids=lambda s: "+".join(sorted(s)))
def test_every_feature_set_through_up_status_and_down(make_app, enabled):
    created = done(apply_ok(make_app(with_features=tuple(enabled))), "create")

    wanted = set().union(*(FEATURE_KEYS[f] for f in enabled))
    unwanted = set().union(*(FEATURE_KEYS[f] for f in FEATURE_KEYS if f not in enabled))
    assert wanted <= created
    assert not unwanted & created
    assert machine_tags()["facedetect:features"] == ",".join(sorted(enabled))
    definition = json.loads(boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=MACHINE_ARN)["definition"])
    assert ("Check Face Duplicate" in definition["States"]) is (DUPLICATES in enabled)

    # A plain `up` (no --with/--without) keeps them and has nothing to do; status sees them.
    again = make_app()
    assert again.features == enabled
    assert again.plan_up().changes == []
    rows = again.status()
    assert {row.state for row in rows} == {"present"}
    assert wanted <= {f"{row.kind}:{row.name}" for row in rows}
    assert set(again.resources_by_feature()) == enabled

    # down removes everything, the features' resources included, even without being told.
    plan = make_app().plan_down()
    keys = {s.resource.key for s in plan.steps}
    assert wanted <= keys and not unwanted & keys  # no "absent" lines for other features
    apply_ok(make_app(), plan)
    assert collections() == []
    assert functions() == set()


def test_switching_a_feature_off_removes_only_its_resources(make_app):
    apply_ok(make_app(with_features=(DUPLICATES, THUMBNAILS)))

    app = make_app(without_features=(DUPLICATES,))
    assert app.features == {THUMBNAILS}
    plan = app.plan_up()
    deletes = {s.resource.key for s in plan.steps if s.action == "delete"}
    updates = {s.resource.key: s.reason for s in plan.steps if s.action == "update"}
    assert deletes == FEATURE_KEYS[DUPLICATES]
    assert updates == {
        "role:" + role_name("StepFunctionExecutionRole"): "permissions policy differs",
        "state-machine:facedetect-FaceRecognitionWorkflow":
            "definition differs; features duplicates, thumbnails -> thumbnails",
    }
    order = []
    app.apply(plan, lambda event: order.append((event.step.resource.key, event.status)))
    # Nothing is deleted before the state machine stopped invoking it.
    finished = [key for key, status in order if status == "done"]
    machine = finished.index("state-machine:facedetect-FaceRecognitionWorkflow")
    assert all(finished.index(key) > machine for key in deletes)

    assert collections() == []
    assert functions() == {"facedetect-DetectFacesLambda", "facedetect-StoreMetadataLambda",
                           "facedetect-SendNotificationLambda",
                           "facedetect-CreateThumbnailLambda"}
    assert machine_tags()["facedetect:features"] == "thumbnails"
    later = make_app()
    assert later.features == {THUMBNAILS}
    assert later.plan_up().changes == []
    # --without a feature the stack does not have: nothing to do.
    assert make_app(without_features=(DUPLICATES,)).plan_up().changes == []


def test_command_line_remembers_confirms_and_keeps_data(invoke):
    with_dup = invoke("up", "--with", "duplicates", "--output", "json")
    assert with_dup.exit_code == 0, with_dup.stderr
    assert json_out(with_dup)["features"] == ["duplicates"]

    status = invoke("status", "--output", "json")
    assert status.exit_code == 0, status.stdout
    assert set(json_out(status)["features"]) == {"duplicates"}
    assert f"collection:{COLLECTION}" in json_out(status)["features"]["duplicates"]
    text = invoke("status")
    assert f"Features: duplicates (collection {COLLECTION}, " in text.stdout

    # The collection now holds faces: turning duplicates off deletes data, so it is confirmed.
    # (The emulator keeps a collection's faces as face id -> record.)
    rekognition_backends[ACCOUNT][REGION].facedetect_collections[COLLECTION]["faces"] = {
        f"face-{number}": {} for number in range(42)}
    refused = invoke("up", "--without", "duplicates")
    assert refused.exit_code == 2
    assert "holds 42 faces" in refused.stderr and "--yes" in refused.stderr
    assert collections() == [COLLECTION]

    # down --keep-data keeps the collection, like the bucket and the table.
    kept = invoke("down", "--yes", "--keep-data", "--output", "json")
    assert kept.exit_code == 0, kept.stderr
    actions = {(c["kind"], c["name"]): c["action"] for c in json_out(kept)["changes"]}
    assert actions[("collection", COLLECTION)] == "kept"
    assert collections() == [COLLECTION]
    back = invoke("up", "--with", "duplicates", "--output", "json")
    assert back.exit_code == 0, back.stderr

    gone = invoke("up", "--without", "duplicates", "--yes", "--output", "json")
    assert gone.exit_code == 0, gone.stderr
    assert json_out(gone)["features"] == []
    assert collections() == []

    bad = invoke("up", "--with", "mustaches")
    assert bad.exit_code == 2
    both = invoke("up", "--with", "thumbnails", "--without", "thumbnails")
    assert both.exit_code == 2
    assert "both --with and --without" in both.stderr


def test_thumbnail_function_follows_the_architecture(make_app, wheel_cache, monkeypatch):
    apply_ok(make_app(features=frozenset({THUMBNAILS}), architecture="x86_64"))
    lam = boto3.client("lambda")
    config = lam.get_function_configuration(FunctionName="facedetect-CreateThumbnailLambda")
    assert config["Architectures"] == ["x86_64"]
    x86 = make_app(features=frozenset({THUMBNAILS}), architecture="x86_64")
    x86_zip = x86.ctx.assets.handler_zip("create_thumbnail", "python3.13", "x86_64")
    assert config["CodeSha256"] == code_sha256(x86_zip)
    assert config["Environment"]["Variables"] == {"THUMBNAIL_PREFIX": "thumbnails/"}
    assert config["MemorySize"] == 1024

    arm = make_app(features=frozenset({THUMBNAILS}))
    steps = {s.resource.key: s for s in arm.plan_up().steps}
    step = steps["function:facedetect-CreateThumbnailLambda"]
    assert (step.action, step.reason) == ("update", "architecture is x86_64")
    arm_zip = arm.ctx.assets.handler_zip("create_thumbnail", "python3.13", "arm64")
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(arm_zip)).namelist()
    assert "PIL/_imaging.cp313-aarch64-linux-gnu.so" in names
    assert {"create_thumbnail.py", "pipeline_common.py"} <= set(names)

    # Without the package index, status still answers and says why the code is unchecked.
    def offline(*args, **kwargs):
        raise FacedetectError("cannot download pillow==13.0.0 for python3.13 on x86_64 from "
                              "the package index (the package index is unreachable)")

    monkeypatch.setattr(wheels, "handler_packages", offline)
    rows = {f"{r.kind}:{r.name}": r
            for r in make_app(features=frozenset({THUMBNAILS}), architecture="x86_64").status()}
    row = rows["function:facedetect-CreateThumbnailLambda"]
    assert row.state == "drifted"
    assert row.detail.startswith("code cannot be compared: cannot download pillow")


def test_feature_roles_have_least_privilege(make_app):
    apply_ok(make_app(features=frozenset({DUPLICATES, THUMBNAILS}), match_threshold=97.5))
    iam = boto3.client("iam")
    bucket = f"arn:aws:s3:::facedetect-images-{ACCOUNT}-{REGION}"

    def statements(role: str) -> dict[tuple[str, ...], list[str]]:
        document = iam.get_role_policy(RoleName=role, PolicyName="facedetect-least-privilege")[
            "PolicyDocument"]
        findings = analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == [], role
        return {tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],):
                s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                for s in document["Statement"]}

    check = statements(role_name("CheckFaceDuplicateRole"))
    assert check[("rekognition:SearchFacesByImage",)] == [COLLECTION_ARN]
    assert check[("s3:GetObject", "s3:GetObjectVersion")] == [f"{bucket}/uploads/*"]
    index = statements(role_name("AddFaceToIndexRole"))
    assert index[("rekognition:IndexFaces",)] == [COLLECTION_ARN]
    thumbnails = statements(role_name("CreateThumbnailRole"))
    assert thumbnails[("s3:PutObject",)] == [f"{bucket}/thumbnails/*"]
    assert not any(a.startswith("rekognition:") for actions in thumbnails for a in actions)
    machine = statements(role_name("StepFunctionExecutionRole"))
    invoked = machine[("lambda:InvokeFunction",)]
    assert len(invoked) == 6
    assert f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:facedetect-CreateThumbnailLambda" in (
        invoked)
    env = boto3.client("lambda").get_function_configuration(
        FunctionName="facedetect-CheckFaceDuplicateLambda")["Environment"]["Variables"]
    assert env == {"COLLECTION_ID": COLLECTION, "MATCH_THRESHOLD": "97.5"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"with_features": ("mustaches",)}, "unknown feature 'mustaches' for --with"),
    ({"with_features": ("duplicates",), "without_features": ("duplicates",)},
     "both --with and --without"),
    ({"match_threshold": 100.5}, "invalid match threshold"),
    ({"architecture": "mips"}, "invalid architecture"),
    ({"thumbnails_prefix": "uploads/thumbnails/"}, "may not overlap the uploads prefix"),
])
def test_bad_feature_settings_stop_before_any_call(settings, message):
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.errors import InputError

    with pytest.raises(InputError, match=message):
        StackConfig(**settings)
