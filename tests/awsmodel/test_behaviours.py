"""The model's own tests: each behaviour it plays, triggered through real botocore clients in
front of moto, comes back as AWS's: botocore parses the injected bytes into the error code,
HTTP status and modeled exception class AWS's answer has, its standard retry mode makes the
same decision as for AWS's answer, and reads show the resource's state (CREATING, Pending,
DELETING) until the model's clock has moved past it.

A SteppedClock makes every window exact: time moves only when a test sleeps. Throttling and
latency are off except in the test of throttling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION

from awsmodel.clock import SteppedClock
from awsmodel.model import AwsModel, Settings
from awsmodel.wire import PROTOCOLS

# Every window 10 AWS seconds: long enough to call into, exact to step past.
WINDOW = (10.0, 10.0)
QUIET = Settings(
    latency=(0.0, 0.0), bucket_not_visible=WINDOW, bucket_write_busy=WINDOW,
    bucket_name_cooldown=WINDOW, table_creating=WINDOW, table_tags_lag=(0.0, 0.0),
    table_deleting=WINDOW, role_propagation=WINDOW, policy_propagation=(5.0, 5.0),
    delete_conflict=WINDOW, function_pending=WINDOW, function_updating=WINDOW,
    log_delivery_busy=WINDOW, state_machine_deleting=WINDOW, throttle_burst=0.0,
)
BUCKET = "awsmodel-test-bucket"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def model(clock: SteppedClock, aws: None) -> Iterator[AwsModel]:
    with AwsModel(seed=1, clock=clock, settings=QUIET) as played:
        yield played


def client(service: str, attempts: int = 1):
    """A client the model treats as facedetect's (its User-Agent says so): one attempt, so a
    test sees each answer, unless it asks for botocore's retries."""
    return boto3.client(service, region_name=REGION, config=botocore.config.Config(
        user_agent_extra="facedetect", retries={"mode": "standard", "max_attempts": attempts}))


def error_of(call, *args, **kwargs) -> tuple[str, int, ClientError]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value
    return (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"],
            error)


def test_protocols_are_botocores():
    session = botocore.session.get_session()
    assert {s: session.get_service_model(s).protocol for s in PROTOCOLS} == PROTOCOLS


def test_s3_new_bucket_not_visible_then_writes_overlap_then_name_still_deleting(model, clock):
    s3 = client("s3", attempts=5)
    config = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=config)
    code, status, error = error_of(s3.put_bucket_versioning, Bucket=BUCKET,
                                   VersioningConfiguration={"Status": "Enabled"})
    assert (code, status) == ("NoSuchBucket", 404)
    assert isinstance(error, s3.exceptions.NoSuchBucket)
    assert error.response["Error"]["BucketName"] == BUCKET
    # botocore's standard mode does not retry it (why facedetect must).
    assert error.response["ResponseMetadata"]["RetryAttempts"] == 0

    clock.sleep(10)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    code, status, error = error_of(s3.put_bucket_tagging, Bucket=BUCKET,
                                   Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert (code, status) == ("OperationAborted", 409)
    assert "conflicting conditional operation" in error.response["Error"]["Message"]
    assert error.response["ResponseMetadata"]["RetryAttempts"] == 0
    clock.sleep(10)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})

    clock.sleep(10)
    s3.delete_bucket(Bucket=BUCKET)
    code, status, _ = error_of(s3.create_bucket, Bucket=BUCKET, CreateBucketConfiguration=config)
    assert (code, status) == ("OperationAborted", 409)
    clock.sleep(10)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=config)
    assert model.ledger.injected() == {"bucket not yet visible": 1, "bucket writes overlap": 1,
                                       "bucket name still being deleted": 1}


def test_dynamodb_table_creating_then_active_then_deleting(model, clock):
    ddb = client("dynamodb")
    created = ddb.create_table(
        TableName="t1", BillingMode="PAY_PER_REQUEST", Tags=[{"Key": "k", "Value": "v"}],
        AttributeDefinitions=[{"AttributeName": "K", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "K", "KeyType": "HASH"}])
    arn = created["TableDescription"]["TableArn"]
    assert created["TableDescription"]["TableStatus"] == "CREATING"
    assert ddb.describe_table(TableName="t1")["Table"]["TableStatus"] == "CREATING"
    code, status, error = error_of(ddb.list_tags_of_resource, ResourceArn=arn)
    assert (code, status) == ("ResourceNotFoundException", 400)
    assert isinstance(error, ddb.exceptions.ResourceNotFoundException)
    code, status, error = error_of(ddb.delete_table, TableName="t1")
    assert (code, status) == ("ResourceInUseException", 400)
    assert isinstance(error, ddb.exceptions.ResourceInUseException)

    # botocore's own waiter polls through the model's clock.
    ddb.get_waiter("table_exists").wait(TableName="t1", WaiterConfig={"Delay": 2})
    assert clock.now() == 10
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]

    assert ddb.delete_table(TableName="t1")["TableDescription"]["TableStatus"] == "DELETING"
    assert ddb.describe_table(TableName="t1")["Table"]["TableStatus"] == "DELETING"
    code, status, _ = error_of(ddb.create_table, TableName="t1", BillingMode="PAY_PER_REQUEST",
                               AttributeDefinitions=[{"AttributeName": "K",
                                                      "AttributeType": "S"}],
                               KeySchema=[{"AttributeName": "K", "KeyType": "HASH"}])
    assert (code, status) == ("ResourceInUseException", 400)
    clock.sleep(10)
    code, status, _ = error_of(ddb.describe_table, TableName="t1")
    assert (code, status) == ("ResourceNotFoundException", 400)


