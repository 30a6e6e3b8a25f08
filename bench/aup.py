"""Benchmark of the AUP evaluation on PostgreSQL: every account judged against every rule.

A throwaway database `suppression_bench_aup` holds 10,000 accounts with 30 days of daily
counters each (300,000 rows): most within the AUP, a few hundred over a warning or critical
threshold. The script times, in this process, the scheduled job's work
(`workers.jobs.evaluate_accounts`: the window sums, the rules, the alerts, the suspensions and
the commit):

- the first evaluation, which opens the alerts and suspends the critical accounts;
- steady-state evaluations, which find those alerts open and update them in place.

It prints numbers and asserts nothing about speed; it fails only when the outcome is wrong.

    .venv/bin/python bench/aup.py                    # 10,000 accounts
    .venv/bin/python bench/aup.py --accounts 1000    # a quick run
"""
from __future__ import annotations

import argparse
import io
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import harness
import psycopg

sys.path.insert(0, str(harness.ROOT))

BENCH_DB = "suppression_bench_aup"
DAYS = 30
BARS = {"full_evaluation_s": 5.0}
AIM_S = 1.0


def main() -> None:
    args = arguments()
    random.seed(args.seed)
    with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        app = service_app(db_url)
        over = load(app, db_url, args.accounts)
        print(f"{args.accounts:,} accounts x {DAYS} days of counters; over a threshold by construction: "
              f"{len(over['warning']):,} warning, {len(over['critical']):,} critical")
        first, changes = timed(app)
        check(app, over, changes)
        steady = [timed(app)[0] for _ in range(args.repeat)]
    print(f"first evaluation (opens {changes:,} alerts, suspends the critical): {first:.2f} s")
    print(f"steady evaluation (alerts open, updated in place): median {statistics.median(steady):.2f} s, "
          f"best {min(steady):.2f} s over {len(steady)} runs")
    worst = max(first, statistics.median(steady))
    print(harness.bar(worst <= BARS["full_evaluation_s"], f"full evaluation <= {BARS['full_evaluation_s']:.0f} s "
                      f"(aim {AIM_S:.0f} s): {worst:.2f} s"))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="steady-state evaluations timed (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL superuser connection (the database is created and dropped)")
    return parser.parse_args()


def service_app(db_url: str):
    import os
    os.environ.update(harness.service_env(db_url))
    from flask_migrate import upgrade

    from suppression import create_app
    app = create_app()
    with app.app_context():
        upgrade()
    logging.disable(logging.WARNING)  # not a line per suspension
    return app


def load(app, db_url: str, accounts: int) -> dict[str, set[int]]:
    """Accounts and their counters, by COPY; which accounts were made to cross which level."""
    over: dict[str, set[int]] = {"warning": set(), "critical": set()}
    today = datetime.now(UTC).date()
    accounts_csv, counts_csv = io.StringIO(), io.StringIO()
    for account_id in range(1, accounts + 1):
        accounts_csv.write(f"{account_id}\tDealer {account_id}\tactive\t{today}\n")
        level = "critical" if account_id % 100 == 0 else "warning" if account_id % 50 == 0 else None
        if level:
            over[level].add(account_id)
        for back in range(DAYS):
            sends = random.randint(1000 if level and back < 7 else 200, 2000)
            complaints = _complaints(sends, level if back < 7 else None)
            counts_csv.write(f"{account_id}\t{today - timedelta(days=back)}\t{sends}\t{sends // 200}\t"
                             f"{sends // 100}\t{complaints}\t{sends // 500}\n")
    with psycopg.connect(db_url) as conn, conn.cursor() as cursor:
        with cursor.copy("COPY accounts (id, name, status, created_at) FROM STDIN") as copy:
            copy.write(accounts_csv.getvalue())
        with cursor.copy("COPY daily_counts (account_id, day, sends, hard_bounces, soft_bounces, complaints, "
                         "unsubscribes) FROM STDIN") as copy:
            copy.write(counts_csv.getvalue())
        cursor.execute("SELECT setval('accounts_id_seq', %s)", (accounts,))
        cursor.execute("ANALYZE")
    return over


def _complaints(sends: int, level: str | None) -> int:
    # Within the AUP: under 0.1 % (one complaint per 2,000 sends or fewer); over: 0.2 % or 0.5 %.
    if level is None:
        return int(sends * 0.0004)
    return round(sends * {"warning": 0.002, "critical": 0.005}[level])


def timed(app) -> tuple[float, int]:
    from workers import jobs
    with app.app_context():
        start = time.perf_counter()
        changes = jobs.evaluate_accounts()
        return time.perf_counter() - start, changes


def check(app, over: dict[str, set[int]], changes: int) -> None:
    from sqlalchemy import select

    from suppression.db import db
    from suppression.models import Account, AccountStatus, Alert
    with app.app_context():
        alerted = dict(db.session.execute(select(Alert.account_id, Alert.severity)).all())
        suspended = set(db.session.scalars(select(Account.id).where(Account.status == AccountStatus.suspended)))
    if suspended != over["critical"] or set(alerted) != over["critical"] | over["warning"]:
        sys.exit(f"wrong outcome: {len(alerted)} alerted, {len(suspended)} suspended, {changes} changes")


if __name__ == "__main__":
    main()
