"""The handlers chained through the composed definition of each feature set (duplicates,
thumbnails, both), as facedetect_cli.build.workflow builds it: Parallel, ResultSelector and Store
Metadata's Parameters included. Like test_handler_pipeline.py, a small interpreter walks the
definition and calls the handlers in-process against moto, with Rekognition stubbed."""

import copy
import io
import json
import re
import uuid

import pipeline_common
import pytest
from handler_testkit import (
    BUCKET,
    REPO,
    STATE_LIMIT,
    detect_response,
    expect_detect,
    import_fresh,
    state_bytes,
)

PIL = pytest.importorskip("PIL", reason="Pillow is a test dependency: pip install '.[test]'")
from PIL import Image  # noqa: E402

from facedetect_cli.build import workflow  # noqa: E402
from facedetect_cli.build.assets import Assets  # noqa: E402

COLLECTION = "facedetect-test-rider-photos"
ACCOUNT_ARN = "arn:aws:lambda:eu-central-1:123456789012:function:facedetect-test-"
MODULES = {
    "DetectFacesFunctionArn": "detect_faces",
    "StoreMetadataFunctionArn": "store_metadata",
    "SendNotificationFunctionArn": "send_notification",
    "CheckFaceDuplicateFunctionArn": "check_face_duplicate",
    "AddFaceToIndexFunctionArn": "add_face_to_index",
    "CreateThumbnailFunctionArn": "create_thumbnail",
}


def evaluate(path, data):
    """A JSONPath as these definitions use them: $, $.a.b, $[0]."""
    if path == "$":
        return data
    for part in re.findall(r"\.(\w+)|\[(\d+)\]", path[1:]):
        data = data[part[0]] if part[0] else data[int(part[1])]
    return data


def build(template, data):
    """Parameters / ResultSelector: "key.$" values are paths, States.Format is interpreted."""
    if not isinstance(template, dict):
        return template
    out = {}
    for key, value in template.items():
        if key.endswith(".$"):
            match = re.fullmatch(r"States\.Format\('(.*)', (.*)\)", value, re.DOTALL)
            if match:
                text, args = match.groups()
                for arg in args.split(","):
                    text = text.replace("{}", str(evaluate(arg.strip(), data)), 1)
                out[key[:-2]] = text
            else:
                out[key[:-2]] = evaluate(value, data)
        else:
            out[key] = build(value, data)
    return out


def place(path, data, result):
    if path is None:
        return data
    if path == "$":
        return result
    assert re.fullmatch(r"\$\.\w+", path), path
    return {**data, path[2:]: result}


class Execution:
    def __init__(self, handlers, sns):
        self.handlers, self.sns = handlers, sns
        self.visited: list[str] = []
        self.outputs: dict[str, object] = {}

    def run_states(self, machine, data):
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            self.visited.append(name)
            if state["Type"] == "Fail":
                return "FAILED", data
            try:
                result = self.execute(state, data)
            except Exception as exc:
                catcher = next((c for c in state.get("Catch", [])), None)
                if catcher is None:
                    raise
                error = {"Error": type(exc).__name__, "Cause": str(exc)}
                data = place(catcher.get("ResultPath", "$"), data, error)
                name = catcher["Next"]
                continue
            if "ResultSelector" in state:
                result = build(state["ResultSelector"], result)
            data = place(state.get("ResultPath", "$"), data, result)
            assert state_bytes(data) < STATE_LIMIT, name
            self.outputs[name] = data
            if state.get("End"):
                return "SUCCEEDED", data
            name = state["Next"]

    def execute(self, state, data):
        effective = evaluate(state.get("InputPath", "$"), data)
        if "Parameters" in state:
            effective = build(state["Parameters"], effective)
        if state["Type"] == "Parallel":
            results = []
            for branch in state["Branches"]:
                _, output = self.run_states(branch, copy.deepcopy(effective))
                results.append(output)
            return results
        resource = state["Resource"]
        if resource == "arn:aws:states:::sns:publish":
            return self.sns.publish(**effective)
        handler = self.handlers[resource.removeprefix(ACCOUNT_ARN)]
        return handler.lambda_handler(json.loads(json.dumps(effective)), None)


