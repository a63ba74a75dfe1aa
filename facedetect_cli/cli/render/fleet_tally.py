"""Many targets at once, seen as one line: done / failed / running / queued, rate and ETA.

With hundreds of targets a line per target scrolls past faster than anyone reads it. At a
terminal the run is one live summary line; in a pipe, a line per failure as it happens and a
progress line at each tenth; the closing table keeps only the failures, under the counts.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facedetect_cli.cli.render import Output

# Up to this many targets, every target gets its own line (live, and in the closing table).
LONG = 20
_FINISHED = ("ok", "unhealthy", "failed")


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Tally:
    """Counts of a run's targets by state, safe to update from the worker threads."""

    def __init__(self, command: str, total: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.command = command
        self.total = total
        self.clock = clock
        self.started = clock()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.state: dict[int, str] = {}

    def update(self, key: int, state: str) -> None:
        with self.lock:
            before = self.state.get(key)
            if before is not None:
                self.counts[before] -= 1
            self.state[key] = state
            self.counts[state] += 1
            if state in _FINISHED:
                del self.state[key]  # finished targets are counted, not remembered

    @property
    def finished(self) -> int:
        return sum(self.counts[state] for state in _FINISHED)

    def line(self) -> str:
        with self.lock:
            done = self.counts["ok"] + self.counts["unhealthy"]
            failed, running = self.counts["failed"], self.counts["running"]
            finished = done + failed
            queued = self.total - finished - running
            elapsed = self.clock() - self.started
        # Short enough for an 80-column terminal, where rich cuts a longer line.
        text = f"{self.command}: {done} done, {failed} failed, {running} running, {queued} queued"
        if finished and elapsed > 0:
            rate = finished / elapsed
            text += f" · {rate:.1f}/s · ETA {duration((queued + running) / rate)}"
        return text


class LiveLine:
    """The tally as one line redrawn in place at a terminal (rich Live)."""

    def __init__(self, out: Output, tally: Tally) -> None:
        self.out = out
        self.tally = tally
        self.live: Any = None

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(self.tally.line())

    def __enter__(self) -> LiveLine:
        from rich.live import Live

        self.live = Live(self, console=self.out._console(), refresh_per_second=4,
                         transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)


class PlainTally:
    """In a pipe: each failure when it happens, and the tally at every tenth of the run."""

    def __init__(self, out: Output, tally: Tally) -> None:
        self.out = out
        self.tally = tally
        self.next_tenth = 1

    def finished(self, label: str, result: str, error: str | None) -> None:
        if result == "failed":
            print(f"{label}: failed: {error}", file=self.out.stdout, flush=True)
        if self.tally.finished * 10 >= self.next_tenth * self.tally.total:
            with self.tally.lock:
                self.next_tenth = self.tally.finished * 10 // self.tally.total + 1
            print(self.tally.line(), file=self.out.stdout, flush=True)


class SummaryProgress:
    """The progress of a long run, fed by the runner's per-target updates."""

    def __init__(self, out: Output, command: str, total: int) -> None:
        self.tally = Tally(command, total)
        self.live = LiveLine(out, self.tally) if not (out.json or out.quiet or out.plain) \
            else None
        self.plain = PlainTally(out, self.tally) if out.plain and not (
            out.json or out.quiet) else None

    def __enter__(self) -> SummaryProgress:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__()

    def update(self, result: Any) -> None:
        self.tally.update(id(result), result.result)
        if self.plain is not None and result.result in _FINISHED:
            self.plain.finished(result.target.label, result.result, result.error)


def closing_counts(results: list[Any]) -> str:
    counts = Counter(result.result for result in results)
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def long_summary(out: Output, command: str, results: list[Any]) -> None:
    """The closing summary of a long run: the counts, then only the targets that failed."""
    if out.json or out.quiet:
        return
    failed = [result for result in results if result.result == "failed"]
    print(f"{command} on {len(results)} targets: {closing_counts(results)}", file=out.stdout)
    if not failed:
        return
    rows = [[result.target.label, result.target.ou_path, f"{result.seconds:.1f}s",
             str(result.error)] for result in failed]
    if out.plain:
        print("failed:", file=out.stdout)
        for row in rows:
            print("  " + "  ".join(row), file=out.stdout)
        return
    from rich.table import Table

    table = Table(title=f"{len(failed)} failed", title_justify="left")
    for header in ("target", "OU", "time", "error"):
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    out._console().print(table)
