"""AWS's error answers as the bytes each service's protocol puts on the wire, so that botocore
parses an injected error exactly as it parses AWS's own (its code, its HTTP status, the
modeled exception class, the retry decision of botocore's standard mode).

The shapes, per protocol (botocore's parsers in botocore/parsers.py read them):
- rest-xml (S3): <Error><Code/><Message/><RequestId/><HostId/></Error>, the status in the HTTP
  line; https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
- query (IAM, SNS, STS): <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>
  </ErrorResponse>; https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
- json 1.0 / 1.1 (DynamoDB, Step Functions / CloudWatch Logs, EventBridge): a JSON body with
  "__type" (namespace#Code) and "message";
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
- rest-json (Lambda): the code in the x-amzn-ErrorType header, a JSON body with "Type" and
  "message"; https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

# botocore's protocol for each service the stack uses (checked against botocore's own service
# models by the layer's tests).
PROTOCOLS = {
    "s3": "rest-xml",
    "iam": "query",
    "sns": "query",
    "sts": "query",
    "dynamodb": "json",
    "stepfunctions": "json",
    "logs": "json",
    "events": "json",
    "rekognition": "json",
    "lambda": "rest-json",
}
JSON_VERSIONS = {"dynamodb": "1.0", "stepfunctions": "1.0", "logs": "1.1", "events": "1.1",
                 "rekognition": "1.1"}
_QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
# The namespace AWS puts before "#" in a JSON error's __type (botocore keeps what follows).
_JSON_TYPE_PREFIX = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "stepfunctions": "com.amazonaws.swf.service.model#",
    "logs": "com.amazonaws.logs#",
    "events": "com.amazonaws.eventbridge#",
    "rekognition": "com.amazonaws.rekognition#",
}


@dataclass(frozen=True)
class AwsError:
    """One error answer of one service, before it is put into bytes."""

    service: str
    code: str
    message: str
    status: int = 400
    # S3 adds elements (BucketName); Lambda a Retry-After header on 429.
    extra_xml: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def render(error: AwsError) -> WireResponse:
    """The HTTP answer AWS gives for `error`, in its service's protocol."""
    request_id = str(uuid.uuid4())
    protocol = PROTOCOLS[error.service]
    if protocol == "rest-xml":
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in error.extra_xml.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message>{extra}"
            f"<RequestId>{request_id[:16].upper()}</RequestId><HostId>{request_id}</HostId>"
            "</Error>"
        )
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id[:16]}
    elif protocol == "query":
        body = (
            f'<ErrorResponse xmlns="{_QUERY_NAMESPACES[error.service]}">'
            f"<Error><Type>{'Receiver' if error.status >= 500 else 'Sender'}</Type>"
            f"<Code>{error.code}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    elif protocol == "json":
        body = json.dumps({"__type": _JSON_TYPE_PREFIX[error.service] + error.code,
                           "message": error.message})
        headers = {"Content-Type": f"application/x-amz-json-{JSON_VERSIONS[error.service]}",
                   "x-amzn-RequestId": request_id}
    else:  # rest-json
        body = json.dumps({"Type": "Server" if error.status >= 500 else "User",
                           "message": error.message})
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id,
                   "x-amzn-ErrorType": f"{error.code}:http://internal.amazon.com/coral/"
                                       "com.amazonaws.awsgatewaylambda/"}
    headers = {**headers, **error.headers, "Content-Length": str(len(body.encode()))}
    return WireResponse(error.status, headers, body.encode())


def throttled(service: str) -> AwsError:
    """What each service answers when a caller exceeds its request rate (each code is in
    botocore's list of throttling codes, so its standard retry mode retries them with
    backoff). S3: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (SlowDown,
    503); Lambda: TooManyRequestsException, 429, with Retry-After
    (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors); IAM, SNS,
    STS: Throttling (query CommonErrors); the JSON services: ThrottlingException."""
    if service == "s3":
        return AwsError(service, "SlowDown", "Please reduce your request rate.", 503)
    if service == "lambda":
        return AwsError(service, "TooManyRequestsException", "Rate exceeded", 429,
                        headers={"Retry-After": "1"})
    if PROTOCOLS[service] == "query":
        return AwsError(service, "Throttling", "Rate exceeded", 400)
    return AwsError(service, "ThrottlingException", "Rate exceeded", 400)
