"""What real AWS answers and moto never does (issue 13): conflicts, resources still being
created or deleted, eventually consistent reads, least-privilege callers. Each test makes moto
answer as AWS does, with AWS's own error codes and messages, through the client hooks: a
fault rule for errors (botocore parses them as AWS's, into the same ClientError), an
after-call handler for answers moto shapes differently. Then it asserts that the command
converges and what it really left in the account. Sleeps are recorded, never slept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from conftest import EMAIL, REGION

from facedetect_cli.aws.hooks import InjectedFault
from facedetect_cli.errors import AwsError

BUCKET = f"facedetect-images-123456789012-{REGION}"
TABLE = "facedetect-FaceMetadataTable"

# AWS's own answers (codes, HTTP status and messages as the services send them).
S3_CONFLICT = InjectedFault(
    "OperationAborted",
    "A conflicting conditional operation is currently in progress against this resource. "
    "Please try again.", 409)
NO_SUCH_BUCKET = InjectedFault("NoSuchBucket", "The specified bucket does not exist", 404)
TABLE_IN_USE = InjectedFault(
    "ResourceInUseException",
    f"Attempt to change a resource which is still in use: Table is being deleted: {TABLE}")
TABLE_NOT_ACTIVE = InjectedFault(
    "ResourceNotFoundException", "Requested resource not found: ResourcArn: "
    f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE} not found")
ROLE_CONFLICT = InjectedFault("DeleteConflict",
                              "Cannot delete entity, must detach all policies first.", 409)
LOGS_CONFLICT = InjectedFault(
    "OperationAbortedException",
    "Multiple concurrent requests to update the same resource were in conflict.")


def first(operation: str, fault: InjectedFault, times: int,
          when: Callable[[dict[str, Any]], bool] = lambda params: True,
          seen: list[str] | None = None):
    """A fault rule: the first `times` calls of `operation` (whose parameters satisfy `when`)
    answer `fault`; the later ones reach moto."""
    left = {"n": times}

    def rule(service: str, op: str, params: dict[str, Any]) -> InjectedFault | None:
        if op != operation or not when(params):
            return None
        if seen is not None:
            seen.append(op)
        if left["n"] > 0:
            left["n"] -= 1
            return fault
        return None

    return rule


def rewrite(app, service: str, operation: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit the parsed answer of one operation in place (not its errors), as AWS shapes it."""

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        if "Error" not in parsed:
            change(parsed)

    app.aws.client(service).raw.meta.events.register(f"after-call.{service}.{operation}",
                                                    handler)


def converged(outcomes) -> None:
    failed = [(o.step.resource.key, str(o.error)) for o in outcomes if o.error is not None]
    assert failed == []


# 2. Bucket settings ---------------------------------------------------------------------
BUCKET_WRITES = ("PutPublicAccessBlock", "PutBucketEncryption", "PutBucketPolicy",
                 "PutBucketNotificationConfiguration")


def assert_bucket_configured() -> None:
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert "DenyInsecureTransport" in s3.get_bucket_policy(Bucket=BUCKET)["Policy"]


def test_overlapping_bucket_writes_answered_operation_aborted_are_retried(make_app, sleeps):
    app = make_app(fault_rules=[first(op, S3_CONFLICT, 2) for op in BUCKET_WRITES])
    converged(app.apply(app.plan_up()))
    assert_bucket_configured()
    assert sleeps.count(1.0) >= 2 * len(BUCKET_WRITES)


def test_a_new_bucket_answering_no_such_bucket_for_a_while_is_configured(make_app, sleeps):
    app = make_app(fault_rules=[first(op, NO_SUCH_BUCKET, 3) for op in BUCKET_WRITES])
    converged(app.apply(app.plan_up()))
    assert_bucket_configured()


def test_no_such_bucket_is_not_retried_for_a_bucket_that_was_not_just_created(make_app, sleeps):
    app = make_app()
    converged(app.apply(app.plan_up()))
    boto3.client("s3").delete_bucket_policy(Bucket=BUCKET)
    calls: list[str] = []
    app = make_app(fault_rules=[first("PutBucketPolicy", NO_SUCH_BUCKET, 10**6, seen=calls)])
    outcomes = app.apply(app.plan_up())
    assert [o.step.resource.kind for o in outcomes if o.error is not None] == ["bucket"]
    assert calls == ["PutBucketPolicy"] and sleeps == []


