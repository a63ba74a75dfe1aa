"""The embedded face detector on real photos: counts, Rekognition's shape, the embedding, and
the model digest check."""

from __future__ import annotations

import math

import pytest
from photos import four_faces, no_face, one_face, same_face_edited

from facedetect_cli.errors import FacedetectError
from facedetect_cli.local.faces import models
from facedetect_cli.local.faces.detector import ImageDecodeError, decode, shared
from facedetect_cli.local.faces.rekognition_shape import LANDMARK_TYPES, face_detail
from facedetect_cli.local.rekognition import SFACE_MATCH_COSINE, similarity_percent


@pytest.mark.parametrize(("photo", "count"), [(one_face, 1), (four_faces, 4), (no_face, 0)],
                         ids=["one", "four", "none"])
def test_counts_the_faces_of_photos_with_known_counts(photo, count):
    assert len(shared().faces(decode(photo()))) == count


def test_a_face_in_rekognitions_shape_with_only_measured_fields():
    image = decode(one_face())
    (face,) = shared().faces(image)
    detail = face_detail(face, image.shape[1], image.shape[0])
    box = detail["BoundingBox"]
    # The astronaut's face: left of the centre, in the upper third (measured by eye on the
    # 512x512 portrait: about x 178-268, y 62-176 px).
    assert 0.3 < box["Left"] < 0.4 and 0.08 < box["Top"] < 0.16
    assert 0.12 < box["Width"] < 0.25 and 0.15 < box["Height"] < 0.3
    assert [mark["Type"] for mark in detail["Landmarks"]] == list(LANDMARK_TYPES)
    marks = {mark["Type"]: mark for mark in detail["Landmarks"]}
    assert marks["eyeLeft"]["X"] < marks["nose"]["X"] < marks["eyeRight"]["X"]
    assert marks["eyeLeft"]["Y"] < marks["nose"]["Y"] < marks["mouthLeft"]["Y"]
    assert abs(detail["Pose"]["Roll"]) < 10  # she holds her head upright
    assert 80 < detail["Confidence"] <= 100
    assert 0 < detail["Quality"]["Brightness"] < 100 and 0 < detail["Quality"]["Sharpness"] <= 100
    # Nothing that cannot be measured offline.
    assert set(detail) == {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"}
    assert set(detail["Pose"]) == {"Roll"}


def test_roll_follows_the_direction_of_a_tilted_head():
    from photos import ASTRONAUT, _encode
    from PIL import Image

    def roll(degrees_counterclockwise: int) -> float:
        turned = Image.open(ASTRONAUT).rotate(degrees_counterclockwise, fillcolor=(0, 0, 0))
        (face,) = shared().faces(decode(_encode(turned)))
        return face.roll

    # Only the direction: YuNet's landmarks lean towards an upright face, so a 20 degree turn
    # measures as 3-4 degrees (docs/local-pipeline.md, "What the detector measures").
    assert roll(-20) > 1 and roll(20) < -1


def test_embeddings_match_the_same_face_edited():
    detector = shared()
    first, second = decode(one_face()), decode(same_face_edited())
    a = detector.embedding(first, detector.faces(first)[0])
    b = detector.embedding(second, detector.faces(second)[0])
    assert math.isclose(sum(v * v for v in a), 1.0, rel_tol=1e-6)
    cosine = sum(x * y for x, y in zip(a, b, strict=True))
    assert cosine > SFACE_MATCH_COSINE
    assert similarity_percent(cosine) > 90  # a match at the duplicates feature's threshold


def test_similarity_percent_puts_sfaces_threshold_at_rekognitions_default():
    assert similarity_percent(SFACE_MATCH_COSINE) == pytest.approx(80)
    assert similarity_percent(1.0) == pytest.approx(100)
    assert similarity_percent(-0.5) == 0
    assert similarity_percent(0.343) < 80  # the most similar different people measured


def test_only_jpeg_and_png_are_decoded():
    with pytest.raises(ImageDecodeError):
        decode(b"GIF89a not for Rekognition")
    with pytest.raises(ImageDecodeError):
        decode(b"\xff\xd8\xff but not a JPEG after all")


def test_a_model_file_that_is_not_the_reviewed_one_is_refused(tmp_path, monkeypatch):
    changed = bytearray(models.YUNET.path().read_bytes())
    changed[-1] ^= 1
    (tmp_path / models.YUNET.name).write_bytes(bytes(changed))
    monkeypatch.setattr(models, "_HERE", tmp_path)
    with pytest.raises(FacedetectError, match="not the reviewed file"):
        models.checked_bytes(models.YUNET)


def test_both_models_are_the_reviewed_files():
    for model in (models.YUNET, models.SFACE):
        assert len(models.checked_bytes(model)) == model.size
