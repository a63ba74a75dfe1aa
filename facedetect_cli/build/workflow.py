"""The state machine's definition for a set of features.

state_machine.json is the whole definition without features, and stays what a reader opens
first. state_machine_features.json holds the feature tasks; this module puts the enabled ones
between Detect Faces and Store Metadata:

    Detect Faces -> [Check Face Duplicate] -> [Add Face To Index | Create Thumbnail]
                 -> Store Metadata -> Send Notification

With both features, Add Face To Index and Create Thumbnail are the two branches of one
Parallel state. State data (the S3 event stays at the root, as without features):

    $.detection   Detect Faces' summary (Store Metadata replaces it, as without features)
    $.duplicate   Check Face Duplicate's result
    $.features    {"index": Add Face To Index's result, "thumbnails": Create Thumbnail's}

Store Metadata then gets {"detection", "duplicate", "index", "thumbnails"} (those present)
through Parameters, and returns the detection with the results merged in, which is what Send
Notification reads, unchanged, from $.detection.
"""

from __future__ import annotations

import copy
from typing import Any

from facedetect_cli.build.features import DUPLICATES, THUMBNAILS, describe

DETECT, STORE = "Detect Faces", "Store Metadata"
CHECK, INDEX, THUMBNAIL = "Check Face Duplicate", "Add Face To Index", "Create Thumbnail"
PARALLEL = "Index Face And Create Thumbnail"
# The key each branch's result gets under $.features (and in Store Metadata's input).
RESULT_KEYS = {INDEX: "index", THUMBNAIL: "thumbnails"}
FEATURES_PATH = "$.features"

FUNCTION_PLACEHOLDERS = {
    "check_face_duplicate": "CheckFaceDuplicateFunctionArn",
    "add_face_to_index": "AddFaceToIndexFunctionArn",
    "create_thumbnail": "CreateThumbnailFunctionArn",
}


def compose(definition: dict[str, Any], fragments: dict[str, Any],
            features: frozenset[str]) -> dict[str, Any]:
    """The definition with the states of `features`; `definition` itself is not changed."""
    if not features:
        return definition
    result = copy.deepcopy(definition)
    states = result["States"]
    detect = states[DETECT]
    # Every feature task retries and fails exactly like Detect Faces (the reliability rules
    # live in one place, state_machine.json).
    retry, catch = detect.get("Retry", []), detect.get("Catch", [])

    def task(name: str, *, catches: bool = True) -> dict[str, Any]:
        state = copy.deepcopy(fragments["States"][name])
        state["Retry"] = copy.deepcopy(retry)
        if catches:
            state["Catch"] = copy.deepcopy(catch)
        return state

    chain: list[tuple[str, dict[str, Any]]] = []
    if DUPLICATES in features:
        chain.append((CHECK, task(CHECK)))
    branches = [name for feature, name in ((DUPLICATES, INDEX), (THUMBNAILS, THUMBNAIL))
                if feature in features]
    if len(branches) == 1:
        (name,) = branches
        state = task(name)
        state["ResultSelector"] = {f"{RESULT_KEYS[name]}.$": "$"}
        state["ResultPath"] = FEATURES_PATH
        chain.append((name, state))
    else:
        chain.append((PARALLEL, {
            "Type": "Parallel",
            "Comment": "Both write their own objects: neither waits for the other.",
            "Branches": [
                # A Catch inside a branch could only lead to a state of that branch: the
                # Parallel state catches for both and leads to the failure branch.
                {"StartAt": name, "States": {name: {**task(name, catches=False), "End": True}}}
                for name in branches
            ],
            "ResultSelector": {f"{RESULT_KEYS[name]}.$": f"$[{i}]"
                               for i, name in enumerate(branches)},
            "ResultPath": FEATURES_PATH,
            "Catch": copy.deepcopy(catch),
        }))

    # Rewire: Detect Faces -> chain -> Store Metadata, keeping the base order of keys so the
    # composed definition reads top to bottom.
    names = [name for name, _ in chain]
    for (_, state), following in zip(chain, [*names[1:], STORE], strict=True):
        state["Next"] = following
    detect["Next"] = names[0]
    ordered: dict[str, Any] = {}
    for name, state in states.items():
        ordered[name] = state
        if name == DETECT:
            ordered.update(chain)
    result["States"] = ordered

    parameters = {"detection.$": "$.detection"}
    if DUPLICATES in features:
        parameters["duplicate.$"] = "$.duplicate"
    for name in branches:
        parameters[f"{RESULT_KEYS[name]}.$"] = f"{FEATURES_PATH}.{RESULT_KEYS[name]}"
    # Parameters takes the place of InputPath: Store Metadata reads more than the detection.
    ordered[STORE] = {("Parameters" if k == "InputPath" else k):
                      (parameters if k == "InputPath" else v)
                      for k, v in ordered[STORE].items()}
    result["Comment"] = (f"{result.get('Comment', '')} Features: {describe(features)} "
                         f"({' -> '.join(names)} between Detect Faces and Store Metadata)."
                         ).strip()
    return result
