"""moto with IAM enforced, as close to AWS's evaluation as moto allows, for the tests of
`facedetect permissions` (test_permissions_enforced.py).

moto (5.2.5) checks a caller's identity policies only when its INITIAL_NO_AUTH_ACTION_COUNT
says so (`enforced()` below). Where its check differs from AWS's, this kit brings it closer,
each time for a reason found by experiment:
- moto names some actions after the API operation, not as IAM does (s3:GetBucketEncryption
  for s3:GetEncryptionConfiguration, and PutBucketEncryption is checked as s3:CreateBucket):
  the kit has moto check the action aws/actions.py names for the operation being called
  (the call's own action; the ones a call also needs, such as tags at creation or
  iam:PassRole, moto never checks).
- moto knows the resource of a request only for S3 (bucket or object ARN) and IAM (the
  role's ARN, once it exists); for every other service it checks against "*", which no
  scoped statement matches. The kit lets "*" stand for "moto does not know": such a check
  passes on the action alone. S3 and IAM resources are checked for real.
- moto checks S3's DeleteObjects against the bucket; AWS checks each key's object ARN.
- moto cannot evaluate conditions of identity policies (it has no request context for
  aws:RequestTag or iam:PassedToService, and denies): conditions count as met.
- moto answers a denial in XML whatever the service's protocol, which botocore cannot parse
  for the JSON services: the kit answers them in JSON, as AWS does (AccessDeniedException).
- moto's SigV4 check fails on Lambda's GET and DELETE paths: signatures are not checked.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.core.authorization import disable_iam_authentication, enable_iam_authentication
from moto.core.exceptions import JsonRESTError
from moto.iam.access_control import IAMPolicyStatement, IAMRequest, IAMRequestBase

from facedetect_cli.aws.actions import primary_action
from facedetect_cli.engine.permissions import OBJECT_ACTIONS, split

# Services whose protocol is JSON (botocore's names differ from the signing names moto sees).
_JSON_SERVICES = {"dynamodb", "events", "logs", "states", "rekognition", "lambda"}
_CURRENT = threading.local()


class CallRecorder:
    """A fault rule that injects nothing: it tells the kit which operation this thread is
    calling, and counts the operations."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        _CURRENT.call = (service, operation)
        self.seen[f"{service}:{operation}"] += 1


def patch_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    check = IAMRequestBase.check_action_permitted

    def check_as_aws(self: IAMRequestBase, resource: str) -> None:
        call = getattr(_CURRENT, "call", None)
        if call is not None and self._action != "sts:GetCallerIdentity":
            self._action = primary_action(*call)
        if self._action in OBJECT_ACTIONS and "/" not in resource.split(":::")[-1]:
            resource = f"{resource}/*"
        check(self, resource)

    def match(pattern: str, string: str) -> Any:
        return True if string == "*" else match_as_moto(pattern, string)

    def raise_denied(self: IAMRequest) -> None:
        if self._service in _JSON_SERVICES:
            raise JsonRESTError("AccessDeniedException", f"User: {self._access_key.arn} is not "
                                f"authorized to perform: {self._action}")
        deny(self)

    match_as_moto = IAMPolicyStatement._match
    deny = IAMRequest._raise_access_denied
    monkeypatch.setattr(IAMRequestBase, "check_action_permitted", check_as_aws)
    monkeypatch.setattr(IAMPolicyStatement, "_match", staticmethod(match))
    monkeypatch.setattr(IAMPolicyStatement, "_check_conditions", lambda self, values: True)
    monkeypatch.setattr(IAMRequest, "_raise_access_denied", raise_denied)
    monkeypatch.setattr(IAMRequestBase, "check_signature", lambda self: None)


def operator(policy: dict[str, Any], name: str = "operator") -> dict[str, str]:
    """A user holding exactly `policy` (as the customer managed policies it splits into),
    made while IAM is not enforced; its credentials as environment variables."""
    iam = boto3.client("iam")
    iam.create_user(UserName=name)
    for number, document in enumerate(split(policy)):
        arn = iam.create_policy(PolicyName=f"{name}-{number}",
                                PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@contextmanager
def enforced() -> Iterator[None]:
    with enable_iam_authentication():
        yield


@contextmanager
def as_admin() -> Iterator[None]:
    """The test's own set-up calls, with IAM not enforced."""
    with disable_iam_authentication():
        yield


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """The policy with one action taken out of every statement (empty statements dropped)."""
    statements = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        kept = [a for a in actions if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}
