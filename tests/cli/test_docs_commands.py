"""The docs stay true (issue 15): every `facedetect ...` command line in README.md and docs/
names a real command, every option it shows exists on that command, and every concrete line
(no placeholders) parses as click parses it. Every link to a local file leads somewhere."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from facedetect_cli.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A command line: in a code block (optionally after `.venv/bin/` or `$ `), or an inline span.
_BLOCK_LINE = re.compile(r"^\s*(?:\$ )?(?:\S*/)?(facedetect(?: [^#\n]*)?)$")
_INLINE = re.compile(r"`(?:\S*/)?(facedetect [a-z-][^`]*)`")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
# Synopsis notation: placeholders, alternatives, optional parts.
_SYNOPSIS = re.compile(r"[\[\]|…]|\.\.\.|\b[A-Z]{2,}\b")


def command_lines() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for document in DOCUMENTS:
        in_block = False
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{document.relative_to(REPO)}:{number}"
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            if in_block:
                match = _BLOCK_LINE.match(line)
                if match:
                    # `&&` chains and comments end the command.
                    found.append((where, match.group(1).split("&&")[0].strip()))
                continue
            found.extend((where, span.strip()) for span in _INLINE.findall(line))
    return found


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command the words name, and the words left for it."""
    command: click.Command = cli
    words = words[1:]  # "facedetect"
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        name = words[0]
        if "|" in name:  # `start | stop | status` in a synopsis: the first stands for all
            name = name.split("|")[0]
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"no command {name!r}"
        command, words = sub, words[1:]
    return command, words


def option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


LINES = command_lines()


def test_the_docs_show_command_lines():
    # Guards the finder: the README's own examples must be found.
    assert any(text.startswith("facedetect up ") for _, text in LINES)
    assert len(LINES) > 20


@pytest.mark.parametrize(("where", "text"), LINES, ids=[where for where, _ in LINES])
def test_documented_command_line_is_accepted(where, text, monkeypatch):
    for name in ("FACEDETECT_TARGETS", "FACEDETECT_OUTPUT", "FACEDETECT_LOCAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    # The synopsis `start | stop | status` reads as one word per alternative.
    words = shlex.split(re.sub(r"\s*\|\s*", "|", text)) if "|" in text else shlex.split(text)
    command, rest = resolve(words)
    known = option_names(command) | option_names(cli)
    unknown = [opt for opt in _OPTION.findall(" ".join(rest)) if opt not in known]
    assert not unknown, f"{where}: `{text}` shows options that do not exist: {unknown}"
    if _SYNOPSIS.search(" ".join(rest)):
        return  # placeholders: the options exist, the values are the reader's
    try:
        command.make_context(command.name or "facedetect", list(rest))
    except click.exceptions.Exit:
        pass  # --help / --version
    except click.UsageError as error:
        pytest.fail(f"{where}: `{text}` does not parse: {error}")


def test_local_links_lead_somewhere():
    broken = []
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text("utf-8")):
            if "://" in target:
                continue
            if not (document.parent / target).exists():
                broken.append(f"{document.relative_to(REPO)} -> {target}")
    assert not broken
