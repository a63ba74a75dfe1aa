from __future__ import annotations

import click

from facedetect_cli.cli.fleet_options import ONE_TARGET, FleetOptions, fleet_options
from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run


@click.command()
@click.option("--email", "emails", multiple=True, envvar="FACEDETECT_EMAIL",
              help="Subscribe this address to the results and failure topics; repeatable. "
              "Existing subscriptions are kept. [env: FACEDETECT_EMAIL, space-separated]")
@click.option("--log-retention-days", type=int, default=30, show_default=True,
              envvar="FACEDETECT_LOG_RETENTION_DAYS",
              help="Days the log groups keep log events: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, "
              "180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653. "
              "[env: FACEDETECT_LOG_RETENTION_DAYS]")
@click.option("--with", "with_features", multiple=True,
              type=click.Choice(["duplicates", "thumbnails"]),
              help="Turn a feature on; repeatable. The stack remembers its features: an `up` "
              "without --with/--without keeps them.")
@click.option("--without", "without_features", multiple=True,
              type=click.Choice(["duplicates", "thumbnails"]),
              help="Turn a feature off and remove its resources, as `down` would (asks before "
              "deleting face data, like `down`); repeatable.")
@click.option("--match-threshold", type=click.FloatRange(0, 100), default=90.0,
              show_default=True, envvar="FACEDETECT_MATCH_THRESHOLD",
              help="duplicates: the similarity (percent) from which a face counts as seen "
              "before. [env: FACEDETECT_MATCH_THRESHOLD]")
@click.option("--architecture", type=click.Choice(["arm64", "x86_64"]), default="arm64",
              show_default=True, envvar="FACEDETECT_ARCHITECTURE",
              help="The functions' CPU (arm64 costs less for the same work); packaged "
              "libraries follow it. [env: FACEDETECT_ARCHITECTURE]")
@click.option("--dry-run", is_flag=True, help="Print the plan (read calls only) and stop; "
              "with --organization/--ou: the targets.")
@click.option("--yes", "-y", is_flag=True, help="Answer yes to every question (for scripts).")
@fleet_options
@common_options(fleet=True)
def up(opts: CommonOptions, fleet: FleetOptions, emails: tuple[str, ...],
       log_retention_days: int, with_features: tuple[str, ...], without_features: tuple[str, ...],
       match_threshold: float, architecture: str, dry_run: bool, yes: bool) -> None:
    """Create what is missing and update what differs. A second run changes nothing."""
    run(opts, lambda r: _up(r, fleet=fleet, emails=emails, dry_run=dry_run, yes=yes,
                            log_retention_days=log_retention_days,
                            with_features=with_features, without_features=without_features,
                            match_threshold=match_threshold, architecture=architecture))


def _up(r: Run, *, emails: tuple[str, ...], dry_run: bool, yes: bool, log_retention_days: int,
        fleet: FleetOptions = ONE_TARGET, with_features: tuple[str, ...] = (),
        without_features: tuple[str, ...] = (),
        match_threshold: float = 90.0, architecture: str = "arm64") -> int:
    import sys
    import time

    from facedetect_cli.build import features
    from facedetect_cli.engine.app import change_entries, plan_entries
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.engine.plan import DELETE
    from facedetect_cli.errors import EXIT_FAILURE, InputError, NotOwnedError

    config = StackConfig(stack=r.opts.stack, emails=emails,
                         log_retention_days=log_retention_days, with_features=with_features,
                         without_features=without_features, match_threshold=match_threshold,
                         architecture=architecture)
    if fleet.wanted(r.opts):
        return r.fleet("up", fleet, config, dry_run=dry_run)
    started = time.monotonic()
    app = r.app(config)
    plan = app.plan_up()
    if dry_run:
        r.out.plan(plan, app.header)
        if r.out.json:
            r.out.document({**app.header, "dry_run": True,
                            "features": features.ordered(app.features),
                            "plan": plan_entries(plan),
                            "api_calls": app.api_calls()})
        return 0
    if plan.foreign:
        names = ", ".join(f"{s.resource.kind} {s.resource.name}" for s in plan.foreign)
        raise NotOwnedError(
            f"refusing to take over {names}: it exists without the tag facedetect:stack="
            f"{config.stack}, so it is not this stack's; rename or remove it, or choose "
            "another --stack"
        )
    # Turning a feature off deletes its resources; face data is confirmed as `down` does.
    losing = [s for s in plan.steps if s.action == DELETE and s.data_count]
    if losing and not yes:
        r.out.plan(plan, app.header)
        if not sys.stdin.isatty():
            raise InputError("up --without deletes data (" + ", ".join(
                f"{s.resource.kind} {s.resource.name}: {s.reason}" for s in losing)
                + ") and needs confirmation: run it at a terminal, or pass --yes")
        if not click.confirm("Delete these resources and their data?", default=False,
                             err=r.out.json or r.out.quiet):
            r.out.info("Nothing changed.")
            return EXIT_FAILURE
    with r.out.progress(plan, f"up {config.stack}") as progress:
        outcomes = app.apply(plan, progress.event)
    failed = [o for o in outcomes if o.error is not None]
    r.out.summary(outcomes, time.monotonic() - started, verb="up")
    if r.out.json:
        doc = {**app.header, "features": features.ordered(app.features),
               "changes": change_entries(outcomes), "api_calls": app.api_calls()}
        if failed:
            doc["error"] = str(failed[0].error)
        r.out.document(doc)
    r.report_failures(failed)
    return EXIT_FAILURE if failed else 0
