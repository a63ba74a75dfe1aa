"""What every API call passes through on its way out: the call counter (for --debug, the
benchmark and the tests) and the fault and latency injection that tests and the benchmark use."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Scan", "Query", "Filter", "Search")


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class InjectedFault:
    """An error a fault rule makes an API call return instead of reaching AWS."""

    code: str
    message: str
    status: int = 400


# A fault rule sees (service, operation, params) and returns a fault to inject, or None.
FaultRule = Callable[[str, str, dict[str, Any]], "InjectedFault | None"]


class ApiCallCounter:
    """Counts API calls by service and operation, thread-safe. Retries are not counted: a call
    is what the tool asked for, not what botocore had to send."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self.log: Callable[[str, str], None] | None = None

    def record(self, service: str, operation: str) -> None:
        with self._lock:
            self._calls[(service, operation)] += 1
        if self.log is not None:
            self.log(service, operation)

    def by_operation(self) -> dict[str, int]:
        with self._lock:
            return {f"{s}:{o}": n for (s, o), n in sorted(self._calls.items())}

    def totals(self) -> dict[str, int]:
        with self._lock:
            reads = sum(n for (_, o), n in self._calls.items() if is_read(o))
            writes = sum(n for (_, o), n in self._calls.items() if not is_read(o))
        return {"reads": reads, "writes": writes}


class _FakeHttpResponse:
    """What botocore expects back from a before-call handler that short-circuits a call."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = None
