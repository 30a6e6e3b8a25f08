"""POST /v1/check and /v1/check/filter: the answer a sender gets before every send."""
from __future__ import annotations

from datetime import timedelta

from suppression import lists
from suppression.db import db, utcnow
from suppression.models import Reason


def suppress(app, scope, address, reason, source="test", expires_at=None):
    with app.app_context():
        lists.add(scope, [address], reason, source, "test", expires_at=expires_at)
        db.session.commit()


def decisions(api, addresses, **extra):
    response = api.post("/v1/check", json={"addresses": addresses, **extra})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_unsuppressed_valid_address_may_be_sent_to(dealer):
    [result] = decisions(dealer, ["New.Customer@Example.com"])
    assert result == {"address": "New.Customer@Example.com", "normalized": "new.customer@example.com",
                      "send": True, "reason": None, "scope": None}


def test_an_empty_batch_gets_an_empty_answer(dealer):
    assert decisions(dealer, []) == []


def test_batches_across_chunk_boundaries_keep_order(app, dealer):
    suppress(app, lists.GLOBAL, "u499@example.com", Reason.hard_bounce)
    suppress(app, lists.GLOBAL, "u2500@example.com", Reason.hard_bounce)
    results = decisions(dealer, [f"u{i}@example.com" for i in range(2_501)])
    assert [i for i, r in enumerate(results) if not r["send"]] == [499, 2500]


def test_invalid_address_is_not_sent_and_says_why(dealer):
    [result] = decisions(dealer, ["not an address"])
    assert result["send"] is False and result["reason"] == "invalid_address" and result["normalized"] is None


def test_results_keep_the_order_and_duplicates_of_the_request(app, dealer):
    suppress(app, lists.GLOBAL, "b@example.com", Reason.hard_bounce)
    batch = ["a@example.com", "B@example.com", "junk", "a@example.com"]
    results = decisions(dealer, batch)
    assert [r["address"] for r in results] == batch
    assert [r["send"] for r in results] == [True, False, False, True]


def test_global_suppression_wins_over_account_and_list(app, dealer):
    account = lists.Scope(dealer.account_id)
    for scope, reason in [(lists.Scope.of(dealer.account_id, "offers"), Reason.unsubscribed),
                          (account, Reason.complained), (lists.GLOBAL, Reason.hard_bounce)]:
        suppress(app, scope, "x@example.com", reason)
    [result] = decisions(dealer, ["X@Example.com"], list="offers")
    assert (result["reason"], result["scope"]) == ("hard_bounce", "global")


def test_account_suppression_wins_over_list(app, dealer):
    suppress(app, lists.Scope.of(dealer.account_id, "offers"), "x@example.com", Reason.unsubscribed)
    suppress(app, lists.Scope(dealer.account_id), "x@example.com", Reason.complained)
    [result] = decisions(dealer, ["x@example.com"], list="offers")
    assert (result["reason"], result["scope"]) == ("complained", "account")


def test_list_suppression_applies_only_when_sending_to_that_list(app, dealer):
    suppress(app, lists.Scope.of(dealer.account_id, "offers"), "x@example.com", Reason.unsubscribed)
    assert decisions(dealer, ["x@example.com"], list="offers")[0]["reason"] == "unsubscribed"
    assert decisions(dealer, ["x@example.com"], list="service")[0]["send"] is True
    assert decisions(dealer, ["x@example.com"])[0]["send"] is True


def test_each_reason_is_reported_as_stored(app, dealer):
    for reason in Reason:
        suppress(app, lists.GLOBAL, f"{reason.value}@example.com", reason)
    results = decisions(dealer, [f"{r.value}@example.com" for r in Reason])
    assert [r["reason"] for r in results] == [r.value for r in Reason]


def test_another_accounts_suppressions_do_not_apply(app, make_dealer):
    alpha, beta = make_dealer("Alpha"), make_dealer("Beta")
    suppress(app, lists.Scope(alpha.account_id), "x@example.com", Reason.complained)
    assert decisions(alpha, ["x@example.com"])[0]["send"] is False
    assert decisions(beta, ["x@example.com"])[0]["send"] is True


