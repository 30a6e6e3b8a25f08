"""Benchmark of a Prometheus scrape, GET /metrics, on PostgreSQL.

A throwaway database `suppression_bench_metrics` holds 1,000,000 suppressions (as bench/check.py
loads them), an audit log of one entry per suppression written over the past year (the last
few thousand in the last minutes, still unsettled), 200,000 inbound events of about 1 KB, 1,000
accounts and 200 open alerts. The script scrapes /metrics in this process (the view, every query
and the text format; no HTTP) and prints:

- the first scrapes of a fresh process, which read the settled audit log into the totals a step
  at a time (`suppression/totals.py`), until the added totals appear;
- steady scrapes with METRICS_CACHE_SECONDS=0 (every scrape reads the database): p50 and p95;
- each query alone, to show where the time goes;
- scrapes with the default cache, as most of Prometheus's scrapes meet it.

It prints numbers and asserts nothing about speed.

    .venv/bin/python bench/metrics.py                     # 1,000,000 suppressions
    .venv/bin/python bench/metrics.py --rows 100000       # a quick run
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import harness
import psycopg
from aup import service_app
from check import is_global, load_suppressions
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(harness.ROOT))

BENCH_DB = "suppression_bench_metrics"
ACCOUNTS = 1_000
ALERTS = 200
RECENT = 5_000  # audit entries of the last minutes: read again at every scrape


def main() -> None:
    args = arguments()
    random.seed(1)
    with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        os.environ["METRICS_CACHE_SECONDS"] = "0"  # every scrape reads the database
        app = service_app(db_url)
        load(db_url, args.rows, args.events)
        print(f"loaded: {args.rows:,} suppressions and audit entries, {args.events:,} events, "
              f"{ACCOUNTS:,} accounts, {ALERTS} open alerts")
        client = app.test_client()
        first_scrapes(client, args.rows)
        steady = [scrape(client)[0] for _ in range(args.scrapes)]
        print(f"scrape, every one reading the database: p50 {percentile_ms(steady, 50):.0f} ms, "
              f"p95 {percentile_ms(steady, 95):.0f} ms over {len(steady)}")
        queries(app)
        cached_scrapes(db_url, args.scrapes)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="suppressions (and audit entries) to load")
    parser.add_argument("--events", type=int, default=200_000, help="inbound events to load")
    parser.add_argument("--scrapes", type=int, default=30, help="steady scrapes timed (default 30)")
    harness.database_arguments(parser, BENCH_DB)
    return parser.parse_args()


# --- data -------------------------------------------------------------------------------------

def load(db_url: str, rows: int, events: int) -> None:
    """Accounts, suppressions, their audit entries, events and alerts, by COPY; then VACUUM ANALYZE."""
    with psycopg.connect(db_url) as conn, conn.cursor() as cursor:
        with cursor.copy("COPY accounts (id, name, status, created_at) FROM STDIN") as copy:
            for account_id in range(1, ACCOUNTS + 1):
                copy.write_row((account_id, f"Dealer {account_id}", "active", datetime.now(UTC)))
        cursor.execute("SELECT setval('accounts_id_seq', %s)", (ACCOUNTS,))
    load_suppressions(db_url, rows, account_id=1)  # bench/check.py's mix, vacuumed and analyzed
    with psycopg.connect(db_url) as conn, conn.cursor() as cursor:
        copy_audit(cursor, rows)
        copy_events(cursor, events)
        copy_alerts(cursor)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE)")


def copy_audit(cursor, rows: int) -> None:
    """One suppression.add entry per suppression, oldest first, over the past year."""
    now = datetime.now(UTC)
    with cursor.copy("COPY audit_log (at, actor, action, target, account_id, details) FROM STDIN") as copy:
        for i in range(rows):
            settled = i < rows - RECENT
            at = now - (timedelta(days=365) * (1 - i / rows) if settled else timedelta(seconds=60))
            scope, reason = ("global", "hard_bounce") if is_global(i) else ("account", "unsubscribed")
            details = f'{{"scope": "{scope}", "list": null, "reason": "{reason}", "source": "bench", "event_id": {i}}}'
            copy.write_row((at, "worker", "suppression.add", f"user{i}@dealer{i % 5000}.example.com", 1, details))


def copy_events(cursor, events: int) -> None:
    raw = ("Final-Recipient: rfc822; someone@example.com\nStatus: 5.1.1\n" * 20).encode()  # about 1 KB
    with cursor.copy("COPY events (source, kind, dedupe_key, raw, status, attempts, received_at) FROM STDIN") as copy:
        for i in range(events):
            status = "pending" if i % 1000 == 0 else "failed" if i % 997 == 0 else "processed"
            source = random.choice(("mail", "mail", "ses", "sendgrid"))
            copy.write_row((source, "auto" if source != "mail" else "bounce", f"bench:{i}", raw, status, 1,
                            datetime.now(UTC)))


def copy_alerts(cursor) -> None:
    with cursor.copy("COPY alerts (account_id, rule, severity, status, value, threshold, window_days, volume, "
                     "events, evidence, opened_at, evaluated_at) FROM STDIN") as copy:
        for account_id in range(1, ALERTS + 1):
            severity = "critical" if account_id % 10 == 0 else "warning"
            copy.write_row((account_id, "complaint_rate", severity, "open", 0.002, 0.001, 7, 2000, 4, "[]",
                            datetime.now(UTC), datetime.now(UTC)))


# --- timing -----------------------------------------------------------------------------------

def scrape(client) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get("/metrics")
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or "suppression_database_up 1.0" not in response.get_data(as_text=True):
        sys.exit(f"GET /metrics answered {response.status_code}:\n{response.get_data(as_text=True)[:2000]}")
    return elapsed, response.get_data(as_text=True)


def first_scrapes(client, rows: int) -> None:
    """The scrapes of a fresh process until the audit log's settled totals are all read."""
    from suppression import totals
    for n in range(1, rows // totals.STEP + 3):
        elapsed, text = scrape(client)
        shown = "suppression_suppressions_added_total" in text
        print(f"  first scrape {n}: {elapsed * 1000:.0f} ms{', added totals shown' if shown else ''}")
        if shown:
            added = sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                        if s.name == "suppression_suppressions_added_total")
            if added != rows:
                sys.exit(f"the added totals say {added:,.0f}, the audit log holds {rows:,}")
            return
    sys.exit("the added totals never appeared")


