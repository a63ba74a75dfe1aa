"""What `status`, `logs`, `detect` and `results` show beside the resources: features, recent
runs, log lines, faces and stored results."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facedetect_cli.cli.render.output import Output
    from facedetect_cli.observe.logs import LogEvent

def features_summary(out: Output, features: dict[str, list[str]]) -> None:
    """The line under the status table naming the stack's features and their resources."""
    if out.json:
        return
    if not features:
        text = "Features: none (turn one on with `up --with duplicates` or `--with thumbnails`)"
    else:
        text = "Features: " + "; ".join(
            f"{feature} ({', '.join(key.replace(':', ' ', 1) for key in keys)})"
            for feature, keys in features.items())
    print(text, file=out.stdout, flush=True)


# Recent runs (status) and log lines (logs) ------------------------------------------------------
def executions_summary(out: Output, executions: dict[str, Any] | None) -> None:
    """The lines under the status table about the state machine's recent runs. JSON carries
    them in the status document instead; nothing when there is no state machine."""
    if out.json or executions is None:
        return
    if "error" in executions:
        lines = [("Recent runs: could not be read: " + str(executions["error"]), "yellow")]
    else:
        counted = (f"{executions['succeeded']} succeeded, {executions['failed']} failed, "
                   f"{executions['running']} running")
        if executions.get("truncated"):
            counted += " (only the newest ones counted)"
        lines = [(f"Runs in the last 24 hours: {counted}",
                  "red" if executions["failed"] else "")]
        failure = executions.get("latest_failure")
        if failure:
            when = failure.get("time") or ""
            with contextlib.suppress(ValueError):
                when = f"{datetime.fromisoformat(when).astimezone():%Y-%m-%d %H:%M:%S}"
            cause = f": {failure['cause']}" if failure.get("cause") else ""
            lines.append((f"Latest failure at {when}: {failure.get('key') or '(unknown key)'}"
                          f" - {failure.get('error')}{cause}", "red"))
    if out.plain:
        for text, _ in lines:
            print(text, file=out.stdout)
        return
    from rich.text import Text

    console = out._console()
    for text, style in lines:
        console.print(Text(text, style=style))


_FUNCTION_STYLE = {"detect": "cyan", "store": "magenta", "notify": "green"}


def log_events(out: Output, events: list[LogEvent]) -> int:
    """Log events as readable lines (see logs.describe); returns how many were printed."""
    from facedetect_cli.observe.logs import describe

    lines = [line for line in map(describe, events) if line is not None]
    if not lines:
        return 0
    if out.plain:
        for line in lines:
            print(line.plain(), file=out.stdout)
        out.stdout.flush()
        return len(lines)
    from rich.text import Text

    console = out._console()
    for line in lines:
        text = Text()  # a style given here would be the base of every part appended
        text.append(f"{line.time} ", style="dim")
        text.append(f"{line.function:<6}", style=_FUNCTION_STYLE.get(line.function, "bold"))
        text.append("  ")
        text.append(line.text, style="bold red" if line.error else "dim" if line.dim else "")
        console.print(text)
    return len(lines)


_FACE_FLAGS = ("smile", "eyeglasses", "sunglasses", "beard", "mustache", "eyesOpen",
               "mouthOpen")


def _face_row(number: int, face: dict[str, Any]) -> list[str]:
    age = face.get("age") or face.get("Age") or []
    box = face.get("box") or []
    flags = ", ".join(flag for flag in _FACE_FLAGS if face.get(flag))
    return [
        str(number),
        f"{age[0]}-{age[1]}" if len(age) == 2 else "",
        str(face.get("emotion", "")).lower(),
        flags,
        "{:.0%} {:.0%}".format(*box[:2]) if len(box) >= 2 else "",
        "{:.0%} x {:.0%}".format(*box[2:4]) if len(box) >= 4 else "",
        f"{face.get('conf', '')}",
    ]


def faces(out: Output, title: str, face_list: list[dict[str, Any]]) -> None:
    """The faces of one image as a table (plain lines without a terminal)."""
    headers = ["#", "age", "emotion", "attributes", "left top", "width x height", "confidence"]
    rows = [_face_row(i, face) for i, face in enumerate(face_list, 1)]
    if out.plain:
        print(title, file=out.stdout)
        for row in rows:
            print("  " + "  ".join(f"{h}={v}" for h, v in zip(headers, row, strict=True) if v),
                  file=out.stdout)
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    out._console().print(table)


def results(out: Output, items: list[dict[str, Any]]) -> None:
    headers = ["image key", "faces", "detected at", "size"]
    rows = [[str(i.get("ImageKey", "")), str(i.get("FaceCount", "")),
             str(i.get("DetectedAt", "")), str(i.get("Size", ""))] for i in items]
    if out.plain:
        for row in rows:
            print("  ".join(row), file=out.stdout)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} stored result(s), newest first", title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    out._console().print(table)
