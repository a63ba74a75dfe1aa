"""The whole life cycle through the CLI, against moto in process:
up -> status healthy -> up again (no writes) -> drift by hand -> status exit 3 -> up repairs
-> down -> status all missing -> down again."""

from __future__ import annotations

import json

import boto3
from conftest import ACCOUNT, EMAIL, REGION, json_out, role_name

BUCKET = f"facedetect-images-{ACCOUNT}-{REGION}"
KINDS = {"bucket", "table", "topic", "subscription", "role", "log-group", "function",
         "state-machine", "rule"}


def states(result) -> dict[tuple[str, str], str]:
    return {(r["kind"], r["name"]): r["state"] for r in json_out(result)["resources"]}


def test_full_life_cycle(invoke):
    first = invoke("up", "--email", EMAIL, "--output", "json")
    assert first.exit_code == 0, first.stderr
    doc = json_out(first)
    assert (doc["stack"], doc["region"], doc["account"]) == ("facedetect", REGION, ACCOUNT)
    assert {c["action"] for c in doc["changes"]} == {"created"}
    assert {c["kind"] for c in doc["changes"]} == KINDS
    assert doc["api_calls"]["writes"] > 0

    status = invoke("status", "--output", "json")
    assert status.exit_code == 0
    assert json_out(status)["healthy"] is True
    assert set(states(status).values()) == {"present"}

    again = invoke("up", "--email", EMAIL, "--output", "json")
    assert again.exit_code == 0
    assert {c["action"] for c in json_out(again)["changes"]} == {"unchanged"}
    assert json_out(again)["api_calls"]["writes"] == 0

    # Drift by hand: a wildcard policy, a changed definition, a disabled rule, new env vars.
    iam = boto3.client("iam")
    iam.put_role_policy(RoleName=role_name("StepFunctionExecutionRole"),
                        PolicyName="facedetect-least-privilege",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}))
    sfn = boto3.client("stepfunctions")
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:facedetect-FaceRecognitionWorkflow"
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(
        {"StartAt": "x", "States": {"x": {"Type": "Succeed"}}}))
    boto3.client("events").disable_rule(Name="facedetect-FaceDetectionTrigger")
    boto3.client("lambda").update_function_configuration(
        FunctionName="facedetect-StoreMetadataLambda",
        Environment={"Variables": {"TABLE_NAME": "someone-elses-table"}})

    drifted = invoke("status", "--output", "json")
    assert drifted.exit_code == 3
    found = states(drifted)
    assert found[("role", role_name("StepFunctionExecutionRole"))] == "drifted"
    assert found[("state-machine", "facedetect-FaceRecognitionWorkflow")] == "drifted"
    assert found[("rule", "facedetect-FaceDetectionTrigger")] == "drifted"
    assert found[("function", "facedetect-StoreMetadataLambda")] == "drifted"
    assert found[("function", "facedetect-DetectFacesLambda")] == "present"

    repair = invoke("up", "--email", EMAIL, "--output", "json")
    assert repair.exit_code == 0
    updated = {c["name"]: c["reason"] for c in json_out(repair)["changes"]
               if c["action"] == "updated"}
    assert updated == {
        role_name("StepFunctionExecutionRole"): "permissions policy differs",
        "facedetect-StoreMetadataLambda": "environment differs",
        "facedetect-FaceRecognitionWorkflow": "definition differs",
        "facedetect-FaceDetectionTrigger": "rule is disabled",
    }
    assert invoke("status").exit_code == 0
    env = boto3.client("lambda").get_function_configuration(
        FunctionName="facedetect-StoreMetadataLambda")["Environment"]["Variables"]
    assert env == {"TABLE_NAME": "facedetect-FaceMetadataTable"}

    boto3.client("s3").put_object(Bucket=BUCKET, Key="uploads/a.jpg", Body=b"x")
    down = invoke("down", "--yes", "--output", "json")
    assert down.exit_code == 0, down.stderr
    assert {c["action"] for c in json_out(down)["changes"]} == {"deleted"}

    gone = invoke("status", "--output", "json")
    assert gone.exit_code == 3
    assert set(states(gone).values()) == {"missing"}
    assert BUCKET not in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    assert boto3.client("iam").list_roles()["Roles"] == []
    assert boto3.client("lambda").list_functions()["Functions"] == []
    assert boto3.client("sns").list_topics()["Topics"] == []
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert boto3.client("events").list_rules()["Rules"] == []
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []

    twice = invoke("down", "--yes", "--output", "json")
    assert twice.exit_code == 0
    assert {c["action"] for c in json_out(twice)["changes"]} == {"absent"}
    assert json_out(twice)["api_calls"]["writes"] == 0
