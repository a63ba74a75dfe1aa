"""Start, find and stop the embedded local emulator (moto's server, see emulator.py).

It runs as a background process of its own, so several facedetect commands share its state;
its log goes to a file under the state directory, never to the terminal.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from facedetect_cli.errors import FacedetectError, InputError

START_TIMEOUT_S = 30.0
EMULATOR_MODULE = "facedetect_cli.local.emulator"


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "facedetect"


def pid_file(port: int) -> Path:
    return state_dir() / f"emulator-{port}.pid"


def log_file(port: int) -> Path:
    return state_dir() / f"emulator-{port}.log"


def lock_file(port: int) -> Path:
    return state_dir() / f"emulator-{port}.lock"


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def answers(port: int) -> bool:
    """Something that speaks HTTP is there (moto, or LocalStack)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP error is still an answer
    except (OSError, urllib.error.URLError):
        return False


def _lock(fd: int, *, shared: bool = False) -> bool:
    """Take an flock without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def hold_pid_file(path: Path) -> int:
    """Called by the emulator itself once it has bound its port: it writes its own pid and
    holds an exclusive lock on the file for as long as it lives. The lock, not the number,
    says whether an emulator runs: a pid file left by a crash or a reboot is not locked, so
    whichever process now has that pid is never taken for the emulator. Returns the file's
    descriptor, to be kept open."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if not _lock(fd):
        os.close(fd)
        raise SystemExit(f"another emulator holds {path}")
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return []  # Linux, and no such process
    except OSError:
        return []
    found = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True,
                           text=True, check=False)  # macOS and the BSDs have no /proc
    return found.stdout.split()


def is_our_emulator(pid: int, port: int) -> bool:
    """Whether process `pid` runs facedetect's emulator on `port` (its command line says so)."""
    words = _command_line(pid)
    return EMULATOR_MODULE in words and any(
        words[i:i + 2] == ["--port", str(port)] for i in range(len(words)))


def _running_pid(port: int) -> int | None:
    """The pid of the emulator facedetect started on `port`: the file must be locked by a live
    process, and that process must be the emulator on that port."""
    try:
        fd = os.open(pid_file(port), os.O_RDONLY)
    except OSError:
        return None
    try:
        if _lock(fd, shared=True):
            return None  # nobody holds it: left behind by an emulator that is gone
        text = os.read(fd, 64).decode(errors="replace").strip()
    finally:
        os.close(fd)
    pid = int(text) if text.isascii() and text.isdigit() else 0
    return pid if pid > 0 and is_our_emulator(pid, port) else None


@contextlib.contextmanager
def _port_lock(port: int, timeout_s: float = START_TIMEOUT_S) -> Iterator[None]:
    """One start or stop per port at a time, across processes: two `local start` (or two
    --local commands on a fresh port) at once start one emulator, and the other uses it."""
    fd = os.open(lock_file(port), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while not _lock(fd):
            if time.monotonic() >= deadline:
                raise FacedetectError(f"another facedetect has been starting or stopping the "
                                      f"emulator on port {port} for {timeout_s:.0f}s; try again")
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _state_ready() -> None:
    directory = state_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise FacedetectError(
            f"cannot write the emulator's pid and log files in {directory} "
            f"({error.strerror or error}): set XDG_STATE_HOME to a writable directory"
        ) from None


def start(port: int, say: Callable[[str], None] = lambda message: None) -> int | None:
    """Start the embedded emulator on `port` and wait until it answers; returns its pid, or
    None when an emulator already answers there (another command started it meanwhile)."""
    if answers(port):
        return None
    if importlib.util.find_spec("moto") is None:
        raise InputError(
            "the embedded emulator needs moto: pip install 'facedetect[local]' "
            "(or run LocalStack on the port yourself)"
        )
    _state_ready()
    with _port_lock(port):
        # Ours already, even when it is too busy to answer within answers()' timeout.
        if _running_pid(port) is not None or answers(port):
            return None
        if is_listening(port) and not _becomes_ours(port):
            raise FacedetectError(f"port {port} is already in use; choose another with "
                                  "--local-port")
        return _spawn(port, say)


def _becomes_ours(port: int, wait_s: float = 5.0) -> bool:
    """Whether a listener on the port turns out to be our emulator or to answer within a few
    seconds. On a loaded machine an emulator that another command has just started can be slow
    to answer and to be read from /proc; calling its port someone else's at once made a
    concurrent `--local` command fail."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if _running_pid(port) is not None or answers(port):
            return True
        time.sleep(0.1)
    return False


def _spawn(port: int, say: Callable[[str], None]) -> int:
    with open(log_file(port), "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", EMULATOR_MODULE, "--port", str(port),
             "--pid-file", str(pid_file(port))],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, and Ctrl-C here does not stop it
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FacedetectError(
                f"the local emulator exited at start (code {process.returncode}); see "
                f"{log_file(port)}"
            )
        # The pid file is written by the emulator once it has bound the port.
        if _running_pid(port) == process.pid and answers(port):
            say(f"Started the local emulator on http://127.0.0.1:{port} (pid {process.pid}, "
                f"log {log_file(port)}).")
            return process.pid
        time.sleep(0.1)
    process.terminate()
    raise FacedetectError(f"the local emulator did not answer within {START_TIMEOUT_S:.0f}s; "
                          f"see {log_file(port)}")


def ensure_running(port: int, say: Callable[[str], None] = lambda message: None) -> None:
    """Use whatever answers on the port (the embedded emulator or LocalStack); else start
    the embedded one. start() itself returns at once when something answers."""
    start(port, say)


def stop(port: int) -> bool:
    """Stop the emulator this tool started on `port`; False when none runs. Only a process
    that holds the pid file's lock and runs the emulator on that port is signalled."""
    if _running_pid(port) is None:
        _forget_stale(port)
        return False
    with _port_lock(port):
        pid = _running_pid(port)
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running_pid(port) == pid:
            time.sleep(0.05)
        if _running_pid(port) == pid:
            os.kill(pid, signal.SIGKILL)
        _forget_stale(port)
    return True


def _forget_stale(port: int) -> None:
    """Remove a pid file no live emulator holds."""
    try:
        fd = os.open(pid_file(port), os.O_RDONLY)
    except OSError:
        return
    try:
        if _lock(fd):
            with contextlib.suppress(OSError):
                pid_file(port).unlink()
    finally:
        os.close(fd)


def describe(port: int) -> dict[str, object]:
    pid = _running_pid(port)
    return {
        "endpoint": f"http://127.0.0.1:{port}",
        "answering": answers(port),
        "embedded_pid": pid,
        "log": str(log_file(port)),
    }
