"""Lambda's Invoke in the local emulator: the deployed function's own code really runs.

moto runs function code only in Docker, and without Docker only echoes the input. This
replaces moto's Invoke with the host runtime (lambda_runtime.py): the function's zip, handler,
environment and timeout from the emulator's Lambda, its output in the function's log group
(so `facedetect logs --local` shows it), and its errors as Lambda reports them (the
X-Amz-Function-Error header and an {"errorType", "errorMessage"} payload), which is what Step
Functions' Retry and Catch match.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any
from urllib.parse import unquote

from facedetect_cli.local.backend_lock import BACKEND_LOCK
from facedetect_cli.local.lambda_runtime import FunctionSpec, Invocation, LambdaRuntime

LOG_TAIL_BYTES = 4096  # what LogType=Tail returns: the last 4 KB of the invocation's log
_runtime: LambdaRuntime | None = None
_patched = False


def spec_of(function: Any) -> FunctionSpec:
    return FunctionSpec(
        arn=function.function_arn, name=function.function_name, handler=function.handler or "",
        runtime=function.run_time or "", code_sha256=function.code_sha_256,
        environment=tuple(sorted((function.environment_vars or {}).items())),
        timeout_s=int(function.timeout or 3), memory_mb=int(function.memory_size or 128),
        region=function.region, log_group=function.logs_group_name,
        code=bytes(function.code_bytes or b""))


def _write_logs(function: Any, invocation: Invocation) -> None:
    logs = function.logs_backend
    logs.ensure_log_group(function.logs_group_name)
    group = logs.groups[function.logs_group_name]
    if invocation.log_stream not in group.streams:
        logs.create_log_stream(function.logs_group_name, invocation.log_stream)
    now = int(time.time() * 1000)
    logs.put_log_events(function.logs_group_name, invocation.log_stream,
                        [{"timestamp": now, "message": line} for line in invocation.log_lines])


def invoke(self: Any) -> tuple[int, dict[str, str], bytes]:
    runtime = _runtime  # set by patch_lambda before moto can route an Invoke here
    assert runtime is not None
    name = unquote(self.path.rsplit("/", 2)[-2])
    with BACKEND_LOCK:
        function = self.backend.get_function(name, self._get_param("qualifier"))
        spec = spec_of(function)
    kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if kind == "DryRun":
        return 204, {"status": "204"}, b""
    body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()

    def run() -> Invocation:
        invocation = runtime.invoke(spec, body)
        with BACKEND_LOCK:
            _write_logs(function, invocation)
        return invocation

    if kind == "Event":
        threading.Thread(target=run, daemon=True).start()
        return 202, {"status": "202"}, b""
    invocation = run()
    headers = {"content-type": "application/json", "x-amz-executed-version": "$LATEST"}
    if invocation.function_error:
        headers["x-amz-function-error"] = invocation.function_error
    if self.headers.get("X-Amz-Log-Type") == "Tail":
        tail = "\n".join(invocation.log_lines).encode()[-LOG_TAIL_BYTES:]
        headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return 200, headers, invocation.payload


def patch_lambda(endpoint_url: str) -> None:
    """Before moto's method lookup is cached."""
    global _patched, _runtime
    if _patched:
        return
    from moto.awslambda.responses import LambdaResponse

    _runtime = LambdaRuntime(endpoint_url)
    LambdaResponse.invoke = invoke
    _patched = True
