"""Stacks deployed by earlier versions, whose roles have no region in their name
(`facedetect-DetectFacesRole`): each region's `up` moves its own functions, state machine and
rule to the roles that name the region and then removes its old roles, its `down` removes them,
`status` shows them, and an old role serving another region is left to that region."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, REGION

from facedetect_cli.engine import app as app_module
from facedetect_cli.engine.app import DRIFTED, MISSING, PRESENT, is_healthy
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.naming import ROLE_PURPOSES, Names
from facedetect_cli.engine.resources.legacy_role import regions_named

OTHER = "us-east-1"
BASE_ROLES = ("DetectFacesRole", "StoreMetadataRole", "SendNotificationRole",
              "StepFunctionExecutionRole", "EventBridgeExecutionRole")


def names(region: str = REGION) -> Names:
    return Names(StackConfig(stack="facedetect"), ACCOUNT, region)


def apply_ok(app: Any, plan: Any) -> list[Any]:
    outcomes = app.apply(plan)
    assert [str(o.error) for o in outcomes if o.error is not None] == []
    return outcomes


def up_as_earlier_versions(make_app: Any, monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    """`up` as versions before the region went into role names did it: the same code with
    the old role names (and nothing that knows about them)."""
    with monkeypatch.context() as patch:
        patch.setattr(Names, "role", Names.legacy_role)
        patch.setattr(app_module, "legacy_roles", lambda names: [])
        app = make_app(region=region)
        apply_ok(app, app.plan_up())


def roles_in_account() -> set[str]:
    return {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}


def wiring(region: str) -> dict[str, str]:
    """Which role each function, the state machine and the rule of `region` use."""
    n = names(region)
    lam = boto3.client("lambda", region_name=region)
    found = {module: lam.get_function_configuration(FunctionName=n.function(module))["Role"]
             for module in ("detect_faces", "store_metadata", "send_notification")}
    found["machine"] = boto3.client("stepfunctions", region_name=region).describe_state_machine(
        stateMachineArn=n.state_machine_arn)["roleArn"]
    (target,) = boto3.client("events", region_name=region).list_targets_by_rule(
        Rule=n.rule)["Targets"]
    found["rule"] = target["RoleArn"]
    return {k: v.rsplit("/", 1)[1] for k, v in found.items()}


def new_wiring(region: str) -> dict[str, str]:
    n = names(region)
    return {**{m: n.function_role(m) for m in ("detect_faces", "store_metadata",
                                                "send_notification")},
            "machine": n.state_machine_role, "rule": n.events_role}


def test_up_moves_the_regions_functions_to_new_roles_then_removes_the_old_ones(
        make_app, monkeypatch):
    up_as_earlier_versions(make_app, monkeypatch, REGION)
    legacy = {names().legacy_role(p) for p in BASE_ROLES}
    assert roles_in_account() == legacy

    app = make_app()
    rows = {row.name: row for row in app.status() if row.kind == "role"}
    assert not is_healthy(app.status())
    for role in legacy:
        assert rows[role].state == DRIFTED
        assert "role of an earlier version" in rows[role].detail
    assert {rows[names().role(p)].state for p in BASE_ROLES} == {MISSING}

    plan = app.plan_up()
    deletes = {s.resource.name: s.reason for s in plan.changes if s.action == "delete"}
    assert sorted(deletes) == sorted(legacy)  # only the roles that exist
    assert deletes["facedetect-DetectFacesRole"] == (
        "an earlier version's name for facedetect-DetectFacesRole-eu-central-1")
    order: list[str] = []
    app.apply(plan, lambda event: order.append(f"{event.status} {event.step.resource.name}"))
    # Deleted only once everything uses the new roles.
    first_delete = min(order.index(f"started {role}") for role in legacy)
    uses = ("DetectFacesLambda", "StoreMetadataLambda", "SendNotificationLambda",
            "FaceRecognitionWorkflow", "FaceDetectionTrigger")
    assert all(order.index(f"done facedetect-{u}") < first_delete for u in uses)

    assert wiring(REGION) == new_wiring(REGION)
    assert roles_in_account() == {names().role(p) for p in BASE_ROLES}
    again = make_app()
    assert is_healthy(again.status())
    assert again.plan_up().changes == []


def test_an_old_role_serving_another_region_is_left_to_that_region(make_app, monkeypatch):
    # Earlier versions in two regions of one account: the second `up` took the roles over
    # and rewrote their policies for its own resources (the bug this replaces).
    up_as_earlier_versions(make_app, monkeypatch, REGION)
    up_as_earlier_versions(make_app, monkeypatch, OTHER)
    legacy = {names().legacy_role(p): p for p in BASE_ROLES}
    iam = boto3.client("iam")

    def policies() -> dict[str, Any]:
        return {role: iam.get_role_policy(RoleName=role, PolicyName="facedetect-least-privilege")
                ["PolicyDocument"] for role in legacy}

    before = policies()
    assert {tuple(regions_named(d, names())) for d in before.values()} == {(OTHER,)}

    # This region's `up` moves its functions to its own roles; the old ones stay, unchanged.
    app = make_app()
    apply_ok(app, app.plan_up())
    assert wiring(REGION) == new_wiring(REGION)
    assert wiring(OTHER) == {k: v.removesuffix(f"-{OTHER}")  # still the old roles
                             for k, v in new_wiring(OTHER).items()}
    assert policies() == before
    rows = {row.name: row for row in make_app().status() if row.kind == "role"}
    for role in legacy:
        assert rows[role].state == PRESENT
        assert rows[role].detail.startswith(f"role of an earlier version serving {OTHER}")
    assert is_healthy(make_app().status())

    # This region's `down` leaves them too, and the other region's stack works on.
    down = make_app()
    apply_ok(down, down.plan_down())
    assert roles_in_account() == set(legacy)
    assert policies() == before

    # The other region's `down` removes them: nothing of the stack is left in the account.
    other = make_app(region=OTHER)
    plan = other.plan_down()
    assert {s.resource.name for s in plan.steps if s.resource.kind == "role"
            and s.action == "delete"} == set(legacy)
    apply_ok(other, plan)
    assert roles_in_account() == set()


def test_the_region_of_an_old_role_comes_from_its_policy():
    n = names()
    bucket = f"arn:aws:s3:::{n.bucket}/uploads/*"
    # The earliest DetectFaces policy: only S3 and "*"; the bucket's name carries the region.
    oldest = {"Statement": [{"Action": "rekognition:DetectFaces", "Resource": "*"},
                            {"Action": "s3:GetObject", "Resource": bucket}]}
    assert regions_named(oldest, n) == {REGION}
    machine = {"Statement": {"Action": "lambda:InvokeFunction",
                             "Resource": [names(OTHER).function_arn("detect_faces")]}}
    assert regions_named(json.loads(json.dumps(machine)), n) == {OTHER}
    assert regions_named(None, n) == set()  # never written: an `up` stopped before its policy
    assert len(ROLE_PURPOSES) == 8