def _role(iam, name: str) -> str:
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]


def test_iam_delete_conflict_lingers_after_the_policies_go(model, clock):
    iam = client("iam")
    _role(iam, "r1")
    iam.put_role_policy(RoleName="r1", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                "Resource": "*"}]}))
    iam.delete_role_policy(RoleName="r1", PolicyName="p")
    code, status, error = error_of(iam.delete_role, RoleName="r1")
    assert (code, status) == ("DeleteConflict", 409)
    assert isinstance(error, iam.exceptions.DeleteConflictException)
    clock.sleep(10)
    iam.delete_role(RoleName="r1")


def test_lambda_role_propagation_pending_and_updates_in_progress(model, clock):
    role = _role(client("iam"), "fr")
    lam = client("lambda")
    function = {"FunctionName": "f1", "Runtime": "python3.12", "Role": role,
                "Handler": "x.h", "Code": {"ZipFile": b"PK"}}
    code, status, error = error_of(lam.create_function, **function)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert isinstance(error, lam.exceptions.InvalidParameterValueException)
    assert "cannot be assumed by Lambda" in error.response["Error"]["Message"]

    clock.sleep(10)
    assert lam.create_function(**function)["State"] == "Pending"
    assert lam.get_function(FunctionName="f1")["Configuration"]["State"] == "Pending"
    code, status, error = error_of(lam.update_function_configuration, FunctionName="f1",
                                   Timeout=5)
    assert (code, status) == ("ResourceConflictException", 409)
    assert isinstance(error, lam.exceptions.ResourceConflictException)
    lam.get_waiter("function_active_v2").wait(FunctionName="f1", WaiterConfig={"Delay": 1})
    assert clock.now() == 20

    updated = lam.update_function_configuration(FunctionName="f1", Timeout=5)
    assert updated["LastUpdateStatus"] == "InProgress"
    code, status, error = error_of(lam.update_function_code, FunctionName="f1", ZipFile=b"PK2")
    assert (code, status) == ("ResourceConflictException", 409)
    assert "update is in progress" in error.response["Error"]["Message"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="f1", WaiterConfig={"Delay": 1})
    assert lam.get_function_configuration(FunctionName="f1")["LastUpdateStatus"] == "Successful"


def test_step_functions_role_propagation_deleting_and_the_log_group_busy(model, clock):
    iam, sfn, logs = client("iam"), client("stepfunctions"), client("logs")
    role = iam.create_role(RoleName="sr", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    logs.create_log_group(logGroupName="g1")
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g1:*"
    machine = {"name": "m1", "roleArn": role, "definition": json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        "loggingConfiguration": {"level": "ERROR", "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}}
    code, status, error = error_of(sfn.create_state_machine, **machine)
    assert (code, status) == ("AccessDeniedException", 400)
    assert "authorized to assume the provided role" in error.response["Error"]["Message"]
    clock.sleep(10)
    iam.put_role_policy(RoleName="sr", PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*",
                                                "Resource": "*"}]}))
    code, _, error = error_of(sfn.create_state_machine, **machine)
    assert "not authorized to access the Log Destination" in error.response["Error"]["Message"]
    clock.sleep(5)
    arn = sfn.create_state_machine(**machine)["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"

    clock.sleep(10)
    sfn.delete_state_machine(stateMachineArn=arn)
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    code, status, error = error_of(sfn.create_state_machine, **machine)
    assert (code, status) == ("StateMachineDeleting", 400)
    assert isinstance(error, sfn.exceptions.StateMachineDeleting)
    code, status, error = error_of(logs.delete_log_group, logGroupName="g1")
    assert (code, status) == ("OperationAbortedException", 400)
    assert isinstance(error, logs.exceptions.OperationAbortedException)

    clock.sleep(10)
    code, _, _ = error_of(sfn.describe_state_machine, stateMachineArn=arn)
    assert code == "StateMachineDoesNotExist"
    logs.delete_log_group(logGroupName="g1")


CHEAP_READS = {
    "s3": ("list_buckets", {}), "dynamodb": ("list_tables", {}), "iam": ("list_roles", {}),
    "sns": ("list_topics", {}), "sts": ("get_caller_identity", {}),
    "lambda": ("list_functions", {}), "stepfunctions": ("list_state_machines", {}),
    "logs": ("describe_log_groups", {}), "events": ("list_rules", {}),
    "rekognition": ("list_collections", {}),
}
THROTTLE_ANSWERS = {"s3": ("SlowDown", 503), "lambda": ("TooManyRequestsException", 429),
                    "iam": ("Throttling", 400), "sns": ("Throttling", 400),
                    "sts": ("Throttling", 400)}


@pytest.mark.parametrize("service", sorted(CHEAP_READS))
def test_throttling_is_each_services_own_and_botocore_retries_it(service, clock, aws):
    always = Settings(latency=(0.0, 0.0), throttle_burst=1.0, throttle_attempt=1.0)
    operation, params = CHEAP_READS[service]
    seen: list[tuple[str, int]] = []

    def first_answers(response, **_):
        if response is not None and "Error" in response[1]:
            seen.append((response[1]["Error"]["Code"], response[0].status_code))

    with AwsModel(seed=1, clock=clock, settings=always) as model:
        # Standard mode: two throttled attempts, backoff on the model's clock, then through.
        throttled = client(service, attempts=5)
        throttled.meta.events.register("needs-retry", first_answers)
        answer = getattr(throttled, operation)(**params)
    expected = THROTTLE_ANSWERS.get(service, ("ThrottlingException", 400))
    assert seen == [expected, expected]
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert clock.slept > 0
    assert model.ledger.injected() == {"throttled": 2}
