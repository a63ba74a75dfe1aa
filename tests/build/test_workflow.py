"""The state machine for every combination of features: wiring, Retry/Catch on every task, and
the Amazon States Language validator (statelint)."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest

from facedetect_cli.build import workflow
from facedetect_cli.build.assets import Assets
from facedetect_cli.build.features import DUPLICATES, FEATURES, THUMBNAILS

COMBINATIONS = [frozenset(c) for n in range(len(FEATURES) + 1) for c in combinations(FEATURES, n)]
ARN = "arn:aws:lambda:eu-central-1:123456789012:function:facedetect-"
VALUES = {
    "StackName": "facedetect",
    "DetectFacesFunctionArn": ARN + "DetectFacesLambda",
    "StoreMetadataFunctionArn": ARN + "StoreMetadataLambda",
    "SendNotificationFunctionArn": ARN + "SendNotificationLambda",
    "CheckFaceDuplicateFunctionArn": ARN + "CheckFaceDuplicateLambda",
    "AddFaceToIndexFunctionArn": ARN + "AddFaceToIndexLambda",
    "CreateThumbnailFunctionArn": ARN + "CreateThumbnailLambda",
    "ResultsTopicArn": "arn:aws:sns:eu-central-1:123456789012:facedetect-FaceDetectionResults",
    "FailureTopicArn": "arn:aws:sns:eu-central-1:123456789012:facedetect-ImageProcessingFailures",
}


def definition(features: frozenset[str]) -> dict:
    assets = Assets()
    return workflow.compose(assets.template("state_machine.json", VALUES),
                            assets.template("state_machine_features.json", VALUES), features)


def ids(features):
    return "+".join(sorted(features)) or "none"


def path_of(state_names: list[str], states: dict, start: str) -> list[str]:
    name, path = start, []
    while name:
        path.append(name)
        name = states[name].get("Next")
    return path


@pytest.mark.parametrize("features", COMBINATIONS, ids=ids)
def test_every_combination_passes_statelint(features, tmp_path):
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition(features)))
    statelint = Path(sys.executable).parent / "statelint"
    result = subprocess.run([str(statelint), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_features_the_definition_is_state_machine_json_itself():
    assert definition(frozenset()) == Assets().template("state_machine.json", VALUES)


@pytest.mark.parametrize(("features", "happy_path"), [
    (frozenset({DUPLICATES}), ["Detect Faces", "Check Face Duplicate", "Add Face To Index",
                               "Store Metadata", "Send Notification"]),
    (frozenset({THUMBNAILS}), ["Detect Faces", "Create Thumbnail", "Store Metadata",
                               "Send Notification"]),
    (frozenset(FEATURES), ["Detect Faces", "Check Face Duplicate",
                           "Index Face And Create Thumbnail", "Store Metadata",
                           "Send Notification"]),
], ids=["duplicates", "thumbnails", "both"])
def test_feature_states_sit_between_detect_and_store(features, happy_path):
    machine = definition(features)
    states = machine["States"]
    assert path_of(list(states), states, machine["StartAt"]) == happy_path
    # The keys read top to bottom in the order the states run.
    assert list(states)[:len(happy_path)] == happy_path
    store = states["Store Metadata"]
    assert "InputPath" not in store
    assert store["Parameters"]["detection.$"] == "$.detection"
    assert ("duplicate.$" in store["Parameters"]) is (DUPLICATES in features)
    assert ("index.$" in store["Parameters"]) is (DUPLICATES in features)
    assert ("thumbnails.$" in store["Parameters"]) is (THUMBNAILS in features)
    assert states["Send Notification"]["InputPath"] == "$.detection"


def all_tasks(states: dict):
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state, False
        for branch in state.get("Branches", []):
            for inner, inner_state in branch["States"].items():
                yield inner, inner_state, True


@pytest.mark.parametrize("features", COMBINATIONS, ids=ids)
def test_every_task_retries_and_every_failure_reaches_the_failure_topic(features):
    states = definition(features)["States"]
    retry, catch = states["Detect Faces"]["Retry"], states["Detect Faces"]["Catch"]
    for name, state, in_branch in all_tasks(states):
        if state["Resource"].startswith("arn:aws:states:::sns"):
            continue  # Notify Failure itself
        assert state["Retry"] == retry, name
        if in_branch:
            assert "Catch" not in state, name
        else:
            assert state["Catch"] == catch, name
    for state in states.values():
        if state["Type"] == "Parallel":
            assert state["Catch"] == catch  # the branches' failures go to Notify Failure
            assert "Retry" not in state  # a retry would redo the branch that succeeded


def test_parallel_results_land_under_features():
    states = definition(frozenset(FEATURES))["States"]
    parallel = states["Index Face And Create Thumbnail"]
    assert [b["StartAt"] for b in parallel["Branches"]] == ["Add Face To Index",
                                                            "Create Thumbnail"]
    assert parallel["ResultSelector"] == {"index.$": "$[0]", "thumbnails.$": "$[1]"}
    assert parallel["ResultPath"] == "$.features"
    for branch in parallel["Branches"]:
        (state,) = branch["States"].values()
        assert state["InputPath"] == "$.detection"
        assert state["End"] is True
