"""A resource with the stack's name but without its tag is someone else's. For each kind, a
look-alike made by hand: `up` refuses in one line and touches nothing, `status` calls it
foreign, and `down --yes` leaves it as it was."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from conftest import role_name

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
EMAIL = "dev@example.com"
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
TRUST_STATES = TRUST_LAMBDA.replace("lambda.amazonaws.com", "states.amazonaws.com")




def handmade_role(trust: str = TRUST_LAMBDA) -> str:
    """A plain role of the user's own, not one of the stack's names."""
    return boto3.client("iam").create_role(RoleName="users-own-role",
                                           AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def zipped(source: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def make_bucket() -> str:
    name = f"facedetect-images-{ACCOUNT}-{REGION}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=name, Key="uploads/users.jpg", Body=b"not ours")
    return name


def make_table() -> str:
    name = "facedetect-FaceMetadataTable"
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    dynamodb.put_item(TableName=name, Item={"id": {"S": "users-item"}})
    return name


def make_topic() -> str:
    name = "facedetect-FaceDetectionResults"
    sns = boto3.client("sns")
    arn = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="owner@example.com")
    return name


def make_role() -> str:
    name = role_name("DetectFacesRole")
    iam = boto3.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.put_role_policy(RoleName=name, PolicyName="users-inline", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    return name


def make_function() -> str:
    name = "facedetect-DetectFacesLambda"
    boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=handmade_role(),
        Code={"ZipFile": zipped(b"def handler(event, context):\n    return 'mine'\n")})
    return name


def make_state_machine() -> str:
    name = "facedetect-FaceRecognitionWorkflow"
    boto3.client("stepfunctions").create_state_machine(
        name=name, roleArn=handmade_role(TRUST_STATES),
        definition=json.dumps({"StartAt": "Mine", "States": {"Mine": {"Type": "Succeed"}}}))
    return name


def make_rule() -> str:
    name = "facedetect-FaceDetectionTrigger"
    events = boto3.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["users.own"]}))
    queue = boto3.client("sqs").create_queue(QueueName="users-queue")["QueueUrl"]
    events.put_targets(Rule=name, Targets=[
        {"Id": "mine", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:users-queue"}])
    assert queue
    return name


LOOK_ALIKES = {
    "bucket": make_bucket,
    "table": make_table,
    "topic": make_topic,
    "role": make_role,
    "function": make_function,
    "state-machine": make_state_machine,
    "rule": make_rule,
}


SERVICES = ("s3", "dynamodb", "sns", "iam", "lambda", "stepfunctions", "events")


@pytest.fixture
def inventory(aws):
    clients = {service: boto3.client(service) for service in SERVICES}
    return lambda: read_inventory(**clients)


def read_inventory(s3, dynamodb, sns, iam, stepfunctions, events, **others) -> dict[str, object]:
    """Everything in the (moto) account that any kind of the stack could touch, with the
    settings the stack would change, so two readings differ when anything was made or altered."""
    lam, sfn = others["lambda"], stepfunctions

    def optional(call, **kwargs):
        try:
            response = call(**kwargs)
        except s3.exceptions.ClientError as error:
            return error.response["Error"]["Code"]
        response.pop("ResponseMetadata", None)
        return response

    buckets = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        buckets[name] = {
            "tags": optional(s3.get_bucket_tagging, Bucket=name),
            "policy": optional(s3.get_bucket_policy, Bucket=name),
            "public": optional(s3.get_public_access_block, Bucket=name),
            "notification": optional(s3.get_bucket_notification_configuration, Bucket=name),
            "objects": [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])],
        }
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        tables[name] = {
            "keys": table["KeySchema"],
            "tags": dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"],
            "items": dynamodb.scan(TableName=name)["Items"],
        }
    topics = {}
    for topic in sns.list_topics()["Topics"]:
        arn = topic["TopicArn"]
        topics[arn] = {
            "tags": sns.list_tags_for_resource(ResourceArn=arn)["Tags"],
            "subscriptions": sorted(
                (s["Protocol"], s["Endpoint"], s["SubscriptionArn"])
                for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]),
        }
    roles = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        roles[name] = {
            "trust": role["AssumeRolePolicyDocument"],
            "tags": iam.list_role_tags(RoleName=name)["Tags"],
            "inline": iam.list_role_policies(RoleName=name)["PolicyNames"],
            "attached": iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"],
        }
    functions = {}
    for function in lam.list_functions()["Functions"]:
        config = lam.get_function_configuration(FunctionName=function["FunctionName"])
        functions[config["FunctionName"]] = {
            k: config.get(k) for k in ("Runtime", "Handler", "Role", "CodeSha256",
                                       "Environment", "Architectures", "Description")}
    machines = {}
    for machine in sfn.list_state_machines()["stateMachines"]:
        found = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
        machines[found["name"]] = {
            "definition": found["definition"], "role": found["roleArn"],
            "tags": sfn.list_tags_for_resource(resourceArn=found["stateMachineArn"])["tags"],
        }
    rules = {}
    for rule in events.list_rules()["Rules"]:
        rules[rule["Name"]] = {
            "pattern": rule.get("EventPattern"), "state": rule["State"],
            "targets": events.list_targets_by_rule(Rule=rule["Name"])["Targets"],
        }
    return {"buckets": buckets, "tables": tables, "topics": topics, "roles": roles,
            "functions": functions, "state-machines": machines, "rules": rules}


@pytest.mark.parametrize("kind", LOOK_ALIKES)
def test_a_look_alike_without_the_tag_is_refused_reported_and_left_alone(invoke, inventory,
                                                                          kind):
    name = LOOK_ALIKES[kind]()
    before = inventory()

    refused = invoke("up", "--email", EMAIL)
    assert refused.exit_code == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: refusing to take over ")
    assert f"{kind} {name}" in lines[0]
    assert "Traceback" not in refused.stdout + refused.stderr
    assert inventory() == before  # nothing made, nothing changed

    status = invoke("status", "--output", "json")
    assert status.exit_code == 3
    rows = json.loads(status.stdout)["resources"]
    assert [(r["kind"], r["name"]) for r in rows if r["state"] == "foreign"][:1] == [(kind, name)]
    assert {r["state"] for r in rows} <= {"foreign", "missing"}
    assert inventory() == before

    down = invoke("down", "--yes", "--output", "json")
    assert down.exit_code == 0, down.stderr
    changes = json.loads(down.stdout)["changes"]
    assert {(c["kind"], c["name"]) for c in changes if c["action"] == "foreign"} >= {(kind, name)}
    assert {c["action"] for c in changes} <= {"foreign", "absent"}
    assert inventory() == before  # still there, unchanged
