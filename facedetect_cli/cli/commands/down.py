from __future__ import annotations

import sys

import click

from facedetect_cli.cli.fleet_options import ONE_TARGET, FleetOptions, fleet_options
from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run


@click.command()
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (for scripts).")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted and stop.")
@click.option("--keep-data", is_flag=True,
              help="Keep the bucket (thumbnails included), the table and the face collection "
              "(still tagged); a later `up` takes them back.")
@fleet_options
@common_options(fleet=True)
def down(opts: CommonOptions, fleet: FleetOptions, yes: bool, dry_run: bool,
         keep_data: bool) -> None:
    """Remove everything the stack created, in reverse order, and nothing else."""
    run(opts, lambda r: _down(r, fleet=fleet, yes=yes, dry_run=dry_run, keep_data=keep_data))


def _down(r: Run, *, yes: bool, dry_run: bool, keep_data: bool,
          fleet: FleetOptions = ONE_TARGET) -> int:
    import time

    from facedetect_cli.engine.config import StackConfig

    if fleet.wanted(r.opts):
        if not (yes or dry_run):
            from facedetect_cli.errors import InputError

            raise InputError("down on many targets deletes in every one: pass --yes")
        return r.fleet("down", fleet, StackConfig(stack=r.opts.stack), dry_run=dry_run,
                       keep_data=keep_data)

    from facedetect_cli.engine.app import change_entries, plan_entries
    from facedetect_cli.errors import EXIT_FAILURE, InputError

    config = StackConfig(stack=r.opts.stack, keep_data=keep_data)
    started = time.monotonic()
    app = r.app(config)
    plan = app.plan_down(keep_data=keep_data)
    if dry_run or (plan.changes and not yes):
        r.out.plan(plan, app.header)
    if dry_run:
        if r.out.json:
            r.out.document({**app.header, "dry_run": True, "plan": plan_entries(plan),
                            "api_calls": app.api_calls()})
        return 0
    if plan.changes and not yes:
        if not sys.stdin.isatty():
            raise InputError("down deletes resources and needs confirmation: run it at a "
                             "terminal, or pass --yes")
        if not click.confirm(f"Delete these {len(plan.changes)} resources?", default=False,
                             err=r.out.json or r.out.quiet):
            r.out.info("Nothing deleted.")
            return EXIT_FAILURE
    with r.out.progress(plan, f"down {config.stack}") as progress:
        outcomes = app.apply(plan, progress.event)
    failed = [o for o in outcomes if o.error is not None]
    r.out.summary(outcomes, time.monotonic() - started, verb="down")
    if r.out.json:
        doc = {**app.header, "changes": change_entries(outcomes), "api_calls": app.api_calls()}
        if failed:
            doc["error"] = str(failed[0].error)
        r.out.document(doc)
    r.report_failures(failed)
    return EXIT_FAILURE if failed else 0