@pytest.fixture
def feature_handlers(stack, monkeypatch, detect_faces, store_metadata, send_notification):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    for name in ("MATCH_THRESHOLD", "MAX_FACES", "THUMBNAIL_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    return {
        "detect_faces": detect_faces,
        "store_metadata": store_metadata,
        "send_notification": send_notification,
        "check_face_duplicate": import_fresh("check_face_duplicate"),
        "add_face_to_index": import_fresh("add_face_to_index"),
        "create_thumbnail": import_fresh("create_thumbnail"),
    }


@pytest.fixture
def pipeline(stack, feature_handlers):
    failure_topic = stack.sns.create_topic(Name="facedetect-test-failures")["TopicArn"]
    failures_queue = stack.subscribe_queue("facedetect-test-failures", topic_arn=failure_topic)
    values = {"StackName": "test", "FailureTopicArn": failure_topic,
              "ResultsTopicArn": stack.topic_arn}
    values.update({name: ACCOUNT_ARN + module for name, module in MODULES.items()})
    assets = Assets(REPO)

    def run(event, features):
        definition = workflow.compose(assets.template("state_machine.json", values),
                                      assets.template("state_machine_features.json", values),
                                      frozenset(features))
        execution = Execution(feature_handlers, stack.sns)
        status, output = execution.run_states(definition, event)
        return status, output, execution

    run.failures_queue = failures_queue
    return run


def jpeg(size=(640, 480)):
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(out, format="JPEG")
    return out.getvalue()


def expect_search(stubber, key, version, matches=()):
    stubber.add_response(
        "search_faces_by_image",
        {"FaceMatches": [
            {"Similarity": similarity,
             "Face": {"FaceId": str(uuid.uuid4()), "ImageId": str(uuid.uuid4()),
                      "ExternalImageId": pipeline_common.external_image_id(matched),
                      "Confidence": 99.9}}
            for matched, similarity in matches],
         "SearchedFaceBoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.2},
         "SearchedFaceConfidence": 99.9, "FaceModelVersion": "7.0"},
        expected_params={"CollectionId": COLLECTION,
                         "Image": {"S3Object": {"Bucket": BUCKET, "Name": key,
                                                "Version": version}},
                         "MaxFaces": 5, "FaceMatchThreshold": 90.0},
    )


def expect_index(stubber, key, face_ids):
    stubber.add_response(
        "index_faces",
        {"FaceRecords": [{"Face": {"FaceId": face_id,
                                   "ExternalImageId": pipeline_common.external_image_id(key)}}
                         for face_id in face_ids],
         "FaceModelVersion": "7.0", "UnindexedFaces": []},
    )


def upload(stack, rekognition, key):
    event = stack.upload(key, body=jpeg())
    version = event["detail"]["object"]["version-id"]
    expect_detect(rekognition, key=key, version=version)
    return event, version


def test_both_features_store_and_announce_everything(stack, pipeline, rekognition):
    first_key, key = "uploads/rider 1.jpg", "uploads/rider 1 again.jpg"
    event, version = upload(stack, rekognition, key)
    expect_search(rekognition, key, version, matches=[(first_key, 99.52)])
    face_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    expect_index(rekognition, key, face_ids)

    status, output, execution = pipeline(event, {"duplicates", "thumbnails"})

    assert status == "SUCCEEDED"
    assert execution.visited == [
        "Detect Faces", "Check Face Duplicate", "Index Face And Create Thumbnail",
        "Add Face To Index", "Create Thumbnail", "Store Metadata", "Send Notification",
    ]
    # The event stays at the root all the way (the failure branch reads it there).
    assert all(out["detail"]["object"]["key"] == key for out in execution.outputs.values()
               if isinstance(out, dict) and "detail" in out)
    item = stack.item(key)
    assert item["Duplicate"]["M"]["duplicate"] == {"BOOL": True}
    assert item["Duplicate"]["M"]["matchedImage"] == {"S": first_key}
    assert item["Duplicate"]["M"]["similarity"] == {"N": "99.52"}
    assert item["FaceIds"] == {"L": [{"S": face_id} for face_id in face_ids]}
    assert item["ExternalImageId"] == {"S": "uploads:rider_201_20again.jpg"}
    thumbnails = [k["S"] for k in item["Thumbnails"]["L"]]
    assert thumbnails == [f"thumbnails/{key}/{version}/face-00{n}.jpg" for n in (1, 2)]
    for thumbnail in thumbnails:
        assert stack.s3.head_object(Bucket=BUCKET, Key=thumbnail)["ContentType"] == "image/jpeg"
    (message,) = stack.messages()
    assert message["Subject"] == f"facedetect: duplicate, 2 faces in {key}"
    assert message["MessageAttributes"]["duplicate"]["Value"] == "true"
    assert f"matches a face of {first_key} (similarity 99.52%)" in message["Message"]
    assert "Indexed:   2 face(s) added to the collection" in message["Message"]
    assert f"Thumbnails: 2 in s3://{BUCKET}/thumbnails/{key}/{version}/" in message["Message"]
    assert output["notification"]["published"] is True


