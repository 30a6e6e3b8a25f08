"""One-click unsubscribe end to end: links, the recipient pages, undo, tokens and their keys."""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import unquote

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from suppression import create_app, lists, tokens, unsubscribe
from suppression.db import db
from suppression.models import AuditEntry, DailyCount, Reason, Suppression
from tests.conftest import Api

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
MAIL_CLIENT = {"User-Agent": "GoogleOneClickUnsubscribe/1.0"}


def link(api, address: str, list_name: str | None = None) -> dict:
    """The link a dealer would put in a message to `address`."""
    recipient = {"address": address} | ({"list": list_name} if list_name else {})
    response = api.post("/v1/unsubscribe-links", json={"recipients": [recipient]})
    assert response.status_code == 200, response.json
    return response.json["results"][0]


def path_of(result: dict) -> str:
    return result["url"][result["url"].index("/u/"):]


def decision(api, address: str, list_name: str | None = None) -> dict:
    body = {"addresses": [address]} | ({"list": list_name} if list_name else {})
    return api.post("/v1/check", json=body).json["results"][0]


def rows(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(select(Suppression.address, Suppression.scope_key, Suppression.reason,
                                         Suppression.source).order_by(Suppression.id)).all()


# Links


def test_links_carry_both_headers_and_hide_the_address(dealer):
    result = link(dealer, "Jane.Doe@Example.COM")
    token = path_of(result)[len("/u/"):]
    assert result["normalized"] == "jane.doe@example.com"
    assert result["url"] == f"https://unsubscribe.example.net/u/{token}"
    assert result["mailto"] == f"mailto:unsubscribe@unsubscribe.example.net?subject=unsubscribe%20{token}"
    assert result["headers"] == {"List-Unsubscribe": f"<{result['url']}>, <{result['mailto']}>",
                                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert "jane" not in token.lower() and "example" not in token.lower()
    # One header line, folded at the comma, stays far below RFC 5322's 998 characters.
    assert len(result["url"]) < 200 and len(result["headers"]["List-Unsubscribe"]) < 500


def test_links_report_invalid_addresses_in_place_and_reject_bad_lists(dealer):
    response = dealer.post("/v1/unsubscribe-links", json={"recipients": [
        {"address": "not an address"}, {"address": "a@example.com", "list": "Service-Reminders"}]})
    first, second = response.json["results"]
    assert first == {"address": "not an address", "normalized": None, "list": None, "error": "invalid_address"}
    assert second["list"] == "service-reminders" and second["url"].startswith("https://")
    bad = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "a@example.com", "list": "no spaces"}]})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_list"


def test_links_need_a_sender_key_and_at_most_10000_recipients(dealer, staff, client):
    too_many = {"recipients": [{"address": f"u{i}@example.com"} for i in range(10_001)]}
    assert dealer.post("/v1/unsubscribe-links", json=too_many).status_code == 422
    assert staff.post("/v1/unsubscribe-links", json={"recipients": []}).status_code == 403
    assert client.post("/v1/unsubscribe-links", json={"recipients": []}).status_code == 401


def test_suspended_account_gets_no_new_links_but_sent_links_still_unsubscribe(client, dealer, staff):
    sent = link(dealer, "reader@example.com")
    staff.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "complaint rate"})
    refused = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "x@example.com"}]})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "account_suspended"
    assert client.post(path_of(sent), data=ONE_CLICK).status_code == 200
    staff.post(f"/v1/accounts/{dealer.account_id}/reinstate", json={"reason": "fixed"})
    assert decision(dealer, "reader@example.com")["reason"] == "unsubscribed"


# The confirmation page changes nothing


def test_get_and_head_show_the_page_and_change_nothing(app, client, dealer):
    path = path_of(link(dealer, "john.smith@example.com"))
    for _ in range(3):
        page = client.get(path)
        assert client.head(path).status_code == 200
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Alpha Motors" in html and "j***@example.com" in html and "john.smith" not in html
    assert "all dealers" in html and 'method="post"' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # no third-party assets
    assert page.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in page.headers
    assert rows(app) == []
    assert decision(dealer, "john.smith@example.com")["send"] is True


