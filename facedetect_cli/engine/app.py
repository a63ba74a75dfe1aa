"""The context object each command hands off to: it opens the AWS session for one target,
builds the stack's resources, plans, applies, and shapes the results as plain data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facedetect_cli.aws.connection import Connection
from facedetect_cli.aws.parallel import parallel
from facedetect_cli.build import features
from facedetect_cli.build.assets import Assets
from facedetect_cli.engine.apply import DONE, FAILED, PAST_TENSE, SKIPPED, Event, Outcome, apply
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.plan import (
    ABSENT,
    CREATE,
    DELETE,
    FOREIGN,
    KEEP,
    UNCHANGED,
    UPDATE,
    Observation,
    Plan,
    Reading,
    assess,
    observe,
    plan_down,
    plan_up,
)
from facedetect_cli.engine.resources.base import Context, Observed, Resource, owned_by, tag_dict
from facedetect_cli.engine.resources.legacy_role import LegacyRole
from facedetect_cli.engine.resources.state_machine import StateMachine
from facedetect_cli.engine.stack import build_stack, feature_resources, legacy_roles
from facedetect_cli.errors import AwsError, InputError, NotOwnedError

if TYPE_CHECKING:
    from facedetect_cli.aws.hooks import FaultRule
    from facedetect_cli.observe.logs import LogReader
    from facedetect_cli.observe.pipeline import Pipeline

PRESENT, MISSING, DRIFTED = "present", "missing", "drifted"


@dataclass
class StatusRow:
    kind: str
    name: str
    arn: str
    state: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "arn": self.arn, "state": self.state,
                "detail": self.detail}


class StackApp:
    def __init__(
        self,
        connection: Connection,
        config: StackConfig,
        *,
        fault_rules: Sequence[FaultRule] = (),
        sleep: Callable[[float], None] = time.sleep,
        assets: Assets | None = None,
        call_log: Callable[[str, str], None] | None = None,
    ) -> None:
        # boto3 is imported here, by the first command that needs AWS, not at start-up.
        from facedetect_cli.aws.session import AwsSession

        self.aws = AwsSession(connection, fault_rules=fault_rules, call_log=call_log,
                              sleep=sleep)
        self.names = Names(config, self.aws.account_id, self.aws.region)
        self.ctx = Context(self.aws, self.names, assets or Assets(), sleep)
        # Both worked out on first use: `up` and `status` learn the features from the reads of
        # the stack itself (the state machine's tag); commands such as `logs` never pay.
        self._features: frozenset[str] | None = config.features
        self._resources: list[Resource] | None = None

    # features ----------------------------------------------------------------------------
    @property
    def features(self) -> frozenset[str]:
        """The features `up` builds and `status` checks: the config's own set, else the ones
        the stack remembers, plus --with, minus --without."""
        if self._features is None:
            config = self.names.config
            self._features = features.resolve(self.remembered_features(),
                                              config.with_features, config.without_features)
        return self._features

    def remembered_features(self) -> frozenset[str]:
        """The features named by the tag of the stack's own state machine; none when it does
        not exist (a new stack, or one from before features)."""
        sfn = self.ctx.client("stepfunctions")
        try:
            found = sfn.list_tags_for_resource(resourceArn=self.names.state_machine_arn)
        except AwsError as error:
            if error.code in ("ResourceNotFound", "StateMachineDoesNotExist", "InvalidArn"):
                return frozenset()
            raise
        tags = tag_dict(found.get("tags"), key="key", value="value")
        if not owned_by(tags, self.names):
            return frozenset()  # someone else's machine says nothing about this stack
        return features.from_tag(tags.get(features.TAG_KEY))

    def resources_by_feature(self) -> dict[str, list[Resource]]:
        """Each enabled feature's resources (for status)."""
        keys = {r.key for r in self.resources}
        return {feature: [r for r in feature_resources(self.names, feature) if r.key in keys]
                for feature in features.FEATURES if feature in self.features}

    @property
    def resources(self) -> list[Resource]:
        if self._resources is None:
            self._resources = build_stack(self.names, self.features)
        return self._resources

    @resources.setter
    def resources(self, value: list[Resource]) -> None:
        self._resources = value

    @property
    def header(self) -> dict[str, str]:
        return {"stack": self.names.stack, "region": self.names.region,
                "account": self.names.account}

    def api_calls(self) -> dict[str, int]:
        return self.aws.counter.totals()

    # up / down ---------------------------------------------------------------------------
    def _observe(self, extra: Sequence[Resource] = ()) -> dict[str, Observation]:
        """Read the stack (and `extra`) in one wave, learning the features it remembers from
        the same reads: its state machine's tag comes with the state machine. Only a stack
        with features beyond --with needs a second wave, for theirs."""
        config = self.names.config
        if self._features is not None:
            return observe([*self.resources, *extra], self.ctx)
        named = build_stack(self.names, features.validate(config.with_features, "--with"))
        observations = observe([*named, *extra], self.ctx)
        machine = observations[f"{StateMachine.kind}:{self.names.state_machine}"].observed
        remembered: frozenset[str] = frozenset()
        if machine is not None and machine.owned:
            remembered = machine.attrs["features"]
        self._features = features.resolve(remembered, config.with_features,
                                          config.without_features)
        unread = [r for r in self.resources if r.key not in observations]
        if unread:
            observations.update(observe(unread, self.ctx))
        return observations

    def plan_up(self) -> Plan:
        """Create and update the stack with its features; delete what a feature turned off
        left behind (its resources that exist and are the stack's)."""
        config = self.names.config
        self._refuse_region_without_rekognition()
        if config.features is not None:
            turned_off = frozenset(features.FEATURES) - config.features
        else:
            turned_off = features.validate(config.without_features, "--without")
        remove = [resource for feature in features.FEATURES if feature in turned_off
                  for resource in feature_resources(self.names, feature)]
        # This region's roles of an earlier version go once its functions, state machine and
        # rule use the new ones: plan_up deletes after every create and update.
        remove += legacy_roles(self.names)
        observations = self._observe(remove)
        return plan_up(self.resources, self.ctx, remove=remove, observations=observations)

    def plan_down(self, *, keep_data: bool = False) -> Plan:
        """Everything of every feature too: a stack that lost its state machine (and with it
        the tag naming its features) still goes completely."""
        everything = build_stack(self.names, frozenset(features.FEATURES))
        plan = plan_down([*everything, *legacy_roles(self.names)], self.ctx,
                         keep_data=keep_data)
        # Features the stack never had would only add lines of "absent"; roles of an earlier
        # version are part of it only when they exist and are this region's.
        optional = {r.key for f in features.FEATURES for r in feature_resources(self.names, f)}
        plan.steps = [s for s in plan.steps
                      if not (s.action == ABSENT and s.resource.key in optional)
                      and not (isinstance(s.resource, LegacyRole) and s.action != DELETE)]
        return plan

    def _refuse_region_without_rekognition(self) -> None:
        """Rekognition is offered in fewer regions than S3. A stack built where it is not
        could never detect a face, while status called it healthy: refuse before any write,
        naming the regions that work. The duplicates feature's face collection is
        Rekognition's too; botocore's endpoint data lists services, not operations, and AWS
        documents no region with DetectFaces but without collections."""
        offered = self.aws.regions_offering("rekognition")
        if offered is None or self.aws.region in offered:
            return
        wants = self.names.config.with_features + tuple(self.names.config.features or ())
        needs = "detects the faces"
        if features.DUPLICATES in wants:
            needs += " and keeps the face collection of --with duplicates"
        choices = ", ".join(sorted(offered)) or "none in this partition"
        raise InputError(f"region {self.aws.region} does not offer Amazon Rekognition, which "
                         f"{needs}: choose a region that does ({choices})")

    def apply(self, plan: Plan, on_event: Callable[[Event], None] = lambda e: None,
              stop: threading.Event | None = None) -> list[Outcome]:
        return apply(plan, self.ctx, on_event, stop)

    # status ------------------------------------------------------------------------------
    def status(self) -> list[StatusRow]:
        """Every resource of the stack, then the roles of an earlier version that exist: this
        region's as drift (`up` replaces it), another region's as present, with whose it is."""
        legacy = legacy_roles(self.names)
        observations = self._observe(legacy)
        rows = [status_row(r) for r in assess(self.resources, observations, self.ctx)]
        for reading in assess(legacy, observations, self.ctx):
            observed = reading.observed
            if observed is None:
                continue
            if observed.owned:
                rows.append(status_row(reading))
            else:
                rows.append(StatusRow(reading.resource.kind, reading.resource.name,
                                      observed.arn, PRESENT, observed.detail))
        return rows

    def pipeline(self) -> Pipeline:
        """The deployed pipeline, for uploads and reading results (detect, results), once its
        bucket, table and state machine are known to be the stack's own (or missing)."""
        from facedetect_cli.observe.pipeline import Pipeline, PipelineNames

        self.check_owned([f"bucket:{self.names.bucket}", f"table:{self.names.table}",
                          f"{StateMachine.kind}:{self.names.state_machine}"])

        names = PipelineNames(bucket=self.names.bucket,
                              uploads_prefix=self.names.config.uploads_prefix,
                              table=self.names.table,
                              state_machine_arn=self.names.state_machine_arn)
        return Pipeline(self.ctx.client, names, self.ctx.sleep)

    def check_owned(self, keys: Sequence[str]) -> dict[str, Observed | None]:
        """Read these resources of the stack (by key) and refuse if any exists without the
        stack's tag: `detect`, `results` and `logs` never write into or read from a look-alike
        someone else made with the stack's names. Returns what was found (None: missing)."""
        resources = [r for r in build_stack(self.names, frozenset(features.FEATURES))
                     if r.key in keys]
        found = parallel(*[lambda r=r: r.read(self.ctx, settings=False) for r in resources])
        for resource, observed in zip(resources, found, strict=True):
            if observed is not None and not observed.owned:
                raise NotOwnedError(
                    f"{resource.kind} {resource.name} exists without the tag facedetect:stack="
                    f"{self.names.stack}: it is not this stack's, so facedetect neither reads "
                    "nor writes it; check --stack and --region")
        return {r.key: observed for r, observed in zip(resources, found, strict=True)}

    def log_reader(self, functions: Sequence[str]) -> LogReader:
        """A reader of the log groups of the given functions (detect, store, notify)."""
        from facedetect_cli.observe.logs import FUNCTIONS, LogReader

        groups = {self.names.function_log_group(FUNCTIONS[short]): short for short in functions}
        self.check_owned([f"log-group:{group}" for group in groups])
        return LogReader(self.ctx.client("logs"), groups)

    def executions(self) -> dict[str, Any] | None:
        """The state machine's runs of the last 24 hours (see executions.py); None when it
        does not exist. A failure to read them is reported in the summary, never raised:
        recent runs do not decide whether the stack is healthy."""
        from facedetect_cli.observe.executions import summarize

        try:
            return summarize(self.ctx.client("stepfunctions"), self.names.state_machine_arn)
        except AwsError as error:
            if error.code == "StateMachineDoesNotExist":
                return None
            return {"error": str(error)}


