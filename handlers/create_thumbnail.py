"""Create Thumbnail: a small JPEG of each face Detect Faces found, written back to the bucket.

Input: the Detect Faces summary ($.detection); its `faces[].box` are Rekognition's bounding
boxes as shares of the image. Output:

    {"keys": ["thumbnails/uploads/team photo.jpg/<version>/face-001.jpg", ...], "skipped": 0}

Face n of the summary (counting from 1) becomes face-<n>.jpg, so a thumbnail and the face
record it shows have the same position. Thumbnails go under THUMBNAIL_PREFIX (default
"thumbnails/"), which the EventBridge rule does not match (it matches only the uploads
prefix), so writing them never starts the pipeline again. The object's version is part of the
path: a late event about an older upload writes its own folder instead of overwriting the
thumbnails of the newer one, and the stored item names the thumbnails of the newest.

Pillow is not part of the Lambda runtime: facedetect packages it into this function's zip.
"""

import hashlib
import io
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import pipeline_common
from botocore.exceptions import ClientError
from PIL import Image, ImageOps, UnidentifiedImageError
from pipeline_common import ConfigurationError, UnsupportedImageError

DEFAULT_PREFIX = "thumbnails/"
# Longest side of a thumbnail, in pixels; smaller faces are not enlarged.
THUMBNAIL_SIZE = 200
# Rekognition's box hugs the face; a margin of a fifth of its size on each side shows the head.
MARGIN = 0.2
JPEG_QUALITY = 85
MAX_KEY_BYTES = 1024  # S3's limit for an object key
_HASH_DIGITS = 40

_PREFIX = re.compile(r"[^/\x00-\x1f][^\x00-\x1f]{0,99}/")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "InvalidArgument"})


def load_config() -> str:
    prefix = os.environ.get("THUMBNAIL_PREFIX", "").strip() or DEFAULT_PREFIX
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"Environment variable THUMBNAIL_PREFIX={prefix!r} is not valid: it must hold a "
            "key prefix ending with '/' (for example thumbnails/), not starting with '/'."
        )
    return prefix


# Checked at import, so a misconfigured function fails at cold start with the variable's name.
THUMBNAIL_PREFIX = load_config()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with pipeline_common.feature_invocation("create_thumbnail", event, context) as (image, log):
        result = create_thumbnails(image)
        log["thumbnails"] = len(result["keys"])
        return result


def create_thumbnails(image: Mapping[str, Any]) -> dict[str, Any]:
    if image["faceCount"] == 0:
        return {"keys": [], "skipped": 0}  # nothing to crop: the image is not even read
    picture = load_picture(image)
    keys = []
    skipped = 0
    s3 = pipeline_common.client("s3")
    for number, face in enumerate(image["faces"], start=1):
        area = crop_area(picture.size, face.get("box"))
        if area is None:
            skipped += 1
            continue
        body = jpeg_bytes(picture.crop(area))
        key = thumbnail_key(image["key"], image["version"], number)
        try:
            s3.put_object(Bucket=image["bucket"], Key=key, Body=body, ContentType="image/jpeg")
        except ClientError as err:
            pipeline_common.raise_if_throttled(err, "S3")
            raise
        keys.append(key)
    return {"keys": keys, "skipped": skipped}


def load_picture(image: Mapping[str, Any]) -> Image.Image:
    """The uploaded image, upright, in RGB."""
    request = {"Bucket": image["bucket"], "Key": image["key"]}
    if image["version"]:
        request["VersionId"] = image["version"]
    try:
        body = pipeline_common.client("s3").get_object(**request)["Body"].read()
    except ClientError as err:
        pipeline_common.raise_if_throttled(err, "S3")
        if pipeline_common.error_code(err) in _NOT_FOUND_CODES:
            raise UnsupportedImageError(
                f"s3://{image['bucket']}/{image['key']} is gone "
                f"({pipeline_common.error_code(err)})."
            ) from err
        raise
    try:
        picture = Image.open(io.BytesIO(body))
        picture.load()
        # Rekognition applies the EXIF orientation of a JPEG before it measures boxes, so the
        # boxes describe the upright image: crop that one, not the stored pixel grid.
        ImageOps.exif_transpose(picture, in_place=True)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise UnsupportedImageError(
            f"s3://{image['bucket']}/{image['key']} cannot be read as an image: {exc}"
        ) from exc
    return to_rgb(picture)


def to_rgb(picture: Image.Image) -> Image.Image:
    """JPEG has no transparency: transparent pixels become white, not black."""
    if picture.mode in ("RGBA", "LA", "PA") or (
        picture.mode == "P" and "transparency" in picture.info
    ):
        rgba = picture.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if picture.mode.startswith("I;16"):
        # 16-bit grey PNG: scale to 8 bits first, a direct conversion would clip to white.
        picture = picture.point(lambda value: value / 256).convert("L")
    return picture if picture.mode == "RGB" else picture.convert("RGB")


def crop_area(size: tuple[int, int], box: Any) -> tuple[int, int, int, int] | None:
    """The pixel rectangle (left, top, right, bottom) to cut for a face, or None when the box
    is unusable or lies wholly outside the image.

    Rekognition's boxes may reach past the image's edges (negative or beyond 1) for a face cut
    off by the frame: the margin is added and the result clipped to the image. A tiny face
    still gets at least one pixel."""
    if not isinstance(box, list) or len(box) != 4:
        return None
    try:
        left, top, width, height = (float(v) for v in box)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (left, top, width, height)) or width <= 0 or height <= 0:
        return None
    image_width, image_height = size

    def pixels(share: float, extent: int) -> float:
        # Rounded first: 0.56 * 300 is 168.00000000000003 in binary floating point, and its
        # ceiling would add a pixel row that the box does not cover.
        return round(share * extent, 6)

    x0 = math.floor(pixels(left - width * MARGIN, image_width))
    y0 = math.floor(pixels(top - height * MARGIN, image_height))
    x1 = math.ceil(pixels(left + width * (1 + MARGIN), image_width))
    y1 = math.ceil(pixels(top + height * (1 + MARGIN), image_height))
    x0, x1 = max(0, x0), min(image_width, x1)
    y0, y1 = max(0, y0), min(image_height, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def jpeg_bytes(face: Image.Image) -> bytes:
    face = face.copy()
    face.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No EXIF is written: the pixels are already upright, and the upload's metadata (camera,
    # place) stays with the upload.
    face.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def thumbnail_key(key: str, version: str | None, number: int) -> str:
    """thumbnails/<key>/<version>/face-001.jpg; a key too long to fit S3's 1,024 bytes is
    replaced by a hash of it (the stored item still lists the thumbnails of every image)."""
    tail = f"{version}/face-{number:03d}.jpg" if version else f"face-{number:03d}.jpg"
    full = f"{THUMBNAIL_PREFIX}{key}/{tail}"
    if len(full.encode("utf-8")) <= MAX_KEY_BYTES:
        return full
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
    return f"{THUMBNAIL_PREFIX}_h{digest}/{tail}"
