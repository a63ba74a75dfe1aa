"""`up`, `down` and `status` on many targets: from a targets file, from an organization
(`--organization`, `--ou`) or from the failures of an earlier report (`--retry-failed`); with
a JSON Lines report as each target finishes (`--report`)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facedetect_cli.cli.fleet_options import (
    ORGANIZATION_MAX_PARALLEL,
    TARGETS_MAX_PARALLEL,
    FleetOptions,
)
from facedetect_cli.errors import EXIT_FAILURE, EXIT_UNHEALTHY, InputError

if TYPE_CHECKING:
    from facedetect_cli.aws.connection import Connection
    from facedetect_cli.cli.runner import Run
    from facedetect_cli.engine.app import StackApp
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.fleet.organizations import Resolution
    from facedetect_cli.fleet.run import TargetResult
    from facedetect_cli.fleet.targets import Target

# Beyond this many, a failure per stderr line would bury the summary; the report has them all.
MAX_ERROR_LINES = 10


def run_fleet(r: Run, command: str, fleet: FleetOptions, config: StackConfig, *,
              dry_run: bool = False, keep_data: bool = False) -> int:
    """Resolve the targets, show them, run `command` on each; one summary, one exit code."""
    from facedetect_cli.aws.session import known_regions
    from facedetect_cli.cli.runner import APP_OVERRIDES
    from facedetect_cli.fleet.report import load_retry
    from facedetect_cli.fleet.targets import load_targets

    # fleet.check() has run: the commands come here only when fleet.wanted(r.opts) says so.
    if r.opts.targets and r.opts.role_arn:
        raise InputError("--role-arn and --targets both say where to work: the targets "
                         "file names a role_arn per target")
    if r.opts.targets and dry_run:
        raise InputError("--dry-run does not combine with --targets; run it per target")
    regions = fleet.region_list()
    known = known_regions()
    unknown = [region for region in regions if region not in known]
    if unknown:
        raise InputError(f"--regions: unknown region {unknown[0]!r}")
    base = r.opts.connection()
    if r.opts.local:
        from facedetect_cli.local.lifecycle import ensure_running

        ensure_running(r.opts.local_port, say=r.out.info)
    if keep_data:
        config = replace(config, keep_data=True)

    found: Resolution | None = None
    if r.opts.targets:
        targets = load_targets(Path(r.opts.targets), known_regions=known)
    elif fleet.retry_failed:
        retry = load_retry(Path(fleet.retry_failed), command, base, config)
        targets = retry.targets
        r.out.info(f"retrying {retry.failed} failed and {retry.unfinished} unfinished "
                   f"target(s) of {fleet.retry_failed}")
    else:
        found, regions, targets = _organization(r, fleet, base, config, regions,
                                                APP_OVERRIDES)
    if dry_run:
        if r.out.json:
            from facedetect_cli.cli.render.organization import resolution_document

            if found is not None:
                r.out.document(resolution_document(command, found, regions, targets))
            else:
                r.out.document({"command": command, "dry_run": True,
                                "targets": [t.label for t in targets]})
        elif found is None:
            for target in targets:
                r.out.info(f"  {target.label}")
        return 0
    if not targets:
        r.out.info("no targets: nothing to do")
        return 0
    results = _run(r, command, fleet, base, targets, keep_data=keep_data,
                   by_organization=found is not None or bool(fleet.retry_failed),
                   overrides=APP_OVERRIDES)
    return _close(r, command, results, found)


def _organization(r: Run, fleet: FleetOptions, base: Connection, config: StackConfig,
                  regions: tuple[str, ...], overrides: dict[str, Any],
                  ) -> tuple[Resolution, tuple[str, ...], list[Target]]:
    from facedetect_cli.aws.session import AwsSession
    from facedetect_cli.cli.render.organization import resolution
    from facedetect_cli.fleet.organizations import Selection, organization_targets, resolve

    if regions and not base.region:
        base = replace(base, region=regions[0])
    session = AwsSession(base, fault_rules=overrides.get("fault_rules", ()),
                         call_log=r.call_log())
    regions = regions or (session.region,)
    caller = session.account_id
    selection = Selection(ous=fleet.ous, exclude=frozenset(fleet.exclude_accounts),
                          include_management=fleet.include_management)
    found = resolve(session.client("organizations"), selection, caller_account=caller,
                    sleep=overrides.get("sleep", time.sleep))
    resolution(r.out, found, regions)
    targets = organization_targets(found, regions, fleet.member_role, base, config,
                                   caller_account=caller)
    return found, regions, targets


def _run(r: Run, command: str, fleet: FleetOptions, base: Connection, targets: list[Target], *,
         keep_data: bool, by_organization: bool, overrides: dict[str, Any],
         ) -> list[TargetResult]:
    from facedetect_cli.build.assets import Assets
    from facedetect_cli.cli import render
    from facedetect_cli.cli.render.fleet_tally import LONG, SummaryProgress
    from facedetect_cli.engine.app import StackApp
    from facedetect_cli.fleet.report import ReportWriter
    from facedetect_cli.fleet.run import FINISHED, run_targets

    assets = Assets()  # the functions' zips, built once for every target

    def make_app(target: Target) -> StackApp:
        connection = target.connection
        if base.endpoint_url:  # --local / --endpoint-url apply to every target
            connection = replace(connection, endpoint_url=base.endpoint_url,
                                 access_key_id=base.access_key_id,
                                 secret_access_key=base.secret_access_key)
        return StackApp(connection, target.config, **{"assets": assets, **overrides})

    writer = (ReportWriter(Path(fleet.report), command, targets) if fleet.report else None)
    progress: Any = (SummaryProgress(r.out, command, len(targets)) if len(targets) > LONG
                     else render.fleet_progress(r.out, targets))

    def update(result: TargetResult) -> None:
        progress.update(result)
        if writer is not None and result.result in FINISHED:
            writer.finished(result)

    max_parallel = r.opts.max_parallel or (
        ORGANIZATION_MAX_PARALLEL if by_organization else TARGETS_MAX_PARALLEL)
    try:
        with progress:
            return run_targets(command, targets, make_app, max_parallel=max_parallel,
                               keep_data=keep_data, keep_details=len(targets) <= LONG,
                               on_update=update)
    except KeyboardInterrupt:
        if writer is not None:
            r.out.info(f"the report {writer.path} holds every target that finished; "
                       f"`facedetect {command} --retry-failed {writer.path}` runs the rest")
        raise
    finally:
        if writer is not None:
            writer.close()


def _close(r: Run, command: str, results: list[TargetResult], found: Resolution | None) -> int:
    from facedetect_cli.cli import render
    from facedetect_cli.cli.render.fleet_tally import LONG, long_summary
    from facedetect_cli.cli.render.organization import skipped_entries
    from facedetect_cli.fleet.run import FAILED, UNHEALTHY

    if len(results) > LONG:
        long_summary(r.out, command, results)
    else:
        render.fleet_summary(r.out, command, results)
    if r.out.json:
        document: dict[str, Any] = {"command": command,
                                    "targets": [result.as_dict() for result in results]}
        if found is not None:
            document["skipped"] = skipped_entries(found)
        r.out.document(document)
    failed = [result for result in results if result.result == FAILED]
    for result in failed[:MAX_ERROR_LINES]:
        r.out.error(f"{result.target.label}: {result.error}")
    if len(failed) > MAX_ERROR_LINES:
        r.out.error(f"and {len(failed) - MAX_ERROR_LINES} more target(s) failed")
    if failed:
        return EXIT_FAILURE
    if any(result.result == UNHEALTHY for result in results):
        return EXIT_UNHEALTHY
    return 0
