"""A warm Lambda sandbox: one function's code, loaded once, invoked request after request.

Run by lambda_runtime with the host's Python as `python -I lambda_worker.py TASK_ROOT HANDLER`
in the function's own environment (its variables, AWS_ENDPOINT_URL to the emulator). Standard
library only: it runs beside the function's code, which must not see facedetect's modules.

Protocol: one JSON request per line on stdin ({"requestId", "payload", "timeoutMs", ...});
one JSON answer per line on the channel that was stdout when it started ({"requestId", "ok",
"payload", "logs"}). What the code prints (stdout, stderr, logging) is captured per invocation
and becomes the answer's "logs". Like Lambda, module state (cached clients) survives between
invocations, and a failed cold start (import) is reported as the invocation's error and ends
the sandbox.
"""

import importlib
import io
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class _Capture(io.TextIOBase):
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def lines(self) -> list[str]:
        # "\n" only: a traceback joined with "\r" stays one log event, as in Lambda.
        return [line for line in "".join(self.parts).split("\n") if line.strip()]


class _Context:
    """The attributes and method of Lambda's context object the handlers may use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id = request["requestId"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request.get("functionArn", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = time.monotonic() + int(request.get("timeoutMs", 3000)) / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _CurrentStdout(io.TextIOBase):
    """logging's handler keeps its stream: this one always writes to the current capture."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """An unhandled error as the Python runtime reports it (the function's frames only)."""
    frames = exc.__traceback__.tb_next if exc.__traceback__ else None
    return {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__,
            "requestId": "", "stackTrace": traceback.format_tb(frames)}


def _load(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(_error(
            ImportError(f"Unable to import module '{module_name}': {exc}"),
            "Runtime.ImportModuleError")) from exc
    except SyntaxError as exc:
        raise _InitError(_error(exc, "Runtime.UserCodeSyntaxError")) from exc
    except Exception as exc:
        raise _InitError(_error(exc)) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise _InitError({"errorMessage": f"Handler '{function_name}' missing on module "
                          f"'{module_name}'", "errorType": "Runtime.HandlerNotFound",
                          "requestId": "", "stackTrace": []})
    return function


class _MarshalError(Exception):
    pass


class _InitError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["errorMessage"])
        self.error = error


def main() -> None:
    task_root, handler_name = sys.argv[1], sys.argv[2]
    # The answers get their own copy of stdout; fd 1 then goes to stderr, so that code writing
    # to the file descriptor itself (a C library) cannot corrupt them.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.path.insert(0, task_root)
    os.chdir(task_root)
    root = logging.getLogger()
    log_handler = logging.StreamHandler(_CurrentStdout())
    log_handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
    root.addHandler(log_handler)
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())
    function = None
    for line in sys.stdin:
        request = json.loads(line)
        capture = _Capture()
        sys.stdout = sys.stderr = capture
        ok, keep_going = True, True
        try:
            if function is None:
                function = _load(handler_name)
            result = function(json.loads(request["payload"]), _Context(request))
            try:
                payload = json.dumps(result)
            except (TypeError, ValueError) as exc:
                raise _MarshalError(f"Unable to marshal response: {exc}") from exc
        except _InitError as exc:
            ok, keep_going, payload = False, False, json.dumps(exc.error)
            print(f"[ERROR] {exc.error['errorType']}: {exc.error['errorMessage']}")
        except Exception as exc:
            kind = "Runtime.MarshalError" if isinstance(exc, _MarshalError) else None
            ok, error = False, _error(exc, kind)
            error["requestId"] = request["requestId"]
            payload = json.dumps(error)
            trace = "".join(traceback.format_exception(exc)).rstrip().replace("\n", "\r")
            print(f"[ERROR] {type(exc).__name__}: {exc}\r{trace}")
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        channel.write(json.dumps({"requestId": request["requestId"], "ok": ok,
                                  "payload": payload, "logs": capture.lines()}) + "\n")
        channel.flush()
        if not keep_going:
            return


if __name__ == "__main__":
    main()
