"""The duplicates feature's handlers (check_face_duplicate, add_face_to_index) and the
ExternalImageId mapping they share, with Rekognition stubbed by botocore's Stubber in the
response shapes the Rekognition API Reference documents (the Stubber also validates them
against the service model)."""

import json
import uuid

import pipeline_common
import pytest
from botocore.exceptions import ClientError
from handler_testkit import (
    BUCKET,
    FIXTURE_KEY,
    FIXTURE_OBJECT,
    FIXTURE_VERSION,
    import_fresh,
    log_lines,
)

COLLECTION = "facedetect-rider-photos"


@pytest.fixture
def check_face_duplicate(aws, monkeypatch):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    monkeypatch.delenv("MATCH_THRESHOLD", raising=False)
    return import_fresh("check_face_duplicate")


@pytest.fixture
def add_face_to_index(aws, monkeypatch):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    monkeypatch.delenv("MAX_FACES", raising=False)
    return import_fresh("add_face_to_index")


def detection(key=FIXTURE_KEY, version=FIXTURE_VERSION, faces=2):
    """A Detect Faces summary (the input of every feature handler)."""
    return {
        **FIXTURE_OBJECT,
        "key": key,
        "version": version,
        "detectedAt": "2026-11-28T09:15:43.512Z",
        "faceCount": faces,
        "faces": [{"box": [0.1 * i, 0.2, 0.1, 0.15], "conf": 99.9} for i in range(faces)],
    }


def image(key=FIXTURE_KEY, version=FIXTURE_VERSION):
    s3_object = {"Bucket": BUCKET, "Name": key}
    if version:
        s3_object["Version"] = version
    return {"S3Object": s3_object}


BOX = {"Width": 0.2134, "Height": 0.3312, "Left": 0.1207, "Top": 0.1893}


def face_match(external_id, similarity):
    """One FaceMatches entry as SearchFacesByImage documents it."""
    return {
        "Similarity": similarity,
        "Face": {
            "FaceId": str(uuid.uuid4()),
            "BoundingBox": BOX,
            "ImageId": str(uuid.uuid4()),
            "ExternalImageId": external_id,
            "Confidence": 99.99,
            "IndexFacesModelVersion": "7.0",
        },
    }


def search_response(*matches):
    return {
        "SearchedFaceBoundingBox": BOX,
        "SearchedFaceConfidence": 99.98,
        "FaceMatches": list(matches),
        "FaceModelVersion": "7.0",
    }


def expect_search(stubber, response, key=FIXTURE_KEY, version=FIXTURE_VERSION, threshold=90.0):
    stubber.add_response(
        "search_faces_by_image",
        response,
        expected_params={
            "CollectionId": COLLECTION,
            "Image": image(key, version),
            "MaxFaces": 5,
            "FaceMatchThreshold": threshold,
        },
    )


# --- ExternalImageId mapping -------------------------------------------------------------------
ROUND_TRIP_KEYS = [
    "uploads/team photo 2026.jpg",
    "uploads/a+b.jpg",
    "uploads/100% real.jpeg",
    "uploads/already%20encoded%2B.jpg",
    "uploads/Zoë Ünïcödé/写真 2026.JPG",
    "uploads/10:30 meeting.png",
    "uploads/snake_case_name.jpg",
    "uploads/_5F looks like an escape.jpg",
    "uploads/a:b/c_d.jpg",
    "uploads/emoji 😀.png",
    "uploads/new\nline.jpg",
    "uploads/" + "x" * 247,  # exactly 255 characters escaped
]


@pytest.mark.parametrize("key", ROUND_TRIP_KEYS)
def test_external_image_id_is_valid_and_reversible(key):
    image_id = pipeline_common.external_image_id(key)

    # IndexFaces' constraint on ExternalImageId.
    assert 1 <= len(image_id) <= 255
    assert all(c.isascii() and (c.isalnum() or c in "_.-:") for c in image_id)
    assert pipeline_common.key_from_external_image_id(image_id) == key


def test_external_image_id_is_readable_for_ordinary_keys():
    assert pipeline_common.external_image_id("uploads/team photo 2026.jpg") == (
        "uploads:team_20photo_202026.jpg"
    )


