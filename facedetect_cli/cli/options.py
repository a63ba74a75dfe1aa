"""The options every command takes, as one decorator, and the object they become."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from facedetect_cli.aws.connection import (
    Connection,
    validate_external_id,
    validate_region_syntax,
    validate_role_arn,
    validate_role_session_name,
)
from facedetect_cli.engine.config import DEFAULT_STACK, validate_endpoint_url, validate_stack_name
from facedetect_cli.errors import InputError

DEFAULT_SESSION_NAME = "facedetect"
DEFAULT_LOCAL_PORT = 4566  # LocalStack's port, so --local works unchanged with LocalStack too
LOCAL_REGION = "eu-central-1"


@dataclass(frozen=True)
class CommonOptions:
    stack: str
    region: str | None
    profile: str | None
    endpoint_url: str | None
    local: bool
    local_port: int
    role_arn: str | None
    external_id: str | None
    role_session_name: str
    output: str
    quiet: bool
    debug: bool
    targets: str | None = None
    max_parallel: int | None = None

    @property
    def local_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def connection(self) -> Connection:
        """Where to connect; checks what can be checked without AWS."""
        validate_stack_name(self.stack)
        self._check_given_values()
        if self.local and self.endpoint_url:
            raise InputError("--local and --endpoint-url both name an endpoint: use one")
        if self.local and (self.role_arn or self.profile):
            # The emulator takes any credentials and has one account: a role or a profile
            # would change nothing there, and ignoring it silently would mislead.
            given = "--role-arn" if self.role_arn else "--profile"
            raise InputError(f"{given} does not combine with --local: the local emulator has "
                             "one account and accepts any credentials")
        if self.endpoint_url is not None:
            validate_endpoint_url(self.endpoint_url)
        if self.region is not None:
            validate_region_syntax(self.region)
        if self.role_arn is not None:
            validate_role_arn(self.role_arn)
        if self.external_id is not None:
            if not self.role_arn:
                raise InputError("--external-id is only used with --role-arn")
            validate_external_id(self.external_id)
        validate_role_session_name(self.role_session_name)
        if self.local:
            return Connection(
                region=self.region or LOCAL_REGION,
                endpoint_url=self.local_endpoint,
                access_key_id="test",
                secret_access_key="test",
            )
        return Connection(
            region=self.region,
            profile=self.profile,
            endpoint_url=self.endpoint_url,
            role_arn=self.role_arn,
            external_id=self.external_id,
            role_session_name=self.role_session_name,
        )

    def _check_given_values(self) -> None:
        """An option given an empty value is a mistake (an unset shell variable), never a
        request for the default: `--region ""` must not mean "the profile's region"."""
        for name in ("region", "profile", "endpoint_url", "role_arn", "external_id",
                     "role_session_name"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise InputError(f"--{name.replace('_', '-')} is empty: give a value or leave "
                                 "the option out")


_OPTIONS = [
    click.option("--stack", default=DEFAULT_STACK, show_default=True, envvar="FACEDETECT_STACK",
                 help="Stack name: 1-20 lowercase letters, digits and hyphens. "
                 "[env: FACEDETECT_STACK]"),
    click.option("--region", envvar="FACEDETECT_REGION",
                 help="AWS region (else AWS_REGION or the profile's). [env: FACEDETECT_REGION]"),
    click.option("--profile", envvar="FACEDETECT_PROFILE",
                 help="AWS profile from ~/.aws/config. [env: FACEDETECT_PROFILE]"),
    click.option("--endpoint-url", envvar="FACEDETECT_ENDPOINT_URL",
                 help="Send every AWS call to this endpoint (boto3's AWS_ENDPOINT_URL works "
                 "too). [env: FACEDETECT_ENDPOINT_URL]"),
    click.option("--local", is_flag=True, envvar="FACEDETECT_LOCAL",
                 help="Use the local emulator at 127.0.0.1:--local-port with dummy credentials, "
                 "starting the embedded one if nothing listens there. [env: FACEDETECT_LOCAL]"),
    click.option("--local-port", type=click.IntRange(1, 65535), default=DEFAULT_LOCAL_PORT,
                 show_default=True, envvar="FACEDETECT_LOCAL_PORT",
                 help="Port of the local emulator. [env: FACEDETECT_LOCAL_PORT]"),
    click.option("--role-arn", envvar="FACEDETECT_ROLE_ARN",
                 help="Assume this IAM role first and work in its account. "
                 "[env: FACEDETECT_ROLE_ARN]"),
    click.option("--external-id", envvar="FACEDETECT_EXTERNAL_ID",
                 help="External id for --role-arn. [env: FACEDETECT_EXTERNAL_ID]"),
    click.option("--role-session-name", default=DEFAULT_SESSION_NAME, show_default=True,
                 envvar="FACEDETECT_ROLE_SESSION_NAME",
                 help="Session name for --role-arn. [env: FACEDETECT_ROLE_SESSION_NAME]"),
    click.option("--output", type=click.Choice(["text", "json"]), default="text",
                 show_default=True, envvar="FACEDETECT_OUTPUT",
                 help="text for people, json for scripts (only JSON on stdout). "
                 "[env: FACEDETECT_OUTPUT]"),
    click.option("--quiet", "-q", is_flag=True, envvar="FACEDETECT_QUIET",
                 help="Print nothing but errors: the exit code is the answer (status: 0 "
                 "healthy, 3 not). A JSON document is still written. [env: FACEDETECT_QUIET]"),
    click.option("--debug", is_flag=True, envvar="FACEDETECT_DEBUG",
                 help="Show each API call and tracebacks on stderr. [env: FACEDETECT_DEBUG]"),
]
# Only up, down and status run on many targets at once; the other commands work on one stack.
_FLEET_OPTIONS = [
    click.option("--targets", type=click.Path(dir_okay=False), envvar="FACEDETECT_TARGETS",
                 help="A TOML file of targets (role ARN or profile, region, stack, e-mails): "
                 "run up, down or status on each of them at once. [env: FACEDETECT_TARGETS]"),
    click.option("--max-parallel", type=click.IntRange(1, 64), default=None,
                 envvar="FACEDETECT_MAX_PARALLEL",
                 help="With --targets, --organization or --ou: how many targets at once "
                 "(default: 4 with --targets, 16 for an organization). "
                 "[env: FACEDETECT_MAX_PARALLEL]"),
]
_NAMES = [
    "stack", "region", "profile", "endpoint_url", "local", "local_port", "role_arn",
    "external_id", "role_session_name", "output", "quiet", "debug",
]
_FLEET_NAMES = ["targets", "max_parallel"]


def common_options(*, fleet: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the shared options to a command, which receives them as one `opts` argument;
    `fleet` adds --targets and --max-parallel, for the commands that can run on many targets."""
    options = _OPTIONS + (_FLEET_OPTIONS if fleet else [])
    names = _NAMES + (_FLEET_NAMES if fleet else [])

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            opts = CommonOptions(**{name: kwargs.pop(name) for name in names})
            return command(*args, opts=opts, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate
