"""A local mailbox per e-mail address subscribed to an SNS topic of the emulator.

On AWS an "email" subscription sends the message to the address; locally it is appended to
an mbox file (any mail reader opens it: `mail -f FILE`) under the emulator's state directory,
one file per address, where `facedetect detect --local` reads it back.
"""

from __future__ import annotations

import mailbox as std_mailbox
import os
import re
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ENV_DIR = "FACEDETECT_MAILBOX_DIR"
SENDER = "no-reply@sns.amazonaws.com"
_SAFE = re.compile(r"[^A-Za-z0-9@._+-]")
_lock = threading.Lock()
_patched = False


def mailbox_dir(state_dir: Path, port: int) -> Path:
    return state_dir / f"mail-{port}"


def mailbox_file(directory: Path, address: str) -> Path:
    return directory / f"{_SAFE.sub('_', address)}.mbox"


def deliver(directory: Path, address: str, subject: str | None, body: str,
            topic_arn: str) -> None:
    message = EmailMessage()
    message["From"] = f"AWS Notifications <{SENDER}>"
    message["To"] = address
    message["Subject"] = subject or "AWS Notification Message"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["X-Facedetect-Topic"] = topic_arn
    message.set_content(body, cte="8bit")  # readable as it is, in the file
    directory.mkdir(parents=True, exist_ok=True)
    with _lock:
        box = std_mailbox.mbox(mailbox_file(directory, address))
        try:
            box.lock()
            box.add(message)
            box.flush()
        finally:
            box.unlock()
            box.close()


def read_all(directory: Path) -> list[dict[str, str]]:
    """Every address's messages, oldest first per address."""
    return [message for path in sorted(directory.glob("*.mbox")) for message in _read(path)]


def _read(path: Path) -> list[dict[str, str]]:
    box = std_mailbox.mbox(path, create=False)
    try:
        return [{"to": str(m["To"] or ""), "subject": str(m["Subject"] or ""),
                 "date": str(m["Date"] or ""), "file": str(path),
                 "topic": str(m["X-Facedetect-Topic"] or ""),
                 "body": (m.get_payload(decode=True) or b"").decode("utf-8", "replace")}
                for m in box]
    finally:
        box.close()


def patch_sns(directory: Path) -> None:
    """moto accepts e-mail subscriptions and drops what is published to them. The mailboxes
    start empty with the emulator, as everything else in it does."""
    global _patched
    if _patched:
        return
    for old in directory.glob("*.mbox"):
        old.unlink()
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                *args: Any, **kwargs: Any) -> None:
        if self.protocol in ("email", "email-json"):
            attributes = kwargs.get("message_attributes", args[0] if args else None)
            matcher = self._filter_policy_matcher
            if matcher is not None and not matcher.matches(attributes, message):
                return
            try:
                deliver(directory, self.endpoint, subject, message, self.topic.arn)
            except OSError as exc:  # as on AWS, a failed delivery never fails the Publish
                print(f"facedetect: mailbox delivery failed: {exc}", flush=True)
            return
        original(self, message, message_id, subject, *args, **kwargs)

    Subscription.publish = publish
    os.environ.setdefault(ENV_DIR, str(directory))
    _patched = True
