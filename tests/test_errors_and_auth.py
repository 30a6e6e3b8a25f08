"""Every bad input gets a JSON error object with the right status, never a 500."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from suppression import accounts
from suppression.db import db


def error_code(response):
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.json["error"]["code"]


def test_missing_key_is_401(client):
    response = client.post("/v1/check", json={"addresses": []})
    assert response.status_code == 401 and error_code(response) == "unauthorized"


def test_unknown_key_is_401(client):
    response = client.post("/v1/check", json={"addresses": []}, headers={"Authorization": "Bearer sk_nope"})
    assert response.status_code == 401


def test_revoked_key_is_401_at_once(app, dealer):
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 200
    with app.app_context():
        accounts.revoke_key(accounts.authenticate(dealer.key).key_id, "test")
        db.session.commit()
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 401


def test_suspension_applies_at_once_to_a_key_just_used(dealer, staff):
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 200
    assert staff.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "trap hits"}).status_code == 200
    response = dealer.post("/v1/check", json={"addresses": []})
    assert response.status_code == 403 and error_code(response) == "account_suspended"
    assert staff.post(f"/v1/accounts/{dealer.account_id}/reinstate", json={"reason": "cleaned"}).status_code == 200
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 200


def revoke_elsewhere(app, key: str) -> None:
    """Revoke as another process would: in the database, unseen by this process's memory."""
    with app.app_context():
        db.session.execute(text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE digest = :d"),
                           {"d": accounts.digest(key)})
        db.session.commit()


def test_a_key_revoked_by_another_process_stops_within_the_cache_time(app, dealer, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(accounts.time, "monotonic", lambda: clock[0])
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 200
    revoke_elsewhere(app, dealer.key)
    clock[0] += app.config["AUTH_CACHE_SECONDS"] - 0.5
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 200  # remembered, as documented
    clock[0] += 1
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 401


def test_with_no_cache_time_every_call_reads_its_key(app, dealer, monkeypatch):
    monkeypatch.setitem(app.config, "AUTH_CACHE_SECONDS", 0)
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 200
    revoke_elsewhere(app, dealer.key)
    assert dealer.post("/v1/check", json={"addresses": []}).status_code == 401


def test_wrong_role_is_403(dealer, staff):
    assert staff.post("/v1/check", json={"addresses": []}).status_code == 403
    response = dealer.post("/v1/accounts", json={"name": "Mine now"})
    assert response.status_code == 403 and error_code(response) == "forbidden"


def test_malformed_json_is_400(dealer):
    response = dealer.post("/v1/check", data='{"addresses": [', content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "malformed_json"


@pytest.mark.parametrize("body", [
    {"addresses": "a@example.com"}, {"addresses": [1, 2]}, {"addresses": [None]}, {}, [],
    {"addresses": ["a@example.com"], "list": 7}, "text",
])
def test_wrong_types_are_422_naming_the_field(dealer, body):
    response = dealer.post("/v1/check", json=body)
    assert response.status_code == 422 and error_code(response) == "invalid_request"
    assert response.json["error"]["details"]


def test_non_json_body_to_a_json_endpoint_is_422(dealer):
    response = dealer.post("/v1/check", data="a@example.com", content_type="text/plain")
    assert response.status_code == 422


def test_oversized_body_is_413(app, dealer):
    body = '{"addresses": ["' + "a" * (app.config["MAX_JSON_BYTES"] + 10) + '"]}'
    response = dealer.post("/v1/check", data=body, content_type="application/json")
    assert response.status_code == 413 and error_code(response) == "payload_too_large"


def test_too_many_suppressions_in_one_add_is_422(dealer):
    body = {"suppressions": [{"address": f"u{i}@example.com"} for i in range(1_001)]}
    assert dealer.post("/v1/suppressions", json=body).status_code == 422


def test_unknown_route_and_wrong_method_are_json(client):
    assert error_code(client.get("/v1/nothing-here")) == "not_found"
    response = client.get("/v1/check")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"


def test_bad_query_parameters_are_422(dealer):
    for query in ("limit=abc", "limit=0", "limit=100000", "before=x", "reason=bogus", "account_id=x"):
        assert dealer.get(f"/v1/suppressions?{query}").status_code == 422, query


def test_multipart_upload_without_a_file_is_422(dealer):
    response = dealer.post("/v1/suppressions/import", data={"note": "no file"}, content_type="multipart/form-data")
    assert response.status_code == 422 and error_code(response) == "unexpected_field"  # tests/test_uploads.py


def test_form_encoded_upload_is_415(dealer):
    response = dealer.post("/v1/check/filter", data={"a@example.com": ""})
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"


def test_suspending_twice_is_409_and_unknown_account_404(dealer, staff):
    path = f"/v1/accounts/{dealer.account_id}/suspend"
    assert staff.post(path, json={"reason": "r"}).status_code == 200
    assert staff.post(path, json={"reason": "r"}).status_code == 409
    assert staff.post("/v1/accounts/999999/suspend", json={"reason": "r"}).status_code == 404
    assert staff.post(path, json={}).status_code == 422


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, st.fixed_dictionaries({"addresses": st.lists(json_values, max_size=5)},
                                                          optional={"list": json_values})))
def test_no_json_body_makes_the_check_fail_with_a_500(dealer, body):
    response = dealer.post("/v1/check", json=body)
    assert response.status_code in (200, 400, 422), response.get_data(as_text=True)
    assert response.is_json


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_no_bytes_make_the_filter_or_import_fail_with_a_500(dealer, raw):
    for path in ("/v1/check/filter", "/v1/suppressions/import"):
        response = dealer.post(path, data=raw, content_type="text/csv")
        assert response.status_code in (200, 422), response.get_data(as_text=True)
