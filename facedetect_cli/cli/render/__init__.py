"""Everything the user sees: live progress, plans, status tables, JSON, errors.

The engine never imports rich; it emits events and returns plain data, and this package turns
them into a live display at a terminal, plain lines in a pipe or with NO_COLOR, or JSON.
"""

from facedetect_cli.cli.render.fleet import FleetProgress, fleet_progress, fleet_summary
from facedetect_cli.cli.render.output import Output, json_line, note
from facedetect_cli.cli.render.progress import LiveProgress, PlainProgress, Progress, spinner
from facedetect_cli.cli.render.tables import (
    executions_summary,
    faces,
    features_summary,
    log_events,
    results,
)

__all__ = [
    "FleetProgress", "LiveProgress", "Output", "PlainProgress", "Progress", "executions_summary",
    "faces", "features_summary", "fleet_progress", "fleet_summary", "json_line", "log_events",
    "note", "results", "spinner",
]
