"""Seedlist monitoring end to end: seeds through the staff API, assignments for senders, seed
mail arriving through POST /v1/inbound/mail and audited by the seeds job, findings feeding the
counters and the AUP rules. DNS is a server on 127.0.0.1 (tests/dnsserver.py); DKIM signatures
are made here with dkimpy."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from suppression import accounts, counters
from suppression.db import db, utcnow
from suppression.models import (
    Event,
    Finding,
    Role,
    Seed,
    SeedMessage,
    SeedOptOut,
    Suppression,
)
from tests import seedmail
from tests.conftest import Api, make_key
from tests.dnsserver import DnsServer

MONITOR, TRAP, OPTOUT = "seed-m1@seeds.example", "trap-1@seeds.example", "seed-o1@seeds.example"


@pytest.fixture(scope="module")
def key():
    return seedmail.Key()


@pytest.fixture
def dns(app, key):
    """A DNS server on loopback that the audit reads, with the dealer's DKIM key and DMARC policy."""
    server = DnsServer().start()
    seedmail.publish(server, key)
    saved = {k: app.config[k] for k in ("DNS_NAMESERVERS", "DNS_TIMEOUT_MS")}
    app.config.update(DNS_NAMESERVERS=server.address, DNS_TIMEOUT_MS=300)
    app.extensions.pop("seed_resolver", None)
    yield server
    app.config.update(saved)
    app.extensions.pop("seed_resolver", None)
    server.stop()


@pytest.fixture
def ingest(app, client) -> Api:
    return Api(client, make_key(app, Role.ingest))


@pytest.fixture
def alpha(app, client) -> Api:
    """A dealer with a sending domain and a postal address on file."""
    with app.app_context():
        account = accounts.create("Alpha Motors", [seedmail.DOMAIN], "test", seedmail.POSTAL)
        db.session.commit()
        account_id = account.id
    return Api(client, make_key(app, Role.sender, account_id), account_id)


def add_seed(staff, address: str, kind: str, **extra) -> dict:
    answer = staff.post("/v1/seeds", json={"address": address, "kind": kind, **extra})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def deliver(ingest, raw: bytes, kind: str = "auto") -> dict:
    answer = ingest.post(f"/v1/inbound/mail?kind={kind}", data=raw, content_type="message/rfc822")
    assert answer.status_code == 202, answer.get_json()
    return ingest.get(f"/v1/inbound/{answer.get_json()['id']}").get_json()


def found(app, event_id: int) -> dict[str, str]:
    with app.app_context():
        return {f.rule: f.severity.value for f in db.session.scalars(select(Finding).where(Finding.event_id == event_id))}


def counts(app, account_id: int):
    with app.app_context():
        return counters.window_sums([30], [account_id])[account_id][30]


# Seeds -------------------------------------------------------------------------------------------

def test_staff_add_list_and_retire_seeds_and_a_mailbox_is_never_shown(app, staff):
    made = add_seed(staff, "Seed-M1@Seeds.Example", "monitor", provider="gmail",
                    mailbox="imaps://seed-m1:s3cret-Pa55@imap.seeds.example/INBOX")
    assert made["address"] == MONITOR and made["provider"] == "gmail" and made["status"] == "active"
    assert made["mailbox"] == {"configured": True, "host": "imaps://imap.seeds.example:993", "checked_at": None,
                               "error": None, "failures": 0, "next_poll_at": None}
    add_seed(staff, TRAP, "trap")
    listed = staff.get("/v1/seeds?kind=trap").get_json()["items"]
    assert [s["address"] for s in listed] == [TRAP]
    assert "s3cret" not in staff.get("/v1/seeds").get_data(as_text=True)
    with app.app_context():  # sealed at rest: the password is not in the row
        sealed = db.session.scalar(select(Seed.mailbox_sealed).where(Seed.address == MONITOR))
        assert b"s3cret" not in sealed and b"imap.seeds" not in sealed
    retired = staff.post(f"/v1/seeds/{made['id']}/retire", json={"reason": "mailbox closed"})
    assert retired.status_code == 200 and retired.get_json()["status"] == "retired"
    again = staff.post(f"/v1/seeds/{made['id']}/retire", json={})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "seed_retired"


