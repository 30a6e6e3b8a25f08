"""Benchmark of RFC 8058 one-click unsubscribes, POST /u/<token>, on PostgreSQL.

What it measures: gunicorn (config/gunicorn.py, gthread) serving the app on a throwaway
PostgreSQL database `suppression_bench_unsubscribe`, with the rate limiter on real Redis
(db 14), while a second process posts one-click unsubscribes for `--seconds` (default 30)
from `--clients` threads, each with its own keep-alive connection (a closed loop: each
thread sends its next POST as soon as the previous one is answered). Every POST carries a
fresh token, so every accepted POST must leave exactly one suppression row.

Before the timed phase it makes the tokens with POST /v1/unsubscribe-links (batches of
10,000) and warms up for two seconds. The service trusts one proxy (TRUSTED_PROXIES=1) and
each POST carries an X-Forwarded-For drawn from 10,000 random addresses, as in production.
POSTs are exempt from the per-address limit on page views (a refused one-click is a lost
opt-out), so Redis sees a command only for a bad token; the count printed shows that.

How to read the output:

- accepted/s: HTTP 200 answers per second in the timed window; p50/p99 are client-side
  latencies of every POST in that window (send to last byte of the answer).
- 429s (rate limited) and other non-200s are counted apart and are not "accepted".
- lost = accepted POSTs (whole run, warm-up included) minus `suppressions` rows with source
  'one_click' counted afterwards; it must be 0. More rows than accepted POSTs would be a bug
  too (printed as duplicates).
- CPU: where the two cores went during the timed window, per process group, as a share of
  one core and as milliseconds of CPU per request. On this machine gunicorn, PostgreSQL,
  Redis and the client share two cores, so the sum tells how close to saturation it ran.
- Each figure that has a target says "[bar ...: met/NOT met]". Nothing is asserted; the
  exit status is non-zero only if the set-up fails.

Run it with PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 6379:

    .venv/bin/python bench/unsubscribe.py                    # 30 s, 2 gunicorn workers
    .venv/bin/python bench/unsubscribe.py --seconds 10 --workers 3 --clients 12
    .venv/bin/python bench/unsubscribe.py --keep             # keep the database afterwards
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import harness
import psycopg
import redis
from cryptography.fernet import Fernet

BENCH_DB = "suppression_bench_unsubscribe"
REDIS_URL = "redis://127.0.0.1:6379/14"
PUBLIC_BASE_URL = "https://unsubscribe.example.net"
LINK_BATCH = 10_000  # the most POST /v1/unsubscribe-links takes at once
AIM_RATE = 1_000  # tokens are made for twice this rate over the whole load
WARMUP_SECONDS = 2.0
CLIENT_IPS = 10_000
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"
FORM_TYPE = "application/x-www-form-urlencoded"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")
BARS = {"rate": 500, "p99_ms": 50.0}
sys.path.insert(0, str(harness.ROOT))
# After the line above, which puts the repo root on the path; it only reads the environment.
from config import gunicorn as gunicorn_settings

# --- set-up (the database, the CLI and gunicorn are bench/harness.py's) -----------------------

def service_env(db_url: str, unsubscribe_key: str, workers: int) -> dict[str, str]:
    """The service's environment, for the CLI as for gunicorn (the CLI needs the key too, or
    the app would make one under instance/)."""
    return harness.service_env(db_url, REDIS_URL=REDIS_URL, TRUSTED_PROXIES="1", UNSUBSCRIBE_KEYS=unsubscribe_key,
                               PUBLIC_BASE_URL=PUBLIC_BASE_URL, WEB_CONCURRENCY=str(workers))


def flush_limiter_storage() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


def redis_commands() -> int:
    """Commands Redis has processed since it started (all databases)."""
    return int(redis.Redis.from_url(REDIS_URL).info("stats")["total_commands_processed"])


def host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


# --- tokens -----------------------------------------------------------------------------------

def make_token_paths(base: str, key: str, count: int) -> list[str]:
    """`count` one-click paths (/u/<token>), each for a distinct address, LINK_BATCH per call."""
    connection = http.client.HTTPConnection(*host_port(base), timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    paths: list[str] = []
    try:
        for start in range(0, count, LINK_BATCH):
            size = min(LINK_BATCH, count - start)
            body = json.dumps({"recipients": [{"address": f"reader{start + n}@dealer{(start + n) % 997}.example.com"}
                                              for n in range(size)]}).encode()
            connection.request("POST", "/v1/unsubscribe-links", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                sys.exit(f"POST /v1/unsubscribe-links answered {response.status}: {payload[:1000]!r}")
            for result in json.loads(payload)["results"]:
                url = result["url"]
                paths.append(url[url.index("/u/"):])
    finally:
        connection.close()
    return paths


def tokens_needed(seconds: float) -> int:
    """Twice the aimed-for rate over warm-up and timed phase, in whole batches."""
    wanted = 2 * AIM_RATE * (seconds + WARMUP_SECONDS)
    return int(-(-wanted // LINK_BATCH) * LINK_BATCH)


# --- the load (runs in its own process) -------------------------------------------------------

@dataclass
class LoadResult:
    statuses_all: Counter = field(default_factory=Counter)  # warm-up included
    statuses_timed: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, timed window only
    timed_seconds: float = 0.0
    ran_out: bool = False
    tokens_used: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per group, timed window
    machine_busy: float = 0.0  # share of all cores busy in the timed window, 0..1
    redis_commands: int = 0  # commands Redis processed during the load (warm-up included)


@dataclass
class ThreadRecord:
    statuses_all: Counter = field(default_factory=Counter)
    statuses_timed: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    ran_out: bool = False


class OneClickConnection:
    """One keep-alive HTTP/1.1 connection that sends one-click POSTs and reads back only the status
    and as many body bytes as Content-Length says. http.client parses every response header with
    the email package: about ten times the client CPU per request, which on this machine would be
    taken from the service."""

    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None

    def post(self, path: str, forwarded_for: str) -> int:
        """The status of one one-click POST; 0 when no whole answer came (the connection is then
        closed, and the next POST opens a new one)."""
        request = (f"POST {path} HTTP/1.1\r\nHost: {self.address[0]}\r\nContent-Type: {FORM_TYPE}\r\n"
                   f"X-Forwarded-For: {forwarded_for}\r\nContent-Length: {len(ONE_CLICK_BODY)}\r\n\r\n"
                   ).encode("ascii") + ONE_CLICK_BODY
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=30)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(request)
            return self._read_response()
        except (OSError, ValueError):
            self.close()
            return 0

    def _read_response(self) -> int:
        data = b""
        while (header_end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        head = data[:header_end].lower()
        status = int(head[9:12])  # b"http/1.1 200 ok"
        length = CONTENT_LENGTH.search(head)
        if length is None or b"\r\nconnection: close" in head:  # (the app always sends a length)
            self.close()
            return status
        received = len(data) - header_end - 4
        while received < int(length[1]):
            received += len(self._recv())
        return status

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def post_one_clicks(base: str, paths: list[str], counter, ips: list[str], seed: int,
                    timed_from: float, until: float, record: ThreadRecord) -> None:
    """One client thread: one keep-alive connection, one fresh token per POST, until `until`."""
    rng = random.Random(seed)
    connection = OneClickConnection(*host_port(base))
    while (started := time.perf_counter()) < until:
        index = next(counter)  # itertools.count: atomic under the GIL, so no token is posted twice
        if index >= len(paths):
            record.ran_out = True
            break
        status = connection.post(paths[index], rng.choice(ips))
        elapsed = time.perf_counter() - started
        record.statuses_all[status] += 1
        if started >= timed_from:
            record.statuses_timed[status] += 1
            record.latencies.append(elapsed)
    connection.close()


def run_load(base: str, paths: list[str], clients: int, seconds: float, seed: int,
             gunicorn_pid: int) -> LoadResult:
    """The client process: `clients` threads for WARMUP_SECONDS, then `seconds` timed."""
    rng = random.Random(seed)
    ips = [socket.inet_ntoa(rng.getrandbits(32).to_bytes(4, "big")) for _ in range(CLIENT_IPS)]
    counter = itertools.count()
    begin = time.perf_counter()
    timed_from, until = begin + WARMUP_SECONDS, begin + WARMUP_SECONDS + seconds
    records = [ThreadRecord() for _ in range(clients)]
    threads = [threading.Thread(target=post_one_clicks, daemon=True,
                                args=(base, paths, counter, ips, seed + n, timed_from, until, records[n]))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, timed_from - time.perf_counter()))
    cpu_before, machine_before = harness.cpu_by_process(), harness.machine_ticks()
    for thread in threads:
        thread.join()
    timed_seconds = time.perf_counter() - timed_from
    cpu_after, machine_after = harness.cpu_by_process(), harness.machine_ticks()

    result = LoadResult(timed_seconds=timed_seconds)
    for record in records:
        result.statuses_all += record.statuses_all
        result.statuses_timed += record.statuses_timed
        result.latencies.extend(record.latencies)
        result.ran_out |= record.ran_out
    result.tokens_used = min(next(counter), len(paths))
    mine = {"client": os.getpid(), "gunicorn": gunicorn_pid}
    result.cpu = harness.cpu_seconds_by_group(cpu_before, cpu_after, mine, BENCH_DB)
    busy, total = (a - b for a, b in zip(machine_after, machine_before))
    result.machine_busy = busy / total if total else 0.0
    return result


def load_in_second_process(base: str, paths: list[str], clients: int, seconds: float, seed: int,
                           gunicorn_pid: int) -> LoadResult:
    # spawn, not fork: a clean interpreter, nothing inherited from this one
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_load, base, paths, clients, seconds, seed, gunicorn_pid).result()


# --- afterwards -------------------------------------------------------------------------------

@dataclass
class Stored:
    rows: int  # suppressions made by one-click POSTs
    counted: int  # the account's daily 'unsubscribes' counters
    audited: int  # audit entries of recipients' unsubscribes


def count_stored(db_url: str, account_id: int) -> Stored:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT count(*) FROM suppressions WHERE source = 'one_click'").fetchone()[0]
        counted = conn.execute("SELECT coalesce(sum(unsubscribes), 0) FROM daily_counts WHERE account_id = %s",
                               (account_id,)).fetchone()[0]
        audited = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'suppression.unsubscribe'"
                               ).fetchone()[0]
    return Stored(rows, counted, audited)


# --- report -----------------------------------------------------------------------------------

def others(statuses: Counter) -> str:
    rest = {s: n for s, n in sorted(statuses.items()) if s not in (200, 429)}
    if not rest:
        return "0"
    return f"{sum(rest.values()):,} (" + ", ".join(f"{'no answer' if s == 0 else s}: {n:,}"
                                                   for s, n in rest.items()) + ")"


def cpu_line(result: LoadResult) -> str:
    requests = sum(result.statuses_timed.values()) or 1
    parts = [f"{group} {result.cpu.get(group, 0.0) / result.timed_seconds:.0%} "
             f"({result.cpu.get(group, 0.0) / requests * 1000:.2f} ms/req)"
             for group in ("gunicorn", "postgres", "pg background", "redis", "client")]
    parts.append(f"other work on the machine {result.cpu.get('other', 0.0) / result.timed_seconds:.0%}")
    return (f"CPU in the timed window (100 % = one core; the machine was {result.machine_busy:.0%} busy "
            f"on {os.cpu_count()} cores):\n  " + ", ".join(parts))


def summary(result: LoadResult, stored: Stored) -> str:
    timed, whole = result.statuses_timed, result.statuses_all
    accepted_per_s = timed[200] / result.timed_seconds
    p50, p99 = harness.percentile(result.latencies, 50) * 1000, harness.percentile(result.latencies, 99) * 1000
    accepted = whole[200]
    lost, duplicates = max(0, accepted - stored.rows), max(0, stored.rows - accepted)
    aim = "reached" if accepted_per_s >= AIM_RATE else "not reached"
    lines = [
        (f"requests/s: {sum(timed.values()) / result.timed_seconds:,.0f} "
         f"(all answers, timed window of {result.timed_seconds:.1f} s)"),
        f"accepted one-click POSTs/s: {accepted_per_s:,.0f} (HTTP 200)  "
        + harness.bar(accepted_per_s >= BARS["rate"], f">= {BARS['rate']:,}/s") + f"  (aim {AIM_RATE:,}/s: {aim})",
        f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(result.latencies, default=0) * 1000:.1f} ms  "
        + harness.bar(p99 <= BARS["p99_ms"], f"p99 <= {BARS['p99_ms']:g} ms"),
        f"timed window: 200: {timed[200]:,}, 429: {timed[429]:,}, other non-200: {others(timed)}",
        (f"whole run (with warm-up): {sum(whole.values()):,} POSTs, accepted {accepted:,}, "
         f"429: {whole[429]:,}, other non-200: {others(whole)}"),
        f"suppression rows (source one_click): {stored.rows:,}; lost = accepted - rows = {lost:,}  "
        + harness.bar(lost == 0, "lost = 0"),
    ]
    if duplicates:
        unanswered = whole[0] + sum(n for status, n in whole.items() if status >= 500)
        lines.append(f"DUPLICATES: {duplicates:,} more rows than accepted POSTs: a bug, unless explained by the "
                     f"{unanswered:,} POSTs that got no answer or a 5xx (they may have been written)")
    redis_per_request = result.redis_commands / max(1, sum(whole.values()))
    lines += [
        (f"  (daily counter 'unsubscribes': {stored.counted:,}; audit entries: {stored.audited:,}; "
         "both should equal the rows)"),
        cpu_line(result),
        f"Redis commands per request (the rate limiter; 0 for valid POSTs): {redis_per_request:.1f}",
    ]
    if result.ran_out:
        lines.append(f"NOTE: the client ran out of tokens after {result.tokens_used:,} and stopped early")
    return "\n".join(lines)


def gunicorn_log_tail(log_path: str, lines: int = 20) -> str:
    text = Path(log_path).read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


# --- main -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of the timed phase (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--clients", type=int, default=0,
                        help="client threads, one keep-alive connection each "
                             "(default: gunicorn's workers x threads)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to create the benchmark database")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the client addresses")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.workers < 1 or args.clients < 0:
        parser.error("--seconds must be positive, --workers at least 1, --clients not negative")
    args.threads = gunicorn_settings.threads
    args.clients = args.clients or args.workers * args.threads
    return args


def run(args: argparse.Namespace, db_url: str, env: dict[str, str], key: str) -> LoadResult:
    """gunicorn up, tokens made, the load posted; gunicorn is stopped before this returns."""
    with harness.gunicorn(env) as (base, gunicorn_pid, log_path):  # workers: WEB_CONCURRENCY in env
        started = time.perf_counter()
        paths = make_token_paths(base, key, tokens_needed(args.seconds))
        made_s = time.perf_counter() - started
        print(f"tokens: {len(paths):,} made with POST /v1/unsubscribe-links in {made_s:.1f} s "
              f"({len(paths) / made_s:,.0f} links/s)")
        print(f"load: {args.clients} client threads in a second process, keep-alive, one fresh token per POST;\n"
              f"  X-Forwarded-For drawn from {CLIENT_IPS:,} random addresses (POSTs are exempt from the\n"
              f"  per-address page limit; a bad token would be counted in Redis);\n"
              f"  warm-up {WARMUP_SECONDS:g} s, then {args.seconds:g} s timed")
        redis_before = redis_commands()
        result = load_in_second_process(base, paths, args.clients, args.seconds, args.seed, gunicorn_pid)
        result.redis_commands = redis_commands() - redis_before
        failed = sum(n for status, n in result.statuses_all.items() if status not in (200, 429))
        if failed:
            print(f"last lines of the gunicorn log ({failed:,} answers neither 200 nor 429):\n"
                  f"{gunicorn_log_tail(log_path)}")
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up as they happen
    print(harness.load_note())
    print(f"database {BENCH_DB}: creating, migrating; Redis {REDIS_URL}: flushing")
    with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        env = service_env(db_url, unsubscribe_key=Fernet.generate_key().decode("ascii"), workers=args.workers)
        flush_limiter_storage()
        harness.flask_cli(env, "db", "upgrade")
        account_id, key = harness.create_account_and_key(env, "Bench Motors")
        print(f"gunicorn: {args.workers} workers x {args.threads} threads ({gunicorn_settings.worker_class}), "
              f"PostgreSQL, TRUSTED_PROXIES=1, rate limiter on Redis")
        result = run(args, db_url, env, key)
        stored = count_stored(db_url, account_id)
        print()
        print(summary(result, stored))


if __name__ == "__main__":
    main()
