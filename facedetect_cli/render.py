"""Everything the user sees: live progress, plans, status tables, JSON, errors.

The engine never imports rich; it emits events and returns plain data, and this module turns
them into a live display at a terminal, plain lines in a pipe or with NO_COLOR, or JSON.
rich is imported only when something is drawn, which keeps `--help` fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from facedetect_cli.apply import DONE, FAILED, PAST_TENSE, SKIPPED, STARTED, Event, Outcome
from facedetect_cli.plan import Plan, Step

if TYPE_CHECKING:
    from facedetect_cli.app import StatusRow
    from facedetect_cli.logs import LogEvent

ACTION_STYLE = {
    "created": "green", "updated": "yellow", "deleted": "red", "unchanged": "dim",
    "absent": "dim", "kept": "cyan", "foreign": "magenta", "failed": "bold red",
    "skipped": "red", "create": "green", "update": "yellow", "delete": "red", "keep": "cyan",
    "present": "green", "missing": "red", "drifted": "yellow", "not started": "dim",
}
PLAN_VERB = {"create": "create", "update": "update", "delete": "delete", "unchanged": "unchanged",
             "absent": "absent", "foreign": "foreign", "keep": "keep"}


def _wants_plain(stream: TextIO) -> bool:
    return not stream.isatty() or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


def _line(action: str, step: Step, extra: str = "") -> str:
    resource = step.resource
    text = f"{action:<10} {resource.kind:<14} {resource.name}"
    return f"{text}  ({extra})" if extra else text


class Output:
    """Where the command writes: its mode (text or json), quietness, and the two streams."""

    def __init__(self, mode: str = "text", *, quiet: bool = False, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.mode = mode
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @property
    def json(self) -> bool:
        return self.mode == "json"

    @property
    def plain(self) -> bool:
        return _wants_plain(self.stdout)

    def _console(self, stream: TextIO | None = None) -> Any:
        from rich.console import Console

        return Console(file=stream or self.stdout, no_color="NO_COLOR" in os.environ,
                       highlight=False, soft_wrap=True)

    # plain messages --------------------------------------------------------------------
    def info(self, message: str) -> None:
        """A note for a person: stderr in JSON mode so stdout stays one JSON document."""
        if self.quiet:
            return
        print(message, file=self.stderr if self.json else self.stdout, flush=True)

    def error(self, message: str) -> None:
        print(f"error: {message}", file=self.stderr, flush=True)

    def document(self, doc: dict[str, Any]) -> None:
        print(json.dumps(doc, indent=2, sort_keys=False, default=str), file=self.stdout,
              flush=True)

    # progress --------------------------------------------------------------------------
    def progress(self, plan: Plan, title: str) -> Progress:
        if self.json or self.quiet:
            return Progress()
        if self.plain:
            return PlainProgress(plan, self.stdout)
        return LiveProgress(plan, title, self._console())

    def summary(self, outcomes: list[Outcome], elapsed: float, *, verb: str) -> None:
        if self.json or self.quiet:
            return
        counts: dict[str, int] = {}
        from facedetect_cli.app import result_action

        for outcome in outcomes:
            action = result_action(outcome)
            counts[action] = counts.get(action, 0) + 1
        parts = ", ".join(f"{n} {a}" for a, n in counts.items())
        print(f"{verb} in {elapsed:.1f}s: {parts}", file=self.stdout, flush=True)

    # dry runs and status ---------------------------------------------------------------
    def plan(self, plan: Plan, header: dict[str, str]) -> None:
        if self.json:
            return
        print(f"Plan for `{plan.command}` of stack {header['stack']} in account "
              f"{header['account']}, {header['region']} (nothing changed):", file=self.stdout)
        for step in plan.steps:
            print("  " + _line(PLAN_VERB[step.action], step, step.reason), file=self.stdout)
        changes = len(plan.changes)
        print(f"{changes} change(s).", file=self.stdout, flush=True)

    def status(self, rows: list[StatusRow], header: dict[str, str], healthy: bool) -> None:
        if self.json:
            return
        title = (f"Stack {header['stack']} in account {header['account']}, {header['region']}: "
                 + ("healthy" if healthy else "NOT healthy"))
        if self.plain:
            print(title, file=self.stdout)
            for row in rows:
                detail = f"  ({row.detail})" if row.detail else ""
                print(f"  {row.state:<9} {row.kind:<14} {row.name}{detail}", file=self.stdout)
            return
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in ("kind", "name", "state", "detail"):
            table.add_column(column)
        for row in rows:
            style = ACTION_STYLE.get(row.state, "")
            table.add_row(row.kind, row.name, f"[{style}]{row.state}[/]", row.detail)
        self._console().print(table)


def features_summary(out: Output, features: dict[str, list[str]]) -> None:
    """The line under the status table naming the stack's features and their resources."""
    if out.json:
        return
    if not features:
        text = "Features: none (turn one on with `up --with duplicates` or `--with thumbnails`)"
    else:
        text = "Features: " + "; ".join(
            f"{feature} ({', '.join(key.replace(':', ' ', 1) for key in keys)})"
            for feature, keys in features.items())
    print(text, file=out.stdout, flush=True)


# Recent runs (status) and log lines (logs) ------------------------------------------------------
def executions_summary(out: Output, executions: dict[str, Any] | None) -> None:
    """The lines under the status table about the state machine's recent runs. JSON carries
    them in the status document instead; nothing when there is no state machine."""
    if out.json or executions is None:
        return
    if "error" in executions:
        lines = [("Recent runs: could not be read: " + str(executions["error"]), "yellow")]
    else:
        counted = (f"{executions['succeeded']} succeeded, {executions['failed']} failed, "
                   f"{executions['running']} running")
        if executions.get("truncated"):
            counted += " (only the newest ones counted)"
        lines = [(f"Runs in the last 24 hours: {counted}",
                  "red" if executions["failed"] else "")]
        failure = executions.get("latest_failure")
        if failure:
            when = failure.get("time") or ""
            with contextlib.suppress(ValueError):
                when = f"{datetime.fromisoformat(when).astimezone():%Y-%m-%d %H:%M:%S}"
            cause = f": {failure['cause']}" if failure.get("cause") else ""
            lines.append((f"Latest failure at {when}: {failure.get('key') or '(unknown key)'}"
                          f" - {failure.get('error')}{cause}", "red"))
    if out.plain:
        for text, _ in lines:
            print(text, file=out.stdout)
        return
    from rich.text import Text

    console = out._console()
    for text, style in lines:
        console.print(Text(text, style=style))


_FUNCTION_STYLE = {"detect": "cyan", "store": "magenta", "notify": "green"}


def log_events(out: Output, events: list[LogEvent]) -> int:
    """Log events as readable lines (see logs.describe); returns how many were printed."""
    from facedetect_cli.logs import describe

    lines = [line for line in map(describe, events) if line is not None]
    if not lines:
        return 0
    if out.plain:
        for line in lines:
            print(line.plain(), file=out.stdout)
        out.stdout.flush()
        return len(lines)
    from rich.text import Text

    console = out._console()
    for line in lines:
        text = Text()  # a style given here would be the base of every part appended
        text.append(f"{line.time} ", style="dim")
        text.append(f"{line.function:<6}", style=_FUNCTION_STYLE.get(line.function, "bold"))
        text.append("  ")
        text.append(line.text, style="bold red" if line.error else "dim" if line.dim else "")
        console.print(text)
    return len(lines)


def note(out: Output, message: str) -> None:
    """A remark beside the output (stderr, so piped log lines stay only log lines)."""
    if not out.quiet:
        print(f"note: {message}", file=out.stderr, flush=True)


def json_line(out: Output, document: dict[str, Any]) -> None:
    """One JSON document on one line (JSON Lines, for output that goes on until Ctrl-C)."""
    print(json.dumps(document, default=str), file=out.stdout, flush=True)


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
_FACE_FLAGS = ("smile", "eyeglasses", "sunglasses", "beard", "mustache", "eyesOpen",
               "mouthOpen")