def test_page_stylesheet_is_served_by_the_app(client):
    css = client.get("/u/assets/unsubscribe.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b"@media" in css.data


# One-click POST (RFC 8058)


@pytest.mark.parametrize("send", [
    lambda c, p: c.post(p, data=ONE_CLICK, headers=MAIL_CLIENT),  # form-urlencoded
    lambda c, p: c.post(p, data=ONE_CLICK, content_type="multipart/form-data", headers=MAIL_CLIENT),
    lambda c, p: c.post(p, headers=MAIL_CLIENT),  # empty body
    lambda c, p: c.post(p, data=b"{not json", content_type="application/json"),
    lambda c, p: c.post(p, data=b"--x\r\ngarbage", content_type="multipart/form-data; boundary=x"),
], ids=["urlencoded", "multipart", "empty", "bad-json", "bad-multipart"])
def test_one_click_post_unsubscribes_from_this_dealer_only(app, client, make_dealer, send):
    alpha, beta = make_dealer("Alpha Motors"), make_dealer("Beta Cars")
    response = send(client, path_of(link(alpha, "Pat@Example.com")))
    assert response.status_code == 200  # never a redirect (RFC 8058)
    assert "Set-Cookie" not in response.headers
    assert decision(alpha, "pat@example.com") | {"address": None} == {
        "address": None, "normalized": "pat@example.com", "send": False, "reason": "unsubscribed",
        "scope": "account"}
    assert decision(beta, "pat@example.com")["send"] is True
    assert rows(app) == [("pat@example.com", f"a{alpha.account_id}", Reason.unsubscribed, "one_click")]


def test_one_click_with_a_list_link_stops_only_that_list(client, dealer):
    client.post(path_of(link(dealer, "kim@example.com", "Service")), data=ONE_CLICK)
    assert decision(dealer, "kim@example.com")["send"] is True
    assert decision(dealer, "kim@example.com", "service") | {"address": None} == {
        "address": None, "normalized": "kim@example.com", "send": False, "reason": "unsubscribed", "scope": "list"}


def test_repeated_one_click_posts_leave_one_entry_one_count_one_audit_entry(app, client, dealer):
    path = path_of(link(dealer, "lee@example.com"))
    for _ in range(3):
        assert client.post(path, data=ONE_CLICK).status_code == 200
    assert len(rows(app)) == 1
    with app.app_context():
        count = db.session.get(DailyCount, (dealer.account_id, datetime.now(UTC).date()))
        assert count.unsubscribes == 1 and count.complaints == 0
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "suppression.unsubscribe")).all()
    assert len(entries) == 1
    assert entries[0].account_id == dealer.account_id and entries[0].target == "lee@example.com"
    assert entries[0].details["source"] == "one_click" and entries[0].actor.startswith("recipient:")


