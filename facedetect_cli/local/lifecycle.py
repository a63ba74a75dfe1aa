"""Start, find and stop the embedded local emulator (moto's server, see emulator.py).

It runs as a background process of its own, so several facedetect commands share its state;
its log goes to a file under the state directory, never to the terminal.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from facedetect_cli.errors import FacedetectError, InputError

START_TIMEOUT_S = 30.0


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "facedetect"


def pid_file(port: int) -> Path:
    return state_dir() / f"emulator-{port}.pid"


def log_file(port: int) -> Path:
    return state_dir() / f"emulator-{port}.log"


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


def _running_pid(port: int) -> int | None:
    try:
        pid = int(pid_file(port).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def start(port: int, say: Callable[[str], None] = lambda message: None) -> int:
    """Start the embedded emulator on `port` and wait until it answers; returns its pid."""
    if importlib.util.find_spec("moto") is None:
        raise InputError(
            "the embedded emulator needs moto: pip install 'facedetect[local]' "
            "(or run LocalStack on the port yourself)"
        )
    if is_listening(port):
        raise FacedetectError(f"port {port} is already in use; choose another with --local-port")
    state_dir().mkdir(parents=True, exist_ok=True)
    with open(log_file(port), "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "facedetect_cli.local.emulator", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, and Ctrl-C here does not stop it
        )
    pid_file(port).write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FacedetectError(
                f"the local emulator exited at start (code {process.returncode}); see "
                f"{log_file(port)}"
            )
        if answers(port):
            say(f"Started the local emulator on http://127.0.0.1:{port} (pid {process.pid}, "
                f"log {log_file(port)}).")
            return process.pid
        time.sleep(0.1)
    process.terminate()
    raise FacedetectError(f"the local emulator did not answer within {START_TIMEOUT_S:.0f}s; "
                          f"see {log_file(port)}")


def ensure_running(port: int, say: Callable[[str], None] = lambda message: None) -> None:
    """Use whatever answers on the port (the embedded emulator or LocalStack); else start
    the embedded one."""
    if answers(port):
        return
    start(port, say)


def stop(port: int) -> bool:
    """Stop the emulator this tool started on `port`; False when none was running."""
    pid = _running_pid(port)
    if pid is None:
        with contextlib.suppress(OSError):
            pid_file(port).unlink()
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running_pid(port) is not None:
        time.sleep(0.05)
    if _running_pid(port) is not None:
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        pid_file(port).unlink()
    return True


def describe(port: int) -> dict[str, object]:
    pid = _running_pid(port)
    return {
        "endpoint": f"http://127.0.0.1:{port}",
        "answering": answers(port),
        "embedded_pid": pid,
        "log": str(log_file(port)),
    }
