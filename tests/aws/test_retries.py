"""AWS's real timing (issue 4). moto has no IAM propagation delay, no Pending functions and no
StateMachineDeleting, so these tests inject the real error codes and messages through the
client hook, with a recording sleep, and assert the retries and their bound."""

from __future__ import annotations

import os
import signal

import boto3
import pytest
from conftest import EMAIL

from facedetect_cli.aws.hooks import InjectedFault
from facedetect_cli.aws.retry import PROPAGATION
from facedetect_cli.engine.app import is_healthy

ROLE_NOT_READY = InjectedFault(
    "InvalidParameterValueException",
    "The role defined for the function cannot be assumed by Lambda.",
)
SFN_ROLE_NOT_READY = InjectedFault(
    "AccessDeniedException",
    "Neither the global service principal states.amazonaws.com, nor the regional one is "
    "authorized to assume the provided role.",
)


def failing(operation: str, fault: InjectedFault, times: int, calls: list[str] | None = None):
    state = {"left": times}

    def rule(service, op, params):
        if op != operation:
            return None
        if calls is not None:
            calls.append(op)
        if state["left"] > 0:
            state["left"] -= 1
            return fault
        return None

    return rule


def test_propagation_is_polled_often_and_bounded():
    waits = PROPAGATION.waits()
    # The wait ends within about a second of the role becoming usable: never a long interval
    # (a doubling one reached 10 s and overshot by nearly as much).
    assert max(waits) <= 0.5
    assert 100 <= sum(waits) <= 120  # "about two minutes", as terraform-provider-aws waits


def test_create_function_retries_while_the_new_role_propagates(make_app, sleeps):
    calls: list[str] = []
    app = make_app(fault_rules=[failing("CreateFunction", ROLE_NOT_READY, 3, calls)])
    outcomes = app.apply(app.plan_up())
    assert all(o.error is None for o in outcomes)
    # Three functions; the first three attempts (whichever functions) failed and were retried.
    assert len(calls) == 6
    assert sleeps == [0.5, 0.5, 0.5]
    assert len(boto3.client("lambda").list_functions()["Functions"]) == 3


def test_role_propagation_retries_give_up_after_about_two_minutes(make_app, sleeps):
    app = make_app(fault_rules=[failing("CreateFunction", ROLE_NOT_READY, 10**6)])
    outcomes = app.apply(app.plan_up())
    failed = [o for o in outcomes if o.error is not None]
    assert {o.step.resource.kind for o in failed} == {"function"}
    assert "cannot be assumed by Lambda" in str(failed[0].error)
    # Three functions retried concurrently, each within its own budget of about two minutes.
    assert max(sleeps) <= 0.5
    assert 3 * 100 <= sum(sleeps) <= 3 * 120
    # The state machine and the rule depend on the functions: not attempted.
    skipped = {o.step.resource.kind for o in outcomes if o.status == "skipped"}
    assert skipped == {"state-machine", "rule"}


def test_other_invalid_parameter_errors_are_not_retried(make_app, sleeps):
    calls: list[str] = []
    fault = InjectedFault("InvalidParameterValueException", "Unzipped size must be smaller")
    app = make_app(fault_rules=[failing("CreateFunction", fault, 10**6, calls)])
    app.apply(app.plan_up())
    assert len(calls) == 3  # one attempt per function
    assert sleeps == []


def test_state_machine_retries_role_propagation_and_state_machine_deleting(make_app, sleeps):
    calls: list[str] = []
    deleting = InjectedFault("StateMachineDeleting", "State machine is being deleted")
    app = make_app(fault_rules=[
        failing("CreateStateMachine", SFN_ROLE_NOT_READY, 2, calls),
    ])
    app.apply(app.plan_up())
    assert len(calls) == 3 and len(sleeps) == 2
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"]

    app.apply(app.plan_down())
    sleeps.clear()
    calls.clear()
    app = make_app(fault_rules=[failing("CreateStateMachine", deleting, 2, calls)])
    outcomes = app.apply(app.plan_up())
    assert all(o.error is None for o in outcomes)
    assert len(calls) == 3 and len(sleeps) == 2


