"""What `--organization` / `--ou` resolved to, shown before anything is written (and all that
`--dry-run` shows): targets per OU and the accounts left out, with why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facedetect_cli.cli.render.output import Output
    from facedetect_cli.fleet.organizations import Resolution
    from facedetect_cli.fleet.targets import Target


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def resolution(out: Output, found: Resolution, regions: tuple[str, ...]) -> None:
    """Accounts per OU and the skipped accounts: to stdout in text, stderr in JSON mode."""
    accounts, targets = len(found.accounts), len(found.accounts) * len(regions)
    out.info(f"organization of {found.management}: {_plural(accounts, 'account')} x "
             f"{_plural(len(regions), 'region')} = {_plural(targets, 'target')} "
             f"({', '.join(regions)})")
    per_ou = found.per_ou()
    width = max((len(path) for path in per_ou), default=0)
    for path, count in per_ou.items():
        out.info(f"  {path:<{width}}  {_plural(count, 'account')}")
    if found.skipped:
        out.info(f"skipped {_plural(len(found.skipped), 'account')}:")
        for skipped in found.skipped:
            account = skipped.account
            out.info(f"  {account.id}  {account.name}  {account.ou_path}: {skipped.reason}")


def resolution_document(command: str, found: Resolution, regions: tuple[str, ...],
                        targets: list[Target]) -> dict[str, Any]:
    return {
        "command": command, "dry_run": True, "management_account": found.management,
        "regions": list(regions), "per_ou": found.per_ou(),
        "targets": [{"target": t.label, "account": t.account, "name": t.name,
                     "ou_path": t.ou_path, "region": t.connection.region} for t in targets],
        "skipped": skipped_entries(found),
    }


def skipped_entries(found: Resolution) -> list[dict[str, str]]:
    return [{"account": s.account.id, "name": s.account.name, "ou_path": s.account.ou_path,
             "reason": s.reason} for s in found.skipped]