def test_expired_suppression_no_longer_blocks(app, dealer):
    suppress(app, lists.GLOBAL, "old@example.com", Reason.soft_bounce_limit,
             expires_at=utcnow() - timedelta(minutes=1))
    suppress(app, lists.GLOBAL, "new@example.com", Reason.soft_bounce_limit,
             expires_at=utcnow() + timedelta(days=30))
    results = decisions(dealer, ["old@example.com", "new@example.com"])
    assert [r["send"] for r in results] == [True, False]


def test_idn_and_case_variants_match_one_suppression(app, dealer):
    suppress(app, lists.GLOBAL, "kunde@bücher.de", Reason.hard_bounce)
    results = decisions(dealer, ["KUNDE@XN--BCHER-KVA.DE", "Kunde@Bücher.de"])
    assert [r["reason"] for r in results] == ["hard_bounce", "hard_bounce"]


def test_ten_thousand_addresses_in_one_call(app, dealer):
    suppress(app, lists.GLOBAL, "user5000@example.com", Reason.hard_bounce)
    results = decisions(dealer, [f"user{i}@example.com" for i in range(10_000)])
    assert len(results) == 10_000
    assert [r["address"] for r in results if not r["send"]] == ["user5000@example.com"]


def test_more_than_ten_thousand_addresses_is_refused(dealer):
    response = dealer.post("/v1/check", json={"addresses": ["a@example.com"] * 10_001})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_request"


def test_suspended_account_gets_403_and_reinstated_account_checks_again(dealer, staff):
    assert staff.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "complaints"}).status_code == 200
    response = dealer.post("/v1/check", json={"addresses": ["a@example.com"]})
    assert response.status_code == 403 and response.json["error"]["code"] == "account_suspended"
    assert dealer.post("/v1/check/filter", data="a@example.com\n").status_code == 403
    assert staff.post(f"/v1/accounts/{dealer.account_id}/reinstate", json={"reason": "fixed"}).status_code == 200
    assert decisions(dealer, ["a@example.com"])[0]["send"] is True


def test_bad_list_name_is_a_clear_error(dealer):
    response = dealer.post("/v1/check", json={"addresses": ["a@example.com"], "list": "no spaces please"})
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_list"


def test_filter_streams_csv_decisions_for_an_upload(app, dealer):
    suppress(app, lists.Scope(dealer.account_id), "gone@example.com", Reason.unsubscribed)
    response = dealer.post("/v1/check/filter", data="email,name\nGone@Example.com,Ann\nbad,Bob\nok@example.com,Cy\n",
                           content_type="text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True).splitlines() == [
        "address,send,reason", "Gone@Example.com,false,unsubscribed", "bad,false,invalid_address",
        "ok@example.com,true,"]


def test_filter_accepts_a_multipart_file_and_a_list(app, dealer):
    import io
    suppress(app, lists.Scope.of(dealer.account_id, "offers"), "a@example.com", Reason.unsubscribed)
    response = dealer.post("/v1/check/filter?list=offers",
                           data={"file": (io.BytesIO(b"a@example.com\r\nb@example.com\r\n"), "list.csv")})
    assert response.get_data(as_text=True).splitlines()[1:] == ["a@example.com,false,unsubscribed",
                                                                 "b@example.com,true,"]


def test_filter_handles_uploads_bigger_than_the_json_limit(app, dealer):
    suppress(app, lists.GLOBAL, "u77777@example.com", Reason.hard_bounce)
    body = "".join(f"u{i}@example.com\n" for i in range(120_000)).encode()
    assert len(body) > app.config["MAX_JSON_BYTES"] / 4
    app.config["MAX_CONTENT_LENGTH"], saved = 1024, app.config["MAX_CONTENT_LENGTH"]
    try:
        response = dealer.post("/v1/check/filter", data=body, content_type="text/plain")
        lines = response.get_data(as_text=True).splitlines()
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert response.status_code == 200 and len(lines) == 120_001
    assert lines[77778] == "u77777@example.com,false,hard_bounce"
