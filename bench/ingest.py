"""Benchmark of inbound mail on PostgreSQL: bounces accepted over HTTP, then processed by one worker.

What it measures, on a throwaway PostgreSQL database `suppression_bench_ingest` with the job
queue on real Redis (db 13, flushed first):

1. Ingest: gunicorn (config/gunicorn.py, gthread) serving the app while a second process posts
   raw bounce messages, POST /v1/inbound/mail with an ingest key and Content-Type
   message/rfc822, for `--seconds` (default 20) from `--clients` threads (default twice the
   server's threads, so no server thread idles while a commit is flushed), each with its own
   keep-alive connection (a closed loop: a thread posts its next message as soon as the previous
   one is answered), after a two-second warm-up. Every message is distinct, so each accepted one
   (202) must leave one `events` row and its id in the Redis list "inbound:ready", which batch
   jobs on the RQ queue "inbound" work through; no worker runs.
2. Processing: then, gunicorn stopped, ONE worker, `flask --app wsgi worker --burst`, works the
   queue until it is empty and exits. Timed from its start to its exit.

The messages are RFC 3464 delivery status notifications (multipart/report; report-type=
delivery-status) as Postfix writes them, about 3 KB each, one per recipient userN@example.com,
sent back to the VERP address bounces+a<account>-N@bounce.example of the account "Bench Motors"
(sending domain bench-motors.example, the original's From:). Mix by N: 70 % hard (5.1.1 user
unknown), 20 % soft (4.2.2 mailbox full), 10 % policy blocks (5.7.1 client host blocked).

How to read the output:

- accepted/s: HTTP 202 answers per second in the timed window; p50/p99 are client-side
  latencies (send to last byte of the answer) of every POST in that window; other statuses are
  counted apart. Afterwards the `events` rows and the waiting ids must both equal the
  accepted POSTs of the whole run (warm-up included); the RQ batch jobs queued are printed.
- CPU: where the cores went, per process group, as a share of one core and as milliseconds of
  CPU per message; on a small machine gunicorn, PostgreSQL, Redis and the client share the cores.
- processed/s: events that ended processed or ignored (counted in the database) divided by the
  worker's whole run, start-up and exit included. The worker's start-up (process start to the
  first event's processed_at), its steady rate (first to last processed_at) and the run of a
  worker on an empty queue are printed apart, as are events left failed or pending.
- Sanity: the suppressions with reason hard_bounce must equal the hard bounces processed (each
  message has its own recipient), and the events and daily counts must be attributed to the
  account.
- Each figure that has a target says "[bar ...: met/NOT met]". Nothing is asserted; the exit
  status is non-zero only if the set-up fails.

Run it with PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 6379:

    .venv/bin/python bench/ingest.py                    # 20 s, 2 gunicorn workers
    .venv/bin/python bench/ingest.py --seconds 5 --workers 3 --clients 12
    .venv/bin/python bench/ingest.py --keep             # keep the database afterwards
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from multiprocessing import get_context
from pathlib import Path

import harness
import psycopg
from cryptography.fernet import Fernet
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

BENCH_DB = "suppression_bench_ingest"
REDIS_URL = "redis://127.0.0.1:6379/13"
QUEUE = "inbound"  # workers/queues.py INBOUND
READY = "inbound:ready"  # workers/batches.py READY: the ids of events waiting for a batch job
WARMUP_SECONDS = 2.0
DOMAIN = "bench-motors.example"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")
BARS = {"rate": 500}
sys.path.insert(0, str(harness.ROOT))
# After the line above, which puts the repo root on the path; it only reads the environment.
from config import gunicorn as gunicorn_settings

# --- the messages -----------------------------------------------------------------------------

# kind: (Status, SMTP reply the remote server gave). n % 10 picks the kind: 0-6 hard, 7-8 soft, 9 policy.
KINDS = {
    "hard": ("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table"),
    "soft": ("4.2.2", "452 4.2.2 <{r}>: Recipient address rejected: Mailbox full, quota exceeded"),
    "policy": ("5.7.1", "550 5.7.1 Service unavailable; client host [203.0.113.25] blocked using zen.spamhaus.org"),
}
MIX = ("hard",) * 7 + ("soft",) * 2 + ("policy",)
DKIM_B = ("dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSwganVzdCBieXRlcyBvZiB0aGUgc2l6ZSBvbmUgaGFzLCBzbyB0aGUg"
          "bWVzc2FnZSBoYXMgdGhlIHNpemUgb2YgYSByZWFsIGJvdW5jZSBmcm9tIGEgcmVhbCBNVEEgd2l0aCBhIDIwNDgtYml0"
          "IFJTQSBrZXk7IHRoZSBzZXJ2aWNlIGRvZXMgbm90IGNoZWNrIGl0LCBpdCByZWFkcyBvbmx5IGQ9IHRvIGZpbmQgdGhl"
          "IGRlYWxlciB0aGF0IHNlbnQgdGhlIG9yaWdpbmFsIG1lc3NhZ2UuIFRoaXMgbGluZSBpcyBmaWxsZXIu")

DSN = """\
Return-Path: <>
Received: from mta2.{domain} (mta2.{domain} [192.0.2.12])
\tby inbound.bounce.example (Postfix) with ESMTPS id {qid}
\tfor <{verp}>; {date}
Received: by mta2.{domain} (Postfix)
\tid {qid}; {date}
Date: {date}
From: MAILER-DAEMON@mta2.{domain} (Mail Delivery System)
To: {verp}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{run}.{n}.dsn@mta2.{domain}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{qid}.{n}/mta2.{domain}"

