"""The executor's ordering, with resources that record what happens and block on events: no
AWS, so every interleaving asserted here is forced, not hoped for."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from facedetect_cli.engine.apply import DONE, FAILED, SKIPPED, apply
from facedetect_cli.engine.plan import CREATE, DELETE, Plan, Step
from facedetect_cli.engine.resources.base import Context, Observed, Resource
from facedetect_cli.errors import AwsError

TIMEOUT = 10


class Probe(Resource):
    kind = "probe"

    def __init__(self, name: str, journal: list[str], *, depends_on: tuple[str, ...] = (),
                 uses: tuple[str, ...] = (), settle_waits_for: threading.Event | None = None,
                 settle_fails: bool = False) -> None:
        super().__init__(name, f"arn:{name}", depends_on=[f"probe:{d}" for d in depends_on],
                         uses=[f"probe:{u}" for u in uses])
        self.journal = journal
        self.created = threading.Event()
        self.settle_waits_for = settle_waits_for
        self.settle_fails = settle_fails

    def read(self, ctx: Context) -> Observed | None:
        return None

    def create(self, ctx: Context) -> None:
        self.journal.append(f"create {self.name}")
        self.created.set()

    def settle(self, ctx: Context) -> None:
        if self.settle_waits_for is not None:
            assert self.settle_waits_for.wait(TIMEOUT), f"{self.name} settled alone"
        if self.settle_fails:
            raise AwsError("PutRolePolicy: denied (AccessDenied)", code="AccessDenied")
        self.journal.append(f"settled {self.name}")

    def delete(self, ctx: Context, observed: Observed) -> None:
        self.journal.append(f"delete {self.name}")


def _up(*resources: Probe) -> dict[str, Any]:
    plan = Plan("up", [Step(r, CREATE) for r in resources])
    outcomes = apply(plan, ctx=None)  # type: ignore[arg-type]  # probes call nothing
    return {o.step.resource.name: o.status for o in outcomes}


def test_a_user_starts_while_what_it_uses_settles() -> None:
    """A function is created while its role's policy is still being put (the role only has
    to exist), and the state machine that depends on the function waits for both."""
    journal: list[str] = []
    role = Probe("role", journal)
    function = Probe("function", journal, uses=("role",))
    role.settle_waits_for = function.created  # the role cannot settle before the function
    machine = Probe("machine", journal, depends_on=("function",))

    assert _up(machine, function, role) == {"machine": DONE, "function": DONE, "role": DONE}
    assert journal.index("create role") < journal.index("create function")
    assert journal.index("create function") < journal.index("settled role")
    # Ready means ready all the way down: the function's role had settled too.
    assert journal.index("settled role") < journal.index("create machine")
    assert journal.index("settled function") < journal.index("create machine")


def test_a_dependency_is_ready_only_when_what_it_uses_is() -> None:
    journal: list[str] = []
    gate = threading.Event()
    role = Probe("role", journal, settle_waits_for=gate)
    function = Probe("function", journal, uses=("role",))
    machine = Probe("machine", journal, depends_on=("function",))
    finished = {}
    thread = threading.Thread(target=lambda: finished.update(_up(role, function, machine)))
    thread.start()
    assert function.created.wait(TIMEOUT)
    # The function is created and settled; the role is not: nothing may build on it yet.
    assert not machine.created.wait(0.3)
    gate.set()
    thread.join(TIMEOUT)
    assert finished == {"role": DONE, "function": DONE, "machine": DONE}


def test_a_failed_settle_keeps_what_was_made_and_skips_what_relies_on_it() -> None:
    journal: list[str] = []
    role = Probe("role", journal, settle_fails=True)
    function = Probe("function", journal, uses=("role",))
    machine = Probe("machine", journal, depends_on=("function",))
    rule = Probe("rule", journal, depends_on=("machine",))

    outcomes = _up(role, function, machine, rule)

    # The function really was created (down will find and remove it); what would run on a
    # role without its permissions was not.
    assert outcomes == {"role": FAILED, "function": DONE, "machine": SKIPPED, "rule": SKIPPED}
    assert "create machine" not in journal and "create rule" not in journal


def test_down_removes_users_before_what_they_use() -> None:
    journal: list[str] = []
    role = Probe("role", journal)
    function = Probe("function", journal, uses=("role",))
    machine = Probe("machine", journal, uses=("function",))
    observed = Observed("arn", owned=True)
    plan = Plan("down", [Step(r, DELETE, observed) for r in (role, function, machine)])

    apply(plan, ctx=None)  # type: ignore[arg-type]

    assert journal == ["delete machine", "delete function", "delete role"]


def test_a_cycle_is_reported_not_hung() -> None:
    journal: list[str] = []
    a = Probe("a", journal, depends_on=("b",))
    b = Probe("b", journal, uses=("a",))
    with pytest.raises(RuntimeError, match="dependency cycle"):
        _up(a, b)


class Child(Probe):
    def __init__(self, name: str, journal: list[str], parent: str) -> None:
        super().__init__(name, journal, depends_on=(parent,))
        self.removed_with = f"probe:{parent}"


class FailingDelete(Probe):
    def delete(self, ctx: Context, observed: Observed) -> None:
        raise AwsError("DeleteTopic: throttled (Throttling)", code="Throttling")


def _down(*steps: Step) -> dict[str, str]:
    outcomes = apply(Plan("down", list(steps)), ctx=None)  # type: ignore[arg-type]
    return {o.step.resource.name: o.status for o in outcomes}


def test_what_goes_with_its_parent_costs_no_call_and_is_reported_after_it() -> None:
    journal: list[str] = []
    observed = Observed("arn", owned=True)
    topic, subscription = Probe("topic", journal), Child("subscription", journal, "topic")
    events: list[str] = []
    plan = Plan("down", [Step(topic, DELETE, observed),
                         Step(subscription, DELETE, observed, by_parent=True)])
    apply(plan, ctx=None,  # type: ignore[arg-type]
          on_event=lambda e: events.append(f"{e.status} {e.step.resource.name}"))
    assert journal == ["delete topic"]
    assert events.index("done topic") < events.index("done subscription")


def test_what_goes_with_a_parent_that_failed_is_not_reported_gone() -> None:
    journal: list[str] = []
    observed = Observed("arn", owned=True)
    topic, subscription = FailingDelete("topic", journal), Child("subscription", journal, "topic")
    assert _down(Step(topic, DELETE, observed),
                 Step(subscription, DELETE, observed, by_parent=True)) == {
        "topic": FAILED, "subscription": SKIPPED}
