"""The only module that imports botocore (boto3's engine; boto3 itself would add s3transfer's
import time to every command for nothing, as facedetect uses clients only).

It makes the session and the clients (standard retry mode, endpoint override, local
emulator), counts every API call through a botocore event hook, lets tests and the benchmark
inject faults and latency through the same hook, and turns botocore's exceptions into the
tool's own errors, so no other module needs to know botocore exists.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from facedetect_cli.config import Connection, validate_region_syntax
from facedetect_cli.errors import AwsError, CredentialsError, FacedetectError, InputError

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Scan", "Query", "Filter", "Search")

_EXPIRED_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
}
_INVALID_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
}
_ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "Forbidden",
}
# IAM action prefixes differ from botocore's service names for a few services.
_ACTION_PREFIX = {"stepfunctions": "states", "sfn": "states", "eventbridge": "events"}


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class InjectedFault:
    """An error a fault rule makes an API call return instead of reaching AWS."""

    code: str
    message: str
    status: int = 400


# A fault rule sees (service, operation, params) and returns a fault to inject, or None.
FaultRule = Callable[[str, str, dict[str, Any]], "InjectedFault | None"]


class ApiCallCounter:
    """Counts API calls by service and operation, thread-safe. Retries are not counted: a call
    is what the tool asked for, not what botocore had to send."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self.log: Callable[[str, str], None] | None = None

    def record(self, service: str, operation: str) -> None:
        with self._lock:
            self._calls[(service, operation)] += 1
        if self.log is not None:
            self.log(service, operation)

    def by_operation(self) -> dict[str, int]:
        with self._lock:
            return {f"{s}:{o}": n for (s, o), n in sorted(self._calls.items())}

    def totals(self) -> dict[str, int]:
        with self._lock:
            reads = sum(n for (_, o), n in self._calls.items() if is_read(o))
            writes = sum(n for (_, o), n in self._calls.items() if not is_read(o))
        return {"reads": reads, "writes": writes}


class _FakeHttpResponse:
    """What botocore expects back from a before-call handler that short-circuits a call."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = None


def translate_error(exc: Exception, service: str, operation: str) -> FacedetectError:
    """One clear line for any botocore failure: what was being done, AWS's message, what to do."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message") or code)
        if code in _EXPIRED_CODES:
            return CredentialsError(
                f"AWS credentials have expired ({code}): refresh them "
                "(for example `aws sso login`) and run the command again"
            )
        if code in _INVALID_CREDENTIAL_CODES:
            return CredentialsError(
                f"AWS rejected the credentials ({code}: {message}): check the access key, "
                "secret and profile"
            )
        if code in _ACCESS_DENIED_CODES:
            action = f"{_ACTION_PREFIX.get(service, service)}:{operation}"
            return AwsError(
                f"access denied for {action}: {message} (grant {action} to the caller, "
                "or use a profile that has it)",
                code=code,
                operation=operation,
                service=service,
            )
        return AwsError(f"{operation}: {message} ({code})", code=code, operation=operation,
                        service=service)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "choose a profile with --profile, or use --local for the local emulator"
        )
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return InputError(f"{exc}: check --profile / AWS_PROFILE against ~/.aws/config")
    if isinstance(exc, botocore.exceptions.TokenRetrievalError | botocore.exceptions.SSOError):
        return CredentialsError(f"AWS credentials could not be refreshed: {exc}")
    if isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectTimeoutError
        | botocore.exceptions.ReadTimeoutError,
    ):
        return AwsError(
            f"cannot reach the AWS endpoint for {service} ({exc}); check the network, "
            "--endpoint-url, or start the emulator with `facedetect local start`",
            code=type(exc).__name__,
            operation=operation,
            service=service,
        )
    if isinstance(exc, botocore.exceptions.WaiterError):
        return AwsError(f"{operation}: gave up waiting: {exc}", code="WaiterError",
                        operation=operation, service=service)
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        detail = " ".join(str(exc).split())  # botocore's message spans several lines
        return AwsError(f"{operation}: invalid request: {detail}", code="ParamValidationError",
                        operation=operation, service=service)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return AwsError(f"{operation}: {exc}", code=type(exc).__name__, operation=operation,
                        service=service)
    raise exc