def test_update_waits_out_an_update_in_progress(make_app, sleeps, tmp_path):
    app = make_app()
    app.apply(app.plan_up())
    boto3.client("lambda").update_function_configuration(
        FunctionName="facedetect-DetectFacesLambda", Timeout=3)
    calls: list[str] = []
    conflict = InjectedFault("ResourceConflictException",
                             "The operation cannot be performed at this time. An update is in "
                             "progress for resource", 409)
    app = make_app(fault_rules=[failing("UpdateFunctionConfiguration", conflict, 2, calls)])
    outcomes = app.apply(app.plan_up())
    assert [o.step.resource.name for o in outcomes if o.status == "done"] == [
        "facedetect-DetectFacesLambda"]
    assert len(calls) == 3 and len(sleeps) == 2
    config = boto3.client("lambda").get_function_configuration(
        FunctionName="facedetect-DetectFacesLambda")
    assert config["Timeout"] == 30


def test_clients_use_standard_retry_mode(app):
    for service in ("s3", "lambda", "iam", "stepfunctions"):
        retries = app.aws.client(service).raw.meta.config.retries
        assert retries["mode"] == "standard"


def test_throttling_is_absorbed_by_botocore_standard_retries(app):
    """A throttled call is retried by botocore itself (standard mode), below our hook."""
    from botocore.awsrequest import AWSResponse

    class Body:
        def stream(self, **_):
            yield b'{"__type":"ThrottlingException","message":"Rate exceeded"}'

    sent: list[int] = []

    def throttle_twice(request, **_):
        sent.append(1)
        if len(sent) <= 2:
            return AWSResponse(request.url, 400, {}, Body())
        return None

    dynamodb = app.aws.client("dynamodb")
    dynamodb.raw.meta.events.register("before-send.dynamodb.ListTables", throttle_twice)
    assert dynamodb.list_tables()["TableNames"] == []
    assert len(sent) == 3
    assert app.aws.counter.by_operation()["dynamodb:ListTables"] == 1  # one call, 3 attempts


def ctrl_c_at(operation: str, name_suffix: str = ""):
    """A hook that presses Ctrl-C once, when the first matching call goes out: the signal
    reaches the main thread as the terminal's does, while worker threads are mid-call."""
    pressed: list[bool] = []

    def interrupt(service, op, params):
        name = str(params.get("FunctionName", params.get("RoleName", "")))
        if op == operation and name.endswith(name_suffix) and not pressed:
            pressed.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return None

    return interrupt


def test_ctrl_c_during_up_stops_cleanly_and_the_next_run_resumes(invoke):
    interrupt = ctrl_c_at("CreateFunction", "DetectFacesLambda")

    stopped = invoke("up", "--email", EMAIL, fault_rules=[interrupt])
    assert stopped.exit_code == 130
    assert "interrupted" in stopped.stderr and "Traceback" not in stopped.stderr
    # What was in flight finished: the function whose call was interrupted exists.
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    assert "facedetect-DetectFacesLambda" in names
    assert not boto3.client("events").list_rules()["Rules"]  # nothing after it started

    resumed = invoke("up", "--email", EMAIL, fault_rules=[])
    assert resumed.exit_code == 0, resumed.stderr
    assert invoke("status").exit_code == 0


@pytest.mark.parametrize("operation", ["DeleteFunction", "DeleteRole"])
def test_ctrl_c_during_down_stops_cleanly_and_the_next_run_resumes(invoke, operation):
    assert invoke("up").exit_code == 0
    interrupt = ctrl_c_at(operation)
    stopped = invoke("down", "--yes", fault_rules=[interrupt])
    assert stopped.exit_code == 130
    assert "interrupted" in stopped.stderr
    resumed = invoke("down", "--yes", fault_rules=[])
    assert resumed.exit_code == 0, resumed.stderr
    assert boto3.client("iam").list_roles()["Roles"] == []
    assert boto3.client("lambda").list_functions()["Functions"] == []


def test_status_after_interrupted_up_is_not_healthy(make_app, invoke):
    interrupt = ctrl_c_at("CreateRole")
    assert invoke("up", fault_rules=[interrupt]).exit_code == 130
    assert not is_healthy(make_app().status())
