"""Read every resource of the stack at once and decide what `up` or `down` would do.

Only read calls happen here: a dry run prints the plan, and `status` is a plan's read side.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from facedetect_cli.engine.resources.base import Context, Observed, Resource

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
DELETE, ABSENT, FOREIGN, KEEP = "delete", "absent", "foreign", "keep"

READ_WORKERS = 16  # comparisons and data counts: CPU and a call or two each


@dataclass
class Step:
    resource: Resource
    action: str
    observed: Observed | None = None
    differences: dict[str, str] = field(default_factory=dict)
    data_count: int | None = None
    # Deleted by the deletion of resource.removed_with, after it, without a call of its own.
    by_parent: bool = False

    @property
    def reason(self) -> str:
        if self.action == UPDATE:
            return "; ".join(self.differences.values())
        if self.action == FOREIGN:
            return "exists without the stack's tag: not ours, left untouched"
        if self.action == KEEP:
            return "kept with --keep-data"
        if self.action == DELETE and self.data_count:
            return f"holds {self.data_count} {self.resource.data_unit}"
        if self.action == DELETE:
            return self.resource.deletion_note()
        return ""


@dataclass
class Plan:
    command: str
    steps: list[Step]

    @property
    def foreign(self) -> list[Step]:
        return [s for s in self.steps if s.action == FOREIGN]

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action in (CREATE, UPDATE, DELETE)]


@dataclass
class Reading:
    """What one read found: the resource as observed (None when absent), and its drift."""

    resource: Resource
    observed: Observed | None
    differences: dict[str, str]


@dataclass
class Observation:
    """One resource as read, with the resources found through it (a topic's subscriptions)."""

    observed: Observed | None
    discovered: list[tuple[Resource, Observed]] = field(default_factory=list)


def observe(resources: list[Resource], ctx: Context, *, settings: bool = True,
            count: bool = False) -> dict[str, Observation]:
    """Read every resource at once, one thread each: a plan's reads are one wave, however many
    resources the stack has. `settings=False`: only what `down` needs (Resource.read).
    `count`: also count the data of the stack's resources that hold some, in the same thread
    right after the read, rather than in a wave of its own."""
    ctx.forget()

    def read_one(resource: Resource) -> Observation:
        observed = resource.read(ctx, settings=settings)
        if observed is None:
            return Observation(None)
        if count and observed.owned and resource.holds_data:
            observed.data_count = resource.count_data(ctx, observed)
        return Observation(observed, resource.discovered(ctx, observed))

    if not resources:
        return {}
    with ThreadPoolExecutor(max_workers=len(resources)) as pool:
        found = list(pool.map(read_one, resources))
    return {r.key: o for r, o in zip(resources, found, strict=True)}


def assess(resources: list[Resource], observations: dict[str, Observation],
           ctx: Context, *, compare: bool = True) -> list[Reading]:
    """Compare what was read with what is wanted, without another call. The stack's order;
    resources found through others follow the one that found them."""

    def assess_one(resource: Resource) -> list[Reading]:
        observation = observations[resource.key]
        observed = observation.observed
        if observed is None:
            return [Reading(resource, None, {})]
        drift = resource.differences(ctx, observed) if observed.owned and compare else {}
        return [Reading(resource, observed, drift),
                *[Reading(r, o, {}) for r, o in observation.discovered]]

    # Comparing code may mean building a package (thumbnails' Pillow): side by side too.
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        groups = list(pool.map(assess_one, resources))
    readings: list[Reading] = []
    seen: set[str] = set()
    for group in groups:
        for reading in group:
            if reading.resource.key not in seen:
                seen.add(reading.resource.key)
                readings.append(reading)
    return readings


def plan_up(resources: list[Resource], ctx: Context, *,
            remove: list[Resource] | None = None,
            observations: dict[str, Observation] | None = None) -> Plan:
    """Create what is missing and update what differs. `remove` (a feature turned off): those
    that exist and are the stack's are deleted, counted first if they hold data; the others
    are not part of the plan. `observations`: the reads, when the caller made them."""
    remove = remove or []
    removed = {r.key for r in remove}
    steps = []
    everything = [*resources, *remove]
    if observations is None:
        observations = observe(everything, ctx)
    for reading in assess(everything, observations, ctx):
        if reading.resource.key in removed:
            if reading.observed is not None and reading.observed.owned:
                steps.append(Step(reading.resource, DELETE, reading.observed))
            continue
        if reading.observed is None:
            steps.append(Step(reading.resource, CREATE))
        elif not reading.observed.owned:
            steps.append(Step(reading.resource, FOREIGN, reading.observed))
        elif reading.differences:
            steps.append(Step(reading.resource, UPDATE, reading.observed, reading.differences))
        else:
            steps.append(Step(reading.resource, UNCHANGED, reading.observed))
    _count_data(steps, ctx)
    return Plan("up", steps)


def plan_down(resources: list[Resource], ctx: Context, *, keep_data: bool = False) -> Plan:
    # What is deleted is not compared: its settings are not read.
    observations = observe(resources, ctx, settings=False, count=not keep_data)
    readings = assess(resources, observations, ctx, compare=False)
    steps = []
    for reading in readings:
        resource, observed = reading.resource, reading.observed
        if observed is None:
            steps.append(Step(resource, ABSENT))
        elif not observed.owned:
            steps.append(Step(resource, FOREIGN, observed))
        elif keep_data and resource.holds_data:
            steps.append(Step(resource, KEEP, observed))
        else:
            steps.append(Step(resource, DELETE, observed, data_count=observed.data_count))
    deleted = {s.resource.key for s in steps if s.action == DELETE}
    for step in steps:
        step.by_parent = step.action == DELETE and step.resource.removed_with in deleted
    return Plan("down", steps)


def _count_data(steps: list[Step], ctx: Context) -> None:
    """How much data each delete would destroy, for the confirmation."""
    counted = [s for s in steps if s.action == DELETE and s.resource.holds_data]
    if not counted:
        return
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        counts = list(pool.map(
            lambda s: s.resource.count_data(ctx, s.observed), counted))
    for step, count in zip(counted, counts, strict=True):
        step.data_count = count
