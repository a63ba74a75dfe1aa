from __future__ import annotations

from collections.abc import Callable
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


def _command(body: Callable[[Output, int], int]) -> click.Command:
    """A `local` subcommand named and documented by `body`: it takes the port and output
    options and runs `body(out, port)` offline; its return value is the exit code."""

    def command(port: int, output: str, quiet: bool) -> None:
        run_offline(output, quiet, lambda out: body(out, port))

    command.__name__, command.__doc__ = body.__name__, body.__doc__
    return local.command()(_port(_output(_quiet(command))))


@_command
def start(out: Output, port: int) -> int:
    """Start the emulator in the background (its log goes to a file)."""
    from facedetect_cli.local import lifecycle as emulator

    # start() decides under a lock shared with any other facedetect starting one now.
    if emulator.start(port, say=out.info) is None:
        out.info(f"An emulator already answers on http://127.0.0.1:{port}.")
    if out.json:
        out.document(emulator.describe(port))
    return 0


@_command
def stop(out: Output, port: int) -> int:
    """Stop the emulator that facedetect started (its state is lost)."""
    from facedetect_cli.local import lifecycle as emulator

    stopped = emulator.stop(port)
    out.info("Stopped the local emulator." if stopped else
             f"No emulator started by facedetect runs on port {port}.")
    if out.json:
        out.document({"stopped": stopped, **emulator.describe(port)})
    return 0


@_command
def status(out: Output, port: int) -> int:
    """Say whether an emulator answers on the port. Exit 3 when none does."""
    from facedetect_cli.local import lifecycle as emulator

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