@pytest.mark.parametrize(("body", "code"), [
    ({"address": "not an address", "kind": "monitor"}, "invalid_address"),
    ({"address": MONITOR, "kind": "monitor", "provider": "Bad Provider!"}, "invalid_provider"),
    ({"address": MONITOR, "kind": "monitor", "mailbox": "https://user:hunter2@imap.example"}, "invalid_mailbox"),
])
def test_a_bad_seed_is_refused_naming_the_problem_and_never_echoing_a_mailbox(staff, body, code):
    answer = staff.post("/v1/seeds", json=body)
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == code
    assert "hunter2" not in answer.get_data(as_text=True)


def test_a_seed_twice_is_a_conflict_and_senders_may_not_see_seeds(staff, dealer):
    add_seed(staff, MONITOR, "monitor")
    again = staff.post("/v1/seeds", json={"address": MONITOR, "kind": "trap"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "seed_exists"
    assert dealer.get("/v1/seeds").status_code == 403
    assert dealer.post("/v1/seeds", json={"address": "x@seeds.example", "kind": "monitor"}).status_code == 403


def test_mailbox_secrets_rotate_to_a_new_key(app, runner):
    from cryptography.fernet import Fernet

    from seedlist import secrets
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealer = app.extensions["seed_sealer"]

    def keys(value: str) -> None:
        app.config["SEED_KEYS"] = value
        secrets.init_app(app)
    try:
        keys(old)
        added = runner.invoke(args=["seeds", "add", MONITOR, "--kind", "monitor", "--mailbox"],
                              input="imaps://m1:pw@imap.seeds.example\n")
        assert added.exit_code == 0 and "pw" not in added.output, added.output
        assert "imaps://imap.seeds.example:993" in runner.invoke(args=["seeds", "list"]).output
        keys(f"{new},{old}")
        assert "resealed 1 mailboxes" in runner.invoke(args=["seeds", "rotate-keys"]).output
        keys(new)  # the old key dropped: the mailbox still opens
        with app.app_context():
            sealed = db.session.scalar(select(Seed.mailbox_sealed))
            assert secrets.unseal(sealed) == "imaps://m1:pw@imap.seeds.example"
            keys(old)  # and it is no longer sealed with the old one
            with pytest.raises(secrets.SealedUnreadable):
                secrets.unseal(sealed)
    finally:
        app.config["SEED_KEYS"] = ""
        app.extensions["seed_sealer"] = sealer


# Assignments -------------------------------------------------------------------------------------

def test_assignments_are_stable_rotate_across_campaigns_and_never_hand_out_traps(app, staff, alpha):
    for n in range(20):
        add_seed(staff, f"m{n}@seeds.example", "monitor")
    add_seed(staff, TRAP, "trap")
    add_seed(staff, OPTOUT, "optout")
    first = alpha.get("/v1/seeds/assignments?campaign=spring-sale").get_json()
    assert first["header"] == "X-Campaign-ID" and len(first["addresses"]) == 11
    assert TRAP not in first["addresses"] and OPTOUT in first["addresses"]
    assert alpha.get("/v1/seeds/assignments?campaign=spring-sale").get_json() == first
    seen = set()
    for campaign in ("a", "b", "c", "d"):
        seen |= set(alpha.get(f"/v1/seeds/assignments?campaign={campaign}").get_json()["addresses"])
    assert len(seen) > 11 and TRAP not in seen  # rotated: other campaigns get other monitor seeds


def test_an_opt_out_seed_that_left_an_account_is_not_assigned_to_it_again(app, staff, alpha):
    seed = add_seed(staff, OPTOUT, "optout")
    with app.app_context():
        db.session.add(SeedOptOut(seed_id=seed["id"], account_id=alpha.account_id, url="https://x.example/u"))
        db.session.commit()
    assert alpha.get("/v1/seeds/assignments?campaign=later").get_json()["addresses"] == []


def test_assignments_need_a_campaign_and_a_sender(staff, alpha):
    assert alpha.get("/v1/seeds/assignments").status_code == 422
    bad = alpha.get("/v1/seeds/assignments?campaign=%0aX-Injected:%20yes")
    assert bad.status_code == 422
    assert staff.get("/v1/seeds/assignments?campaign=x").status_code == 403


# Protection --------------------------------------------------------------------------------------

def test_a_bounce_or_a_link_never_suppresses_a_monitor_seed_and_checks_reveal_nothing(app, staff, alpha, ingest):
    add_seed(staff, MONITOR, "monitor")
    from tests.test_inbound import dsn
    assert deliver(ingest, dsn(MONITOR, "5.1.1"))["status"] in ("processed", "ignored")
    link = alpha.post("/v1/unsubscribe-links", json={"recipients": [{"address": MONITOR}]}).get_json()
    token = link["results"][0]["url"].rsplit("/", 1)[1]
    assert alpha.client.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Suppression).where(Suppression.address == MONITOR)) is None
    checked = alpha.post("/v1/check", json={"addresses": [MONITOR, "someone@else.example"]}).get_json()["results"]
    assert [r["send"] for r in checked] == [True, True] and checked[0].keys() == checked[1].keys()


