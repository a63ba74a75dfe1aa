"""The optional parts of a stack: duplicates (a face collection) and thumbnails.

They come from the AWS image-processing workshop the tutorial follows (its cleanup deletes
CheckFaceDuplicateLambda, AddFaceToIndexLambda, CreateThumbnailLambda and the rider-photos
collection). `up --with X` turns one on, `--without X` turns it off, and the stack remembers
its features in a tag of the state machine, so an `up` without either keeps them: re-running
`up` never strips a feature by accident.
"""

from __future__ import annotations

from collections.abc import Iterable

from facedetect_cli.errors import InputError

DUPLICATES, THUMBNAILS = "duplicates", "thumbnails"
FEATURES = (DUPLICATES, THUMBNAILS)

# The handlers each feature adds, in pipeline order.
FEATURE_MODULES: dict[str, tuple[str, ...]] = {
    DUPLICATES: ("check_face_duplicate", "add_face_to_index"),
    THUMBNAILS: ("create_thumbnail",),
}

TAG_KEY = "facedetect:features"
NO_FEATURES = "none"


def validate(names: Iterable[str], option: str = "--with") -> frozenset[str]:
    found = frozenset(name.strip().lower() for name in names)
    unknown = sorted(found - set(FEATURES))
    if unknown:
        raise InputError(
            f"unknown feature {unknown[0]!r} for {option}: use {' or '.join(FEATURES)}"
        )
    return found


def resolve(remembered: frozenset[str], with_: Iterable[str] = (),
            without: Iterable[str] = ()) -> frozenset[str]:
    """The features `up` builds: the remembered ones, plus --with, minus --without."""
    added, removed = validate(with_, "--with"), validate(without, "--without")
    both = sorted(added & removed)
    if both:
        raise InputError(f"feature {both[0]!r} is given to both --with and --without")
    return (remembered | added) - removed


def tag_value(features: frozenset[str]) -> str:
    return ",".join(ordered(features)) or NO_FEATURES


def from_tag(value: str | None) -> frozenset[str]:
    """The features a tag value names; unknown names (a newer facedetect's) are ignored."""
    if not value:
        return frozenset()
    return frozenset(f for f in value.split(",") if f in FEATURES)


def modules(features: frozenset[str]) -> list[str]:
    return [m for f in FEATURES if f in features for m in FEATURE_MODULES[f]]


def ordered(features: frozenset[str]) -> list[str]:
    return [f for f in FEATURES if f in features]


def describe(features: frozenset[str]) -> str:
    return ", ".join(ordered(features)) or "none"
