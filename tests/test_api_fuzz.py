"""The whole API fuzzed through its own OpenAPI document (schemathesis), against the real app and
database: valid and invalid requests generated from /openapi.json for every operation, each sent
with a key of the role that reaches the operation's code. Fails on any 5xx, any status the
document does not list, and any body or content type that does not match it.

Bounded and deterministic: MAX_EXAMPLES requests an operation (and role), derandomized, so a
failure found once is found on every run."""
from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from suppression import create_app
from suppression.models import Role
from tests.conftest import UNSUBSCRIBE_KEY, make_key

MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SENDER_ONLY = ("/v1/check", "/v1/unsubscribe-links", "/v1/sends", "/v1/seeds/assignments")


def _document() -> dict:
    """/openapi.json as the app serves it (the same on every backend), read at collection from an
    app on a throwaway SQLite file: one test per operation, each then run against the test's app."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/document.db", "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY})
        return app.test_client().get("/openapi.json").get_json()


@pytest.fixture
def keys(app, make_dealer) -> dict[Role, str]:
    dealer = make_dealer("Fuzz Motors", ("fuzz-motors.example",))
    return {Role.sender: dealer.key, Role.staff: make_key(app, Role.staff), Role.ingest: make_key(app, Role.ingest)}


def roles_for(path: str) -> list[Role]:
    """The roles whose keys reach this operation's code (a wrong one is a 403 and tests nothing)."""
    if path.startswith("/v1/inbound"):
        return [Role.ingest]
    if path.startswith(SENDER_ONLY):
        return [Role.sender]
    if path.startswith("/v1/suppressions"):
        return [Role.sender, Role.staff]
    return [Role.staff]


# Raw bodies (a message, a CSV file) are sent as the text schemathesis generates for them.
schemathesis.serializer.alias("message/rfc822", "text/plain")
schemathesis.serializer.alias("text/csv", "text/plain")
schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(app, case, keys):
    for role in roles_for(case.path):
        case.call_and_validate(headers={"Authorization": f"Bearer {keys[role]}"}, checks=CHECKS, app=app)
