"""The trust-and-safety console at /admin, through HTTP on both databases: login (password, second
factor, rate limit), CSRF on every form, roles, the alerts queue, alert and account pages,
suspension and reinstatement, the evidence viewer, and address search with removal."""
from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from suppression import aup, counters, events
from suppression.db import db, utcnow
from suppression.models import (
    Account,
    AccountStatus,
    Alert,
    AuditEntry,
    Event,
    Outcome,
    Suppression,
)
from tests.conftest import STAFF_PASSWORD, Console


def count(app, account_id: int, day_offset: int = 0, **amounts) -> None:
    with app.app_context():
        for counter, amount in amounts.items():
            counters.bump(account_id, counter, amount, utcnow().date() - timedelta(days=day_offset))
        db.session.commit()


def evaluate(app) -> None:
    with app.app_context():
        aup.evaluate()
        db.session.commit()


def alert_of(app, account_id: int) -> Alert:
    with app.app_context():
        alert = db.session.scalar(select(Alert).where(Alert.account_id == account_id).order_by(Alert.id.desc()))
        db.session.expunge(alert)
        return alert


def audit_of(app, action: str) -> list[tuple[str, str | None]]:
    with app.app_context():
        return db.session.execute(select(AuditEntry.actor, AuditEntry.reason)
                                  .where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def status_of(app, account_id: int) -> AccountStatus:
    with app.app_context():
        return db.session.get(Account, account_id).status


def text(response) -> str:
    return response.get_data(as_text=True)


# Logging in

def test_every_page_but_login_sends_a_stranger_to_the_login_form(client, staff):
    assert staff.get("/admin/").status_code == 302  # a staff API key opens the API, not the console
    response = client.get("/admin/accounts?status=active")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/accounts?status%3Dactive"
    assert client.get("/admin/login").status_code == 200


def test_a_login_opens_a_session_cookie_for_the_console_alone(app, make_staff):
    console = make_staff(login=False)
    response = console.login()
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert "ana@platform.example (admin)" in text(console.get("/admin/"))
    assert audit_of(app, "staff.login") == [("staff:ana@platform.example", None)]


def test_over_https_the_cookie_is_secure(app, make_staff):
    console = make_staff(login=False)
    token = console.client.get("/admin/login", base_url="https://console.example").get_data(as_text=True)
    csrf = token.split('name="csrf_token" value="')[1].split('"')[0]
    response = console.client.post("/admin/login", base_url="https://console.example",
                                   data={"email": console.email, "password": STAFF_PASSWORD, "csrf_token": csrf})
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_or_unknown_address_gets_the_same_vague_answer(make_staff):
    console = make_staff(login=False)
    wrong = console.login(password="not the password at all")
    stranger = Console(console.client, "nobody@platform.example").login()
    assert wrong.status_code == stranger.status_code == 401
    assert "That address, password or code is not right." in text(wrong)
    assert text(console.get("/admin/", follow_redirects=False)) == text(console.get("/admin/")) and \
        console.get("/admin/").status_code == 302


def test_failed_logins_are_limited_and_then_even_the_right_password_waits(app, make_staff, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", "3/minute")
    console = make_staff(login=False)
    answers = [console.login(password="wrong password, again").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    assert console.login().status_code == 429


def test_a_second_factor_is_needed_and_each_code_works_once(app, make_staff):
    console = make_staff(totp=True, login=False)
    assert console.login().status_code == 401  # the password alone
    code = pyotp.TOTP(console.totp_secret).now()
    assert console.login(code=code).status_code == 302
    console.post("/admin/logout")
    assert console.login(code=code).status_code == 401  # replayed


def test_logout_ends_the_session(make_staff):
    console = make_staff()
    assert console.post("/admin/logout").status_code == 302
    assert console.get("/admin/").status_code == 302


def test_a_disabled_user_is_out_at_the_next_request(app, make_staff):
    console = make_staff()
    result = app.test_cli_runner().invoke(args=["staff", "disable", "ana@platform.example"])
    assert result.exit_code == 0, result.output
    assert console.get("/admin/").status_code == 302
    assert console.login().status_code == 401


# CSRF and roles

def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(app, make_staff, dealer):
    console = make_staff()
    response = console.client.post(f"/admin/accounts/{dealer.account_id}/suspend", data={"note": "forged"})
    assert response.status_code == 400 and "did not come from this console" in text(response)
    other = make_staff("eve@platform.example")  # another session's token is no better
    stolen = other.token()
    response = console.client.post(f"/admin/accounts/{dealer.account_id}/suspend",
                                   data={"note": "forged", "csrf_token": stolen})
    assert response.status_code == 400
    assert status_of(app, dealer.account_id) == AccountStatus.active


def test_an_analyst_sees_no_admin_action_and_a_forged_post_is_403(app, make_staff, dealer):
    analyst = make_staff("ann@platform.example", role="analyst")
    page = text(analyst.get(f"/admin/accounts/{dealer.account_id}"))
    assert 'id="suspend"' not in page and "Alpha Motors" in page
    response = analyst.post(f"/admin/accounts/{dealer.account_id}/suspend", {"note": "I should not"})
    assert response.status_code == 403 and "needs an admin" in text(response)
    assert status_of(app, dealer.account_id) == AccountStatus.active


# Alerts

def test_the_queue_puts_critical_first_then_the_oldest(app, make_dealer, make_staff, monkeypatch):
    from config.policy import Policy
    monkeypatch.setitem(app.config, "POLICY", Policy(auto_suspend=False))
    old_warning, critical, new_warning = make_dealer("Old Warning"), make_dealer("Critical"), make_dealer("New Warning")
    count(app, old_warning.account_id, sends=1000, complaints=1)
    evaluate(app)
    count(app, critical.account_id, sends=1000, complaints=5)
    count(app, new_warning.account_id, sends=1000, hard_bounces=20)
    evaluate(app)
    page = text(make_staff().get("/admin/"))
    assert page.index("Critical") < page.index("Old Warning") < page.index("New Warning")
    filtered = text(make_staff("bo@platform.example").get("/admin/?severity=warning&rule=hard_bounce_rate"))
    assert "New Warning" in filtered and "Old Warning" not in filtered and "Critical</a>" not in filtered


def test_the_queue_pages(app, make_dealer, make_staff, monkeypatch):
    monkeypatch.setattr("suppression.admin.alerts.PER_PAGE", 2)
    for n in range(3):
        count(app, make_dealer(f"Dealer {n}").account_id, sends=1000, complaints=1)
    evaluate(app)
    console = make_staff()
    first, second = text(console.get("/admin/")), text(console.get("/admin/?page=2"))
    assert "Page 1 of 2 (3)" in first and first.count('class="alert-link"') == 2
    assert second.count('class="alert-link"') == 1 and "Dealer 2" in second


@pytest.mark.parametrize("query", ["severity=loud", "page=0", "account=x", f"account={2**63}", "status=gone"])
def test_a_bad_filter_is_a_clear_422_page(make_staff, query):
    response = make_staff().get(f"/admin/?{query}")
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "must be" in text(response)


def test_acknowledge_then_resolve_with_a_note_audited_with_the_staff_user(app, make_staff, dealer):
    count(app, dealer.account_id, sends=1000, complaints=1)
    evaluate(app)
    alert = alert_of(app, dealer.account_id)
    analyst = make_staff("ann@platform.example", role="analyst")
    assert analyst.post(f"/admin/alerts/{alert.id}/acknowledge").status_code == 303
    page = text(analyst.get(f"/admin/alerts/{alert.id}"))
    assert "acknowledged" in page and 'id="resolve"' not in page
    assert analyst.post(f"/admin/alerts/{alert.id}/resolve", {"note": "fine"}).status_code == 403
    admin = make_staff()
    no_note = admin.post(f"/admin/alerts/{alert.id}/resolve", follow_redirects=True)
    assert "say why in a note" in text(no_note)
    assert admin.post(f"/admin/alerts/{alert.id}/resolve", {"note": "list cleaned"}).status_code == 303
    again = admin.post(f"/admin/alerts/{alert.id}/dismiss", {"note": "twice"}, follow_redirects=True)
    assert "cannot be dismissed" in text(again)
    assert alert_of(app, dealer.account_id).status.value == "resolved"
    assert audit_of(app, "alert.acknowledge") == [("staff:ann@platform.example", None)]
    assert audit_of(app, "alert.resolve") == [("staff:ana@platform.example", "list cleaned")]


def test_unknown_ids_are_a_404_page(make_staff):
    console = make_staff()
    for path in ("/admin/alerts/999", "/admin/accounts/999", "/admin/events/999", "/admin/nothing-here"):
        response = console.get(path)
        assert response.status_code == 404 and response.mimetype == "text/html", path
    assert console.post("/admin/alerts/999/acknowledge").status_code == 404


# Accounts

def test_suspend_then_reinstate_each_needs_a_note_and_the_sender_feels_it(app, make_staff, dealer):
    admin = make_staff()
    path = f"/admin/accounts/{dealer.account_id}"
    refused = admin.post(f"{path}/suspend", {"note": "  "}, follow_redirects=True)
    assert "say why" in text(refused) and status_of(app, dealer.account_id) == AccountStatus.active
    assert admin.post(f"{path}/suspend", {"note": "purchased list"}).status_code == 303
    assert dealer.post("/v1/check", json={"addresses": ["a@example.com"]}).status_code == 403
    page = text(admin.get(path))
    assert "purchased list" in page and 'id="reinstate"' in page
    assert admin.post(f"{path}/reinstate", {"note": "new opt-in process"}).status_code == 303
    assert dealer.post("/v1/check", json={"addresses": ["a@example.com"]}).status_code == 200
    assert audit_of(app, "account.suspend") == [("staff:ana@platform.example", "purchased list")]
    assert audit_of(app, "account.reinstate") == [("staff:ana@platform.example", "new opt-in process")]


def test_the_account_page_draws_volume_and_rates_with_their_thresholds(app, make_staff, dealer):
    for day in range(10):
        count(app, dealer.account_id, day_offset=day, sends=200, complaints=1 if day == 0 else 0)
    page = text(make_staff().get(f"/admin/accounts/{dealer.account_id}"))
    assert page.count("<svg") == 4 and "Sends per day" in page
    assert "warning 0.10 %" in page and "critical 0.30 %" in page  # the complaint rule's lines
    assert 'class="rate"' in page  # 1,400 sends in 7 days: the rates are defined on recent days
    assert "<script" not in page


def test_the_accounts_list_finds_by_name_and_status(app, make_staff, make_dealer):
    make_dealer("Zeta Cars"), make_dealer("Omega Trucks")
    console = make_staff()
    page = text(console.get("/admin/accounts?q=zeta"))
    assert "Zeta Cars" in page and "Omega Trucks" not in page
    assert "Zeta Cars" not in text(console.get("/admin/accounts?status=suspended"))


# Evidence

HOSTILE = (b"From: attacker@example.net\r\nTo: abuse@platform.example\r\nSubject: <script>document.title='pwned'</script>\r\n"
           b"X-Long: " + b"A" * 5_000_000 + b"\r\nContent-Type: text/html\r\n\r\n"
           b"<html><body onload=\"document.title='pwned'\"><img src=\"http://127.0.0.1:9/marker.png\">"
           b"<a href=\"javascript:alert(1)\">click</a><script>document.title='pwned'</script></body></html>\r\n")


def store(app, raw: bytes, account_id: int | None = None) -> int:
    with app.app_context():
        [(event_id, _)] = events.store("mail", [(raw, events.mail_key(raw))])
        if account_id is not None:
            event = db.session.get(Event, event_id)
            event.account_id, event.outcome = account_id, Outcome.complaint
        db.session.commit()
        return event_id


def test_the_viewer_shows_a_hostile_message_as_text_and_the_download_is_every_byte(app, make_staff, dealer):
    event_id = store(app, HOSTILE, dealer.account_id)
    console = make_staff()
    response = console.get(f"/admin/events/{event_id}")
    page = text(response)
    assert response.status_code == 200
    assert "script-src" not in response.headers["Content-Security-Policy"]  # so default-src 'none' applies
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "&lt;script&gt;document.title" in page and "<script" not in page
    assert "<img" not in page and 'href="javascript:' not in page and "onload=\"" not in page
    assert 'id="cut"' in page and len(page) < 1_000_000  # the 5 MB header is cut for the page
    download = console.get(f"/admin/events/{event_id}/raw")
    assert download.data == HOSTILE and download.mimetype == "application/octet-stream"
    assert download.headers["Content-Disposition"] == f'attachment; filename="event-{event_id}.eml"'
    assert f"/admin/events/{event_id}" in text(console.get(f"/admin/accounts/{dealer.account_id}"))


# Address search and removal

def test_search_finds_every_scope_and_an_admin_removes_one_with_a_reason(app, make_staff, dealer, staff):
    assert staff.post("/v1/suppressions", json={"suppressions": [
        {"address": "Gone@Example.com", "reason": "hard_bounce"}]}).status_code == 201
    assert dealer.post("/v1/suppressions", json={"suppressions": [{"address": "gone@example.com"}]}).status_code == 201
    analyst = make_staff("ann@platform.example", role="analyst")
    page = text(analyst.get("/admin/search?address=GONE@example.com"))
    assert page.count("<tr>") == 2 + 1 and "hard_bounce" in page and "Alpha Motors" in page and "manual" in page
    assert "Remove</button>" not in page
    with app.app_context():
        global_id = db.session.scalar(select(Suppression.id).where(Suppression.account_id.is_(None)))
    assert analyst.post(f"/admin/suppressions/{global_id}/remove", {"note": "x"}).status_code == 403
    admin = make_staff()
    assert admin.post(f"/admin/suppressions/{global_id}/remove", {"note": "bounced by mistake"}).status_code == 303
    page = text(admin.get("/admin/search?address=gone@example.com"))
    assert page.count("<tr>") == 1 + 1 and "manual" in page
    assert audit_of(app, "suppression.remove") == [("staff:ana@platform.example", "bounced by mistake")]
    assert "No suppression of this address" in text(admin.get("/admin/search?address=new@example.com"))
