from __future__ import annotations

import click

from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run

_FUNCTIONS = ("detect", "store", "notify")


@click.command()
@click.option("--since", default="10m", show_default=True,
              help="From when: a duration back from now (30s, 10m, 2h, 1d, 1w) or a time "
              "(2026-11-28T09:00, local time unless it names a zone).")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new lines as they arrive, until Ctrl-C. With --output json, "
              "one JSON event per line (JSON Lines).")
@click.option("--function", "functions", multiple=True, type=click.Choice(_FUNCTIONS),
              help="Only this function's lines; repeatable. Default: all three.")
@common_options()
def logs(opts: CommonOptions, since: str, follow: bool, functions: tuple[str, ...]) -> None:
    """Show the pipeline's log lines, oldest first, across its functions: per upload, the
    image key, faces found, duration, and the error if it failed. Read-only.
    Exit 3 when none of the stack's log groups exists."""
    run(opts, lambda r: _logs(r, since=since, follow=follow,
                              functions=functions or _FUNCTIONS))


def _logs(r: Run, *, since: str, follow: bool, functions: tuple[str, ...]) -> int:
    from datetime import UTC, datetime

    from facedetect_cli.cli.render import json_line, log_events, note
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.observe.logs import POLL_INTERVAL_S, NotDeployedError, parse_since

    # Checked before any AWS call, like all input.
    start = parse_since(since, datetime.now(UTC))
    start_ms = int(start.timestamp() * 1000)
    app = r.app(StackConfig(stack=r.opts.stack))
    reader = app.log_reader(functions)
    until_ms = None if follow else int(datetime.now(UTC).timestamp() * 1000)
    events = reader.read(start_ms, until_ms)
    if reader.all_missing:
        raise NotDeployedError(
            f"stack {app.names.stack} has no log groups in account {app.names.account}, "
            f"{app.names.region} ({', '.join(sorted(reader.groups))}): it is not deployed "
            "here; check --stack and --region, or run `facedetect up`"
        )
    for group in sorted(reader.missing):
        note(r.out, f"log group {group} does not exist (yet): no lines of its function")

    if r.out.json and not follow:
        r.out.document({**app.header, "since": start.isoformat(),
                        "functions": list(functions),
                        "events": [event.as_json() for event in events],
                        "api_calls": app.api_calls()})
        return 0
    if not follow:
        if not log_events(r.out, events):
            r.out.info(f"No log lines since {start.astimezone():%Y-%m-%d %H:%M:%S}.")
        return 0
    try:
        while True:
            if r.out.json:
                for event in events:
                    json_line(r.out, event.as_json())
            else:
                log_events(r.out, events)
            app.ctx.sleep(POLL_INTERVAL_S)
            events = reader.read(start_ms)
    except KeyboardInterrupt:
        # The way to stop following: not a failure, and nothing is left half done.
        return 0
