"""Run a plan's changes in dependency order, independent ones at the same time.

`up` starts a resource as soon as everything it depends on is in place; `down` deletes a
resource once everything that depends on it is gone. Each step emits events (started, then
done or failed or skipped) for the renderer; the executor itself prints nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from facedetect_cli.errors import FacedetectError
from facedetect_cli.plan import CREATE, DELETE, UPDATE, Plan, Step
from facedetect_cli.resources.base import Context

WORKERS = 12

STARTED, DONE, FAILED, SKIPPED = "started", "done", "failed", "skipped"
PAST_TENSE = {CREATE: "created", UPDATE: "updated", DELETE: "deleted"}


@dataclass
class Event:
    step: Step
    status: str
    error: Exception | None = None


@dataclass
class Outcome:
    step: Step
    status: str  # done, failed, skipped, or "" for a step with nothing to do
    error: Exception | None = None


def _run(step: Step, ctx: Context) -> None:
    resource = step.resource
    if step.action == CREATE:
        resource.create(ctx)
    elif step.action == UPDATE:
        assert step.observed is not None
        resource.update(ctx, step.observed, set(step.differences))
    elif step.action == DELETE:
        assert step.observed is not None
        resource.delete(ctx, step.observed)


def _prerequisites(plan: Plan) -> dict[str, set[str]]:
    """For each step's key, the keys that must finish first.

    An `up` that turns a feature off also deletes: those deletes go in `down`'s order among
    themselves, and only after every create and update, so the state machine no longer routes
    to a function when it is deleted (and a failed update leaves the functions in place)."""
    steps = {s.resource.key: s for s in plan.steps}
    before: dict[str, set[str]] = {k: set() for k in steps}
    for step in plan.steps:
        for dependency in step.resource.depends_on:
            if dependency not in steps:
                continue
            deleting = step.action == DELETE and steps[dependency].action == DELETE
            if plan.command == "down" or deleting:
                before[dependency].add(step.resource.key)  # dependants go first
            else:
                before[step.resource.key].add(dependency)
    if plan.command != "down":
        changes = {s.resource.key for s in plan.steps if s.action in (CREATE, UPDATE)}
        for step in plan.steps:
            if step.action == DELETE:
                before[step.resource.key] |= changes
    return before


def apply(
    plan: Plan,
    ctx: Context,
    on_event: Callable[[Event], None] = lambda event: None,
    stop: threading.Event | None = None,
) -> list[Outcome]:
    """Run the plan. In `up` a failure skips what depends on it and lets the rest go on; in
    `down` nothing stops the other deletes. Setting `stop` (Ctrl-C) starts nothing new and
    waits for the calls in flight, so no resource is left half made."""
    stop = stop or threading.Event()
    before = _prerequisites(plan)
    by_key = {s.resource.key: s for s in plan.steps}
    outcomes: dict[str, Outcome] = {}
    pending = set(by_key)
    running: dict[Future[None], str] = {}

    def finished(key: str) -> bool:
        return key in outcomes

    def blocked_by_failure(key: str) -> bool:
        if plan.command == "down":
            return False
        return any(outcomes[d].status in (FAILED, SKIPPED) for d in before[key])

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while pending or running:
            progressed = False
            for key in sorted(pending, key=lambda k: plan.steps.index(by_key[k])):
                if stop.is_set() or not all(finished(d) for d in before[key]):
                    continue
                step = by_key[key]
                pending.discard(key)
                progressed = True
                if step.action not in PAST_TENSE:
                    outcomes[key] = Outcome(step, "")
                elif blocked_by_failure(key):
                    outcomes[key] = Outcome(step, SKIPPED)
                    on_event(Event(step, SKIPPED))
                else:
                    on_event(Event(step, STARTED))
                    running[pool.submit(_run, step, ctx)] = key
            if stop.is_set() and not running:
                break
            if not running:
                if pending and not progressed:
                    raise RuntimeError(f"dependency cycle among {sorted(pending)}")
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED, timeout=0.2)
            for future in done:
                key = running.pop(future)
                step = by_key[key]
                error = future.exception()
                if error is None:
                    outcomes[key] = Outcome(step, DONE)
                    on_event(Event(step, DONE))
                elif isinstance(error, FacedetectError):
                    outcomes[key] = Outcome(step, FAILED, error)
                    on_event(Event(step, FAILED, error))
                else:
                    raise error
    return [outcomes[s.resource.key] for s in plan.steps if s.resource.key in outcomes]
