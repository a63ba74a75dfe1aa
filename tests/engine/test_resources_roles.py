"""The five IAM roles as `up` leaves them, read back from moto: who may assume each, exactly what
each may do and on what, that no managed policy is attached; drift a user adds by hand is
shown and removed; and `down` removes a role even when a policy was attached after its plan."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import OneKind

from facedetect_cli.engine.plan import DELETE, UNCHANGED, UPDATE

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = f"facedetect-images-{ACCOUNT}-{REGION}"
INLINE = "facedetect-least-privilege"




def fn_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:facedetect-{name}"


def own_logs(name: str) -> dict:
    # Instead of AWSLambdaBasicExecutionRole (logs:* on every group): its own group only.
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/facedetect-{name}:*"
    return {("logs:CreateLogStream", "logs:PutLogEvents"): (group,)}


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:facedetect-{name}"


STATE_MACHINE_ARN = (
    f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
)

# role -> (service that may assume it, SourceAccount condition?, {(actions): (resources)})
EXPECTED = {
    "facedetect-DetectFacesRole-eu-central-1": ("lambda.amazonaws.com", False, {
        ("rekognition:DetectFaces",): ("*",),
        ("s3:GetObject", "s3:GetObjectVersion"): (f"arn:aws:s3:::{BUCKET}/uploads/*",),
        **own_logs("DetectFacesLambda"),
    }),
    "facedetect-StoreMetadataRole-eu-central-1": ("lambda.amazonaws.com", False, {
        ("dynamodb:PutItem",): (
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/facedetect-FaceMetadataTable",),
        **own_logs("StoreMetadataLambda"),
    }),
    "facedetect-SendNotificationRole-eu-central-1": ("lambda.amazonaws.com", False, {
        ("sns:Publish",): (topic_arn("FaceDetectionResults"),),
        **own_logs("SendNotificationLambda"),
    }),
    "facedetect-StepFunctionExecutionRole-eu-central-1": ("states.amazonaws.com", True, {
        ("lambda:InvokeFunction",): tuple(sorted(fn_arn(n) for n in (
            "DetectFacesLambda", "StoreMetadataLambda", "SendNotificationLambda"))),
        ("sns:Publish",): (topic_arn("ImageProcessingFailures"),),
        # Log delivery for the state machine's own logs: these actions take no resource ARN.
        tuple(sorted(["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                      "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
                      "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                      "logs:DescribeLogGroups"])): ("*",),
    }),
    "facedetect-EventBridgeExecutionRole-eu-central-1": ("events.amazonaws.com", True, {
        ("states:StartExecution",): (STATE_MACHINE_ARN,),
    }),
}


# The names a user sees: the stack, its region (IAM names are the account's, in every
# region), and the tutorial's role name.
DETECT, STORE, NOTIFY, MACHINE, EVENTS = EXPECTED


def as_tuple(value) -> tuple[str, ...]:
    return tuple(sorted([value] if isinstance(value, str) else value))


def apply_plan(app, plan):
    outcomes = app.apply(plan)
    failed = [(o.step.resource.key, o.error) for o in outcomes if o.error is not None]
    assert failed == []
    return outcomes




@pytest.fixture
def roles_only(app):
    stack = OneKind(app, "role")
    apply_plan(stack, stack.plan_up())
    return stack


def role_steps(plan) -> dict[str, object]:
    return {s.resource.name: s for s in plan.steps if s.resource.kind == "role"}


def attached(iam, role: str) -> list[str]:
    return sorted(p["PolicyArn"]
                  for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])


def user_policy(iam) -> str:
    return iam.create_policy(PolicyName="users-extra", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }))["Policy"]["Arn"]


EXTRA_INLINE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]})


def test_each_role_may_do_exactly_what_its_step_needs(app):
    apply_plan(app, app.plan_up())
    iam = boto3.client("iam")
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} == set(EXPECTED)

    for role, (service, source_account, permissions) in EXPECTED.items():
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        assert statement["Effect"] == "Allow", role
        assert statement["Principal"] == {"Service": service}, role
        assert statement["Action"] == "sts:AssumeRole", role
        if source_account:  # confused-deputy guard for services acting for a resource
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        else:
            assert "Condition" not in statement, role

        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [INLINE], role
        document = iam.get_role_policy(RoleName=role, PolicyName=INLINE)["PolicyDocument"]
        assert all(s["Effect"] == "Allow" for s in document["Statement"]), role
        found = {as_tuple(s["Action"]): as_tuple(s["Resource"]) for s in document["Statement"]}
        assert found == permissions, role

        assert attached(iam, role) == [], role


def test_policies_added_by_hand_show_as_drift_and_up_removes_them(roles_only, invoke):
    app = roles_only
    iam = boto3.client("iam")
    extra = user_policy(iam)
    iam.attach_role_policy(RoleName=DETECT, PolicyArn=extra)
    iam.put_role_policy(RoleName=STORE, PolicyName="users-inline",
                        PolicyDocument=EXTRA_INLINE)

    status = invoke("status", "--output", "json")  # the whole stack: only the roles exist
    assert status.exit_code == 3
    rows = {r["name"]: r for r in json.loads(status.stdout)["resources"] if r["kind"] == "role"}
    assert rows[DETECT]["state"] == "drifted"
    assert rows[DETECT]["detail"] == "attached managed policies differ"
    assert rows[STORE]["state"] == "drifted"
    assert rows[STORE]["detail"] == "extra inline policies: users-inline"
    assert {n for n, r in rows.items() if r["state"] == "present"} == set(EXPECTED) - {
        DETECT, STORE}

    plan = app.plan_up()
    updates = {s.resource.name: s.reason for s in plan.changes}
    assert updates == {
        DETECT: "attached managed policies differ",
        STORE: "extra inline policies: users-inline",
    }
    assert {s.action for s in plan.changes} == {UPDATE}
    apply_plan(app, plan)

    assert attached(iam, DETECT) == []
    assert iam.list_role_policies(RoleName=STORE)["PolicyNames"] == [
        INLINE]
    # Detached, not deleted: the user's managed policy is not the stack's to remove.
    assert iam.get_policy(PolicyArn=extra)["Policy"]["AttachmentCount"] == 0
    assert {s.action for s in role_steps(app.plan_up()).values()} == {UNCHANGED}


def test_down_removes_a_role_that_got_a_policy_after_the_plan(roles_only):
    app = roles_only
    iam = boto3.client("iam")
    plan = app.plan_down()
    assert {s.action for s in role_steps(plan).values()} == {DELETE}

    # Between the plan's read and the delete, someone attaches policies: DeleteRole meets
    # DeleteConflict, and the role is read afresh and emptied.
    extra = user_policy(iam)
    iam.attach_role_policy(RoleName=MACHINE, PolicyArn=extra)
    iam.put_role_policy(RoleName=EVENTS,
                        PolicyName="users-inline", PolicyDocument=EXTRA_INLINE)
    iam.attach_role_policy(RoleName=NOTIFY, PolicyArn=extra)
    with pytest.raises(iam.exceptions.DeleteConflictException):  # moto enforces it like AWS
        iam.delete_role(RoleName=MACHINE)

    before = app.aws.counter.by_operation()
    outcomes = apply_plan(app, plan)
    after = app.aws.counter.by_operation()
    assert {o.status for o in outcomes if o.step.resource.kind == "role"} == {"done"}
    # Five roles, three of them retried once after a DeleteConflict.
    assert after["iam:DeleteRole"] - before.get("iam:DeleteRole", 0) == 5 + 3
    assert iam.list_roles()["Roles"] == []
    assert iam.get_policy(PolicyArn=extra)["Policy"]["AttachmentCount"] == 0