def test_duplicates_only(stack, pipeline, rekognition):
    key = "uploads/new rider.png"
    event, version = upload(stack, rekognition, key)
    expect_search(rekognition, key, version)
    expect_index(rekognition, key, [str(uuid.uuid4())])

    status, _, execution = pipeline(event, {"duplicates"})

    assert status == "SUCCEEDED"
    assert execution.visited == ["Detect Faces", "Check Face Duplicate", "Add Face To Index",
                                 "Store Metadata", "Send Notification"]
    item = stack.item(key)
    assert item["Duplicate"]["M"]["duplicate"] == {"BOOL": False}
    assert "Thumbnails" not in item
    (message,) = stack.messages()
    assert message["Subject"] == f"facedetect: 2 faces in {key}"
    assert message["MessageAttributes"]["duplicate"]["Value"] == "false"
    assert "Duplicate: no, no earlier face matches at 90.0% or more" in message["Message"]


def test_thumbnails_only(stack, pipeline, rekognition):
    key = "uploads/group.jpg"
    event, _ = upload(stack, rekognition, key)

    status, _, execution = pipeline(event, {"thumbnails"})

    assert status == "SUCCEEDED"
    assert execution.visited == ["Detect Faces", "Create Thumbnail", "Store Metadata",
                                 "Send Notification"]
    item = stack.item(key)
    assert len(item["Thumbnails"]["L"]) == 2
    assert "Duplicate" not in item and "FaceIds" not in item
    (message,) = stack.messages()
    assert "duplicate" not in message["MessageAttributes"]
    assert "Duplicate:" not in message["Message"]


def test_image_without_faces_flows_through_every_feature(stack, pipeline, rekognition):
    key = "uploads/landscape.jpg"
    event = stack.upload(key, body=jpeg())
    expect_detect(rekognition, key=key, version=event["detail"]["object"]["version-id"],
                  response={"FaceDetails": []})

    status, _, _ = pipeline(event, {"duplicates", "thumbnails"})

    assert status == "SUCCEEDED"  # no Rekognition call beyond DetectFaces, nothing written
    item = stack.item(key)
    assert item["Duplicate"]["M"]["checked"] == {"BOOL": False}
    assert item["Thumbnails"] == {"L": []}
    assert "Duplicate: not checked" in stack.messages()[0]["Message"]


def test_failure_inside_a_branch_reaches_the_failure_topic(stack, pipeline, rekognition):
    key = "uploads/broken.jpg"
    event = stack.upload(key, body=b"\xff\xd8\xff not really a JPEG")
    version = event["detail"]["object"]["version-id"]
    expect_detect(rekognition, key=key, version=version, response=detect_response(faces=1))
    expect_search(rekognition, key, version)
    expect_index(rekognition, key, [str(uuid.uuid4())])

    status, _, execution = pipeline(event, {"duplicates", "thumbnails"})

    assert status == "FAILED"
    assert execution.visited[-2:] == ["Notify Failure", "Failed"]
    (failure,) = stack.messages(pipeline.failures_queue)
    assert failure["MessageAttributes"]["error"]["Value"] == "UnsupportedImageError"
    assert f"The image {key} in bucket {BUCKET}" in failure["Message"]
    assert stack.item_count() == 0


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"index": {"faceIds": "not a list"}}, "index.faceIds"),
        ({"thumbnails": {"keys": [1, 2]}}, "thumbnails.keys"),
        ({"duplicate": {"checked": True}}, "duplicate.duplicate"),
        ({"duplicate": ["not", "an", "object"]}, "'duplicate' must be a JSON object"),
    ],
)
def test_store_metadata_rejects_malformed_feature_results(store_metadata, results, message):
    from test_handler_duplicates import detection

    with pytest.raises(pipeline_common.InvalidEventError, match=re.escape(message)):
        store_metadata.lambda_handler({"detection": detection(), **results}, None)
