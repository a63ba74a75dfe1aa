"""The lowest versions pyproject.toml allows for each run-time dependency.

`python lowest_constraints.py [ROOT]` prints pip constraints pinning each one to its floor;
`python lowest_constraints.py --check [ROOT]` fails unless the running environment has
exactly those versions installed. CI installs the project a second time under these
constraints and runs the end-to-end tests there: a floor is a claim that facedetect works
with that version, and only a run with it proves the claim (`boto3>=1.34` once let pip keep
a botocore without CreateBucketConfiguration.Tags, and every `up` failed). Only the run-time
dependencies are pinned: the test tools resolve as usual, within what the pins allow.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def floors(pyproject: Path) -> dict[str, str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    found = {}
    for requirement in project["dependencies"]:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"{requirement!r} has no floor (name>=version): give it one")
        found[match.group(1)] = match.group(2)
    return found


def installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    root = Path(paths[0]) if paths else Path(__file__).resolve().parent.parent
    pins = floors(root / "pyproject.toml")
    if not check:
        print("\n".join(f"{name}=={floor}" for name, floor in pins.items()))
        return 0
    wrong = [f"{name} {installed(name)} (floor {floor})" for name, floor in pins.items()
             if installed(name) != floor]
    if wrong:
        print("not the lowest versions allowed: " + ", ".join(wrong), file=sys.stderr)
        return 1
    print("lowest versions allowed: " + ", ".join(f"{n} {v}" for n, v in pins.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
