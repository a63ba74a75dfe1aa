"""The soak: facedetect's whole life cycle under the model of AWS's behaviour, seed after seed.

For each seed, in a fresh account, through the real CLI entry point: `up` -> `status`
(healthy) -> `up` again (no write at all) -> `down` -> `up` at once (while AWS still deletes:
a table DELETING, a state machine DELETING, a bucket name being released) -> `down`; every
command must succeed and nothing of the stack may be left in the account. A failure names its
seed and the model's last answers; replay one with
`pytest tests/awsmodel/test_soak.py -m soak -k 'seed_17]'`.

The default suite runs DEFAULT_SEEDS; `pytest -m soak` runs SOAK_SEEDS of them (not part of
the default suite: pyproject's addopts deselect the marker).
"""

from __future__ import annotations

import json

import pytest
from conftest import EMAIL, leftovers

from awsmodel.clock import WaitingClock
from awsmodel.model import AwsModel
from facedetect_cli.cli import runner

DEFAULT_SEEDS = (1, 2)
SOAK_SEEDS = 200
# One AWS second of waiting is 1/SPEEDUP of a real second (see clock.py).
SPEEDUP = 50


def lifecycle(seed: int, invoke, monkeypatch) -> AwsModel:
    clock = WaitingClock(SPEEDUP)
    with AwsModel(seed, clock) as model:
        # The app's own sleeps (its retries, its polls) on the model's clock.
        monkeypatch.setitem(runner.APP_OVERRIDES, "sleep", clock.sleep)

        def step(*args: str, expect: int = 0) -> dict:
            result = invoke(*args, "--output", "json")
            assert result.exit_code == expect, (
                f"seed {seed}: `facedetect {' '.join(args)}` exited {result.exit_code}:\n"
                f"{result.stderr}\nlast answers of the model:\n{model.ledger.tail()}")
            return json.loads(result.stdout) if result.stdout.strip() else {}

        step("up", "--email", EMAIL)
        status = step("status")
        unhealthy = [r for r in status["resources"] if r["state"] != "present"]
        assert status["healthy"] is True and not unhealthy, f"seed {seed}: {unhealthy}"
        again = step("up", "--email", EMAIL)
        assert again["api_calls"]["writes"] == 0, f"seed {seed}: {again['changes']}"
        step("down", "--yes")
        step("up", "--email", EMAIL)
        step("down", "--yes")
    assert leftovers() == [], f"seed {seed} left these behind"
    return model


@pytest.mark.parametrize("seed", DEFAULT_SEEDS, ids=lambda s: f"seed_{s}")
def test_lifecycle_converges_under_aws_behaviour(seed, invoke, monkeypatch):
    model = lifecycle(seed, invoke, monkeypatch)
    # The seed played AWS's behaviour, not an easy day: facedetect met some of it.
    assert sum(model.ledger.injected().values()) > 0


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(1000, 1000 + SOAK_SEEDS), ids=lambda s: f"seed_{s}")
def test_soak(seed, invoke, monkeypatch):
    lifecycle(seed, invoke, monkeypatch)
