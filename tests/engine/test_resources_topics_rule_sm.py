"""SNS subscriptions across repeated `up`s, the EventBridge rule's pattern and target, and the
state machine's definition, each read back from moto."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from conftest import role_name
from moto.events.models import EventPattern

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = f"facedetect-images-{ACCOUNT}-{REGION}"
TOPICS = {
    name: f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    for name in ("facedetect-FaceDetectionResults", "facedetect-ImageProcessingFailures")
}
STATE_MACHINE_ARN = (
    f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
)
# The shared S3 "Object Created" fixture, as the handler tests keep it in the repository.
FIXTURE_EVENT = (Path(__file__).parents[1] / "handlers" / "fixtures"
                 / "s3-object-created.eventbridge.json")
LAMBDA_TRANSIENT = {"Lambda.ServiceException", "Lambda.AWSLambdaException",
                    "Lambda.SdkClientException", "Lambda.ClientExecutionTimeoutException",
                    "Lambda.TooManyRequestsException"}




def fn_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:facedetect-{name}"


def apply_plan(app, plan):
    outcomes = app.apply(plan)
    failed = [(o.step.resource.key, o.error) for o in outcomes if o.error is not None]
    assert failed == []
    return outcomes


def endpoints(sns, topic_arn: str) -> list[str]:
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert {s["Protocol"] for s in subscriptions} <= {"email"}
    return sorted(s["Endpoint"] for s in subscriptions)


def up_json(invoke, *emails: str) -> dict:
    args = [arg for email in emails for arg in ("--email", email)]
    result = invoke("up", *args, "--output", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def subscription_changes(doc: dict) -> list[tuple[str, str]]:
    return sorted((c["name"], c["action"]) for c in doc["changes"]
                  if c["kind"] == "subscription")


# --- subscriptions ---------------------------------------------------------------------------
def test_subscriptions_are_never_doubled_and_existing_ones_are_kept(invoke):
    sns = boto3.client("sns")
    first = up_json(invoke, "dev@example.com")
    assert subscription_changes(first) == [("dev@example.com", "created")] * 2
    for arn in TOPICS.values():  # both topics get the address
        assert endpoints(sns, arn) == ["dev@example.com"]

    again = up_json(invoke, "dev@example.com", "dev@example.com")  # and named twice in one run
    assert subscription_changes(again) == [("dev@example.com", "unchanged")] * 2
    assert again["api_calls"]["writes"] == 0
    for arn in TOPICS.values():
        assert endpoints(sns, arn) == ["dev@example.com"]

    second = up_json(invoke, "dev@example.com", "ops@example.com")
    assert subscription_changes(second) == (
        [("dev@example.com", "unchanged")] * 2 + [("ops@example.com", "created")] * 2)
    for arn in TOPICS.values():
        assert endpoints(sns, arn) == ["dev@example.com", "ops@example.com"]

    # Someone subscribes another address by hand; `up` for dev@ alone keeps it (and ops@).
    results = TOPICS["facedetect-FaceDetectionResults"]
    sns.subscribe(TopicArn=results, Protocol="email", Endpoint="boss@example.com")
    kept = up_json(invoke, "dev@example.com")
    assert {a for _, a in subscription_changes(kept)} == {"unchanged"}
    assert ("boss@example.com", "unchanged") in subscription_changes(kept)
    assert endpoints(sns, results) == ["boss@example.com", "dev@example.com", "ops@example.com"]
    assert endpoints(sns, TOPICS["facedetect-ImageProcessingFailures"]) == [
        "dev@example.com", "ops@example.com"]

    status = invoke("status", "--output", "json")
    assert status.exit_code == 0, status.stdout
    rows = [r for r in json.loads(status.stdout)["resources"] if r["kind"] == "subscription"]
    boss = [r for r in rows if r["name"] == "boss@example.com"]
    assert len(boss) == 1
    assert boss[0]["state"] == "present"
    # moto confirms e-mail subscriptions at once; on AWS this row would say "pending
    # confirmation" until the link in the e-mail is clicked.
    assert boss[0]["arn"].startswith(results + ":")
    assert boss[0]["detail"] == "to facedetect-FaceDetectionResults, confirmed"
    assert sorted(r["name"] for r in rows) == sorted(
        ["boss@example.com"] + ["dev@example.com", "ops@example.com"] * 2)


# --- rule ------------------------------------------------------------------------------------
def s3_event(key: str, *, bucket: str = BUCKET, detail_type: str = "Object Created") -> dict:
    event = json.loads(FIXTURE_EVENT.read_text())
    event["detail-type"] = detail_type
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return event


MATCHING_KEYS = [
    "uploads/team photo 2026.jpg",  # the fixture's own key
    "uploads/a.jpg", "uploads/a.jpeg", "uploads/a.png", "uploads/A.JPG", "uploads/2026/x.png",
]
NOT_MATCHING = {
    "thumbnails": s3_event("thumbnails/x.jpg"),
    "txt": s3_event("uploads/x.txt"),
    "jpg.txt": s3_event("uploads/x.jpg.txt"),
    "other bucket": s3_event("uploads/x.jpg", bucket="someone-elses-bucket"),
    "cloudtrail": s3_event("uploads/x.jpg", detail_type="AWS API Call via CloudTrail"),
    "deleted": s3_event("uploads/x.jpg", detail_type="Object Deleted"),
}


def test_rule_and_state_machine_wire_image_uploads_to_the_three_functions(app):
    # One stack for both read-only checks: building it is the expensive part.
    apply_plan(app, app.plan_up())
    check_rule()
    check_state_machine()


def check_rule():
    events = boto3.client("events")
    rule = events.describe_rule(Name="facedetect-FaceDetectionTrigger")
    assert rule["State"] == "ENABLED"

    # moto's EventBridge does not start Step Functions executions for a rule, and
    # test_event_pattern answers nothing: the pattern is matched with moto's own matcher.
    pattern = EventPattern.load(rule["EventPattern"])
    for key in MATCHING_KEYS:
        assert pattern.matches_event(s3_event(key)), key
    for case, event in NOT_MATCHING.items():
        assert not pattern.matches_event(event), case

    (target,) = events.list_targets_by_rule(Rule="facedetect-FaceDetectionTrigger")["Targets"]
    assert target["Arn"] == STATE_MACHINE_ARN
    assert target["RoleArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/{role_name('EventBridgeExecutionRole')}")
    # No Input or InputPath: the execution's input is the whole S3 event.
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)


# --- state machine ---------------------------------------------------------------------------
def check_state_machine():
    # moto accepts any definition (no ASL validation): the structure is checked here.
    found = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=STATE_MACHINE_ARN)
    assert found["type"] == "STANDARD"
    assert found["roleArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/{role_name('StepFunctionExecutionRole')}")
    assert "${" not in found["definition"]
    definition = json.loads(found["definition"])
    states = definition["States"]

    chain, name = [], definition["StartAt"]
    while name in ("Detect Faces", "Store Metadata", "Send Notification"):
        chain.append(name)
        name = states[name].get("Next")
    assert chain == ["Detect Faces", "Store Metadata", "Send Notification"]
    assert states["Send Notification"]["End"] is True

    resources = {"Detect Faces": fn_arn("DetectFacesLambda"),
                 "Store Metadata": fn_arn("StoreMetadataLambda"),
                 "Send Notification": fn_arn("SendNotificationLambda")}
    for state, arn in resources.items():
        task = states[state]
        assert (task["Type"], task["Resource"]) == ("Task", arn), state
        retried = {error for retry in task["Retry"] for error in retry["ErrorEquals"]}
        assert retried >= LAMBDA_TRANSIENT, state
        transient = next(r for r in task["Retry"] if set(r["ErrorEquals"]) >= LAMBDA_TRANSIENT)
        assert transient["MaxAttempts"] >= 2 and transient["BackoffRate"] > 1, state
        assert [c["ErrorEquals"] for c in task["Catch"]] == [["States.ALL"]], state

    notify = states["Notify Failure"]
    assert notify["Parameters"]["TopicArn"] == TOPICS["facedetect-ImageProcessingFailures"]
    assert states[notify["Next"]]["Type"] == "Fail"