def queries(app) -> None:
    """Each reading alone, in this process's session, best of three."""
    from suppression import stats, totals
    from suppression.db import utcnow
    from workers import depths  # noqa: F401 - imported as the scrape does
    readings = {
        "suppressions in force (GROUP BY reason, scope)": lambda: stats.suppressions_in_force(utcnow()),
        "events (GROUP BY source, kind, status)": stats.events,
        "open alerts": stats.open_alerts,
        "accounts by status": stats.accounts,
        "audit log: the settled boundary": lambda: totals.settled_id(utcnow() - totals.SETTLE),
        f"audit log: the unsettled tail ({RECENT:,} entries)": lambda: totals.per_entry(
            totals.settled_id(utcnow() - totals.SETTLE), None),
        "audit log: everything again (what the tally saves)": lambda: totals.per_entry(0, None),
    }
    with app.app_context():
        for name, reading in readings.items():
            best = min(timed(reading) for _ in range(3))
            print(f"  {name}: {best * 1000:.0f} ms")


def timed(reading) -> float:
    started = time.perf_counter()
    reading()
    return time.perf_counter() - started


def cached_scrapes(db_url: str, count: int) -> None:
    """With the default cache, one scrape in METRICS_CACHE_SECONDS reads; the rest reuse it."""
    from suppression import create_app
    client = create_app({"DATABASE_URL": db_url, "METRICS_CACHE_SECONDS": 15}).test_client()
    reading = scrape(client)[0]
    times = [scrape(client)[0] for _ in range(count)]
    print(f"with the default cache: the scrape that reads {reading * 1000:.0f} ms, the next {count} within 15 s "
          f"p50 {percentile_ms(times, 50):.1f} ms, p95 {percentile_ms(times, 95):.1f} ms")


def percentile_ms(seconds: list[float], q: float) -> float:
    return harness.percentile(seconds, q) * 1000


if __name__ == "__main__":
    main()
