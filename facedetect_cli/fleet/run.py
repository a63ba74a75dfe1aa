"""Run one command on many targets at once (`--targets FILE`, `--organization`): each target
its own session, account and stack; one failing target never stops the others.

Hundreds of targets run in one process: a fixed number of workers take the next target when
they finish one, each target's session (clients, credentials) is made when it starts and
dropped when it ends, and what is kept per target is a small result. A Ctrl-C stops the
workers taking targets; the ones in flight finish (nothing is left half made) and are
reported before the interrupt goes on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from facedetect_cli.errors import FacedetectError
from facedetect_cli.fleet.targets import Target

if TYPE_CHECKING:
    from facedetect_cli.engine.app import StackApp

OK, FAILED, UNHEALTHY, RUNNING, WAITING = "ok", "failed", "unhealthy", "running", "waiting"
FINISHED = (OK, FAILED, UNHEALTHY)


@dataclass
class TargetResult:
    target: Target
    result: str = WAITING
    account: str = ""
    region: str = ""
    changed: int = 0
    seconds: float = 0.0
    error: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.label, "account": self.account or self.target.account_hint,
            "region": self.region or self.target.connection.region, "stack":
            self.target.config.stack, "result": self.result, "resources_changed": self.changed,
            "seconds": round(self.seconds, 2), "error": self.error, "details": self.details,
            "api_calls": self.api_calls,
        }


def _run_one(command: str, app: StackApp, result: TargetResult, keep_data: bool,
             keep_details: bool) -> None:
    from facedetect_cli.engine.app import change_entries, is_healthy

    result.account, result.region = app.names.account, app.names.region
    if command == "status":
        rows = app.status()
        if keep_details:
            result.details = [row.as_dict() for row in rows]
        result.result = OK if is_healthy(rows) else UNHEALTHY
        return
    plan = app.plan_up() if command == "up" else app.plan_down(keep_data=keep_data)
    if command == "up" and plan.foreign:
        names = ", ".join(f"{s.resource.kind} {s.resource.name}" for s in plan.foreign)
        raise FacedetectError(f"refusing to take over {names}: it exists without the stack's tag")
    outcomes = app.apply(plan)
    if keep_details:
        result.details = change_entries(outcomes)
    result.changed = sum(1 for o in outcomes if o.status == "done")
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        step = failed[0].step
        raise FacedetectError(f"{step.action} {step.resource.kind} {step.resource.name}: "
                              f"{failed[0].error}")
    result.result = OK


def run_targets(
    command: str,
    targets: Sequence[Target],
    make_app: Callable[[Target], StackApp],
    *,
    max_parallel: int = 4,
    keep_data: bool = False,
    keep_details: bool = True,
    on_update: Callable[[TargetResult], None] = lambda result: None,
) -> list[TargetResult]:
    """Run `command` (up, down or status) on every target, at most max_parallel at a time.
    Results keep the targets' order. keep_details=False keeps no per-resource rows (a run
    over hundreds of targets reports counts)."""
    results = [TargetResult(target) for target in targets]
    queue = iter(results)
    take = threading.Lock()
    stop = threading.Event()

    def run(result: TargetResult) -> None:
        started = time.monotonic()
        result.result = RUNNING
        on_update(result)
        app = None
        try:
            app = make_app(result.target)
            _run_one(command, app, result, keep_data, keep_details)
        except FacedetectError as error:
            result.result, result.error = FAILED, str(error)
        except Exception as error:  # a bug shows on its target and spares the others
            result.result = FAILED
            result.error = f"internal error: {type(error).__name__}: {error}"
        finally:
            result.seconds = time.monotonic() - started
            if app is not None:
                result.api_calls = app.api_calls()
            on_update(result)

    # Workers say they are done through a semaphore, not Thread.join: a join interrupted by
    # Ctrl-C can take the thread for finished while it still runs (CPython bpo-45274's fix
    # releases the lock the live thread holds), and its target would go unreported.
    done = threading.Semaphore(0)

    def worker() -> None:
        try:
            while not stop.is_set():
                with take:
                    result = next(queue, None)
                if result is None:
                    return
                run(result)
        finally:
            done.release()

    workers = [threading.Thread(target=worker, name=f"target-{n}", daemon=True)
               for n in range(min(max_parallel, len(results)))]
    for thread in workers:
        thread.start()
    waiting = len(workers)
    try:
        while waiting:
            # A timed wait leaves the main thread free to take a Ctrl-C.
            if done.acquire(timeout=0.2):
                waiting -= 1
    except KeyboardInterrupt:
        stop.set()
        for _ in range(waiting):
            done.acquire()
        raise
    return results
