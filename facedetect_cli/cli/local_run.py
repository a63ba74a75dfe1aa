"""What `detect` adds against the local emulator: the stored item, the notification from the
local mailbox, and which fields the local face detector fills (it is not Rekognition)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from facedetect_cli.cli.render import Output
    from facedetect_cli.cli.runner import Run
    from facedetect_cli.observe.pipeline import Pipeline, Upload


@dataclass
class LocalRun:
    item: dict[str, Any] | None
    mailbox: str
    notifications: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        from facedetect_cli.local.faces.rekognition_shape import FILLED_FIELDS, NOT_FILLED_FIELDS

        return {"item": self.item, "notifications": self.notifications,
                "mailbox": self.mailbox,
                "localDetector": {"fills": list(FILLED_FIELDS),
                                  "leavesOut": list(NOT_FILLED_FIELDS)}}

    def show(self, out: Output, *, succeeded: bool) -> None:
        from facedetect_cli.local.faces.rekognition_shape import FIELDS_NOTE

        if self.item is not None:
            out.info(f"Stored item (DynamoDB, key {self.item.get('ImageKey')}):")
            out.info(json.dumps(self.item, indent=2, default=str, sort_keys=True))
        for message in self.notifications:
            out.info(f"Notification to {message['to']} (local mailbox {message['file']}):")
            out.info(f"Subject: {message['subject']}\n\n{message['body'].rstrip()}")
        if not self.notifications:
            out.info(f"No notification in the local mailboxes ({self.mailbox}).")
        if succeeded:
            out.info(f"Note: {FIELDS_NOTE}.")


def local_run(r: Run, pipeline: Pipeline, upload: Upload, endpoint_url: str | None) -> LocalRun:
    from facedetect_cli.local.lifecycle import state_dir
    from facedetect_cli.local.mailbox import mailbox_dir, read_all

    items = pipeline.results(key=upload.key)
    port = r.opts.local_port if r.opts.local else urlparse(endpoint_url or "").port
    directory = mailbox_dir(state_dir(), port or 0)
    since = upload.started - timedelta(seconds=2)
    notifications = []
    for message in read_all(directory):
        try:
            sent = parsedate_to_datetime(message["date"])
        except (TypeError, ValueError):
            continue
        if sent >= since and upload.key in message["body"]:
            notifications.append(message)
    return LocalRun(items[0] if items else None, str(directory), notifications)
