"""One fault scenario: load from a second process, a fault injected while it runs, then the
recovery (the sweep, the workers' drain) and what the answers and the database must agree on."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import requests
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

from faults.cluster import ROOT, Postgres, Service, alive, wait_for
from faults.load import bounced_address, unsubscribing_address

LOAD_SECONDS = 14
FAULT_AT = 4  # seconds into the load
INGEST_THREADS, ONE_CLICK_THREADS, RATE = 4, 2, 25  # requests a second per thread
DRAIN_SECONDS = 60  # after the sweep, for the workers to leave no event pending
SUMMARIES: list[str] = []  # printed at the end of the run (conftest.py)


@dataclass
class Run:
    """What a scenario saw: every answer, and how long the drain took."""
    name: str
    run: str
    answers: list[dict] = field(default_factory=list, repr=False)
    drain_seconds: float | None = None

    def summary(self) -> str:
        """requests, 2xx, 503 and other answers, for ingest and one-click; the drain's time."""
        parts = []
        for kind in ("ingest", "one_click"):
            statuses = Counter(a["status"] for a in self.answers if a["kind"] == kind)
            ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
            other = ", ".join(f"{n} x {s or 'none'}" for s, n in sorted(statuses.items())
                              if not (200 <= s < 300 or s == 503))
            parts.append(f"{kind} {statuses.total()} requests: {ok} 2xx, {statuses[503]} 503, other {other or 0}")
        drained = "not drained" if self.drain_seconds is None else f"drained in {self.drain_seconds:.1f} s"
        return f"{self.name}: " + "; ".join(parts) + f"; {drained}"


def one_click_tokens(service: Service, run: str, count: int) -> list[str]:
    """Tokens of `count` distinct recipients of the account, from POST /v1/unsubscribe-links."""
    recipients = [{"address": unsubscribing_address(run, i)} for i in range(count)]
    response = requests.post(f"{service.base}/v1/unsubscribe-links", json={"recipients": recipients},
                             headers={"Authorization": f"Bearer {service.sender_key}"}, timeout=60)
    response.raise_for_status()
    return [r["url"].split("/u/", 1)[1] for r in response.json()["results"]]


def under_load(name: str, service: Service, fault: Callable[[], None]) -> Run:
    """Load for LOAD_SECONDS from a second process, `fault()` run FAULT_AT seconds in; every answer."""
    run = Run(name, secrets.token_hex(3))
    plan = {"base": service.base, "ingest_key": service.ingest_key, "account_id": service.account_id,
            "run": run.run, "seconds": LOAD_SECONDS, "rate": RATE, "ingest_threads": INGEST_THREADS,
            "one_click_threads": ONE_CLICK_THREADS,
            "tokens": one_click_tokens(service, run.run, ONE_CLICK_THREADS * RATE * (LOAD_SECONDS + 2))}
    plan_path, out_path = service.directory / f"{name}-plan.json", service.directory / f"{name}-answers.json"
    plan_path.write_text(json.dumps(plan))
    load = subprocess.Popen([sys.executable, "-m", "faults.load", str(plan_path), str(out_path)], cwd=ROOT)
    try:
        time.sleep(FAULT_AT)
        fault()
        load.wait(timeout=LOAD_SECONDS + 30)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    assert load.returncode == 0, f"the load process failed ({load.returncode})"
    run.answers = json.loads(out_path.read_text())
    return run


def in_background(action: Callable[[], None]) -> Callable[[], None]:
    """A fault that runs beside the load (a Redis outage of seconds), so that the load goes on."""
    def start() -> None:
        threading.Thread(target=action, daemon=True).start()
    return start


def pending_events(postgres: Postgres) -> int:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM events WHERE status = 'pending'").fetchone()[0]


def drain(run: Run, service: Service, postgres: Postgres) -> None:
    """The operator's sweep of every pending event, then the workers' drain (bounded)."""
    service.cli("inbound", "sweep", "--older-than", "0")
    try:
        run.drain_seconds = wait_for(lambda: pending_events(postgres) == 0, DRAIN_SECONDS, "no event pending",
                                     interval=0.5)
    except AssertionError:
        pass  # asserted with the others, so that every invariant is reported


# --- the invariants ---------------------------------------------------------------------------

def accepted(run: Run, kind: str, status: int) -> list[dict]:
    return [a for a in run.answers if a["kind"] == kind and a["status"] == status]


