"""Commands that read or write the pipeline's data (detect, results, logs) check first that
the bucket, table, state machine and log groups are the stack's own (issue 14): a look-alike
someone else made with the stack's names is refused in one line, and nothing is written to
it or read from it."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.usefixtures("aws")

ACCOUNT, REGION = "123456789012", "eu-central-1"
BUCKET = f"facedetect-images-{ACCOUNT}-{REGION}"
TABLE = "facedetect-FaceMetadataTable"
GROUP = "/aws/lambda/facedetect-DetectFacesLambda"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def assert_refused(result, kind: str, name: str, tag: str = "facedetect") -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.splitlines() == [
        f"error: {kind} {name} exists without the tag facedetect:stack={tag}: it is not this "
        "stack's, so facedetect neither reads nor writes it; check --stack and --region"]


def look_alike_bucket(tags: dict[str, str] | None = None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    if tags:
        s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in tags.items()]})


@pytest.mark.parametrize("tags", [None, {"facedetect:stack": "other"}, {"team": "faces"}])
def test_detect_uploads_nothing_into_a_look_alike_bucket(invoke, tmp_path, tags):
    look_alike_bucket(tags)
    image = tmp_path / "me.png"
    image.write_bytes(PNG)
    for extra in ([], ["--no-wait"]):
        assert_refused(invoke("detect", str(image), *extra), "bucket", BUCKET)
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_results_reads_nothing_from_a_look_alike_table(invoke):
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "ImageKey",
                                                 "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "ImageKey", "KeyType": "HASH"}])
    dynamodb.put_item(TableName=TABLE, Item={"ImageKey": {"S": "uploads/theirs.jpg"}})
    for extra in ([], ["--key", "uploads/theirs.jpg"], ["--output", "json"]):
        result = invoke("results", *extra)
        assert_refused(result, "table", TABLE)
        assert "theirs" not in result.stdout


@pytest.mark.parametrize("tags", [{}, {"facedetect:stack": "other"}])
def test_logs_reads_nothing_from_a_look_alike_group(invoke, tags):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP, tags=tags)
    for extra in ([], ["--function", "detect"], ["--output", "json"]):
        result = invoke("logs", *extra)
        assert_refused(result, "log-group", GROUP)
    # Another function's lines only: the look-alike is not read, nothing to refuse.
    other = invoke("logs", "--function", "store")
    assert other.exit_code == 3, other.stderr


def test_a_deployed_stack_passes_the_check(invoke, tmp_path):
    assert invoke("up").exit_code == 0
    image = tmp_path / "me.png"
    image.write_bytes(PNG)
    uploaded = invoke("detect", str(image), "--no-wait")
    assert uploaded.exit_code == 0, uploaded.stderr
    assert invoke("results").exit_code == 0
    assert invoke("logs").exit_code == 0
