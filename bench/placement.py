"""Benchmark of one poll of the seed mailboxes: 100 mailboxes with 100 new messages each, read from
a Dovecot on 127.0.0.1 (tests/dovecot.py) by one worker.

A throwaway PostgreSQL database `suppression_bench_placement` holds 100 seeds, each with an
`imap://` mailbox on the local Dovecot (plain IMAP is allowed to loopback for the bench). Each
mailbox gets 100 messages of about 3 KB, three quarters in INBOX and a quarter in Junk. The script
then runs the seeds job `workers.seed_jobs.poll_mailbox` for each seed in this process, one after
the other, as one worker would: log in, list the folders, fetch by UID, store each message as an
event with its placement, keep the UIDs, commit, and queue the audit on Redis (not run here:
bench/seeds.py measures it). A second poll, which finds nothing new, is timed too.

It prints numbers and asserts nothing about speed; it fails only when the outcome is wrong.

    .venv/bin/python bench/placement.py
    .venv/bin/python bench/placement.py --mailboxes 20 --messages 50   # a quick run
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import harness

sys.path.insert(0, str(harness.ROOT))

BENCH_DB = "suppression_bench_placement"
BAR_S, AIM_S = 60.0, 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13",
                        help="a Redis database to empty and use (the audits are queued there)")
    harness.database_arguments(parser, BENCH_DB)
    args = parser.parse_args()
    from tests.dovecot import Dovecot
    with tempfile.TemporaryDirectory() as folder, Dovecot(Path(folder)) as dovecot, \
            harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        started = time.perf_counter()
        fill(dovecot, args.mailboxes, args.messages)
        print(f"{args.mailboxes} mailboxes x {args.messages} messages appended in {time.perf_counter() - started:.1f} s")
        app = service_app(db_url, args.redis_url)
        seed_ids = make_seeds(app, dovecot, args.mailboxes)
        first = timed(app, seed_ids)
        second = timed(app, seed_ids)
        check(app, args.mailboxes * args.messages, args.mailboxes * sum(m % 4 == 3 for m in range(args.messages)))
    total = args.mailboxes * args.messages
    print(f"first poll: {total:,} new messages from {args.mailboxes} mailboxes in {first:.1f} s "
          f"({total / first:,.0f} messages/s, {first / args.mailboxes * 1000:.0f} ms a mailbox)")
    print(f"second poll (nothing new): {second:.2f} s")
    print(harness.bar(first <= BAR_S, f"one poll of {args.mailboxes} x {args.messages} <= {BAR_S:.0f} s "
                                      f"(aim {AIM_S:.0f} s): {first:.1f} s"))


def fill(dovecot, mailboxes: int, messages: int) -> None:
    from tests import seedmail
    for n in range(mailboxes):
        user = f"seed{n}"
        dovecot.add_user(user, "pw")
        conn = dovecot.login(user, "pw")
        for m in range(messages):
            mail = seedmail.message(f"{user}@seeds.example", campaign=f"c{m // 25}",
                                    message_id=f"<{m}.{n}@alpha-motors.example>", body="Offers. " * 300)
            conn.append("Junk" if m % 4 == 3 else "INBOX", None, None, mail.as_bytes())
        conn.logout()


def service_app(db_url: str, redis_url: str):
    from redis import Redis
    Redis.from_url(redis_url).flushdb()
    os.environ.update(harness.service_env(db_url, REDIS_URL=redis_url, SEED_IMAP_ALLOW_PLAIN_LOOPBACK="1"))
    from flask_migrate import upgrade

    from suppression import create_app
    app = create_app()
    with app.app_context():
        upgrade()
    logging.disable(logging.WARNING)
    return app


def make_seeds(app, dovecot, mailboxes: int) -> list[int]:
    from seedlist import seeds
    from suppression.db import db
    with app.app_context():
        made = [seeds.create(seeds.NewSeed(f"seed{n}@seeds.example", "monitor", "own",
                                           f"imap://seed{n}:pw@127.0.0.1:{dovecot.port}"), "bench")
                for n in range(mailboxes)]
        db.session.commit()
        return [seed.id for seed in made]


def timed(app, seed_ids: list[int]) -> float:
    from workers import seed_jobs
    with app.app_context():
        started = time.perf_counter()
        for seed_id in seed_ids:
            seed_jobs.poll_mailbox(seed_id)
        return time.perf_counter() - started


def check(app, expected: int, spam: int) -> None:
    from sqlalchemy import func, select

    from suppression.db import db
    from suppression.models import Event, Placement, Seed
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Event))
        placed = dict(db.session.execute(select(Placement.placement, func.count()).group_by(Placement.placement)).all())
        failed = db.session.scalar(select(func.count()).select_from(Seed).where(Seed.mailbox_error.is_not(None)))
    if stored != expected or sum(placed.values()) != expected or placed.get("spam", 0) != spam or failed:
        sys.exit(f"wrong outcome: {stored} events, placements {placed}, {failed} mailboxes failed")


if __name__ == "__main__":
    main()
