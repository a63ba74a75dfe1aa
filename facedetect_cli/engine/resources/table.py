"""The metadata table: one item per image, keyed by ImageKey, billed on demand."""

from __future__ import annotations

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
        tags = tag_dict(dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))
        return Observed(
            table["TableArn"],
            owned=owned_by(tags, self.names),
            attrs={
                "key_schema": table.get("KeySchema", []),
                "billing": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
                "item_count": table.get("ItemCount", 0),
            },
        )

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
        created = ctx.client("dynamodb").create_table(
            TableName=self.name,
            AttributeDefinitions=ATTRIBUTES,
            KeySchema=KEY_SCHEMA,
            BillingMode="PAY_PER_REQUEST",
            Tags=tag_list(self.names.tags),
        )
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
