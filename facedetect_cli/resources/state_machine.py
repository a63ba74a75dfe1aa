"""The Step Functions state machine, from the state_machine.json template."""

from __future__ import annotations

import json
from typing import Any

from facedetect_cli.errors import AwsError
from facedetect_cli.naming import Names
from facedetect_cli.resources.base import (
    Context,
    Observed,
    Resource,
    canonical_json,
    owned_by,
    tag_dict,
    tag_list,
)
from facedetect_cli.retry import is_iam_propagation_error, retry_while

TEMPLATE = "state_machine.json"


class StateMachine(Resource):
    kind = "state-machine"

    def __init__(self, names: Names, *, role: str, functions: list[str]) -> None:
        super().__init__(
            names.state_machine,
            names.state_machine_arn,
            depends_on=[f"role:{role}", *[f"function:{names.function(m)}" for m in functions]],
        )
        self.names = names
        self.role_arn = names.role_arn(role)
        self.functions = functions

    def definition(self, ctx: Context) -> dict[str, Any]:
        names = self.names
        return ctx.assets.template(TEMPLATE, {
            "StackName": names.stack,
            "DetectFacesFunctionArn": names.function_arn("detect_faces"),
            "StoreMetadataFunctionArn": names.function_arn("store_metadata"),
            "SendNotificationFunctionArn": names.function_arn("send_notification"),
            "ResultsTopicArn": names.topic_arn(names.results_topic),
            "FailureTopicArn": names.topic_arn(names.failures_topic),
        })

    def read(self, ctx: Context) -> Observed | None:
        sfn = ctx.client("stepfunctions")
        try:
            found = sfn.describe_state_machine(stateMachineArn=self.arn)
        except AwsError as error:
            if error.code == "StateMachineDoesNotExist":
                return None
            raise
        if found.get("status") == "DELETING":
            return None
        tags = tag_dict(sfn.list_tags_for_resource(resourceArn=self.arn).get("tags"),
                        key="key", value="value")
        return Observed(
            self.arn,
            owned=owned_by(tags, self.names),
            attrs={"definition": found["definition"], "role": found["roleArn"],
                   "type": found.get("type", "STANDARD")},
            detail=found.get("type", "STANDARD").lower(),
        )

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        found = {}
        if canonical_json(observed.attrs["definition"]) != canonical_json(self.definition(ctx)):
            found["definition"] = "definition differs"
        if observed.attrs["role"] != self.role_arn:
            found["role"] = "role differs"
        if observed.attrs["type"] != "STANDARD":
            found["type"] = "type is not STANDARD (cannot be changed in place)"
        return found

    def create(self, ctx: Context) -> None:
        sfn = ctx.client("stepfunctions")
        retry_while(
            lambda: sfn.create_state_machine(
                name=self.name,
                definition=json.dumps(self.definition(ctx)),
                roleArn=self.role_arn,
                type="STANDARD",
                tags=tag_list(self.names.tags, key="key", value="value"),
            ),
            # Recreating right after a delete fails until the old one is gone.
            lambda e: e.code == "StateMachineDeleting" or is_iam_propagation_error(e),
            ctx.sleep,
        )

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        if "type" in fields:
            raise AwsError(
                f"state machine {self.name} is not STANDARD and its type cannot be changed in "
                "place: run `facedetect down` then `facedetect up`",
                code="TypeMismatch", operation="UpdateStateMachine", service="stepfunctions",
            )
        sfn = ctx.client("stepfunctions")
        retry_while(
            lambda: sfn.update_state_machine(
                stateMachineArn=self.arn,
                definition=json.dumps(self.definition(ctx)),
                roleArn=self.role_arn,
            ),
            is_iam_propagation_error,
            ctx.sleep,
        )

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.client("stepfunctions").delete_state_machine(stateMachineArn=self.arn)
        except AwsError as error:
            if error.code != "StateMachineDoesNotExist":
                raise
