"""The Rekognition face collection of the duplicates feature (the tutorial's rider-photos).

It holds face data (feature vectors of every face Add Face To Index stored), so it is user
data like the bucket's objects: `down` counts its faces and asks before deleting it, and
`--keep-data` keeps it.
"""

from __future__ import annotations

from facedetect_cli.engine.naming import Names
from facedetect_cli.engine.resources.base import Context, Observed, Resource, owned_by
from facedetect_cli.errors import AwsError


class Collection(Resource):
    kind = "collection"
    holds_data = True
    data_unit = "faces"

    def __init__(self, names: Names) -> None:
        super().__init__(names.collection, names.collection_arn)
        self.names = names

    def _describe(self, ctx: Context) -> dict | None:
        try:
            return ctx.client("rekognition").describe_collection(CollectionId=self.name)
        except AwsError as error:
            if error.code == "ResourceNotFoundException":
                return None
            raise

    def read(self, ctx: Context, *, settings: bool = True) -> Observed | None:
        found = self._describe(ctx)
        if found is None:
            return None
        # The computed ARN, not the answer's: AWS's documented examples spell the collection's
        # ARN without its "arn:" prefix in some responses.
        arn = self.arn
        tags = ctx.client("rekognition").list_tags_for_resource(ResourceArn=arn).get("Tags") or {}
        faces = int(found.get("FaceCount", 0))
        return Observed(
            arn,
            owned=owned_by(tags, self.names),
            attrs={"face_count": faces, "face_model": found.get("FaceModelVersion", "")},
            detail=f"{faces} face(s), face model {found.get('FaceModelVersion', '?')}",
        )

    def count_data(self, ctx: Context, observed: Observed) -> int | None:
        """Faces stored. DescribeCollection's FaceCount is exact (unlike DynamoDB's
        ItemCount): the read already has it."""
        return int(observed.attrs["face_count"])

    def create(self, ctx: Context) -> None:
        # Tagged in the same call: an interrupted `up` never leaves an untagged collection
        # that the next `up` would have to call someone else's.
        ctx.client("rekognition").create_collection(CollectionId=self.name,
                                                    Tags=dict(self.names.tags))

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.client("rekognition").delete_collection(CollectionId=self.name)
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise
