"""Test photos with known face counts, all made from the shipped demo photo (NASA's portrait of
Eileen Collins, public domain: demo/README.md), so the repository carries one photo only."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

ASTRONAUT = Path(__file__).resolve().parents[2] / "demo" / "astronaut.png"
# The one face of the portrait, with some hair and collar around it (pixels of the 512x512).
_FACE = (150, 30, 300, 200)


def _encode(picture: Image.Image, kind: str = "PNG", **options: int) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, kind, **options)
    return buffer.getvalue()


def one_face() -> bytes:
    return ASTRONAUT.read_bytes()


def four_faces() -> bytes:
    """Four copies of the face side by side, at different sizes, two of them mirrored."""
    face = Image.open(ASTRONAUT).crop(_FACE)
    sheet = Image.new("RGB", (900, 400), (90, 90, 90))
    for number, (left, scale) in enumerate([(20, 1.0), (220, 0.8), (400, 1.2), (640, 0.9)]):
        copy = face.resize((int(150 * scale), int(170 * scale)))
        sheet.paste(ImageOps.mirror(copy) if number % 2 else copy, (left, 60))
    return _encode(sheet)


def no_face() -> bytes:
    """The lower part of the portrait: suit, flag and helmet, no face."""
    return _encode(Image.open(ASTRONAUT).crop((0, 300, 512, 512)))


def same_face_edited() -> bytes:
    """Another photo of the same face: mirrored, smaller, a low-quality JPEG."""
    picture = ImageOps.mirror(Image.open(ASTRONAUT)).resize((400, 400))
    return _encode(picture, "JPEG", quality=60)
