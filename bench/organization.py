#!/usr/bin/env python3
"""Many accounts in one process (issue 17), against moto's HTTP server.

    python bench/organization.py [--accounts 300] [--parallel 16] [--serial-accounts N]
                                 [--latency-ms 50] [--latency-accounts 40]
                                 [--sweep 1,4,8,16,32] [--json FILE]
    python bench/organization.py --two-region-up-only [--accounts 300] [--parallel 16]

An organization of --accounts member accounts in nested OUs (three levels) is created on the
embedded emulator (`python -m facedetect_cli.local.emulator`, its own process); the installed
`facedetect` runs in subprocesses against it (`--endpoint-url`), so its wall time and peak
memory (the child's ru_maxrss, from wait4) are its own, not the emulator's. It measures:

1. `up --organization` on every account in one region, --max-parallel P: wall time, peak
   memory, targets per second, and that each account then holds exactly its own stack and the
   report has a record per target;
2. `status --organization --regions eu-central-1,us-east-1`: every account in two regions
   (2 x --accounts targets, read-only);
3. the same `up` one target at a time (--max-parallel 1) on --serial-accounts accounts;
4. peak memory against the number of targets: `status` on a third of the accounts, and on all;
5. with FACEDETECT_INJECT_LATENCY_MS (a sleep before every HTTP send, as a real network adds):
   `up` on --latency-accounts accounts at each --max-parallel of --sweep.

--two-region-up-only measures instead `up --organization --regions eu-central-1,us-east-1`
(2 x --accounts targets, the same stack in both regions of each account) and checks it the
same way in both regions.

Between `up` runs the emulator is reset and the organization created again, so every `up`
starts from empty accounts. Ratios are computed from figures of this one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import (
    REGION,
    Emulator,
    clean_env,
    emulator,
    find_facedetect,
    git_state,
    progress,
)

SECOND_REGION = "us-east-1"
ROLE = "OrganizationAccountAccessRole"
# Three top-level OUs, each with two OUs, each with two more: 21 OUs, three deep.
TOP, CHILDREN, GRANDCHILDREN = 3, 2, 2


# The emulator loads AWS's ~1,300 managed policies into every account it creates: three
# seconds per CreateAccount, a quarter of an hour for the organization. The stack attaches
# one of them; load just that one (as the tests do). Nothing facedetect does changes.
_LAUNCH = """
import json, sys
import moto.iam.models as iam
iam.aws_managed_policies_data = json.dumps({"AWSLambdaBasicExecutionRole": json.loads(
    iam.aws_managed_policies_data)["AWSLambdaBasicExecutionRole"]})