def test_fifty_simultaneous_one_click_posts_make_one_row(app, client, dealer):
    path = path_of(link(dealer, "rush@example.com"))
    start, statuses = threading.Barrier(50), []

    def post():
        own = app.test_client()
        start.wait()
        statuses.append(own.post(path, data=ONE_CLICK).status_code)

    threads = [threading.Thread(target=post) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 50
    assert len(rows(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(DailyCount.unsubscribes)) == 1


def bound_app(app, monkeypatch, bind: str):
    """The app as `BIND=<bind> make run` starts it: no PUBLIC_BASE_URL, no mail domain."""
    monkeypatch.setenv("BIND", bind)
    for setting in ("PUBLIC_BASE_URL", "UNSUBSCRIBE_MAILTO_DOMAIN"):
        monkeypatch.delenv(setting, raising=False)
    return create_app({"DATABASE_URL": app.config["DATABASE_URL"], "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"]})


def test_links_reach_the_port_the_service_is_bound_to(app, dealer, live_url, monkeypatch):
    bound = bound_app(app, monkeypatch, live_url.removeprefix("http://"))
    result = link(Api(bound.test_client(), dealer.key), "port@example.com")
    assert result["url"].startswith(live_url + "/u/gAAAAA")
    page = requests.get(result["url"], timeout=10)  # the link as a recipient follows it
    assert page.status_code == 200 and "p***@example.com" in page.text


@pytest.mark.parametrize("bind", ["127.0.0.1:5077", "localhost:5077", "[::1]:5077"])
def test_a_host_with_no_mail_domain_gets_no_mailto_until_one_is_set(app, dealer, monkeypatch, bind):
    result = link(Api(bound_app(app, monkeypatch, bind).test_client(), dealer.key), "bare@example.com")
    assert result["url"].startswith(f"http://{bind}/u/") and result["mailto"] is None
    assert result["headers"]["List-Unsubscribe"] == f"<{result['url']}>"
    monkeypatch.setenv("UNSUBSCRIBE_MAILTO_DOMAIN", "unsub.example.net")
    named = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"]})
    result = link(Api(named.test_client(), dealer.key), "bare@example.com")
    assert result["url"].startswith(f"http://{bind}/u/")
    assert result["mailto"].startswith("mailto:unsubscribe@unsub.example.net?subject=unsubscribe%20gAAAAA")


# The page's form, and undo


def test_page_form_all_dealers_suppresses_globally_and_undo_restores(app, client, make_dealer):
    alpha, beta = make_dealer("Alpha Motors"), make_dealer("Beta Cars")
    path = path_of(link(alpha, "sam@example.com"))
    done = client.post(path, data={"scope": "all"})
    assert done.status_code == 200 and "any dealer on this platform" in done.get_data(as_text=True)
    for api in (alpha, beta):
        assert decision(api, "sam@example.com") | {"address": None} == {
            "address": None, "normalized": "sam@example.com", "send": False, "reason": "global_opt_out",
            "scope": "global"}
    assert rows(app) == [("sam@example.com", "global", Reason.global_opt_out, "page")]
    undone = client.post(path + "/resubscribe")
    assert undone.status_code == 200 and "again" in undone.get_data(as_text=True)
    assert rows(app) == [] and decision(beta, "sam@example.com")["send"] is True
    with app.app_context():
        removal = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "suppression.remove"))
    assert removal.reason == "undone by the recipient" and removal.details["source"] == "page"