def status_row(reading: Reading) -> StatusRow:
    resource, observed = reading.resource, reading.observed
    if observed is None:
        return StatusRow(resource.kind, resource.name, resource.arn, MISSING, "")
    if not observed.owned:
        return StatusRow(resource.kind, resource.name, observed.arn, FOREIGN,
                         "exists without the stack's tag")
    if reading.differences:
        return StatusRow(resource.kind, resource.name, observed.arn, DRIFTED,
                         "; ".join(reading.differences.values()))
    return StatusRow(resource.kind, resource.name, observed.arn, PRESENT, observed.detail)


def is_healthy(rows: list[StatusRow]) -> bool:
    return all(row.state == PRESENT for row in rows)


PLAN_WORDS = {CREATE: "create", UPDATE: "update", UNCHANGED: "unchanged", DELETE: "delete",
              ABSENT: "absent", FOREIGN: "foreign", KEEP: "keep"}
RESULT_WORDS = {UNCHANGED: "unchanged", ABSENT: "absent", FOREIGN: "foreign", KEEP: "kept"}


def result_action(outcome: Outcome) -> str:
    """What happened to a step: created, updated, deleted, unchanged, absent, kept, foreign,
    or failed / skipped when its change did not happen."""
    step = outcome.step
    if outcome.status == DONE:
        return PAST_TENSE[step.action]
    if outcome.status in (FAILED, SKIPPED):
        return outcome.status
    if step.action in PAST_TENSE:
        return "not started"
    return RESULT_WORDS[step.action]


def change_entries(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    entries = []
    for outcome in outcomes:
        entry: dict[str, Any] = {
            "kind": outcome.step.resource.kind,
            "name": outcome.step.resource.name,
            "action": result_action(outcome),
            "reason": outcome.step.reason,
        }
        if outcome.error is not None:
            entry["error"] = str(outcome.error)
        entries.append(entry)
    return entries


def plan_entries(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"kind": s.resource.kind, "name": s.resource.name, "action": PLAN_WORDS[s.action],
         "reason": s.reason}
        for s in plan.steps
    ]
