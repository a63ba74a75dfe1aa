"""Pillow for Create Thumbnail: the wheel of the function's runtime and architecture, never the
build machine's; cached; unpacked into the zip; clear errors when the index cannot be reached."""

from __future__ import annotations

import itertools
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import fake_wheel

from facedetect_cli.build import wheels
from facedetect_cli.build.packaging import deterministic_zip
from facedetect_cli.errors import FacedetectError, InputError

PILLOW = f"pillow=={wheels.PILLOW_VERSION}"
ARM = wheels.Target("python3.13", "arm64")
X86 = wheels.Target("python3.13", "x86_64")
# ELF e_machine of each Lambda architecture (the .so files in the wheel are ELF).
ELF_MACHINE = {"arm64": 183, "x86_64": 62}


class FakePip:
    """Stands in for `python -m pip download`: records the command, 'downloads' a wheel."""

    def __init__(self, returncode: int = 0, stderr: str = "", creates: bool = True):
        self.commands: list[list[str]] = []
        self.returncode, self.stderr, self.creates = returncode, stderr, creates

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        if self.returncode == 0 and self.creates:
            dest = Path(command[command.index("--dest") + 1])
            target = wheels.Target(f"python{command[command.index('--python-version') + 1]}",
                                   "arm64" if "aarch64" in " ".join(command) else "x86_64")
            fake_wheel(dest, target)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


@pytest.fixture(autouse=True)
def _forget_unpacked():
    wheels.clear_memory_cache()
    yield
    wheels.clear_memory_cache()


@pytest.mark.parametrize(("target", "machine", "other"),
                         [(ARM, "aarch64", "x86_64"), (X86, "x86_64", "aarch64")])
def test_pip_is_asked_for_the_functions_platform_not_the_build_machines(
        tmp_path, target, machine, other):
    command = wheels.pip_download_command(PILLOW, target, tmp_path)

    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--only-binary=:all:" in command and "--no-deps" in command
    pairs = list(itertools.pairwise(command))
    assert ("--implementation", "cp") in pairs
    assert ("--python-version", "3.13") in pairs
    assert ("--abi", "cp313") in pairs
    assert ("--dest", str(tmp_path)) in pairs
    platforms = [value for flag, value in pairs if flag == "--platform"]
    # Amazon Linux 2023 (python3.13) has glibc 2.34: every manylinux up to 2_34 runs there.
    assert platforms[0] == f"manylinux_2_34_{machine}"
    assert f"manylinux_2_28_{machine}" in platforms
    assert platforms[-1] == f"manylinux2014_{machine}"
    assert not any(other in p for p in platforms)
    assert command[-1] == PILLOW


def test_python311_runs_on_amazon_linux_2_and_gets_only_old_manylinux():
    platforms = wheels.Target("python3.11", "arm64").platforms
    assert platforms[0] == "manylinux_2_26_aarch64"
    assert "manylinux_2_28_aarch64" not in platforms


def test_unknown_architecture_or_runtime_is_a_usage_error():
    with pytest.raises(InputError, match="architecture"):
        wheels.Target("python3.13", "mips")
    with pytest.raises(InputError, match="runtime"):
        wheels.Target("nodejs22.x", "arm64")


@pytest.mark.parametrize(("filename", "target", "ok"), [
    ("pillow-13.0.0-cp313-cp313-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", ARM, True),
    ("pillow-13.0.0-cp313-cp313-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", X86, False),
    ("pillow-13.0.0-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", ARM, False),
    ("pillow-12.3.0-cp313-cp313-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", ARM, False),
    ("pillow-13.0.0-cp313-cp313-macosx_11_0_arm64.whl", ARM, False),
    ("pillow-13.0.0-cp313-cp313-manylinux_2_39_aarch64.whl", ARM, False),  # glibc too new
    ("pillow-13.0.0.tar.gz", ARM, False),
])
def test_only_a_wheel_of_the_pinned_version_for_the_target_fits(filename, target, ok):
    assert wheels.fits(filename, PILLOW, target) is ok