def notice(response) -> str:
    """The status line of the page an undo answers with."""
    html = response.get_data(as_text=True)
    return html.split('id="notice">', 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize("list_name,scopes,undone", [
    ("offers", ["this"], "from the “offers” list of Alpha Motors"),
    ("offers", ["dealer"], "from Alpha Motors"),
    ("offers", ["all"], "from any dealer on this platform"),
    (None, ["this"], "from Alpha Motors"),
    (None, ["all"], "from any dealer on this platform"),
    ("offers", ["this", "all"], "from the “offers” list of Alpha Motors and from any dealer on this platform"),
])
def test_undo_says_what_it_undid(app, client, dealer, list_name, scopes, undone):
    path = path_of(link(dealer, "ida@example.com", list_name))
    for scope in scopes:
        assert client.post(path, data={"scope": scope}).status_code == 200
    response = client.post(path + "/resubscribe")
    assert response.status_code == 200 and notice(response) == f"Done: you will get mail {undone} again."
    assert rows(app) == []


def test_undo_removes_only_what_that_link_added(app, client, dealer):
    with app.app_context():
        lists.add(lists.Scope(dealer.account_id), ["ann@example.com"], Reason.complained, "arf", "worker")
        db.session.commit()
    first, second = path_of(link(dealer, "ann@example.com")), path_of(link(dealer, "bob@example.com"))
    client.post(first, data={"scope": "this"})  # already suppressed by the complaint: adds nothing
    client.post(second, data={"scope": "this"})
    client.post(path_of(link(dealer, "bob@example.com")), data={"scope": "all"})  # another link, global
    assert "Nothing to undo" in client.post(first + "/resubscribe").get_data(as_text=True)
    client.post(second + "/resubscribe")
    assert decision(dealer, "ann@example.com")["reason"] == "complained"
    assert decision(dealer, "bob@example.com")["reason"] == "global_opt_out"
    assert {(a, s) for a, s, _, _ in rows(app)} == {("ann@example.com", f"a{dealer.account_id}"),
                                                   ("bob@example.com", "global")}


def test_list_link_offers_list_dealer_and_everyone(client, dealer):
    path = path_of(link(dealer, "max@example.com", "offers"))
    html = client.get(path).get_data(as_text=True)
    assert all(f'value="{v}"' in html for v in ("this", "dealer", "all"))
    client.post(path, data={"scope": "dealer"})
    assert decision(dealer, "max@example.com")["scope"] == "account"


# Bad tokens


def tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


@pytest.mark.parametrize("mangle", [tampered, lambda t: t[:-10], lambda t: t[:20], lambda t: "garbage",
                                    lambda t: "x" * 2000, lambda t: "%C3%A9t%C3%A9", lambda t: t + "AAAA"],
                         ids=["tampered", "truncated", "short", "garbage", "huge", "unicode", "extended"])
def test_bad_tokens_get_a_plain_400_page_that_reveals_nothing(app, client, dealer, mangle):
    token = path_of(link(dealer, "eve@example.com"))[len("/u/"):]
    bad = "/u/" + mangle(token)
    for response in (client.get(bad), client.post(bad, data=ONE_CLICK), client.post(bad + "/resubscribe")):
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert "not valid" in html
        assert not any(w in html for w in ("Traceback", "Fernet", "InvalidToken", "eve@", "Alpha"))
    assert rows(app) == []


def test_token_sealed_with_a_removed_key_is_refused(database_url, dealer):
    old_only = create_app({"DATABASE_URL": database_url, "UNSUBSCRIBE_KEYS": tokens.new_key()})
    with old_only.app_context():
        token = tokens.sealer().seal(dealer.account_id, "old@example.com")
    response = dealer.client.post(f"/u/{token}", data=ONE_CLICK)
    assert response.status_code == 400


def test_token_sealed_with_an_older_key_still_works_after_rotation(app, database_url, dealer):
    older = app.config["UNSUBSCRIBE_KEYS"]
    rotated = create_app({"DATABASE_URL": database_url, "UNSUBSCRIBE_KEYS": f"{tokens.new_key()},{older}"})
    token = path_of(link(dealer, "old@example.com"))  # sealed by the test app's (now older) key
    response = rotated.test_client().post(token, data=ONE_CLICK)
    assert response.status_code == 200
    assert decision(dealer, "old@example.com")["reason"] == "unsubscribed"


def test_routes_under_u_answer_with_pages_not_json(client):
    for response in (client.get("/u/"), client.put("/u/abc"), client.get("/u/a/b/c")):
        assert response.status_code in (404, 405) and response.mimetype == "text/html"


# Rate limits


def test_bad_token_guessing_is_rate_limited_but_real_links_still_work(app, client, dealer, monkeypatch):
    monkeypatch.setitem(app.config, "BAD_TOKEN_LIMIT", "3/minute")
    path = path_of(link(dealer, "fay@example.com"))
    statuses = [client.get(f"/u/guess{i}").status_code for i in range(5)]
    assert statuses == [400, 400, 400, 429, 429]
    assert "Too many attempts" in client.get("/u/guess9").get_data(as_text=True)
    assert client.post(path, data=ONE_CLICK).status_code == 200


def test_flood_of_page_requests_is_rate_limited_per_client(app, client, dealer, monkeypatch):
    monkeypatch.setitem(app.config, "UNSUBSCRIBE_RATE_LIMIT", "4/minute")
    path = path_of(link(dealer, "gus@example.com"))
    statuses = [client.get(path).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    other_client = client.get(path, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other_client.status_code == 200
    # A mailbox provider's one-click POSTs all come from a few addresses: never refused.
    assert [client.post(path, data=ONE_CLICK).status_code for _ in range(10)] == [200] * 10


def test_failed_api_keys_are_rate_limited_and_good_keys_are_not(app, client, dealer, monkeypatch):
    monkeypatch.setitem(app.config, "AUTH_FAILURE_LIMIT", "3/minute")
    bad = {"Authorization": "Bearer sk_wrong"}
    statuses = [client.post("/v1/check", json={"addresses": []}, headers=bad).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    limited = client.post("/v1/check", json={"addresses": []}, headers=bad)
    assert limited.json["error"]["code"] == "rate_limited"
    assert dealer.post("/v1/check", json={"addresses": ["a@example.com"]}).status_code == 200


def test_limits_are_kept_in_redis_when_configured(database_url, redis_url, dealer):
    with_redis = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BAD_TOKEN_LIMIT": "2/minute",
                             "UNSUBSCRIBE_KEYS": tokens.new_key()})
    client = with_redis.test_client()
    assert [client.get("/u/nope").status_code for _ in range(3)] == [400, 400, 429]
    from redis import Redis
    assert any(b"suppression" in key for key in Redis.from_url(redis_url).keys("*"))


def test_one_click_works_when_redis_is_down(app, database_url, dealer):
    redis_down = create_app({"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0",
                             "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"]})
    response = redis_down.test_client().post(path_of(link(dealer, "offline@example.com")), data=ONE_CLICK)
    assert response.status_code == 200
    assert decision(dealer, "offline@example.com")["reason"] == "unsubscribed"


# Tokens and keys, without the app


SEALER = tokens.Sealer([tokens.new_key()])
address_strategy = st.emails().map(str.lower)


@given(account_id=st.integers(1, 2**31), address=address_strategy,
       list_name=st.none() | st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True))
