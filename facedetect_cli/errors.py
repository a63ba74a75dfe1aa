"""The tool's own errors. Each carries the exit code of the command-line contract.

Exit codes: 0 done or healthy; 1 an AWS or run-time failure; 2 bad usage or input;
3 `status` found the stack missing, partial or drifted; 130 interrupted (Ctrl-C).
See docs/contract.md.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNHEALTHY = 3
EXIT_INTERRUPTED = 130


class FacedetectError(Exception):
    """A failure the user can act on; its message is one line, shown without a traceback."""

    exit_code = EXIT_FAILURE


class InputError(FacedetectError):
    """Bad usage or input, found before anything in the account is touched."""

    exit_code = EXIT_USAGE


class AwsError(FacedetectError):
    """An AWS API call failed. `code` is AWS's error code (or a botocore error's class name)."""

    def __init__(
        self, message: str, *, code: str = "", operation: str = "", service: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.service = service

    @property
    def aws_message(self) -> str:
        return str(self)


class CredentialsError(FacedetectError):
    """No usable credentials: missing, expired, or the profile does not exist."""


class NotOwnedError(FacedetectError):
    """A resource carries the stack's name but not its tag: it is someone else's."""


class StepFailed(FacedetectError):
    """A resource's step failed during apply; names the step and carries the cause."""

    def __init__(self, step: str, cause: Exception) -> None:
        super().__init__(f"{step}: {cause}")
        self.step = step
        self.cause = cause
