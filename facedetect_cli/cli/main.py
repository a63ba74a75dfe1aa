"""The `facedetect` command. Kept light: boto3 and rich are imported only by commands that
need them, so --help, --version and usage errors start fast."""

from __future__ import annotations

import gc

import click

from facedetect_cli import __version__
from facedetect_cli.cli.commands.detect import detect
from facedetect_cli.cli.commands.down import down
from facedetect_cli.cli.commands.local import local
from facedetect_cli.cli.commands.logs import logs
from facedetect_cli.cli.commands.permissions import permissions
from facedetect_cli.cli.commands.results import results
from facedetect_cli.cli.commands.status import status
from facedetect_cli.cli.commands.up import up
from facedetect_cli.cli.outcome import ContractGroup


@click.group(cls=ContractGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="facedetect")
def cli() -> None:
    """Provision a serverless face-detection pipeline on AWS (S3 -> EventBridge -> Step
    Functions -> Lambda + Rekognition -> DynamoDB + SNS), show where it stands, and take it
    down again.

    Try it without an AWS account: facedetect up --local
    """


cli.add_command(up)
cli.add_command(down)
cli.add_command(status)
cli.add_command(logs)
cli.add_command(detect)
cli.add_command(results)
cli.add_command(local)
cli.add_command(permissions)


def main() -> None:
    try:
        cli(prog_name="facedetect")
    finally:
        # botocore's service models are hundreds of thousands of objects; collecting them one
        # by one at exit took a third of a second on every command. The process is ending:
        # leave them to the operating system.
        gc.freeze()
