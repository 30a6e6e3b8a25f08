"""/openapi.json documents every answer (issue 13, item 7): each operation its successes with
their bodies, and every error status it can give as the error object; real answers match what
the document says, key for key."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from suppression.api.schemas import (
    ERRORS,
    MAX_CHECK_ADDRESSES,
    MAX_PAGE_SIZE,
    MAX_SUPPRESSION_BATCH,
)
from suppression.db import db, utcnow
from suppression.models import (
    Alert,
    AlertStatus,
    Event,
    Finding,
    FindingSeverity,
    Severity,
)

METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"
# Answers that are not the error object, though their status is an error's.
OWN_ERROR_BODIES = {("/readyz", "get", "503")}
# Operations whose state can refuse the change (409), and the upload endpoints (415).
CONFLICTS = {("/v1/sends", "post"), ("/v1/accounts", "post"), ("/v1/accounts/{account_id}/suspend", "post"),
             ("/v1/accounts/{account_id}/reinstate", "post"), ("/v1/alerts/{alert_id}/acknowledge", "post"),
             ("/v1/alerts/{alert_id}/resolve", "post"), ("/v1/alerts/{alert_id}/dismiss", "post"),
             ("/v1/seeds", "post"), ("/v1/seeds/{seed_id}/retire", "post")}
UPLOADS = {("/v1/suppressions/import", "post"), ("/v1/check/filter", "post")}


@pytest.fixture(scope="module")
def spec():
    from suppression import create_app
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True})
    return app.test_client().get("/openapi.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_documents_a_success_with_its_body(spec):
    missing = []
    for path, method, operation in operations(spec):
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        if not successes or any(not _schemas(r) and status != "204" for status, r in successes.items()):
            missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_every_documented_response_has_a_body_schema(spec):
    bare = [f"{method.upper()} {path} {status}" for path, method, operation in operations(spec)
            for status, response in operation["responses"].items() if status != "204" and not _schemas(response)]
    assert bare == []


def test_every_error_is_the_error_object_and_the_common_ones_are_everywhere(spec):
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        assert {str(status) for status in ERRORS} <= set(responses), (method, path)
        for status, response in responses.items():
            if status[0] in "45" and (path, method, status) not in OWN_ERROR_BODIES:
                assert _schemas(response) == [ERROR_REF], (method, path, status)
        for status in ("429", "503"):
            assert "Retry-After" in responses[status].get("headers", {}) or (path, method, status) in OWN_ERROR_BODIES


def test_conflicts_and_unsupported_bodies_are_documented_where_they_happen(spec):
    documented = {(path, method): set(operation["responses"]) for path, method, operation in operations(spec)}
    assert all("409" in documented[op] for op in CONFLICTS)
    assert all("415" in documented[op] for op in UPLOADS)
    with_bodies = {(path, method) for path, method, operation in operations(spec) if "requestBody" in operation}
    assert all("415" in documented[op] for op in with_bodies)
    assert "415" not in documented[("/v1/suppressions", "get")]


# Real answers against the document -------------------------------------------------------------

def resolve(spec, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
         "integer": int, "number": (int, float)}


def problems(spec, schema: dict, value, at: str = "$") -> list[str]:
    """Where `value` breaks `schema` (the subset of JSON Schema pydantic writes). An object's
    documented properties are taken as all its keys: an undocumented key is a problem."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        found = [problems(spec, option, value, at) for option in schema["anyOf"]]
        return [] if [] in found else [f"{at}: none of anyOf matches: {found}"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    kind = schema.get("type")
    if kind and (not isinstance(value, TYPES[kind]) or (isinstance(value, bool) and kind in ("integer", "number"))):
        return [f"{at}: {value!r} is not {kind}"]
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        parse = date.fromisoformat if schema["format"] == "date" else datetime.fromisoformat
        try:
            parse(value)
        except ValueError:
            return [f"{at}: {value!r} is not a {schema['format']}"]
    if kind == "array":
        return [p for i, item in enumerate(value) for p in problems(spec, schema.get("items", {}), item, f"{at}[{i}]")]
    if kind == "object":
        return _object_problems(spec, schema, value, at)
    return []


def _object_problems(spec, schema: dict, value: dict, at: str) -> list[str]:
    properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
    found = [f"{at}: {key} missing" for key in schema.get("required", []) if key not in value]
    for key, item in value.items():
        if key in properties:
            found += problems(spec, properties[key], item, f"{at}.{key}")
        elif isinstance(extra, dict):
            found += problems(spec, extra, item, f"{at}.{key}")
        elif properties or extra is False:
            found.append(f"{at}: {key} is not documented")
    return found


def conforms(spec, path: str, method: str, response) -> list[str]:
    """Where a real answer breaks its operation's documented response."""
    documented = spec["paths"][path][method]["responses"].get(str(response.status_code))
    if documented is None:
        return [f"{response.status_code} is not documented for {method.upper()} {path}"]
    content = documented["content"]
    if response.mimetype not in content:
        return [f"{response.mimetype} is not documented for {response.status_code}: {list(content)}"]
    if response.mimetype != "application/json":
        return problems(spec, content[response.mimetype]["schema"], response.get_data(as_text=True))
    return problems(spec, content["application/json"]["schema"], response.get_json())


def test_the_key_comparison_finds_an_undocumented_a_missing_and_a_mistyped_key(spec):
    entry = {"address": "a@example.com", "scope": "global", "account_id": None, "list": None, "reason": "manual",
             "source": "api", "created_at": "2026-01-01T00:00:00Z", "expires_at": None, "event_id": None}
    page = {"$ref": "#/components/schemas/SuppressionPage"}
    assert problems(spec, page, {"items": [entry], "next": None}) == []
    assert problems(spec, page, {"items": [entry | {"extra": 1}], "next": None}) == [
        "$.items[0]: extra is not documented"]
    assert problems(spec, page, {"items": [], "next": "7"})[0].startswith("$.next: none of anyOf")
    assert problems(spec, page, {"items": [{k: v for k, v in entry.items() if k != "scope"}], "next": 3}) == [
        "$.items[0]: scope missing"]


@pytest.fixture
def findings_and_alerts(app, dealer):
    """An alert that was acknowledged, and a finding with its message (rows as the jobs write them)."""
    with app.app_context():
        event = Event(source="mail", kind="auto", dedupe_key="contract-1", raw=b"Subject: hi\r\n\r\nbody",
                      account_id=dealer.account_id)
        db.session.add(event)
        db.session.flush()
        finding = Finding(event_id=event.id, account_id=dealer.account_id, rule="list_unsubscribe",
                          severity=FindingSeverity.warning, detail="no List-Unsubscribe header")
        alert = Alert(account_id=dealer.account_id, rule="complaint_rate", severity=Severity.warning,
                      status=AlertStatus.acknowledged, value=0.004, threshold=0.003, window_days=30, volume=1000,
                      events=4, evidence=[event.id], acknowledged_at=utcnow(), acknowledged_by="key:1",
                      acknowledged_note=None)
        db.session.add_all([finding, alert])
        db.session.commit()
        return {"alert": alert.id, "finding": finding.id}


def test_real_answers_match_the_document(app, spec, staff, dealer, findings_and_alerts):
    account = f"/v1/accounts/{dealer.account_id}"
    alert = f"/v1/alerts/{findings_and_alerts['alert']}"
    calls = [
        ("/v1/suppressions", "post", dealer, {"json": {"suppressions": [{"address": "a@example.com"},
                                                                       {"address": "not an address"}]}}, 201),
        ("/v1/suppressions", "post", dealer, {"json": {"suppressions": [{"address": "a@example.com"}]}}, 200),
        ("/v1/suppressions", "get", dealer, {"query_string": {"limit": 1}}, 200),
        ("/v1/suppressions/import", "post", dealer, {"data": b"email\nb@example.com\nnope\n",
                                                     "content_type": "text/csv"}, 200),
        ("/v1/suppressions/export", "get", dealer, {}, 200),
        ("/v1/suppressions/{address}", "delete", dealer, {"path": "/v1/suppressions/a@example.com"}, 200),
        ("/v1/suppressions/{address}", "delete", dealer, {"path": "/v1/suppressions/a@example.com"}, 404),
        ("/v1/check", "post", dealer, {"json": {"addresses": ["b@example.com", "c@example.com", "x"]}}, 200),
        ("/v1/check/filter", "post", dealer, {"data": b"c@example.com\n", "content_type": "text/csv"}, 200),
        ("/v1/unsubscribe-links", "post", dealer, {"json": {"recipients": [{"address": "c@example.com"},
                                                                           {"address": "x"}]}}, 200),
        ("/v1/sends", "post", dealer, {"json": {"count": 5}, "headers": {"Idempotency-Key": "k1"}}, 201),
        ("/v1/sends", "post", dealer, {"json": {"count": 6}, "headers": {"Idempotency-Key": "k1"}}, 409),
        ("/v1/accounts", "post", staff, {"json": {"name": "Beta", "domains": ["beta.example"]}}, 201),
        ("/v1/accounts", "post", staff, {"json": {"name": "Gamma", "domains": ["beta.example"]}}, 409),
        ("/v1/accounts", "get", staff, {}, 200),
        ("/v1/accounts/{account_id}", "get", staff, {"path": account}, 200),
        ("/v1/accounts/{account_id}/metrics", "get", staff,
         {"path": account + "/metrics", "query_string": {"from": "2026-01-01", "to": "2026-01-03"}}, 200),
        ("/v1/accounts/{account_id}/reinstate", "post", staff, {"path": account + "/reinstate",
                                                                "json": {"reason": "x"}}, 409),
        ("/v1/accounts/{account_id}/suspend", "post", staff, {"path": account + "/suspend", "json": {"reason": "x"}},
         200),
        ("/v1/audit", "get", staff, {}, 200),
        ("/v1/alerts", "get", staff, {}, 200),
        ("/v1/alerts/{alert_id}", "get", staff, {"path": alert}, 200),
        ("/v1/alerts/{alert_id}/resolve", "post", staff, {"path": alert + "/resolve", "json": {"note": "done"}}, 200),
        ("/v1/alerts/{alert_id}/dismiss", "post", staff, {"path": alert + "/dismiss", "json": {"note": "no"}}, 409),
        ("/v1/seeds", "post", staff, {"json": {"address": "seed@seeds.example", "kind": "monitor"}}, 201),
        ("/v1/seeds", "get", staff, {}, 200),
        ("/v1/findings", "get", staff, {}, 200),
        ("/v1/findings/{finding_id}/raw", "get", staff, {"path": f"/v1/findings/{findings_and_alerts['finding']}/raw"},
         200),
        ("/v1/accounts/{account_id}/compliance", "get", staff, {"path": account + "/compliance"}, 200),
        ("/v1/check", "post", dealer, {"json": {"addresses": ["a@example.com"]}}, 403),  # suspended since
        ("/healthz", "get", staff.client, {}, 200),
        ("/readyz", "get", staff.client, {}, 200),
    ]
    for path, method, caller, kwargs, status in calls:
        url = kwargs.pop("path", path)
        response = getattr(caller, method)(url, **kwargs)
        assert response.status_code == status, (method, url, response.get_data(as_text=True)[:300])
        assert conforms(spec, path, method, response) == [], (method, url)


def test_a_readiness_failure_matches_the_document(spec, database_url):
    from suppression import create_app
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and conforms(spec, "/readyz", "get", response) == []


def _schemas(response: dict) -> list[str | dict]:
    """The schema of each media type of a documented response ($refs by name)."""
    found = []
    for media in response.get("content", {}).values():
        schema = media.get("schema")
        if schema:
            found.append(schema.get("$ref", schema))
    return found


def test_the_readme_states_the_limits_of_a_call():
    api = Path(__file__).parent.parent.joinpath("README.md").read_text().split("## API", 1)[1].split("\n## ", 1)[0]
    assert f"{MAX_SUPPRESSION_BATCH:,} entries for `POST /v1/suppressions`" in " ".join(api.split())
    assert f"{MAX_CHECK_ADDRESSES:,} addresses for `/v1/check`" in " ".join(api.split())
    assert f"{MAX_PAGE_SIZE:,} items a page" in api
