"""The seed audit's pure parts: a seed message's facts (any bytes: facts or NotMail, never a
crash), the rules on them (no DNS needed for these), and the count rules of the AUP."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.policy import Policy
from seedlist import audit
from seedlist.dns import Resolver
from seedlist.message import NotMail, read
from suppression.policy import Counts, Level, judge
from tests import seedmail

NO_DNS = Resolver(["127.0.0.1:9"], timeout=0.2)  # nothing listens: only rules without DNS are asked here


def facts(**changes):
    return read(seedmail.message("seed@seeds.example", **changes).as_bytes(), "X-Campaign-ID", "X-Account-ID")


def results(mail_facts, sender=None) -> dict[str, str]:
    context = audit.Context(mail_facts, b"", sender, NO_DNS, None, ())
    return {rule.id: check.result for rule in audit.RULES if rule.id not in ("dmarc_policy", "spf_record")
            if (check := rule.check(context)) is not None}


SENDER = audit.Sender(7, (seedmail.DOMAIN,), seedmail.POSTAL)


def test_a_compliant_messages_facts_pass_the_content_rules():
    found = results(facts(), SENDER)
    assert found.pop("dkim_covers_unsubscribe") == "fail" and found.pop("dkim_aligned") == "fail"  # unsigned
    assert set(found.values()) == {"pass"} and "receiver_auth" not in found  # no Authentication-Results: n/a


@pytest.mark.parametrize(("changes", "rule"), [
    ({"unsubscribe": None}, "list_unsubscribe"),
    ({"unsubscribe": "<https://a.example/1>, <https://a.example/2>"}, "list_unsubscribe"),
    ({"unsubscribe": "<https://a.example/1>"}, "list_unsubscribe_mailto"),
    ({"one_click": "List-Unsubscribe=One-Click; extra"}, "one_click"),
    ({"one_click": None}, "one_click"),
    ({"subject": "RE: your car"}, "deceptive_subject"),
    ({"subject": "Fwd: price list"}, "deceptive_subject"),
    ({"subject": "AW: Angebot"}, "deceptive_subject"),
    ({"campaign": None}, "campaign_header"),
    ({"postal": None}, "postal_address"),
    ({"sender": "news@other.example"}, "from_domain"),
])
def test_each_content_rule_fails_on_what_it_names(changes, rule):
    assert results(facts(**changes), SENDER)[rule] == "fail"


def test_a_reply_subject_with_references_is_not_deceptive_and_the_address_may_be_reflowed():
    replying = facts(subject="Re: your visit", extra={"In-Reply-To": "<x@y.example>"},
                     postal="Alpha Motors,\n12 Harbour   Road, Springfield 12345")
    found = results(replying, SENDER)
    assert found["deceptive_subject"] == "pass" and found["postal_address"] == "pass"


def test_receiver_verdicts_are_read_when_present():
    passing = facts(extra={"Authentication-Results": "mx.seeds.example; spf=pass; dkim=pass; dmarc=pass"})
    failing = facts(extra={"Authentication-Results": "mx.seeds.example; spf=softfail; dkim=pass; dmarc=fail"})
    assert results(passing)["receiver_auth"] == "pass" and results(failing)["receiver_auth"] == "fail"


def test_without_an_account_only_the_account_free_rules_apply():
    found = results(facts())
    assert found["attributable"] == "fail" and "from_domain" not in found and "postal_address" not in found


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe\x00", b"Subject: hi\r\n\r\nno from\r\n",
                                 b"From: a@b.example\r\n" + b"X: y\r\n" * 600 + b"\r\n"])
def test_what_is_not_a_message_is_not_mail(raw):
    with pytest.raises(NotMail):
        read(raw, "X-Campaign-ID", "X-Account-ID")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000) | st.text(max_size=3000).map(lambda t: ("From: a@b.example\r\n" + t).encode()))
def test_any_bytes_are_facts_or_not_mail_never_a_crash(raw):
    try:
        found = read(raw, "X-Campaign-ID", "X-Account-ID")
    except NotMail:
        return
    assert "@" in found.from_address
    results(found, SENDER)  # and every rule reads them


def test_the_count_rules_are_critical_or_warning_whatever_the_volume():
    policy = Policy()
    sums = {days: Counts(trap_hits=0, optout_violations=1, seed_findings=2) for days in policy.windows()}
    found = {r.rule: r.level for r in judge(sums, policy)}
    assert found["optout_ignored"] == Level.critical and found["seed_findings"] == Level.warning
    assert found["trap_hits"] is None and found["complaint_rate"] is None  # no volume: undefined


def test_the_rules_have_unique_ids():
    ids = [rule.id for rule in audit.RULES]
    assert len(ids) == len(set(ids))