# The first paginator or waiter of any client makes botocore's loader look for that kind of
# model in every service's directory (about 400, 50 ms). The loader caches the answer, but
# only once it has one: fifteen threads asking at once each did the whole search, a second of
# CPU in all. One at a time, the first searches and the others find the cache.
_MODEL_LOCK = threading.Lock()


class Client:
    """A botocore client whose calls raise the tool's errors instead of botocore's."""

    def __init__(self, raw: Any, service: str) -> None:
        self._raw = raw
        self.service = service

    @property
    def raw(self) -> Any:
        """The botocore client itself, for botocore's Stubber in tests."""
        return self._raw

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        method = getattr(self._raw, operation)
        api_name = self._raw.meta.method_to_api_mapping.get(operation, operation)

        def call(**kwargs: Any) -> dict[str, Any]:
            try:
                return method(**kwargs)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise translate_error(exc, self.service, api_name) from exc

        return call

    def pages(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        api_name = self._raw.meta.method_to_api_mapping.get(operation, operation)
        try:
            with _MODEL_LOCK:
                paginator = self._raw.get_paginator(operation)
            yield from paginator.paginate(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise translate_error(exc, self.service, api_name) from exc

    def wait(self, waiter: str, *, delay: float = 1, max_attempts: int = 120,
             **kwargs: Any) -> None:
        try:
            with _MODEL_LOCK:
                found = self._raw.get_waiter(waiter)
            found.wait(
                **kwargs, WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts}
            )
        except botocore.exceptions.BotoCoreError as exc:
            raise translate_error(exc, self.service, waiter) from exc


_shared_loader: botocore.loaders.Loader | None = None
_loader_lock = threading.Lock()


def _botocore_session() -> botocore.session.Session:
    """A botocore session sharing one data loader per process: service models and endpoint
    data are parsed once, not once per session (many targets at once, or many test runs)."""
    global _shared_loader
    session = botocore.session.Session()
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _shared_loader)
    return session


def from_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item in the low-level client's typed form as plain JSON-ready values."""
    from decimal import Decimal

    from boto3.dynamodb.types import TypeDeserializer

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | set):
            return [plain(v) for v in value]
        return value

    deserializer = TypeDeserializer()
    return {k: plain(deserializer.deserialize(v)) for k, v in item.items()}


def known_regions() -> set[str]:
    """Every region botocore knows, for checking a targets file before anything runs."""
    return _known_regions(_botocore_session())


def _known_regions(session: botocore.session.Session) -> set[str]:
    # The session's own loader: botocore parses its endpoint data once per session.
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("s3", partition_name=partition))
    return regions