# 3. `down` then `up` at once -------------------------------------------------------------
def test_up_right_after_down_waits_for_the_table_still_deleting(make_app, sleeps):
    app = make_app()
    converged(app.apply(app.plan_up()))
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=TABLE, Item={"ImageKey": {"S": "old"}})
    # `down` has just asked DeleteTable: DynamoDB says DELETING for a while, and refuses
    # CreateTable of the name meanwhile. moto deletes at once, so the test plays DynamoDB:
    # the old table stays in moto, shown DELETING, until the third CreateTable.
    state = {"deleting": True}

    def create_table(service: str, op: str, params: dict[str, Any]) -> InjectedFault | None:
        if op != "CreateTable" or not state["deleting"]:
            return None
        state.setdefault("refused", 0)
        if state["refused"] < 2:
            state["refused"] += 1
            return TABLE_IN_USE
        dynamodb.delete_table(TableName=TABLE)  # the deletion ends
        state["deleting"] = False
        return None

    app = make_app(fault_rules=[create_table])

    def deleting(parsed: dict[str, Any]) -> None:
        if state["deleting"]:
            parsed["Table"]["TableStatus"] = "DELETING"

    rewrite(app, "dynamodb", "DescribeTable", deleting)
    plan = app.plan_up()
    assert {s.resource.key: s.action for s in plan.steps}[f"table:{TABLE}"] == "create"
    converged(app.apply(plan))
    assert state["refused"] == 2 and len(sleeps) == 2
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0  # the new table, not the old one
    tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": "facedetect:stack", "Value": "facedetect"} in tags


def test_create_table_in_use_by_a_table_that_is_not_deleting_is_not_waited_for(make_app,
                                                                                sleeps):
    app = make_app(fault_rules=[first("CreateTable", TABLE_IN_USE, 10**6)])
    # Someone else's table of that name appears between the plan's read and the create.
    plan = app.plan_up()
    boto3.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    outcomes = app.apply(plan)
    assert [o.step.resource.kind for o in outcomes if o.error is not None] == ["table"]
    assert sleeps == []


def test_recreating_a_bucket_deleted_moments_ago_waits_out_operation_aborted(make_app, sleeps):
    app = make_app()
    converged(app.apply(app.plan_up()))
    converged(app.apply(app.plan_down()))
    calls: list[str] = []
    app = make_app(fault_rules=[first("CreateBucket", S3_CONFLICT, 3, seen=calls)])
    converged(app.apply(app.plan_up()))
    assert calls == ["CreateBucket"] * 4
    assert_bucket_configured()


# 4. Deletes that AWS refuses for a while --------------------------------------------------
def test_delete_role_conflict_that_lingers_after_the_policies_are_gone(make_app, sleeps):
    app = make_app()
    converged(app.apply(app.plan_up()))
    role_count = len(boto3.client("iam").list_roles()["Roles"])
    calls: list[str] = []
    app = make_app(fault_rules=[first("DeleteRole", ROLE_CONFLICT, 3 * role_count,
                                      seen=calls)])
    converged(app.apply(app.plan_down()))
    assert boto3.client("iam").list_roles()["Roles"] == []
    assert len(calls) == 4 * role_count


def test_log_groups_busy_with_another_operation_are_retried(make_app, sleeps):
    machine_group = "/aws/vendedlogs/states/facedetect-FaceRecognitionWorkflow"
    app = make_app(fault_rules=[first("PutRetentionPolicy", LOGS_CONFLICT, 2)])
    converged(app.apply(app.plan_up()))
    logs = boto3.client("logs")
    groups = logs.describe_log_groups()["logGroups"]
    assert groups and all(g.get("retentionInDays") == 30 for g in groups)

    app = make_app(fault_rules=[first("DeleteLogGroup", LOGS_CONFLICT, 3,
                                      when=lambda p: p["logGroupName"] == machine_group)])
    converged(app.apply(app.plan_down()))
    assert logs.describe_log_groups()["logGroups"] == []


# 5. Tags of a table being created ----------------------------------------------------------
def test_a_creating_table_whose_tags_cannot_be_read_yet_is_the_stacks(make_app, sleeps):
    app = make_app()
    converged(app.apply(app.plan_up()))
    creating = {"reads": 0}

    def still_creating(parsed: dict[str, Any]) -> None:
        creating["reads"] += 1
        if creating["reads"] <= 3:
            parsed["Table"]["TableStatus"] = "CREATING"

    app = make_app(fault_rules=[first("ListTagsOfResource", TABLE_NOT_ACTIVE, 2)])
    rewrite(app, "dynamodb", "DescribeTable", still_creating)
    rows = {row.kind: row for row in app.status()}
    assert rows["table"].state == "present"


