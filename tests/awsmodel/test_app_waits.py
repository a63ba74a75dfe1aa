"""facedetect's own waits against the model: how soon after AWS is ready does `up` notice?
The benchmark (bench/aws_model.py) measures the sum over the critical chain; these pin each
wait on it, on a SteppedClock (exact, no real time)."""

from __future__ import annotations

from awsmodel.clock import SteppedClock
from awsmodel.model import AwsModel, Settings

PENDING = 3.2  # AWS seconds a new function stays Pending
QUIET = Settings(latency=(0.0, 0.0), throttle_burst=0.0, role_propagation=(0.0, 0.0),
                 policy_propagation=(0.0, 0.0), function_pending=(PENDING, PENDING))


def test_a_new_function_is_seen_active_within_half_a_second(make_app):
    clock = SteppedClock()
    app = make_app()
    app.ctx.sleep = clock.sleep
    function = next(r for r in app.resources if r.kind == "function")
    role = next(r for r in app.resources if r.key == function.uses[0])
    with AwsModel(seed=1, clock=clock, settings=QUIET):
        role.create(app.ctx)
        function.create(app.ctx)
        created = clock.now()
        function.settle(app.ctx)
    # The poll that sees it Active comes at most half a second after it is: the rest of the
    # chain (the state machine, then the rule) waits for exactly this.
    assert PENDING <= clock.now() - created <= PENDING + 0.5
