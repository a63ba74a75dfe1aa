"""`facedetect permissions`: the IAM policy the caller needs, printed without any AWS call."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from facedetect_cli.build.features import FEATURES
from facedetect_cli.cli.runner import run_offline
from facedetect_cli.engine.config import DEFAULT_STACK

if TYPE_CHECKING:
    from facedetect_cli.cli.render import Output


@click.command()
@click.option("--with", "with_features", multiple=True, type=click.Choice(FEATURES),
              help="The stack has (or will have) this optional feature; repeatable.")
@click.option("--stack", default=DEFAULT_STACK, show_default=True, envvar="FACEDETECT_STACK",
              help="Stack name. [env: FACEDETECT_STACK]")
@click.option("--region", envvar="FACEDETECT_REGION",
              help="The stack's region (else AWS_REGION or AWS_DEFAULT_REGION, else every "
              "region). [env: FACEDETECT_REGION]")
@click.option("--account", envvar="FACEDETECT_ACCOUNT",
              help="The account's 12-digit id (else any account: `*` in the ARNs). "
              "[env: FACEDETECT_ACCOUNT]")
@click.option("--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True, envvar="FACEDETECT_OUTPUT",
              help="text: the policy document alone; json: with its scope and the policy "
              "split into customer managed policies. [env: FACEDETECT_OUTPUT]")
def permissions(with_features: tuple[str, ...], stack: str, region: str | None,
                account: str | None, output: str) -> None:
    """Print the least-privilege IAM policy that the credentials running facedetect need
    for every command on this stack (up, status, down, detect, results, logs). Needs no
    credentials and makes no AWS call."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # No --quiet: the policy is the output, and --quiet means none (docs/contract.md).
    run_offline(output, False, lambda out: _permissions(
        out, frozenset(with_features), stack, region, account))


def _permissions(out: Output, features: frozenset[str], stack: str, region: str | None,
                 account: str | None) -> int:
    import json

    from facedetect_cli.cli.render import note
    from facedetect_cli.engine import permissions
    from facedetect_cli.engine.config import StackConfig

    names = permissions.scope(StackConfig(stack=stack), region, account)
    policy = permissions.operator_policy(names, features)
    managed = permissions.split(policy)
    length = permissions.size(policy)
    if out.json:
        out.document({"stack": names.stack, "region": names.region, "account": names.account,
                      "features": sorted(features), "characters": length, "policy": policy,
                      "managed_policies": managed})
        return 0
    print(json.dumps(policy, indent=2), file=out.stdout, flush=True)
    note(out, f"stack {names.stack}, account {names.account}, region {names.region}, "
         f"features {', '.join(sorted(features)) or 'none'}: {length} characters, "
         + permissions.where_it_fits(length, len(managed)))
    return 0
