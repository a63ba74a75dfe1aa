"""What each Lambda zip may contain: the handler file plus pipeline_common.py, importing only the
standard library and boto3/botocore (both shipped by the Python runtime); Create Thumbnail also
imports Pillow, which facedetect packages into its zip (facedetect_cli/wheels.py)."""

import ast
import inspect
import sys

import pytest
from handler_testkit import HANDLERS_DIR, import_fresh

HANDLER_FILES = [
    "detect_faces.py",
    "store_metadata.py",
    "send_notification.py",
    "check_face_duplicate.py",
    "add_face_to_index.py",
    "create_thumbnail.py",
]
ALLOWED_THIRD_PARTY = {"boto3", "botocore"}
# Packages the packager adds to one handler's zip (facedetect_cli.build.wheels.HANDLER_PACKAGES).
PACKAGED = {"create_thumbnail.py": {"PIL"}}
SHARED_MODULE = "pipeline_common"


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import (the zip has no package)"
            names.add(node.module.split(".")[0])
    return names


def test_handlers_directory_holds_only_the_contract_files():
    files = {p.name for p in HANDLERS_DIR.iterdir() if p.name != "__pycache__"}
    assert files - {"README.md"} == {*HANDLER_FILES, "pipeline_common.py"}


@pytest.mark.parametrize("name", [*HANDLER_FILES, "pipeline_common.py"])
def test_imports_only_what_the_lambda_runtime_has(name):
    modules = imported_modules(HANDLERS_DIR / name)

    allowed = ALLOWED_THIRD_PARTY | PACKAGED.get(name, set())
    foreign = modules - set(sys.stdlib_module_names) - allowed - {SHARED_MODULE}
    assert foreign == set()
    assert "facedetect_cli" not in modules


@pytest.mark.parametrize("name", HANDLER_FILES)
def test_each_handler_has_the_entry_point_lambda_calls(aws, monkeypatch, name):
    monkeypatch.setenv("TABLE_NAME", "facedetect-test-faces")
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:eu-central-1:123456789012:facedetect-results")
    monkeypatch.setenv("COLLECTION_ID", "facedetect-rider-photos")
    if name in PACKAGED:
        pytest.importorskip("PIL", reason="Pillow is a test dependency: pip install '.[test]'")
    module = import_fresh(name.removesuffix(".py"))

    assert list(inspect.signature(module.lambda_handler).parameters) == ["event", "context"]


def test_error_names_are_the_ones_the_state_machine_routes():
    import pipeline_common

    names = {"UnsupportedImageError", "ServiceThrottledError", "ConfigurationError"}
    assert names <= {n for n, obj in vars(pipeline_common).items() if isinstance(obj, type)}
    definition = (HANDLERS_DIR.parent / "state_machine.json").read_text(encoding="utf-8")
    assert '"ServiceThrottledError"' in definition
