"""Inbox placement from recorded outcomes: the campaign report per provider (inbox, spam, other,
missing after the deadline, pending before it), the 30-day trend, and the AUP placement rule
through the real evaluation and alerts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from suppression import events, placements
from suppression.db import db, utcnow
from suppression.models import Event, Seed, SeedAssignment, SeedMessage
from tests.conftest import Api


def seed(staff, address: str, provider: str) -> int:
    answer = staff.post("/v1/seeds", json={"address": address, "kind": "monitor", "provider": provider})
    assert answer.status_code == 201
    return answer.get_json()["id"]


def arrived(app, seed_id: int, account_id: int, campaign: str, placement: str | None, n: int) -> None:
    """A message from `account_id` for `campaign` at the seed, found in `placement` (None: by the inbound path)."""
    with app.app_context():
        [(event_id, _)] = events.store("mail", [(b"Subject: x\r\n\r\n%d" % n, f"test:{n}:{seed_id}:{campaign}")], "seed")
        db.session.add(SeedMessage(event_id=event_id, seed_id=seed_id, account_id=account_id, campaign=campaign,
                                   results={}))
        if placement:
            placements.record(event_id, seed_id, {"inbox": "INBOX", "spam": "Junk"}.get(placement, "Promotions"),
                              placement)
        db.session.commit()


def age(app, account_id: int, campaign: str, hours: float) -> None:
    with app.app_context():
        db.session.execute(update(SeedAssignment).where(SeedAssignment.account_id == account_id,
                                                        SeedAssignment.campaign == campaign)
                           .values(assigned_at=utcnow() - timedelta(hours=hours)))
        db.session.commit()


@pytest.fixture
def seeds(staff) -> list[int]:
    return [seed(staff, f"g{n}@seeds.example", "gmail") for n in range(3)] + \
        [seed(staff, f"o{n}@seeds.example", "outlook") for n in range(2)]


def assigned(dealer: Api, campaign: str) -> list[str]:
    return dealer.get(f"/v1/seeds/assignments?campaign={campaign}").get_json()["addresses"]


def test_a_campaign_report_counts_each_outcome_per_provider(app, staff, dealer, seeds):
    assert len(assigned(dealer, "spring")) == 5
    g0, g1, g2, o0, o1 = seeds
    arrived(app, g0, dealer.account_id, "spring", "inbox", 1)
    arrived(app, g1, dealer.account_id, "spring", "spam", 2)
    arrived(app, o0, dealer.account_id, "spring", None, 3)  # by the inbound path: no folder
    report = dealer.get("/v1/placement?campaign=spring").get_json()
    assert report["overall"]["pending"] == 2 and report["overall"]["missing"] == 0  # before the deadline
    age(app, dealer.account_id, "spring", 7)
    report = dealer.get("/v1/placement?campaign=spring").get_json()
    gmail, outlook = report["providers"]["gmail"], report["providers"]["outlook"]
    assert (gmail["inbox"], gmail["spam"], gmail["missing"]) == (1, 1, 1)
    assert (outlook["other"], outlook["missing"]) == (1, 1)
    assert report["overall"]["inbox_rate"] == 0.2 and report["overall"]["pending"] == 0


def test_a_sender_sees_only_its_own_campaigns(app, staff, dealer, make_dealer, seeds):
    assigned(dealer, "spring")
    age(app, dealer.account_id, "spring", 7)
    other = make_dealer("Other Motors", ("other-motors.example",))
    assert other.get("/v1/placement?campaign=spring").get_json()["overall"]["seeds"] == 0
    assert staff.get("/v1/placement?campaign=spring").status_code == 403
    staff_view = staff.get(f"/v1/accounts/{dealer.account_id}/placement?campaign=spring").get_json()
    assert staff_view["campaign"]["overall"]["missing"] == 5 and staff_view["trend"][0]["missing"] == 5


def test_a_low_inbox_rate_over_the_last_campaigns_is_a_warning_alert(app, staff, dealer, seeds):
    for n, campaign in enumerate(("c1", "c2", "c3")):
        for k, seed_id in enumerate(assigned_ids(app, dealer, campaign, seeds)):
            arrived(app, seed_id, dealer.account_id, campaign, "inbox" if k < 2 else "spam", n * 10 + k)
        age(app, dealer.account_id, campaign, 7 + n)
    with app.app_context():
        from workers import jobs
        jobs.evaluate_accounts()
    found = staff.get(f"/v1/alerts?account_id={dealer.account_id}&rule=inbox_placement").get_json()["items"]
    assert len(found) == 1 and found[0]["severity"] == "warning"
    assert found[0]["value"] == pytest.approx(6 / 15) and found[0]["volume"] == 15
    assert staff.get(f"/v1/accounts/{dealer.account_id}").get_json()["status"] == "active"  # a warning only


def test_too_few_seeds_leave_the_rule_undefined(app, staff, dealer, seeds):
    assigned(dealer, "only")
    age(app, dealer.account_id, "only", 7)  # 5 missing seeds: under the 10 the rule needs
    with app.app_context():
        from workers import jobs
        jobs.evaluate_accounts()
    assert staff.get(f"/v1/alerts?account_id={dealer.account_id}").get_json()["items"] == []


def assigned_ids(app, dealer: Api, campaign: str, seeds: list[int]) -> list[int]:
    assigned(dealer, campaign)
    with app.app_context():
        return sorted(db.session.scalars(db.select(SeedAssignment.seed_id).where(
            SeedAssignment.account_id == dealer.account_id, SeedAssignment.campaign == campaign)))


def test_placements_are_one_of_three():
    with pytest.raises(ValueError):
        placements.record(1, 1, "INBOX", "promotions")




# Seed mailboxes read over IMAP from a Dovecot on loopback ----------------------------------------

from tests import seedmail  # noqa: E402
from tests.dovecot import Dovecot  # noqa: E402


@pytest.fixture
def dovecot(app, tmp_path):
    saved = app.config["SEED_IMAP_ALLOW_PLAIN_LOOPBACK"], app.config["SEED_IMAP_TIMEOUT"]
    app.config.update(SEED_IMAP_ALLOW_PLAIN_LOOPBACK=1, SEED_IMAP_TIMEOUT=2)
    with Dovecot(tmp_path / "dovecot") as server:
        yield server
    app.config.update(SEED_IMAP_ALLOW_PLAIN_LOOPBACK=saved[0], SEED_IMAP_TIMEOUT=saved[1])


def mailbox_seed(staff, dovecot, name: str, provider: str = "own", password: str = "pw") -> dict:
    dovecot.add_user(name, "pw")
    answer = staff.post("/v1/seeds", json={"address": f"{name}@seeds.example", "kind": "monitor",
                                           "provider": provider,
                                           "mailbox": f"imap://{name}:{password}@127.0.0.1:{dovecot.port}"})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def campaign_mail(to: str, n: int) -> bytes:
    return seedmail.message(to, campaign="autumn", message_id=f"<{n}-{to}>").as_bytes()


def poll(app) -> int:
    from workers import seed_jobs
    with app.app_context():
        return seed_jobs.poll_mailboxes()


def test_seed_mailboxes_are_polled_audited_and_reported_by_folder(app, staff, dealer, dovecot):
    mailbox_seed(staff, dovecot, "ana")
    mailbox_seed(staff, dovecot, "ben", "outlook")
    assert sorted(dealer.get("/v1/seeds/assignments?campaign=autumn").get_json()["addresses"]) == [
        "ana@seeds.example", "ben@seeds.example"]
    dovecot.append("ana", "pw", "INBOX", campaign_mail("ana@seeds.example", 1))
    dovecot.append("ben", "pw", "Junk", campaign_mail("ben@seeds.example", 2))
    assert poll(app) == 2  # both mailboxes polled (inline without Redis: each poll job runs at once)
    report = dealer.get("/v1/placement?campaign=autumn").get_json()
    assert report["providers"]["own"]["inbox"] == 1 and report["providers"]["outlook"]["spam"] == 1
    assert report["overall"]["inbox_rate"] == 0.5
    with app.app_context():  # stored as seed events and audited like inbound ones
        found = db.session.scalars(db.select(Event).where(Event.kind == "seed")).all()
        assert [(e.status.value, e.account_id) for e in found] == [("processed", dealer.account_id)] * 2
    poll(app)  # the second poll finds nothing new
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 2
    listed = {s["address"]: s for s in staff.get("/v1/seeds").get_json()["items"]}
    assert listed["ana@seeds.example"]["mailbox"]["error"] is None


def test_a_mailbox_that_fails_is_recorded_on_its_seed_and_the_others_are_read(app, staff, dealer, dovecot):
    mailbox_seed(staff, dovecot, "ana")
    bad = mailbox_seed(staff, dovecot, "ben", password="wrong")
    dovecot.append("ana", "pw", "INBOX", campaign_mail("ana@seeds.example", 1))
    poll(app)
    seeds = {s["address"]: s for s in staff.get("/v1/seeds").get_json()["items"]}
    assert seeds["ben@seeds.example"]["mailbox"]["error"].startswith("auth")
    assert seeds["ben@seeds.example"]["mailbox"]["failures"] == 1
    assert seeds["ana@seeds.example"]["mailbox"]["error"] is None
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 1
    assert poll(app) == 1  # the failed one waits its backoff; the good one is polled again
    dovecot.stop()  # the server gone: recorded, not raised
    with app.app_context():
        db.session.execute(update(Seed).values(mailbox_next_poll_at=None))
        db.session.commit()
    poll(app)
    seeds = {s["address"]: s for s in staff.get("/v1/seeds").get_json()["items"]}
    assert seeds["ana@seeds.example"]["mailbox"]["error"].startswith("connect")
    assert bad["id"] == seeds["ben@seeds.example"]["id"]


def test_the_console_shows_placement_and_mailbox_errors(app, staff, dealer, dovecot, make_staff):
    mailbox_seed(staff, dovecot, "ana", password="wrong")
    dealer.get("/v1/seeds/assignments?campaign=autumn")
    poll(app)
    console = make_staff()
    seeds_page = console.get("/admin/seeds").get_data(as_text=True)
    assert "mailbox-error" in seeds_page and "auth" in seeds_page and "wrong" not in seeds_page
    account = console.get(f"/admin/accounts/{dealer.account_id}").get_data(as_text=True)
    assert 'id="placement"' in account


def test_a_mailbox_whose_server_is_gone_is_recorded_and_the_others_are_read(app, staff, dealer, dovecot, tmp_path):
    mailbox_seed(staff, dovecot, "ana")
    with Dovecot(tmp_path / "second") as other:
        mailbox_seed(staff, other, "cai")
        other.append("cai", "pw", "INBOX", campaign_mail("cai@seeds.example", 3))
    # the second server stopped: its mailbox fails, the first is read all the same
    dovecot.append("ana", "pw", "INBOX", campaign_mail("ana@seeds.example", 1))
    poll(app)
    seeds = {s["address"]: s["mailbox"] for s in staff.get("/v1/seeds").get_json()["items"]}
    assert seeds["cai@seeds.example"]["error"].startswith(("connect", "timeout"))
    assert seeds["cai@seeds.example"]["next_poll_at"] is not None
    assert seeds["ana@seeds.example"]["error"] is None and seeds["ana@seeds.example"]["checked_at"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 1
