"""Where and as whom to talk to AWS: told to the session by the layers above."""

from __future__ import annotations

import re
from dataclasses import dataclass

from facedetect_cli.errors import InputError

_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def validate_region_syntax(region: str) -> str:
    if not _REGION_RE.match(region):
        raise InputError(
            f"unknown region {region!r}: expected a region code such as eu-central-1"
        )
    return region


@dataclass(frozen=True)
class Connection:
    """Where and as whom to talk to AWS."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str = "facedetect"
    # Set only for a local emulator, which accepts any credentials.
    access_key_id: str | None = None
    secret_access_key: str | None = None
