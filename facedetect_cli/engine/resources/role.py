"""IAM roles: a trust policy, managed policies, and one inline least-privilege policy."""

from __future__ import annotations

import json
from typing import Any

from facedetect_cli.aws.parallel import parallel
from facedetect_cli.aws.retry import SETTLING, retry_while
from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.policies import INLINE_POLICY_NAME
from facedetect_cli.engine.resources.base import (
    Context,
    Observed,
    Resource,
    canonical_policy,
    owned_by,
    tag_dict,
    tag_list,
)
from facedetect_cli.errors import AwsError


class Role(Resource):
    kind = "role"

    def __init__(
        self,
        names: Names,
        role: str,
        *,
        purpose: str,
        trust: dict[str, Any],
        inline: dict[str, Any],
        managed: tuple[str, ...] = (),
    ) -> None:
        super().__init__(role, names.role_arn(role))
        self.names = names
        self.purpose = purpose
        self.trust = trust
        self.inline = inline
        self.managed = tuple(sorted(managed))

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        iam = ctx.client("iam")
        try:
            role = iam.get_role(RoleName=self.name)["Role"]
        except AwsError as error:
            if error.code == "NoSuchEntity":
                return None
            raise
        owned = owned_by(tag_dict(role.get("Tags")), self.names)
        if not owned:
            return Observed(role["Arn"], owned=False, detail="exists without the stack's tag")
        if not settings:
            return Observed(role["Arn"], owned=True)
        attached, inline_names, inline = self._policies(ctx)
        return Observed(
            role["Arn"],
            owned=True,
            attrs={
                "trust": role.get("AssumeRolePolicyDocument"),
                "attached": sorted(attached),
                "inline_names": sorted(inline_names),
                "inline": inline,
            },
        )

    def _policies(self, ctx: Context) -> tuple[list[str], list[str], Any]:
        """The attached policies' ARNs, the inline policies' names, and the stack's own inline
        document (None when absent), read at once."""
        attached, inline_names, inline = parallel(
            lambda: self._attached(ctx),
            lambda: self._inline_names(ctx),
            lambda: self._inline_document(ctx),
        )
        return attached, inline_names, inline

    def _attached(self, ctx: Context) -> list[str]:
        return [p["PolicyArn"] for page in ctx.client("iam").pages(
            "list_attached_role_policies", RoleName=self.name) for p in page["AttachedPolicies"]]

    def _inline_names(self, ctx: Context) -> list[str]:
        return [n for page in ctx.client("iam").pages("list_role_policies", RoleName=self.name)
                for n in page["PolicyNames"]]

    def _inline_document(self, ctx: Context) -> Any:
        try:
            return ctx.client("iam").get_role_policy(
                RoleName=self.name, PolicyName=INLINE_POLICY_NAME
            )["PolicyDocument"]
        except AwsError as error:
            if error.code == "NoSuchEntity":
                return None
            raise

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        attrs = observed.attrs
        found = {}
        if canonical_policy(attrs["trust"]) != canonical_policy(self.trust):
            found["trust"] = "trust policy differs"
        if attrs["inline"] is None or canonical_policy(attrs["inline"]) != canonical_policy(
            self.inline
        ):
            found["inline"] = "permissions policy differs"
        extra_inline = [n for n in attrs["inline_names"] if n != INLINE_POLICY_NAME]
        if extra_inline:
            found["extra_inline"] = f"extra inline policies: {', '.join(extra_inline)}"
        if tuple(attrs["attached"]) != self.managed:
            found["managed"] = "attached managed policies differ"
        return found

    def create(self, ctx: Context) -> None:
        ctx.client("iam").create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(self.trust),
            Description=f"facedetect stack {self.names.stack}: {self.purpose}",
            Tags=tag_list(self.names.tags),
        )

    def settle(self, ctx: Context) -> None:
        parallel(
            lambda: self._put_inline(ctx),
            *[lambda arn=arn: self._attach(ctx, arn) for arn in self.managed],
        )

    def _put_inline(self, ctx: Context) -> None:
        ctx.client("iam").put_role_policy(
            RoleName=self.name,
            PolicyName=INLINE_POLICY_NAME,
            PolicyDocument=json.dumps(self.inline),
        )

    def _attach(self, ctx: Context, policy_arn: str) -> None:
        ctx.client("iam").attach_role_policy(RoleName=self.name, PolicyArn=policy_arn)

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        iam = ctx.client("iam")
        calls = []
        if "trust" in fields:
            calls.append(lambda: iam.update_assume_role_policy(
                RoleName=self.name, PolicyDocument=json.dumps(self.trust)))
        if "inline" in fields:
            calls.append(lambda: self._put_inline(ctx))
        if "extra_inline" in fields:
            calls += [
                lambda n=name: iam.delete_role_policy(RoleName=self.name, PolicyName=n)
                for name in observed.attrs["inline_names"] if name != INLINE_POLICY_NAME
            ]
        if "managed" in fields:
            attached = set(observed.attrs["attached"])
            calls += [lambda a=arn: self._attach(ctx, a) for arn in set(self.managed) - attached]
            calls += [
                lambda a=arn: iam.detach_role_policy(RoleName=self.name, PolicyArn=a)
                for arn in attached - set(self.managed)
            ]
        parallel(*calls)

    def delete(self, ctx: Context, observed: Observed) -> None:
        iam = ctx.client("iam")
        # DeleteRole fails with DeleteConflict while any policy is attached or inline. `down`
        # reads no policies: the stack's own is the one there should be, and a conflict below
        # finds any other.
        self._remove_policies(ctx, observed.attrs.get("attached", list(self.managed)),
                              observed.attrs.get("inline_names", [INLINE_POLICY_NAME]))

        def delete() -> None:
            try:
                iam.delete_role(RoleName=self.name)
            except AwsError as error:
                if error.code != "NoSuchEntity":
                    raise

        def conflict(error: AwsError) -> bool:
            """DeleteConflict: a policy someone attached since the plan read the role (remove
            it too), or, with none left, IAM still reporting the ones just removed: it can do
            so for a while (terraform-provider-aws retries DeleteRole on DeleteConflict for
            its propagationTimeout, two minutes: internal/service/iam/role.go)."""
            if error.code != "DeleteConflict":
                return False
            try:
                attached, inline = self._attached(ctx), self._inline_names(ctx)
            except AwsError as gone:
                if gone.code == "NoSuchEntity":
                    return True  # deleted meanwhile: the next DeleteRole says so
                raise
            self._remove_policies(ctx, attached, inline)
            return True

        retry_while(delete, conflict, ctx.sleep, SETTLING)

    def _remove_policies(self, ctx: Context, attached: list[str], inline: list[str]) -> None:
        iam = ctx.client("iam")

        def gone_already(call: Any) -> None:
            try:
                call()
            except AwsError as error:
                if error.code != "NoSuchEntity":  # never put (an interrupted up), or removed
                    raise

        parallel(
            *[lambda a=arn: gone_already(lambda: iam.detach_role_policy(
                RoleName=self.name, PolicyArn=a)) for arn in attached],
            *[lambda n=name: gone_already(lambda: iam.delete_role_policy(
                RoleName=self.name, PolicyName=n)) for name in inline],
        )
