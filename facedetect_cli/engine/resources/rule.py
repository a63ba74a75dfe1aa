"""The EventBridge rule: the bucket's native "Object Created" events for image uploads under
the uploads prefix, delivered to the state machine."""

from __future__ import annotations

import json
from typing import Any

from facedetect_cli.aws.parallel import parallel
from facedetect_cli.aws.retry import PROPAGATION, is_iam_propagation_error, retry_while
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import (
    Context,
    Observed,
    Resource,
    canonical_json,
    owned_by,
    tag_dict,
    tag_list,
)
from facedetect_cli.errors import AwsError

TEMPLATE = "event_rule.json"
TARGET_ID = "StepFunctionTarget"


class Rule(Resource):
    kind = "rule"

    def __init__(self, names: Names, *, role: str, bucket_key: str, state_machine_key: str) -> None:
        super().__init__(names.rule, names.rule_arn,
                         depends_on=[f"role:{role}", bucket_key, state_machine_key])
        self.names = names
        self.role_arn = names.role_arn(role)

    def pattern(self, ctx: Context) -> dict[str, Any]:
        return ctx.assets.template(TEMPLATE, {
            "BucketName": self.names.bucket,
            "UploadsPrefix": self.names.config.uploads_prefix,
        })

    def target(self) -> dict[str, Any]:
        # No Input/InputPath: the execution's input is the whole S3 event.
        return {"Id": TARGET_ID, "Arn": self.names.state_machine_arn, "RoleArn": self.role_arn}

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        events = ctx.client("events")
        try:
            rule = events.describe_rule(Name=self.name)
        except AwsError as error:
            if error.code == "ResourceNotFoundException":
                return None
            raise
        # Both at once: the targets are needed whenever the rule is the stack's (to compare,
        # or to remove before DeleteRule), and are one wasted read when it is not.
        arn = rule["Arn"]
        tags, targets = parallel(
            lambda: tag_dict(events.list_tags_for_resource(ResourceARN=arn).get("Tags")),
            lambda: [{k: t.get(k) for k in ("Id", "Arn", "RoleArn")}
                     for page in events.pages("list_targets_by_rule", Rule=self.name)
                     for t in page.get("Targets", [])],
        )
        if not owned_by(tags, self.names):
            return Observed(rule["Arn"], owned=False, detail="exists without the stack's tag")
        return Observed(
            rule["Arn"],
            owned=True,
            attrs={"pattern": rule.get("EventPattern", "{}"), "state": rule.get("State"),
                   "targets": targets},
            detail=(rule.get("State") or "").lower(),
        )

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        found = {}
        if canonical_json(observed.attrs["pattern"]) != canonical_json(self.pattern(ctx)):
            found["pattern"] = "event pattern differs"
        if observed.attrs["state"] != "ENABLED":
            found["state"] = "rule is disabled"
        if observed.attrs["targets"] != [self.target()]:
            found["targets"] = "targets differ"
        return found

    def _put_rule(self, ctx: Context, *, tags: bool) -> None:
        extra: dict[str, Any] = {"Tags": tag_list(self.names.tags)} if tags else {}
        ctx.client("events").put_rule(
            Name=self.name,
            EventPattern=json.dumps(self.pattern(ctx)),
            State="ENABLED",
            Description=f"facedetect stack {self.names.stack}: start the workflow on image "
            "uploads",
            **extra,
        )

    def _put_target(self, ctx: Context) -> None:
        def put() -> None:
            result = ctx.client("events").put_targets(Rule=self.name, Targets=[self.target()])
            # PutTargets reports failures in its answer instead of raising them.
            for failed in result.get("FailedEntries", []):
                raise AwsError(
                    f"PutTargets: {failed.get('ErrorMessage')} ({failed.get('ErrorCode')})",
                    code=str(failed.get("ErrorCode")), operation="PutTargets",
                    service="events",
                )

        retry_while(put, is_iam_propagation_error, ctx.sleep, PROPAGATION)

    def create(self, ctx: Context) -> None:
        self._put_rule(ctx, tags=True)
        self._put_target(ctx)

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        if fields & {"pattern", "state"}:
            self._put_rule(ctx, tags=False)
        if "targets" in fields:
            stale = [t["Id"] for t in observed.attrs["targets"] if t["Id"] != TARGET_ID]
            if stale:
                ctx.client("events").remove_targets(Rule=self.name, Ids=stale)
            self._put_target(ctx)

    def delete(self, ctx: Context, observed: Observed) -> None:
        events = ctx.client("events")
        ids = [t["Id"] for t in observed.attrs.get("targets", [])]
        try:
            # A rule with targets cannot be deleted.
            if ids:
                events.remove_targets(Rule=self.name, Ids=ids)
            events.delete_rule(Name=self.name)
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise
