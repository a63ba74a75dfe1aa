"""Progress and the closing summary when many targets run at once (--targets)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from facedetect_cli.cli.render.output import ACTION_STYLE

if TYPE_CHECKING:
    from facedetect_cli.cli.render.output import Output


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
