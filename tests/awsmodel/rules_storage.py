"""The model's rules for S3 and DynamoDB (see behaviours.py for how rules are called)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from awsmodel.model import Answer, Call, error_answer, json_answer
from awsmodel.rule_base import RuleBase
from awsmodel.wire import AwsError

# Bucket-level writes that S3 serialises: while one is in progress another answers 409
# OperationAborted ("A conflicting conditional operation is currently in progress against this
# resource"). tf: internal/service/s3/service_package.go retries OperationAborted on every S3
# call; tf: internal/service/s3/bucket_server_side_encryption_configuration.go (and the other
# bucket_* resources) retry NoSuchBucket and OperationAborted for s3BucketPropagationTimeout.
BUCKET_WRITES = frozenset({
    "PutPublicAccessBlock", "PutBucketEncryption", "PutBucketNotificationConfiguration",
    "PutBucketPolicy", "PutBucketTagging", "PutBucketVersioning", "PutBucketOwnershipControls",
    "PutBucketLifecycleConfiguration", "DeleteBucketPolicy", "DeleteBucketTagging",
    "DeletePublicAccessBlock", "DeleteBucketEncryption", "DeleteBucket",
})
S3_CONFLICT = ("A conflicting conditional operation is currently in progress against this "
               "resource. Please try again.")
TABLE_DATA_OPERATIONS = frozenset({"PutItem", "GetItem", "UpdateItem", "DeleteItem", "Scan",
                                   "Query", "BatchWriteItem", "BatchGetItem"})


@dataclass
class Bucket:
    visible_at: float
    busy_until: float = 0.0


@dataclass
class Table:
    arn: str
    active_at: float
    tags_at: float
    description: dict[str, Any] = field(default_factory=dict)
    deleting_until: float | None = None


def _in_use(why: str, behaviour: str) -> Answer:
    return error_answer(AwsError("dynamodb", "ResourceInUseException",
                                 f"Attempt to change a resource which is still in use: {why}"),
                        behaviour)


class StorageRules(RuleBase):
    buckets: dict[str, Bucket]
    bucket_cooldown: dict[str, float]
    tables: dict[str, Table]

    # S3 ----------------------------------------------------------------------------------
    def _before_s3(self, call: Call, now: float) -> Answer | None:
        name = call.params.get("Bucket")
        if not name:
            return None
        if call.operation == "CreateBucket":
            # CreateBucket of a name deleted moments ago: OperationAborted while S3 finishes
            # the delete. tf: internal/service/s3/bucket.go retries CreateBucket on
            # OperationAborted.
            if now < self.bucket_cooldown.get(name, float("-inf")):
                return error_answer(AwsError("s3", "OperationAborted", S3_CONFLICT, 409),
                                    "bucket name still being deleted")
            return None
        bucket = self.buckets.get(name)
        if bucket is None:
            return None
        if now < bucket.visible_at:
            # NoSuchBucket for a short while after CreateBucket. tf: internal/service/s3/
            # bucket.go waits for the bucket with RetryWhenNotFound after create, and the
            # bucket_* resources retry NoSuchBucket for s3BucketPropagationTimeout (2 min);
            # doc: https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html
            # #ConsistencyModel ("bucket configurations have an eventual consistency model").
            return error_answer(AwsError("s3", "NoSuchBucket", "The specified bucket does not "
                                         "exist", 404, extra_xml={"BucketName": name}),
                                "bucket not yet visible")
        if call.operation in BUCKET_WRITES:
            if now < bucket.busy_until:
                return error_answer(AwsError("s3", "OperationAborted", S3_CONFLICT, 409),
                                    "bucket writes overlap")
            bucket.busy_until = now + self._draw("bucket_write_busy", name, call.operation)
        return None

    def _after_s3(self, call: Call, now: float, body: bytes) -> tuple[bytes, str]:
        name = call.params.get("Bucket", "")
        if call.operation == "CreateBucket":
            self._made(name)
            self.buckets[name] = Bucket(visible_at=now + self._draw("bucket_not_visible", name))
        elif call.operation == "DeleteBucket":
            self.buckets.pop(name, None)
            self.bucket_cooldown[name] = now + self._draw("bucket_name_cooldown", name)
        return body, ""

    # DynamoDB ----------------------------------------------------------------------------
    # doc: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
    # (CreateTable answers TableStatus CREATING; "you can perform read and write operations
    # only on an ACTIVE table"; ResourceInUseException when recreating a table being deleted
    # or deleting one being created) and API_DeleteTable.html (DELETING until it is gone);
    # API_ListTagsOfResource.html / Tagging.Operations: tags are eventually consistent.
    # tf: internal/service/dynamodb/wait.go (waitTableActive, waitTableDeleted).
    def _table_name(self, call: Call) -> str | None:
        if "TableName" in call.params:
            return str(call.params["TableName"])
        arn = call.params.get("ResourceArn", "")
        return arn.rsplit("/", 1)[-1] if ":table/" in arn else None

    def _before_dynamodb(self, call: Call, now: float) -> Answer | None:
        name = self._table_name(call)
        table = self.tables.get(name) if name else None
        if table is None:
            return None
        op = call.operation
        if table.deleting_until is not None:
            if now >= table.deleting_until:
                del self.tables[str(name)]
                return None
            if op == "CreateTable":
                return _in_use(f"Table is being deleted: {name}", "table still deleting")
            if op == "DescribeTable":
                return json_answer("dynamodb", {"Table": {**table.description,
                                                          "TableStatus": "DELETING"}},
                                   "table still deleting")
            return None  # moto has forgotten it: not found, as AWS says of most calls then
        if now >= table.active_at:
            return None
        if op == "DeleteTable":
            return _in_use(f"Table is being created: {name}", "table still creating")
        if op == "ListTagsOfResource" or op in TABLE_DATA_OPERATIONS:
            return error_answer(AwsError(
                "dynamodb", "ResourceNotFoundException",
                f"Requested resource not found: ResourceArn: {table.arn} not found"
                if op == "ListTagsOfResource" else "Requested resource not found"),
                "table still creating")
        return None

    def _after_dynamodb(self, call: Call, now: float, body: bytes) -> tuple[bytes, str]:
        name = self._table_name(call)
        op = call.operation
        if not name or op not in ("CreateTable", "DescribeTable", "ListTagsOfResource",
                                  "DeleteTable"):
            return body, ""
        document = json.loads(body)
        if op == "CreateTable":
            self._made(name)
            active_at = now + self._draw("table_creating", name)
            description = document["TableDescription"]
            self.tables[name] = Table(description["TableArn"], active_at,
                                      active_at + self._draw("table_tags_lag", name),
                                      description)
            description["TableStatus"] = "CREATING"
            return json.dumps(document).encode(), "table creating"
        table = self.tables.get(name)
        if table is None:
            return body, ""
        if op == "DescribeTable" and now < table.active_at:
            document["Table"]["TableStatus"] = "CREATING"
            return json.dumps(document).encode(), "table creating"
        if op == "ListTagsOfResource" and now < table.tags_at and document.get("Tags"):
            document["Tags"] = []
            return json.dumps(document).encode(), "table tags not yet visible"
        if op == "DeleteTable":
            table.deleting_until = now + self._draw("table_deleting", name)
            table.description = document["TableDescription"]
            document["TableDescription"]["TableStatus"] = "DELETING"
            return json.dumps(document).encode(), "table deleting"
        return body, ""
