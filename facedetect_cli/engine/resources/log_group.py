"""CloudWatch Logs log groups: one per function (/aws/lambda/<function>) and one for the state
machine, each with a retention period, so `down` leaves no logs behind and none are kept (and
billed) forever.

Lambda creates /aws/lambda/<function> by itself, untagged, on a function's first invocation
when the group does not exist. Such a group of one of this stack's own functions (the function
exists and carries the stack's tag) can belong to nothing else, so `up` takes it over (tags it,
sets its retention) and `down` deletes it. Any other group with one of the stack's names but
without its tag is someone else's, as for every other kind: also when no function of that name
exists, for nothing then says whose logs these are.
"""

from __future__ import annotations

from typing import Any

from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import Context, Observed, Resource, owned_by
from facedetect_cli.engine.resources.function import function_tags
from facedetect_cli.errors import AwsError

UNMANAGED = "created by Lambda, not yet managed"


def _kept(days: int | None) -> str:
    return "logs never expire" if days is None else f"logs kept {days} days"


class LogGroup(Resource):
    kind = "log-group"

    def __init__(self, names: Names, group: str, *, function: str | None = None) -> None:
        """`function`: the Lambda function that writes to this group, if any; only such a
        group can be taken over when found untagged."""
        super().__init__(group, names.log_group_arn(group))
        self.names = names
        self.function = function

    @property
    def retention(self) -> int | None:
        return self.names.config.log_retention_days

    def _find(self, ctx: Context) -> dict[str, Any] | None:
        # The prefix also matches longer names (…Lambda-old); groups come back sorted by name,
        # so the exact one, if any, is on the first page.
        for page in ctx.client("logs").pages("describe_log_groups", logGroupNamePrefix=self.name):
            for group in page.get("logGroups", []):
                if group["logGroupName"] == self.name:
                    return group
            return None
        return None

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        found = self._find(ctx)
        if found is None:
            return None
        arn = found.get("logGroupArn") or found["arn"].removesuffix(":*")
        tags = ctx.client("logs").list_tags_for_resource(resourceArn=arn).get("tags") or {}
        attrs = {"retention": found.get("retentionInDays"), "unmanaged": False}
        if owned_by(tags, self.names):
            return Observed(arn, owned=True, attrs=attrs, detail=_kept(attrs["retention"]))
        if tags or self.function is None or not self._function_is_ours(ctx):
            return Observed(arn, owned=False, detail="exists without the stack's tag")
        return Observed(arn, owned=True, attrs={**attrs, "unmanaged": True}, detail=UNMANAGED)

    def _function_is_ours(self, ctx: Context) -> bool:
        """An untagged group may be Lambda's doing for the function of that name: it is the
        stack's only when that function exists and is the stack's."""
        try:
            found = ctx.client("lambda").get_function(FunctionName=self.function)
        except AwsError as error:
            if error.code == "ResourceNotFoundException":
                return False
            raise
        return owned_by(function_tags(ctx, found), self.names)

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        found = {}
        if observed.attrs["unmanaged"]:
            found["tags"] = UNMANAGED
        have = observed.attrs["retention"]
        if self.retention is None:  # status without --log-retention-days: any period will do
            if have is None:
                found["retention"] = "logs never expire"
        elif have != self.retention:
            found["retention"] = f"{_kept(have)}, not {self.retention}"
        return found

    def create(self, ctx: Context) -> None:
        logs = ctx.client("logs")
        try:
            # Tagged in the same call: an interrupted `up` never leaves an untagged group.
            logs.create_log_group(logGroupName=self.name, tags=self.names.tags)
        except AwsError as error:
            if error.code != "ResourceAlreadyExistsException":
                raise
            # The function was invoked between the plan's read and now, and Lambda made the
            # group: take it over if it is ours to take, as the next plan would (settle sets
            # its retention).
            observed = self.read(ctx)
            if observed is None or not observed.owned:
                raise
            if observed.attrs["unmanaged"]:
                self._tag(ctx)

    def settle(self, ctx: Context) -> None:
        self._put_retention(ctx)

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        if "tags" in fields:
            self._tag(ctx)
        if fields & {"tags", "retention"}:
            self._put_retention(ctx)

    def _tag(self, ctx: Context) -> None:
        ctx.client("logs").tag_resource(resourceArn=self.arn, tags=self.names.tags)

    def _put_retention(self, ctx: Context) -> None:
        if self.retention is not None:
            ctx.client("logs").put_retention_policy(logGroupName=self.name,
                                                    retentionInDays=self.retention)

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.client("logs").delete_log_group(logGroupName=self.name)
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise
