"""botocore's exceptions turned into the tool's own errors: one clear line each."""

from __future__ import annotations

import re

import botocore.exceptions
from botocore.parsers import ResponseParserError

from facedetect_cli.aws.actions import access_denied, primary_action
from facedetect_cli.errors import AwsError, CredentialsError, FacedetectError, InputError

_EXPIRED_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
}
_INVALID_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
}
_ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "Forbidden",
}
# Everything of botocore's a call can raise: each is translated, none is an "internal error".
# ResponseParserError (an answer that is not AWS's: an HTML page from whatever server
# --endpoint-url names) derives from Exception only.
BOTOCORE_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
                   ResponseParserError)
# AWS names the action it denied: "User: arn:... is not authorized to perform: iam:PassRole
# on resource: arn:...". It is not always the operation called (CreateFunction checks that
# the caller may pass the role); S3's denials say only "Access Denied".
_DENIED_ACTION = re.compile(r"not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)")


def denied_action(message: str, service: str, operation: str) -> str:
    """The IAM action a denial is about: the one AWS's message names (a call can need
    several, as CreateFunction needs iam:PassRole), else the one the call itself needs, which
    is not always named after the operation (S3's GetBucketEncryption needs
    s3:GetEncryptionConfiguration)."""
    named = _DENIED_ACTION.search(message)
    return named.group(1) if named else primary_action(service, operation)


def translate_error(exc: Exception, service: str, operation: str) -> FacedetectError:
    """One clear line for any botocore failure: what was being done, AWS's message, what to do."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message") or code)
        if code in _EXPIRED_CODES:
            return CredentialsError(
                f"AWS credentials have expired ({code}): refresh them "
                "(for example `aws sso login`) and run the command again"
            )
        if code in _INVALID_CREDENTIAL_CODES:
            return CredentialsError(
                f"AWS rejected the credentials ({code}: {message}): check the access key, "
                "secret and profile"
            )
        if code in _ACCESS_DENIED_CODES:
            return access_denied(denied_action(message, service, operation), message,
                                 code=code, operation=operation, service=service)
        return AwsError(f"{operation}: {message} ({code})", code=code, operation=operation,
                        service=service)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "choose a profile with --profile, or use --local for the local emulator"
        )
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return InputError(f"{exc}: check --profile / AWS_PROFILE against ~/.aws/config")
    if isinstance(exc, botocore.exceptions.TokenRetrievalError | botocore.exceptions.SSOError):
        return CredentialsError(f"AWS credentials could not be refreshed: {exc}")
    if isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectTimeoutError
        | botocore.exceptions.ReadTimeoutError,
    ):
        return AwsError(
            f"cannot reach the AWS endpoint for {service} ({exc}); check the network, "
            "--endpoint-url, or start the emulator with `facedetect local start`",
            code=type(exc).__name__,
            operation=operation,
            service=service,
        )
    if isinstance(exc, botocore.exceptions.WaiterError):
        return AwsError(f"{operation}: gave up waiting: {exc}", code="WaiterError",
                        operation=operation, service=service)
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        detail = " ".join(str(exc).split())  # botocore's message spans several lines
        return AwsError(f"{operation}: invalid request: {detail}", code="ParamValidationError",
                        operation=operation, service=service)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        detail = " ".join(str(exc).split())
        return AwsError(f"{operation}: {detail}", code=type(exc).__name__, operation=operation,
                        service=service)
    if isinstance(exc, ResponseParserError):
        return not_aws(service, operation)
    raise exc


def raised_by_parser(exc: BaseException) -> bool:
    """Whether botocore's response parser raised `exc` (a KeyError or a TypeError too, for an
    answer that is well-formed XML or JSON but not the one AWS gives): then the endpoint is
    not AWS, and the error is not the tool's."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == "botocore.parsers":
            return True
        tb = tb.tb_next
    return False


def not_aws(service: str, operation: str) -> AwsError:
    """The endpoint answered, but not as AWS does."""
    return AwsError(
        f"{operation}: the endpoint for {service} answered, but not as AWS does (is "
        "--endpoint-url or AWS_ENDPOINT_URL an AWS endpoint or an emulator?)",
        code="NotAws", operation=operation, service=service)
