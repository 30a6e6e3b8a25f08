"""Managing suppression lists over HTTP: add, list, remove, export, import."""
from __future__ import annotations

import csv
import io

from suppression import lists
from suppression.db import db
from suppression.models import Reason, Suppression


def add(api, *addresses, **extra):
    body = {"suppressions": [{"address": a} if isinstance(a, str) else a for a in addresses], **extra}
    return api.post("/v1/suppressions", json=body)


def suppress(app, scope, address, reason, source):
    with app.app_context():
        lists.add(scope, [address], reason, source, "test")
        db.session.commit()


def test_sender_adds_normalized_entries_and_hears_about_repeats_and_invalid(dealer):
    response = add(dealer, "Ann@Example.com", "bad address")
    assert response.status_code == 201
    assert response.json == {"added": ["ann@example.com"], "already_present": [], "invalid": ["bad address"]}
    again = add(dealer, "ANN@example.com")
    assert again.status_code == 200 and again.json["already_present"] == ["ann@example.com"]


def test_sender_may_not_add_bounce_complaint_or_trap_entries(dealer):
    response = add(dealer, {"address": "a@example.com", "reason": "hard_bounce"})
    assert response.status_code == 403


def test_entries_may_expire_but_not_in_the_past_or_without_a_time_zone(dealer):
    response = add(dealer, "a@example.com", expires_at="2099-01-01T00:00:00Z")
    assert response.status_code == 201
    assert dealer.get("/v1/suppressions").json["items"][0]["expires_at"] == "2099-01-01T00:00:00Z"
    assert add(dealer, "b@example.com", expires_at="2001-01-01T00:00:00Z").json["error"]["code"] == "invalid_expiry"
    assert add(dealer, "b@example.com", expires_at="2099-01-01T00:00:00").status_code == 422


def test_listing_pages_newest_first_with_a_cursor(dealer):
    add(dealer, *[f"u{i}@example.com" for i in range(5)])
    first = dealer.get("/v1/suppressions?limit=2").json
    second = dealer.get(f"/v1/suppressions?limit=2&before={first['next']}").json
    third = dealer.get(f"/v1/suppressions?limit=2&before={second['next']}").json
    seen = [e["address"] for page in (first, second, third) for e in page["items"]]
    assert sorted(seen) == sorted(f"u{i}@example.com" for i in range(5)) and len(set(seen)) == 5
    assert third["next"] is None


def test_listing_filters_by_list_reason_and_address(dealer):
    add(dealer, "a@example.com", {"address": "b@example.com", "reason": "unsubscribed"})
    add(dealer, "c@example.com", list="offers")
    everything = {e["address"] for e in dealer.get("/v1/suppressions").json["items"]}
    assert everything == {"a@example.com", "b@example.com", "c@example.com"}
    offers = dealer.get("/v1/suppressions?list=offers").json["items"]
    assert [(e["address"], e["scope"], e["list"]) for e in offers] == [("c@example.com", "list", "offers")]
    assert [e["address"] for e in dealer.get("/v1/suppressions?reason=unsubscribed").json["items"]] == ["b@example.com"]
    by_address = dealer.get("/v1/suppressions?address=A@Example.com").json["items"]
    assert [e["address"] for e in by_address] == ["a@example.com"]


def test_sender_removes_its_own_manual_entry_and_it_is_audited(dealer, staff):
    add(dealer, "a@example.com")
    response = dealer.delete("/v1/suppressions/A@example.com")
    assert response.status_code == 200 and response.json["removed"]["address"] == "a@example.com"
    assert dealer.post("/v1/check", json={"addresses": ["a@example.com"]}).json["results"][0]["send"] is True
    actions = [e["action"] for e in staff.get(f"/v1/audit?account_id={dealer.account_id}").json["items"]]
    assert actions[:2] == ["suppression.remove", "suppression.add"]


