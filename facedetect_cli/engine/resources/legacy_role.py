"""A role as earlier versions named it, without the region (`facedetect-DetectFacesRole`).

IAM names are the account's, so such a role may serve the stack of any region of the account:
the one its inline policy names. Each region's `up` moves its own functions, state machine
and rule to roles that name the region (naming.py), then removes its own old role; its `down`
removes it too. A role another region's stack still uses is left to that region.
"""

from __future__ import annotations

from typing import Any

from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import Context, Observed, owned_by, tag_dict
from facedetect_cli.engine.resources.role import Role
from facedetect_cli.errors import AwsError


def regions_named(document: Any, names: Names) -> set[str]:
    """The regions a policy's resources are in: an ARN's region field, and for S3 (whose ARNs
    have none) the region in the stack's bucket name, which every version has carried."""
    if not isinstance(document, dict):
        return set()
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    bucket_prefix = f"{names.stack}-images-{names.account}-"
    found: set[str] = set()
    for statement in statements:
        arns = statement.get("Resource", []) if isinstance(statement, dict) else []
        for arn in [arns] if isinstance(arns, str) else arns:
            parts = str(arn).split(":", 5)
            if len(parts) < 6 or parts[0] != "arn":
                continue
            if parts[3]:
                found.add(parts[3])
            elif parts[2] == "s3" and parts[5].startswith(bucket_prefix):
                found.add(parts[5].split("/", 1)[0].removeprefix(bucket_prefix))
    return found


class LegacyRole(Role):
    """Never created: only read, and deleted when it is this region's."""

    def __init__(self, names: Names, purpose: str) -> None:
        super().__init__(names, names.legacy_role(purpose),
                         purpose=f"{purpose} of an earlier version", trust={}, inline={})
        self.replacement = names.role(purpose)

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        """None unless it carries the stack's tag: a role of that name without it is somebody
        else's, and nothing of this stack. Owned only when it is this region's: its policy
        names this region alone, or no region at all (an `up` of an earlier version stopped
        before writing it: it grants nothing any region's functions could rely on)."""
        try:
            role = ctx.client("iam").get_role(RoleName=self.name)["Role"]
        except AwsError as error:
            if error.code == "NoSuchEntity":
                return None
            raise
        if not owned_by(tag_dict(role.get("Tags")), self.names):
            return None
        # Also for `down`: which region's it is decides whether to delete it.
        attached, inline_names, inline = self._policies(ctx)
        regions = sorted(regions_named(inline, self.names))
        here = self.names.region
        if set(regions) <= {here}:
            detail = (f"role of an earlier version, without the region in its name: `up` "
                      f"moves {here}'s functions to {self.replacement} and its like, then "
                      "removes it; `down` removes it")
        elif len(regions) == 1:
            detail = (f"role of an earlier version serving {regions[0]}: left to that "
                      "region's `up` or `down`")
        else:
            detail = (f"role of an earlier version naming {', '.join(regions)}: left alone "
                      "(delete it once no function uses it)")
        return Observed(role["Arn"], owned=set(regions) <= {here},
                        attrs={"attached": sorted(attached), "inline_names": sorted(inline_names),
                               "regions": regions},
                        detail=detail)

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        # Status shows this region's old role as drift: `up` has something to do.
        return {"legacy": observed.detail}

    def deletion_note(self) -> str:
        return f"an earlier version's name for {self.replacement}"

    def create(self, ctx: Context) -> None:
        raise NotImplementedError("a role of an earlier version is never created")