# Arrival and audit -------------------------------------------------------------------------------

def our_link(alpha, address: str) -> str:
    return alpha.post("/v1/unsubscribe-links", json={"recipients": [{"address": address}]}).get_json()["results"][0]


def compliant(alpha, key, to: str = MONITOR, **changes) -> bytes:
    link = our_link(alpha, to)
    return seedmail.signed(seedmail.message(to, unsubscribe=f"<{link['url']}>, <{link['mailto']}>", **changes), key)


def test_a_compliant_message_to_a_monitor_seed_passes_every_rule(app, staff, alpha, ingest, dns, key):
    add_seed(staff, MONITOR, "monitor")
    event = deliver(ingest, compliant(alpha, key))
    assert event["status"] == "processed" and event["kind"] == "seed" and event["account_id"] == alpha.account_id
    assert found(app, event["id"]) == {}
    summary = staff.get(f"/v1/accounts/{alpha.account_id}/compliance").get_json()
    assert summary["messages"] == 1
    assert {rule: r["pass_rate"] for rule, r in summary["rules"].items()} == {
        rule: 1.0 for rule in ("attributable", "list_unsubscribe", "list_unsubscribe_mailto", "one_click",
                               "dkim_covers_unsubscribe", "dkim_aligned", "dmarc_policy", "spf_record", "from_domain",
                               "postal_address", "deceptive_subject", "campaign_header")}
    assert counts(app, alpha.account_id).seed_findings == 0


def test_each_broken_rule_is_a_warning_finding_counted_once_and_alerted(app, staff, alpha, ingest, dns, key):
    add_seed(staff, MONITOR, "monitor")
    mail = seedmail.message(MONITOR, unsubscribe="<http://alpha-motors.example/unsub>", one_click="yes please",
                            postal=None, subject="RE: your visit", campaign=None)
    raw = seedmail.signed(mail, key, headers=[b"from", b"to", b"subject"])  # the unsubscribe headers not covered
    event = deliver(ingest, raw)
    assert found(app, event["id"]) == {rule: "warning" for rule in (
        "list_unsubscribe", "list_unsubscribe_mailto", "one_click", "dkim_covers_unsubscribe", "postal_address",
        "deceptive_subject", "campaign_header")}
    assert counts(app, alpha.account_id).seed_findings == 1  # one message, counted once
    alerts = staff.get(f"/v1/alerts?account_id={alpha.account_id}").get_json()["items"]
    assert [(a["rule"], a["severity"]) for a in alerts] == [("seed_findings", "warning")]
    assert alerts[0]["evidence"][0]["event_id"] == event["id"]
    listed = staff.get(f"/v1/findings?account_id={alpha.account_id}&rule=one_click").get_json()["items"]
    assert len(listed) == 1 and "RE: your visit" in listed[0]["message"] and not listed[0]["message_truncated"]
    assert staff.get(listed[0]["message_href"]).data == raw


def test_a_message_from_another_domain_and_an_unattributable_one_are_findings(app, staff, alpha, ingest, dns, key):
    add_seed(staff, MONITOR, "monitor")
    dns.records["s1._domainkey.elsewhere.example"] = [key.record]
    mail = seedmail.message(MONITOR, sender="news@elsewhere.example", extra={"X-Account-ID": str(alpha.account_id)})
    event = deliver(ingest, seedmail.signed(mail, key, domain="elsewhere.example"))
    assert event["account_id"] == alpha.account_id
    assert {"from_domain", "dmarc_policy", "spf_record"} <= set(found(app, event["id"]))
    stranger = seedmail.message(MONITOR, sender="news@nobody.example", message_id="<2@nobody.example>")
    orphan = deliver(ingest, stranger.as_bytes())
    assert orphan["account_id"] is None and "attributable" in found(app, orphan["id"])


