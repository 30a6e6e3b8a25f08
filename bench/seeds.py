"""Benchmark of the seed audit on PostgreSQL: stored seed messages audited by one worker.

A throwaway database `suppression_bench_seeds` holds 20 dealer accounts and 50 monitor seeds; a
DNS server on 127.0.0.1 (tests/dnsserver.py) serves each dealer's DKIM key and DMARC policy.
N DKIM-signed messages (a quarter of them breaking a content rule) are stored as pending seed
events, then this process runs the seeds job (`workers.seed_jobs.audit_seeds`) on them, batch after
batch of 100, as one worker would: reading, DKIM verification, DNS (cached after the first message of
each dealer), findings, counters, commit.

It prints numbers and asserts nothing about speed; it fails only when the outcome is wrong.

    .venv/bin/python bench/seeds.py                  # 2,000 messages
    .venv/bin/python bench/seeds.py --messages 500   # a quick run
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import harness

sys.path.insert(0, str(harness.ROOT))

BENCH_DB = "suppression_bench_seeds"
ACCOUNTS, SEEDS = 20, 50
BAR, AIM = 200, 1000  # messages a second
BATCH = 100  # as the inbound batch job hands them over (workers/batches.py BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="a Redis database to empty and use: the AUP evaluations the findings ask for are "
                             "queued there, as in production, not run inline")
    harness.database_arguments(parser, BENCH_DB)
    args = parser.parse_args()
    from tests.dnsserver import DnsServer
    dns = DnsServer().start()
    try:
        with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
            app = service_app(db_url, dns.address, args.redis_url)
            started = time.perf_counter()
            event_ids = load(app, dns, args.messages)
            print(f"{args.messages:,} signed seed messages from {ACCOUNTS} dealers stored in "
                  f"{time.perf_counter() - started:.1f} s")
            elapsed = audit_all(app, event_ids)
            check(app, args.messages)
    finally:
        dns.stop()
    rate = args.messages / elapsed
    print(f"audited {args.messages:,} messages in {elapsed:.2f} s: {rate:,.0f} messages/s on one worker "
          f"({elapsed / args.messages * 1000:.2f} ms a message); DNS queries made: {sum(dns.queries.values())}")
    print(harness.bar(rate >= BAR, f"seed audit >= {BAR}/s (aim {AIM:,}/s): {rate:,.0f}/s"))


def service_app(db_url: str, nameserver: str, redis_url: str):
    from redis import Redis
    Redis.from_url(redis_url).flushdb()
    os.environ.update(harness.service_env(db_url, DNS_NAMESERVERS=nameserver, REDIS_URL=redis_url))
    from flask_migrate import upgrade

    from suppression import create_app
    app = create_app()
    with app.app_context():
        upgrade()
    logging.disable(logging.WARNING)
    return app


def load(app, dns, messages: int) -> list[int]:
    from seedlist import seeds
    from suppression import accounts, events
    from suppression.db import db
    from tests import seedmail
    key = seedmail.Key()
    with app.app_context():
        for n in range(ACCOUNTS):
            domain = f"dealer{n}.example"
            accounts.create(f"Dealer {n}", [domain], "bench", seedmail.POSTAL)
            seedmail.publish(dns, key, domain)
        for n in range(SEEDS):
            seeds.create(seeds.NewSeed(f"seed{n}@seeds.example", "monitor", "gmail"), "bench")
        db.session.commit()
        stored = []
        for n in range(messages):
            domain = f"dealer{n % ACCOUNTS}.example"
            mail = seedmail.message(f"seed{n % SEEDS}@seeds.example", sender=f"offers@{domain}",
                                    unsubscribe=f"<https://unsubscribe.example.net/u/t{n}>, <mailto:u@{domain}>",
                                    postal=None if n % 4 == 0 else seedmail.POSTAL,
                                    message_id=f"<{n}@{domain}>", campaign=f"c{n // 100}")
            raw = seedmail.signed(mail, key, domain=domain)
            stored.append((raw, events.mail_key(raw)))
        ids = [event_id for event_id, _ in events.store("mail", stored, "seed")]
        db.session.commit()
    return ids


def audit_all(app, event_ids: list[int]) -> float:
    from workers import seed_jobs as jobs
    with app.app_context():
        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(event_ids), BATCH):
            jobs.audit_seeds(event_ids[first:first + BATCH])
        elapsed = time.perf_counter() - started
        print(f"worker CPU {(time.process_time() - cpu) / len(event_ids) * 1000:.2f} ms a message "
              f"(the rest waits on PostgreSQL)")
        return elapsed


def check(app, messages: int) -> None:
    from sqlalchemy import func, select

    from suppression.db import db
    from suppression.models import Event, Finding, SeedMessage
    with app.app_context():
        audited = db.session.scalar(select(func.count()).select_from(SeedMessage))
        unprocessed = db.session.scalar(select(func.count()).select_from(Event).where(Event.status != "processed"))
        postal = db.session.scalar(select(func.count()).select_from(Finding).where(Finding.rule == "postal_address"))
        other = db.session.scalar(select(func.count()).select_from(Finding).where(Finding.rule != "postal_address"))
    expected = len(range(0, messages, 4))
    if audited != messages or unprocessed or postal != expected or other:
        sys.exit(f"wrong outcome: {audited} audited, {unprocessed} not processed, {postal} postal findings "
                 f"(expected {expected}), {other} others")


if __name__ == "__main__":
    main()