def test_sender_cannot_remove_complaints_bounces_or_recipient_unsubscribes(app, dealer):
    account = lists.Scope(dealer.account_id)
    suppress(app, account, "complained@example.com", Reason.complained, "arf")
    suppress(app, account, "clicked@example.com", Reason.unsubscribed, "one_click")
    for address in ("complained@example.com", "clicked@example.com"):
        response = dealer.delete(f"/v1/suppressions/{address}")
        assert response.status_code == 403 and response.json["error"]["code"] == "not_removable"
    assert dealer.get("/v1/suppressions").json["items"].__len__() == 2


def test_staff_removes_any_entry_but_only_with_a_reason(app, dealer, staff):
    suppress(app, lists.Scope(dealer.account_id), "c@example.com", Reason.complained, "arf")
    path = f"/v1/suppressions/c@example.com?account_id={dealer.account_id}"
    no_reason = staff.delete(path)
    assert no_reason.status_code == 422 and no_reason.json["error"]["code"] == "reason_required"
    assert staff.delete(path + "&reason=recipient+confirmed+by+phone").status_code == 200
    entry = staff.get("/v1/audit?action=suppression.remove").json["items"][0]
    assert entry["reason"] == "recipient confirmed by phone" and entry["target"] == "c@example.com"


def test_staff_manages_the_global_list(dealer, staff):
    assert add(staff, {"address": "trap@example.com", "reason": "spam_trap"}).status_code == 201
    assert [e["scope"] for e in staff.get("/v1/suppressions").json["items"]] == ["global"]
    [result] = dealer.post("/v1/check", json={"addresses": ["trap@example.com"]}).json["results"]
    assert (result["reason"], result["scope"]) == ("spam_trap", "global")
    assert dealer.get("/v1/suppressions").json["items"] == []  # the global list is not the sender's to read
    assert staff.delete("/v1/suppressions/trap@example.com?reason=not+a+trap").status_code == 200


def test_another_accounts_data_is_a_404(app, make_dealer, staff):
    alpha, beta = make_dealer("Alpha"), make_dealer("Beta")
    add(alpha, "a@example.com")
    assert beta.get(f"/v1/suppressions?account_id={alpha.account_id}").status_code == 404
    assert beta.delete(f"/v1/suppressions/a@example.com?account_id={alpha.account_id}").status_code == 404
    assert beta.delete("/v1/suppressions/a@example.com").status_code == 404
    assert beta.get(f"/v1/suppressions/export?account_id={alpha.account_id}").status_code == 404
    assert add(beta, "x@example.com", account_id=alpha.account_id).status_code == 404
    assert beta.post(f"/v1/suppressions/import?account_id={alpha.account_id}", data="y@example.com\n",
                     content_type="text/csv").status_code == 404
    assert beta.get("/v1/suppressions").json["items"] == []
    assert staff.get("/v1/suppressions?account_id=999999").status_code == 404


def test_export_streams_every_entry_as_csv(app, dealer):
    with app.app_context():
        lists.add(lists.Scope(dealer.account_id), [f"u{i}@example.com" for i in range(12_345)],
                  Reason.manual, "api", "test")
        db.session.commit()
    add(dealer, "z@example.com", list="offers")
    response = dealer.get("/v1/suppressions/export")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 12_346 and len({r["address"] for r in rows}) == 12_346
    assert {(r["scope"], r["list"]) for r in rows} == {("account", ""), ("list", "offers")}


def test_import_counts_added_present_and_invalid_lines(dealer, staff):
    add(dealer, {"address": "known@example.com", "reason": "unsubscribed"})
    body = "Email,First name\nnew@example.com,Ann\nKnown@example.com,Bo\n\nnot-an-address,Cy\nNEW@example.com,Ann\n"
    response = dealer.post("/v1/suppressions/import", data=body, content_type="text/csv")
    assert response.status_code == 200
    report = response.json
    assert (report["lines"], report["added"], report["already_present"], report["invalid"]) == (4, 1, 2, 1)
    assert report["invalid_lines"] == [{"line": 5, "value": "not-an-address", "reason": "invalid_address"}]
    entry = dealer.get("/v1/suppressions?address=new@example.com").json["items"][0]
    assert (entry["reason"], entry["source"]) == ("unsubscribed", "import")
    [logged] = staff.get("/v1/audit?action=suppression.import").json["items"]
    assert (logged["details"]["added"], logged["details"]["complete"]) == (1, True)


