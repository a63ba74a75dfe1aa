from __future__ import annotations

import click

from facedetect_cli.options import CommonOptions, common_options
from facedetect_cli.runner import Run, run


@click.command()
@click.option("--email", "emails", multiple=True, envvar="FACEDETECT_EMAIL",
              help="Also check that this address is subscribed; repeatable.")
@common_options
def status(opts: CommonOptions, emails: tuple[str, ...]) -> None:
    """Show every resource of the stack: present, missing, drifted or foreign. Read-only.
    Exit 3 when the stack is missing, partial or drifted."""
    run(opts, lambda r: _status(r, emails=emails))


def _status(r: Run, *, emails: tuple[str, ...]) -> int:
    from facedetect_cli.app import is_healthy
    from facedetect_cli.config import StackConfig
    from facedetect_cli.errors import EXIT_UNHEALTHY

    app = r.app(StackConfig(stack=r.opts.stack, emails=emails))
    rows = app.status()
    healthy = is_healthy(rows)
    r.out.status(rows, app.header, healthy)
    if r.out.json:
        r.out.document({**app.header, "healthy": healthy,
                        "resources": [row.as_dict() for row in rows],
                        "api_calls": app.api_calls()})
    return 0 if healthy else EXIT_UNHEALTHY
