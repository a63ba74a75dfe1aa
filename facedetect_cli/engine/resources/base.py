"""The shape every resource kind shares, and the context its calls run in."""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from facedetect_cli.engine.naming import TAG_KEY, Names

if TYPE_CHECKING:
    from facedetect_cli.aws.client import Client
    from facedetect_cli.aws.session import AwsSession
    from facedetect_cli.build.assets import Assets
T = TypeVar("T")


@dataclass
class Context:
    """What a resource's calls need: clients, names, the handler code, and a sleep that tests
    replace so retries run instantly."""

    aws: AwsSession
    names: Names
    assets: Assets
    sleep: Callable[[float], None] = time.sleep
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _memo_locks: dict[Any, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str) -> Client:
        return self.aws.client(service)

    def memo(self, key: Any, read: Callable[[], T]) -> T:
        """One read shared by the resources that need it (a topic and its subscriptions), even
        when they ask at the same time. Cleared before each plan: reads never go stale across
        a write."""
        with self._lock:
            key_lock = self._memo_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._memo:
                self._memo[key] = read()
            return self._memo[key]

    def forget(self) -> None:
        with self._lock:
            self._memo.clear()


@dataclass
class Observed:
    """What a read found of one existing resource."""

    arn: str
    owned: bool
    attrs: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    # For kinds that hold user data (bucket objects, table items): how much, for `down`.
    data_count: int | None = None


class Resource(ABC):
    """One AWS resource of the stack. Subclasses set `kind` and implement the five calls."""

    kind: ClassVar[str]
    # The key of a resource whose deletion takes this one with it (a topic its
    # subscriptions): when both go, this one costs no call of its own.
    removed_with: str | None = None
    holds_data: ClassVar[bool] = False
    # What count_data counts, for `down`'s "holds 12 items".
    data_unit: ClassVar[str] = "items"

    def __init__(self, name: str, arn: str, depends_on: Iterable[str] = (),
                 uses: Iterable[str] = ()) -> None:
        """`depends_on`: keys that must be ready before this is created. `uses`: keys that
        need only exist (a function names its role; Lambda does not need the role's
        permissions to create it); this one is ready only when they are ready too."""
        self.name = name
        self.arn = arn
        self.depends_on = tuple(depends_on)
        self.uses = tuple(uses)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @abstractmethod
    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        """What exists, or None when absent. Only read calls. `settings=False` (for `down`):
        only what tells whether it is the stack's and what deleting it needs, not the settings
        `differences` compares."""

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        """Setting -> human reason, for each setting that differs from the desired one."""
        return {}

    @abstractmethod
    def create(self, ctx: Context) -> None:
        """Make it exist, in as few sequential calls as can be: what uses it waits only for
        this."""

    def settle(self, ctx: Context) -> None:
        """After create, the rest of what makes it ready (a role's policies, a function going
        Active), while the resources that only use it are already being created. Most
        kinds are ready as soon as they exist."""
        return None

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        raise NotImplementedError(f"{self.kind} cannot be updated in place")

    @abstractmethod
    def delete(self, ctx: Context, observed: Observed) -> None: ...

    def count_data(self, ctx: Context, observed: Observed) -> int | None:
        """How much user data the resource holds (kinds with holds_data), for `down`. It may
        keep what it listed in `observed`, for delete."""
        return None

    def deletion_note(self) -> str:
        """Why a delete of this resource happens, when its kind alone does not say (a role
        of an earlier version), for the plan's and the result's lines."""
        return ""

    def discovered(self, ctx: Context, observed: Observed) -> list[tuple[Resource, Observed]]:
        """Resources found through this one that the stack did not ask for by name (the
        subscriptions of a topic), so status shows them and down removes them."""
        return []


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(tags: Iterable[dict[str, str]] | None, key: str = "Key",
             value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or ()}


def owned_by(tags: dict[str, str], names: Names) -> bool:
    return tags.get(TAG_KEY) == names.stack


def canonical_json(document: Any) -> str:
    """One spelling of a JSON document, so comparisons ignore key order and white space."""
    if isinstance(document, str):
        document = json.loads(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


_LIST_FIELDS = ("Action", "NotAction", "Resource", "NotResource")


def _normalise_policy(value: Any) -> Any:
    """IAM and S3 may return a one-element list as a string and lists in another order."""
    if isinstance(value, dict):
        normalised = {}
        for key, item in value.items():
            listed = [item] if isinstance(item, str) else item
            if key in _LIST_FIELDS and isinstance(listed, list) and all(
                isinstance(i, str) for i in listed
            ):
                normalised[key] = sorted(listed)
            else:
                normalised[key] = _normalise_policy(item)
        return normalised
    if isinstance(value, list):
        return [_normalise_policy(v) for v in value]
    return value


def canonical_policy(document: Any) -> str:
    """canonical_json for IAM-style documents: equal policies compare equal however spelled."""
    if isinstance(document, str):
        document = json.loads(document)
    return canonical_json(_normalise_policy(document))