def test_an_empty_tag_read_right_after_creation_does_not_make_the_table_foreign(make_app,
                                                                                sleeps):
    app = make_app()
    converged(app.apply(app.plan_up()))
    reads = {"n": 0}

    def not_yet_consistent(parsed: dict[str, Any]) -> None:
        reads["n"] += 1
        if reads["n"] <= 2:
            parsed["Tags"] = []

    app = make_app()
    rewrite(app, "dynamodb", "ListTagsOfResource", not_yet_consistent)
    plan = app.plan_up()
    assert plan.foreign == []
    assert {s.resource.key: s.action for s in plan.steps}[f"table:{TABLE}"] == "unchanged"
    assert reads["n"] == 3


# 6. Operators with least privilege -------------------------------------------------------
TAGS_ERROR = {"ErrorCode": "AccessDeniedException",
              "Message": "User: arn:aws:iam::123456789012:user/operator is not authorized to "
                         "perform: lambda:ListTags"}


def without_tags(parsed: dict[str, Any]) -> None:
    # What GetFunction answers a caller without lambda:ListTags (Lambda API Reference).
    parsed.pop("Tags", None)
    parsed["TagsError"] = TAGS_ERROR


def test_get_function_without_tags_is_read_through_list_tags(make_app):
    app = make_app()
    converged(app.apply(app.plan_up()))
    app = make_app()
    rewrite(app, "lambda", "GetFunction", without_tags)
    plan = app.plan_up()
    assert plan.foreign == []
    assert {s.action for s in plan.steps} == {"unchanged"}


def test_a_caller_without_lambda_list_tags_is_told_which_action_it_lacks(make_app):
    app = make_app()
    converged(app.apply(app.plan_up()))
    denied = InjectedFault(
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/operator is not authorized to perform: "
        "lambda:ListTags on resource: arn:aws:lambda:eu-central-1:123456789012:function:"
        "facedetect-DetectFacesLambda because no identity-based policy allows the "
        "lambda:ListTags action", 403)
    app = make_app(fault_rules=[first("ListTags", denied, 10**6)])
    rewrite(app, "lambda", "GetFunction", without_tags)
    with pytest.raises(AwsError, match="access denied for lambda:ListTags"):
        app.plan_up()


# 7. Unsubscribed addresses ----------------------------------------------------------------
def test_an_address_that_unsubscribed_is_absent_and_up_subscribes_it_again(make_app):
    app = make_app()
    converged(app.apply(app.plan_up()))

    def unsubscribed(parsed: dict[str, Any]) -> None:
        for subscription in parsed.get("Subscriptions", []):
            if subscription["Endpoint"] == EMAIL:
                subscription["SubscriptionArn"] = "Deleted"

    app = make_app()
    rewrite(app, "sns", "ListSubscriptionsByTopic", unsubscribed)
    rows = [row for row in app.status() if row.kind == "subscription"]
    assert rows and {row.state for row in rows} == {"missing"}
    plan = app.plan_up()
    assert {s.action for s in plan.steps if s.resource.kind == "subscription"} == {"create"}
    converged(app.apply(plan))
    assert app.aws.counter.by_operation()["sns:Subscribe"] == len(rows)


# 9. IAM propagation and PassRole --------------------------------------------------------
def test_a_caller_without_pass_role_fails_at_once_naming_the_action(make_app, sleeps):
    denied = InjectedFault(
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/operator is not authorized to perform: "
        "iam:PassRole on resource: "
        "arn:aws:iam::123456789012:role/facedetect-DetectFacesRole-eu-central-1 "
        "because no identity-based policy allows the iam:PassRole action", 403)
    calls: list[str] = []
    app = make_app(fault_rules=[first("CreateFunction", denied, 10**6, seen=calls)])
    outcomes = app.apply(app.plan_up())
    errors = {str(o.error) for o in outcomes if o.error is not None}
    assert errors and all("access denied for iam:PassRole" in e for e in errors)
    assert len(calls) == 3 and sleeps == []  # one try per function, no waiting
