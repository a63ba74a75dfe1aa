"""The metadata table: one item per image, keyed by ImageKey, billed on demand."""

from __future__ import annotations

from typing import Any

from facedetect_cli.aws.retry import TABLE_DELETING, Poll, retry_while
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import (
    Context,
    Observed,
    Resource,
    owned_by,
    tag_dict,
    tag_list,
)
from facedetect_cli.errors import AwsError

KEY_SCHEMA = [{"AttributeName": "ImageKey", "KeyType": "HASH"}]
ATTRIBUTES = [{"AttributeName": "ImageKey", "AttributeType": "S"}]


class Table(Resource):
    kind = "table"
    holds_data = True

    def __init__(self, names: Names) -> None:
        super().__init__(names.table, names.table_arn)
        self.names = names
        self._status_at_create: str | None = None

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        dynamodb = ctx.client("dynamodb")
        try:
            table = dynamodb.describe_table(TableName=self.name)["Table"]
        except AwsError as error:
            if error.code == "ResourceNotFoundException":
                return None
            raise
        if table.get("TableStatus") == "DELETING":
            return None
        tags = self._tags(ctx, table)
        return Observed(
            table["TableArn"],
            owned=owned_by(tags, self.names),
            attrs={
                "key_schema": table.get("KeySchema", []),
                "billing": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
                "item_count": table.get("ItemCount", 0),
            },
        )

    def _tags(self, ctx: Context, table: dict[str, Any]) -> dict[str, str]:
        """The table's tags, waiting out what DynamoDB answers about a table it is still
        creating. ListTagsOfResource answers ResourceNotFoundException for a table that is not
        ACTIVE yet, and its answers are eventually consistent: right after CreateTable (which
        tagged it) it may return no tags at all ("Wait for a few seconds, and then try the
        ListTagsOfResource request again", DynamoDB API Reference, TagResource). The stack
        tags its table at creation, so a table without tags that is CREATING, or was created
        in the last few minutes, is asked again before it is called someone else's."""
        dynamodb = ctx.client("dynamodb")
        arn = table["TableArn"]

        def read() -> dict[str, str]:
            found = tag_dict(dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags"))
            if not found and _maybe_untagged_yet(table):
                raise AwsError("no tags yet", code=_NO_TAGS_YET)
            return found

        try:
            return retry_while(
                read, lambda e: e.code in (_NO_TAGS_YET, "ResourceNotFoundException"),
                ctx.sleep, _TAGS_SETTLING)
        except AwsError as error:
            if error.code == _NO_TAGS_YET:
                return {}  # still none: an untagged table, someone else's
            raise

    def count_data(self, ctx: Context, observed: Observed) -> int:
        """Items held. DescribeTable's ItemCount lags by hours, so count with a scan; the
        table is the pipeline's own and small next to the images it describes."""
        total = 0
        for page in ctx.client("dynamodb").pages("scan", TableName=self.name, Select="COUNT"):
            total += page.get("Count", 0)
        return total

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        found = {}
        if observed.attrs["key_schema"] != KEY_SCHEMA:
            found["key_schema"] = (
                "the key schema is not ImageKey (string); it cannot be changed in place"
            )
        if observed.attrs["billing"] != "PAY_PER_REQUEST":
            found["billing"] = f"billing mode is {observed.attrs['billing']}, not on-demand"
        return found

    def create(self, ctx: Context) -> None:
        dynamodb = ctx.client("dynamodb")

        def create() -> dict[str, Any]:
            return dynamodb.create_table(
                TableName=self.name,
                AttributeDefinitions=ATTRIBUTES,
                KeySchema=KEY_SCHEMA,
                BillingMode="PAY_PER_REQUEST",
                Tags=tag_list(self.names.tags),
            )

        def still_deleting(error: AwsError) -> bool:
            # `down` then `up` at once: the plan read the DELETING table as absent, and
            # CreateTable of its name answers ResourceInUseException until it is gone.
            # Only then: a table that exists otherwise is not ours to wait for.
            if error.code != "ResourceInUseException":
                return False
            try:
                found = dynamodb.describe_table(TableName=self.name)["Table"]
            except AwsError as missing:
                return missing.code == "ResourceNotFoundException"  # gone since: try again
            return found.get("TableStatus") == "DELETING"

        created = retry_while(create, still_deleting, ctx.sleep, TABLE_DELETING)
        self._status_at_create = created["TableDescription"].get("TableStatus")

    def settle(self, ctx: Context) -> None:
        # Nothing in the stack depends on the table, so waiting costs no time on the critical
        # path, and `up` only reports success once the pipeline could write to it. AWS answers
        # CREATING; an answer of ACTIVE (moto's) needs no poll.
        if self._status_at_create != "ACTIVE":
            ctx.client("dynamodb").wait("table_exists", TableName=self.name, delay=2,
                                        max_attempts=60)

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        if "key_schema" in fields:
            raise AwsError(
                f"table {self.name} has another key schema; it cannot be changed in place: "
                "back up its items, delete it, and run up again",
                code="KeySchemaMismatch", operation="UpdateTable", service="dynamodb",
            )
        if "billing" in fields:
            ctx.client("dynamodb").update_table(TableName=self.name, BillingMode="PAY_PER_REQUEST")

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.client("dynamodb").delete_table(TableName=self.name)
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise


# Not an AWS code: what the tags read raises to itself to ask again.
_NO_TAGS_YET = "NoTagsYet"
# DynamoDB documents "a few seconds" for tags to show; half a minute covers that amply.
_TAGS_SETTLING = Poll(interval=1.0, budget=30.0)
# A table this young may not show the tags it was created with yet.
_YOUNG_S = 120.0


def _maybe_untagged_yet(table: dict[str, Any]) -> bool:
    import datetime

    if table.get("TableStatus") == "CREATING":
        return True
    created = table.get("CreationDateTime")
    if not isinstance(created, datetime.datetime):
        return False
    age = datetime.datetime.now(datetime.UTC) - created.astimezone(datetime.UTC)
    return age.total_seconds() < _YOUNG_S
