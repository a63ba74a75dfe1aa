"""The targets file of `--targets FILE`: many accounts and regions in one run.

TOML, with defaults at the top and one [[targets]] table per target:

    [defaults]
    region = "eu-central-1"
    emails = ["ops@example.com"]

    [[targets]]
    role_arn = "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"

    [[targets]]
    profile = "sandbox"
    region = "us-east-1"
    stack = "faces"

Everything is checked before anything runs: unknown keys, a target listed twice, invalid
regions, stack names and e-mail addresses are one clear error each.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facedetect_cli.aws.connection import (
    ROLE_ARN_RE,
    Connection,
    validate_external_id,
    validate_region_syntax,
    validate_role_arn,
    validate_role_session_name,
)
from facedetect_cli.engine.config import DEFAULT_STACK, StackConfig
from facedetect_cli.errors import FacedetectError, InputError

TARGET_KEYS = {"name", "role_arn", "profile", "region", "stack", "emails", "external_id",
               "role_session_name"}
# A name or a role names one target; a profile in [defaults] is the identity that assumes
# the targets' roles.
DEFAULT_KEYS = TARGET_KEYS - {"name", "role_arn"}
# A file of a thousand targets is about 100 KB; reading stops well after that (a device such
# as /dev/zero, or a wrong file, would otherwise be read until memory runs out).
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Target:
    label: str
    connection: Connection
    config: StackConfig
    # Known before any call for a target of an organization; a targets file may leave them out.
    account: str = ""
    name: str = ""
    ou_path: str = ""

    @property
    def account_hint(self) -> str:
        """The account as the file names it (from the role ARN), before any AWS call."""
        if self.account:
            return self.account
        match = ROLE_ARN_RE.fullmatch(self.connection.role_arn or "")
        return match.group(1) if match else ""


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (allowed: "
                         f"{', '.join(sorted(allowed))})")


def _emails(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: emails must be a list of addresses")
    return tuple(value)


def _check_strings(table: dict[str, Any], where: str) -> None:
    """Every key but emails holds one non-empty string: `external_id = 42` is refused here,
    not by AssumeRole halfway through the run."""
    for key, value in table.items():
        if key == "emails":
            continue
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: {key} must be a non-empty string, not {value!r}")


def _read(path: Path) -> str:
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"targets file {path} is larger than {MAX_FILE_BYTES // 1024} KiB: "
                         "is it the right file?")
    return data.decode("utf-8")


def load_targets(path: Path, *, known_regions: set[str] | None = None) -> list[Target]:
    try:
        document = tomllib.loads(_read(path))
    except FileNotFoundError:
        raise InputError(f"targets file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read targets file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: not valid TOML: {error}") from None
    _check_keys(document, {"defaults", "targets"}, str(path))
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InputError(f"{path}: [defaults] must be a table")
    _check_keys(defaults, DEFAULT_KEYS, f"{path} [defaults]")
    _check_strings(defaults, f"{path} [defaults]")
    entries = document.get("targets", [])
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path}: no [[targets]] listed")

    targets: list[Target] = []
    seen: dict[tuple[str, str, str], str] = {}
    for number, entry in enumerate(entries, 1):
        where = f"{path} target {number}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: must be a table")
        _check_keys(entry, TARGET_KEYS, where)
        _check_strings(entry, where)
        merged = {**defaults, **entry}
        role_arn, profile = entry.get("role_arn"), merged.get("profile")
        if role_arn and "profile" in entry:
            raise InputError(f"{where}: give role_arn or profile, not both")
        if not role_arn and not profile:
            raise InputError(f"{where}: needs role_arn or profile")
        region = merged.get("region")
        if not region:
            raise InputError(f"{where}: no region (set it in the target or in [defaults])")
        try:
            if role_arn:
                validate_role_arn(role_arn, "role_arn")
            if "external_id" in merged:
                validate_external_id(merged["external_id"], "external_id")
            if "role_session_name" in merged:
                validate_role_session_name(merged["role_session_name"], "role_session_name")
            validate_region_syntax(str(region))
            if known_regions is not None and region not in known_regions:
                raise InputError(f"unknown region {region!r}")
            config = StackConfig(stack=str(merged.get("stack", DEFAULT_STACK)),
                                 emails=_emails(merged.get("emails", []), where))
        except FacedetectError as error:
            raise InputError(f"{where}: {error}") from None
        identity = str(role_arn) if role_arn else f"profile:{profile}"
        account = role_arn.split(":")[4] if role_arn else str(profile)
        label = str(entry.get("name") or f"{account}/{region}")
        key = (identity, str(region), config.stack)
        if key in seen:
            raise InputError(f"{where}: the same target as {seen[key]} (same account, region "
                             "and stack)")
        seen[key] = f"target {number}"
        connection = Connection(
            region=str(region),
            # With a role, a profile (in [defaults]) is the identity that assumes it.
            profile=str(profile) if profile else None,
            role_arn=str(role_arn) if role_arn else None,
            external_id=merged.get("external_id"),
            role_session_name=str(merged.get("role_session_name", "facedetect")),
        )
        targets.append(Target(label, connection, config))
    return targets
