"""Faces in an image's bytes: OpenCV's YuNet for boxes and landmarks, SFace for embeddings.

Everything here is measured on the pixels; nothing is guessed. What Rekognition reports and
this cannot measure offline (age, emotions, gender, smile, glasses...) is not produced at all.
One Detector per process: the networks are loaded once (about 0.1 s) and reused.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from facedetect_cli.local.faces.models import SFACE, YUNET, checked_bytes

# YuNet's score is a probability; at 0.8 it found every face of our test photos (0.92-0.94)
# and none on scikit-image's photos without people, where its highest false score was 0.74.
SCORE_THRESHOLD = 0.8
NMS_THRESHOLD = 0.3
TOP_K = 5000
# YuNet's cost grows with the pixels, and it finds faces of about 10-300 px: a bigger photo is
# scaled down to 1280 px for detection (a phone photo's close-up face then fits; boxes are
# ratios, so they do not change). Faces under ~10 px after scaling are then missed.
MAX_DETECTION_SIDE = 1280
# The ArcFace alignment template SFace was trained on (the same points as OpenCV's
# FaceRecognizerSF.alignCrop): eyes, nose tip, mouth corners in a 112x112 crop.
_ALIGNED_SIZE = 112
_TEMPLATE = ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
             (41.5493, 92.3655), (70.7299, 92.2041))


class ImageDecodeError(ValueError):
    """The bytes are not a JPEG or PNG image OpenCV can decode."""


@dataclass(frozen=True)
class Face:
    """One face, in pixels of the decoded (upright) image."""

    left: float
    top: float
    width: float
    height: float
    score: float
    # (x, y) of eyeLeft, eyeRight, nose, mouthLeft, mouthRight: "left" is the image's left.
    landmarks: tuple[tuple[float, float], ...]
    brightness: float
    sharpness: float

    @property
    def roll(self) -> float:
        """The tilt of the line through the eyes, in degrees (positive: clockwise)."""
        (lx, ly), (rx, ry) = self.landmarks[0], self.landmarks[1]
        return math.degrees(math.atan2(ry - ly, rx - lx))


def _cv2() -> Any:
    import cv2

    return cv2


def _np() -> Any:
    import numpy

    return numpy


def decode(data: bytes) -> Any:
    """The image as a BGR array, upright (OpenCV applies the EXIF orientation, as Rekognition
    does). Only JPEG and PNG, Rekognition's formats."""
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
        raise ImageDecodeError("not a JPEG or PNG image")
    cv2, np = _cv2(), _np()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageDecodeError("the image data cannot be decoded")
    return image


class Detector:
    def __init__(self) -> None:
        cv2, np = _cv2(), _np()
        self._lock = threading.Lock()  # OpenCV nets keep per-call state: one call at a time
        # One thread: the emulator answers one request at a time, and on a busy 2-core machine
        # OpenCV's thread pool measured slower (25 ms) than one thread (18 ms) per 512x512 image.
        cv2.setNumThreads(1)
        self._yunet = cv2.FaceDetectorYN.create(
            "onnx", np.frombuffer(checked_bytes(YUNET), np.uint8), np.array([], np.uint8),
            (320, 320), SCORE_THRESHOLD, NMS_THRESHOLD, TOP_K)
        self._sface: Any = None

    def faces(self, image: Any) -> list[Face]:
        """The faces of a decoded image, the most confident first."""
        cv2 = _cv2()
        height, width = image.shape[:2]
        scale = min(1.0, MAX_DETECTION_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        with self._lock:
            self._yunet.setInputSize((small.shape[1], small.shape[0]))
            _, found = self._yunet.detect(small)
        faces = []
        for row in [] if found is None else found:
            values = [float(v) / scale for v in row[:14]]
            left, top, w, h = values[:4]
            points = [(values[i], values[i + 1]) for i in range(4, 14, 2)]
            eyes = sorted(points[0:2])
            mouth = sorted(points[3:5])
            brightness, sharpness = _quality(image, left, top, w, h)
            faces.append(Face(left, top, w, h, float(row[14]),
                              (eyes[0], eyes[1], points[2], mouth[0], mouth[1]),
                              brightness, sharpness))
        faces.sort(key=lambda face: face.score, reverse=True)
        return faces

    def embedding(self, image: Any, face: Face) -> list[float]:
        """SFace's 128-d embedding of the face, of length 1 (cosine similarity = dot)."""
        cv2, np = _cv2(), _np()
        source = np.array(face.landmarks, dtype=np.float32)
        matrix, _ = cv2.estimateAffinePartial2D(source, np.array(_TEMPLATE, dtype=np.float32),
                                                method=cv2.LMEDS)
        if matrix is None:
            matrix = cv2.getAffineTransform(source[:3], np.array(_TEMPLATE[:3], np.float32))
        aligned = cv2.warpAffine(image, matrix, (_ALIGNED_SIZE, _ALIGNED_SIZE))
        blob = cv2.dnn.blobFromImage(aligned, 1.0, (_ALIGNED_SIZE, _ALIGNED_SIZE),
                                     (0, 0, 0), True, False)
        with self._lock:
            if self._sface is None:
                self._sface = cv2.dnn.readNetFromONNX(
                    np.frombuffer(checked_bytes(SFACE), np.uint8))
            # By name: OpenCV 5's graph engine refuses an unnamed input (FaceRecognizerSF's
            # own feature() fails there for that reason).
            self._sface.setInput(blob, "data")
            vector = self._sface.forward().flatten().astype(np.float64)
        norm = float(np.linalg.norm(vector)) or 1.0
        return [float(v) / norm for v in vector]


def _quality(image: Any, left: float, top: float, width: float,
             height: float) -> tuple[float, float]:
    """Brightness and Sharpness (0-100) of the face crop, measured: the mean grey level, and
    the variance of the Laplacian (focus), squashed into 0-100."""
    cv2 = _cv2()
    rows, cols = image.shape[:2]
    x0, y0 = max(0, int(left)), max(0, int(top))
    x1, y1 = min(cols, int(left + width)), min(rows, int(top + height))
    if x1 <= x0 or y1 <= y0:
        return 0.0, 0.0
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    brightness = float(grey.mean()) / 255 * 100
    focus = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    sharpness = 100 * focus / (focus + 100)
    return brightness, sharpness


_shared: Detector | None = None
_shared_lock = threading.Lock()


def shared() -> Detector:
    """The process's detector, loaded on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Detector()
        return _shared
