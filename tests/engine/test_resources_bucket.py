"""The uploads bucket as `up` leaves it, read back from moto: region, public access, encryption,
tag, TLS-only policy, EventBridge notifications; repairs that keep what a user added; and a
`down` that empties a versioned bucket before deleting it."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import OneKind

from facedetect_cli.engine.plan import CREATE, DELETE, UNCHANGED, UPDATE

# Every test here runs against moto in process.
pytestmark = pytest.mark.usefixtures("aws")

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account




def bucket_name(region: str = REGION) -> str:
    return f"facedetect-images-{ACCOUNT}-{region}"


def apply_plan(app, plan):
    outcomes = app.apply(plan)
    failed = [(o.step.resource.key, o.error) for o in outcomes if o.error is not None]
    assert failed == []
    return outcomes


def up(app):
    return apply_plan(app, app.plan_up())




@pytest.fixture
def bucket_only(app):
    stack = OneKind(app, "bucket")
    apply_plan(stack, stack.plan_up())
    return stack


def bucket_step(plan):
    (step,) = [s for s in plan.steps if s.resource.kind == "bucket"]
    return step


def assert_bucket_as_desired(s3, bucket: str) -> None:
    public = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert public == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                      "BlockPublicPolicy": True, "RestrictPublicBuckets": True}

    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]

    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"facedetect:stack": "facedetect"}

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (deny,) = [s for s in policy["Statement"] if s.get("Sid") == "DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    # moto evaluates bucket policies without their conditions, so on plain moto this statement
    # would deny every request; patch_moto() (applied by conftest) makes moto count requests as
    # TLS, as they are on AWS through https. The put/delete calls in these tests rely on it.

    # moto 5.2 stores EventBridgeConfiguration but never returns it; AWS does. conftest applies
    # facedetect_cli.local.emulator.patch_moto(), which makes moto return it as AWS would.
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert notification.get("EventBridgeConfiguration") == {}


@pytest.mark.parametrize("region", ["eu-central-1", "us-east-1"])
def test_up_creates_a_private_encrypted_tls_only_bucket(make_app, region):
    app = make_app(region=region)
    up(app)
    s3 = boto3.client("s3", region_name=region)
    bucket = bucket_name(region)

    location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    # us-east-1 takes no LocationConstraint (AWS answers None for it); moto enforces the same
    # rule on create (InvalidLocationConstraint), so a wrong create call would fail here too.
    assert location == (None if region == "us-east-1" else region)
    assert_bucket_as_desired(s3, bucket)

    # A second plan finds the bucket exactly as desired.
    assert bucket_step(app.plan_up()).action == UNCHANGED


def test_repair_of_eventbridge_keeps_a_users_queue_notification(bucket_only):
    app = bucket_only
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    bucket = bucket_name()
    queue_url = sqs.create_queue(QueueName="user-uploads-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_config = {"Id": "users-own", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}

    # The user adds a queue the right way (keeping EventBridge): nothing for `up` to do.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "EventBridgeConfiguration": {}, "QueueConfigurations": [queue_config]})
    assert bucket_step(app.plan_up()).action == UNCHANGED

    # Then replaces the whole configuration with just the queue: EventBridge is off.
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue_config]})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(
        Bucket=bucket)

    plan = app.plan_up()
    step = bucket_step(plan)
    assert (step.action, step.reason) == (UPDATE, "EventBridge notifications are off")
    apply_plan(app, plan)

    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert notification["EventBridgeConfiguration"] == {}
    (queue,) = notification["QueueConfigurations"]
    assert (queue["Id"], queue["QueueArn"], queue["Events"]) == (
        "users-own", queue_arn, ["s3:ObjectCreated:*"])
    assert bucket_step(app.plan_up()).action == UNCHANGED


def test_repair_of_the_tls_statement_keeps_a_users_own_statement(bucket_only):
    app = bucket_only
    s3 = boto3.client("s3")
    bucket = bucket_name()
    arn = f"arn:aws:s3:::{bucket}"
    users = {
        "Sid": "PartnerMayRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject",
        "Resource": f"{arn}/uploads/*",
    }
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (tls,) = policy["Statement"]
    weakened = {**tls, "Resource": [arn]}  # no longer covers the objects
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [users, weakened]}))

    plan = app.plan_up()
    step = bucket_step(plan)
    assert (step.action, step.reason) == (
        UPDATE, "the bucket policy does not deny requests without TLS")
    apply_plan(app, plan)

    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"PartnerMayRead", "DenyInsecureTransport"}
    assert by_sid["PartnerMayRead"]["Principal"] == users["Principal"]
    assert by_sid["PartnerMayRead"]["Resource"] in (users["Resource"], [users["Resource"]])
    assert sorted(by_sid["DenyInsecureTransport"]["Resource"]) == [arn, f"{arn}/*"]
    assert bucket_step(app.plan_up()).action == UNCHANGED


def test_down_deletes_a_bucket_with_object_versions_and_delete_markers(bucket_only):
    app = bucket_only
    s3 = boto3.client("s3")
    bucket = bucket_name()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=bucket, Key="uploads/a.jpg", Body=body)
    s3.put_object(Bucket=bucket, Key="uploads/b.png", Body=b"b")
    # A delete marker on top of each key's versions. (AWS also makes a marker when deleting a
    # key that never existed in a versioned bucket; moto 5.2 does not, so none is made here.)
    s3.delete_object(Bucket=bucket, Key="uploads/a.jpg")
    s3.delete_object(Bucket=bucket, Key="uploads/b.png")
    listing = s3.list_object_versions(Bucket=bucket)
    assert (len(listing["Versions"]), len(listing["DeleteMarkers"])) == (4, 2)

    plan = app.plan_down()
    step = bucket_step(plan)
    assert (step.action, step.reason) == (DELETE, "holds 6 object versions")
    apply_plan(app, plan)

    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(s3.exceptions.ClientError) as gone:
        s3.head_bucket(Bucket=bucket)
    assert gone.value.response["Error"]["Code"] == "404"
    # And the next `up` would make it anew.
    assert bucket_step(app.plan_up()).action == CREATE


def test_down_lists_the_objects_once_and_still_empties_what_arrives_after_the_plan(bucket_only):
    app = bucket_only
    s3 = boto3.client("s3")
    bucket = bucket_name()
    s3.put_object(Bucket=bucket, Key="uploads/a.jpg", Body=b"a")
    plan = app.plan_down()
    assert bucket_step(plan).reason == "holds 1 object versions"
    # The pipeline is still uploading: an object arrives between the plan and the delete.
    s3.put_object(Bucket=bucket, Key="uploads/late.jpg", Body=b"late")

    before = app.aws.counter.by_operation()
    outcomes = apply_plan(app, plan)
    after = app.aws.counter.by_operation()

    assert {o.status for o in outcomes if o.step.resource.kind == "bucket"} == {"done"}
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # The plan's listing was used for the first round; the late object cost one BucketNotEmpty
    # (moto enforces it like AWS) and one more listing.
    calls = {op: after.get(op, 0) - before.get(op, 0)
             for op in ("s3:ListObjectVersions", "s3:DeleteObjects", "s3:DeleteBucket")}
    assert calls == {"s3:ListObjectVersions": 1, "s3:DeleteObjects": 2, "s3:DeleteBucket": 2}


def test_down_of_a_quiet_bucket_lists_its_objects_once(bucket_only):
    """Counting for the confirmation and emptying share one listing."""
    app = bucket_only
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket_name(), Key="uploads/a.jpg", Body=b"a")
    before = app.aws.counter.by_operation().get("s3:ListObjectVersions", 0)
    apply_plan(app, app.plan_down())
    assert app.aws.counter.by_operation()["s3:ListObjectVersions"] - before == 1
    assert s3.list_buckets()["Buckets"] == []