This is a MIME-encapsulated message.

--{qid}.{n}/mta2.{domain}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mta2.{domain}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{r}>: host mx{mx}.example.com[198.51.100.{mx}] said: {reply} (in reply to
    RCPT TO command)

--{qid}.{n}/mta2.{domain}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mta2.{domain}
X-Postfix-Queue-ID: {qid}
X-Postfix-Sender: rfc822; {verp}
Arrival-Date: {date}

Final-Recipient: rfc822; {r}
Original-Recipient: rfc822;{r}
Action: failed
Status: {status}
Remote-MTA: dns; mx{mx}.example.com
Diagnostic-Code: smtp; {reply}

--{qid}.{n}/mta2.{domain}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{verp}>
Received: from app3.{domain} (app3.{domain} [10.0.0.13])
\tby mta2.{domain} (Postfix) with ESMTP id {qid}
\tfor <{r}>; {date}
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain};
\ts=mail2024; t=1700000000; h=from:to:subject:date:message-id:list-unsubscribe:
\tlist-unsubscribe-post; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
\tb={dkim}
From: Bench Motors <offers@{domain}>
To: {r}
Subject: Winter tyres: 20 % off fitting until the end of the month
Date: {date}
Message-ID: <offer-{run}-{n}@{domain}>
List-Unsubscribe: <https://unsubscribe.example.net/u/{run}{n:08d}>,
 <mailto:unsubscribe@bounce.example?subject={run}{n:08d}>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt-{run}-{n}"