def test_download_once_then_from_the_cache(tmp_path):
    pip = FakePip()

    first = wheels.wheel_for(PILLOW, ARM, cache=tmp_path, run=pip)
    again = wheels.wheel_for(PILLOW, ARM, cache=tmp_path, run=pip)
    other = wheels.wheel_for(PILLOW, X86, cache=tmp_path, run=pip)

    assert first == again
    assert first.parent == tmp_path / "python3.13-arm64"
    assert other.parent == tmp_path / "python3.13-x86_64"
    assert len(pip.commands) == 2  # one per architecture, none for the cached one
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no scratch left behind


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEDETECT_WHEEL_CACHE", str(tmp_path / "mine"))
    assert wheels.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("FACEDETECT_WHEEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert wheels.cache_root() == tmp_path / "xdg" / "facedetect" / "wheels"


UNREACHABLE = """\
WARNING: Retrying (Retry(total=1, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection \
object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name \
resolution')': /simple/pillow/
ERROR: Could not find a version that satisfies the requirement pillow==13.0.0 (from versions: \
none)
ERROR: No matching distribution found for pillow==13.0.0
"""


def test_unreachable_index_is_one_clear_line(tmp_path):
    pip = FakePip(returncode=1, stderr=UNREACHABLE)

    with pytest.raises(FacedetectError) as raised:
        wheels.wheel_for(PILLOW, ARM, cache=tmp_path, run=pip)

    message = str(raised.value)
    assert "\n" not in message
    assert "cannot download pillow==13.0.0 for python3.13 on arm64" in message
    assert "package index is unreachable" in message
    assert "No matching distribution found for pillow==13.0.0" in message
    assert str(tmp_path / "python3.13-arm64") in message  # where a wheel can be put by hand
    assert list((tmp_path / "python3.13-arm64").iterdir()) == []


def test_missing_pip_is_said_plainly(tmp_path):
    pip = FakePip(returncode=1, stderr=f"{sys.executable}: No module named pip")
    with pytest.raises(FacedetectError, match="pip is not installed"):
        wheels.wheel_for(PILLOW, ARM, cache=tmp_path, run=pip)


def test_pip_success_without_a_fitting_wheel_is_an_error(tmp_path):
    with pytest.raises(FacedetectError, match="downloaded no wheel"):
        wheels.wheel_for(PILLOW, ARM, cache=tmp_path, run=FakePip(creates=False))


def test_packages_unpack_into_a_deterministic_zip(tmp_path):
    fake_wheel(tmp_path / "python3.13-arm64", ARM)

    files = wheels.handler_packages("create_thumbnail", ARM, cache=tmp_path, run=FakePip())

    assert "PIL/__init__.py" in files
    assert "PIL/_imaging.cp313-aarch64-linux-gnu.so" in files
    assert wheels.handler_packages("detect_faces", ARM, cache=tmp_path) == {}
    handler = {"create_thumbnail.py": b"import PIL\n"}
    assert deterministic_zip({**handler, **files}) == deterministic_zip({**files, **handler})


def test_unsafe_or_broken_wheels_are_refused(tmp_path):
    bad = tmp_path / "pillow-13.0.0-cp313-cp313-manylinux_2_28_aarch64.whl"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../escape.py", "x")
    with pytest.raises(FacedetectError, match="unsafe path"):
        wheels.wheel_files(bad)
    broken = tmp_path / "pillow-13.0.0-cp313-cp313-manylinux_2_28_x86_64.whl"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FacedetectError, match="not a valid wheel"):
        wheels.wheel_files(broken)
    assert not broken.exists()  # the next run downloads it again


def test_lambda_size_limits_are_checked_before_upload():
    wheels.check_limits("f", b"x" * 100, {"a": b"x" * 1000})
    with pytest.raises(FacedetectError, match="zipped; Lambda accepts at most 50 MiB"):
        wheels.check_limits("f", b"x" * (wheels.ZIPPED_LIMIT + 1), {})
    with pytest.raises(FacedetectError, match="unzipped; Lambda accepts at most 250 MiB"):
        wheels.check_limits("f", b"x", {"big": b"x" * (wheels.UNZIPPED_LIMIT + 1)})


def test_real_download_from_the_package_index(tmp_path_factory):
    """The one test that needs the network: the real wheel, for arm64 (the default, and not
    the CPU of most machines running tests). Skipped, saying why, where the package index
    cannot be reached."""
    target = ARM
    cache = tmp_path_factory.getbasetemp() / "wheel-cache"
    try:
        path = wheels.wheel_for(PILLOW, target, cache=cache)
    except FacedetectError as exc:
        pytest.skip(f"the package index is not reachable from here: {exc}")

    machine = wheels.MACHINES[target.architecture]
    assert path.name.startswith(f"pillow-{wheels.PILLOW_VERSION}-cp313-cp313-manylinux")
    assert machine in path.name
    files = wheels.wheel_files(path)
    assert "PIL/Image.py" in files
    core = next(content for name, content in files.items()
                if name.startswith("PIL/_imaging.") and name.endswith(".so"))
    # ELF header: the compiled part is for the function's CPU, not this machine's.
    assert core[:4] == b"\x7fELF"
    assert int.from_bytes(core[18:20], "little") == ELF_MACHINE[target.architecture]
    # The wheel is itself a deflated zip of the same files: its size stands for the function
    # zip's (building that one at level 9 takes seconds; test_features checks its contents).
    wheels.check_limits("CreateThumbnail", path.read_bytes(), files)
    assert path.stat().st_size < 15 * 2**20
