"""Every way a command ends keeps the contract (issue 14): click's usage errors, Ctrl-C, an
internal error, an endpoint that is not AWS, a name that is not UTF-8 and a closed pipe each
end with one line on stderr (nothing for the pipe) and, with --output json, exactly one JSON
document on stdout; --quiet prints nothing but errors, and the exit code is the answer."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import FACEDETECT, free_port

from facedetect_cli.engine.app import StackApp
from facedetect_cli.local import lifecycle

pytestmark = pytest.mark.usefixtures("aws")


def error_document(result, code: int) -> dict:
    assert result.exit_code == code, (result.stdout, result.stderr)
    doc = json.loads(result.stdout)  # exactly one document, nothing else
    assert set(doc) == {"error", "exit_code"} and doc["exit_code"] == code, doc
    return doc


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args, fragment", [
    (["up", "--max-parallel", "0"], "'--max-parallel': 0 is not in the range"),
    (["status", "--targets", "/"], "is a directory"),
    (["results", "--limit", "-1"], "'--limit': -1 is not in the range"),
    (["status", "--no-such-option"], "No such option"),
    (["detect"], "Missing argument 'IMAGE'"),
    (["logs", "--function", "everything"], "'--function'"),
    (["up", "--with", "nothing"], "'--with'"),
    (["local", "start", "--local-port", "0"], "'--local-port'"),
    (["no-such-command"], "No such command"),
    # `--` as an option's value: --output after it still asks for JSON.
    (["up", "--max-parallel", "--"], "'--max-parallel'"),
])
@pytest.mark.parametrize("json_flag", [["--output", "json"], ["--output=json"], []])
def test_usage_errors_from_click_are_a_json_document_too(invoke, monkeypatch, args, fragment,
                                                         json_flag):
    if not json_flag:
        monkeypatch.setenv("FACEDETECT_OUTPUT", "json")  # the environment asks for JSON
    result = invoke(*args, *json_flag)
    doc = error_document(result, 2)
    assert fragment in doc["error"], doc
    assert "Usage:" in result.stderr  # click's own help line stays where it was


def test_usage_errors_in_text_mode_leave_stdout_empty(invoke):
    result = invoke("results", "--limit", "-1")
    assert result.exit_code == 2 and result.stdout == ""


def test_ctrl_c_is_130_with_a_document(invoke, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(StackApp, "status", interrupted)
    result = invoke("status", "--output", "json")
    doc = error_document(result, 130)
    assert doc["error"].startswith("interrupted;")
    assert one_error_line(result).startswith("error: interrupted;")


@pytest.mark.parametrize("args", [["status"], ["local", "status"]])
def test_an_internal_error_is_one_line_and_a_document(invoke, monkeypatch, args):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\non two lines")

    monkeypatch.setattr(StackApp, "status", broken)
    monkeypatch.setattr(lifecycle, "describe", broken)
    result = invoke(*args, "--output", "json")
    doc = error_document(result, 1)
    assert doc["error"].startswith("internal error: RuntimeError: boom on two lines")
    assert one_error_line(result) == f"error: {doc['error']}"


def test_ctrl_c_outside_a_command_body_is_130_too(invoke, monkeypatch):
    def interrupted(port):
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "describe", interrupted)
    doc = error_document(invoke("local", "status", "--output", "json"), 130)
    assert doc["error"].startswith("interrupted;")


@pytest.mark.parametrize("args", [
    ["detect", "\udcff\udcfe.png"],  # the file name $'\xff\xfe.png', as Python sees it
    ["status", "--stack", "caf\udce9"],
    ["results", "--key", "uploads/\udcff.jpg"],
])
def test_arguments_that_are_not_utf8_are_usage_errors(invoke, args):
    result = invoke(*args, "--output", "json")
    doc = error_document(result, 2)
    assert "is not valid UTF-8" in doc["error"]
    assert "\\xff" in doc["error"] or "\\xe9" in doc["error"]  # the bytes, shown
    one_error_line(result)


@pytest.mark.parametrize("image, fragment", [
    ("a" * 3000 + ".png", "no such file"),  # longer than a file name may be
    ("/", "not a file"),
    ("a\0b.png", "holds a NUL character"),
])
def test_image_paths_of_every_kind_are_usage_errors(invoke, image, fragment):
    result = invoke("detect", image, "--output", "json")
    doc = error_document(result, 2)
    assert fragment in doc["error"]
    one_error_line(result)


ANSWERS = {"/html": (200, "text/html", b"<html><body>hello</body></html>"),
           "/missing": (404, "text/html", b"<h1>Not Found</h1>"),
           "/json": (200, "application/json", b"{}"),
           "/empty": (200, "text/plain", b""),
           "/broken": (500, "text/html", b"<h1>oops</h1>")}


class NotAws(BaseHTTPRequestHandler):
    """Any HTTP server that is not AWS: a web page, a 404, an empty or a JSON answer."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, kind, body = ANSWERS.get(self.path.rstrip("/") or "/html", ANSWERS["/html"])
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST

    def log_message(self, *args) -> None:
        return None


@pytest.fixture
def not_aws() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/html", "/missing", "/json", "/empty", "/broken",
                                  "/some/path"])
def test_an_endpoint_that_is_not_aws_is_one_line(invoke, not_aws, path):
    result = invoke("status", "--endpoint-url", not_aws + path, "--output", "json")
    doc = error_document(result, 1)
    assert "internal error" not in doc["error"], doc
    assert one_error_line(result) == f"error: {doc['error']}"


@pytest.mark.parametrize("args, code", [
    (["status"], 3),
    (["results"], 1),  # the table does not exist
    (["logs"], 3),
    (["local", "status", "--local-port", str(free_port())], 3),
])
def test_quiet_prints_nothing_but_errors_and_the_exit_code_answers(invoke, args, code):
    quiet = invoke(*args, "--quiet")
    assert quiet.exit_code == code and quiet.stdout == "", quiet.stdout
    assert all(line.startswith("error: ") for line in quiet.stderr.splitlines())
    # With --output json the document is still written: a script asked for it.
    documented = invoke(*args, "--quiet", "--output", "json")
    assert documented.exit_code == code
    json.loads(documented.stdout)


def test_quiet_status_of_a_healthy_stack_is_silent_and_0(invoke):
    assert invoke("up").exit_code == 0
    quiet = invoke("status", "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_a_closed_pipe_ends_quietly(tmp_path, server):
    """`facedetect status | head -2`: the reader goes away; no traceback, no error line."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    for args in (["status", "--endpoint-url", server],
                 ["local", "status", "--local-port", str(free_port())], ["--help"]):
        process = subprocess.Popen([FACEDETECT, *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env)
        process.stdout.close()  # before a word is written
        stderr = process.stderr.read()
        process.stderr.close()
        assert process.wait(timeout=60) == 1, stderr
        assert stderr == b""


@pytest.mark.parametrize("path", ["/html", "/json", "/some/path"])
def test_a_waiter_against_an_endpoint_that_is_not_aws_is_one_line(not_aws, path):
    """Waiters poll through botocore's parser like any call: an answer that is not AWS's is
    the tool's one-line error there too, never a parser's KeyError."""
    from facedetect_cli.aws.connection import Connection
    from facedetect_cli.aws.session import AwsSession
    from facedetect_cli.errors import AwsError

    session = AwsSession(Connection(region="eu-central-1", endpoint_url=not_aws + path,
                                    access_key_id="k", secret_access_key="s"))
    with pytest.raises(AwsError) as raised:
        session.client("dynamodb").wait("table_exists", TableName="t", delay=0,
                                         max_attempts=1)
    assert "internal error" not in str(raised.value)
