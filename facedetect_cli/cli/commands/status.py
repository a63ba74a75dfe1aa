from __future__ import annotations

import click

from facedetect_cli.cli.fleet_options import ONE_TARGET, FleetOptions, fleet_options
from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run


@click.command()
@click.option("--email", "emails", multiple=True, envvar="FACEDETECT_EMAIL",
              help="Also check that this address is subscribed; repeatable.")
@click.option("--log-retention-days", type=int, default=None,
              envvar="FACEDETECT_LOG_RETENTION_DAYS",
              help="Also check that the log groups keep events this many days (without it, "
              "any period is fine; logs that never expire are not). "
              "[env: FACEDETECT_LOG_RETENTION_DAYS]")
@click.option("--dry-run", is_flag=True,
              help="With --organization/--ou: show the targets and stop.")
@fleet_options
@common_options(fleet=True)
def status(opts: CommonOptions, fleet: FleetOptions, emails: tuple[str, ...],
           log_retention_days: int | None, dry_run: bool) -> None:
    """Show every resource of the stack: present, missing, drifted or foreign, and the
    pipeline's runs of the last 24 hours. Read-only.
    Exit 3 when the stack is missing, partial or drifted."""
    run(opts, lambda r: _status(r, fleet=fleet, emails=emails,
                                log_retention_days=log_retention_days, dry_run=dry_run))


def _status(r: Run, *, emails: tuple[str, ...], log_retention_days: int | None,
            fleet: FleetOptions = ONE_TARGET, dry_run: bool = False) -> int:
    if fleet.wanted(r.opts):
        from facedetect_cli.engine.config import StackConfig

        return r.fleet("status", fleet, StackConfig(stack=r.opts.stack, emails=emails,
                                                    log_retention_days=log_retention_days),
                       dry_run=dry_run)
    if dry_run:
        from facedetect_cli.errors import InputError

        raise InputError("status --dry-run is for --organization/--ou: status alone only reads")
    from facedetect_cli.cli.render import executions_summary, features_summary
    from facedetect_cli.engine.app import DRIFTED, PRESENT, is_healthy
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.errors import EXIT_UNHEALTHY

    app = r.app(StackConfig(stack=r.opts.stack, emails=emails,
                            log_retention_days=log_retention_days))
    rows = app.status()
    healthy = is_healthy(rows)
    # Only the stack's own state machine: a foreign one's runs are not this pipeline's.
    machine = [row for row in rows if row.kind == "state-machine"]
    executions = (app.executions() if machine and machine[0].state in (PRESENT, DRIFTED)
                  else None)
    features = {feature: [r.key for r in resources]
                for feature, resources in app.resources_by_feature().items()}
    r.out.status(rows, app.header, healthy)
    features_summary(r.out, features)
    executions_summary(r.out, executions)
    if r.out.json:
        r.out.document({**app.header, "healthy": healthy, "features": features,
                        "resources": [row.as_dict() for row in rows],
                        "executions": executions,
                        "api_calls": app.api_calls()})
    return 0 if healthy else EXIT_UNHEALTHY
