"""Rekognition face collections for the embedded emulator.

moto implements a few Rekognition calls but no collections (CreateCollection and the others
raise NotImplementedError, HTTP 500 in server mode), so `up --local --with duplicates` would
fail on the collection. This adds the calls the stack's collection resource makes, with AWS's
documented request and response shapes, kept in moto's Rekognition backend (reset with it).
The pipeline's own face calls (DetectFaces, IndexFaces, SearchFacesByImage) are in
rekognition.py; the faces they index live here, in the collection's "faces" (face id -> record).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

FACE_MODEL_VERSION = "7.0"
_COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_patched = False


def _collections(response: Any) -> dict[str, dict[str, Any]]:
    backend = response.rekognition_backend
    if not hasattr(backend, "facedetect_collections"):
        backend.facedetect_collections = {}
    return backend.facedetect_collections


def stored_collection(response: Any, collection_id: str) -> dict[str, Any]:
    """The collection's record ({"tags", "faces", "created"}); ResourceNotFoundException as
    Rekognition answers when there is none."""
    from moto.core.exceptions import JsonRESTError

    found = _collections(response).get(collection_id)
    if found is None:
        raise JsonRESTError("ResourceNotFoundException",
                            f"The collection id: {collection_id} does not exist")
    return found


def patch_collections() -> None:
    global _patched
    if _patched:
        return
    from moto.core.exceptions import JsonRESTError
    from moto.rekognition.responses import RekognitionResponse

    def arn(self: Any, collection_id: str) -> str:
        return (f"arn:aws:rekognition:{self.region}:{self.current_account}:collection/"
                f"{collection_id}")

    def from_arn(self: Any) -> dict[str, Any]:
        resource_arn = self._get_param("ResourceArn") or ""
        return stored_collection(self, resource_arn.rsplit("collection/", 1)[-1])

    def create_collection(self: Any) -> str:
        collection_id = self._get_param("CollectionId") or ""
        if not _COLLECTION_ID.fullmatch(collection_id):
            raise JsonRESTError("InvalidParameterException",
                                f"Invalid collection id {collection_id!r}")
        if collection_id in _collections(self):
            raise JsonRESTError("ResourceAlreadyExistsException",
                                f"The collection id: {collection_id} already exists")
        _collections(self)[collection_id] = {"tags": dict(self._get_param("Tags") or {}),
                                             "faces": {}, "created": time.time()}
        return json.dumps({"StatusCode": 200, "CollectionArn": arn(self, collection_id),
                           "FaceModelVersion": FACE_MODEL_VERSION})

    def describe_collection(self: Any) -> str:
        collection_id = self._get_param("CollectionId") or ""
        found = stored_collection(self, collection_id)
        return json.dumps({"FaceCount": len(found["faces"]), "UserCount": 0,
                           "FaceModelVersion": FACE_MODEL_VERSION,
                           "CollectionARN": arn(self, collection_id),
                           "CreationTimestamp": found["created"]})

    def delete_collection(self: Any) -> str:
        collection_id = self._get_param("CollectionId") or ""
        stored_collection(self, collection_id)
        del _collections(self)[collection_id]
        return json.dumps({"StatusCode": 200})

    def list_collections(self: Any) -> str:
        names = sorted(_collections(self))
        return json.dumps({"CollectionIds": names,
                           "FaceModelVersions": [FACE_MODEL_VERSION] * len(names)})

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": from_arn(self)["tags"]})

    def tag_resource(self: Any) -> str:
        from_arn(self)["tags"].update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        tags = from_arn(self)["tags"]
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    for handler in (create_collection, describe_collection, delete_collection, list_collections,
                    list_tags_for_resource, tag_resource, untag_resource):
        setattr(RekognitionResponse, handler.__name__, handler)
    _patched = True