def _face_row(number: int, face: dict[str, Any]) -> list[str]:
    age = face.get("age") or face.get("Age") or []
    box = face.get("box") or []
    flags = ", ".join(flag for flag in _FACE_FLAGS if face.get(flag))
    return [
        str(number),
        f"{age[0]}-{age[1]}" if len(age) == 2 else "",
        str(face.get("emotion", "")).lower(),
        flags,
        "{:.0%} {:.0%}".format(*box[:2]) if len(box) >= 2 else "",
        f"{face.get('conf', '')}",
    ]


def faces(out: Output, title: str, face_list: list[dict[str, Any]]) -> None:
    """The faces of one image as a table (plain lines without a terminal)."""
    headers = ["#", "age", "emotion", "attributes", "left top", "confidence"]
    rows = [_face_row(i, face) for i, face in enumerate(face_list, 1)]
    if out.plain:
        print(title, file=out.stdout)
        for row in rows:
            print("  " + "  ".join(f"{h}={v}" for h, v in zip(headers, row, strict=True) if v),
                  file=out.stdout)
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    out._console().print(table)


def results(out: Output, items: list[dict[str, Any]]) -> None:
    headers = ["image key", "faces", "detected at", "size"]
    rows = [[str(i.get("ImageKey", "")), str(i.get("FaceCount", "")),
             str(i.get("DetectedAt", "")), str(i.get("Size", ""))] for i in items]
    if out.plain:
        for row in rows:
            print("  ".join(row), file=out.stdout)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} stored result(s), newest first", title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    out._console().print(table)


def spinner(out: Output, message: str) -> Any:
    """A spinner at a terminal; nothing in a pipe, in JSON mode or with --quiet."""
    import contextlib

    if out.json or out.quiet or out.plain:
        return contextlib.nullcontext()
    return out._console().status(message)


# Many targets at once (--targets) ------------------------------------------------------------
class FleetProgress:
    """One line per target: live at a terminal, a plain line as each finishes otherwise."""

    def __init__(self, out: Output, labels: list[str]) -> None:
        self.out = out
        self.labels = labels
        self.state: dict[str, str] = {}
        self.lock = threading.Lock()
        self.live: Any = None

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        for label in self.labels:
            state = self.state.get(label, "waiting")
            icon: Any = Spinner("dots") if state == "running" else (
                "✓" if state.startswith(("ok", "unhealthy")) else
                "✗" if state.startswith("failed") else "·")
            table.add_row(icon, label, state)
        return table

    def __enter__(self) -> FleetProgress:
        if not (self.out.json or self.out.quiet or self.out.plain):
            from rich.live import Live

            self.live = Live(self._render(), console=self.out._console(), refresh_per_second=8)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)

    def update(self, result: Any) -> None:
        text = result.result
        if result.result not in ("running", "waiting"):
            text = f"{result.result} in {result.seconds:.1f}s, {result.changed} changed"
        with self.lock:
            self.state[result.target.label] = text
            if self.live is not None:
                self.live.update(self._render())
            elif not (self.out.json or self.out.quiet) and result.result not in (
                    "running", "waiting"):
                print(f"{result.target.label}: {text}", file=self.out.stdout, flush=True)


def fleet_progress(out: Output, targets: list[Any]) -> FleetProgress:
    return FleetProgress(out, [target.label for target in targets])


def fleet_summary(out: Output, command: str, results: list[Any]) -> None:
    if out.json or out.quiet:
        return
    headers = ["target", "account", "region", "result", "changed", "time"]
    rows = [[str(d["target"]), str(d["account"]), str(d["region"]), str(d["result"]),
             str(d["resources_changed"]), f"{d['seconds']:.1f}s"]
            for d in (result.as_dict() for result in results)]
    if out.plain:
        print(f"{command} on {len(rows)} target(s):", file=out.stdout)
        for row in rows:
            print("  " + "  ".join(row), file=out.stdout)
        return
    from rich.table import Table

    table = Table(title=f"{command} on {len(rows)} target(s)", title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:
        style = ACTION_STYLE.get({"ok": "created", "failed": "failed",
                                  "unhealthy": "drifted"}.get(row[3], ""), "")
        table.add_row(*row[:3], f"[{style}]{row[3]}[/]" if style else row[3], *row[4:])
    out._console().print(table)