from facedetect_cli.local.emulator import main
main(sys.argv[1:])
"""


@dataclass
class Measure:
    name: str
    targets: int
    max_parallel: int
    latency_ms: float
    wall_s: float
    peak_rss_mb: float
    returncode: int

    @property
    def rate(self) -> float:
        return self.targets / self.wall_s if self.wall_s else float("nan")


def boto_client(server: Emulator, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=server.url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def build_organization(server: Emulator, accounts: int) -> dict[str, Any]:
    """A fresh organization: nested OUs and `accounts` member accounts spread over them."""
    server.reset()
    org = boto_client(server, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous: list[str] = []  # each OU before the OUs below it

    def unit(parent: str, name: str) -> str:
        ous.append(org.create_organizational_unit(
            ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])
        return ous[-1]

    for a in range(TOP):
        top = unit(root, f"unit{a}")
        for b in range(CHILDREN):
            child = unit(top, f"team{a}{b}")
            for c in range(GRANDCHILDREN):
                unit(child, f"env{a}{b}{c}")
    ids = []
    for n in range(accounts):
        account = org.create_account(Email=f"member{n}@example.com",
                                     AccountName=f"member{n}")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root,
                         DestinationParentId=ous[n % len(ous)])
        ids.append(account)
    return {"root": root, "ous": ous, "top": ous[0], "accounts": ids}


def run(facedetect: str, server: Emulator, workdir: Path, name: str, args: list[str], *,
        targets: int, max_parallel: int, latency_ms: float = 0,
        ok: tuple[int, ...] = (0,)) -> tuple[Measure, str]:
    env = clean_env(workdir)
    if latency_ms:
        env["FACEDETECT_INJECT_LATENCY_MS"] = f"{latency_ms:g}"
    argv = [facedetect, *args, "--endpoint-url", server.url, "--region", REGION,
            "--max-parallel", str(max_parallel), "--output", "json"]
    out_path, err_path = workdir / f"{name}.out", workdir / f"{name}.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=env, cwd=workdir)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in ok:
        raise RuntimeError(f"{name}: exit {process.returncode}\n"
                           f"{err_path.read_text()[-3000:]}")
    measure = Measure(name, targets, max_parallel, latency_ms, wall, usage.ru_maxrss / 1024,
                      process.returncode)
    progress(f"{name}: {targets} targets in {wall:.1f} s ({measure.rate:.2f}/s), "
             f"peak {measure.peak_rss_mb:.0f} MB, exit {process.returncode}")
    return measure, out_path.read_text()


def functions_in(server: Emulator, account: str, region: str = REGION) -> list[str]:
    credentials = boto_client(server, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="bench")["Credentials"]
    import boto3

    client = boto3.client("lambda", endpoint_url=server.url, region_name=region,
                          aws_access_key_id=credentials["AccessKeyId"],
                          aws_secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["SessionToken"])
    return sorted(f["FunctionName"] for f in client.list_functions()["Functions"])


def check_up(server: Emulator, org: dict[str, Any], stack: str, report: Path,
             document: str, regions: tuple[str, ...] = (REGION,)) -> None:
    """Every target ok, a report record for each, and sampled accounts hold just their stack
    in each region."""
    results = json.loads(document)["targets"]
    bad = [r for r in results if r["result"] != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} targets not ok, first: {bad[0]}")
    records = [json.loads(line) for line in report.read_text().splitlines()[1:]]
    if sorted((r["account"], r["region"]) for r in records) != sorted(
            (a, region) for a in org["accounts"] for region in regions):
        raise RuntimeError("the report does not hold exactly one record per target")
    for account in org["accounts"][:: max(1, len(org["accounts"]) // 5)]:
        for region in regions:
            found = functions_in(server, account, region)
            if len(found) != 3 or not all(f.startswith(f"{stack}-") for f in found):
                raise RuntimeError(f"account {account} holds {found} in {region}")


def after_up(facedetect: str, server: Emulator, workdir: Path, org: dict[str, Any],
             args: argparse.Namespace, serial_accounts: int, sweep: list[int]) -> list[Measure]:
    """Status over two regions, `up` one at a time, and the latency sweep."""
    measures = [run(
        facedetect, server, workdir, "status --organization, 2 regions",
        ["status", "--organization", "--regions", f"{REGION},{SECOND_REGION}"],
        targets=2 * args.accounts, max_parallel=args.parallel, ok=(0, 3))[0]]
    measures.append(run(
        facedetect, server, workdir, "status --ou (a third)",
        ["status", "--ou", org["top"], "--regions", f"{REGION},{SECOND_REGION}"],
        targets=2 * sum(1 for n in range(args.accounts)
                        if n % len(org["ous"]) < len(org["ous"]) // TOP),
        max_parallel=args.parallel, ok=(0, 3))[0])

    progress(f"one at a time: {serial_accounts} accounts")
    build_organization(server, serial_accounts)
    measures.append(run(facedetect, server, workdir, "up one at a time",
                        ["up", "--organization"], targets=serial_accounts,
                        max_parallel=1)[0])

    for parallel in sweep:
        build_organization(server, args.latency_accounts)
        measures.append(run(
            facedetect, server, workdir, f"up, {args.latency_ms:g} ms, x{parallel}",
            ["up", "--organization"], targets=args.latency_accounts,
            max_parallel=parallel, latency_ms=args.latency_ms)[0])
    return measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--serial-accounts", type=int, default=None,
                        help="accounts for the one-at-a-time run (default: --accounts)")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--latency-accounts", type=int, default=40)
    parser.add_argument("--sweep", default="1,4,8,16,32")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--two-region-up-only", action="store_true",
                        help="measure only `up` over two regions of every account")
    args = parser.parse_args()
    facedetect = find_facedetect()
    serial_accounts = args.serial_accounts or args.accounts
    sweep = [int(n) for n in args.sweep.split(",") if n]
    measures: list[Measure] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="facedetect-org-bench-") as tmp:
        workdir = Path(tmp)
        with emulator(workdir, [sys.executable, "-c", _LAUNCH]) as server:
            progress(f"organization of {args.accounts} accounts")
            org = build_organization(server, args.accounts)
            report = workdir / "up.jsonl"
            if args.two_region_up_only:
                regions = (REGION, SECOND_REGION)
                measure, document = run(
                    facedetect, server, workdir, "up --organization, 2 regions",
                    ["up", "--organization", "--regions", ",".join(regions),
                     "--report", str(report)],
                    targets=2 * args.accounts, max_parallel=args.parallel)
                check_up(server, org, "facedetect", report, document, regions)
                measures.append(measure)
            else:
                measure, document = run(
                    facedetect, server, workdir, "up --organization",
                    ["up", "--organization", "--report", str(report)],
                    targets=args.accounts, max_parallel=args.parallel)
                check_up(server, org, "facedetect", report, document)
                measures.append(measure)
                measures += after_up(facedetect, server, workdir, org, args, serial_accounts,
                                     sweep)
    summary = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_state(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(), "bench_s": round(time.perf_counter() - started),
        "measures": [{**asdict(m), "targets_per_s": round(m.rate, 3)} for m in measures],
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print_report(measures)


def print_report(measures: list[Measure]) -> None:
    print(f"{'run':<40} {'targets':>7} {'par.':>4} {'wall s':>8} {'targets/s':>9} "
          f"{'peak MB':>8}")
    for m in measures:
        print(f"{m.name:<40} {m.targets:>7} {m.max_parallel:>4} {m.wall_s:>8.1f} "
              f"{m.rate:>9.2f} {m.peak_rss_mb:>8.0f}")
    by_name = {m.name: m for m in measures}
    parallel, serial = by_name.get("up --organization"), by_name.get("up one at a time")
    if parallel and serial:
        print(f"up: {parallel.rate / serial.rate:.1f}x the targets per second of one at a time")


if __name__ == "__main__":
    sys.exit(main())
