"""The stack's log groups, read back from moto: `up` makes each function's group before the
function, with a retention period and the stack's tag; the state machine logs errors to its
own group; a group Lambda made by itself for one of the stack's functions is taken over;
anything else with one of the names is someone else's; `down` deletes only the stack's own."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from conftest import ACCOUNT, REGION, json_out, role_name

from facedetect_cli.engine.plan import CREATE, DELETE, FOREIGN, UPDATE, plan_down, plan_up

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

FUNCTIONS = ("DetectFacesLambda", "StoreMetadataLambda", "SendNotificationLambda")
FUNCTION_GROUPS = [f"/aws/lambda/facedetect-{f}" for f in FUNCTIONS]
MACHINE_GROUP = "/aws/vendedlogs/states/facedetect-FaceRecognitionWorkflow"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
TAGS = {"facedetect:stack": "facedetect"}
LOG_DELIVERY = sorted([
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"])




def group_arn(group: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"


def groups() -> dict[str, dict]:
    """Every log group in the account: its retention and tags."""
    logs = boto3.client("logs")
    return {
        g["logGroupName"]: {
            "retention": g.get("retentionInDays"),
            "tags": logs.list_tags_for_resource(resourceArn=group_arn(g["logGroupName"]))["tags"],
        }
        for g in logs.describe_log_groups()["logGroups"]
    }


def rows(result) -> dict[str, dict]:
    return {r["name"]: r for r in json_out(result)["resources"] if r["kind"] == "log-group"}


def test_up_makes_the_log_groups_and_down_removes_them(invoke):
    up = invoke("up", "--log-retention-days", "14", "--output", "json")
    assert up.exit_code == 0, up.stderr
    created = [c["name"] for c in json_out(up)["changes"] if c["kind"] == "log-group"]
    assert created == [*FUNCTION_GROUPS, MACHINE_GROUP]
    assert groups() == {g: {"retention": 14, "tags": TAGS} for g in created}

    # Each function writes its own group and nothing else; no managed policy is attached.
    iam = boto3.client("iam")
    for function, role in zip(FUNCTIONS, ("DetectFacesRole", "StoreMetadataRole",
                                          "SendNotificationRole"), strict=True):
        role = role_name(role)
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        document = iam.get_role_policy(RoleName=role, PolicyName="facedetect-least-privilege")
        logs_statements = [s for s in document["PolicyDocument"]["Statement"]
                           if any(a.startswith("logs:") for a in s["Action"])]
        assert logs_statements == [{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{group_arn('/aws/lambda/facedetect-' + function)}:*"]}]
    machine_policy = iam.get_role_policy(RoleName=role_name("StepFunctionExecutionRole"),
                                         PolicyName="facedetect-least-privilege")
    assert {"Effect": "Allow", "Action": LOG_DELIVERY, "Resource": ["*"]} in machine_policy[
        "PolicyDocument"]["Statement"]

    # The state machine logs errors only, without execution data, to its own group.
    sfn = boto3.client("stepfunctions")
    logging = sfn.describe_state_machine(stateMachineArn=MACHINE_ARN)["loggingConfiguration"]
    assert logging == {"level": "ERROR", "includeExecutionData": False, "destinations": [
        {"cloudWatchLogsLogGroup": {"logGroupArn": f"{group_arn(MACHINE_GROUP)}:*"}}]}

    # status accepts any retention unless told which one it should be.
    status = invoke("status", "--output", "json")
    assert status.exit_code == 0
    assert {r["state"] for r in rows(status).values()} == {"present"}
    assert rows(status)[MACHINE_GROUP]["detail"] == "logs kept 14 days"
    strict = invoke("status", "--log-retention-days", "30", "--output", "json")
    assert strict.exit_code == 3
    assert {r["detail"] for r in rows(strict).values()} == {"logs kept 14 days, not 30"}

    # Drift: logging turned up by hand; an `up` without the option restores 30 days.
    sfn.update_state_machine(stateMachineArn=MACHINE_ARN, loggingConfiguration={
        "level": "ALL", "includeExecutionData": True, "destinations": logging["destinations"]})
    drifted = invoke("status", "--output", "json")
    assert drifted.exit_code == 3
    machine = [r for r in json_out(drifted)["resources"] if r["kind"] == "state-machine"]
    assert machine[0]["detail"] == "logging level is ALL, not ERROR"
    repair = invoke("up", "--output", "json")
    assert repair.exit_code == 0, repair.stderr
    updated = {c["name"]: c["reason"] for c in json_out(repair)["changes"]
               if c["action"] == "updated"}
    assert updated == {**{g: "logs kept 14 days, not 30" for g in created},
                       "facedetect-FaceRecognitionWorkflow": "logging level is ALL, not ERROR"}
    assert {g["retention"] for g in groups().values()} == {30}
    assert sfn.describe_state_machine(stateMachineArn=MACHINE_ARN)[
        "loggingConfiguration"] == logging

    down = invoke("down", "--yes", "--output", "json")
    assert down.exit_code == 0, down.stderr
    assert groups() == {}


@pytest.mark.parametrize("days", ["10", "0", "4000"])
def test_a_retention_cloudwatch_does_not_accept_is_a_usage_error(invoke, monkeypatch, days):
    from_option = invoke("up", "--log-retention-days", days)
    monkeypatch.setenv("FACEDETECT_LOG_RETENTION_DAYS", days)
    from_env = invoke("up")
    for result in (from_option, from_env):
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith(f"error: invalid log retention {days} days: CloudWatch ")
        assert "Traceback" not in result.stdout + result.stderr
    assert groups() == {}


def log_groups_only(app) -> list:
    return [r for r in app.resources if r.kind == "log-group"]


def make_function(name: str, tags: dict[str, str] | None = None) -> None:
    iam = boto3.client("iam")
    try:
        role = iam.get_role(RoleName="users-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="users-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18}, Tags=tags or {})


def test_a_group_lambda_made_for_a_stack_function_is_taken_over_and_nothing_else(app):
    logs = boto3.client("logs")
    # What Lambda leaves after an invocation of one of the stack's own functions before `up`
    # managed groups: untagged, kept forever.
    make_function("facedetect-DetectFacesLambda", TAGS)
    logs.create_log_group(logGroupName=FUNCTION_GROUPS[0])
    # Look-alikes that are not the stack's: the state machine's name untagged (Step Functions
    # never makes groups by itself), a name the stack does not derive, another stack's function.
    for name in (MACHINE_GROUP, "/aws/lambda/facedetect-DetectFacesLambdaOld",
                 "/aws/lambda/other-DetectFacesLambda"):
        logs.create_log_group(logGroupName=name)

    resources = log_groups_only(app)
    plan = plan_up(resources, app.ctx)
    steps = {s.resource.name: s for s in plan.steps}
    assert steps[FUNCTION_GROUPS[0]].action == UPDATE
    assert steps[FUNCTION_GROUPS[0]].reason == (
        "created by Lambda, not yet managed; logs never expire, not 30")
    assert steps[MACHINE_GROUP].action == FOREIGN
    assert {steps[g].action for g in FUNCTION_GROUPS[1:]} == {CREATE}
    assert [o.error for o in app.apply(plan) if o.error] == []

    found = groups()
    assert found[FUNCTION_GROUPS[0]] == {"retention": 30, "tags": TAGS}
    untouched = {"retention": None, "tags": {}}
    for name in (MACHINE_GROUP, "/aws/lambda/facedetect-DetectFacesLambdaOld",
                 "/aws/lambda/other-DetectFacesLambda"):
        assert found[name] == untouched, name

    down = plan_down(resources, app.ctx)
    assert {s.resource.name: s.action for s in down.steps} == {
        **{g: DELETE for g in FUNCTION_GROUPS}, MACHINE_GROUP: FOREIGN}
    assert [o.error for o in app.apply(down) if o.error] == []
    assert groups() == {name: untouched for name in (
        MACHINE_GROUP, "/aws/lambda/facedetect-DetectFacesLambdaOld",
        "/aws/lambda/other-DetectFacesLambda")}


def test_an_untagged_group_of_someone_elses_function_is_not_taken_over(app):
    # A function with the stack's name but not its tag, and the group Lambda made for it.
    make_function("facedetect-DetectFacesLambda")
    boto3.client("logs").create_log_group(logGroupName=FUNCTION_GROUPS[0])

    group = next(r for r in log_groups_only(app) if r.name == FUNCTION_GROUPS[0])
    observed = group.read(app.ctx)
    assert observed is not None and observed.owned is False


def test_an_untagged_group_without_its_function_is_someone_elses_for_down_and_up(invoke):
    """An account where the stack was never deployed: a group named like one of its
    functions', untagged, events and all. Nothing says it is the stack's."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=FUNCTION_GROUPS[2])
    logs.create_log_stream(logGroupName=FUNCTION_GROUPS[2], logStreamName="s")
    logs.put_log_events(logGroupName=FUNCTION_GROUPS[2], logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "theirs"}])

    down = invoke("down", "--yes", "--output", "json")
    assert down.exit_code == 0, down.stderr
    assert {c["action"] for c in json_out(down)["changes"]
            if c["name"] == FUNCTION_GROUPS[2]} == {"foreign"}
    refused = invoke("up")
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: refusing to take over log-group {FUNCTION_GROUPS[2]}")
    assert groups() == {FUNCTION_GROUPS[2]: {"retention": None, "tags": {}}}
    events = logs.get_log_events(logGroupName=FUNCTION_GROUPS[2], logStreamName="s",
                                 startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["theirs"]


def test_a_look_alike_with_other_tags_is_refused_reported_and_left_alone(invoke):
    logs = boto3.client("logs")
    name = FUNCTION_GROUPS[1]
    logs.create_log_group(logGroupName=name, tags={"facedetect:stack": "other"})
    logs.put_retention_policy(logGroupName=name, retentionInDays=7)
    before = groups()

    refused = invoke("up")
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: refusing to take over log-group {name}")
    assert groups() == before

    status = invoke("status", "--output", "json")
    assert status.exit_code == 3
    assert rows(status)[name]["state"] == "foreign"

    down = invoke("down", "--yes", "--output", "json")
    assert down.exit_code == 0, down.stderr
    assert {(c["name"], c["action"]) for c in json_out(down)["changes"]
            if c["kind"] == "log-group"} >= {(name, "foreign")}
    assert groups() == before


def test_the_state_machine_waits_for_its_log_delivery_permissions(make_app, sleeps):
    """Right after the role's policy is put, Step Functions may not see it yet and refuses
    the log destination: retried like IAM propagation, not reported as a failure."""
    from facedetect_cli.aws.hooks import InjectedFault

    refusals = []

    def not_yet(service: str, operation: str, params: dict) -> InjectedFault | None:
        if operation == "CreateStateMachine" and len(refusals) < 2:
            refusals.append(operation)
            return InjectedFault("AccessDeniedException", "The state machine IAM Role is not "
                                 "authorized to access the Log Destination")
        return None

    app = make_app(fault_rules=[not_yet])
    resources = [r for r in app.resources
                 if r.key in ("role:" + role_name("StepFunctionExecutionRole"),
                              f"log-group:{MACHINE_GROUP}",
                              "state-machine:facedetect-FaceRecognitionWorkflow")]
    outcomes = app.apply(plan_up(resources, app.ctx))
    assert [o.error for o in outcomes if o.error] == []
    assert len(refusals) == 2 and len(sleeps) == 2
    described = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=MACHINE_ARN)
    assert described["loggingConfiguration"]["level"] == "ERROR"
