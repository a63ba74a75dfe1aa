"""S3 -> EventBridge -> Step Functions in the local emulator, as on AWS.

moto 5.2 sends S3's events to EventBridge with one constant id, a numeric time and a constant
sequencer, delivers them to disabled rules, and has no Step Functions target: the
NotImplementedError that raises is swallowed and also ends delivery to the rules after it.
This replaces moto's S3 -> EventBridge hand-over: the event is shaped as AWS shapes it (a new
id per event, an ISO time, etag, a sequencer that grows per object), only ENABLED rules whose
pattern matches receive it, a state machine target starts an execution of the deployed
definition with the event as input, and a failing target never stops the others.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger("facedetect.emulator.events")
# S3's EventBridge `reason` for each object-created notification name.
_REASONS = {"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject",
            "CompleteMultipartUpload": "CompleteMultipartUpload"}
_sequence = itertools.count(1)
_sequence_lock = threading.Lock()
_last_sequencer = 0
_patched = False


def next_sequencer() -> str:
    """A hex sequencer that grows with every event, also across emulator restarts (it starts
    from the clock), as S3's do for the events of one key."""
    global _last_sequencer
    with _sequence_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:018X}"


def s3_event(account_id: str, bucket: Any, event_name: str, key: Any,
             detail_type: str) -> dict[str, Any]:
    """The event S3 sends to EventBridge (AWS's documented shape)."""
    obj: dict[str, Any] = {"key": key.name, "size": key.size,
                           "etag": key.etag.replace('"', ""), "sequencer": next_sequencer()}
    if key.version_id and key.version_id != "null":
        obj["version-id"] = key.version_id
    kind = event_name.split(":")[-1]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _REASONS.get(kind, kind),
        },
    }


def deliver(account_id: str, region: str, event: dict[str, Any]) -> int:
    """Send the event to every enabled, matching rule of the region's buses; returns how many
    targets received it."""
    from moto.events.models import events_backends

    delivered = 0
    backend = events_backends[account_id][region]
    for bus in list(backend.event_buses.values()):
        for rule in list(bus.rules.values()):
            if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
                continue
            for target in list(rule.targets):
                try:
                    _send(rule, target, event)
                    delivered += 1
                except Exception:
                    # As on AWS, a failed target is the target's failure (FailedInvocations),
                    # not the event's: the other targets and rules still get it.
                    LOG.exception("rule %s: delivery to %s failed", rule.name, target.get("Arn"))
    return delivered


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.models import EventTemplateParser

        result = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}), event=event)
        return result if isinstance(result, str) else json.dumps(result)
    return json.dumps(event)


def _send(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    arn = str(target["Arn"])
    parts = arn.split(":")
    if parts[2] == "states" and parts[5] == "stateMachine":
        start_execution(arn, _target_input(target, event))
        return
    one = copy.copy(rule)  # moto's own delivery, for one target at a time
    one.targets = [target]
    one.send_to_targets(copy.deepcopy(event), transform_input=True)


def start_execution(state_machine_arn: str, execution_input: str) -> str:
    """Start an execution as EventBridge does (a generated name); returns its ARN."""
    from moto.stepfunctions.responses import get_backend

    from facedetect_cli.local.stepfunctions import reuse_task_clients

    # Here, not at start: the executor's modules take a second to import, and the first
    # execution needs them anyway.
    reuse_task_clients()
    _, _, _, region, account = state_machine_arn.split(":")[:5]
    execution = get_backend(account, region).start_execution(
        state_machine_arn, name=str(uuid.uuid4()), execution_input=execution_input)
    return str(execution.execution_arn)


def patch_eventbridge() -> None:
    global _patched
    if _patched:
        return
    import moto.s3.notifications as notifications

    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str,
                                  key: Any) -> None:
        try:
            event = s3_event(account_id, bucket, event_name, key,
                             notifications._detail_type(event_name))
            deliver(account_id, bucket.region_name, event)
        except Exception:
            # Delivery is asynchronous on AWS: it never fails the upload.
            LOG.exception("S3 -> EventBridge delivery failed")

    notifications._send_event_bridge_message = send_event_bridge_message
    _patched = True
