"""The view of a long run over many targets (issue 17): one summary line, and a closing table
of the failures only."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from facedetect_cli.cli.render.fleet_tally import Tally, duration, long_summary
from facedetect_cli.cli.render.output import Output


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_summary_line_counts_states_and_estimates_the_rest():
    clock = Clock()
    tally = Tally("up", 10, clock=clock)
    assert tally.line() == "up: 0 done, 0 failed, 0 running, 10 queued"
    for key in range(4):
        tally.update(key, "running")
    tally.update(0, "ok")
    tally.update(1, "failed")
    clock.now += 4.0
    # 2 finished in 4 s: 0.5 per second; 8 left (2 running, 6 queued): 16 s.
    assert tally.line() == "up: 1 done, 1 failed, 2 running, 6 queued · 0.5/s · ETA 16s"
    assert tally.state == {2: "running", 3: "running"}  # finished targets are only counted
    assert duration(3725) == "1h02m" and duration(125) == "2m05s"


@dataclass(frozen=True)
class FakeTarget:
    label: str
    ou_path: str = "Root/Prod"


@dataclass
class FakeResult:
    target: FakeTarget
    result: str
    seconds: float = 1.0
    error: str | None = None
    details: list[str] = field(default_factory=list)


def test_the_closing_table_of_a_long_run_holds_only_the_failures():
    results = [FakeResult(FakeTarget(f"{n:012d}/eu-central-1"), "ok") for n in range(40)]
    results[7] = FakeResult(FakeTarget("000000000007/eu-central-1"), "failed",
                            error="cannot assume role")
    stdout = io.StringIO()  # not a terminal: plain lines
    long_summary(Output(stdout=stdout), "up", results)
    lines = stdout.getvalue().splitlines()
    assert lines[0] == "up on 40 targets: 1 failed, 39 ok"
    assert lines[1:] == ["failed:", "  000000000007/eu-central-1  Root/Prod  1.0s  cannot "
                         "assume role"]
