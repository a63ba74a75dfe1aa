"""Step Functions' task clients in the local emulator, built once instead of per task.

moto's executor builds a new boto3 client for every Lambda and SNS task it runs (tens of
milliseconds each, the largest cost of a warm local execution after the functions themselves).
Its clients ignore the state's credentials and differ only by service and region, and boto3
clients are thread-safe, so one per (region, service) serves every execution.
"""

from __future__ import annotations

import functools
from typing import Any

_patched = False


def reuse_task_clients() -> None:
    global _patched
    if _patched:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sns,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    build = functools.cache(lambda region, service: boto_client.boto_client_for(region, service))

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return build(region, service)

    for module in (lambda_eval_utils, state_task_service_sns):
        module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    _patched = True
