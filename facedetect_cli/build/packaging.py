"""Deterministic zips of the Lambda handlers, built in memory.

The same sources give the same bytes, so the zip's sha256 equals the CodeSha256 Lambda reports
for the deployed code, and `up` can tell unchanged code without uploading it. Like Chalice's
ChaliceZipFile: fixed timestamps and modes; entries also sorted, compression level fixed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the build machine, so the modes read alike
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """The digest as Lambda reports it: base64 of the raw sha256."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")