def test_a_runaway_line_is_one_invalid_line_not_a_failed_import(dealer):
    body = "a@example.com\n" + "x" * 300_000 + "\nb@example.com\n"
    report = dealer.post("/v1/suppressions/import", data=body, content_type="text/csv").json
    assert (report["added"], report["invalid"], report["invalid_lines"][0]["line"]) == (2, 1, 2)
    response = dealer.post("/v1/check/filter", data=body, content_type="text/csv")
    assert response.get_data(as_text=True).splitlines()[2] == "x" * 300_000 + ",false,invalid_address"


def test_sender_may_not_import_bounces_and_staff_global_entries_have_no_list(dealer, staff):
    response = dealer.post("/v1/suppressions/import?reason=hard_bounce", data="a@example.com\n",
                           content_type="text/csv")
    assert response.status_code == 403
    assert dealer.get("/v1/suppressions").json["items"] == []
    response = add(staff, {"address": "a@example.com", "reason": "spam_trap"}, list="offers")
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_list"


def test_an_import_that_dies_half_way_is_audited_with_what_went_in(app, dealer):
    from suppression.models import AuditEntry

    def lines_then_crash():
        for i in range(7_000):
            yield i + 1, f"u{i}@example.com"
        raise RuntimeError("worker killed")

    with app.app_context():
        try:
            for _ in lists.import_lines(lists.Scope(dealer.account_id), lines_then_crash(), Reason.unsubscribed,
                                        "import", "test", chunk=5_000):
                db.session.commit()  # as the import endpoint does
        except RuntimeError:
            db.session.rollback()
        [entry] = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "suppression.import"))
        assert (entry.details["added"], entry.details["complete"]) == (5_000, False)
        assert db.session.scalar(db.select(db.func.count()).select_from(Suppression)) == 5_000


def test_imported_unsubscribes_may_be_removed_by_the_sender(dealer):
    dealer.post("/v1/suppressions/import?list=offers", data="a@example.com\n", content_type="text/plain")
    assert dealer.delete("/v1/suppressions/a@example.com?list=offers").status_code == 200


def test_import_reports_a_bounded_number_of_invalid_lines(app, dealer):
    body = "".join(f"bad{i}\n" for i in range(1_500)) + "ok@example.com\n"
    report = dealer.post("/v1/suppressions/import", data=body, content_type="text/plain").json
    assert report["invalid"] == 1_500 and len(report["invalid_lines"]) == 1_000
    assert report["invalid_lines_truncated"] is True and report["added"] == 1


def test_a_million_line_import(app, dealer, tmp_path):
    path = tmp_path / "optouts.csv"
    with path.open("w") as out:
        out.write("email\n")
        for i in range(1_000_000):
            out.write(f"Customer{i}@Dealer{i % 997}.example.com\n" if i % 100_000 else "oops\n")
    with path.open("rb") as upload:
        response = dealer.post("/v1/suppressions/import", input_stream=upload, content_type="text/csv",
                               headers={"Content-Length": str(path.stat().st_size)})
    assert response.status_code == 200, response.json
    report = response.json
    assert (report["lines"], report["added"], report["invalid"]) == (1_000_000, 999_990, 10)
    assert report["invalid_lines"][1] == {"line": 100_002, "value": "oops", "reason": "invalid_address"}
    [result] = dealer.post("/v1/check", json={"addresses": ["customer997000@dealer0.example.com"]}).json["results"]
    assert result["reason"] == "unsubscribed"


def test_import_memory_stays_bounded_whatever_the_file_size(dealer, tmp_path):
    import tracemalloc

    path = tmp_path / "big.csv"
    path.write_text("".join(f"customer{i}@dealer{i % 97}.example.com\n" for i in range(300_000)))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as upload:
            response = dealer.post("/v1/suppressions/import", input_stream=upload, content_type="text/csv",
                                   headers={"Content-Length": str(size)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.json["added"] == 300_000
    # Holding the lines would take several times the file's 10 MB; a 1 MiB spool buffer and
    # one chunk of 5,000 addresses take a few.
    assert size > 10_000_000 and peak < 4_000_000, (peak, size)
