"""Concurrent writers on real databases: no deadlock, no lost or doubled rows."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from suppression import lists
from suppression.db import db
from suppression.models import Reason, Suppression


def test_overlapping_bulk_adds_in_opposite_orders_both_succeed(app, dealer):
    addresses = [f"u{i}@example.com" for i in range(20_000)]
    scope = lists.Scope(dealer.account_id)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def add(batch):
        with app.app_context():
            try:
                start.wait()
                lists.add(scope, batch, Reason.manual, "api", "test")
                db.session.commit()
            except BaseException as exc:  # reported below, with the test's failure
                errors.append(exc)

    threads = [threading.Thread(target=add, args=(batch,)) for batch in (addresses, addresses[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 20_000


def test_simultaneous_suspensions_suspend_once(app, dealer, staff):
    results: list[int] = []
    start = threading.Barrier(4)

    def suspend():
        client = app.test_client()
        start.wait()
        response = client.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "spam trap hit"},
                               headers={"Authorization": f"Bearer {staff.key}"})
        results.append(response.status_code)

    threads = [threading.Thread(target=suspend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409, 409, 409]
    entries = staff.get(f"/v1/audit?account_id={dealer.account_id}&action=account.suspend").json["items"]
    assert len(entries) == 1
