"""What `settle` waits for after a create, against AWS's answers (botocore's Stubber): AWS
answers CreateFunction with State Pending and CreateTable with TableStatus CREATING, and the
resource is ready only once it is Active; moto answers Active at once, so the moto tests
never see the wait. The Stubber fails on any call not queued, so a poll too many fails too."""

from __future__ import annotations

from typing import Any

import botocore.waiter
import pytest
from botocore.stub import Stubber

from facedetect_cli.engine.resources.function import Function
from facedetect_cli.engine.resources.table import Table

FUNCTION = "facedetect-DetectFacesLambda"
TABLE = "facedetect-FaceMetadataTable"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's waiters sleep between polls; the polls are what is asserted.
    monkeypatch.setattr(botocore.waiter.time, "sleep", lambda seconds: None)


def _function(app: Any) -> Function:
    return next(r for r in app.resources if r.kind == "function" and r.name == FUNCTION)


def _created_function(state: str) -> dict[str, Any]:
    return {"FunctionName": FUNCTION, "FunctionArn": f"arn:aws:lambda:::function:{FUNCTION}",
            "State": state}


def _got_function(state: str) -> dict[str, Any]:
    return {"Configuration": {"FunctionName": FUNCTION, "State": state,
                              "LastUpdateStatus": "Successful"}}


def test_a_pending_function_is_polled_until_active(app: Any) -> None:
    function = _function(app)
    with Stubber(app.aws.client("lambda").raw) as stub:
        stub.add_response("create_function", _created_function("Pending"), None)
        stub.add_response("get_function", _got_function("Pending"), {"FunctionName": FUNCTION})
        stub.add_response("get_function", _got_function("Active"), {"FunctionName": FUNCTION})
        function.create(app.ctx)
        function.settle(app.ctx)
        stub.assert_no_pending_responses()


def test_a_function_created_active_is_not_polled(app: Any) -> None:
    function = _function(app)
    with Stubber(app.aws.client("lambda").raw) as stub:
        stub.add_response("create_function", _created_function("Active"), None)
        function.create(app.ctx)
        function.settle(app.ctx)  # a GetFunction here would find nothing queued and fail
        stub.assert_no_pending_responses()


def _table_answer(status: str) -> dict[str, Any]:
    return {"TableDescription": {"TableName": TABLE, "TableStatus": status}}


def test_a_creating_table_is_polled_until_active_and_an_active_one_is_not(app: Any) -> None:
    table = next(r for r in app.resources if isinstance(r, Table))
    with Stubber(app.aws.client("dynamodb").raw) as stub:
        stub.add_response("create_table", _table_answer("CREATING"), None)
        stub.add_response("describe_table", {"Table": {"TableName": TABLE,
                                                       "TableStatus": "CREATING"}},
                          {"TableName": TABLE})
        stub.add_response("describe_table", {"Table": {"TableName": TABLE,
                                                       "TableStatus": "ACTIVE"}},
                          {"TableName": TABLE})
        table.create(app.ctx)
        table.settle(app.ctx)
        stub.assert_no_pending_responses()

        stub.add_response("create_table", _table_answer("ACTIVE"), None)
        table.create(app.ctx)
        table.settle(app.ctx)
        stub.assert_no_pending_responses()