def test_a_sealed_token_opens_to_what_was_sealed(account_id, address, list_name):
    claims = SEALER.open(SEALER.seal(account_id, address, list_name))
    assert (claims.account_id, claims.address, claims.list_name) == (account_id, address, list_name)
    assert abs((datetime.now(UTC) - claims.issued_at).total_seconds()) < 60


@given(st.text(max_size=300))
def test_no_string_opens_unless_sealed(text):
    with pytest.raises(tokens.BadToken):
        SEALER.open(text)


def test_unsubscribe_keys_must_be_fernet_keys():
    with pytest.raises(ValueError, match="key 2 is not a Fernet key"):
        tokens.Sealer([tokens.new_key(), "not-a-key"])


def test_without_configured_keys_one_key_is_made_once_and_kept(tmp_path):
    first = tokens.keys_from("", str(tmp_path))
    assert first == tokens.keys_from("", str(tmp_path)) and len(first) == 1
    assert (tmp_path / "unsubscribe.keys").stat().st_mode & 0o077 == 0
    assert tokens.keys_from(" a , b ", str(tmp_path)) == ["a", "b"]


def test_cli_makes_a_new_key(runner):
    key = runner.invoke(args=["unsubscribe", "new-key"]).output.strip()
    assert tokens.Sealer([key]).open(tokens.Sealer([key]).seal(1, "a@b.example")).address == "a@b.example"


def test_counts_land_on_the_unsubscribed_dealer(app, client, make_dealer):
    alpha, beta = make_dealer("Alpha Motors"), make_dealer("Beta Cars")
    client.post(path_of(link(alpha, "one@example.com")), data={"scope": "all"})
    client.post(path_of(link(alpha, "two@example.com")), data=ONE_CLICK)
    with app.app_context():
        totals = dict(db.session.execute(select(DailyCount.account_id, func.sum(DailyCount.unsubscribes))
                                         .group_by(DailyCount.account_id)).all())
    assert totals == {alpha.account_id: 2}
    assert beta.account_id not in totals


# The mailto address (the inbound mail path hands such messages to unsubscribe.from_mail)


def mail(subject: str, body: str = "Please remove me.") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "reader@example.com", "unsubscribe@x.example", subject
    message.set_content(body)
    return message


def test_mail_to_the_mailto_address_unsubscribes_once(app, dealer):
    result = link(dealer, "mailer@example.com")
    subject = unquote(result["mailto"].split("subject=", 1)[1])
    with app.app_context():
        first = unsubscribe.from_mail(mail(subject))
        again = unsubscribe.from_mail(mail("Re: " + subject))
        db.session.commit()
    assert first.changed and not again.changed
    assert rows(app) == [("mailer@example.com", f"a{dealer.account_id}", Reason.unsubscribed, "mailto")]


def test_mailto_token_is_found_in_the_body_and_forgeries_do_nothing(app, dealer):
    token = path_of(link(dealer, "body@example.com"))[len("/u/"):]
    with app.app_context():
        assert unsubscribe.from_mail(mail("stop", f"> unsubscribe {tampered(token)}")) is None
        assert unsubscribe.from_mail(mail("stop", "no token here")) is None
        assert unsubscribe.from_mail(mail("stop", f"quoted:\n> unsubscribe {token}\n")).changed
        db.session.commit()
    assert [r[0] for r in rows(app)] == ["body@example.com"]