def test_mail_to_a_trap_seed_is_a_critical_trap_hit_that_suspends(app, staff, alpha, ingest, dns, key):
    add_seed(staff, TRAP, "trap")
    event = deliver(ingest, compliant(alpha, key, to=TRAP))
    assert found(app, event["id"]) == {"trap_hit": "critical"}
    assert counts(app, alpha.account_id).trap_hits == 1
    account = staff.get(f"/v1/accounts/{alpha.account_id}").get_json()
    assert account["status"] == "suspended"
    alert = staff.get(f"/v1/alerts?account_id={alpha.account_id}&rule=trap_hits").get_json()["items"][0]
    assert alert["severity"] == "critical" and alert["evidence"][0]["event_id"] == event["id"]


def test_a_forged_message_to_a_trap_seed_does_not_suspend_the_dealer_it_names(app, staff, alpha, ingest, dns, key):
    add_seed(staff, TRAP, "trap")
    forged = seedmail.message(TRAP, extra={"X-Account-ID": str(alpha.account_id)})  # unsigned
    event = deliver(ingest, forged.as_bytes())
    assert found(app, event["id"])["trap_hit"] == "warning"
    assert counts(app, alpha.account_id).trap_hits == 0
    assert staff.get(f"/v1/accounts/{alpha.account_id}").get_json()["status"] == "active"


def test_an_opt_out_seed_unsubscribes_through_our_link_and_catches_mail_after_the_grace(app, staff, alpha, ingest,
                                                                                        dns, key):
    add_seed(staff, OPTOUT, "optout")
    first = deliver(ingest, compliant(alpha, key, to=OPTOUT))
    assert found(app, first["id"]) == {}
    checked = alpha.post("/v1/check", json={"addresses": [OPTOUT]}).get_json()["results"][0]
    assert checked["send"] is False and checked["reason"] == "unsubscribed"  # honoured by the check
    with app.app_context():
        optout = db.session.scalar(select(SeedOptOut))
        assert (optout.outcome, optout.http_status, optout.event_id) == ("ok", 200, first["id"])
    within = deliver(ingest, compliant(alpha, key, to=OPTOUT, message_id="<2@alpha-motors.example>"))
    assert found(app, within["id"]) == {}  # inside the 48 h grace: nothing
    with app.app_context():
        db.session.execute(update(SeedOptOut).values(requested_at=utcnow() - timedelta(hours=49)))
        db.session.commit()
    late = deliver(ingest, compliant(alpha, key, to=OPTOUT, message_id="<3@alpha-motors.example>"))
    assert found(app, late["id"]) == {"optout_ignored": "critical"}
    assert counts(app, alpha.account_id).optout_violations == 1
    assert staff.get(f"/v1/accounts/{alpha.account_id}").get_json()["status"] == "suspended"


def test_an_opt_out_seed_without_a_one_click_link_is_a_finding(app, staff, alpha, ingest, dns, key):
    add_seed(staff, OPTOUT, "optout")
    event = deliver(ingest, seedmail.signed(seedmail.message(OPTOUT, unsubscribe=None, one_click=None), key))
    assert found(app, event["id"])["optout_failed"] == "warning"
    with app.app_context():
        assert db.session.scalar(select(SeedOptOut)) is None


# DNS ---------------------------------------------------------------------------------------------

def test_dns_that_does_not_answer_is_unknown_never_a_pass_and_is_checked_again(app, staff, alpha, ingest, dns, key):
    add_seed(staff, MONITOR, "monitor")
    dns.silent |= {f"s1._domainkey.{seedmail.DOMAIN}", f"_dmarc.{seedmail.DOMAIN}", seedmail.DOMAIN}
    event = deliver(ingest, compliant(alpha, key))
    assert found(app, event["id"]) == {"dns_unavailable": "info"}
    with app.app_context():
        row = db.session.get(SeedMessage, event["id"])
        assert {row.results[r] for r in ("dkim_covers_unsubscribe", "dkim_aligned", "dmarc_policy",
                                         "spf_record")} == {"unknown"}
        assert row.dns_pending
    dns.silent.clear()
    with app.app_context():
        from workers import seed_jobs as jobs
        assert jobs.recheck_seeds() == 1
        row = db.session.get(SeedMessage, event["id"])
        assert not row.dns_pending and {row.results[r] for r in ("dkim_aligned", "dmarc_policy", "spf_record")} == {"pass"}


