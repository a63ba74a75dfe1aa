"""Where and as whom to talk to AWS: told to the session by the layers above."""

from __future__ import annotations

import re
from dataclasses import dataclass

from facedetect_cli.errors import InputError

# Used with fullmatch (`$` also matches before a final newline) and re.ASCII (`\d` and `\w`
# also match other scripts' digits and letters).
_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)
# IAM's own patterns: a role ARN (the account is group 1), AssumeRole's session name and
# external id.
ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}", re.ASCII)
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)


def validate_role_arn(arn: str, what: str = "--role-arn") -> str:
    if not ROLE_ARN_RE.fullmatch(arn):
        raise InputError(f"{what} {arn!r} is not an IAM role ARN "
                         "(arn:aws:iam::<12-digit account>:role/<name>)")
    return arn


def validate_role_session_name(name: str, what: str = "--role-session-name") -> str:
    if not _SESSION_NAME_RE.fullmatch(name):
        raise InputError(f"invalid {what} {name!r}: 2-64 letters, digits and +=,.@_-")
    return name


def validate_external_id(external_id: str, what: str = "--external-id") -> str:
    if not _EXTERNAL_ID_RE.fullmatch(external_id):
        raise InputError(f"invalid {what} {external_id!r}: 2-1224 letters, digits and "
                         "+=,.@:/_-")
    return external_id


def validate_region_syntax(region: str) -> str:
    if not _REGION_RE.fullmatch(region):
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


def partition_of(region: str) -> str:
    """The ARN partition a region belongs to (arn:<partition>:...)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"
