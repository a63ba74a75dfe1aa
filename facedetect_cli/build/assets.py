"""The files that ship with the tool: handlers/, state_machine.json (and its features' states,
state_machine_features.json), event_rule.json.

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

from facedetect_cli.build import wheels
from facedetect_cli.build.packaging import code_sha256, deterministic_zip

SHARED_MODULE = "pipeline_common.py"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def _default_root() -> Traversable:
    bundled = resources.files("facedetect_cli") / "_bundled"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2]


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
        self._zips: dict[Any, bytes] = {}

    def template(self, name: str, values: dict[str, str]) -> Any:
        """A JSON template with its placeholders filled, parsed."""
        return json.loads(fill((self.root / name).read_text(encoding="utf-8"), values))

    def handler_files(self, module: str, runtime: str | None = None,
                      architecture: str | None = None) -> dict[str, bytes]:
        """The handler, the shared module and, for a handler that needs them, the packages
        the runtime lacks, built for `runtime` and `architecture` (wheels.py)."""
        handlers = self.root / "handlers"
        files = {f"{module}.py": (handlers / f"{module}.py").read_bytes()}
        shared = handlers / SHARED_MODULE
        if shared.is_file():
            files[SHARED_MODULE] = shared.read_bytes()
        if module in wheels.HANDLER_PACKAGES:
            if runtime is None or architecture is None:
                raise ValueError(f"{module} needs packages: give its runtime and architecture")
            packages = wheels.handler_packages(module, wheels.Target(runtime, architecture))
            files = {**packages, **files}
        return files

    def handler_zip(self, module: str, runtime: str | None = None,
                    architecture: str | None = None) -> bytes:
        # Only a handler with packages differs by runtime and architecture.
        key = (module, runtime, architecture) if module in wheels.HANDLER_PACKAGES else module
        with self._lock:
            cached = self._zips.get(key)
        if cached is not None:
            return cached
        # Built outside the lock: a download must not hold up the other handlers' zips.
        files = self.handler_files(module, runtime, architecture)
        built = deterministic_zip(files)
        wheels.check_limits(module, built, files)
        with self._lock:
            return self._zips.setdefault(key, built)

    def handler_sha256(self, module: str, runtime: str | None = None,
                       architecture: str | None = None) -> str:
        return code_sha256(self.handler_zip(module, runtime, architecture))
