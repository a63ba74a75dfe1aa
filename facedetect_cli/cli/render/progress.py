"""Progress while `up` and `down` run: nothing (JSON, --quiet), plain lines, or a live table."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from facedetect_cli.cli.render.output import ACTION_STYLE, _line
from facedetect_cli.engine.apply import DONE, FAILED, PAST_TENSE, SKIPPED, STARTED, Event
from facedetect_cli.engine.plan import Plan

if TYPE_CHECKING:
    from facedetect_cli.cli.render.output import Output


class Progress:
    """No display (JSON or --quiet): events are only collected by the caller."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def event(self, event: Event) -> None:
        return None


class PlainProgress(Progress):
    """One line per resource, in the stack's order whatever order they finish in, so two runs
    print the same lines: a line waits until the lines above it are printed."""

    def __init__(self, plan: Plan, stream: TextIO) -> None:
        self.steps = plan.steps
        self.stream = stream
        self.results: dict[str, str] = {}
        self.next = 0
        self.lock = threading.Lock()

    def __enter__(self) -> PlainProgress:
        self._flush()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            for step in self.steps[self.next:]:
                self.results.setdefault(step.resource.key, _line("not done", step))
        self._flush()

    def event(self, event: Event) -> None:
        step = event.step
        if event.status == STARTED:
            return
        if event.status == DONE:
            text = _line(PAST_TENSE[step.action], step, step.reason)
        elif event.status == SKIPPED:
            text = _line("skipped", step, "a step it depends on failed")
        else:
            text = _line("failed", step, str(event.error))
        with self.lock:
            self.results[step.resource.key] = text
        self._flush()

    def _flush(self) -> None:
        with self.lock:
            while self.next < len(self.steps):
                step = self.steps[self.next]
                text = self.results.get(step.resource.key)
                if text is None and step.action not in PAST_TENSE:
                    word = {"unchanged": "unchanged", "absent": "absent", "foreign": "foreign",
                            "keep": "kept"}[step.action]
                    text = _line(word, step, step.reason)
                if text is None:
                    return
                print(text, file=self.stream, flush=True)
                self.next += 1


class LiveProgress(Progress):
    """A live table at a terminal: a spinner on each resource being worked on."""

    def __init__(self, plan: Plan, title: str, console: Any) -> None:
        self.plan = plan
        self.title = title
        self.console = console
        self.state: dict[str, tuple[str, str]] = {}
        self.started = time.monotonic()
        self.live: Any = None

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        table.add_column(width=2)
        for _ in range(3):
            table.add_column()
        for step in self.plan.steps:
            status, text = self.state.get(step.resource.key, ("", ""))
            if status == STARTED:
                icon: Any = Spinner("dots")
                word = {"create": "creating", "update": "updating", "delete": "deleting"}[
                    step.action]
            elif status:
                icon, word = ("✗" if status in (FAILED, SKIPPED) else "✓"), text
            elif step.action in PAST_TENSE:
                icon, word = "·", "waiting"
            else:
                icon, word = " ", {"unchanged": "unchanged", "absent": "absent",
                                   "foreign": "foreign", "keep": "kept"}[step.action]
            style = ACTION_STYLE.get(word, "")
            reason = step.reason if status != FAILED else ""
            table.add_row(icon, f"[{style}]{word}[/]" if style else word, step.resource.kind,
                          f"{step.resource.name}  [dim]{reason}[/]" if reason else
                          step.resource.name)
        return table

    def __enter__(self) -> LiveProgress:
        from rich.live import Live

        self.live = Live(self._render(), console=self.console, refresh_per_second=12,
                         transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)

    def event(self, event: Event) -> None:
        step = event.step
        if event.status == STARTED:
            self.state[step.resource.key] = (STARTED, "")
        elif event.status == DONE:
            self.state[step.resource.key] = (DONE, PAST_TENSE[step.action])
        else:
            self.state[step.resource.key] = (event.status, event.status)
        if self.live is not None:
            self.live.update(self._render())


# The pipeline's results (detect, results) ----------------------------------------------------


def spinner(out: Output, message: str) -> Any:
    """A spinner at a terminal; nothing in a pipe, in JSON mode or with --quiet."""
    import contextlib

    if out.json or out.quiet or out.plain:
        return contextlib.nullcontext()
    return out._console().status(message)


# Many targets at once (--targets) ------------------------------------------------------------
