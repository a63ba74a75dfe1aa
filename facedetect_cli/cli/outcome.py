"""How every command ends, whatever ends it: an exit code of the contract, one line on stderr,
and with --output json one JSON document on stdout. The commands write their own documents on
success and on the failures they foresee; this module writes the document for the rest: click's
usage errors, Ctrl-C, an internal error, input refused before a command runs. See
docs/contract.md."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import click

from facedetect_cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    FacedetectError,
    InputError,
)

INTERRUPTED = ("interrupted; the calls in flight were finished, nothing is half made. Run the "
               "command again to resume.")


def wants_json(args: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether the command line asks for JSON, read from the words themselves: a usage error
    stops click before it has parsed --output. The last --output wins, as in click."""
    mode = environ.get("FACEDETECT_OUTPUT") or "text"
    for index, arg in enumerate(args):
        if arg == "--output" and index + 1 < len(args):
            mode = args[index + 1]
        elif arg.startswith("--output="):
            mode = arg.partition("=")[2]
    return mode == "json"


def fail(message: str, code: int, *, json_mode: bool, documented: bool = False,
         line: bool = True) -> NoReturn:
    """End with `code`: the one-line error on stderr (unless already shown, as click shows its
    own), and the error document on stdout in JSON mode (unless the command wrote its own).
    A message is one line, whatever its source put in it (AWS's messages, an exception's)."""
    message = " ".join(message.split())
    if line:
        print(f"error: {message}", file=sys.stderr, flush=True)
    if json_mode and not documented:
        print(json.dumps({"error": message, "exit_code": code}, indent=2), flush=True)
    sys.exit(code)


def internal_error(error: BaseException) -> str:
    return (f"internal error: {type(error).__name__}: {error} (run with --debug for the "
            "traceback, and please report it)")


def closed_pipe() -> NoReturn:
    """stdout's reader has gone (`facedetect status | head -2`): end quietly, with 1 as click
    and Python do (the output was not all delivered), and send what Python still flushes at
    exit to /dev/null instead of a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real descriptor (a test's captured stream)
        pass
    sys.exit(EXIT_FAILURE)


def check_encoding(args: Sequence[str], environ: Mapping[str, str]) -> None:
    """Every argument and FACEDETECT_ setting must be valid UTF-8 without NUL: S3 keys, AWS
    names and tags are UTF-8, and a file name that is not (`$'\\xff\\xfe.png'`) could never be
    uploaded."""
    settings = [f"{name}={value}" for name, value in environ.items()
                if name.startswith("FACEDETECT_")]
    for value in [*args, *settings]:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise InputError(f"{shown!r} is not valid UTF-8: facedetect's names, keys and "
                             "files are UTF-8 (rename the file, or correct the value)") from None
        if "\0" in value:  # no shell passes one; a program calling facedetect might
            raise InputError(f"{value!r} holds a NUL character")


def guarded(invoke: Callable[[], Any], args: Sequence[str],
            environ: Mapping[str, str]) -> NoReturn:
    """Run the click command (not standalone) and turn whatever escapes it into the contract.
    The commands' own endings (runner.run's sys.exit) pass through untouched."""
    json_mode = wants_json(args, environ)
    debug = "--debug" in args or environ.get("FACEDETECT_DEBUG", "") not in ("", "0", "false")
    try:
        check_encoding(args, environ)
        result = invoke()
    except click.ClickException as error:
        error.show()  # click's usage line and message, on stderr as always
        fail(error.format_message(), error.exit_code, json_mode=json_mode, line=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        fail(INTERRUPTED, EXIT_INTERRUPTED, json_mode=json_mode)
    except BrokenPipeError:
        closed_pipe()
    except FacedetectError as error:
        fail(str(error), error.exit_code, json_mode=json_mode)
    except Exception as error:
        if debug:
            traceback.print_exc()
        fail(internal_error(error), EXIT_FAILURE, json_mode=json_mode)
    sys.exit(result if isinstance(result, int) else 0)


class ContractGroup(click.Group):
    """The facedetect group: as a program (standalone, also under click's CliRunner) every
    ending goes through `guarded`."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        words = list(sys.argv[1:] if args is None else args)
        guarded(lambda: super(ContractGroup, self).main(
            words, prog_name, complete_var, False, **extra), words, os.environ)
