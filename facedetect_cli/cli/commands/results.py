from __future__ import annotations

import click

from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run


@click.command()
@click.option("--key", help="Only the result for this object key (e.g. uploads/a.jpg).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="At most this many results.")
@common_options()
def results(opts: CommonOptions, key: str | None, limit: int) -> None:
    """The stored results from the table, newest first."""
    run(opts, lambda r: _results(r, key=key, limit=limit))


def _results(r: Run, *, key: str | None, limit: int) -> int:
    from facedetect_cli.cli import render
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.errors import AwsError, FacedetectError

    app = r.app(StackConfig(stack=r.opts.stack))
    try:
        items = app.pipeline().results(key=key, limit=limit)
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            raise FacedetectError(f"table {app.names.table} does not exist: run "
                                  "`facedetect up` first") from error
        raise
    if r.out.json:
        r.out.document({**app.header, "results": items})
    elif key is not None and items:
        render.faces(r.out, f"{items[0].get('FaceCount', 0)} face(s) in {key}",
                     items[0].get("Faces", []))
    elif not r.out.quiet:
        render.results(r.out, items)
    if key is not None and not items:
        r.out.error(f"no stored result for {key}")
        return 1
    return 0
