"""What AWS answers that moto does not: the rules, service by service, each with its source
(rules_storage.py: S3 and DynamoDB; rules_compute.py: IAM, Lambda, Step Functions, CloudWatch
Logs; throttling here, for every service).

`before` may answer a call instead of moto (an error, or a read of something moto has already
forgotten, such as a table still DELETING on AWS); `after` sees moto's successful answer,
records what the call changed (when a table will be ACTIVE, when a role can be assumed) and
rewrites the answer where AWS's differs. All times are AWS seconds on the model's clock; every
window is drawn per resource from the seed (model.Draws), so a seed replays the same windows.

Sources: "tf:" is a file of hashicorp/terraform-provider-aws (the retries it needs against the
real APIs); "doc:" is AWS's documentation.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from awsmodel.model import Answer, Call, error_answer
from awsmodel.rules_compute import ComputeRules, Function, Machine, Role
from awsmodel.rules_storage import Bucket, StorageRules, Table
from awsmodel.wire import PROTOCOLS, throttled

if TYPE_CHECKING:
    from awsmodel.model import AwsModel


class Behaviours(StorageRules, ComputeRules):
    def __init__(self, model: AwsModel) -> None:
        self.settings = model.settings
        self.draws = model.draws
        self.made = Counter()
        self.buckets: dict[str, Bucket] = {}
        self.bucket_cooldown: dict[str, float] = {}
        self.tables: dict[str, Table] = {}
        self.roles: dict[str, Role] = {}
        self.functions: dict[str, Function] = {}
        self.machines: dict[str, Machine] = {}
        self.log_groups_busy: dict[str, float] = {}

    # dispatch ----------------------------------------------------------------------------
    def before(self, call: Call, now: float) -> Answer | None:
        answer = self._throttle(call, now)
        if answer is not None:
            return answer
        handler = getattr(self, f"_before_{call.service}", None)
        return handler(call, now) if handler else None

    def after(self, call: Call, now: float, status: int, body: bytes) -> tuple[bytes, str]:
        handler = getattr(self, f"_after_{call.service}", None)
        if handler is None or status >= 300:
            return body, ""
        return handler(call, now, body)

    def _throttle(self, call: Call, now: float) -> Answer | None:
        """Bursts of throttling, per service: every AWS API has a request rate per account and
        answers its throttling error above it (doc: https://docs.aws.amazon.com/general/latest/
        gr/api-retries.html). A burst throttles at most the first two attempts of a call, so
        botocore's standard retry mode (5 attempts, with backoff) absorbs it, as it does on
        AWS; a longer run is an outage, not a burst."""
        if call.attempt > min(2, call.max_attempts - 1) or call.service not in PROTOCOLS:
            return None
        slot = int(now // self.settings.throttle_slot)
        if self.draws.fraction("burst", call.service, slot) >= self.settings.throttle_burst:
            return None
        if (self.draws.fraction("throttle", call.invocation, call.attempt)
                >= self.settings.throttle_attempt):
            return None
        return error_answer(throttled(call.service), "throttled")
