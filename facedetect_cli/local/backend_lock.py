"""The emulator's one lock around moto's backends (plain dicts, not thread-safe).

Every request holds it while moto handles it, except a Lambda invocation: that one runs the
function's code, which calls back into the emulator (S3, Rekognition, DynamoDB...) from
another process while the invocation waits. Holding the lock across that nested call would
deadlock, so an invocation takes the lock only for its own short reads and writes of moto's
state (lambda_service.py), never while the code runs.
"""

from __future__ import annotations

import re
import threading
from typing import Any

BACKEND_LOCK = threading.RLock()
_INVOCATION_PATH = re.compile(r"/20\d\d-\d\d-\d\d/functions/.+/invoc(ations|ke-async)/?$")


def runs_code(response: Any, request: Any) -> bool:
    """Whether this request invokes a Lambda function (and so must not hold the lock)."""
    return (getattr(response, "service_name", None) in ("awslambda", "lambda")
            and bool(_INVOCATION_PATH.search(getattr(request, "path", "") or "")))