def test_keys_that_differ_only_in_escaped_characters_get_different_ids():
    # '/', ':', '_' and their escapes are the classic collision traps of such mappings.
    keys = ["uploads/a/b.jpg", "uploads/a:b.jpg", "uploads/a_b.jpg", "uploads/a_3Ab.jpg",
            "uploads/a_2Fb.jpg", "uploads/a b.jpg", "uploads/a%20b.jpg", "uploads/a+b.jpg"]
    ids = [pipeline_common.external_image_id(k) for k in keys]
    assert len(set(ids)) == len(keys)


def test_key_too_long_for_an_id_gets_a_hashed_id_that_keeps_the_file_name():
    folder = "uploads/" + "very long folder name " * 12
    key = folder + "portrait.jpg"
    other = folder.replace("very", "VERY", 1) + "portrait.jpg"

    image_id = pipeline_common.external_image_id(key)

    assert len(image_id) == 255
    assert image_id.startswith("_h")
    assert image_id.endswith("_20portrait.jpg")
    assert all(c.isascii() and (c.isalnum() or c in "_.-:") for c in image_id)
    assert pipeline_common.external_image_id(other) != image_id
    # Not reversible: the duplicate check then reports the id, not a key.
    assert pipeline_common.key_from_external_image_id(image_id) is None


def test_longest_s3_key_of_multibyte_letters_maps_within_the_limit():
    key = "uploads/" + "写" * 338  # 1,022 bytes of UTF-8
    image_id = pipeline_common.external_image_id(key)
    assert len(image_id) <= 255
    # The tail is cut between escapes, never inside one.
    tail = image_id.split(".", 1)[1]
    assert len(tail) % 9 == 0 and tail.startswith("_E5_86_99")


@pytest.mark.parametrize("foreign", ["uploads_2Fa.jpg", "bad_escape_zz", "_41", "uploads:_FF.jpg"])
def test_ids_the_mapping_never_makes_are_not_decoded(foreign):
    # Faces indexed by someone else, or non-canonical escapes: no key is invented for them.
    assert pipeline_common.key_from_external_image_id(foreign) is None


# --- check_face_duplicate ----------------------------------------------------------------------
def test_match_with_an_earlier_image_names_it_and_the_similarity(
    check_face_duplicate, rekognition, capsys
):
    earlier = "uploads/2025/rider 7.png"
    expect_search(
        rekognition,
        search_response(
            face_match(pipeline_common.external_image_id(earlier), 99.3127),
            face_match(pipeline_common.external_image_id("uploads/other.jpg"), 93.5),
        ),
    )

    out = check_face_duplicate.lambda_handler(detection(), None)

    assert out["checked"] is True
    assert out["duplicate"] is True
    assert out["matchedImage"] == earlier
    assert out["matchedImageId"] == "uploads:2025:rider_207.png"
    assert out["similarity"] == 99.31
    assert out["threshold"] == 90.0
    uuid.UUID(out["matchedFaceId"])
    (line,) = log_lines(capsys)
    assert line["handler"] == "check_face_duplicate"
    assert line["duplicate"] is True
    assert line["key"] == FIXTURE_KEY


def test_no_match_is_not_a_duplicate(check_face_duplicate, rekognition):
    expect_search(rekognition, search_response())

    out = check_face_duplicate.lambda_handler(detection(), None)

    assert out == {"checked": True, "duplicate": False, "threshold": 90.0}


def test_faces_indexed_from_the_same_key_are_not_duplicates(check_face_duplicate, rekognition):
    # A redelivered event, or a new upload of the same key, finds its own earlier faces.
    own = pipeline_common.external_image_id(FIXTURE_KEY)
    expect_search(rekognition, search_response(face_match(own, 100.0), face_match(own, 99.9)))

    out = check_face_duplicate.lambda_handler(detection(), None)

    assert out["duplicate"] is False


