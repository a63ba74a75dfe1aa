"""The options that reach many accounts at once: an organization or some of its OUs
(`--organization`, `--ou`), the report of a run and the retry of what failed in it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from facedetect_cli.aws.connection import validate_region_syntax
from facedetect_cli.cli.options import CommonOptions
from facedetect_cli.errors import InputError
from facedetect_cli.fleet.organizations import (
    DEFAULT_MEMBER_ROLE,
    validate_account_id,
    validate_ou_id,
    validate_role_name,
)

# Measured with bench/organization.py: see docs/organizations.md.
ORGANIZATION_MAX_PARALLEL = 16
TARGETS_MAX_PARALLEL = 4


@dataclass(frozen=True)
class FleetOptions:
    organization: bool = False
    ous: tuple[str, ...] = ()
    regions: str | None = None
    member_role: str = DEFAULT_MEMBER_ROLE
    exclude_accounts: tuple[str, ...] = ()
    include_management: bool = False
    report: str | None = None
    retry_failed: str | None = None

    @property
    def by_organization(self) -> bool:
        return self.organization or bool(self.ous)

    def active(self, targets_file: str | None) -> bool:
        """Whether the command runs on many targets."""
        return bool(targets_file) or self.by_organization or bool(self.retry_failed)

    def wanted(self, opts: CommonOptions) -> bool:
        """Whether the command runs on many targets, once the options are checked (an
        organization's option without --organization is an error, not ignored)."""
        self.check(targets_file=opts.targets, role_arn=opts.role_arn)
        return self.active(opts.targets)

    def region_list(self) -> tuple[str, ...]:
        if self.regions is None:
            return ()
        regions = tuple(part.strip() for part in self.regions.split(","))
        if not all(regions):
            raise InputError(f"--regions {self.regions!r}: a comma-separated list of region "
                             "codes, without empty entries")
        for region in regions:
            validate_region_syntax(region)
        return tuple(dict.fromkeys(regions))

    def check(self, *, targets_file: str | None, role_arn: str | None) -> None:
        """Every combination the command line can get wrong, before any AWS call."""
        sources = [name for name, given in (
            ("--targets", bool(targets_file)), ("--organization", self.organization),
            ("--ou", bool(self.ous)), ("--retry-failed", bool(self.retry_failed))) if given]
        if len(sources) > 1:
            if sources[:2] == ["--organization", "--ou"]:
                raise InputError("--organization and --ou both choose the accounts: "
                                 "--organization is every account, --ou a part of them")
            raise InputError(f"{sources[0]} and {sources[1]} both say where to work: use one")
        needs_org = [name for name, given in (
            ("--regions", self.regions is not None),
            ("--member-role", self.member_role != DEFAULT_MEMBER_ROLE),
            ("--exclude-account", bool(self.exclude_accounts)),
            ("--include-management", self.include_management)) if given]
        if needs_org and not self.by_organization:
            raise InputError(f"{needs_org[0]} needs --organization or --ou")
        if self.report and not self.active(targets_file):
            raise InputError("--report needs --organization, --ou, --targets or --retry-failed")
        if role_arn and self.by_organization:
            raise InputError("--role-arn and --organization/--ou both say whose credentials: "
                             "run from the management account (or a delegated administrator); "
                             "each member is reached through --member-role")
        for ou in self.ous:
            validate_ou_id(ou)
        for account in self.exclude_accounts:
            validate_account_id(account)
        validate_role_name(self.member_role)
        self.region_list()
        if self.report and self.retry_failed and self.report == self.retry_failed:
            raise InputError("--report would overwrite the report --retry-failed reads: "
                             "write the retry's report to another file")


# What a command without the options above gets: one target, the one of the common options.
ONE_TARGET = FleetOptions()

_OPTIONS = [
    click.option("--organization", is_flag=True,
                 help="Every ACTIVE member account of the caller's organization (run from the "
                 "management account or a delegated administrator)."),
    click.option("--ou", "ous", multiple=True, metavar="OU_ID",
                 help="The accounts of this OU and of every OU below it; repeatable."),
    click.option("--regions", metavar="R1,R2",
                 help="With --organization/--ou: each account in each of these regions "
                 "(default: the region)."),
    click.option("--member-role", default=DEFAULT_MEMBER_ROLE, show_default=True,
                 metavar="NAME", help="The role assumed in each member account."),
    click.option("--exclude-account", "exclude_accounts", multiple=True, metavar="ID",
                 help="Leave this account out; repeatable."),
    click.option("--include-management", is_flag=True,
                 help="Also work in the management account (left out by default)."),
    click.option("--report", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Write a JSON Lines record of each target the moment it finishes."),
    click.option("--retry-failed", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Run only the targets that failed or never finished in this report."),
]
_NAMES = ["organization", "ous", "regions", "member_role", "exclude_accounts",
          "include_management", "report", "retry_failed"]


def fleet_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the many-accounts options; the command receives them as one `fleet` argument."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fleet = FleetOptions(**{name: kwargs.pop(name) for name in _NAMES})
        return command(*args, fleet=fleet, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
