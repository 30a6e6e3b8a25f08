"""Benchmark of the LMTP listener: N bounces delivered over LMTP from several connections.

A throwaway database `suppression_bench_lmtp` on PostgreSQL (or, with --sqlite, a file); the listener is the real command
(`flask --app worker_app lmtp`, a process of its own) with jobs queued on Redis (emptied first, and
no worker runs, so this measures taking the mail, not reading it). Each client thread keeps one
LMTP connection and sends its share of distinct DSNs, one after the other; each 250 comes after
its message's commit. Then the events are counted: every message accepted is stored, once.
The CPU seconds each part spent (the listener, PostgreSQL's backends, Redis, the clients) are
read from /proc: this machine's cores are shared, so the listener's CPU a message is the steadier
figure.

It prints numbers and asserts nothing about speed; it fails only when the outcome is wrong.

    .venv/bin/python bench/lmtp.py                                  # 5,000 messages, 8 connections
    .venv/bin/python bench/lmtp.py --messages 1000 --connections 4
    .venv/bin/python bench/lmtp.py --sqlite
"""
from __future__ import annotations

import argparse
import os
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import harness

sys.path.insert(0, str(harness.ROOT))

BENCH_DB = "suppression_bench_lmtp"
BAR, AIM = 500, 1000  # messages a second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="a Redis database to empty and use")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    harness.database_arguments(parser, BENCH_DB)
    args = parser.parse_args()
    from redis import Redis
    Redis.from_url(args.redis_url).flushdb()
    print(harness.load_note())
    with database(args) as db_url:
        port = harness.free_port()
        env = harness.service_env(db_url, REDIS_URL=args.redis_url, LMTP_BIND=f"127.0.0.1:{port}")
        harness.flask_cli(env, "db", "upgrade")
        listener = subprocess.Popen([str(harness.BIN / "flask"), "--app", "worker_app", "lmtp"], cwd=harness.ROOT, env=env)
        try:
            wait_listening(port, listener)
            cpu_before = harness.cpu_by_process()
            elapsed, codes = deliver_all(port, args.messages, args.connections)
            cpu_after = harness.cpu_by_process()
        finally:
            harness.stop(listener)
        stored = count_events(db_url)
    accepted = codes.count(250)
    assert accepted == args.messages, f"{args.messages - accepted} messages not accepted: {sorted(set(codes))}"
    assert stored == accepted, f"{accepted} messages accepted, {stored} events stored"
    rate = accepted / elapsed
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"{accepted:,} messages accepted over LMTP ({backend}) from {args.connections} connections in "
          f"{elapsed:.2f} s: {rate:,.0f} messages/s ({elapsed / accepted * 1000 * args.connections:.2f} ms a "
          f"message per connection); {stored:,} events stored")
    cpu = harness.cpu_seconds_by_group(cpu_before, cpu_after, {"listener": listener.pid, "clients": os.getpid()},
                                       BENCH_DB)
    print("CPU a message: " + ", ".join(f"{group} {seconds / accepted * 1000:.2f} ms"
                                        for group, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])))
    print(harness.bar(rate >= BAR, f"LMTP intake >= {BAR}/s (aim {AIM:,}/s): {rate:,.0f}/s"))


@contextmanager
def database(args: argparse.Namespace):
    """The URL of an empty throwaway database: PostgreSQL's, or a SQLite file's with --sqlite."""
    if not args.sqlite:
        with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
            yield db_url
        return
    with tempfile.TemporaryDirectory(prefix="bench-lmtp-") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the LMTP listener exited ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the LMTP listener did not start")


def message(n: int) -> bytes:
    return (f"From: MAILER-DAEMON@mta.example\r\nTo: bounces+a1-{n}@bounce.example\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bench-{n}@mta.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"
            "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mta.example\r\n\r\n"
            f"Final-Recipient: rfc822; gone{n}@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "\r\n--B--\r\n").encode()


def deliver_all(port: int, messages: int, connections: int) -> tuple[float, list[int]]:
    def client(first: int) -> list[int]:
        codes = []
        with smtplib.LMTP("127.0.0.1", port, timeout=60) as lmtp:
            for n in range(first, messages, connections):
                lmtp.ehlo_or_helo_if_needed()
                lmtp.mail("MAILER-DAEMON@mta.example")
                lmtp.rcpt(f"bounces+a1-{n}@bounce.example")
                codes.append(lmtp.data(message(n))[0])
        return codes
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        codes = [code for share in pool.map(client, range(connections)) for code in share]
    return time.perf_counter() - started, codes


def count_events(db_url: str) -> int:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    import psycopg
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


if __name__ == "__main__":
    main()
