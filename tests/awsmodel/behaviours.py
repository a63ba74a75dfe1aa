"""What AWS answers that moto does not, service by service, each with its source.

`before` may answer a call instead of moto (an error, or a read of something moto has already
forgotten, such as a table still DELETING on AWS); `after` sees moto's successful answer,
records what the call changed (when a table will be ACTIVE, when a role can be assumed) and
rewrites the answer where AWS's differs. All times are AWS seconds on the model's clock; every
window is drawn per resource from the seed (model.Draws), so a seed replays the same windows.

Sources: "tf:" is a file of hashicorp/terraform-provider-aws (the retries it needs against the
real APIs); "doc:" is AWS's documentation.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awsmodel.model import Answer, Call, error_answer, json_answer
from awsmodel.wire import AwsError, throttled

if TYPE_CHECKING:
    from awsmodel.model import AwsModel

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
FUNCTION_UPDATES = frozenset({"UpdateFunctionConfiguration", "UpdateFunctionCode",
                              "PublishVersion"})
LOG_GROUP_WRITES = frozenset({"DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy"})


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


@dataclass
class Role:
    assumable_at: float
    policy_at: float = 0.0
    conflict_until: float = 0.0


@dataclass
class Function:
    arn: str
    active_at: float
    updated_at: float = 0.0


@dataclass
class Machine:
    arn: str
    log_group: str | None
    description: dict[str, Any] | None = None
    deleting_until: float | None = None


def _last(arn: str, separator: str = "/") -> str:
    return arn.rsplit(separator, 1)[-1]


def _function_name(value: str) -> str:
    return value.split(":")[6] if value.startswith("arn:") else value


def _log_group_of(logging: dict[str, Any] | None) -> str | None:
    # arn:aws:logs:region:account:log-group:NAME:*
    for destination in (logging or {}).get("destinations", []):
        arn = destination.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "")
        if arn.count(":") >= 6:
            return arn.split(":")[6]
    return None


class Behaviours:
    def __init__(self, model: AwsModel) -> None:
        self.settings = model.settings
        self.draws = model.draws
        self.made: Counter[str] = Counter()  # how many times a name was made: a fresh draw each
        self.buckets: dict[str, Bucket] = {}
        self.bucket_cooldown: dict[str, float] = {}
        self.tables: dict[str, Table] = {}
        self.roles: dict[str, Role] = {}
        self.functions: dict[str, Function] = {}
        self.machines: dict[str, Machine] = {}
        self.log_groups_busy: dict[str, float] = {}

    def _draw(self, what: str, name: str, *more: object) -> float:
        bounds = getattr(self.settings, what)
        return self.draws.between(bounds, what, name, self.made[name], *more)

    def window(self, what: str, name: str, *more: object) -> float:
        """The window a resource made for the first time gets: what the benchmark's floor is
        made of (bench/aws_model.py)."""
        return self.draws.between(getattr(self.settings, what), what, name, 1, *more)

    def _made(self, name: str) -> None:
        self.made[name] += 1

    # dispatch ----------------------------------------------------------------------------
    def before(self, call: Call, now: float) -> Answer | None:
        answer = self._throttle(call, now)
        if answer is not None:
            return answer
        handler = getattr(self, f"_before_{call.service}", None)
        return handler(call, now) if handler else None

    def after(self, call: Call, now: float, status: int, body: bytes) -> tuple[bytes, str]:
        handler = getattr(self, f"_after_{call.service}", None)
        if handler is None or status >= 300:
            return body, ""
        return handler(call, now, body)

    def _throttle(self, call: Call, now: float) -> Answer | None:
        """Bursts of throttling, per service: every AWS API has a request rate per account and
        answers its throttling error above it (doc: https://docs.aws.amazon.com/general/latest/
        gr/api-retries.html). A burst throttles at most the first two attempts of a call, so
        botocore's standard retry mode (5 attempts, with backoff) absorbs it, as it does on
        AWS; a longer run is an outage, not a burst."""
        if call.attempt > min(2, call.max_attempts - 1):
            return None
        slot = int(now // self.settings.throttle_slot)
        if self.draws.fraction("burst", call.service, slot) >= self.settings.throttle_burst:
            return None
        if (self.draws.fraction("throttle", call.invocation, call.attempt)
                >= self.settings.throttle_attempt):
            return None
        return error_answer(throttled(call.service), "throttled")

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
        return _last(arn) if ":table/" in arn else None

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
                return error_answer(AwsError(
                    "dynamodb", "ResourceInUseException",
                    f"Attempt to change a resource which is still in use: Table is being "
                    f"deleted: {name}"), "table still deleting")
            if op == "DescribeTable":
                return json_answer("dynamodb", {"Table": {**table.description,
                                                          "TableStatus": "DELETING"}},
                                   "table still deleting")
            return None  # moto has forgotten it: not found, as AWS says of most calls then
        if now >= table.active_at:
            return None
        if op == "DeleteTable":
            return error_answer(AwsError(
                "dynamodb", "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being created: "
                f"{name}"), "table still creating")
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

    # IAM ---------------------------------------------------------------------------------
    def _before_iam(self, call: Call, now: float) -> Answer | None:
        role = self.roles.get(call.params.get("RoleName", ""))
        if call.operation == "DeleteRole" and role is not None and now < role.conflict_until:
            # DeleteConflict lingers after the role's policies are removed (IAM is eventually
            # consistent). tf: internal/service/iam/role.go deleteRole retries
            # DeleteConflictException for propagationTimeout (2 min); doc:
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html
            # #troubleshoot_general_eventual-consistency
            return error_answer(AwsError("iam", "DeleteConflict", "Cannot delete entity, must "
                                         "delete policies first.", 409), "role delete conflict")
        return None

    def _after_iam(self, call: Call, now: float, body: bytes) -> tuple[bytes, str]:
        name = call.params.get("RoleName", "")
        op = call.operation
        if op == "CreateRole":
            self._made(name)
            # A new role is not assumable by Lambda or Step Functions for seconds. doc:
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html
            # #troubleshoot_general_eventual-consistency; tf: internal/service/lambda/
            # function.go retryFunctionOp, internal/service/sfn/state_machine.go.
            self.roles[name] = Role(now + self._draw("role_propagation", name))
        elif name in self.roles and op in ("PutRolePolicy", "AttachRolePolicy"):
            self.roles[name].policy_at = now + self._draw("policy_propagation", name, op)
        elif name in self.roles and op in ("DeleteRolePolicy", "DetachRolePolicy"):
            self.roles[name].conflict_until = now + self._draw("delete_conflict", name, op)
        elif op == "DeleteRole":
            self.roles.pop(name, None)
        return body, ""

    def _role(self, arn: str | None) -> Role | None:
        return self.roles.get(_last(arn)) if arn else None

    # Lambda ------------------------------------------------------------------------------
    # doc: https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html (Pending before
    # Active; LastUpdateStatus InProgress during an update; "operations that modify the
    # function fail" meanwhile, with ResourceConflictException); tf: internal/service/lambda/
    # function.go (waitFunctionCreated, waitFunctionUpdated, retryFunctionOp retrying
    # "The role defined for the function cannot be assumed by Lambda" and
    # ResourceConflictException).
    def _before_lambda(self, call: Call, now: float) -> Answer | None:
        op = call.operation
        if op in ("CreateFunction", "UpdateFunctionConfiguration"):
            role = self._role(call.params.get("Role"))
            if role is not None and now < role.assumable_at:
                return error_answer(AwsError("lambda", "InvalidParameterValueException",
                                             "The role defined for the function cannot be "
                                             "assumed by Lambda."), "role not yet assumable")
        if op not in FUNCTION_UPDATES:
            return None
        function = self.functions.get(_function_name(call.params.get("FunctionName", "")))
        if function is None:
            return None
        if now < function.active_at:
            message = ("The operation cannot be performed at this time. The function is "
                       "currently in the following state: Pending")
        elif now < function.updated_at:
            message = ("The operation cannot be performed at this time. An update is in "
                       f"progress for resource: {function.arn}")
        else:
            return None
        return error_answer(AwsError("lambda", "ResourceConflictException", message, 409),
                            "function busy")

    def _after_lambda(self, call: Call, now: float, body: bytes) -> tuple[bytes, str]:
        op = call.operation
        name = _function_name(call.params.get("FunctionName", ""))
        if op == "DeleteFunction":
            self.functions.pop(name, None)
            return body, ""
        if op not in ("CreateFunction", "GetFunction", "GetFunctionConfiguration",
                      *FUNCTION_UPDATES):
            return body, ""
        document = json.loads(body)
        config = document.get("Configuration", document)
        if op == "CreateFunction":
            self._made(name)
            self.functions[name] = Function(config["FunctionArn"],
                                            now + self._draw("function_pending", name))
        elif op in FUNCTION_UPDATES and name in self.functions:
            self.functions[name].updated_at = now + self._draw("function_updating", name,
                                                               call.invocation)
        function = self.functions.get(name)
        if function is None:
            return body, ""
        behaviour = ""
        if now < function.active_at:
            config.update(State="Pending", StateReason="The function is being created.",
                          StateReasonCode="Creating")
            behaviour = "function pending"
        if now < function.updated_at:
            config.update(LastUpdateStatus="InProgress",
                          LastUpdateStatusReason="The function is being updated.",
                          LastUpdateStatusReasonCode="Updating")
            behaviour = behaviour or "function update in progress"
        return (json.dumps(document).encode(), behaviour) if behaviour else (body, "")

    # Step Functions ----------------------------------------------------------------------
    # doc: https://docs.aws.amazon.com/step-functions/latest/apireference/
    # API_DeleteStateMachine.html (status DELETING; "the state machine is deleted" later) and
    # API_CreateStateMachine.html (StateMachineDeleting); IAM propagation: the role must be
    # assumable by states.amazonaws.com and allowed to deliver logs (doc:
    # https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html); tf: internal/
    # service/sfn/state_machine.go retries the create on both AccessDenied messages.
    def _before_stepfunctions(self, call: Call, now: float) -> Answer | None:
        op = call.operation
        arn = call.params.get("stateMachineArn", "")
        name = call.params.get("name") if op == "CreateStateMachine" else _last(arn, ":")
        machine = self.machines.get(str(name))
        if machine is not None and machine.deleting_until is not None:
            if now >= machine.deleting_until:
                del self.machines[str(name)]
                machine = None
            elif op == "CreateStateMachine":
                return error_answer(AwsError("stepfunctions", "StateMachineDeleting",
                                             f"State machine is being deleted: {machine.arn}"),
                                    "state machine still deleting")
            elif op == "DescribeStateMachine" and machine.description is not None:
                return json_answer("stepfunctions",
                                   {**machine.description, "status": "DELETING"},
                                   "state machine still deleting")
        if op in ("CreateStateMachine", "UpdateStateMachine"):
            role = self._role(call.params.get("roleArn"))
            if role is not None and now < role.assumable_at:
                return error_answer(AwsError(
                    "stepfunctions", "AccessDeniedException",
                    "Neither the global service principal states.amazonaws.com, nor the "
                    "regional one is authorized to assume the provided role."),
                    "role not yet assumable")
            if (role is not None and now < role.policy_at
                    and _log_group_of(call.params.get("loggingConfiguration"))):
                return error_answer(AwsError(
                    "stepfunctions", "AccessDeniedException",
                    "The state machine IAM Role is not authorized to access the Log "
                    "Destination"), "role policy not yet visible")
        return None

    def _after_stepfunctions(self, call: Call, now: float, body: bytes) -> tuple[bytes, str]:
        op = call.operation
        if op == "CreateStateMachine":
            name = str(call.params.get("name"))
            self._made(name)
            arn = json.loads(body)["stateMachineArn"]
            group = _log_group_of(call.params.get("loggingConfiguration"))
            self.machines[name] = Machine(arn, group)
            self._log_delivery_changes(group, now, name)
        elif op in ("UpdateStateMachine", "DescribeStateMachine", "DeleteStateMachine"):
            arn = call.params.get("stateMachineArn", "")
            machine = self.machines.setdefault(_last(arn, ":"), Machine(arn, None))
            if op == "DescribeStateMachine":
                machine.description = json.loads(body)
                machine.log_group = _log_group_of(machine.description.get(
                    "loggingConfiguration")) or machine.log_group
            elif op == "UpdateStateMachine":
                self._log_delivery_changes(
                    _log_group_of(call.params.get("loggingConfiguration")), now, arn)
            else:
                machine.deleting_until = now + self._draw("state_machine_deleting", arn)
                self._log_delivery_changes(machine.log_group, now, arn,
                                           until=machine.deleting_until)
        return body, ""

    def _log_delivery_changes(self, group: str | None, now: float, about: str,
                              until: float = 0.0) -> None:
        """Step Functions sets up or tears down its log delivery to the group meanwhile:
        CloudWatch Logs answers OperationAbortedException to other writes on the group. tf:
        internal/service/logs/group.go retries DeleteLogGroup on OperationAbortedException
        ("try again") for a minute; doc: https://docs.aws.amazon.com/AmazonCloudWatchLogs/
        latest/APIReference/API_DeleteLogGroup.html (OperationAbortedException: "Multiple
        concurrent requests to update the same resource were in conflict")."""
        if group is None:
            return
        busy = max(now + self._draw("log_delivery_busy", group, about), until)
        self.log_groups_busy[group] = max(self.log_groups_busy.get(group, 0.0), busy)

    # CloudWatch Logs ---------------------------------------------------------------------
    def _before_logs(self, call: Call, now: float) -> Answer | None:
        group = call.params.get("logGroupName", "")
        if call.operation in LOG_GROUP_WRITES and now < self.log_groups_busy.get(group, 0.0):
            return error_answer(AwsError("logs", "OperationAbortedException",
                                         "Multiple concurrent requests to update the same "
                                         "resource were in conflict. Please try again."),
                                "log group busy")
        return None
