"""Run a plan's changes in dependency order, independent ones at the same time.

`up` starts a resource as soon as what it relies on is in place, and no sooner: a resource
waits for its `depends_on` to be ready, and only for its `uses` to exist (a function needs its
role, not yet the role's permissions, so CreateFunction runs while PutRolePolicy does). A
resource counts as ready once its own create (or update) has finished and everything it uses
is ready, so readiness is never claimed early. `down` deletes a resource once everything that
depends on it or uses it is gone. Each step emits events (started, then done or failed or
skipped) for the renderer; the executor itself prints nothing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from facedetect_cli.engine.plan import CREATE, DELETE, UPDATE, Plan, Step
from facedetect_cli.engine.resources.base import Context
from facedetect_cli.errors import FacedetectError

# More than the widest wave (the roles, log groups and data stores of a stack with every
# feature): a step never waits for a worker, only for what it depends on.
WORKERS = 32

STARTED, DONE, FAILED, SKIPPED = "started", "done", "failed", "skipped"
PAST_TENSE = {CREATE: "created", UPDATE: "updated", DELETE: "deleted"}
_EXISTS, _END = "exists", "end"


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


def _run(step: Step, ctx: Context, exists: Callable[[], None]) -> None:
    resource = step.resource
    if step.action == CREATE:
        resource.create(ctx)
        exists()  # what only uses it may start now, while it settles
        resource.settle(ctx)
    elif step.action == UPDATE:
        assert step.observed is not None
        resource.update(ctx, step.observed, set(step.differences))
    elif step.action == DELETE and not step.by_parent:
        assert step.observed is not None
        resource.delete(ctx, step.observed)


@dataclass
class _Graph:
    """For each step's key: what must be ready before it starts, what must merely exist, and
    (up) what it uses, whose readiness its own readiness includes."""

    ready_first: dict[str, set[str]]
    exist_first: dict[str, set[str]]
    uses: dict[str, set[str]]


def _graph(plan: Plan) -> _Graph:
    """`up`: by depends_on and uses. An `up` that turns a feature off also deletes: those
    deletes go in `down`'s order among themselves, and only after every create and update, so
    the state machine no longer routes to a function when it is deleted (and a failed update
    leaves the functions in place). `down`: dependants first."""
    steps = {s.resource.key: s for s in plan.steps}
    graph = _Graph({k: set() for k in steps}, {k: set() for k in steps},
                   {k: set() for k in steps})
    changes = {k for k, s in steps.items() if s.action in (CREATE, UPDATE)}
    for key, step in steps.items():
        resource = step.resource
        strong = {d for d in resource.depends_on if d in steps}
        weak = {d for d in resource.uses if d in steps}
        if step.by_parent:
            # It goes with its parent: reported deleted once the parent is.
            graph.ready_first[key].add(str(resource.removed_with))
        elif plan.command == "down" or step.action == DELETE:
            for dependency in strong | weak:
                if plan.command == "down" or steps[dependency].action == DELETE:
                    graph.ready_first[dependency].add(key)  # dependants go first
            if plan.command != "down":
                graph.ready_first[key] |= changes
        else:
            graph.ready_first[key] |= strong
            graph.exist_first[key] |= weak
            graph.uses[key] = weak
    return graph


def apply(
    plan: Plan,
    ctx: Context,
    on_event: Callable[[Event], None] = lambda event: None,
    stop: threading.Event | None = None,
) -> list[Outcome]:
    """Run the plan. In `up` a failure skips what relies on it and lets the rest go on; in
    `down` nothing stops the other deletes. Setting `stop` (Ctrl-C) starts nothing new and
    waits for the calls in flight, so no resource is left half made."""
    stop = stop or threading.Event()
    graph = _graph(plan)
    order = {s.resource.key: i for i, s in enumerate(plan.steps)}
    by_key = {s.resource.key: s for s in plan.steps}
    outcomes: dict[str, Outcome] = {}
    # Whatever is not being created exists already (an update changes it in place).
    exists = {k for k, s in by_key.items() if s.action != CREATE}
    pending = sorted(by_key, key=order.__getitem__)
    running = 0
    inbox: queue.Queue[tuple[str, str, BaseException | None]] = queue.Queue()
    down = plan.command == "down"

    def ready(key: str) -> bool:
        if key not in outcomes:
            return False
        if down:
            return True  # a failed delete does not hold the others back
        return outcomes[key].status in (DONE, "") and all(ready(u) for u in graph.uses[key])

    def broken(key: str) -> bool:
        if down or key not in outcomes:
            return False
        return outcomes[key].status in (FAILED, SKIPPED) or any(
            broken(u) for u in graph.uses[key])

    def work(step: Step) -> None:
        key = step.resource.key
        try:
            _run(step, ctx, lambda: inbox.put((key, _EXISTS, None)))
        except BaseException as error:  # the main thread decides what it means
            inbox.put((key, _END, error))
        else:
            inbox.put((key, _END, None))

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while True:
            progressed = False
            for key in list(pending):
                if stop.is_set():
                    break
                needs = graph.ready_first[key] | graph.exist_first[key]
                step = by_key[key]
                parent = outcomes.get(str(step.resource.removed_with)) if step.by_parent else None
                if any(broken(d) for d in needs) or (parent and parent.status == FAILED):
                    pending.remove(key)
                    progressed = True
                    if step.action in PAST_TENSE:
                        outcomes[key] = Outcome(step, SKIPPED)
                        on_event(Event(step, SKIPPED))
                    else:
                        outcomes[key] = Outcome(step, "")
                    continue
                if not (all(ready(d) for d in graph.ready_first[key])
                        and graph.exist_first[key] <= exists):
                    continue
                pending.remove(key)
                progressed = True
                if step.action not in PAST_TENSE:
                    outcomes[key] = Outcome(step, "")
                    continue
                on_event(Event(step, STARTED))
                running += 1
                pool.submit(work, step)
            if not running:
                if stop.is_set() or not pending:
                    break
                if not progressed:
                    raise RuntimeError(f"dependency cycle among {sorted(pending)}")
                continue
            try:
                key, what, error = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            step = by_key[key]
            if what == _EXISTS:
                exists.add(key)
                continue
            running -= 1
            if error is None:
                outcomes[key] = Outcome(step, DONE)
                on_event(Event(step, DONE))
            elif isinstance(error, FacedetectError):
                outcomes[key] = Outcome(step, FAILED, error)
                on_event(Event(step, FAILED, error))
            else:
                raise error
    return [outcomes[s.resource.key] for s in plan.steps if s.resource.key in outcomes]
