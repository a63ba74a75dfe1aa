"""Sessions and clients: standard retry mode, endpoint override (the local emulator), assumed
roles, one botocore data loader per process. boto3 itself is not used: it would add
s3transfer's import time to every command for nothing, as facedetect uses clients only."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from facedetect_cli.aws.client import Client
from facedetect_cli.aws.connection import ROLE_ARN_RE, Connection, validate_region_syntax
from facedetect_cli.aws.errors import BOTOCORE_ERRORS, not_aws, translate_error
from facedetect_cli.aws.hooks import ApiCallCounter, FaultRule, _FakeHttpResponse
from facedetect_cli.errors import CredentialsError, InputError

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


def known_regions() -> set[str]:
    """Every region botocore knows, for checking a targets file before anything runs."""
    return _known_regions(_botocore_session())


def validate_region(region: str, session: botocore.session.Session | None = None) -> str:
    """A region code botocore knows (its syntax first, so a typo never loads endpoint data)."""
    validate_region_syntax(region)
    if region not in _known_regions(session or _botocore_session()):
        raise InputError(f"unknown region {region!r}: expected a region code such as "
                         "eu-central-1")
    return region


def _known_regions(session: botocore.session.Session) -> set[str]:
    # The session's own loader: botocore parses its endpoint data once per session.
    return set().union(*_regions_by_partition(session, "s3").values())


def _regions_by_partition(session: botocore.session.Session,
                          service: str) -> dict[str, set[str]]:
    """The regions botocore's endpoint data lists for a service, by partition (aws, aws-cn,
    aws-us-gov...)."""
    return {partition: set(session.get_available_regions(service, partition_name=partition))
            for partition in session.get_available_partitions()}


class AwsSession:
    """A botocore session for one target: its clients, its account id, its API-call counter."""

    def __init__(
        self,
        connection: Connection,
        *,
        fault_rules: Sequence[FaultRule] = (),
        latency_s: float | None = None,
        call_log: Callable[[str, str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection = connection
        # What the clients' own retries (retry.ALWAYS_RETRIED) wait with; tests pass one that
        # records instead of sleeping.
        self.sleep = sleep
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
        self.region: str = validate_region(region, self._session)
        if connection.role_arn:
            self._assume_role(connection)

    def regions_offering(self, service: str) -> set[str] | None:
        """The regions of this session's partition where AWS offers `service`, from botocore's
        endpoint data; None when an endpoint URL replaces AWS's (an emulator offers whatever
        it offers, in any region)."""
        if self.connection.endpoint_url:
            return None
        offering = _regions_by_partition(self._session, service)
        for partition, regions in _regions_by_partition(self._session, "s3").items():
            if self.region in regions:
                return offering.get(partition, set())
        return set().union(*offering.values())

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
        except BOTOCORE_ERRORS as exc:
            err = translate_error(exc, "sts", "AssumeRole")
            raise CredentialsError(f"cannot assume role {connection.role_arn}: {err}") from exc
        credentials = DeferredRefreshableCredentials(
            method="assume-role", refresh_using=fetcher.fetch_credentials
        )
        botocore_session._credentials = credentials
        # Assumed credentials act in the role's own account, and AssumeRole answering was the
        # check that credentials and endpoint work: GetCallerIdentity would only repeat both
        # (one client and one round trip per target of an organization).
        match = ROLE_ARN_RE.fullmatch(connection.role_arn or "")
        if match:
            self._account = match.group(1)

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
                self._clients[service] = Client(self._raw_client(service), service,
                                                self.sleep)
            return self._clients[service]

    @property
    def account_id(self) -> str:
        """The account the credentials act in; the first call, so it also checks that
        credentials and endpoint work, and fails fast when they do not."""
        with self._lock:
            if self._account is None:
                sts = Client(self._raw_client("sts", fast_fail=True), "sts")
                account = sts.get_caller_identity().get("Account")
                if not account:  # an answer botocore could parse, but no account in it
                    raise not_aws("sts", "GetCallerIdentity")
                self._account = str(account)
            return self._account
