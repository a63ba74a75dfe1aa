"""The model's rules for IAM, Lambda, Step Functions and CloudWatch Logs (see behaviours.py for
how rules are called)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from awsmodel.model import Answer, Call, error_answer, json_answer
from awsmodel.rule_base import RuleBase
from awsmodel.wire import AwsError

FUNCTION_UPDATES = frozenset({"UpdateFunctionConfiguration", "UpdateFunctionCode",
                              "PublishVersion"})
LOG_GROUP_WRITES = frozenset({"DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy"})


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


class ComputeRules(RuleBase):
    roles: dict[str, Role]
    functions: dict[str, Function]
    machines: dict[str, Machine]
    log_groups_busy: dict[str, float]

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
                self._log_delivery_changes(machine.log_group, now, arn)
        return body, ""

    def _log_delivery_changes(self, group: str | None, now: float, about: str) -> None:
        """Step Functions sets up or tears down its log delivery to the group meanwhile:
        CloudWatch Logs answers OperationAbortedException to other writes on the group. tf:
        internal/service/logs/group.go retries DeleteLogGroup on OperationAbortedException
        ("try again") for a minute; doc: https://docs.aws.amazon.com/AmazonCloudWatchLogs/
        latest/APIReference/API_DeleteLogGroup.html (OperationAbortedException: "Multiple
        concurrent requests to update the same resource were in conflict")."""
        if group is None:
            return
        busy = now + self._draw("log_delivery_busy", group, about)
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