def test_dns_that_never_answers_gives_up_after_its_retries_and_stays_unknown(app, staff, alpha, ingest, dns, key):
    add_seed(staff, MONITOR, "monitor")
    dns.silent.add(f"_dmarc.{seedmail.DOMAIN}")
    event = deliver(ingest, compliant(alpha, key))
    from workers import seed_jobs as jobs
    with app.app_context():
        for _ in range(app.config["SEED_DNS_RETRIES"]):
            jobs.recheck_seeds()
        assert jobs.recheck_seeds() == 0
        row = db.session.get(SeedMessage, event["id"])
        assert row.results["dmarc_policy"] == "unknown" and not row.dns_pending
    assert "gave up" in " ".join(f["detail"] for f in staff.get(
        f"/v1/findings?rule=dns_unavailable&account_id={alpha.account_id}").get_json()["items"])


# Bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"\x00\x01\x02 binary garbage \xff\xfe",
    b"To: seed-m1@seeds.example\r\nSubject: no sender\r\n\r\nhello\r\n",
    b"From: a@b.example\r\nTo: seed-m1@seeds.example\r\n" + b"X-Bomb: x\r\n" * 5000 + b"\r\nbody\r\n",
])
def test_a_seed_message_that_cannot_be_read_is_recorded_as_a_finding(app, staff, ingest, dns, raw):
    add_seed(staff, MONITOR, "monitor")
    event = deliver(ingest, raw, kind="seed")
    assert event["status"] == "processed"
    assert found(app, event["id"]) == {"malformed": "warning"}


def test_a_broken_dkim_header_and_a_10_mb_body_are_read_without_a_crash(app, staff, alpha, ingest, dns, key):
    add_seed(staff, MONITOR, "monitor")
    broken = b"DKIM-Signature: v=1; a=rsa-sha256; d=alpha-motors.example; b=@@@; bh=!!!\r\n" + \
        seedmail.message(MONITOR).as_bytes()
    event = deliver(ingest, broken)
    assert {"dkim_aligned", "dkim_covers_unsubscribe"} <= set(found(app, event["id"]))
    big = seedmail.message(MONITOR, body="offers " * 1_400_000, message_id="<big@alpha-motors.example>")
    event = deliver(ingest, seedmail.signed(big, key))
    assert event["status"] == "processed" and "postal_address" in found(app, event["id"])


def test_seed_mail_arrives_through_the_cli_pipe_too(app, staff, alpha, runner, dns, key):
    add_seed(staff, MONITOR, "monitor")
    result = runner.invoke(args=["inbound", "ingest"], input=compliant(alpha, key))
    assert result.exit_code == 0, result.output
    with app.app_context():
        event = db.session.scalar(select(Event))
        assert (event.kind, event.status.value, event.account_id) == ("seed", "processed", alpha.account_id)


# A dealer's own one-click link -------------------------------------------------------------------

from tests import test_seed_oneclick  # noqa: E402

# The HTTPS server on loopback with its test CA, the one-click client's own tests' fixtures.
certificates, https_server = test_seed_oneclick.certificates, test_seed_oneclick.https_server


@pytest.fixture
def dealer_site(app, https_server, certificates):
    """The dealer's own unsubscribe endpoint: HTTPS on loopback, which a test setting allows."""
    https_server.seen.clear()
    saved = {k: app.config[k] for k in ("SEED_OPTOUT_ALLOW_LOOPBACK", "SEED_OPTOUT_CAFILE", "SEED_OPTOUT_TIMEOUT")}
    app.config.update(SEED_OPTOUT_ALLOW_LOOPBACK=1, SEED_OPTOUT_CAFILE=certificates[0], SEED_OPTOUT_TIMEOUT=1)
    yield https_server
    app.config.update(saved)


def own_link(to: str, url: str, key, message_id: str = "<o1@alpha-motors.example>") -> bytes:
    return seedmail.signed(seedmail.message(to, unsubscribe=f"<{url}>, <mailto:leave@alpha-motors.example>",
                                            message_id=message_id), key)


def optout_row(app) -> tuple:
    with app.app_context():
        row = db.session.scalar(select(SeedOptOut))
        return row.outcome, row.http_status, row.detail


def test_an_opt_out_seed_posts_one_click_to_the_dealers_own_link(app, staff, alpha, ingest, dns, key, dealer_site):
    add_seed(staff, OPTOUT, "optout")
    url = f"https://localhost:{dealer_site.server_port}/unsubscribe?who=seed"
    deliver(ingest, own_link(OPTOUT, url, key))
    assert optout_row(app)[:2] == ("ok", 200)
    [seen] = dealer_site.seen
    assert (seen.method, seen.path, seen.body) == ("POST", "/unsubscribe?who=seed", b"List-Unsubscribe=One-Click")
    deliver(ingest, own_link(OPTOUT, url, key, "<o2@alpha-motors.example>"))
    assert len(dealer_site.seen) == 1  # once per account, not per message


