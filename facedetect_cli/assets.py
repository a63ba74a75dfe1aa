"""The files that ship with the tool: handlers/, state_machine.json, event_rule.json.

Installed from a wheel they sit in facedetect_cli/_bundled/ (pyproject force-include); in a
source checkout they sit at the repository's top, where the users asked for them.
"""

from __future__ import annotations

import json
import re
import threading
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from facedetect_cli.packaging import code_sha256, deterministic_zip

SHARED_MODULE = "pipeline_common.py"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def _default_root() -> Traversable:
    bundled = resources.files("facedetect_cli") / "_bundled"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parent.parent


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ${Name} placeholders, leaving every other '$' alone (JSONPath uses them).
    Values are JSON-escaped, so a template stays valid JSON whatever they contain."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template placeholder ${{{name}}} has no value")
        return json.dumps(values[name])[1:-1]

    return _PLACEHOLDER.sub(value, template)


class Assets:
    def __init__(self, root: Traversable | None = None) -> None:
        self.root = root if root is not None else _default_root()
        self._lock = threading.Lock()
        self._zips: dict[str, bytes] = {}

    def template(self, name: str, values: dict[str, str]) -> Any:
        """A JSON template with its placeholders filled, parsed."""
        return json.loads(fill((self.root / name).read_text(encoding="utf-8"), values))

    def handler_files(self, module: str) -> dict[str, bytes]:
        handlers = self.root / "handlers"
        files = {f"{module}.py": (handlers / f"{module}.py").read_bytes()}
        shared = handlers / SHARED_MODULE
        if shared.is_file():
            files[SHARED_MODULE] = shared.read_bytes()
        return files

    def handler_zip(self, module: str) -> bytes:
        with self._lock:
            if module not in self._zips:
                self._zips[module] = deterministic_zip(self.handler_files(module))
            return self._zips[module]

    def handler_sha256(self, module: str) -> str:
        return code_sha256(self.handler_zip(module))
