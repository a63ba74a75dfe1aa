"""The embedded local emulator: moto's server, with the gaps that matter to this stack closed.

`python -m facedetect_cli.local.emulator --port 4566` serves until stopped. Tests start the same
server in a thread with `start_in_thread`, so they run against exactly what users get.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

_patched = False


def patch_moto() -> None:
    """moto stores EventBridgeConfiguration but never returns it from
    GetBucketNotificationConfiguration (moto 5.2); AWS does. Without this, every `up` against
    the emulator would see the bucket's EventBridge notifications as off and 'repair' them."""
    global _patched
    if _patched:
        return
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        serialized = self.serialized

        def with_eventbridge(result: ActionResult) -> Any:
            data = result.result
            if config is not None and config.event_bridge is not None and isinstance(data, dict):
                data["EventBridgeConfiguration"] = {}
            return serialized(result)

        self.serialized = with_eventbridge
        try:
            return original(self)
        finally:
            del self.serialized

    S3Response.get_bucket_notification = get_bucket_notification
    _treat_requests_as_tls()
    _honour_creation_tags()
    _one_request_at_a_time()
    # moto has no Rekognition collections; the duplicates feature makes one. Before the
    # method lookup is cached: this adds methods to moto's Rekognition response class.
    from facedetect_cli.local.moto_collections import patch_collections

    patch_collections()
    _cache_method_lookup()
    _cache_module_list()
    _patched = True


def _cache_method_lookup() -> None:
    """moto lists a response class's methods with inspect.getmembers on every request (about
    a tenth of its time per call); the list never changes, so compute it once per class."""
    import functools

    import moto.core.responses

    moto.core.responses.method_names_from_class = functools.cache(  # type: ignore[assignment]
        moto.core.responses.method_names_from_class
    )


def _cache_module_list() -> None:
    """moto's server lists its own package directory (an isdir per service, about 150) on every
    request to find the service a host names: an eighth of its time per call. The directory
    does not change while it runs."""
    import functools

    import moto.backends

    original = moto.backends.list_of_moto_modules
    listed = functools.cache(lambda: frozenset(original()))
    moto.backends.list_of_moto_modules = listed  # type: ignore[assignment]


def _one_request_at_a_time() -> None:
    """moto's backends are plain dicts, not thread-safe: a CreateRole during a GetRole fails
    with 'dictionary changed size during iteration'. facedetect sends calls in parallel, as AWS
    allows, so the emulator serialises them; moto is CPU-bound anyway, nothing is lost. Re-entrant,
    because a Step Functions execution calls other services from inside a request. A Lambda
    invocation does not hold it while the function runs (see backend_lock.py)."""
    from moto.core.responses import BaseResponse

    from facedetect_cli.local.backend_lock import BACKEND_LOCK, runs_code

    original = BaseResponse._dispatch

    def dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args and runs_code(self, args[0]):
            return original(self, *args, **kwargs)
        with BACKEND_LOCK:
            return original(self, *args, **kwargs)

    BaseResponse._dispatch = dispatch


def _honour_creation_tags() -> None:
    """AWS applies CreateBucketConfiguration.Tags atomically with the bucket (what makes an
    interrupted `up` leave an owned bucket, never an untagged one); moto ignores them."""
    import xmltodict
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_put

    def bucket_response_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, *args, **kwargs)
        if self.data.get("Action") != "CreateBucket" or not self.body:
            return response
        try:
            configuration = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
        except Exception:
            return response
        tags = (configuration.get("Tags") or {}).get("Tag") or []
        tags = [tags] if isinstance(tags, dict) else tags
        if tags:
            self.backend.put_bucket_tagging(self.bucket_name,
                                            {t["Key"]: t.get("Value", "") for t in tags})
        return response

    S3Response._bucket_response_put = bucket_response_put


def _treat_requests_as_tls() -> None:
    """moto evaluates bucket policies without their conditions, so the stack's
    "deny when aws:SecureTransport is false" statement denies every request. The emulator is
    reached over loopback where TLS is moot: count every request as secure, as it is on AWS
    through https."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def insecure_only(statement: dict[str, Any]) -> bool:
        condition = statement.get("Condition") or {}
        return condition == {"Bool": {"aws:SecureTransport": "false"}}

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        policy["Statement"] = [s for s in policy.get("Statement", []) if not insecure_only(s)]
        if not policy["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


def _prepare() -> None:
    # AWSLambdaBasicExecutionRole and the other AWS managed policies exist only when loaded.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    patch_moto()


def enable_pipeline(host: str, port: int, state_dir: Path) -> None:
    """Make an upload run the deployed pipeline, as on AWS (docs/local-pipeline.md): S3 ->
    EventBridge -> Step Functions -> the functions' own code -> the embedded face detector,
    DynamoDB, SNS (e-mail into local mailboxes). For the emulator's own process only: it
    changes moto's global configuration."""
    from moto.core.config import default_user_config

    from facedetect_cli.local.eventbridge import patch_eventbridge
    from facedetect_cli.local.lambda_service import patch_lambda
    from facedetect_cli.local.mailbox import mailbox_dir, patch_sns
    from facedetect_cli.local.rekognition import patch_rekognition

    # Step Functions' Lambda tasks call http://localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    patch_eventbridge()
    patch_lambda(f"http://{host}:{port}")
    patch_rekognition()
    patch_sns(mailbox_dir(state_dir, port))


def start_in_thread(port: int = 0, host: str = "127.0.0.1") -> Any:
    """Start the emulator in this process; returns moto's ThreadedMotoServer (call .stop())."""
    _prepare()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="facedetect's embedded AWS emulator (moto)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--pid-file", help="write this process's pid here once the port is "
                        "bound, and hold the file locked while serving (see lifecycle.py)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the local mailboxes go (default: facedetect's state dir)")
    args = parser.parse_args(argv)
    _prepare()
    from facedetect_cli.local.lifecycle import state_dir

    enable_pipeline(args.host, args.port, args.state_dir or state_dir())
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietRequestHandler(MotoRequestHandler):  # type: ignore[misc]
        # One log line per request was a tenth of the emulator's time per call; errors are
        # still logged.
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, app, threaded=True,
                         request_handler=QuietRequestHandler)
    if args.pid_file:
        from facedetect_cli.local.lifecycle import hold_pid_file

        hold_pid_file(Path(args.pid_file))  # stays open, and locked, until this process ends
    print(f"facedetect emulator (moto) listening on http://{args.host}:{args.port}", flush=True)
    # `facedetect local stop` sends SIGTERM: exit through atexit, so the Lambda workers stop and
    # their unpacked code is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
