"""What the user asked for, validated. All checks of user input live here, so bad input stops
before any AWS call is made."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from facedetect_cli.build import features
from facedetect_cli.errors import InputError

DEFAULT_STACK = "facedetect"
DEFAULT_RUNTIME = "python3.13"
DEFAULT_ARCHITECTURE = "arm64"
UPLOADS_PREFIX = "uploads/"
# Where the thumbnails feature writes; outside the uploads prefix, so the rule never matches a
# thumbnail and the pipeline never starts on its own output.
THUMBNAILS_PREFIX = "thumbnails/"
ARCHITECTURES = ("arm64", "x86_64")
DEFAULT_MATCH_THRESHOLD = 90.0
# Faces Add Face To Index stores per image, the largest first (IndexFaces allows 1-100).
DEFAULT_MAX_FACES = 10
DEFAULT_LOG_RETENTION_DAYS = 30
# The only values PutRetentionPolicy accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)

# Every pattern is used with fullmatch (`$` also matches before a final newline) and
# re.ASCII (`\d` and `\w` also match other scripts' digits and letters).
# At most 20 characters so that the longest derived name (the bucket:
# <stack>-images-<account>-<region>) stays within S3's 63.
_STACK_RE = re.compile(r"[a-z][a-z0-9-]{0,19}", re.ASCII)
# Deliberately simple: SNS accepts any string, so the check catches typos, not RFC corner cases.
_EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
                       re.ASCII)


def validate_stack_name(name: str) -> str:
    if not _STACK_RE.fullmatch(name) or name.endswith("-") or "--" in name:
        raise InputError(
            f"invalid stack name {name!r}: use 1-20 lowercase letters, digits and single hyphens, "
            "starting with a letter and not ending with a hyphen"
        )
    return name


def validate_email(address: str) -> str:
    if not _EMAIL_RE.fullmatch(address) or len(address) > 254:
        raise InputError(f"invalid e-mail address {address!r}: expected name@domain.tld")
    return address


def same_address(one: str, other: str) -> bool:
    """Whether two e-mail addresses name the same mailbox. Compared without regard to case, in
    the local part too: RFC 5321 lets a server tell Bob@ from bob@, but mail systems do not,
    and SNS would make two subscriptions (and send two mails) for one person."""
    return one.casefold() == other.casefold()


def validate_endpoint_url(url: str) -> str:
    parsed = urlparse(url)
    # urlparse drops tabs and newlines, botocore would not: "http://host\n" is not a URL.
    spaced = any(char.isspace() or not char.isprintable() for char in url)
    if spaced or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(
            f"malformed endpoint URL {url!r}: expected http(s)://host[:port], "
            "for example http://127.0.0.1:4566"
        )
    try:
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise InputError(f"malformed endpoint URL {url!r}: the port is not a number") from None
    return url


def validate_match_threshold(threshold: float) -> float:
    if not 0 <= threshold <= 100:
        raise InputError(
            f"invalid match threshold {threshold:g}: a similarity in percent, from 0 to 100"
        )
    return threshold


def validate_architecture(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise InputError(
            f"invalid architecture {architecture!r}: use {' or '.join(ARCHITECTURES)}"
        )
    return architecture


def validate_log_retention_days(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise InputError(
            f"invalid log retention {days} days: CloudWatch Logs accepts "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return days


@dataclass(frozen=True)
class StackConfig:
    """The desired stack. Names and ARNs are derived from it in naming.py."""

    stack: str = DEFAULT_STACK
    emails: tuple[str, ...] = ()
    runtime: str = DEFAULT_RUNTIME
    architecture: str = DEFAULT_ARCHITECTURE
    uploads_prefix: str = UPLOADS_PREFIX
    keep_data: bool = False
    extra_tags: dict[str, str] = field(default_factory=dict)
    # Days the log groups keep events. None (status without --log-retention-days): any period
    # is as desired, only "never expire" is drift.
    log_retention_days: int | None = DEFAULT_LOG_RETENTION_DAYS
    # The optional features (features.py). None: the ones the stack remembers (a tag on its
    # state machine), plus with_features, minus without_features; a set: exactly those.
    features: frozenset[str] | None = None
    with_features: tuple[str, ...] = ()
    without_features: tuple[str, ...] = ()
    match_threshold: float = DEFAULT_MATCH_THRESHOLD
    max_faces: int = DEFAULT_MAX_FACES
    thumbnails_prefix: str = THUMBNAILS_PREFIX

    def __post_init__(self) -> None:
        validate_stack_name(self.stack)
        validate_architecture(self.architecture)
        validate_match_threshold(self.match_threshold)
        if self.features is not None:
            object.__setattr__(self, "features", features.validate(self.features, "features"))
        # Checks both lists (unknown names, a feature in both) before anything is read.
        features.resolve(frozenset(), self.with_features, self.without_features)
        if self.thumbnails_prefix.startswith(self.uploads_prefix) or self.uploads_prefix.startswith(
                self.thumbnails_prefix):
            # The rule would then start the pipeline on its own thumbnails, again and again.
            raise InputError(f"the thumbnails prefix {self.thumbnails_prefix!r} may not overlap "
                             f"the uploads prefix {self.uploads_prefix!r}")
        if self.log_retention_days is not None:
            validate_log_retention_days(self.log_retention_days)
        for address in self.emails:
            validate_email(address)
        # One subscription per mailbox (see same_address): the first spelling is kept.
        unique: dict[str, str] = {}
        for address in self.emails:
            unique.setdefault(address.casefold(), address)
        if len(unique) != len(self.emails):
            object.__setattr__(self, "emails", tuple(unique.values()))
