"""The host Lambda runtime on small zips of its own: the handler, environment, timeout, warm
module state, errors as Lambda reports them, and compiled packages taken from the host."""

from __future__ import annotations

import json

import pytest

from facedetect_cli.build.packaging import deterministic_zip
from facedetect_cli.local.lambda_runtime import FunctionSpec, LambdaRuntime

HANDLER = b'''
import os, sys, time
import PIL  # the zip's own copy is a compiled stand-in: the host's must be imported

class NotAFaceError(Exception):
    pass

CALLS = []  # module state: kept between invocations of one warm worker

def handler(event, context):
    CALLS.append(event)
    print("seen", len(CALLS))
    if event.get("fail"):
        raise NotAFaceError("no face in " + event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"calls": len(CALLS), "colour": os.environ["COLOUR"], "pil": PIL.__file__,
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "left": context.get_remaining_time_in_millis(), "function": context.function_name}
'''
ZIP = deterministic_zip({
    "app.py": HANDLER,
    "PIL/__init__.py": b"raise ImportError('the zip copy of PIL was imported')\n",
    "PIL/_imaging.cpython-313-aarch64-linux-gnu.so": b"\x7fELF",
    "pillow-13.0.0.dist-info/RECORD": b"PIL/__init__.py,,\npillow.libs/libz.so,,\n",
    "pillow.libs/libz.so": b"\x7fELF",
})


def spec(**changes) -> FunctionSpec:
    values = dict(arn="arn:aws:lambda:eu-central-1:123456789012:function:f", name="f",
                  handler="app.handler", runtime="python3.13", code_sha256="x",
                  environment=(("COLOUR", "blue"),), timeout_s=10, memory_mb=128,
                  region="eu-central-1", log_group="/aws/lambda/f", code=ZIP)
    values.update(changes)
    return FunctionSpec(**values)


@pytest.fixture(scope="module")
def runtime():
    runtime = LambdaRuntime("http://127.0.0.1:9")
    yield runtime
    runtime.close()


def call(runtime, function, event):
    invocation = runtime.invoke(function, json.dumps(event).encode())
    return invocation, json.loads(invocation.payload)


def test_runs_the_handler_with_its_environment_and_keeps_module_state_warm(runtime):
    function = spec()
    first, answer = call(runtime, function, {})
    assert first.function_error is None and first.cold
    assert answer["colour"] == "blue" and answer["function"] == "f"
    assert answer["endpoint"] == "http://127.0.0.1:9"
    assert "/site-packages/PIL/" in answer["pil"]  # the host's Pillow, not the zip's
    assert 0 < answer["left"] <= 10_000
    second, answer = call(runtime, function, {})
    assert answer["calls"] == 2 and not second.cold  # the same warm worker
    assert "seen 2" in second.log_lines
    assert second.log_lines[0].startswith("START RequestId: ")
    assert second.log_lines[-1].startswith(f"REPORT RequestId: {second.request_id}")


def test_an_error_comes_back_as_lambda_reports_it(runtime):
    invocation, payload = call(runtime, spec(), {"fail": "cat.png"})
    assert invocation.function_error == "Unhandled"
    assert payload["errorType"] == "NotAFaceError"  # what Retry/Catch match on
    assert payload["errorMessage"] == "no face in cat.png"
    assert any(line.startswith("[ERROR] NotAFaceError: no face in cat.png")
               for line in invocation.log_lines)


def test_a_timeout_ends_the_worker_as_lambda_ends_the_sandbox(runtime):
    # 3 s: room for a cold start on a busy machine (the next call is one).
    function = spec(timeout_s=3, environment=(("COLOUR", "red"),))
    invocation, payload = call(runtime, function, {"sleep": 30})
    assert invocation.function_error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in payload["errorMessage"]
    again, answer = call(runtime, function, {})
    assert again.cold and answer["calls"] == 1  # a new sandbox: the module state is gone


def test_a_changed_configuration_gets_a_new_worker(runtime):
    _, before = call(runtime, spec(environment=(("COLOUR", "green"),)), {})
    _, after = call(runtime, spec(environment=(("COLOUR", "amber"),)), {})
    assert (before["colour"], after["colour"]) == ("green", "amber")
    assert after["calls"] == 1


def test_a_missing_handler_is_lambdas_handler_not_found(runtime):
    invocation, payload = call(runtime, spec(handler="app.nothing"), {})
    assert invocation.function_error == "Unhandled"
    assert payload["errorType"] == "Runtime.HandlerNotFound"