class AwsSession:
    """A botocore session for one target: its clients, its account id, its API-call counter."""

    def __init__(
        self,
        connection: Connection,
        *,
        fault_rules: Sequence[FaultRule] = (),
        latency_s: float | None = None,
        call_log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.connection = connection
        self.counter = ApiCallCounter()
        # Set before the first call, so --debug shows the caller-identity and AssumeRole calls.
        self.counter.log = call_log
        self.fault_rules = list(fault_rules)
        if latency_s is None:
            latency_s = float(os.environ.get("FACEDETECT_INJECT_LATENCY_MS", "0") or 0) / 1000
        self.latency_s = latency_s
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._account: str | None = None
        session = _botocore_session()
        if connection.profile:
            session.set_config_variable("profile", connection.profile)
            if connection.profile not in session.available_profiles:
                raise translate_error(
                    botocore.exceptions.ProfileNotFound(profile=connection.profile), "sts",
                    "Session")
        if connection.access_key_id and connection.secret_access_key:
            session.set_credentials(connection.access_key_id, connection.secret_access_key)
        self._session = session
        # botocore reads AWS_DEFAULT_REGION; AWS_REGION is what the other SDKs read.
        region = (connection.region or os.environ.get("AWS_REGION")
                  or session.get_config_variable("region"))
        if not region:
            raise InputError(
                "no AWS region: pass --region, set AWS_REGION, or set one in the profile"
            )
        validate_region_syntax(region)
        if region not in _known_regions(self._session):
            raise InputError(f"unknown region {region!r}: expected a region code such as "
                             "eu-central-1")
        self.region: str = region
        if connection.role_arn:
            self._assume_role(connection)

    def _assume_role(self, connection: Connection) -> None:
        """Work inside the role's account. botocore refreshes these credentials before they
        expire, so long runs keep working."""
        botocore_session = self._session
        extra: dict[str, Any] = {"RoleSessionName": connection.role_session_name}
        if connection.external_id:
            extra["ExternalId"] = connection.external_id
        # Made before the credentials are swapped, so refreshes still use the source identity.
        source_sts = self._raw_client("sts")
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=lambda *a, **kw: source_sts,
            source_credentials=botocore_session.get_credentials(),
            role_arn=connection.role_arn,
            extra_args=extra,
        )
        try:
            fetcher.fetch_credentials()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            err = translate_error(exc, "sts", "AssumeRole")
            raise CredentialsError(f"cannot assume role {connection.role_arn}: {err}") from exc
        credentials = DeferredRefreshableCredentials(
            method="assume-role", refresh_using=fetcher.fetch_credentials
        )
        botocore_session._credentials = credentials

    def _config(self, *, fast_fail: bool = False) -> botocore.config.Config:
        return botocore.config.Config(
            retries={"mode": "standard", "max_attempts": 2 if fast_fail else 5},
            connect_timeout=3 if fast_fail else 10,
            read_timeout=60,
            max_pool_connections=32,
            user_agent_extra="facedetect",
        )

    def _raw_client(self, service: str, *, fast_fail: bool = False) -> Any:
        raw = self._session.create_client(
            service,
            region_name=self.region,
            endpoint_url=self.connection.endpoint_url,
            config=self._config(fast_fail=fast_fail),
        )
        raw.meta.events.register("before-parameter-build.*.*", self._keep_params)
        raw.meta.events.register("before-call.*.*", self._before_call)
        if self.latency_s:
            raw.meta.events.register("before-send.*.*", self._delay)
        return raw

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call sees the serialized request; fault rules want the API's parameters.
        context["facedetect_params"] = dict(params)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        self.counter.record(service, model.name)
        for rule in self.fault_rules:
            fault = rule(service, model.name, context.get("facedetect_params", {}))
            if fault is not None:
                body = {
                    "Error": {"Code": fault.code, "Message": fault.message},
                    "ResponseMetadata": {"HTTPStatusCode": fault.status},
                }
                return _FakeHttpResponse(fault.status), body
        return None

    def _delay(self, **_: Any) -> None:
        time.sleep(self.latency_s)

    def client(self, service: str) -> Client:
        # Without the lock once made: every API call asks, from many threads at once, and none
        # should wait while another service's client is being made. Clients are made one at a
        # time: a botocore session is not safe to make two at once from.
        found = self._clients.get(service)
        if found is not None:
            return found
        with self._lock:
            if service not in self._clients:
                self._clients[service] = Client(self._raw_client(service), service)
            return self._clients[service]

    @property
    def account_id(self) -> str:
        """The account the credentials act in; the first call, so it also checks that
        credentials and endpoint work, and fails fast when they do not."""
        with self._lock:
            if self._account is None:
                sts = Client(self._raw_client("sts", fast_fail=True), "sts")
                self._account = str(sts.get_caller_identity()["Account"])
            return self._account
