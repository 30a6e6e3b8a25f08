"""Benchmark of the pre-send check, POST /v1/check, on PostgreSQL.

What it measures, against a throwaway database `suppression_bench` holding
1,000,000 suppressions (70 % global hard bounces, 30 % unsubscribes of the
benchmark account):

- throughput and per-batch latency of /v1/check with batches of 10,000
  addresses (half suppressed, a fifth of those in upper or mixed case, ~1 %
  invalid, the rest unknown), served by ONE gunicorn worker;
- latency of single-address checks;
- a raw SQL baseline: the lookup query the service runs, timed with psycopg
  directly on the same batches, and the ratio service time / raw SQL time.

It prints numbers and asserts nothing about speed; it fails only when the
service answers wrongly (a non-200 or a wrong number of results).

Run it with PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth):

    make bench                                   # .venv/bin/python bench/check.py
    .venv/bin/python bench/check.py --rows 100000 --batches 10   # a quick run
    .venv/bin/python bench/check.py --keep       # keep the database afterwards
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import harness
import psycopg

BENCH_DB = "suppression_bench"
BATCH_SIZE = 10_000
SINGLE_CHECKS = 2_000
DOMAINS = 5_000
GLOBAL_SHARE = 0.7
SUPPRESSED_SHARE = 0.5
MIXED_CASE_SHARE = 0.2
INVALID_SHARE = 0.01
INVALID = ["not-an-address", "a@@b", "", "user@", "@dealer1.example.com", "two@at@example.com",
           "spaces in@example.com", "dot.@example.com"]
sys.path.insert(0, str(harness.ROOT))
import config  # after the line above: the repo root goes on the path first
from suppression.lookup import PG_LOOKUP_SQL

# Exactly the service's query and session settings.
LOOKUP_SQL = PG_LOOKUP_SQL
SESSION_OPTIONS = config.engine_options("postgresql://", config.load())["connect_args"]["options"]
BARS = {"throughput": 100_000, "ratio": 3.0, "single_p99_ms": 5.0}


@dataclass
class Batch:
    addresses: list[str]
    expected_blocked: int  # suppressed + invalid: the number of send:false the service should answer


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)

    def ms(self, q: float) -> float:
        return harness.percentile(self.seconds, q) * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.seconds) * 1000

    @property
    def total(self) -> float:
        return sum(self.seconds)


# --- data -------------------------------------------------------------------------------------

def stored_address(i: int) -> str:
    return f"user{i}@dealer{i % DOMAINS}.example.com"


def is_global(i: int) -> bool:
    return (i * 7919) % 100 < GLOBAL_SHARE * 100  # deterministic, spread over the range


def copy_lines(rows: int, account_id: int, created_at: str, chunk: int = 50_000):
    """COPY text-format chunks: address, scope_key, account_id, list_name, reason, source,
    created_by, created_at, expires_at."""
    account_scope, account = f"a{account_id}", str(account_id)
    for start in range(0, rows, chunk):
        lines = []
        for i in range(start, min(start + chunk, rows)):
            if is_global(i):
                scope, acct, reason = "global", r"\N", "hard_bounce"
            else:
                scope, acct, reason = account_scope, account, "unsubscribed"
            lines.append(f"{stored_address(i)}\t{scope}\t{acct}\t\\N\t{reason}\tbench\t\\N\t{created_at}\t\\N\n")
        yield "".join(lines)


def load_suppressions(db_url: str, rows: int, account_id: int) -> tuple[float, float]:
    """COPY `rows` suppressions in, then VACUUM ANALYZE; the seconds each took.

    VACUUM (FREEZE) as well as ANALYZE: a fresh COPY leaves no visibility map, so the check's
    index-only scan would visit the heap for every hit; a long-lived table in production is
    all-visible (autovacuum), and that steady state is what is measured."""
    started = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        created_at = conn.execute("SELECT now()").fetchone()[0].isoformat()
        with conn.cursor() as cur, cur.copy("COPY suppressions (address, scope_key, account_id, list_name, "
                                            "reason, source, created_by, created_at, expires_at) FROM STDIN") as copy:
            for block in copy_lines(rows, account_id, created_at):
                copy.write(block)
        conn.commit()
        copied = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM (FREEZE, ANALYZE) suppressions")
        conn.execute("CHECKPOINT")  # the load's dirty pages are written now, not during the timed checks
    return copied - started, time.perf_counter() - copied


def mixed_case(address: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return address.upper()
    local, _, domain = address.partition("@")
    return local.capitalize() + "@" + ".".join(label.capitalize() for label in domain.split("."))


def make_batch(rows: int, rng: random.Random, fresh: Iterator[int]) -> Batch:
    """BATCH_SIZE addresses in random order: suppressed (some re-cased), invalid, unknown."""
    suppressed = [stored_address(i) for i in rng.sample(range(rows), min(rows, int(BATCH_SIZE * SUPPRESSED_SHARE)))]
    suppressed = [mixed_case(a, rng) if rng.random() < MIXED_CASE_SHARE else a for a in suppressed]
    invalid = [rng.choice(INVALID) for _ in range(int(BATCH_SIZE * INVALID_SHARE))]
    unknown = [f"lead{next(fresh)}@dealer{rng.randrange(DOMAINS)}.example.com"
               for _ in range(BATCH_SIZE - len(suppressed) - len(invalid))]
    addresses = suppressed + invalid + unknown
    rng.shuffle(addresses)
    return Batch(addresses, expected_blocked=len(suppressed) + len(invalid))


def make_batches(count: int, rows: int, rng: random.Random) -> list[Batch]:
    fresh = iter(range(10 ** 12))
    return [make_batch(rows, rng, fresh) for _ in range(count)]


def make_singles(count: int, rows: int, rng: random.Random) -> list[str]:
    return [stored_address(rng.randrange(rows)) if rng.random() < SUPPRESSED_SHARE
            else f"single{n}@dealer{n % DOMAINS}.example.com" for n in range(count)]


# --- the service ------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP connection, as a sender's connection pool would hold; http.client
    because requests alone adds about 1.5 ms to every call, which is the client's, not ours."""

    def __init__(self, base: str, key: str):
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def post_check(client: Client, addresses: list[str]) -> tuple[float, list[dict]]:
    """POST one check; the seconds until the whole response arrived, and its results."""
    body = json.dumps({"addresses": addresses}).encode()
    started = time.perf_counter()
    status, payload = client.request("POST", "/v1/check", body)
    elapsed = time.perf_counter() - started
    if status != 200:
        raise SystemExit(f"POST /v1/check answered {status}: {payload[:1000]!r}")
    results = json.loads(payload)["results"]
    if len(results) != len(addresses):
        raise SystemExit(f"POST /v1/check answered {len(results)} results for {len(addresses)} addresses")
    return elapsed, results


def bench_batches(client: Client, warmup: Batch, batches: list[Batch]) -> Timings:
    post_check(client, warmup.addresses)
    timings = Timings()
    blocked = expected = 0
    for batch in batches:
        elapsed, results = post_check(client, batch.addresses)
        timings.seconds.append(elapsed)
        blocked += sum(1 for r in results if not r["send"])
        expected += batch.expected_blocked
    print(f"  send:false {blocked:,} of {len(batches) * BATCH_SIZE:,} (expected {expected:,})")
    if abs(blocked - expected) > 0.01 * expected:
        print("  WARNING: the number of send:false is off by more than 1 % from what was loaded")
    return timings


def bench_floor(client: Client, count: int = 500) -> Timings:
    """GET /healthz with the same client: what any request costs before the check does anything."""
    timings = Timings()
    for n in range(count + 50):
        started = time.perf_counter()
        status, _ = client.request("GET", "/healthz")
        if n >= 50:  # the first 50 warm up
            timings.seconds.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"GET /healthz answered {status}")
    return timings


def bench_singles(client: Client, addresses: list[str]) -> Timings:
    for address in addresses[:50]:  # warm-up
        post_check(client, [address])
    timings = Timings()
    for address in addresses:
        timings.seconds.append(post_check(client, [address])[0])
    return timings


# --- the raw SQL baseline ---------------------------------------------------------------------

def cheap_normalize(address: str) -> str | None:
    """strip().lower(), and None for what is plainly not an address."""
    value = address.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "@" in domain or "." not in domain or " " in value or local.endswith("."):
        return None
    return value


def plan_outline(conn: psycopg.Connection, params: dict) -> str:
    """The plan PostgreSQL picks for the lookup, node names only: 'Gather > Parallel Seq Scan on ...'."""
    nodes = []
    for (line,) in conn.execute("EXPLAIN " + LOOKUP_SQL, params, prepare=False):
        node = line.strip().removeprefix("->").strip()
        if "(cost=" in node:
            nodes.append(node.split("  (cost=")[0])
    return " > ".join(nodes)


