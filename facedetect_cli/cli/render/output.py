"""Where a command writes, and how: text at a terminal (rich), plain lines in a pipe or with
NO_COLOR, or JSON. rich is imported only when something is drawn, which keeps `--help` fast."""

from __future__ import annotations

import io
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from facedetect_cli.engine.apply import Outcome
from facedetect_cli.engine.plan import Plan, Step

if TYPE_CHECKING:
    from facedetect_cli.cli.render.progress import Progress
    from facedetect_cli.engine.app import StatusRow

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


class _Discard(io.TextIOBase):
    """A text stream that keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)

    def isatty(self) -> bool:
        return False


class Output:
    """Where the command writes: its mode (text or json), quietness, and the two streams."""

    def __init__(self, mode: str = "text", *, quiet: bool = False, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.mode = mode
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        if quiet and not self.json:
            # --quiet: no text on stdout at all, the exit code is the answer (status exits 0
            # or 3, as `grep -q`); errors still reach stderr. A JSON document is always
            # written: a script asked for it. See docs/contract.md.
            self.stdout = _Discard()
        # Whether the command wrote its document: an error after it adds none.
        self.documented = False

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
        self.documented = True
        print(json.dumps(doc, indent=2, sort_keys=False, default=str), file=self.stdout,
              flush=True)

    # progress --------------------------------------------------------------------------
    def progress(self, plan: Plan, title: str) -> Progress:
        from facedetect_cli.cli.render.progress import LiveProgress, PlainProgress, Progress

        if self.json or self.quiet:
            return Progress()
        if self.plain:
            return PlainProgress(plan, self.stdout)
        return LiveProgress(plan, title, self._console())

    def summary(self, outcomes: list[Outcome], elapsed: float, *, verb: str) -> None:
        if self.json or self.quiet:
            return
        counts: dict[str, int] = {}
        from facedetect_cli.engine.app import result_action

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


def note(out: Output, message: str) -> None:
    """A remark beside the output (stderr, so piped log lines stay only log lines)."""
    if not out.quiet:
        print(f"note: {message}", file=out.stderr, flush=True)


def json_line(out: Output, document: dict[str, Any]) -> None:
    """One JSON document on one line (JSON Lines, for output that goes on until Ctrl-C)."""
    print(json.dumps(document, default=str), file=out.stdout, flush=True)