def broken_invariants(run: Run, service: Service, postgres: Postgres) -> list[str]:
    """What the answers and the database disagree on; empty when every invariant holds."""
    ingested, clicked = accepted(run, "ingest", 202), accepted(run, "one_click", 200)
    bounced = [bounced_address(run.run, a["n"]) for a in ingested]
    unsubscribed = [unsubscribing_address(run.run, a["n"]) for a in clicked]
    broken = []
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        def one(sql: str, *params) -> int:
            return conn.execute(sql, params).fetchone()[0]

        def present(sql: str, values: list) -> set:
            return {row[0] for row in conn.execute(sql, (values,))}

        ids = [a["event_id"] for a in ingested]
        if missing := set(ids) - present("SELECT id FROM events WHERE id = ANY(%s)", ids):
            broken.append(f"{len(missing)} accepted events (202) have no row, e.g. {sorted(missing)[:5]}")
        suppressed = present("SELECT address FROM suppressions WHERE scope_key = 'global'"
                             " AND reason = 'hard_bounce' AND address = ANY(%s)", bounced)
        if missing := set(bounced) - suppressed:
            broken.append(f"{len(missing)} of {len(bounced)} accepted hard bounces have no suppression")
        scope = f"a{service.account_id}"
        opted_out = present(f"SELECT address FROM suppressions WHERE scope_key = '{scope}'"
                            " AND reason = 'unsubscribed' AND address = ANY(%s)", unsubscribed)
        if missing := set(unsubscribed) - opted_out:
            broken.append(f"{len(missing)} of {len(unsubscribed)} one-click opt-outs answered 200 have no suppression")
        counted = {column: one(f"SELECT coalesce(sum({column}), 0) FROM daily_counts WHERE account_id = %s",
                               service.account_id) for column in ("hard_bounces", "unsubscribes")}
        rows = {"hard_bounces": one("SELECT count(*) FROM suppressions WHERE reason = 'hard_bounce'"),
                "unsubscribes": one("SELECT count(*) FROM suppressions WHERE reason = 'unsubscribed'")}
        hard_events = one("SELECT count(*) FROM events WHERE outcome = 'hard_bounce'")
        if counted != rows or hard_events != rows["hard_bounces"]:
            broken.append(f"counted twice or not at all: daily_counts {counted}, suppressions {rows}, "
                          f"events that counted a hard bounce {hard_events}")
        statuses = dict(conn.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall())
        if statuses.get("pending") or statuses.get("failed"):
            broken.append(f"events left behind after the sweep and {DRAIN_SECONDS} s of drain: {statuses}")
    errors = Counter((a["kind"], a["status"]) for a in run.answers if a["status"] >= 500 and a["status"] != 503)
    if errors:
        broken.append("server errors answered (503 alone is allowed): "
                      + ", ".join(f"{n} {status} to {kind}" for (kind, status), n in sorted(errors.items())))
    return broken


def processes_needing_a_person(service: Service, killed: set[int] = frozenset()) -> list[str]:
    """Processes that died and are not back: gunicorn, and the workers (all but `killed`)."""
    broken = []
    if not alive(service.gunicorn_pid):
        broken.append("gunicorn is not running")
    dead = [w.pid for w in service.workers if w.pid not in killed and w.poll() is not None]
    if dead:
        broken.append(f"{len(dead)} of {len(service.workers) - len(killed)} workers exited: "
                      f"{[w.returncode for w in service.workers if w.pid in dead]}")
    return broken


def queue_state(redis_url: str) -> str:
    """Where the inbound work stands in Redis, for a failure's report."""
    redis = Redis.from_url(redis_url)
    try:
        inbound = Queue("inbound", connection=redis)
        workers = [f"{w.pid}:{w.get_current_job_id() or 'idle'}" for w in Worker.all(connection=redis)]
        return (f"inbound:ready {redis.llen('inbound:ready')}, inbound:batch-queued ttl "
                f"{redis.ttl('inbound:batch-queued')}, inbound queue {inbound.count} jobs, started "
                f"{inbound.started_job_registry.count}, scheduled {inbound.scheduled_job_registry.count}, "
                f"workers {workers}")
    except RedisError as exc:
        return f"Redis unreachable: {exc}"


def database_state(postgres: Postgres) -> str:
    """What the database's sessions are doing (not idle), for a failure's report."""
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid, state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity"
                            " WHERE backend_type = 'client backend' AND state <> 'idle'"
                            " AND pid <> pg_backend_pid()").fetchall()
    return f"database sessions at work: {rows}"


def scheduler_lock_holder(redis_url: str, queue: str = "inbound") -> int | None:
    """The pid of the RQ scheduler that holds `queue`'s lock, None when none holds it."""
    redis = Redis.from_url(redis_url)
    name = redis.get(f"rq:scheduler-lock:{queue}")
    pid = name and redis.hget(f"rq:scheduler:{name.decode()}", "pid")
    return int(pid) if pid else None
