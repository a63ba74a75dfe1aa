"""Runs a command's body: builds its output and its app, and turns every outcome into the
command-line contract (one-line errors on stderr, exit codes, no tracebacks unless --debug)."""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from facedetect_cli.cli.options import CommonOptions
from facedetect_cli.cli.outcome import INTERRUPTED, closed_pipe, fail, internal_error
from facedetect_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, FacedetectError

if TYPE_CHECKING:
    from facedetect_cli.cli.fleet_options import FleetOptions
    from facedetect_cli.cli.render import Output
    from facedetect_cli.engine.app import StackApp
    from facedetect_cli.engine.apply import Outcome
    from facedetect_cli.engine.config import StackConfig

# Tests (fault injection, instant sleeps) set StackApp keyword arguments here.
APP_OVERRIDES: dict[str, Any] = {}


@dataclass
class Run:
    opts: CommonOptions
    out: Output
    apps: list[StackApp] = field(default_factory=list)

    def app(self, config: StackConfig) -> StackApp:
        connection = self.opts.connection()  # bad input stops here, before boto3 is imported
        from facedetect_cli.engine.app import StackApp

        if self.opts.local:
            from facedetect_cli.local.lifecycle import ensure_running

            ensure_running(self.opts.local_port, say=self.out.info)
        app = StackApp(connection, config, call_log=self.call_log(), **APP_OVERRIDES)
        self.apps.append(app)
        return app

    def call_log(self) -> Callable[[str, str], None] | None:
        """With --debug, one stderr line per API call, written whole so that calls made from
        several threads never run together on one line."""
        if not self.opts.debug:
            return None
        return lambda service, op: sys.stderr.write(f"debug: api call {service}:{op}\n")

    def report_failures(self, failed: list[Outcome]) -> None:
        """One line per distinct failure: the first step it stopped, how many more it stopped
        the same way (three functions denied the same action make one line, not three)."""
        by_cause: dict[str, list[Outcome]] = {}
        for outcome in failed:
            by_cause.setdefault(_cause(str(outcome.error)), []).append(outcome)
        for outcomes in by_cause.values():
            step = outcomes[0].step
            more = f" (and {len(outcomes) - 1} more)" if len(outcomes) > 1 else ""
            self.out.error(f"{step.action} {step.resource.kind} {step.resource.name}{more}: "
                           f"{outcomes[0].error}")

    def fleet(self, command: str, fleet: FleetOptions, config: StackConfig, *,
              dry_run: bool = False, keep_data: bool = False) -> int:
        """Run up, down or status on many targets at once (cli/fleet_run.py)."""
        from facedetect_cli.cli.fleet_run import run_fleet

        return run_fleet(self, command, fleet, config, dry_run=dry_run, keep_data=keep_data)

    def debug_summary(self) -> None:
        """With --debug, the calls by service and operation once the command ends."""
        for app in self.apps:
            print("debug: api calls by operation:", file=sys.stderr)
            for operation, count in app.aws.counter.by_operation().items():
                print(f"debug:   {count:4d}  {operation}", file=sys.stderr)
            totals = app.aws.counter.totals()
            print(f"debug: {totals['reads']} reads, {totals['writes']} writes", file=sys.stderr,
                  flush=True)


# AWS's denials name the resource ("... iam:CreateRole on resource: arn:...:role/x"): the
# same missing action is still one cause, whichever resources it stopped.
_DENIAL = re.compile(r"^access denied for ([a-z0-9-]+:[A-Za-z0-9*]+)")


def _cause(message: str) -> str:
    denied = _DENIAL.match(message)
    return denied.group(0) if denied else message


def run_offline(output: str, quiet: bool, body: Callable[[Output], int]) -> NoReturn:
    """Run a command that needs no AWS session (local, permissions). The foreseen failures end
    here; anything else ends in the group's guard (outcome.py)."""
    from facedetect_cli.cli.render import Output

    out = Output(output, quiet=quiet)
    try:
        code = body(out)
    except FacedetectError as error:
        fail(str(error), error.exit_code, json_mode=out.json, documented=out.documented)
    raise SystemExit(code)


def run(opts: CommonOptions, body: Callable[[Run], int]) -> NoReturn:
    """Run a command's body and end it by the contract (see outcome.py): every way out is an
    exit code, a line on stderr, and with --output json one document on stdout."""
    import click

    from facedetect_cli.cli.render import Output

    out = Output(opts.output, quiet=opts.quiet)
    current = Run(opts, out)
    try:
        code = body(current)
    except FacedetectError as error:
        if opts.debug:
            traceback.print_exc()
        fail(str(error), error.exit_code, json_mode=out.json, documented=out.documented)
    except (KeyboardInterrupt, click.exceptions.Abort):  # Abort: Ctrl-C at a question
        fail(INTERRUPTED, EXIT_INTERRUPTED, json_mode=out.json, documented=out.documented)
    except BrokenPipeError:
        closed_pipe()
    except Exception as error:
        if opts.debug:
            traceback.print_exc()
        fail(internal_error(error), EXIT_FAILURE, json_mode=out.json,
             documented=out.documented)
    finally:
        if opts.debug:
            current.debug_summary()
    sys.exit(code)
