"""A measured face in Rekognition's response shape (FaceDetail), and the list of what it fills.

Only what the local detector measures: BoundingBox and Landmarks as ratios of the image,
Confidence, Pose.Roll (from the eyes) and Quality (from the crop). The attributes Rekognition
adds with Attributes=["ALL"] (AgeRange, Emotions, Gender, Smile, Eyeglasses...) cannot be
measured offline and are left out, as Rekognition itself leaves them out without ALL.
"""

from __future__ import annotations

import math
from typing import Any

from facedetect_cli.local.faces.detector import Face

LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
FILLED_FIELDS = ("BoundingBox", "Confidence", "Landmarks (5)", "Pose.Roll",
                 "Quality.Brightness", "Quality.Sharpness")
NOT_FILLED_FIELDS = ("AgeRange", "Emotions", "Gender", "Smile", "Eyeglasses", "Sunglasses",
                     "Beard", "Mustache", "EyesOpen", "MouthOpen", "FaceOccluded",
                     "Pose.Yaw", "Pose.Pitch")
FIELDS_NOTE = ("local detector (OpenCV YuNet): fills " + ", ".join(FILLED_FIELDS)
               + "; Rekognition's other attributes (age, emotions, gender, smile, glasses...) "
               "are not estimated offline and are left out")


def _ratio(value: float, whole: int) -> float:
    return min(1.0, max(0.0, value / whole)) if whole else 0.0


def bounding_box(face: Face, width: int, height: int) -> dict[str, float]:
    # Rekognition's boxes may reach past the image's edges; ours are clipped to it.
    left, top = _ratio(face.left, width), _ratio(face.top, height)
    return {"Width": _ratio(face.left + face.width, width) - left,
            "Height": _ratio(face.top + face.height, height) - top,
            "Left": left, "Top": top}


def face_detail(face: Face, width: int, height: int) -> dict[str, Any]:
    roll = face.roll
    return {
        "BoundingBox": bounding_box(face, width, height),
        "Landmarks": [{"Type": kind, "X": _ratio(x, width), "Y": _ratio(y, height)}
                      for kind, (x, y) in zip(LANDMARK_TYPES, face.landmarks, strict=True)],
        "Pose": {"Roll": roll if math.isfinite(roll) else 0.0},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
        "Confidence": face.score * 100,
    }
