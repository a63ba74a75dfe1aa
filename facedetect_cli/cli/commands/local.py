from __future__ import annotations

from typing import TYPE_CHECKING

import click

from facedetect_cli.cli.options import DEFAULT_LOCAL_PORT
from facedetect_cli.cli.runner import run_offline

if TYPE_CHECKING:
    from facedetect_cli.cli.render import Output

_port = click.option("--local-port", "port", type=click.IntRange(1, 65535),
                     default=DEFAULT_LOCAL_PORT, show_default=True,
                     envvar="FACEDETECT_LOCAL_PORT", help="[env: FACEDETECT_LOCAL_PORT]")
_output = click.option("--output", type=click.Choice(["text", "json"]), default="text",
                       envvar="FACEDETECT_OUTPUT", help="[env: FACEDETECT_OUTPUT]")
_quiet = click.option("--quiet", "-q", is_flag=True, envvar="FACEDETECT_QUIET",
                      help="Print nothing but errors: the exit code is the answer. "
                      "[env: FACEDETECT_QUIET]")


@click.group()
def local() -> None:
    """Manage the embedded local AWS emulator (moto) that --local uses."""


@local.command()
@_port
@_output
@_quiet
def start(port: int, output: str, quiet: bool) -> None:
    """Start the emulator in the background (its log goes to a file)."""
    from facedetect_cli.local import lifecycle as emulator

    def body(out: Output) -> int:
        # start() decides under a lock shared with any other facedetect starting one now.
        if emulator.start(port, say=out.info) is None:
            out.info(f"An emulator already answers on http://127.0.0.1:{port}.")
        if out.json:
            out.document(emulator.describe(port))
        return 0

    run_offline(output, quiet, body)


@local.command()
@_port
@_output
@_quiet
def stop(port: int, output: str, quiet: bool) -> None:
    """Stop the emulator that facedetect started (its state is lost)."""
    from facedetect_cli.local import lifecycle as emulator

    def body(out: Output) -> int:
        stopped = emulator.stop(port)
        out.info("Stopped the local emulator." if stopped else
                 f"No emulator started by facedetect runs on port {port}.")
        if out.json:
            out.document({"stopped": stopped, **emulator.describe(port)})
        return 0

    run_offline(output, quiet, body)


@local.command()
@_port
@_output
@_quiet
def status(port: int, output: str, quiet: bool) -> None:
    """Say whether an emulator answers on the port. Exit 3 when none does."""
    from facedetect_cli.local import lifecycle as emulator

    def body(out: Output) -> int:
        info = emulator.describe(port)
        if out.json:
            out.document(info)
        elif info["answering"]:
            owner = (f"embedded, pid {info['embedded_pid']}, log {info['log']}"
                     if info["embedded_pid"] else "not started by facedetect")
            out.info(f"An emulator answers on {info['endpoint']} ({owner}).")
        else:
            out.info(f"Nothing answers on {info['endpoint']}.")
        return 0 if info["answering"] else 3

    run_offline(output, quiet, body)
