"""The embedded emulator's life cycle (issue 14): starting is race-free across processes, and
`local stop` signals only facedetect's own emulator on that port, never whatever process now
has the number a stale pid file names."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import FACEDETECT, free_port

from facedetect_cli.local import lifecycle


@pytest.fixture
def state(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path), "FACEDETECT_LOCAL_PORT":
            str(free_port())}


def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([FACEDETECT, *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_starts_make_one_emulator_and_stop_stops_it(state):
    port = int(state["FACEDETECT_LOCAL_PORT"])
    # Two `local start` and a --local command on a fresh port, all at once.
    racers = [spawn("local", "start", env=state), spawn("local", "start", env=state),
              spawn("status", "--local", env=state)]
    try:
        outputs = [racer.communicate(timeout=90) for racer in racers]
        codes = [racer.returncode for racer in racers]
        assert codes == [0, 0, 3], outputs  # status: the stack is not deployed there
        started = [out for out, _ in outputs if "Started the local emulator" in out]
        assert len(started) == 1, outputs
        pid = int(re.search(r"\(pid (\d+),", started[0]).group(1))
        # The pid file names the process that bound the port, and that process is the one
        # `local status` and `local stop` see.
        assert lifecycle.pid_file(port).read_text().strip() == str(pid)
        assert lifecycle.is_our_emulator(pid, port)
        assert lifecycle.describe(port)["embedded_pid"] == pid
    finally:
        stopped = subprocess.run([FACEDETECT, "local", "stop"], env=state, capture_output=True,
                                 text=True, timeout=60)
    assert stopped.returncode == 0 and "Stopped" in stopped.stdout, stopped
    assert not lifecycle.answers(port)
    assert not alive(pid)


def alive(pid: int) -> bool:
    """Running: a zombie (exited, not yet reaped by a container's init) is not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def bystander():
    """Someone else's process, whose pid a stale pid file could name after a reboot."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_stop_never_signals_the_process_a_stale_pid_file_names(state, bystander):
    port = int(state["FACEDETECT_LOCAL_PORT"])
    lifecycle.state_dir().mkdir(parents=True)
    lifecycle.pid_file(port).write_text(f"{bystander.pid}\n")
    assert lifecycle.describe(port)["embedded_pid"] is None
    assert lifecycle.stop(port) is False
    assert bystander.poll() is None  # still running
    assert not lifecycle.pid_file(port).exists()  # the stale file is cleared


def test_stop_never_signals_a_process_that_is_not_the_emulator_on_that_port(state, bystander):
    port = int(state["FACEDETECT_LOCAL_PORT"])
    lifecycle.state_dir().mkdir(parents=True)
    # The file is even locked, as by a live emulator, but the pid is not one.
    with open(lifecycle.pid_file(port), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(f"{bystander.pid}\n")
        held.flush()
        assert lifecycle.stop(port) is False
        assert lifecycle.describe(port)["embedded_pid"] is None
    assert bystander.poll() is None
    assert not lifecycle.is_our_emulator(os.getpid(), port)


def test_an_unwritable_state_directory_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {**os.environ, "XDG_STATE_HOME": str(blocker), "FACEDETECT_LOCAL_PORT":
           str(free_port())}
    for command in (["local", "start"], ["status", "--local"]):
        result = subprocess.run([FACEDETECT, *command], env=env, capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 1, result
        assert result.stderr.startswith("error: cannot write the emulator's pid and log files")
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_a_port_someone_else_listens_on_is_refused_in_one_line(state):
    """A listener that is not the emulator and speaks no HTTP (it hangs up at once): `local
    start` gives it a few seconds to turn out ours (a racing start), then says the port is
    taken."""
    import socket
    import threading

    port = int(state["FACEDETECT_LOCAL_PORT"])
    listener = socket.create_server(("127.0.0.1", port))

    def hang_up() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        result = subprocess.run([FACEDETECT, "local", "start"], env=state, capture_output=True,
                                text=True, timeout=90)
    finally:
        listener.close()
    assert result.returncode == 1
    assert result.stderr == (f"error: port {port} is already in use; choose another with "
                             "--local-port\n")
    assert not lifecycle.pid_file(port).exists()
