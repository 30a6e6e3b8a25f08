"""The API's contract holds for bad input (issue: "Every bad input gets a clear answer"): ids past
the 64-bit range, unknown fields and parameters, errors that name their field, 429s that say when
to come back, and the errors gunicorn answers itself, all in the JSON error object."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from suppression.db import db
from suppression.models import Role, Suppression
from tests.conftest import Api, make_key
from tests.daemons import free_port
from tests.nginx_site import gunicorn, wait_healthy

HUGE = 2**63  # one past the largest BIGINT


def error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return response.get_json()["error"]


@pytest.fixture
def ingest(app, client) -> Api:
    return Api(client, make_key(app, Role.ingest))


@pytest.mark.parametrize(("method", "path"), [
    ("get", f"/v1/accounts/{HUGE}"), ("post", f"/v1/accounts/{HUGE}/suspend"),
    ("post", f"/v1/accounts/{HUGE}/reinstate"), ("get", f"/v1/accounts/{HUGE}/metrics"),
    ("get", f"/v1/alerts/{HUGE}"), ("post", f"/v1/seeds/{HUGE}/retire"), ("get", f"/v1/findings/{HUGE}/raw"),
    ("get", f"/v1/accounts/{HUGE * 10**30}"),
    ("get", f"/v1/accounts/{2**31}"), ("post", f"/v1/seeds/{2**31}/retire"),  # past the INTEGER keys
])
def test_an_id_past_64_bits_in_a_path_names_nothing(staff, method, path):
    assert error(getattr(staff, method)(path, json={"reason": "x"}), 404)["code"] == "not_found"


def test_an_event_id_past_64_bits_names_nothing(ingest):
    assert error(ingest.get(f"/v1/inbound/{HUGE}"), 404)["code"] == "not_found"


@pytest.mark.parametrize("path", [
    f"/v1/suppressions?before={HUGE}", f"/v1/suppressions?account_id={HUGE}", f"/v1/accounts?before={HUGE}",
    f"/v1/audit?before={HUGE}", f"/v1/audit?account_id={HUGE}", f"/v1/suppressions/export?account_id={HUGE}",
    f"/v1/alerts?account_id={HUGE}", f"/v1/findings?seed_id={HUGE}",
    f"/v1/suppressions?account_id={2**31}", f"/v1/accounts?before={2**31}", f"/v1/seeds?before={2**31}",
])
def test_an_id_past_64_bits_in_a_parameter_is_a_422_naming_it(staff, path):
    found = error(staff.get(path), 422)
    assert found["details"][0]["field"].endswith(path.split("?")[1].split("=")[0])


def test_an_id_past_64_bits_in_a_body_or_an_import_or_a_delete_is_a_422(staff):
    added = staff.post("/v1/suppressions", json={"account_id": HUGE, "suppressions": [
        {"address": "a@example.com", "reason": "manual"}]})
    assert error(added, 422)["details"][0]["field"].endswith("account_id")
    imported = staff.post(f"/v1/suppressions/import?account_id={HUGE}", data=b"a@example.com\n",
                          content_type="text/csv")
    assert error(imported, 422)["details"][0]["field"].endswith("account_id")
    deleted = staff.delete(f"/v1/suppressions/a@example.com?account_id={HUGE}", json={"reason": "x"})
    assert error(deleted, 422)["details"][0]["field"].endswith("account_id")


def test_a_staff_add_with_the_account_in_the_query_is_refused_not_made_global(app, staff, make_dealer):
    dealer = make_dealer()
    answer = staff.post(f"/v1/suppressions?account_id={dealer.account_id}",
                        json={"suppressions": [{"address": "c@example.com", "reason": "complained"}]})
    found = error(answer, 422)
    assert found["code"] == "unknown_parameter" and found["details"] == [
        {"field": "account_id", "problem": "not a parameter of this endpoint"}]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert dealer.post("/v1/check", json={"addresses": ["c@example.com"]}).get_json()["results"][0]["send"]


def test_a_misspelt_field_is_a_422_naming_it_not_a_check_against_no_list(dealer):
    found = error(dealer.post("/v1/check", json={"addresses": ["a@example.com"], "lists": "offers"}), 422)
    assert [d["field"] for d in found["details"]] == ["lists"]
    assert error(dealer.get("/v1/suppressions?limt=5"), 422)["details"][0]["field"] == "limt"


def test_unknown_parameters_are_refused_even_where_no_parameter_is_taken(dealer, ingest):
    assert error(dealer.post("/v1/check?list=offers", json={"addresses": ["a@example.com"]}), 422)["details"] == [
        {"field": "list", "problem": "not a parameter of this endpoint"}]
    assert ingest.post("/v1/inbound/mail?kind=bounce", data=b"From: a@b.example\r\n\r\nx",
                       content_type="message/rfc822").status_code == 202  # a parameter it does take


@pytest.mark.parametrize(("call", "field"), [
    (lambda staff, dealer: dealer.post("/v1/check", json={"addresses": ["a@example.com"], "list": "Bad List!"}),
     "list"),
    (lambda staff, dealer: dealer.post("/v1/suppressions", json={"suppressions": [{"address": "a@example.com"}],
                                                                 "expires_at": "2001-01-01T00:00:00Z"}),
     "expires_at"),
    (lambda staff, dealer: staff.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "   "}),
     "reason"),
    (lambda staff, dealer: staff.post("/v1/accounts", json={"name": "X", "domains": ["not a domain"]}), "domains"),
])
def test_every_422_names_the_field_at_fault(staff, dealer, call, field):
    found = error(call(staff, dealer), 422)
    assert found["details"] and found["details"][0]["field"] == field


def test_a_429_says_when_to_come_back(client):
    for _ in range(25):
        answer = client.get("/v1/suppressions", headers={"Authorization": "Bearer wrong"})
    assert error(answer, 429)["code"] == "rate_limited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 61


def test_a_bad_token_page_flood_429_says_when_to_come_back(client):
    for _ in range(25):
        answer = client.get("/u/not-a-token-" + "x" * 20)
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1


# gunicorn's own answers ----------------------------------------------------------------------------

def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_the_errors_gunicorn_answers_itself_are_the_json_error_object(database_url, tmp_path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="k" * 40)
    log = Path(tmp_path) / "gunicorn.log"
    with gunicorn(env, f"127.0.0.1:{port}", log) as proc:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        too_long = raw_request(port, b"GET /v1/check?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        twice = raw_request(port, b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  b"Content-Type: text/csv\r\nContent-Length: 2\r\n\r\n{}")
    for answer, status, field in ((too_long, b"414", "url"), (twice, b"400", "headers")):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == status and b"Content-Type: application/json" in head
        import json
        assert json.loads(body)["error"]["details"][0]["field"] == field
