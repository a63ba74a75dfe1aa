"""The uploads bucket: private, encrypted, TLS only, sending its events to EventBridge."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from facedetect_cli.aws.actions import access_denied
from facedetect_cli.aws.parallel import parallel
from facedetect_cli.aws.retry import SETTLING, retry_while
from facedetect_cli.engine import policies
from facedetect_cli.engine.naming import Names
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

BLOCK_ALL_PUBLIC = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {
    "Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
    ]
}
TLS_SID = "DenyInsecureTransport"
# A pipeline still uploading while `down` runs: give up after this many rounds.
_EMPTY_ATTEMPTS = 3
_DELETE_BATCH = 1000


class Bucket(Resource):
    kind = "bucket"
    holds_data = True
    data_unit = "object versions"

    def __init__(self, names: Names) -> None:
        super().__init__(names.bucket, names.bucket_arn)
        self.names = names

    # read ------------------------------------------------------------------------------
    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        s3 = ctx.client("s3")
        try:
            tags = tag_dict(s3.get_bucket_tagging(Bucket=self.name)["TagSet"])
        except AwsError as error:
            if error.code == "NoSuchBucket":
                return None
            if error.code == "NoSuchTagSet":
                return Observed(self.arn, owned=False, detail="exists without the stack's tag")
            if error.code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
                # S3 answers the same whether the name is another account's or the caller
                # may not read the tags of its own bucket: say both.
                raise AwsError(
                    f"access denied for s3:GetBucketTagging on bucket {self.name}: another "
                    "account probably owns the name (bucket names are global: choose another "
                    "--stack), or the caller lacks s3:GetBucketTagging (grant it, see "
                    "`facedetect permissions`)",
                    code=error.code, operation=error.operation, service="s3",
                ) from error
            raise
        if not owned_by(tags, self.names):
            return Observed(self.arn, owned=False, detail="exists without the stack's tag")
        if not settings:
            return Observed(self.arn, owned=True)
        public, encryption, notification, policy = parallel(
            lambda: self._optional(s3.get_public_access_block, "PublicAccessBlockConfiguration",
                                   "NoSuchPublicAccessBlockConfiguration"),
            lambda: self._optional(s3.get_bucket_encryption,
                                   "ServerSideEncryptionConfiguration",
                                   "ServerSideEncryptionConfigurationNotFoundError"),
            lambda: _strip_metadata(s3.get_bucket_notification_configuration(Bucket=self.name)),
            lambda: self._optional(s3.get_bucket_policy, "Policy", "NoSuchBucketPolicy"),
        )
        return Observed(
            self.arn,
            owned=True,
            attrs={
                "public_access": public or {},
                "encryption": encryption or {},
                "notification": notification,
                "policy": json.loads(policy) if policy else None,
            },
        )

    def _optional(self, method: Any, key: str, missing_code: str) -> Any:
        try:
            return method(Bucket=self.name)[key]
        except AwsError as error:
            if error.code == missing_code:
                return None
            raise

    def count_data(self, ctx: Context, observed: Observed) -> int:
        """Object versions and delete markers: everything that must go before the bucket.
        A listing that fits one page is kept for delete, which then need not list again."""
        total = 0
        pages = list(ctx.client("s3").pages("list_object_versions", Bucket=self.name))
        for page in pages:
            total += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        if len(pages) == 1:
            observed.attrs["versions"] = _versions(pages[0])
        return total

    def differences(self, ctx: Context, observed: Observed) -> dict[str, str]:
        attrs = observed.attrs
        found: dict[str, str] = {}
        if any(attrs["public_access"].get(k) is not True for k in BLOCK_ALL_PUBLIC):
            found["public_access"] = "public access is not fully blocked"
        if not attrs["encryption"].get("Rules"):
            found["encryption"] = "default encryption is off"
        if "EventBridgeConfiguration" not in attrs["notification"]:
            found["eventbridge"] = "EventBridge notifications are off"
        if _tls_statement(attrs["policy"]) != canonical_policy(self._tls_statement()):
            found["policy"] = "the bucket policy does not deny requests without TLS"
        return found

    # write -----------------------------------------------------------------------------
    def create(self, ctx: Context) -> None:
        s3 = ctx.client("s3")
        # Tags at creation make ownership atomic: an interrupted `up` never leaves an
        # untagged bucket that the next run would have to refuse as someone else's.
        configuration: dict[str, Any] = {"Tags": tag_list(self.names.tags)}
        if self.names.region != "us-east-1":
            # us-east-1 rejects an explicit LocationConstraint; every other region needs one.
            configuration["LocationConstraint"] = self.names.region
        try:
            s3.create_bucket(Bucket=self.name, CreateBucketConfiguration=configuration)
        except AwsError as error:
            if error.code == "BucketAlreadyExists":
                raise AwsError(
                    f"bucket name {self.name} is owned by another AWS account (bucket names "
                    "are global); choose another --stack",
                    code=error.code, operation="CreateBucket", service="s3",
                ) from error
            raise
        fields = {"public_access", "encryption", "eventbridge", "policy"}
        # A bucket made a moment ago has no notifications and no policy: nothing to re-read.
        # S3 may still answer NoSuchBucket to it for a while: terraform-provider-aws retries
        # a new bucket's settings on NoSuchBucket for two minutes (internal/service/s3/
        # bucket.go, bucketCreatedTimeout; bucket_server_side_encryption_configuration.go).
        self._configure(ctx, fields, notification={}, policy=None, just_created=True)

    def update(self, ctx: Context, observed: Observed, fields: set[str]) -> None:
        self._configure(ctx, fields, notification=observed.attrs["notification"],
                        policy=observed.attrs["policy"])

    def _configure(self, ctx: Context, fields: set[str], *, notification: dict[str, Any],
                   policy: dict[str, Any] | None, just_created: bool = False) -> None:
        """One setting after the other: S3 refuses bucket-level writes that overlap with 409
        OperationAborted ("A conflicting conditional operation is currently in progress"),
        which the S3 client retries (retry.ALWAYS_RETRIED), but writing them one at a time
        never provokes it. The bucket is on no critical path: the rule that needs it also
        waits for the roles and the state machine."""
        s3 = ctx.client("s3")
        calls: list[Callable[[], Any]] = []
        if "public_access" in fields:
            calls.append(lambda: s3.put_public_access_block(
                Bucket=self.name, PublicAccessBlockConfiguration=BLOCK_ALL_PUBLIC))
        if "encryption" in fields:
            calls.append(lambda: s3.put_bucket_encryption(
                Bucket=self.name, ServerSideEncryptionConfiguration=ENCRYPTION))
        if "eventbridge" in fields:
            calls.append(lambda: self._enable_eventbridge(ctx, notification))
        if "policy" in fields:
            calls.append(lambda: s3.put_bucket_policy(
                Bucket=self.name, Policy=json.dumps(self._merged_policy(policy))))
        for call in calls:
            if just_created:
                retry_while(call, lambda e: e.code == "NoSuchBucket", ctx.sleep, SETTLING)
            else:
                call()

    def _enable_eventbridge(self, ctx: Context, current: dict[str, Any]) -> None:
        """PutBucketNotificationConfiguration replaces the whole configuration: merge into
        what is there so a user's own notifications survive."""
        s3 = ctx.client("s3")
        merged = {**current, "EventBridgeConfiguration": {}}
        s3.put_bucket_notification_configuration(
            Bucket=self.name, NotificationConfiguration=merged
        )

    def _tls_statement(self) -> dict[str, Any]:
        return policies.bucket_tls_only(self.names)["Statement"][0]

    def _merged_policy(self, current: dict[str, Any] | None) -> dict[str, Any]:
        """Our statement replaces its older self; statements a user added stay."""
        statements = [s for s in (current or {}).get("Statement", []) if s.get("Sid") != TLS_SID]
        return {"Version": policies.VERSION, "Statement": [*statements, self._tls_statement()]}

    def delete(self, ctx: Context, observed: Observed) -> None:
        s3 = ctx.client("s3")
        listed = observed.attrs.get("versions")
        if listed is not None:
            self._delete_objects(ctx, listed)
        # Objects uploaded since the listing make DeleteBucket fail: empty it again, and retry.
        for attempt in range(_EMPTY_ATTEMPTS):
            if listed is None or attempt:
                for page in s3.pages("list_object_versions", Bucket=self.name):
                    self._delete_objects(ctx, _versions(page))
            try:
                s3.delete_bucket(Bucket=self.name)
                return
            except AwsError as error:
                if error.code == "NoSuchBucket":
                    return
                if error.code != "BucketNotEmpty" or attempt == _EMPTY_ATTEMPTS - 1:
                    raise

    def _delete_objects(self, ctx: Context, doomed: list[dict[str, str]]) -> None:
        # Every version and delete marker must go first, or DeleteBucket fails (BucketNotEmpty).
        for start in range(0, len(doomed), _DELETE_BATCH):
            result = ctx.client("s3").delete_objects(
                Bucket=self.name,
                Delete={"Objects": doomed[start:start + _DELETE_BATCH], "Quiet": True},
            )
            if result.get("Errors"):
                first = result["Errors"][0]
                if first.get("Code") == "AccessDenied":
                    # Reported per key, in the answer: name the action as for any denial.
                    raise access_denied(
                        "s3:DeleteObjectVersion", f"{first.get('Message')} for "
                        f"{first.get('Key')}", code="AccessDenied", operation="DeleteObjects",
                        service="s3")
                raise AwsError(
                    f"DeleteObjects: {first.get('Message')} ({first.get('Code')}) for "
                    f"{first.get('Key')}",
                    code=str(first.get("Code")), operation="DeleteObjects", service="s3",
                )


def _versions(page: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])]


def _strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _tls_statement(policy: dict[str, Any] | None) -> str | None:
    for statement in (policy or {}).get("Statement", []):
        if statement.get("Sid") == TLS_SID:
            return canonical_policy(statement)
    return None
