"""The whole pipeline in the embedded emulator, with the real detector: an upload under
uploads/ goes S3 -> EventBridge -> Step Functions -> the deployed functions' own code ->
DynamoDB and SNS, as on AWS. One emulator and one stack (both features on) serve the module.

Where moto alone differs (no Step Functions target, a disabled rule still delivering, no Lambda
code without Docker, no DetectFaces), these tests check the emulator's own behaviour
(facedetect_cli/local/), which follows AWS's."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EMAIL, fake_wheel
from photos import four_faces, no_face, one_face, same_face_edited
from running_pipeline import RunningPipeline

from facedetect_cli.build import wheels

RULE = "facedetect-FaceDetectionTrigger"
# One emulator and one stack for the module: its tests stay on one xdist worker.
pytestmark = pytest.mark.xdist_group("local-pipeline")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    home = tmp_path_factory.mktemp("local-pipeline")
    cache = home / "wheels"
    for runtime in wheels.RUNTIME_GLIBC_MINOR:
        for architecture in wheels.MACHINES:
            target = wheels.Target(runtime, architecture)
            # A compiled stand-in for Pillow: the thumbnails can only work with the host's.
            fake_wheel(cache / target.folder, target)
    running = RunningPipeline(home, wheel_cache=cache)
    try:
        running.start("duplicates", "thumbnails")
        yield running
    finally:
        running.stop()


def run(pipeline, key, body):
    etag = pipeline.upload(key, body)
    execution = pipeline.execution_for(key, etag)
    return execution, json.loads(execution.get("output") or "{}")


def test_one_face_is_found_stored_notified_and_cut_out(pipeline):
    execution, output = run(pipeline, "uploads/astronaut.png", one_face())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    detection = output["detection"]
    assert detection["faceCount"] == 1
    left, top, width, height = detection["faces"][0]["box"]
    assert 0.3 < left < 0.4 and 0.08 < top < 0.16 and width > 0.1 and height > 0.1

    # The stored item, as `facedetect results --local` shows it.
    stored = pipeline.cli("results", "--key", "uploads/astronaut.png", "--output", "json")
    assert stored.returncode == 0, stored.stderr
    assert '"FaceCount": 1' in stored.stdout

    (thumbnail,) = detection["thumbnails"]["keys"]
    body = pipeline.client("s3").get_object(Bucket=pipeline.bucket, Key=thumbnail)["Body"].read()
    assert body.startswith(b"\xff\xd8\xff") and len(body) > 1000  # a JPEG of the face

    mail = [m for m in pipeline.mail() if "uploads/astronaut.png" in m["body"]]
    assert [m["to"] for m in mail] == [EMAIL]
    assert "Faces:     1" in mail[0]["body"]

    # The functions' output went to their log groups, as `facedetect logs --local` reads them.
    logs = pipeline.cli("logs", "--since", "10m", "--output", "json")
    assert logs.returncode == 0, logs.stderr
    messages = [event["message"] for event in json.loads(logs.stdout)["events"]
                if event["function"] == "detect"]
    assert any(m.startswith("START RequestId: ") for m in messages)
    records = [json.loads(m) for m in messages if m.startswith("{")]
    assert {"handler": "detect_faces", "key": "uploads/astronaut.png", "faceCount": 1}.items() \
        <= records[0].items()


def test_the_event_is_shaped_as_awss(pipeline):
    first, _ = run(pipeline, "uploads/shape-1.png", no_face())
    second, _ = run(pipeline, "uploads/shape-2.png", no_face())
    a, b = json.loads(first["input"]), json.loads(second["input"])
    assert a["id"] != b["id"]  # moto's own events all carry one constant id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["time"])
    assert a["detail"]["object"]["etag"] and a["detail"]["reason"] == "PutObject"
    assert int(b["detail"]["object"]["sequencer"], 16) > int(a["detail"]["object"]["sequencer"], 16)


@pytest.mark.parametrize(("photo", "count"), [(four_faces, 4), (no_face, 0)],
                         ids=["several", "none"])
def test_known_face_counts(pipeline, photo, count):
    execution, output = run(pipeline, f"uploads/{photo.__name__}.png", photo())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert output["detection"]["faceCount"] == count
    assert len(output["detection"]["thumbnails"]["keys"]) == count


def test_a_non_image_goes_to_the_failure_topic(pipeline):
    execution, _ = run(pipeline, "uploads/notes.jpg", b"these are words, not a photo")
    assert execution["status"] == "FAILED"
    mail = [m for m in pipeline.mail() if "uploads/notes.jpg" in m["body"]]
    assert len(mail) == 1 and "could not be processed" in mail[0]["subject"]
    # Rekognition's InvalidImageFormatException, turned into the handler's own error name,
    # which is what the state machine's Catch saw.
    assert "UnsupportedImageError" in mail[0]["body"]
    assert "InvalidImageFormatException" in mail[0]["body"]


def test_an_object_outside_uploads_starts_nothing(pipeline):
    before = len(pipeline.executions())
    pipeline.upload("elsewhere/astronaut.png", one_face())
    # Delivery happens inside the upload's request: an execution would be listed already.
    assert len(pipeline.executions()) == before


def test_a_disabled_rule_starts_nothing(pipeline):
    events = pipeline.client("events")
    before = len(pipeline.executions())
    events.disable_rule(Name=RULE)
    try:
        pipeline.upload("uploads/while-disabled.png", one_face())
        assert len(pipeline.executions()) == before
    finally:
        events.enable_rule(Name=RULE)
    etag = pipeline.upload("uploads/after-enabled.png", no_face())
    assert pipeline.execution_for("uploads/after-enabled.png", etag)["status"] == "SUCCEEDED"


def test_duplicates_on_two_photos_of_the_same_face(pipeline):
    first, output = run(pipeline, "uploads/dup-original.png", one_face())
    assert first["status"] == "SUCCEEDED", first.get("cause")
    assert output["detection"]["index"]["faceIds"]
    second, output = run(pipeline, "uploads/dup-edited.jpg", same_face_edited())
    assert second["status"] == "SUCCEEDED", second.get("cause")
    duplicate = output["detection"]["duplicate"]
    assert duplicate["duplicate"] is True and duplicate["similarity"] >= 90
    assert duplicate["matchedImage"].startswith("uploads/")
    assert duplicate["matchedImage"] != "uploads/dup-edited.jpg"


def test_detect_follows_the_execution_and_shows_item_and_notification(pipeline, tmp_path):
    photo = tmp_path / "portrait.png"
    photo.write_bytes(one_face())
    done = pipeline.cli("detect", str(photo), "--output", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["status"], doc["faceCount"]) == ("SUCCEEDED", 1)
    assert doc["item"]["ImageKey"] == "uploads/portrait.png" and doc["item"]["FaceCount"] == 1
    (message,) = doc["notifications"]
    assert message["to"] == EMAIL and "uploads/portrait.png" in message["body"]
    assert "AgeRange" in doc["localDetector"]["leavesOut"]
    assert "BoundingBox" in doc["localDetector"]["fills"]
