#!/usr/bin/env python3
"""`up` from empty under the model of AWS's behaviour (tests/awsmodel), against the floor that
the model's injected waits imply.

    python bench/aws_model.py [--seeds 3] [--latency-ms 50] [--speedup 1] [--json FILE]

For each seed: moto in process with the model in front (its latency fixed at --latency-ms
per call, throttling off, every other window drawn from the seed), a fresh account, then
facedetect's engine runs `up` (StackApp: plan_up and apply, what the command runs) on the
model's clock. At --speedup 1 that clock is real time.

`up` first reads the whole stack (CPU-bound here: moto in process on a shared machine; no wait
is injected there but the latency), then writes. The floor is for the writes phase, from the
first write sent: the earliest `up` could finish if it reacted to every wait instantly, the
longest chain, along the stack's own dependency graph (each resource's depends_on and uses, as the
executor runs them), of the model's waits for that seed: one latency per sequential call, a
new role not assumable by Lambda or Step Functions until its propagation window has passed,
its policy not visible to Step Functions before its own, a bucket not visible at once and
its four settings serialised by S3's write conflicts (in the best order), a function Pending,
a table CREATING. The difference writes - floor is what facedetect's waiting costs
(polling intervals, backoff, and the CPU of the writes). Target (issue 13): within 1.5 s of
the floor. The reads phase is reported next to it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from awsmodel.behaviours import Behaviours
from awsmodel.clock import ScaledClock
from awsmodel.model import AwsModel, Settings
from moto import mock_aws

from facedetect_cli.aws.connection import Connection
from facedetect_cli.engine.app import StackApp
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.resources.base import Resource
from facedetect_cli.local.emulator import patch_moto

REGION = "eu-central-1"
EMAIL = "you@example.com"
TARGET_S = 1.5
# What Bucket.create writes after CreateBucket (engine/resources/bucket.py), all at once.
BUCKET_SETTINGS = ("PutPublicAccessBlock", "PutBucketEncryption",
                   "PutBucketNotificationConfiguration", "PutBucketPolicy")


@dataclass
class Result:
    seed: int
    total_s: float  # the whole `up`: its reads, then its writes
    reads_s: float  # until the first write is sent: CPU-bound planning, no injected wait
    writes_s: float  # from the first write sent to the end
    floor_s: float  # the floor of the writes phase
    overshoot_s: float  # writes_s - floor_s: what facedetect's waiting costs
    critical: str
    injected: dict[str, int]


def floor(resources: list[Resource], model: Behaviours, latency: float) -> tuple[float, str]:
    """The earliest `up` from empty can end, counted from its first write, and the resource
    whose chain sets it."""
    keys = {r.key: r for r in resources}
    exists: dict[str, float] = {}
    ready: dict[str, float] = {}
    assumable: dict[str, float] = {}  # role ARN -> when services can assume it
    policy_seen: dict[str, float] = {}  # role ARN -> when its inline policy is visible
    start_all = 0.0
    pending = list(resources)
    while pending:
        for resource in list(pending):
            depends = [d for d in resource.depends_on if d in keys]
            uses = [u for u in resource.uses if u in keys]
            if any(d not in ready for d in depends) or any(u not in exists for u in uses):
                continue
            pending.remove(resource)
            start = max([start_all] + [ready[d] for d in depends] + [exists[u] for u in uses])
            created = start + latency
            own = created
            if resource.kind == "bucket":
                first = created + max(latency, model.window("bucket_not_visible", resource.name))
                holds = [model.window("bucket_write_busy", resource.name, op)
                         for op in BUCKET_SETTINGS]
                own = first + sum(holds) - max(holds)
            elif resource.kind == "table":
                own = created + model.window("table_creating", resource.name)
            elif resource.kind in ("role", "log-group", "rule"):
                own = created + latency  # PutRolePolicy / PutRetentionPolicy / PutTargets
                if resource.kind == "role":
                    assumable[resource.arn] = created + model.window("role_propagation",
                                                                     resource.name)
                    policy_seen[resource.arn] = own + model.window(
                        "policy_propagation", resource.name, "PutRolePolicy")
            elif resource.kind == "function":
                created = max(created, assumable[resource.role_arn])  # type: ignore[attr-defined]
                own = created + model.window("function_pending", resource.name)
            elif resource.kind == "state-machine":
                role = resource.role_arn  # type: ignore[attr-defined]
                created = max(created, assumable[role], policy_seen[role])
                own = created
            exists[resource.key] = created
            ready[resource.key] = max([own] + [ready[u] for u in uses])
    last = max(ready, key=ready.__getitem__)
    return ready[last], last


def run_seed(seed: int, latency: float, speedup: float) -> Result:
    settings = Settings(latency=(latency, latency), throttle_burst=0.0)
    clock = ScaledClock(speedup)
    with mock_aws(), AwsModel(seed, clock, settings) as model:
        started = clock.now()
        app = StackApp(Connection(region=REGION), StackConfig(emails=(EMAIL,)),
                       sleep=clock.sleep)
        outcomes = app.apply(app.plan_up())
        ended = clock.now()
        first_write = min(r.at for r in model.ledger.records
                          if not r.call.is_read and r.call.service != "sts") - latency
        failed = [o for o in outcomes if o.error is not None]
        if failed:
            raise SystemExit(f"seed {seed}: up failed: {failed[0].error}\n{model.ledger.tail()}")
        least, critical = floor(app.resources, model.behaviours, latency)
        writes = ended - first_write
        return Result(seed, round(ended - started, 2), round(first_write - started, 2),
                      round(writes, 2), round(least, 2), round(writes - least, 2), critical,
                      dict(model.ledger.injected()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--speedup", type=float, default=1.0,
                        help="AWS seconds per real second (1: real time)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    patch_moto()
    wall = time.monotonic()
    results = [run_seed(seed, args.latency_ms / 1000, args.speedup)
               for seed in range(args.first_seed, args.first_seed + args.seeds)]
    print(f"up from empty under the model, latency {args.latency_ms:g} ms per call, "
          f"speedup {args.speedup:g} (AWS seconds)")
    print(f"{'seed':>5} {'total':>6} {'reads':>6} {'writes':>7} {'floor':>6} {'over':>5}  "
          "critical chain ends at")
    for r in results:
        print(f"{r.seed:>5} {r.total_s:>6.2f} {r.reads_s:>6.2f} {r.writes_s:>7.2f} "
              f"{r.floor_s:>6.2f} {r.overshoot_s:>5.2f}  {r.critical}")
    worst = max(r.overshoot_s for r in results)
    print(f"overshoot: median {statistics.median(r.overshoot_s for r in results):.2f} s, "
          f"worst {worst:.2f} s (target <= {TARGET_S} s): "
          f"{'met' if worst <= TARGET_S else 'NOT met'}; {time.monotonic() - wall:.0f} s wall")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
