"""Which accounts `--organization` and `--ou` reach: the organization's tree walked from its
root with Organizations' paginators, each account with the path of OUs above it.

Only ACTIVE accounts become targets. Suspended, closing and closed accounts, the accounts
named by --exclude-account, and the management account (unless --include-management) are
listed as skipped, with the reason, so that a run says what it left out.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from facedetect_cli.aws.connection import Connection, partition_of
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.errors import AwsError, InputError
from facedetect_cli.fleet.targets import Target

if TYPE_CHECKING:
    from facedetect_cli.aws.client import Client

DEFAULT_MEMBER_ROLE = "OrganizationAccountAccessRole"
# Matched whole (fullmatch) and ASCII only: `\d` would take other scripts' digits and `$` a
# trailing newline.
OU_ID = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", re.ASCII)
ROOT_ID = re.compile(r"r-[0-9a-z]{4,32}", re.ASCII)
ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# Organizations allows a few requests per second per account and answers the rest with
# TooManyRequestsException. botocore's standard mode retries each call a few times; a walk of
# a large tree can still outlast that, so a throttled page is retried here, with more patience.
THROTTLE_CODES = {"TooManyRequestsException", "ThrottlingException", "Throttling",
                  "RequestLimitExceeded"}
THROTTLE_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0)
_SKIP_REASONS = {
    "SUSPENDED": "suspended",
    "PENDING_CLOSURE": "closing",
    "CLOSED": "closed",
    "PENDING_ACTIVATION": "not yet active",
}


def validate_ou_id(value: str) -> str:
    if not (OU_ID.fullmatch(value) or ROOT_ID.fullmatch(value)):
        raise InputError(f"--ou {value!r} is not an OU id (ou-xxxx-xxxxxxxx) or a root id "
                         "(r-xxxx)")
    return value


def validate_account_id(value: str, option: str = "--exclude-account") -> str:
    if not ACCOUNT_ID.fullmatch(value):
        raise InputError(f"{option} {value!r} is not an account id (12 digits)")
    return value


def validate_role_name(value: str) -> str:
    if not ROLE_NAME.fullmatch(value):
        raise InputError(f"--member-role {value!r} is not an IAM role name (1-64 letters, "
                         "digits and +=,.@_-)")
    return value


@dataclass(frozen=True)
class Selection:
    """What the command line asked for: OUs (none: the whole organization) and exceptions."""

    ous: tuple[str, ...] = ()
    exclude: frozenset[str] = frozenset()
    include_management: bool = False


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    ou_path: str


@dataclass(frozen=True)
class Skipped:
    account: Account
    reason: str


@dataclass
class Resolution:
    """The accounts to work in, in the tree's order, and the ones left out."""

    management: str
    accounts: list[Account] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    api_calls: int = 0

    def per_ou(self) -> dict[str, int]:
        """Accounts per OU path, in the tree's order."""
        return dict(Counter(account.ou_path for account in self.accounts))


def _pages(client: Client, operation: str, sleep: Callable[[float], None],
           counter: list[int], **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a listing; a throttled page is asked again from where it stopped."""
    token: str | None = None
    waits = iter(THROTTLE_WAITS)
    while True:
        config = {"StartingToken": token} if token else {}
        try:
            for page in client.pages(operation, PaginationConfig=config, **params):
                counter[0] += 1
                yield page
                token = page.get("NextToken")
            return
        except AwsError as error:
            wait = next(waits, None)
            if error.code not in THROTTLE_CODES or wait is None:
                raise
            sleep(wait)


def _state(account: dict[str, Any]) -> str:
    # `State` replaced `Status` in 2025 and adds CLOSED and PENDING_ACTIVATION; older
    # answers (and other emulators) carry only Status.
    return str(account.get("State") or account.get("Status") or "ACTIVE")


def resolve(client: Client, selection: Selection, *, caller_account: str,
            sleep: Callable[[float], None] = time.sleep) -> Resolution:
    """Walk the organization from its root; list accounts only inside the selected OUs."""
    calls = [0]
    try:
        organization = client.describe_organization()["Organization"]
    except AwsError as error:
        if error.code == "AWSOrganizationsNotInUseException":
            raise InputError(f"account {caller_account} is not in an organization: "
                             "--organization and --ou need one") from None
        raise
    calls[0] += 1
    resolution = Resolution(management=str(organization.get("MasterAccountId", "")))
    wanted = set(selection.ous)
    found: set[str] = set()
    seen: set[str] = set()
    roots = [root for page in _pages(client, "list_roots", sleep, calls)
             for root in page.get("Roots", [])]
    # Depth first, each parent's children by name: a stable order run after run.
    stack: list[tuple[str, str, bool]] = [
        (root["Id"], root.get("Name", "Root"), not wanted or root["Id"] in wanted)
        for root in reversed(roots)]
    found.update(root["Id"] for root in roots if root["Id"] in wanted)
    while stack:
        parent, path, selected = stack.pop()
        if selected:
            listed = [account for page in _pages(client, "list_accounts_for_parent", sleep,
                                                 calls, ParentId=parent)
                      for account in page.get("Accounts", [])]
            for entry in sorted(listed, key=lambda a: (str(a.get("Name", "")), a["Id"])):
                if entry["Id"] in seen:
                    continue
                seen.add(entry["Id"])
                _sort(resolution, selection, Account(entry["Id"], str(entry.get("Name", "")),
                                                     path), _state(entry))
        children = [ou for page in _pages(client, "list_organizational_units_for_parent",
                                          sleep, calls, ParentId=parent)
                    for ou in page.get("OrganizationalUnits", [])]
        for ou in sorted(children, key=lambda o: str(o.get("Name", "")), reverse=True):
            inside = selected or ou["Id"] in wanted
            if ou["Id"] in wanted:
                found.add(ou["Id"])
            stack.append((ou["Id"], f"{path}/{ou.get('Name', ou['Id'])}", inside))
    missing = sorted(wanted - found)
    if missing:
        raise InputError(f"--ou {missing[0]} is not an OU of this organization "
                         f"({resolution.management or 'unknown management account'})")
    resolution.api_calls = calls[0]
    return resolution


def _sort(resolution: Resolution, selection: Selection, account: Account, state: str) -> None:
    if state != "ACTIVE":
        reason = _SKIP_REASONS.get(state, state.lower().replace("_", " "))
        resolution.skipped.append(Skipped(account, reason))
    elif account.id in selection.exclude:
        resolution.skipped.append(Skipped(account, "excluded (--exclude-account)"))
    elif account.id == resolution.management and not selection.include_management:
        resolution.skipped.append(Skipped(account, "management account "
                                                   "(add --include-management)"))
    else:
        resolution.accounts.append(account)


def organization_targets(resolution: Resolution, regions: Sequence[str], member_role: str,
                         base: Connection, config: StackConfig, *,
                         caller_account: str) -> list[Target]:
    """One target per account and region. The caller's own account (the management account
    with --include-management, or a delegated administrator's) is worked in with the
    caller's own credentials: the member role exists only in the accounts Organizations
    created, and a role cannot always assume itself."""
    targets: list[Target] = []
    for account in resolution.accounts:
        for region in regions:
            role_arn = (None if account.id == caller_account else
                        f"arn:{partition_of(region)}:iam::{account.id}:role/{member_role}")
            connection = replace(base, region=region, role_arn=role_arn)
            targets.append(Target(f"{account.id}/{region}", connection, config,
                                  account=account.id, name=account.name,
                                  ou_path=account.ou_path))
    return targets
