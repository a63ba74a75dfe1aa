"""Each command offers only the options that do something for it (issue 15): --targets and
--max-parallel only where many targets can run (up, down, status)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from facedetect_cli.cli.main import cli

FLEET_COMMANDS = ("up", "down", "status")
SINGLE_STACK_COMMANDS = ("detect", "results", "logs")


def help_text(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", FLEET_COMMANDS)
def test_fleet_commands_offer_targets(command):
    text = help_text(command)
    assert "--targets" in text and "--max-parallel" in text


@pytest.mark.parametrize("command", SINGLE_STACK_COMMANDS)
def test_single_stack_commands_neither_offer_nor_accept_targets(command, tmp_path):
    text = help_text(command)
    assert "--targets" not in text and "--max-parallel" not in text
    targets = tmp_path / "targets.toml"
    targets.write_text("")
    args = [command, "photo.jpg"] if command == "detect" else [command]
    result = CliRunner().invoke(cli, [*args, "--targets", str(targets)])
    assert result.exit_code == 2
    assert "No such option '--targets'" in result.output


@pytest.mark.parametrize("command", [*FLEET_COMMANDS, *SINGLE_STACK_COMMANDS, "local start",
                                     "local stop", "local status"])
def test_every_help_opens_with_the_commands_own_summary(command):
    """`--help` reads as that command's own manual: its usage line names it and its first
    paragraph is its own, not the group's."""
    text = help_text(*command.split())
    assert text.startswith(f"Usage: cli {command}") or text.startswith(
        f"Usage: facedetect {command}")
    group_summary = help_text().split("\n\n")[1].strip()
    assert group_summary not in text
