"""Fast start (issue 6): --help, --version and usage errors never import boto3 or rich."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from facedetect_cli.cli.main import cli
try:
    cli.main(args=sys.argv[1:], prog_name="facedetect", standalone_mode=True)
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "boto3": "boto3" in sys.modules,
                  "botocore": "botocore" in sys.modules, "rich": "rich" in sys.modules}),
      file=sys.stderr)
"""


def probe(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_help_version_and_usage_errors_import_neither_boto3_nor_rich():
    for args in (["--help"], ["--version"], ["up", "--help"], ["up", "--stack", "Bad"],
                 ["status", "--output", "yaml"], ["detect"], ["nonsense"]):
        found = probe(*args)
        assert found["code"] in (0, 2), (args, found)
        assert not found["boto3"] and not found["botocore"] and not found["rich"], (args, found)
