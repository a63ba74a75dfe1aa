"""The model's time. AWS's waits last seconds (a table CREATING, a role propagating); tests run
them compressed: a ScaledClock with speedup 50 makes one of AWS's seconds 20 ms of real time,
for everything that waits (the app's own sleeps, botocore's retry and waiter sleeps, the
model's latency), so the orders of events and the ratios between waits stay as on AWS while
the soak costs little. The soak's WaitingClock moreover counts only the time someone waits:
CPU takes no AWS time. Real time (a ScaledClock of speedup 1) is what the benchmark uses.

Why compressed rather than frozen time: the app runs many threads at once, and a clock that
only moves when every thread waits would have to know what each thread is doing; compressed
real time keeps every thread's view consistent for free. The price: seeds replay the same
decisions (see model.py) but not always the same interleaving.
"""

from __future__ import annotations

import contextlib
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import botocore.waiter


class ScaledClock:
    def __init__(self, speedup: float = 1.0) -> None:
        self.speedup = speedup
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self.slept = 0.0  # AWS seconds the app and botocore spent sleeping, for reports

    def now(self) -> float:
        """Seconds of AWS time since the clock started."""
        return (time.monotonic() - self._start) * self.speedup

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += seconds
        if seconds > 0:
            time.sleep(seconds / self.speedup)


class WaitingClock(ScaledClock):
    """Compressed time that passes only while someone waits (an app's sleep, botocore's backoff,
    a call's latency): CPU alone (a command starting, moto answering) takes no AWS time. On a
    loaded machine, a ScaledClock turned the second between `down` and the next `up` into a
    minute of AWS time, and "at once" never met a table still DELETING; this one keeps it a
    moment, as it is on AWS. Overlapping waits overlap in AWS time too."""

    def __init__(self, speedup: float) -> None:
        super().__init__(speedup)
        self._waiting = 0
        self._banked = 0.0  # AWS seconds of the finished stretches with someone waiting
        self._since = 0.0  # when the current stretch began (real time)

    def now(self) -> float:
        with self._lock:
            running = time.monotonic() - self._since if self._waiting else 0.0
            return self._banked + running * self.speedup

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += seconds
            if self._waiting == 0:
                self._since = time.monotonic()
            self._waiting += 1
        try:
            if seconds > 0:
                time.sleep(seconds / self.speedup)
        finally:
            with self._lock:
                self._waiting -= 1
                if self._waiting == 0:
                    self._banked += (time.monotonic() - self._since) * self.speedup


class _TimeModule(types.SimpleNamespace):
    """`time` as botocore's endpoint (retry backoff) and waiter (poll delay) see it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def botocore_sleeps(clock: ScaledClock) -> Iterator[None]:
    """botocore's own sleeps (between retries of a throttled call, between a waiter's polls)
    on the model's clock: both call time.sleep of their module."""
    saved = botocore.endpoint.time, botocore.waiter.time
    shim = _TimeModule(sleep=clock.sleep)
    botocore.endpoint.time = shim  # type: ignore[assignment]
    botocore.waiter.time = shim  # type: ignore[assignment]
    try:
        yield
    finally:
        botocore.endpoint.time, botocore.waiter.time = saved


class SteppedClock(ScaledClock):
    """Time that moves only when someone sleeps, by exactly that much: for the layer's own
    single-threaded tests, where every wait must be exact and cost nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += seconds
            self._now += max(seconds, 0.0)