@pytest.mark.parametrize(("path", "outcome"), [("/moved", "rejected"), ("/slow", "timeout")])
def test_a_redirect_is_not_followed_and_a_slow_endpoint_times_out(app, staff, alpha, ingest, dns, key, dealer_site,
                                                                  path, outcome):
    add_seed(staff, OPTOUT, "optout")
    deliver(ingest, own_link(OPTOUT, f"https://localhost:{dealer_site.server_port}{path}", key))
    assert optout_row(app)[0] == outcome
    assert [s.path for s in dealer_site.seen] == [path]  # the redirect's target never asked


def test_a_link_to_a_private_address_is_refused_without_a_request(app, staff, alpha, ingest, dns, key, dealer_site):
    add_seed(staff, OPTOUT, "optout")
    deliver(ingest, own_link(OPTOUT, "https://10.0.0.5/unsubscribe", key))
    outcome, status, detail = optout_row(app)
    assert (outcome, status) == ("refused", None) and "private" in detail


# Through Redis and a worker ----------------------------------------------------------------------

def test_seed_mail_goes_from_the_inbound_queue_to_the_seeds_queue_and_is_audited(app, staff, alpha, dns, key,
                                                                                 database_url, redis_url):
    from suppression import create_app
    from tests.conftest import work
    add_seed(staff, MONITOR, "monitor")
    queued = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DNS_NAMESERVERS": dns.address,
                         "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"],
                         "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"]})
    ingest = Api(queued.test_client(), make_key(queued, Role.ingest))
    accepted = ingest.post("/v1/inbound/mail", data=compliant(alpha, key), content_type="message/rfc822")
    assert accepted.status_code == 202 and accepted.get_json()["status"] == "pending"
    work(queued)
    event = ingest.get(f"/v1/inbound/{accepted.get_json()['id']}").get_json()
    assert (event["kind"], event["status"], event["account_id"]) == ("seed", "processed", alpha.account_id)
    assert found(app, event["id"]) == {}


# Staff API and console ---------------------------------------------------------------------------

def test_findings_are_staff_only_and_filter_by_seed_and_rule(app, staff, alpha, ingest, dns, key):
    seed = add_seed(staff, MONITOR, "monitor")
    deliver(ingest, seedmail.signed(seedmail.message(MONITOR, postal=None), key))
    assert alpha.get("/v1/findings").status_code == 403
    assert alpha.get(f"/v1/accounts/{alpha.account_id}/compliance").status_code == 403
    by_seed = staff.get(f"/v1/findings?seed_id={seed['id']}").get_json()["items"]
    assert [f["rule"] for f in by_seed] == ["postal_address"]
    assert staff.get(f"/v1/findings?seed_id={seed['id'] + 1}").get_json()["items"] == []
    assert staff.get("/v1/findings/999999/raw").status_code == 404
    assert staff.get("/v1/accounts/999999/compliance").status_code == 404


def test_the_console_lists_adds_and_retires_seeds_and_shows_findings(app, staff, alpha, ingest, dns, key, make_staff):
    console = make_staff()
    added = console.post("/admin/seeds", {"address": MONITOR, "kind": "monitor", "provider": "gmail",
                                          "mailbox": "imaps://m:topsecret@imap.seeds.example"})
    assert added.status_code == 303
    page = console.get("/admin/seeds").get_data(as_text=True)
    assert MONITOR in page and "imaps://imap.seeds.example:993" in page and "topsecret" not in page
    assert console.client.post("/admin/seeds", data={"address": "x@seeds.example", "kind": "trap"}).status_code == 400
    deliver(ingest, seedmail.signed(seedmail.message(MONITOR, postal=None), key))
    account = console.get(f"/admin/accounts/{alpha.account_id}").get_data(as_text=True)
    assert 'id="compliance"' in account and "postal_address" in account
    findings_page = console.get(f"/admin/findings?account_id={alpha.account_id}").get_data(as_text=True)
    assert "postal_address" in findings_page and "not in the body" in findings_page
    with app.app_context():
        seed_id = db.session.scalar(select(Seed.id))
    analyst = make_staff("ben@platform.example", role="analyst")
    assert analyst.post(f"/admin/seeds/{seed_id}/retire", {"note": "closed"}).status_code == 403
    assert console.post(f"/admin/seeds/{seed_id}/retire", {"note": "closed"}).status_code == 303
    with app.app_context():
        assert db.session.get(Seed, seed_id).status.value == "retired"
