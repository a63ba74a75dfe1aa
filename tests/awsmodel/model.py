"""The model in front of moto in process: every call of facedetect's own clients (their
User-Agent says facedetect) goes through it, at botocore's before-send, where it waits the
call's latency, may answer with an error of AWS's (rendered as AWS's bytes by wire.py, parsed
by botocore), and otherwise passes the request to moto and rewrites moto's answer where AWS's
differs (a table CREATING, a function Pending). What AWS does and when is decided by
behaviours.py from the seed and from per-resource state kept in AWS time.

Other clients (the tests' own boto3 clients, to check what really exists) reach moto as
always.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse
from moto.core.models import botocore_stubber

from awsmodel import wire
from awsmodel.clock import ScaledClock, botocore_sleeps

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Scan", "Query", "Filter", "Search")


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name: s3, dynamodb, stepfunctions, logs...
    operation: str  # the API's name: CreateTable
    params: dict[str, Any]
    attempt: int = 1  # botocore's attempt number (1 = first send), from amz-sdk-request
    max_attempts: int = 1
    invocation: str = ""  # one id for all attempts of one call (amz-sdk-invocation-id)

    @property
    def is_read(self) -> bool:
        return self.operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Settings:
    """How long AWS takes, in AWS seconds: each wait is drawn from its (low, high) range per
    resource and seed. The ranges are what AWS's documentation and terraform's timeouts
    suggest for a small stack; behaviours.py cites the source of each."""

    latency: tuple[float, float] = (0.02, 0.15)
    bucket_not_visible: tuple[float, float] = (0.0, 1.5)
    bucket_write_busy: tuple[float, float] = (0.1, 0.8)
    bucket_name_cooldown: tuple[float, float] = (2.0, 15.0)
    table_creating: tuple[float, float] = (2.0, 10.0)
    table_tags_lag: tuple[float, float] = (0.0, 2.0)
    table_deleting: tuple[float, float] = (5.0, 30.0)
    role_propagation: tuple[float, float] = (1.0, 10.0)
    policy_propagation: tuple[float, float] = (0.5, 5.0)
    delete_conflict: tuple[float, float] = (0.0, 5.0)
    function_pending: tuple[float, float] = (1.0, 6.0)
    function_updating: tuple[float, float] = (1.0, 4.0)
    log_delivery_busy: tuple[float, float] = (0.5, 5.0)
    state_machine_deleting: tuple[float, float] = (2.0, 20.0)
    # Throttling: AWS time is cut in slots; a slot is a burst for a service with this
    # probability, and in a burst each of a call's first attempts is throttled with the other.
    throttle_slot: float = 2.0
    throttle_burst: float = 0.15
    throttle_attempt: float = 0.5


class Draws:
    """Seeded decisions that do not depend on thread timing: each is a hash of the seed and
    of what it is about (a resource's name and how many times it was made), so one seed
    gives the same windows however the app's threads interleave."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fraction(self, *about: object) -> float:
        digest = hashlib.sha256("|".join(map(str, (self.seed, *about))).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def between(self, bounds: tuple[float, float], *about: object) -> float:
        low, high = bounds
        return low + (high - low) * self.fraction(*about)


@dataclass
class Answer:
    """What the model sends back instead of moto's answer (an error, or a read it fakes)."""

    response: wire.WireResponse
    behaviour: str  # the name the reports count it under


def json_answer(service: str, document: dict[str, Any], behaviour: str) -> Answer:
    body = json.dumps(document).encode()
    content_type = (f"application/x-amz-json-{wire.JSON_VERSIONS[service]}"
                    if service in wire.JSON_VERSIONS else "application/json")
    return Answer(wire.WireResponse(200, {"Content-Type": content_type,
                                          "Content-Length": str(len(body))}, body), behaviour)


def error_answer(error: wire.AwsError, behaviour: str) -> Answer:
    return Answer(wire.render(error), behaviour)


@dataclass
class Record:
    """One request the model saw: for the soak's checks and for a failing seed's report."""

    at: float
    call: Call
    status: int
    behaviour: str = ""


@dataclass
class Ledger:
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def injected(self) -> Counter[str]:
        with self.lock:
            return Counter(r.behaviour for r in self.records if r.behaviour)

    def writes(self) -> list[str]:
        """The write calls the app asked for (first attempts: a retry is not a new call)."""
        with self.lock:
            return [f"{r.call.service}:{r.call.operation}" for r in self.records
                    if r.call.attempt == 1 and not r.call.is_read]

    def tail(self, n: int = 40) -> str:
        with self.lock:
            return "\n".join(
                f"{r.at:8.2f}s {r.call.service}:{r.call.operation} #{r.call.attempt} "
                f"-> {r.status} {r.behaviour}" for r in self.records[-n:])


_local = threading.local()


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["awsmodel.params"] = dict(params)


def _note_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    # before-call runs on the calling thread right before its sends (and their retries).
    _local.call = (model.service_model.service_name, model.name,
                   context.get("awsmodel.params", {}))


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


class AwsModel:
    """Plays AWS's behaviour for one account (one mock) and one seed. Use as a context
    manager inside mock_aws: `with AwsModel(seed, clock): ...`."""

    def __init__(self, seed: int, clock: ScaledClock | None = None,
                 settings: Settings | None = None) -> None:
        from awsmodel.behaviours import Behaviours

        self.seed = seed
        self.clock = clock or ScaledClock(50)
        self.settings = settings or Settings()
        self.draws = Draws(seed)
        self.ledger = Ledger()
        self.lock = threading.Lock()
        self.behaviours = Behaviours(self)

    # installation ------------------------------------------------------------------------
    def __enter__(self) -> AwsModel:
        global _ACTIVE
        assert _ACTIVE is None, "one model at a time"
        _ACTIVE = self
        self._sleeps = botocore_sleeps(self.clock)
        self._sleeps.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        global _ACTIVE
        _ACTIVE = None
        self._sleeps.__exit__(None, None, None)

    # one request -------------------------------------------------------------------------
    def send(self, request: AWSPreparedRequest, stubber: BotocoreStubber) -> AWSResponse | None:
        """In process: the call noted at before-call, moto behind."""
        noted = getattr(_local, "call", None)
        if noted is None or "facedetect" not in _header(request, "User-Agent"):
            return _MOTO_SEND(stubber, "before-send", request)
        service, operation, params = noted

        def to_moto() -> wire.WireResponse | None:
            found = stubber.process_request(request)
            if found is None:
                return None
            status, headers, body = found
            return wire.WireResponse(status, dict(headers),
                                     body.encode() if isinstance(body, str) else body)

        answer = self.answer(call_of(service, operation, params, request.headers), to_moto)
        return None if answer is None else _response(request.url, answer)

    def answer(self, call: Call, forward: Callable[[], wire.WireResponse | None]
               ) -> wire.WireResponse | None:
        """AWS's answer to `call`: the model's own, or what `forward` (moto) answers, rewritten
        where AWS's differs."""
        # A latency on every call, before AWS sees it.
        self.clock.sleep(self.draws.between(self.settings.latency, call.invocation,
                                            call.attempt))
        now = self.clock.now()
        with self.lock:
            answer = self.behaviours.before(call, now)
        if answer is not None:
            self.ledger.add(Record(now, call, answer.response.status, answer.behaviour))
            return answer.response
        found = forward()
        if found is None:
            return None
        with self.lock:
            rewritten, behaviour = self.behaviours.after(call, now, found.status, found.body)
        self.ledger.add(Record(now, call, found.status, behaviour))
        if rewritten is found.body:
            return found
        # DynamoDB signs its body with a CRC32 that botocore checks (a mismatch is retried).
        fixed = {"content-length": str(len(rewritten)),
                 "x-amz-crc32": str(zlib.crc32(rewritten) & 0xFFFFFFFF)}
        return wire.WireResponse(found.status, {k: fixed.get(k.lower(), v)
                                                for k, v in found.headers.items()}, rewritten)


def call_of(service: str, operation: str, params: dict[str, Any], headers: Any) -> Call:
    """The call, with botocore's attempt number and invocation id from its request headers."""
    def header(name: str) -> str:
        value = headers.get(name, "")
        return value.decode() if isinstance(value, bytes) else str(value)

    attempt, max_attempts = 1, 1
    for part in header("amz-sdk-request").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt":
            attempt = int(value)
        elif key == "max":
            max_attempts = int(value)
    return Call(service, operation, params, attempt, max_attempts,
                header("amz-sdk-invocation-id"))


def _response(url: str, answer: wire.WireResponse) -> AWSResponse:
    return AWSResponse(url, answer.status, answer.headers, MockRawResponse(answer.body))


_ACTIVE: AwsModel | None = None
_MOTO_SEND = BotocoreStubber.__call__


def _send(self: BotocoreStubber, event_name: str, request: AWSPreparedRequest,
          **kwargs: Any) -> AWSResponse | None:
    """moto's before-send handler, with the active model in front. Patched on moto's class
    rather than registered as another handler: botocore calls every before-send handler, so
    moto's would run a second time, and a session made before the model would miss it."""
    model = _ACTIVE
    if model is None or self is not botocore_stubber:
        return _MOTO_SEND(self, event_name, request, **kwargs)
    return model.send(request, self)


# Installed once, for every botocore session made from now on; inert without an active model.
BotocoreStubber.__call__ = _send  # type: ignore[method-assign]
botocore.handlers.BUILTIN_HANDLERS += [("before-parameter-build", _stash_params),
                                       ("before-call", _note_call)]