def test_match_with_a_hashed_id_reports_the_id(check_face_duplicate, rekognition):
    long_key = "uploads/" + "long folder/" * 30 + "a.jpg"
    hashed = pipeline_common.external_image_id(long_key)
    expect_search(rekognition, search_response(face_match(hashed, 97.0)))

    out = check_face_duplicate.lambda_handler(detection(), None)

    assert out["duplicate"] is True
    assert out["matchedImage"] is None
    assert out["matchedImageId"] == hashed


def test_image_without_face_is_nothing_to_compare_without_a_call(
    check_face_duplicate, rekognition
):
    # No stubbed response: a call would fail the test with UnStubbedResponseError.
    out = check_face_duplicate.lambda_handler(detection(faces=0), None)

    assert out == {"checked": False, "duplicate": False, "threshold": 90.0, "reason": "no face"}


def test_rekognition_finding_no_face_is_nothing_to_compare(check_face_duplicate, rekognition):
    rekognition.add_client_error(
        "search_faces_by_image",
        service_error_code="InvalidParameterException",
        service_message="There are no faces in the image. Should be at least 1.",
        http_status_code=400,
    )

    out = check_face_duplicate.lambda_handler(detection(), None)

    assert out["checked"] is False
    assert out["reason"] == "no face"


def test_threshold_and_unversioned_object(check_face_duplicate, rekognition, monkeypatch):
    monkeypatch.setenv("MATCH_THRESHOLD", "97.5")
    module = import_fresh("check_face_duplicate")
    expect_search(rekognition, search_response(), version=None, threshold=97.5)

    out = module.lambda_handler(detection(version=None), None)

    assert out["threshold"] == 97.5


@pytest.mark.parametrize("value", ["abc", "101", "-1", "nan", "inf"])
def test_bad_threshold_fails_at_cold_start(aws, monkeypatch, value):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    monkeypatch.setenv("MATCH_THRESHOLD", value)
    with pytest.raises(pipeline_common.ConfigurationError, match="MATCH_THRESHOLD"):
        import_fresh("check_face_duplicate")


@pytest.mark.parametrize("module", ["check_face_duplicate", "add_face_to_index"])
def test_missing_collection_variable_fails_at_cold_start(aws, monkeypatch, module):
    monkeypatch.delenv("COLLECTION_ID", raising=False)
    with pytest.raises(pipeline_common.ConfigurationError, match="COLLECTION_ID"):
        import_fresh(module)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", pipeline_common.ServiceThrottledError),
        ("ProvisionedThroughputExceededException", pipeline_common.ServiceThrottledError),
        ("ResourceNotFoundException", pipeline_common.ConfigurationError),
        ("InvalidS3ObjectException", pipeline_common.UnsupportedImageError),
        ("ImageTooLargeException", pipeline_common.UnsupportedImageError),
    ],
)
def test_search_errors_get_the_names_the_state_machine_routes(
    check_face_duplicate, rekognition, code, error
):
    rekognition.add_client_error(
        "search_faces_by_image", service_error_code=code, service_message="stubbed",
        http_status_code=400,
    )
    with pytest.raises(error, match=code):
        check_face_duplicate.lambda_handler(detection(), None)


def test_access_denied_is_not_disguised(check_face_duplicate, rekognition):
    rekognition.add_client_error(
        "search_faces_by_image", service_error_code="AccessDeniedException",
        service_message="not authorized", http_status_code=400,
    )
    with pytest.raises(ClientError) as raised:
        check_face_duplicate.lambda_handler(detection(), None)
    assert not isinstance(raised.value, pipeline_common.PipelineError)


# --- add_face_to_index -------------------------------------------------------------------------
def index_response(external_id, indexed, unindexed=()):
    """An IndexFaces response as documented: FaceRecords and UnindexedFaces."""
    detail = {
        "BoundingBox": BOX,
        "Confidence": 99.99,
        "Landmarks": [{"Type": "eyeLeft", "X": 0.2, "Y": 0.3}],
        "Pose": {"Roll": 1.0, "Yaw": -2.0, "Pitch": 3.0},
        "Quality": {"Brightness": 80.0, "Sharpness": 90.0},
    }
    return {
        "FaceRecords": [
            {
                "Face": {
                    "FaceId": face_id,
                    "BoundingBox": BOX,
                    "ImageId": "11111111-2222-3333-4444-555555555555",
                    "ExternalImageId": external_id,
                    "Confidence": 99.99,
                },
                "FaceDetail": detail,
            }
            for face_id in indexed
        ],
        "FaceModelVersion": "7.0",
        "UnindexedFaces": [{"Reasons": list(reasons), "FaceDetail": detail}
                           for reasons in unindexed],
    }


def expect_index(stubber, response, key=FIXTURE_KEY, version=FIXTURE_VERSION, max_faces=10):
    stubber.add_response(
        "index_faces",
        response,
        expected_params={
            "CollectionId": COLLECTION,
            "Image": image(key, version),
            "ExternalImageId": pipeline_common.external_image_id(key),
            "MaxFaces": max_faces,
            "QualityFilter": "AUTO",
            "DetectionAttributes": ["DEFAULT"],
        },
    )


def test_faces_are_indexed_under_the_keys_id(add_face_to_index, rekognition, capsys):
    key = "uploads/Zoë/team photo.jpg"
    image_id = pipeline_common.external_image_id(key)
    face_ids = [str(uuid.uuid4()) for _ in range(2)]
    expect_index(
        rekognition,
        index_response(image_id, face_ids, unindexed=[["EXCEEDS_MAX_FACES"],
                                                      ["LOW_SHARPNESS", "SMALL_BOUNDING_BOX"]]),
        key=key,
    )

    out = add_face_to_index.lambda_handler(detection(key=key, faces=4), None)

    assert out == {
        "externalImageId": image_id,
        "faceIds": face_ids,
        "unindexed": 2,
        "unindexedReasons": {"EXCEEDS_MAX_FACES": 1, "LOW_SHARPNESS": 1,
                             "SMALL_BOUNDING_BOX": 1},
    }
    assert pipeline_common.key_from_external_image_id(out["externalImageId"]) == key
    (line,) = log_lines(capsys)
    assert line["indexed"] == 2
    assert json.dumps(out).count("Landmarks") == 0  # only ids travel on


def test_max_faces_comes_from_the_environment(aws, monkeypatch, rekognition):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    monkeypatch.setenv("MAX_FACES", "3")
    module = import_fresh("add_face_to_index")
    expect_index(rekognition, index_response("x", []), max_faces=3)

    assert module.lambda_handler(detection(), None)["faceIds"] == []


@pytest.mark.parametrize("value", ["0", "101", "2.5", "ten"])
def test_bad_max_faces_fails_at_cold_start(aws, monkeypatch, value):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    monkeypatch.setenv("MAX_FACES", value)
    with pytest.raises(pipeline_common.ConfigurationError, match="MAX_FACES"):
        import_fresh("add_face_to_index")


def test_image_without_face_is_not_sent_to_index_faces(add_face_to_index, rekognition):
    out = add_face_to_index.lambda_handler(detection(faces=0), None)

    assert out["faceIds"] == []
    assert out["externalImageId"] == pipeline_common.external_image_id(FIXTURE_KEY)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", pipeline_common.ServiceThrottledError),
        ("ResourceNotFoundException", pipeline_common.ConfigurationError),
        ("InvalidImageFormatException", pipeline_common.UnsupportedImageError),
    ],
)
def test_index_errors_get_the_names_the_state_machine_routes(
    add_face_to_index, rekognition, code, error
):
    rekognition.add_client_error(
        "index_faces", service_error_code=code, service_message="stubbed", http_status_code=400
    )
    with pytest.raises(error, match=code):
        add_face_to_index.lambda_handler(detection(), None)


@pytest.mark.parametrize("module", ["check_face_duplicate", "add_face_to_index"])
def test_malformed_input_is_an_invalid_event(aws, monkeypatch, module):
    monkeypatch.setenv("COLLECTION_ID", COLLECTION)
    handler = import_fresh(module)
    bad = detection()
    bad["faceCount"] = 5
    with pytest.raises(pipeline_common.InvalidEventError):
        handler.lambda_handler(bad, None)
