"""The face collection resource, with Rekognition stubbed by botocore's Stubber (moto has no
collections) in the response shapes of the Rekognition API Reference."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

from facedetect_cli.engine.resources.collection import Collection
from facedetect_cli.errors import AwsError

REGION, ACCOUNT = "eu-central-1", "123456789012"
NAME = "facedetect-rider-photos"
ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:collection/{NAME}"


@pytest.fixture
def rekognition(app):
    with Stubber(app.aws.client("rekognition").raw) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def described(faces: int = 3) -> dict:
    return {"FaceCount": faces, "FaceModelVersion": "7.0", "CollectionARN": ARN,
            "CreationTimestamp": datetime(2026, 11, 28, 9, 0, tzinfo=UTC), "UserCount": 0}


def expect_describe(stubber, faces: int | None) -> None:
    if faces is None:
        stubber.add_client_error(
            "describe_collection", service_error_code="ResourceNotFoundException",
            service_message=f"The collection id: {NAME} does not exist",
            http_status_code=400, expected_params={"CollectionId": NAME})
    else:
        stubber.add_response("describe_collection", described(faces), {"CollectionId": NAME})


def expect_tags(stubber, tags: dict) -> None:
    stubber.add_response("list_tags_for_resource", {"Tags": tags}, {"ResourceArn": ARN})


def test_name_and_arn_are_the_stacks(app):
    collection = Collection(app.names)
    assert collection.name == NAME  # the tutorial's rider-photos, one per stack
    assert collection.arn == ARN
    assert collection.holds_data


def test_missing_collection_reads_as_absent(app, rekognition):
    expect_describe(rekognition, None)
    assert Collection(app.names).read(app.ctx) is None


def test_created_with_the_stack_tag_in_the_same_call(app, rekognition):
    rekognition.add_response(
        "create_collection",
        {"StatusCode": 200, "CollectionArn": f"aws:rekognition:{REGION}:{ACCOUNT}:collection/"
         f"{NAME}", "FaceModelVersion": "7.0"},
        {"CollectionId": NAME, "Tags": {"facedetect:stack": "facedetect"}},
    )
    Collection(app.names).create(app.ctx)


def test_owned_collection_shows_its_faces(app, rekognition):
    expect_describe(rekognition, 3)
    expect_tags(rekognition, {"facedetect:stack": "facedetect"})

    observed = Collection(app.names).read(app.ctx)

    assert observed.owned
    assert observed.arn == ARN
    assert observed.detail == "3 face(s), face model 7.0"


def test_collection_without_the_tag_is_foreign(app, rekognition):
    expect_describe(rekognition, 0)
    expect_tags(rekognition, {"team": "riders"})
    assert Collection(app.names).read(app.ctx).owned is False


def test_faces_are_counted_for_down_from_the_read_alone(app, rekognition):
    """DescribeCollection's FaceCount is exact: counting for `down` costs no second call (the
    stubber fails on any call not queued)."""
    expect_describe(rekognition, 1234)
    expect_tags(rekognition, {"facedetect:stack": "facedetect"})
    collection = Collection(app.names)
    observed = collection.read(app.ctx, settings=False)
    assert observed is not None and observed.owned
    assert collection.count_data(app.ctx, observed) == 1234


def test_delete_and_delete_of_what_is_gone(app, rekognition):
    collection = Collection(app.names)
    observed = object()
    rekognition.add_response("delete_collection", {"StatusCode": 200}, {"CollectionId": NAME})
    collection.delete(app.ctx, observed)
    rekognition.add_client_error("delete_collection",
                                 service_error_code="ResourceNotFoundException",
                                 http_status_code=400)
    collection.delete(app.ctx, observed)  # already gone: fine, as for every kind


def test_other_errors_are_reported(app, rekognition):
    rekognition.add_client_error("describe_collection", service_error_code="AccessDeniedException",
                                 service_message="not authorized", http_status_code=400)
    with pytest.raises(AwsError, match="rekognition:DescribeCollection"):
        Collection(app.names).read(app.ctx)