def bench_raw_sql(db_url: str, account_id: int, warmup: Batch, batches: list[Batch]) -> Timings:
    scopes = ["global", f"a{account_id}"]
    timings = Timings()
    with psycopg.connect(db_url, autocommit=True, options=SESSION_OPTIONS) as conn:
        for i, batch in enumerate([warmup, *batches]):
            addresses = list(dict.fromkeys(n for n in map(cheap_normalize, batch.addresses) if n))
            params = {"addresses": "\n".join(addresses), "scopes": ",".join(scopes)}
            if not i:
                print(f"  plan: {plan_outline(conn, params)}")
            started = time.perf_counter()
            with conn.cursor() as cur:
                # Prepared, as in the service (its read-only requests keep their prepared statements).
                cur.execute(LOOKUP_SQL, params, prepare=True)
                cur.fetchall()
            if i:  # the first one is the warm-up
                timings.seconds.append(time.perf_counter() - started)
    return timings


# --- report -----------------------------------------------------------------------------------

def summary(batches: Timings, singles: Timings, floor: Timings, raw: Timings) -> str:
    throughput = len(batches.seconds) * BATCH_SIZE / batches.total
    ratio = batches.mean_ms / raw.mean_ms
    single_p99 = singles.ms(99)
    return "\n".join([
        f"check throughput: {throughput:,.0f} addresses/s (one gunicorn worker)  "
        + harness.bar(throughput >= BARS["throughput"], f">= {BARS['throughput']:,}/s"),
        (f"batch of {BATCH_SIZE:,}: p50 {batches.ms(50):.1f} ms, p99 {batches.ms(99):.1f} ms, "
         f"mean {batches.mean_ms:.1f} ms"),
        f"single address: p50 {singles.ms(50):.1f} ms, p99 {single_p99:.1f} ms  "
        + harness.bar(single_p99 <= BARS["single_p99_ms"], f"p99 <= {BARS['single_p99_ms']:g} ms"),
        f"  (HTTP + client floor, GET /healthz the same way: p50 {floor.ms(50):.1f} ms, p99 {floor.ms(99):.1f} ms)",
        f"raw SQL lookup of the same batch: p50 {raw.ms(50):.1f} ms, mean {raw.mean_ms:.1f} ms",
        f"ratio service / raw SQL: {ratio:.1f}  " + harness.bar(ratio <= BARS["ratio"], f"<= {BARS['ratio']:g}"),
    ])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="suppressions to load (default 1,000,000)")
    parser.add_argument("--batches", type=int, default=50, help="timed batches of 10,000 addresses (default 50)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to create the benchmark database")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the address mix")
    args = parser.parse_args(argv)
    if args.rows < BATCH_SIZE or args.batches < 1:
        parser.error(f"--rows must be at least {BATCH_SIZE:,} and --batches at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up as they happen
    rng = random.Random(args.seed)
    print(harness.load_note())
    print(f"database {BENCH_DB}: creating, migrating")
    with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        env = harness.service_env(db_url)
        harness.flask_cli(env, "db", "upgrade")
        account_id, key = harness.create_account_and_key(env, "Bench Motors", "--domain", "bench.example")
        print(f"loading {args.rows:,} suppressions (account {account_id})")
        copy_s, vacuum_s = load_suppressions(db_url, args.rows, account_id)
        print(f"  COPY {copy_s:.1f} s, VACUUM ANALYZE {vacuum_s:.1f} s: {args.rows / copy_s:,.0f} rows/s")
        warmup, *batches = make_batches(args.batches + 1, args.rows, rng)
        singles = make_singles(SINGLE_CHECKS, args.rows, rng)
        with harness.gunicorn(env, "-w", "1") as server:  # ONE worker: the figures are per worker
            client = Client(server.base, key)
            print(f"POST /v1/check: {args.batches} batches of {BATCH_SIZE:,} after one warm-up")
            batch_timings = bench_batches(client, warmup, batches)
            print(f"POST /v1/check: {SINGLE_CHECKS:,} single addresses")
            single_timings = bench_singles(client, singles)
            floor_timings = bench_floor(client)
            client.close()
        print("raw SQL: the service's lookup query on the same batches")
        raw_timings = bench_raw_sql(db_url, account_id, warmup, batches)
        print()
        print(summary(batch_timings, single_timings, floor_timings, raw_timings))


if __name__ == "__main__":
    main()
