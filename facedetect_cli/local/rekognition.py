"""Rekognition's face calls in the local emulator, answered by the embedded detector.

DetectFaces, IndexFaces, SearchFacesByImage, ListFaces and DeleteFaces, with AWS's request and
response shapes and error codes, on the image's real bytes (from the emulator's S3 or from
Image.Bytes). Faces indexed into a collection keep their SFace embedding; a search compares by
cosine similarity, reported as Rekognition's Similarity percentage (see similarity_percent).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections import OrderedDict
from typing import Any

from facedetect_cli.local.faces.rekognition_shape import bounding_box, face_detail
from facedetect_cli.local.moto_collections import FACE_MODEL_VERSION, stored_collection

MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024  # Rekognition's limit for an image read from S3
MAX_INLINE_IMAGE_BYTES = 5 * 1024 * 1024  # ... and for Image.Bytes
DEFAULT_MATCH_THRESHOLD = 80.0
# SFace's own same-person threshold (opencv_zoo) on the cosine similarity.
SFACE_MATCH_COSINE = 0.363
_patched = False


def similarity_percent(cosine: float) -> float:
    """Rekognition's Similarity (0-100) for an SFace cosine similarity: linear on both sides of
    SFace's threshold, which becomes Rekognition's default FaceMatchThreshold (80). Edits of
    one photo (cosine 0.875-0.966 measured) land at 96-99, different people (at most 0.343)
    under 76."""
    if cosine >= SFACE_MATCH_COSINE:
        return min(100.0, 80 + (cosine - SFACE_MATCH_COSINE) * 20 / (1 - SFACE_MATCH_COSINE))
    return max(0.0, 80 * cosine / SFACE_MATCH_COSINE)


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _image_bytes(response: Any) -> bytes:
    image = response._get_param("Image") or {}
    if "Bytes" in image:
        data = base64.b64decode(image["Bytes"])
        if len(data) > MAX_INLINE_IMAGE_BYTES:
            raise _error("ImageTooLargeException", "Image size is too large.")
        return data
    s3_object = image.get("S3Object") or {}
    from moto.s3.models import s3_backends

    backend = s3_backends[response.current_account][getattr(response, "partition", "aws")]
    try:
        key = backend.get_object(s3_object.get("Bucket", ""), s3_object.get("Name", ""),
                                 version_id=s3_object.get("Version"))
    except Exception:
        key = None
    if key is None:
        raise _error("InvalidS3ObjectException",
                     "Unable to get object metadata from S3. Check object key, region "
                     "and/or access permissions.")
    if key.size > MAX_S3_IMAGE_BYTES:
        raise _error("ImageTooLargeException", "Image size is too large.")
    return bytes(key.value)


class _Measured:
    """An image's faces, and their embeddings once asked for. One upload is measured by
    DetectFaces, SearchFacesByImage and IndexFaces in turn: the same bytes are measured once."""

    def __init__(self, image: Any, faces: list[Any]) -> None:
        self.image, self.faces = image, faces
        self._embeddings: dict[int, list[float]] = {}

    def embedding(self, face: Any) -> list[float]:
        from facedetect_cli.local.faces.detector import shared

        number = self.faces.index(face)
        if number not in self._embeddings:
            self._embeddings[number] = shared().embedding(self.image, face)
        return self._embeddings[number]


_measured: OrderedDict[str, _Measured] = OrderedDict()
_MEASURED_KEPT = 8


def _measure(response: Any) -> _Measured:
    from facedetect_cli.local.faces.detector import ImageDecodeError, decode, shared

    data = _image_bytes(response)
    digest = hashlib.sha256(data).hexdigest()
    found = _measured.get(digest)
    if found is None:
        try:
            image = decode(data)
        except ImageDecodeError:
            raise _error("InvalidImageFormatException",
                         "Request has invalid image format") from None
        found = _Measured(image, shared().faces(image))
        _measured[digest] = found
        while len(_measured) > _MEASURED_KEPT:
            _measured.popitem(last=False)
    _measured.move_to_end(digest)
    return found


def detect_faces(self: Any) -> str:
    measured = _measure(self)
    height, width = measured.image.shape[:2]
    return json.dumps({"FaceDetails": [face_detail(f, width, height) for f in measured.faces]})


def _by_size(faces: list[Any]) -> list[Any]:
    return sorted(faces, key=lambda f: f.width * f.height, reverse=True)


def _stored_face(face_id: str, image_id: str, external_id: str | None, box: dict[str, float],
                 confidence: float) -> dict[str, Any]:
    face = {"FaceId": face_id, "BoundingBox": box, "ImageId": image_id,
            "Confidence": confidence, "IndexFacesModelVersion": FACE_MODEL_VERSION}
    if external_id:
        face["ExternalImageId"] = external_id
    return face


def index_faces(self: Any) -> str:
    collection = stored_collection(self, self._get_param("CollectionId") or "")
    max_faces = int(self._get_param("MaxFaces") or 100)
    external_id = self._get_param("ExternalImageId")
    measured = _measure(self)
    height, width = measured.image.shape[:2]
    image_id = str(uuid.uuid4())
    records, unindexed = [], []
    for rank, face in enumerate(_by_size(measured.faces)):
        detail = face_detail(face, width, height)
        if rank >= max_faces:
            unindexed.append({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": detail})
            continue
        stored = _stored_face(str(uuid.uuid4()), image_id, external_id,
                              bounding_box(face, width, height), detail["Confidence"])
        collection["faces"][stored["FaceId"]] = {
            "face": stored, "embedding": measured.embedding(face)}
        records.append({"Face": stored, "FaceDetail": detail})
    return json.dumps({"FaceRecords": records, "UnindexedFaces": unindexed,
                       "FaceModelVersion": FACE_MODEL_VERSION})


def search_faces_by_image(self: Any) -> str:
    collection = stored_collection(self, self._get_param("CollectionId") or "")
    threshold = float(self._get_param("FaceMatchThreshold") or DEFAULT_MATCH_THRESHOLD)
    max_faces = int(self._get_param("MaxFaces") or 4096)
    measured = _measure(self)
    if not measured.faces:
        raise _error("InvalidParameterException",
                     "There are no faces in the image. Should be at least 1.")
    height, width = measured.image.shape[:2]
    largest = _by_size(measured.faces)[0]  # SearchFacesByImage uses the largest face only
    probe = measured.embedding(largest)
    matches = []
    for record in collection["faces"].values():
        cosine = sum(a * b for a, b in zip(probe, record["embedding"], strict=True))
        similarity = similarity_percent(cosine)
        if similarity >= threshold:
            matches.append({"Similarity": similarity, "Face": record["face"]})
    matches.sort(key=lambda match: match["Similarity"], reverse=True)
    return json.dumps({"SearchedFaceBoundingBox": bounding_box(largest, width, height),
                       "SearchedFaceConfidence": largest.score * 100,
                       "FaceMatches": matches[:max_faces],
                       "FaceModelVersion": FACE_MODEL_VERSION})


def list_faces(self: Any) -> str:
    collection = stored_collection(self, self._get_param("CollectionId") or "")
    return json.dumps({"Faces": [record["face"] for record in collection["faces"].values()],
                       "FaceModelVersion": FACE_MODEL_VERSION})


def delete_faces(self: Any) -> str:
    collection = stored_collection(self, self._get_param("CollectionId") or "")
    deleted = [face_id for face_id in self._get_param("FaceIds") or []
               if collection["faces"].pop(face_id, None) is not None]
    return json.dumps({"DeletedFaces": deleted})


def _answering(handler: Any) -> Any:
    """A model that cannot be loaded (not installed, wrong digest) is the service's failure:
    Rekognition's InternalServerError with the reason, never an HTML 500 page."""
    import functools

    from facedetect_cli.errors import FacedetectError

    @functools.wraps(handler)
    def wrapped(self: Any) -> str:
        try:
            return str(handler(self))
        except FacedetectError as exc:
            raise _error("InternalServerError", str(exc)) from exc

    return wrapped


def patch_rekognition() -> None:
    """Before moto's method lookup is cached: this replaces and adds response methods."""
    global _patched
    if _patched:
        return
    from moto.rekognition.responses import RekognitionResponse

    for handler in (detect_faces, index_faces, search_faces_by_image, list_faces, delete_faces):
        setattr(RekognitionResponse, handler.__name__, _answering(handler))
    _patched = True