--{qid}.{n}/mta2.{domain}--
"""


def message(n: int, account_id: int, run: str, date: str = "Mon, 2 Dec 2024 09:30:00 +0000") -> tuple[bytes, str]:
    """Bounce number `n` of this run, CRLF line ends, and its kind (hard, soft or policy)."""
    kind = MIX[n % len(MIX)]
    status, reply = KINDS[kind]
    recipient = f"user{n}@example.com"
    text = DSN.format(domain=DOMAIN, verp=f"bounces+a{account_id}-{n}@bounce.example", run=run, n=n,
                      qid=f"4Y{n:09X}", date=date, r=recipient, mx=n % 7 + 1, status=status,
                      reply=reply.format(r=recipient), dkim=DKIM_B)
    return text.replace("\n", "\r\n").encode("ascii"), kind


# --- set-up -----------------------------------------------------------------------------------

def service_env(db_url: str, workers: int) -> dict[str, str]:
    """The service's environment, for the CLI, gunicorn and the worker (the CLI needs the
    unsubscribe key too, or the app would make one under instance/)."""
    return harness.service_env(db_url, REDIS_URL=REDIS_URL, UNSUBSCRIBE_KEYS=Fernet.generate_key().decode("ascii"),
                               WEB_CONCURRENCY=str(workers))


def redis_connection() -> Redis:
    return Redis.from_url(REDIS_URL)


def inbound_queue() -> Queue:
    """The queue as workers/queues.py makes it (JSON serializer)."""
    return Queue(QUEUE, connection=redis_connection(), serializer=JSONSerializer)


def redis_commands() -> int:
    """Commands Redis has processed since it started (all databases)."""
    return int(redis_connection().info("stats")["total_commands_processed"])


def host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


# --- the load (runs in its own process) -------------------------------------------------------

@dataclass
class LoadResult:
    statuses_all: Counter = field(default_factory=Counter)  # warm-up included
    statuses_timed: Counter = field(default_factory=Counter)
    accepted_kinds: Counter = field(default_factory=Counter)  # 202s by kind, warm-up included
    latencies: list[float] = field(default_factory=list)  # seconds, timed window only
    timed_seconds: float = 0.0
    posted_bytes: int = 0  # message bodies, whole run
    refusal: bytes = b""  # the first answer that was not a 202, for the report
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per group, timed window
    machine_busy: float = 0.0  # share of all cores busy in the timed window, 0..1
    redis_commands: int = 0  # commands Redis processed during the load (warm-up included)


@dataclass
class ThreadRecord:
    statuses_all: Counter = field(default_factory=Counter)
    statuses_timed: Counter = field(default_factory=Counter)
    accepted_kinds: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    posted_bytes: int = 0
    refusal: bytes = b""


class MailConnection:
    """One keep-alive HTTP/1.1 connection that posts raw messages and reads back the status and
    the body (as many bytes as Content-Length says), as bench/unsubscribe.py's client does:
    http.client's header parsing would take CPU from the service on a small machine."""

    def __init__(self, host: str, port: int, key: str):
        self.address = (host, port)
        self.head = (f"POST /v1/inbound/mail HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                     f"Content-Type: message/rfc822\r\n")
        self.sock: socket.socket | None = None

    def post(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST; status 0 when no whole answer came (the connection is then
        closed, and the next POST opens a new one)."""
        request = f"{self.head}Content-Length: {len(raw)}\r\n\r\n".encode("ascii") + raw
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=30)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(request)
            return self._read_response()
        except (OSError, ValueError) as exc:
            self.close()
            return 0, repr(exc).encode()

    def _read_response(self) -> tuple[int, bytes]:
        data = b""
        while (header_end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        head = data[:header_end].lower()
        status = int(head[9:12])  # b"http/1.1 202 accepted"
        length = CONTENT_LENGTH.search(head)
        body = data[header_end + 4:]
        if length is None or b"\r\nconnection: close" in head:  # (the app always sends a length)
            self.close()
            return status, body
        while len(body) < int(length[1]):
            body += self._recv()
        return status, body

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def post_messages(base: str, key: str, account_id: int, run: str, counter, timed_from: float, until: float,
                  record: ThreadRecord) -> None:
    """One client thread: one keep-alive connection, a new message per POST, until `until`."""
    connection = MailConnection(*host_port(base), key)
    date = formatdate(localtime=False, usegmt=False)
    while (started := time.perf_counter()) < until:
        raw, kind = message(next(counter), account_id, run, date)  # itertools.count: atomic under the GIL
        status, body = connection.post(raw)
        elapsed = time.perf_counter() - started
        record.statuses_all[status] += 1
        record.posted_bytes += len(raw)
        if status == 202:
            record.accepted_kinds[kind] += 1
        elif not record.refusal:
            record.refusal = f"{status}: ".encode() + body[:300]
        if started >= timed_from:
            record.statuses_timed[status] += 1
            record.latencies.append(elapsed)
    connection.close()


def run_load(base: str, key: str, account_id: int, run: str, clients: int, seconds: float,
             gunicorn_pid: int) -> LoadResult:
    """The client process: `clients` threads for WARMUP_SECONDS, then `seconds` timed."""
    counter = itertools.count()
    begin = time.perf_counter()
    timed_from, until = begin + WARMUP_SECONDS, begin + WARMUP_SECONDS + seconds
    records = [ThreadRecord() for _ in range(clients)]
    threads = [threading.Thread(target=post_messages, daemon=True,
                                args=(base, key, account_id, run, counter, timed_from, until, records[n]))
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
        result.accepted_kinds += record.accepted_kinds
        result.latencies.extend(record.latencies)
        result.posted_bytes += record.posted_bytes
        result.refusal = result.refusal or record.refusal
    mine = {"gunicorn": gunicorn_pid, "client": os.getpid()}
    result.cpu = harness.cpu_seconds_by_group(cpu_before, cpu_after, mine, BENCH_DB)
    busy, total = (a - b for a, b in zip(machine_after, machine_before))
    result.machine_busy = busy / total if total else 0.0
    return result


def load_in_second_process(base: str, key: str, account_id: int, run: str, clients: int, seconds: float,
                           gunicorn_pid: int) -> LoadResult:
    # spawn, not fork: a clean interpreter, nothing inherited from this one
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_load, base, key, account_id, run, clients, seconds, gunicorn_pid).result()


def ingest(args: argparse.Namespace, env: dict[str, str], key: str, account_id: int) -> LoadResult:
    """gunicorn up, the load posted; gunicorn is stopped before this returns."""
    with harness.gunicorn(env) as (base, gunicorn_pid, log_path):  # workers: WEB_CONCURRENCY in env
        print(f"load: {args.clients} client threads in a second process, keep-alive, a new bounce per POST;\n"
              f"  warm-up {WARMUP_SECONDS:g} s, then {args.seconds:g} s timed")
        redis_before = redis_commands()
        result = load_in_second_process(base, key, account_id, secrets.token_hex(4), args.clients, args.seconds,
                                        gunicorn_pid)
        result.redis_commands = redis_commands() - redis_before
        refused = sum(n for status, n in result.statuses_all.items() if status != 202)
        if refused:
            log = Path(log_path).read_text(errors="replace").strip().splitlines()
            print(f"last lines of the gunicorn log ({refused:,} answers were not 202):\n" + "\n".join(log[-20:]))
    return result


# --- the worker -------------------------------------------------------------------------------

@dataclass
class WorkerRun:
    seconds: float  # process start to exit
    returncode: int | None  # None: still running at the timeout, killed
    started_at: float  # time.time() at the start, to compare with processed_at
    cpu_seconds: float  # the worker process's own CPU (user + system)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per group while it ran
    log_lines: int = 0
    log_tail: str = ""


def run_worker(env: dict[str, str], timeout: float, watch_cpu: bool = False) -> WorkerRun:
    """`flask --app wsgi worker --burst`, timed from start to exit; its CPU, and with `watch_cpu`
    that of PostgreSQL and Redis meanwhile (sampled: a backend's last sample before it exits)."""
    with tempfile.NamedTemporaryFile("w+", prefix="bench-worker-", suffix=".log") as log:
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = harness.cpu_by_process() if watch_cpu else {}
        started_at, started = time.time(), time.perf_counter()
        proc = subprocess.Popen([str(harness.BIN / "flask"), "--app", "wsgi", "worker", "--burst"],
                                cwd=harness.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        seen: dict[int, tuple[str, int, int]] = {}
        while proc.poll() is None and time.perf_counter() - started < timeout:
            if watch_cpu:
                seen.update(harness.cpu_by_process())
            time.sleep(0.25)
        returncode = proc.poll()
        if returncode is None:
            harness.stop(proc)
        else:
            proc.wait()
        seconds = time.perf_counter() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds = (children_after.ru_utime - children_before.ru_utime
                       + children_after.ru_stime - children_before.ru_stime)
        cpu = {}
        if watch_cpu:
            seen.update(harness.cpu_by_process())
            mine = {"worker": proc.pid, "this script": os.getpid()}
            cpu = harness.cpu_seconds_by_group(cpu_before, seen, mine, BENCH_DB)
            cpu["worker"] = cpu_seconds  # exact, rather than the last sample
        lines = Path(log.name).read_text(errors="replace").splitlines()
    return WorkerRun(seconds, returncode, started_at, cpu_seconds, cpu, len(lines), "\n".join(lines[-15:]))


# --- afterwards -------------------------------------------------------------------------------

@dataclass
class Stored:
    events: int = 0
    statuses: Counter = field(default_factory=Counter)
    read_as: Counter = field(default_factory=Counter)  # (hard, reason) of the first recipient, done events
    attributed: int = 0  # events of the benchmark account
    first_done: datetime | None = None  # earliest and latest processed_at
    last_done: datetime | None = None
    hard_bounce_rows: int = 0
    soft_limit_rows: int = 0
    counted: dict[str, int] = field(default_factory=dict)  # the account's daily counts
    errors: list[str] = field(default_factory=list)  # a few errors of failed events


def count_stored(db_url: str, account_id: int) -> Stored:
    stored = Stored()
    with psycopg.connect(db_url) as conn:
        stored.statuses = Counter(dict(conn.execute("SELECT status, count(*) FROM events GROUP BY status")))
        stored.events = sum(stored.statuses.values())
        stored.read_as = Counter({(hard, reason): n for hard, reason, n in conn.execute(
            "SELECT c -> 'recipients' -> 0 ->> 'hard', c -> 'recipients' -> 0 ->> 'reason', count(*) "
            "FROM (SELECT classification::jsonb AS c FROM events WHERE status IN ('processed', 'ignored')) e "
            "GROUP BY 1, 2")})
        stored.attributed = conn.execute("SELECT count(*) FROM events WHERE account_id = %s",
                                         (account_id,)).fetchone()[0]
        stored.first_done, stored.last_done = conn.execute(
            "SELECT min(processed_at), max(processed_at) FROM events").fetchone()
        stored.hard_bounce_rows, stored.soft_limit_rows = conn.execute(
            "SELECT count(*) FILTER (WHERE reason = 'hard_bounce'), count(*) FILTER (WHERE reason = 'soft_bounce_limit') "
            "FROM suppressions").fetchone()
        hard, soft = conn.execute("SELECT coalesce(sum(hard_bounces), 0), coalesce(sum(soft_bounces), 0) "
                                  "FROM daily_counts WHERE account_id = %s", (account_id,)).fetchone()
        stored.counted = {"hard_bounces": hard, "soft_bounces": soft}
        stored.errors = [e for (e,) in conn.execute(
            "SELECT DISTINCT left(error, 200) FROM events WHERE error IS NOT NULL LIMIT 3")]
    return stored


@dataclass
class QueueState:
    waiting: int  # event ids in the READY list
    queued: int  # RQ jobs (batches)
    failed: int
    scheduled: int  # retries waiting for their interval


def queue_state() -> QueueState:
    queue = inbound_queue()
    return QueueState(queue.connection.llen(READY), queue.count, FailedJobRegistry(queue=queue).count,
                      ScheduledJobRegistry(queue=queue).count)


# --- report -----------------------------------------------------------------------------------

def others(statuses: Counter) -> str:
    rest = {s: n for s, n in sorted(statuses.items()) if s != 202}
    if not rest:
        return "0"
    return f"{sum(rest.values()):,} (" + ", ".join(f"{'no answer' if s == 0 else s}: {n:,}"
                                                   for s, n in rest.items()) + ")"


def check(ok: bool) -> str:
    return "ok" if ok else "MISMATCH"


def cpu_line(cpu: dict[str, float], seconds: float, items: int, groups: tuple[str, ...], busy: float | None,
             unit: str) -> str:
    items = items or 1
    parts = [f"{group} {cpu.get(group, 0.0) / seconds:.0%} ({cpu.get(group, 0.0) / items * 1000:.2f} ms/{unit})"
             for group in groups]
    parts.append(f"other work on the machine {cpu.get('other', 0.0) / seconds:.0%}")
    machine = f"; the machine was {busy:.0%} busy" if busy is not None else ""
    return f"  CPU (100 % = one core{machine} on {os.cpu_count()} cores):\n    " + ", ".join(parts)


def ingest_summary(result: LoadResult, stored: Stored, queued: QueueState) -> str:
    timed, whole = result.statuses_timed, result.statuses_all
    accepted_per_s = timed[202] / result.timed_seconds
    p50, p99 = harness.percentile(result.latencies, 50) * 1000, harness.percentile(result.latencies, 99) * 1000
    accepted = whole[202]
    posts = sum(whole.values()) or 1
    kinds = ", ".join(f"{kind} {result.accepted_kinds[kind]:,}" for kind in KINDS)
    lines = [
        "1. ingest: POST /v1/inbound/mail, no worker running",
        f"  accepted messages/s: {accepted_per_s:,.0f} (HTTP 202, timed window of {result.timed_seconds:.1f} s)  "
        + harness.bar(accepted_per_s >= BARS["rate"], f">= {BARS['rate']:,}/s"),
        f"  latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(result.latencies, default=0) * 1000:.1f} ms",
        f"  timed window: 202: {timed[202]:,}, non-202: {others(timed)}",
        (f"  whole run (with warm-up): {sum(whole.values()):,} POSTs, accepted {accepted:,} ({kinds}), "
         f"non-202: {others(whole)}; {result.posted_bytes / posts / 1024:.1f} KB a message"),
        f"  events rows: {stored.events:,}  ({check(stored.events == accepted)}: = accepted)",
        (f"  event ids waiting in Redis '{READY}': {queued.waiting:,}  ({check(queued.waiting == accepted)}: "
         f"= accepted); RQ batch jobs queued: {queued.queued:,}"),
        cpu_line(result.cpu, result.timed_seconds, sum(timed.values()),
                 ("gunicorn", "postgres", "pg background", "redis", "client"), result.machine_busy, "msg"),
        f"  Redis commands per accepted message (the enqueue): {result.redis_commands / max(1, accepted):.1f}",
    ]
    if result.refusal:
        lines.append(f"  first non-202 answer: {result.refusal!r}")
    return "\n".join(lines)


def worker_summary(run: WorkerRun, empty: WorkerRun, stored: Stored, after: QueueState, accepted: int,
                   hard_sent: int) -> str:
    done = stored.statuses["processed"] + stored.statuses["ignored"]
    left = stored.statuses["pending"]
    lines = ["2. processing: one worker, flask --app wsgi worker --burst"]
    if run.returncode is None:
        lines.append(f"  STOPPED: the worker had not finished after {run.seconds:.0f} s (--worker-timeout)")
    elif run.returncode != 0:
        lines.append(f"  the worker exited with {run.returncode}; its last lines:\n{run.log_tail}")
    lines.append(f"  processed messages/s: {done / run.seconds:,.1f} ({done:,} processed or ignored in "
                 f"{run.seconds:.1f} s, start to exit)")
    if stored.first_done and stored.last_done and done > 1:
        start_up = stored.first_done.timestamp() - run.started_at
        steady = (stored.last_done - stored.first_done).total_seconds()
        tail = run.started_at + run.seconds - stored.last_done.timestamp()
        lines.append(f"  start-up to the first processed event: {start_up:.2f} s; steady rate "
                     f"{(done - 1) / steady:,.1f}/s over {steady:.1f} s; exit after the last: {tail:.2f} s")
    lines.append(f"  (a worker on the empty queue, start to exit: {empty.seconds:.2f} s, "
                 f"{empty.cpu_seconds:.2f} s CPU)")
    lines.append(f"  events: processed {stored.statuses['processed']:,}, ignored {stored.statuses['ignored']:,}, "
                 f"failed {stored.statuses['failed']:,}, pending {left:,}  "
                 f"({check(done == accepted)}: processed + ignored = accepted {accepted:,})")
    lines.append(f"  Redis afterwards: ids waiting {after.waiting:,}, jobs queued {after.queued:,}, failed jobs {after.failed:,}, "
                 f"retries scheduled {after.scheduled:,}")
    if stored.errors:
        lines.append("  errors of failed events: " + " | ".join(stored.errors))
    read_as = ", ".join(f"{'hard' if hard == 'true' else 'soft' if hard == 'false' else 'n/a'} {reason}: {n:,}"
                        for (hard, reason), n in sorted(stored.read_as.items(), key=lambda item: -item[1]))
    lines.append(f"  read as (first recipient): {read_as or 'nothing'}")
    lines.append(cpu_line(run.cpu, run.seconds, done, ("worker", "postgres", "pg background", "redis", "this script"),
                          None, "msg"))
    lines.append(f"  worker log: {run.log_lines:,} lines")
    hard_done = sum(n for (hard, _), n in stored.read_as.items() if hard == "true")
    lines += [
        "sanity:",
        (f"  suppressions with reason hard_bounce: {stored.hard_bounce_rows:,}; hard bounces processed: {hard_done:,} "
         f"({check(stored.hard_bounce_rows == hard_done)}; hard messages accepted: {hard_sent:,})"),
        f"  soft_bounce_limit suppressions: {stored.soft_limit_rows:,} (0 expected: one bounce per recipient)",
        (f"  attributed to Bench Motors: {stored.attributed:,} of {stored.events:,} events "
         f"({check(stored.attributed == done)}: = processed + ignored); daily counts hard_bounces "
         f"{stored.counted['hard_bounces']:,} ({check(stored.counted['hard_bounces'] == hard_done)}), "
         f"soft_bounces {stored.counted['soft_bounces']:,} ({check(stored.counted['soft_bounces'] == done - hard_done)})"),
    ]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of the timed ingest phase (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--clients", type=int, default=0,
                        help="client threads, one keep-alive connection each "
                             "(default: twice gunicorn's workers x threads)")
    parser.add_argument("--worker-timeout", type=float, default=1800,
                        help="stop the RQ worker if it has not emptied the queue after this many seconds (default 1800)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to create the benchmark database")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.workers < 1 or args.clients < 0 or args.worker_timeout <= 0:
        parser.error("--seconds and --worker-timeout must be positive, --workers at least 1, --clients not negative")
    args.threads = gunicorn_settings.threads
    # Twice the server's threads: each message is committed to disk before its 202, and with
    # one client per thread a thread idles through every flush, so capacity is not measured.
    args.clients = args.clients or 2 * args.workers * args.threads
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up as they happen
    print(harness.load_note())
    print(f"database {BENCH_DB}: creating, migrating; Redis {REDIS_URL}: flushing")
    with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        env = service_env(db_url, args.workers)
        redis_connection().flushdb()
        harness.flask_cli(env, "db", "upgrade")
        account_id = int(harness.flask_cli(env, "accounts", "create", "Bench Motors", "--domain", DOMAIN))
        key = harness.flask_cli(env, "keys", "create", "--role", "ingest")
        empty = run_worker(env, args.worker_timeout)
        print(f"account Bench Motors: id {account_id}, sending domain {DOMAIN}; ingest key made; "
              f"a worker on the empty queue ran {empty.seconds:.2f} s")
        print(f"gunicorn: {args.workers} workers x {args.threads} threads ({gunicorn_settings.worker_class}), "
              f"PostgreSQL, jobs to RQ on Redis")
        result = ingest(args, env, key, account_id)
        stored, queued = count_stored(db_url, account_id), queue_state()
        print()
        print(ingest_summary(result, stored, queued))
        print(f"\nworker: one `flask --app wsgi worker --burst` for {queued.waiting:,} events (gunicorn stopped)")
        run = run_worker(env, args.worker_timeout, watch_cpu=True)
        stored, after = count_stored(db_url, account_id), queue_state()
        print()
        print(worker_summary(run, empty, stored, after, result.statuses_all[202], result.accepted_kinds["hard"]))


if __name__ == "__main__":
    main()
