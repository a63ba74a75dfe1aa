"""The run-time dependencies and their floors (issue 13). CI proves each floor by running the
end-to-end tests with exactly those versions (.ci/run); these tests keep the list honest."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "facedetect_cli"


def imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_the_tool_imports_botocore_and_not_boto3():
    # boto3 is in Lambda's runtime for the handlers and in the tests; the tool itself needs
    # only botocore, which is what its floor is stated for.
    imported = imported_top_levels()
    assert "botocore" in imported and "boto3" not in imported


def test_every_run_time_dependency_has_a_floor_the_lowest_run_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {d.split(">=")[0].strip() for d in project["dependencies"]}
    assert names == {"botocore", "click", "rich"}
    pins = subprocess.run([sys.executable, str(ROOT / ".ci" / "lowest_constraints.py"),
                           str(ROOT)], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(p.split("==")[0] for p in pins) == sorted(names)
    # CreateBucketConfiguration.Tags, which every `up` sends, exists from botocore 1.39.2.
    assert "botocore==1.39.2" in pins
