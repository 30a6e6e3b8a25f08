"""Accounts, keys and suspension, through the staff API and the operator CLI."""
from __future__ import annotations

from suppression.db import db
from suppression.models import ApiKey


def last_line(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_staff_creates_and_lists_accounts(staff):
    body = {"name": "Bravo Cars", "domains": ["Bravo-Cars.example", "mail.bravo.example"],
            "postal_address": "2 High St"}
    response = staff.post("/v1/accounts", json=body)
    assert response.status_code == 201
    created = response.json
    assert created["domains"] == ["bravo-cars.example", "mail.bravo.example"] and created["status"] == "active"
    listed = staff.get("/v1/accounts").json["items"]
    assert [a["id"] for a in listed] == [created["id"]]
    assert staff.get(f"/v1/accounts/{created['id']}").json["name"] == "Bravo Cars"


def test_a_sending_domain_belongs_to_one_account(staff):
    assert staff.post("/v1/accounts", json={"name": "A", "domains": ["shared.example"]}).status_code == 201
    response = staff.post("/v1/accounts", json={"name": "B", "domains": ["SHARED.example"]})
    assert response.status_code == 409 and response.json["error"]["code"] == "domain_taken"
    assert staff.post("/v1/accounts", json={"name": "C", "domains": ["not a domain"]}).status_code == 422


def test_a_domain_race_the_checks_miss_is_a_409_not_a_500(app, staff, monkeypatch):
    from suppression import accounts
    assert staff.post("/v1/accounts", json={"name": "A", "domains": ["race.example"]}).status_code == 201
    # As if a concurrent request had added the domain between our check and our insert.
    monkeypatch.setattr(accounts.db.session, "get", lambda *args, **kwargs: None)
    response = staff.post("/v1/accounts", json={"name": "B", "domains": ["race.example"]})
    assert response.status_code == 409 and response.json["error"]["code"] == "conflict"


def test_suspension_and_reinstatement_are_audited_with_reasons(dealer, staff):
    staff.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "complaint rate 0.5%"})
    account = staff.get(f"/v1/accounts/{dealer.account_id}").json
    assert (account["status"], account["suspension_reason"]) == ("suspended", "complaint rate 0.5%")
    staff.post(f"/v1/accounts/{dealer.account_id}/reinstate", json={"reason": "list cleaned"})
    entries = staff.get(f"/v1/audit?account_id={dealer.account_id}").json["items"]
    assert [(e["action"], e["reason"]) for e in entries[:2]] == [
        ("account.reinstate", "list cleaned"), ("account.suspend", "complaint rate 0.5%")]
    assert entries[0]["actor"].startswith("key:") and entries[0]["at"].endswith("Z")


def test_cli_creates_an_account_and_prints_its_id_last(app, runner):
    account_id = last_line(runner.invoke(args=["accounts", "create", "Charlie Autos", "--domain", "charlie.example"]))
    assert account_id.isdigit()
    assert f"{account_id}\tactive\tCharlie Autos" in runner.invoke(args=["accounts", "list"]).output


def test_cli_sender_key_works_for_its_account_only(app, runner, client):
    account_id = last_line(runner.invoke(args=["accounts", "create", "Delta"]))
    key = last_line(runner.invoke(args=["keys", "create", "--role", "sender", "--account", account_id]))
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/check", json={"addresses": ["a@example.com"]}, headers=headers).status_code == 200
    assert client.get("/v1/accounts", headers=headers).status_code == 403


def test_cli_keys_are_stored_hashed_and_revocable(app, runner, client):
    key = last_line(runner.invoke(args=["keys", "create", "--role", "staff"]))
    with app.app_context():
        stored = db.session.scalars(db.select(ApiKey)).one()
        assert key not in (stored.digest, stored.prefix) and len(stored.digest) == 64
        key_id = stored.id
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/accounts", headers=headers).status_code == 200
    assert runner.invoke(args=["keys", "revoke", str(key_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["keys", "list"]).output
    assert client.get("/v1/accounts", headers=headers).status_code == 401


def test_cli_refuses_inconsistent_keys_clearly(runner):
    result = runner.invoke(args=["keys", "create", "--role", "sender"])
    assert result.exit_code != 0 and "--account" in result.output
    result = runner.invoke(args=["keys", "create", "--role", "sender", "--account", "424242"])
    assert result.exit_code != 0 and "no account 424242" in result.output
    assert runner.invoke(args=["keys", "revoke", "424242"]).exit_code != 0
    assert runner.invoke(args=["accounts", "create", "x" * 201]).exit_code == 1


def test_demo_prints_keys_on_first_start_only(runner, client):
    first = runner.invoke(args=["demo"])
    sender = next(line.split()[-1] for line in first.output.splitlines() if "sender:" in line)
    assert client.post("/v1/check", json={"addresses": ["a@example.com"]},
                       headers={"Authorization": f"Bearer {sender}"}).status_code == 200
    assert "sk_" not in runner.invoke(args=["demo"]).output


def test_demo_prints_a_console_login_that_works(app, runner):
    from tests.conftest import Console
    line = next(line for line in runner.invoke(args=["demo"]).output.splitlines() if line.startswith("console:"))
    email, password = line.split(" as ")[1].split(" with the password ")
    assert Console(app.test_client(), email).login(password.split()[0]).status_code == 302
