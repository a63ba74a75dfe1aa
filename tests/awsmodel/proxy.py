"""The model in front of moto's HTTP server, for the installed command: an HTTP proxy that
works out each request's service, operation and the parameters the rules need from the raw
request (per protocol), lets the model answer, and forwards the rest to the server.

The installed command sleeps in real time, so the proxy's model runs on a real-time clock
(ScaledClock(1)); tests shorten the windows instead (Settings).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from awsmodel.model import AwsModel, call_of
from awsmodel.wire import WireResponse

# The signing name in the credential scope -> botocore's service name.
_SIGNING_NAMES = {"states": "stepfunctions"}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_LAMBDA_FUNCTION = re.compile(r"^/2015-03-31/functions/([^/]+)(/[a-z]+)?$")
_LAMBDA_OPERATIONS = {
    ("GET", ""): "GetFunction", ("DELETE", ""): "DeleteFunction",
    ("GET", "/configuration"): "GetFunctionConfiguration",
    ("PUT", "/configuration"): "UpdateFunctionConfiguration",
    ("PUT", "/code"): "UpdateFunctionCode",
}
# S3's bucket subresources (a query key) -> the operation's name after its verb.
_S3_SUBRESOURCES = {
    "publicAccessBlock": "PublicAccessBlock", "encryption": "BucketEncryption",
    "notification": "BucketNotificationConfiguration", "policy": "BucketPolicy",
    "tagging": "BucketTagging", "versioning": "BucketVersioning",
}
_S3_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


def identify(method: str, target: str, headers: Any, body: bytes
             ) -> tuple[str, str, dict[str, Any]]:
    """(service, operation, parameters) of a raw AWS request: only as much as the model's
    rules read (the resource's name, a role ARN, a logging configuration)."""
    def header(name: str) -> str:
        value = headers.get(name, "")
        return value.decode() if isinstance(value, bytes) else str(value)

    body = body.encode() if isinstance(body, str) else body
    found = _SCOPE.search(header("Authorization"))
    service = found.group(1) if found else ""
    service = _SIGNING_NAMES.get(service, service)
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    amz_target = header("X-Amz-Target")
    if amz_target:  # JSON 1.0 / 1.1: the operation in a header, the parameters the body
        return service, amz_target.rsplit(".", 1)[-1], json.loads(body or b"{}")
    if service in ("iam", "sns", "sts"):  # query: a form
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        return service, form.pop("Action", ""), form
    if service == "lambda":
        params = json.loads(body) if body else {}
        if url.path.rstrip("/") == "/2015-03-31/functions" and method == "POST":
            return service, "CreateFunction", params
        match = _LAMBDA_FUNCTION.match(url.path)
        if match:
            params["FunctionName"] = unquote(match.group(1))
            operation = _LAMBDA_OPERATIONS.get((method, match.group(2) or ""), "Other")
            return service, operation, params
        return service, "Other", params
    if service == "s3":  # path-style addressing, as botocore uses for an IP endpoint
        parts = url.path.lstrip("/").split("/", 1)
        bucket = unquote(parts[0])
        if len(parts) > 1 and parts[1]:
            return service, f"{method}Object", {"Bucket": bucket}
        for key, name in _S3_SUBRESOURCES.items():
            if key in query and method in _S3_VERBS:
                return service, _S3_VERBS[method] + name, {"Bucket": bucket}
        if "versions" in query:
            return service, "ListObjectVersions", {"Bucket": bucket}
        if not query and method in ("PUT", "DELETE"):
            return service, "CreateBucket" if method == "PUT" else "DeleteBucket", {
                "Bucket": bucket}
        return service, f"{method}Bucket", {"Bucket": bucket}
    return service, "Other", {}


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        model, upstream = self.server.model, self.server.upstream

        def forward() -> WireResponse:
            connection = http.client.HTTPConnection(upstream, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                return WireResponse(response.status, dict(response.getheaders()),
                                    response.read())
            finally:
                connection.close()

        if "facedetect" in self.headers.get("User-Agent", ""):
            service, operation, params = identify(self.command, self.path, self.headers, body)
            answer = model.answer(call_of(service, operation, params, self.headers), forward)
        else:
            answer = None
        answer = answer or forward()
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                   "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, model: AwsModel, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.model = model
        self.upstream = upstream


@contextmanager
def proxy(model: AwsModel, server_url: str) -> Iterator[str]:
    """The model in front of moto's server at `server_url`; yields the proxy's URL."""
    upstream = urlsplit(server_url).netloc
    server = _ProxyServer(model, upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
