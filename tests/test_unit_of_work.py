"""One unit of work: domain functions write in the caller's transaction and never commit; the
handler, the job or the CLI command does. The worker's opt-outs land in the job's transaction,
with the event's account and an audit entry naming the event."""
from __future__ import annotations

from urllib.parse import unquote

from sqlalchemy import func, select

from suppression import lists, tokens, unsubscribe
from suppression.db import db
from suppression.models import AuditEntry, Event, Reason, Suppression
from suppression.unsubscribe import Choice, Source
from tests.test_inbound import ingest, post_mail  # noqa: F401 -- the fixture


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_opt_out_is_in_the_callers_transaction(app, dealer):
    with app.app_context():
        claims = tokens.sealer().open(tokens.sealer().seal(dealer.account_id, "undo@example.com"))
        outcome = unsubscribe.unsubscribe(claims, "t1", Choice.this, Source.mailto)
        assert outcome.changed and outcome.account_id == dealer.account_id
        db.session.rollback()  # the caller changes its mind: nothing was written
        assert count(Suppression) == 0
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "suppression.unsubscribe")) is None


def test_an_import_writes_each_chunk_for_the_caller_to_commit(app, dealer):
    lines = [(n, f"u{n}@example.com") for n in range(5)]
    with app.app_context():
        reports = list(lists.import_lines(lists.Scope(dealer.account_id), lines, Reason.manual, "import", "test",
                                          chunk=2))
        assert [r["added"] for r in reports][-1] == 5
        db.session.rollback()
        assert count(Suppression) == 0


def test_mail_to_the_mailto_address_is_applied_with_its_event(app, ingest, dealer):  # noqa: F811
    link = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "reply@example.com"}]}).json
    address, subject = link["results"][0]["mailto"].removeprefix("mailto:").split("?subject=")
    raw = f"From: reply@example.com\r\nTo: {address}\r\nSubject: {unquote(subject)}\r\n\r\nstop\r\n".encode()
    event_id = post_mail(ingest, raw).json["id"]
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert event.account_id == dealer.account_id
        row = db.session.scalar(select(Suppression))
        assert (row.address, row.source, row.event_id) == ("reply@example.com", "mailto", event_id)
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "suppression.unsubscribe"))
        assert entry.details["event_id"] == event_id and entry.account_id == dealer.account_id
