"""The Step Functions state machine, from the state_machine.json template."""

from __future__ import annotations

import json
from typing import Any

from facedetect_cli.aws.retry import PROPAGATION, is_iam_propagation_error, retry_while
from facedetect_cli.build import features as feature_names
from facedetect_cli.build import workflow
from facedetect_cli.build.features import TAG_KEY as FEATURES_TAG
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

TEMPLATE = "state_machine.json"
FEATURES_TEMPLATE = "state_machine_features.json"
# Failed executions only, and without their input and output: an execution's data is the S3
# event and the detected faces, which have no place in a log kept for weeks.
LOG_LEVEL = "ERROR"


class StateMachine(Resource):
    kind = "state-machine"

    def __init__(self, names: Names, *, role: str, functions: list[str],
                 features: frozenset[str] = frozenset()) -> None:
        super().__init__(
            names.state_machine,
            names.state_machine_arn,
            # Step Functions checks at create that the role may deliver logs, not that the
            # functions exist: it is created while they go Active, and ready when they are.
            depends_on=[f"role:{role}"],
            uses=[f"log-group:{names.state_machine_log_group}",
                  *[f"function:{names.function(m)}" for m in functions]],
        )
        self.names = names
        self.role_arn = names.role_arn(role)
        self.functions = functions
        self.features = features

    @property
    def tags(self) -> dict[str, str]:
        # The stack remembers its features here: an `up` without --with/--without keeps them.
        return {**self.names.tags, FEATURES_TAG: feature_names.tag_value(self.features)}

    def definition(self, ctx: Context) -> dict[str, Any]:
        names = self.names
        values = {
            "StackName": names.stack,
            "DetectFacesFunctionArn": names.function_arn("detect_faces"),
            "StoreMetadataFunctionArn": names.function_arn("store_metadata"),
            "SendNotificationFunctionArn": names.function_arn("send_notification"),
            "ResultsTopicArn": names.topic_arn(names.results_topic),
            "FailureTopicArn": names.topic_arn(names.failures_topic),
            **{placeholder: names.function_arn(module)
               for module, placeholder in workflow.FUNCTION_PLACEHOLDERS.items()},
        }
        base = ctx.assets.template(TEMPLATE, values)
        if not self.features:
            return base
        return workflow.compose(base, ctx.assets.template(FEATURES_TEMPLATE, values),
                                self.features)

    def logging(self) -> dict[str, Any]:
        group = self.names.log_group_arn(self.names.state_machine_log_group)
        return {
            "level": LOG_LEVEL,
            "includeExecutionData": False,
            # Step Functions wants the group's ARN with the ":*" suffix.
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{group}:*"}}],
        }

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
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
                   "type": found.get("type", "STANDARD"),
                   "logging": found.get("loggingConfiguration") or {},
                   "features": feature_names.from_tag(tags.get(FEATURES_TAG))},
            detail=found.get("type", "STANDARD").lower(),
        )

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        found = {}
        if canonical_json(observed.attrs["definition"]) != canonical_json(self.definition(ctx)):
            found["definition"] = "definition differs"
        if observed.attrs["role"] != self.role_arn:
            found["role"] = "role differs"
        logging = _logging_difference(observed.attrs["logging"], self.logging())
        if logging:
            found["logging"] = logging
        if observed.attrs["type"] != "STANDARD":
            found["type"] = "type is not STANDARD (cannot be changed in place)"
        if observed.attrs["features"] != self.features:
            found["features"] = (
                f"features {feature_names.describe(observed.attrs['features'])} -> "
                f"{feature_names.describe(self.features)}"
            )
        return found

    def create(self, ctx: Context) -> None:
        sfn = ctx.client("stepfunctions")
        retry_while(
            lambda: sfn.create_state_machine(
                name=self.name,
                definition=json.dumps(self.definition(ctx)),
                roleArn=self.role_arn,
                type="STANDARD",
                loggingConfiguration=self.logging(),
                tags=tag_list(self.tags, key="key", value="value"),
            ),
            # Recreating right after a delete fails until the old one is gone.
            lambda e: e.code == "StateMachineDeleting" or _not_yet_visible(e),
            ctx.sleep,
            PROPAGATION,
        )

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        if "type" in fields:
            raise AwsError(
                f"state machine {self.name} is not STANDARD and its type cannot be changed in "
                "place: run `facedetect down` then `facedetect up`",
                code="TypeMismatch", operation="UpdateStateMachine", service="stepfunctions",
            )
        sfn = ctx.client("stepfunctions")
        if fields - {"features"}:
            retry_while(
                lambda: sfn.update_state_machine(
                    stateMachineArn=self.arn,
                    definition=json.dumps(self.definition(ctx)),
                    roleArn=self.role_arn,
                    loggingConfiguration=self.logging(),
                ),
                _not_yet_visible,
                ctx.sleep,
                PROPAGATION,
            )
        if "features" in fields:
            # After the definition: the tag must never name features the machine lacks.
            sfn.tag_resource(resourceArn=self.arn, tags=tag_list(
                {FEATURES_TAG: feature_names.tag_value(self.features)}, key="key", value="value"))

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.client("stepfunctions").delete_state_machine(stateMachineArn=self.arn)
        except AwsError as error:
            if error.code != "StateMachineDoesNotExist":
                raise


def _not_yet_visible(error: AwsError) -> bool:
    """IAM propagation, including of the role's log delivery permissions: right after they are
    put, Step Functions checks them and answers "The state machine IAM Role is not authorized
    to access the Log Destination" until they are visible to it."""
    return is_iam_propagation_error(error) or (
        error.code == "AccessDeniedException"
        and "not authorized to access the log destination" in str(error).lower()
    )


def _logging_difference(have: dict[str, Any], want: dict[str, Any]) -> str:
    """Why the logging configuration differs, or "" when it does not. AWS leaves out
    includeExecutionData and destinations when they are off or empty."""
    level = have.get("level", "OFF")
    if level != want["level"]:
        return f"logging level is {level}, not {want['level']}"
    if bool(have.get("includeExecutionData")) != want["includeExecutionData"]:
        return "execution data is logged"
    if canonical_json(have.get("destinations") or []) != canonical_json(want["destinations"]):
        return "logs go to another log group"
    return ""
