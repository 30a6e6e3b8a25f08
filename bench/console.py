"""Benchmark of the staff console's pages, GET /admin/..., over HTTP on PostgreSQL.

What it measures, against a throwaway database `suppression_bench_console` loaded by COPY with
10,000 accounts (37 days of daily counters each, one sending domain), 1,000,000 suppressions,
100,000 stored events (raw bounce, complaint and unsubscribe messages of 2-4 KB) and 50,000
audit entries, plus ~200 open alerts and ~2,000 closed ones:

- the latency of each console page a staff member reads, as one logged-in browser would ask
  for it: one keep-alive connection, one request at a time, served by gunicorn
  (config/gunicorn.py) as deployed;
- pages: the alerts queue (first page, page 20 of every status, a filter), an alert, the
  account page (any account, one with an open alert, a large dealer), address search (an
  address in several scopes, in one scope, in none) and the raw-message viewer of an event.

Accounts are not all alike: every 1,000th is a large dealer (about 200 times the suppressions,
events and audit entries of a small one), every 50th has an open alert (20 times); the rest
share what is left. Every suppression scope mixes reasons; 30 % are global, a fifth of the
rest belong to one of an account's lists, and 15 % of the account entries are addresses that
many dealers (and, for a quarter of them, the global list) suppress.

It warms up with 20 requests of each page, then times `--requests` of each (default 200),
the pages taken in turn so that a slow spell of the machine touches them all alike, and prints
per page p50, p95, p99 and max, and whether every p95 is within the bar. It asserts nothing
about speed; it fails only when a page answers other than 200 or without its content.

Run it with PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); no Redis is needed:

    .venv/bin/python bench/console.py                  # the full size
    .venv/bin/python bench/console.py --accounts 1000 --suppressions 100000 --events 10000
    .venv/bin/python bench/console.py --keep           # keep the database afterwards
    .venv/bin/python bench/console.py --audit 750000   # about one audit entry per suppression, as
                                                       # a long-lived deployment holds
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import harness
import psycopg

sys.path.insert(0, str(harness.ROOT))
# After the line above, which puts the repo root on the path; none of these reads anything yet.
from config import gunicorn as gunicorn_settings
from config.policy import Policy
from suppression.policy import RATE_RULES

BENCH_DB = "suppression_bench_console"
BARS = {"p95_ms": 200.0}
AIM_MS = 50.0
WARMUP = 20  # requests of each page before the timed ones: templates compiled, caches filled
CHUNK = 5_000  # COPY lines per write (5,000 events are about 35 MB of hex)
DAYS = 37  # the charts show 30 days, and the 7-day rate of the first one reaches 6 days back
EVENT_DAYS = 30
ALERT_DAYS = 7  # the rate rules' window (config/policy.py)
LARGE_EVERY, ALERT_EVERY = 1_000, 50  # account ids: large dealers (id % 1000 == 1), open alerts
WEIGHTS = {"large": 200, "alerted": 20, "small": 1}  # shares of suppressions, events, audit entries
GLOBAL_SHARE, LIST_SHARE, COMMON_SHARE = 0.3, 0.2, 0.15
LISTS = ("newsletter", "service", "offers", "events")
DOMAINS = 5_000
STAFF_EMAIL, STAFF_PASSWORD = "bench@platform.example", "bench-console-password"
COOKIE = "console_session"
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
POLICY = Policy()  # the default thresholds, which the service runs with here too
RULE_OF = {rule.name: rule for rule in RATE_RULES}
ALERT_RULES = tuple(RULE_OF)
NORMAL_RATES = {"hard_bounces": 0.008, "soft_bounces": 0.01, "complaints": 0.0004, "unsubscribes": 0.004}
OUTCOMES = {"hard_bounce": 45, "soft_bounce": 25, "complaint": 20, "unsubscribe": 10}
GLOBAL_REASONS = {"hard_bounce": 80, "complained": 8, "global_opt_out": 5, "manual": 5, "spam_trap": 2}
ACCOUNT_REASONS = {"unsubscribed": 60, "manual": 20, "complained": 10, "soft_bounce_limit": 10}
SOURCES = {"hard_bounce": "mail", "complained": "mail", "global_opt_out": "api", "manual": "api", "spam_trap": "api",
           "unsubscribed": "one_click", "soft_bounce_limit": "mail"}


def main() -> None:
    args = arguments()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up as they happen
    random.seed(args.seed)
    print(harness.load_note())
    print(f"database {BENCH_DB}: creating, migrating, a staff user")
    with harness.throwaway_database(args.admin_url, BENCH_DB, keep=args.keep) as db_url:
        env = harness.service_env(db_url, REDIS_URL="")  # empty even if this shell has one: jobs inline
        harness.flask_cli(env, "db", "upgrade")
        harness.flask_cli(env, "staff", "create", STAFF_EMAIL, "--role", "admin", "--password", STAFF_PASSWORD)
        plan = load(db_url, args)
        print(f"gunicorn: {gunicorn_settings.workers} workers x {gunicorn_settings.threads} threads "
              f"({gunicorn_settings.worker_class}); one client, one keep-alive connection, one request at a time")
        with harness.gunicorn(env) as server:
            console = Console(server.base)
            console.login(STAFF_EMAIL, STAFF_PASSWORD)
            pages = page_kinds(plan)
            timings = measure(console, pages, args.requests)
            floor = measure_floor(console)
            console.close()
    print()
    print(summary(pages, timings, floor))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--suppressions", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=50_000,
                        help="audit log entries (default 50,000; every suppression added writes one)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each page (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    harness.database_arguments(parser, BENCH_DB)
    args = parser.parse_args()
    if args.accounts < ALERT_EVERY * 2 or args.suppressions < 10_000 or args.events < 1_000 or args.requests < 1:
        parser.error(f"--accounts must be at least {ALERT_EVERY * 2}, --suppressions 10,000, --events 1,000, "
                     "--requests 1")
    return args


# --- what is loaded ---------------------------------------------------------------------------

@dataclass
class Plan:
    """The data as loaded, for the requests to pick from."""

    accounts: int
    events: int
    now: datetime
    alerted: dict[int, tuple[str, str]]  # account -> (rule, severity) of its open alert
    common: int  # addresses suppressed by many dealers: common_address(k), k < common
    windows: dict[int, tuple[int, int]] = field(default_factory=dict)  # alerted account -> 7-day sends, events
    evidence: dict[int, list[int]] = field(default_factory=dict)  # alerted account -> its rule's event ids
    one_scope: list[str] = field(default_factory=list)  # a sample of addresses suppressed in one scope

    @property
    def open_alerts(self) -> int:
        return len(self.alerted)  # their ids are 1..open_alerts

    @property
    def large(self) -> list[int]:
        return list(range(1, self.accounts + 1, LARGE_EVERY))


def size_of(account_id: int) -> str:
    """'large', 'alerted' or 'small': how much of everything the account holds."""
    if account_id % LARGE_EVERY == 1:
        return "large"
    return "alerted" if account_id % ALERT_EVERY == 0 else "small"


def plan_alerts(accounts: int) -> dict[int, tuple[str, str]]:
    """Every ALERT_EVERY-th account has one open alert; an even one is critical where its rule can be."""
    alerted = {}
    for account_id in range(ALERT_EVERY, accounts + 1, ALERT_EVERY):
        rule = ALERT_RULES[(account_id // ALERT_EVERY) % len(ALERT_RULES)]
        critical = account_id % (2 * ALERT_EVERY) == 0 and getattr(POLICY, rule).critical is not None
        alerted[account_id] = (rule, "critical" if critical else "warning")
    return alerted


def weighted_accounts(accounts: int, count: int) -> list[int]:
    """`count` account ids drawn by their size's weight."""
    population = range(1, accounts + 1)
    cumulative, total = [], 0
    for account_id in population:
        total += WEIGHTS[size_of(account_id)]
        cumulative.append(total)
    return random.choices(population, cum_weights=cumulative, k=count)


def common_address(k: int) -> str:
    return f"reader{k}@mail{k % 500}.example.com"


NULL = r"\N"  # COPY text format's NULL
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def row(*values: object) -> str:
    """One line of COPY text format: None as NULL, bytes as bytea hex, the rest escaped."""
    fields = []
    for value in values:
        if value is None:
            fields.append(NULL)
        elif isinstance(value, bytes):
            fields.append("\\\\x" + value.hex())  # \\x: COPY unescapes it to bytea's \x
        else:
            fields.append(str(value).translate(_ESCAPES))
    return "\t".join(fields) + "\n"


def chunked(lines: Iterable[str]) -> Iterator[str]:
    """The lines joined CHUNK at a time."""
    block = []
    for line in lines:
        block.append(line)
        if len(block) >= CHUNK:
            yield "".join(block)
            block = []
    if block:
        yield "".join(block)


def pick(weights: dict[str, int], count: int) -> list[str]:
    return random.choices(list(weights), weights=list(weights.values()), k=count)


# --- accounts and counters ------------------------------------------------------------------

def account_lines(plan: Plan) -> Iterator[str]:
    """Accounts; one with a critical alert was suspended by it when it opened."""
    for account_id in range(1, plan.accounts + 1):
        created = plan.now - timedelta(days=400 + account_id % 700)
        rule, severity = plan.alerted.get(account_id, (None, None))
        suspended = severity == "critical"
        yield row(account_id, f"Dealer {account_id} Motors", "suspended" if suspended else "active",
                  f"alert {_alert_id(account_id)}: {rule} over 7 days" if suspended else None,
                  _opened(plan, account_id) if suspended else None,
                  f"{account_id} Main Street, Springfield", created)


def _alert_id(account_id: int) -> int:
    return account_id // ALERT_EVERY  # the open alerts come first, ids 1.. in account order


def _opened(plan: Plan, account_id: int) -> datetime:
    return plan.now - timedelta(hours=account_id % (ALERT_DAYS * 24) + 1)


def domain_lines(plan: Plan) -> Iterator[str]:
    for account_id in range(1, plan.accounts + 1):
        yield row(f"dealer{account_id}.example", account_id)


def count_lines(plan: Plan) -> Iterator[str]:
    """DAYS days of counters for each account; an alerted account's rule over its level in the
    last 7 days, and its 7-day sums kept in plan.windows for its alert."""
    today = plan.now.date()
    for account_id in range(1, plan.accounts + 1):
        alert = plan.alerted.get(account_id)
        sends_7 = events_7 = 0
        for back in range(DAYS):
            counts = _day_counts(account_id, alert if back < ALERT_DAYS else None)
            if alert and back < ALERT_DAYS:
                sends_7, events_7 = sends_7 + counts["sends"], events_7 + counts[RULE_OF[alert[0]].counter]
            yield row(account_id, today - timedelta(days=back), *counts.values())
        if alert:
            plan.windows[account_id] = (sends_7, events_7)


def _day_counts(account_id: int, alert: tuple[str, str] | None) -> dict[str, int]:
    sends = random.randint(200, 2000) * (10 if size_of(account_id) == "large" else 1)
    rates = dict(NORMAL_RATES)
    if alert:
        rule, severity = alert
        limits = getattr(POLICY, rule)
        rates[RULE_OF[rule].counter] = 1.5 * (limits.critical if severity == "critical" else limits.warning)
    return {"sends": sends, **{counter: round(sends * rate) for counter, rate in rates.items()}}


# --- events -----------------------------------------------------------------------------------

DSN = """\
Return-Path: <>
Received: from mx{mx}.example.com (mx{mx}.example.com [198.51.100.{mx}])
\tby inbound.bounce.example (Postfix) with ESMTPS id {qid}
\tfor <bounces+a{account}-{n}@bounce.example>; {date}
Date: {date}
From: MAILER-DAEMON@mx{mx}.example.com (Mail Delivery System)
To: bounces+a{account}-{n}@bounce.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <{qid}.{n}@mx{mx}.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{qid}/mx{mx}.example.com"

This is a MIME-encapsulated message.

--{qid}/mx{mx}.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx{mx}.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{r}>: host mx{mx}.example.com[198.51.100.{mx}] said: {reply}
    (in reply to RCPT TO command)

--{qid}/mx{mx}.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx{mx}.example.com
Arrival-Date: {date}

Final-Recipient: rfc822; {r}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {reply}

--{qid}/mx{mx}.example.com
Content-Description: Undelivered Message
Content-Type: message/rfc822

{original}
--{qid}/mx{mx}.example.com--
"""

ARF = """\
Return-Path: <fbl@feedback.example.net>
Received: from fbl.example.net (fbl.example.net [203.0.113.7])
\tby inbound.bounce.example (Postfix) with ESMTPS id {qid}; {date}
Date: {date}
From: Feedback Loop <fbl@feedback.example.net>
To: fbl+a{account}@bounce.example
Subject: Complaint about message from dealer{account}.example
Message-ID: <fbl.{qid}.{n}@feedback.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
\tboundary="fbl-{qid}"

--fbl-{qid}
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP
192.0.2.12 on {date}. The recipient marked it as spam.

--fbl-{qid}
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/2.1
Version: 1
Original-Mail-From: <bounces+a{account}-{n}@bounce.example>
Original-Rcpt-To: <{r}>
Arrival-Date: {date}
Source-IP: 192.0.2.12
Reported-Domain: dealer{account}.example

--fbl-{qid}
Content-Type: message/rfc822

{original}
--fbl-{qid}--
"""

UNSUBSCRIBE = """\
Return-Path: <{r}>
Received: from mx{mx}.example.com (mx{mx}.example.com [198.51.100.{mx}])
\tby inbound.bounce.example (Postfix) with ESMTPS id {qid}; {date}
Date: {date}
From: <{r}>
To: unsubscribe+a{account}-{n}@bounce.example
Subject: unsubscribe
Message-ID: <unsub.{qid}.{n}@mail.example.com>
In-Reply-To: <offer-{n}@dealer{account}.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Please take me off this list.

> {original_quoted}
"""

ORIGINAL = """\
Return-Path: <bounces+a{account}-{n}@bounce.example>
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=dealer{account}.example; s=mail2024;
\th=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post;
\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSwganVzdCBieXRlcyBvZiB0aGUgc2l6ZSBvbmUgaGFzLCBzbyB0aGUg
\t bWVzc2FnZSBoYXMgdGhlIHNpemUgb2YgYSByZWFsIGJvdW5jZSBmcm9tIGEgcmVhbCBNVEE=
From: Dealer {account} Motors <offers@dealer{account}.example>
To: {r}
Subject: Winter tyres: 20 % off fitting until the end of the month
Date: {date}
Message-ID: <offer-{n}@dealer{account}.example>
X-Account-ID: {account}
X-List-ID: offers
List-Unsubscribe: <https://unsubscribe.example.net/u/bench{n:08d}>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}"""

BODY = ("Dear customer, our winter service weeks are here: tyre change, battery check and a free "
        "visual inspection of brakes and lights. Book a slot online or call the workshop. ") * 20
BOUNCES = {"hard_bounce": ("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown", True,
                           "user_unknown"),
           "soft_bounce": ("4.2.2", "452 4.2.2 <{r}>: Mailbox full, quota exceeded", False, "mailbox_full")}


def event_lines(plan: Plan) -> Iterator[str]:
    """Processed events in arrival order (ids follow time) over EVENT_DAYS days; the ids of an
    alerted account's events of its rule in the last 7 days go to plan.evidence."""
    owners = weighted_accounts(plan.accounts, plan.events)
    outcomes = pick(OUTCOMES, plan.events)
    start, step = plan.now - timedelta(days=EVENT_DAYS), timedelta(days=EVENT_DAYS) / plan.events
    for n, (account_id, outcome) in enumerate(zip(owners, outcomes, strict=True), start=1):
        received = start + step * n
        raw, recipient = message(n, account_id, outcome, received)
        _keep_evidence(plan, n, account_id, outcome, received)
        yield row(n, "mail", "auto", "mail:" + hashlib.sha256(raw).hexdigest(), raw, "processed", 1,
                  json.dumps(classification(outcome, recipient, account_id)), account_id, outcome,
                  received, received + timedelta(seconds=2))


def _keep_evidence(plan: Plan, event_id: int, account_id: int, outcome: str, received: datetime) -> None:
    alert = plan.alerted.get(account_id)
    if alert and RULE_OF[alert[0]].evidence.value == outcome and received >= plan.now - timedelta(days=ALERT_DAYS):
        plan.evidence.setdefault(account_id, []).append(event_id)


def message(n: int, account_id: int, outcome: str, received: datetime) -> tuple[bytes, str]:
    """Event `n`'s raw message (CRLF line ends, 2-4 KB), and its recipient."""
    recipient = f"customer{n}@mail{n % 500}.example.com"
    date = received.strftime("%a, %d %b %Y %H:%M:%S +0000")
    fields = {"n": n, "account": account_id, "r": recipient, "date": date, "qid": f"4Y{n:09X}", "mx": n % 7 + 1}
    original = ORIGINAL.format(**fields, body=BODY[:random.randrange(200, 1600)])
    if outcome == "complaint":
        text = ARF.format(**fields, original=original)
    elif outcome == "unsubscribe":
        text = UNSUBSCRIBE.format(**fields, original_quoted=original.replace("\n", "\n> "))
    else:
        status, reply = BOUNCES[outcome][:2]
        text = DSN.format(**fields, status=status, reply=reply.format(r=recipient), original=original)
    return text.replace("\n", "\r\n").encode(), recipient


def classification(outcome: str, recipient: str, account_id: int) -> dict:
    """What the worker would have written for the event (workers/findings.py Classification)."""
    status, reply, hard, reason = BOUNCES.get(outcome, (None, None, None, "feedback"))
    kind = {"complaint": "complaint", "unsubscribe": "other"}.get(outcome, "bounce")
    domain = f"dealer{account_id}.example"
    return {"kind": kind, "feedback_type": "abuse" if kind == "complaint" else None,
            "recipients": [{"address": recipient, "action": "failed" if status else None, "status": status,
                            "hard": hard, "reason": reason, "diagnostic": reply and reply.format(r=recipient)}],
            "original": {"message_id": f"offer@{domain}", "from_domain": domain, "dkim_domains": [domain],
                         "account_header": str(account_id), "list_name": "offers", "return_path": None},
            "detail": "bench: loaded by COPY", "unreadable": None}


# --- alerts -----------------------------------------------------------------------------------

def alert_lines(plan: Plan) -> Iterator[str]:
    """The open alerts (ids 1..), then a history of closed ones on accounts drawn by size."""
    for account_id, (rule, severity) in plan.alerted.items():
        yield _open_alert(plan, account_id, rule, severity)
    closed = plan.accounts // 5
    for n, account_id in enumerate(weighted_accounts(plan.accounts, closed), start=len(plan.alerted) + 1):
        yield _closed_alert(plan, n, account_id)


def _open_alert(plan: Plan, account_id: int, rule: str, severity: str) -> str:
    limits = getattr(POLICY, rule)
    sends, events = plan.windows[account_id]
    evidence = plan.evidence.get(account_id, [])[::-1][:50]  # newest first, as alerts.EVIDENCE_KEPT
    acknowledged = account_id % (10 * ALERT_EVERY) == 0  # a tenth: a person is on it
    opened = _opened(plan, account_id)
    return row(_alert_id(account_id), account_id, rule, severity, "acknowledged" if acknowledged else "open",
               events / sends, getattr(limits, severity), limits.days, sends, events, json.dumps(evidence),
               opened, plan.now, opened + timedelta(minutes=30) if acknowledged else None,
               f"staff:{STAFF_EMAIL}" if acknowledged else None, "looking into it" if acknowledged else None,
               None, None, None)


def _closed_alert(plan: Plan, alert_id: int, account_id: int) -> str:
    rule = random.choice(ALERT_RULES)
    limits = getattr(POLICY, rule)
    opened = plan.now - timedelta(days=random.uniform(10, 180))
    status = random.choice(("resolved", "dismissed"))
    return row(alert_id, account_id, rule, "warning", status, limits.warning * 1.2, limits.warning, limits.days,
               5_000, round(5_000 * limits.warning * 1.2), "[]", opened, opened + timedelta(days=1), None, None, None,
               opened + timedelta(days=2), f"staff:{STAFF_EMAIL}", f"{status}: dealer cleaned the list")


# --- suppressions -----------------------------------------------------------------------------

def suppression_lines(plan: Plan, rows: int) -> Iterator[str]:
    """Global entries first (common addresses among them), then account and list entries."""
    global_rows = int(rows * GLOBAL_SHARE)
    stamps = _stamps(plan.now)
    yield from _global_lines(plan, stamps, global_rows)
    yield from _account_lines(plan, stamps, rows - global_rows)


def _stamps(now: datetime, count: int = 4096) -> list[tuple[str, str]]:
    """(created_at, expires_at of a soft-bounce suppression) over the last two years, made once:
    a million datetimes made and formatted one by one would be a third of the load."""
    created = [now - timedelta(seconds=random.randrange(2 * 365 * 86_400)) for _ in range(count)]
    return [(str(c), str(c + timedelta(days=POLICY.soft_bounce_suppress_days))) for c in created]


def _global_lines(plan: Plan, stamps: list[tuple[str, str]], count: int) -> Iterator[str]:
    for i, reason in enumerate(pick(GLOBAL_REASONS, count)):
        # A quarter of the common addresses are suppressed everywhere too: a search finds both.
        address = common_address(4 * i) if 4 * i < plan.common else f"bounced{i}@mx{i % DOMAINS}.example.net"
        if i % 997 == 0 and 4 * i >= plan.common:
            plan.one_scope.append(address)
        yield _suppression(plan, stamps, address, "global", NULL, NULL, reason)


def _account_lines(plan: Plan, stamps: list[tuple[str, str]], count: int) -> Iterator[str]:
    taken: set[tuple[str, str]] = set()  # (address, scope) of the common addresses used: unique in a scope
    for j, (account_id, reason) in enumerate(zip(weighted_accounts(plan.accounts, count),
                                                 pick(ACCOUNT_REASONS, count), strict=True)):
        list_name = random.choice(LISTS) if random.random() < LIST_SHARE else None
        scope = f"a{account_id}/{list_name}" if list_name else f"a{account_id}"
        address = common_address(random.randrange(plan.common)) if random.random() < COMMON_SHARE else None
        if address is None or (address, scope) in taken:
            address = f"lead{j}@dealer-mail{j % DOMAINS}.example.org"
            if j % 997 == 0:
                plan.one_scope.append(address)
        else:
            taken.add((address, scope))
        yield _suppression(plan, stamps, address, scope, account_id, list_name or NULL, reason)


def _suppression(plan: Plan, stamps: list[tuple[str, str]], address: str, scope: str, account_id: int | str,
                 list_name: str, reason: str) -> str:
    # An f-string rather than row(): a million lines, and nothing in them needs escaping.
    created, expires = random.choice(stamps)
    source = SOURCES[reason]
    event_id = random.randint(1, plan.events) if source == "mail" else NULL
    created_by = f"staff:{STAFF_EMAIL}" if reason == "manual" else NULL
    expires = expires if reason == "soft_bounce_limit" else NULL
    return (f"{address}\t{scope}\t{account_id}\t{list_name}\t{reason}\t{source}\t{event_id}\t{created_by}\t"
            f"{created}\t{expires}\n")


# --- the audit log ----------------------------------------------------------------------------

AUDIT_DETAILS = json.dumps({"bench": True})


def audit_lines(plan: Plan, count: int) -> Iterator[str]:
    """Each account's creation, each open alert and suspension, and then suppressions added,
    unsubscribes, removals and keys on accounts drawn by size; oldest first."""
    entries = [(plan.now - timedelta(days=400 + a % 700), "cli", "account.create", f"account:{a}", a, None)
               for a in range(1, plan.accounts + 1)]
    for account_id, (rule, severity) in plan.alerted.items():
        alert = f"alert:{_alert_id(account_id)}"
        entries.append((_opened(plan, account_id), "aup", "alert.open", alert, account_id, None))
        if severity == "critical":
            entries.append((_opened(plan, account_id), "aup", "account.suspend", f"account:{account_id}",
                            account_id, f"{alert}: {rule} over 7 days"))
    rest = max(0, count - len(entries))
    entries += [_activity(plan, account_id) for account_id in weighted_accounts(plan.accounts, rest)]
    entries.sort(key=lambda entry: entry[0])
    for at, actor, action, target, account_id, reason in entries[:count]:
        yield row(at, actor, action, target, account_id, reason, AUDIT_DETAILS)


def _activity(plan: Plan, account_id: int) -> tuple:
    at = plan.now - timedelta(seconds=random.randrange(90 * 86_400))
    action = random.choices(("suppression.add", "suppression.unsubscribe", "suppression.remove", "key.create"),
                            weights=(60, 30, 5, 5))[0]
    if action == "key.create":
        return at, "cli", action, f"key:{random.randrange(10**6)}", account_id, None
    address = f"lead{random.randrange(10**6)}@dealer-mail{account_id % DOMAINS}.example.org"
    actor = {"suppression.add": "key:sk_live_ab12", "suppression.unsubscribe": "recipient"}.get(
        action, f"staff:{STAFF_EMAIL}")
    return at, actor, action, address, account_id, "asked by the dealer" if action == "suppression.remove" else None


# --- loading ----------------------------------------------------------------------------------

SEQUENCES = {"accounts": "id", "events": "id", "alerts": "id"}  # loaded with explicit ids


def load(db_url: str, args: argparse.Namespace) -> Plan:
    """Everything by COPY, in the order of the foreign keys; then VACUUM (FREEZE, ANALYZE)."""
    plan = Plan(args.accounts, args.events, datetime.now(UTC), plan_alerts(args.accounts),
                common=min(20_000, args.suppressions // 50))
    started = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        for target, lines in copies(plan, args):
            copy_table(conn, target, lines)
        for table, column in SEQUENCES.items():
            conn.execute(f"SELECT setval('{table}_{column}_seq', (SELECT max({column}) FROM {table}))")
    copied = time.perf_counter()
    critical = sum(severity == "critical" for _, severity in plan.alerted.values())
    print(f"  {plan.accounts:,} accounts: {len(plan.large)} large dealers, {plan.open_alerts} with an open alert "
          f"({critical} critical, their accounts suspended), the rest small")
    settle(db_url)
    print(f"  load: COPY {copied - started:.1f} s (Python making the rows included), "
          f"VACUUM (FREEZE, ANALYZE) and CHECKPOINT {time.perf_counter() - copied:.1f} s")
    return plan


def copies(plan: Plan, args: argparse.Namespace) -> list[tuple[str, Iterator[str]]]:
    """(table and columns, its lines), in the order of the foreign keys. The lines are generators,
    made as each table is copied: the alerts read what the counters and events left in `plan`."""
    return [
        ("accounts (id, name, status, suspension_reason, suspended_at, postal_address, created_at)",
         account_lines(plan)),
        ("account_domains (domain, account_id)", domain_lines(plan)),
        ("daily_counts (account_id, day, sends, hard_bounces, soft_bounces, complaints, unsubscribes)",
         count_lines(plan)),
        ("events (id, source, kind, dedupe_key, raw, status, attempts, classification, account_id, outcome, "
         "received_at, processed_at)", event_lines(plan)),
        ("alerts (id, account_id, rule, severity, status, value, threshold, window_days, volume, events, evidence, "
         "opened_at, evaluated_at, acknowledged_at, acknowledged_by, acknowledged_note, closed_at, closed_by, "
         "closed_note)", alert_lines(plan)),
        ("suppressions (address, scope_key, account_id, list_name, reason, source, event_id, created_by, "
         "created_at, expires_at)", suppression_lines(plan, args.suppressions)),
        ("audit_log (at, actor, action, target, account_id, reason, details)", audit_lines(plan, args.audit)),
    ]


def copy_table(conn: psycopg.Connection, target: str, lines: Iterable[str]) -> None:
    """COPY the lines into `target` and commit; prints the rows and seconds."""
    started, rows = time.perf_counter(), 0
    with conn.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for block in chunked(lines):
            copy.write(block)
            rows += block.count("\n")
    conn.commit()
    print(f"  {target.split(' ')[0]}: {rows:,} rows in {time.perf_counter() - started:.1f} s")


def settle(db_url: str) -> None:
    """VACUUM (FREEZE, ANALYZE) and CHECKPOINT: the steady state of long-lived tables.

    As in check.py: a fresh COPY leaves no visibility map (index-only scans would visit the heap)
    and no statistics, and its dirty pages would otherwise be written during the timed requests."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        conn.execute("CHECKPOINT")


# --- the console client -----------------------------------------------------------------------

class Console:
    """One keep-alive connection to the console, logged in, its session cookie kept as a browser
    keeps it; http.client, as in check.py, because requests adds about 1.5 ms to every call."""

    def __init__(self, base: str):
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, bytes]:
        """(status, Location, body) of one request, the session cookie sent and updated."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = urlencode(form).encode() if form is not None else None
        if body is not None:
            headers["Content-Type"] = FORM_TYPE
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        for cookie in response.headers.get_all("Set-Cookie") or ():
            if cookie.startswith(COOKIE + "="):  # the session is re-signed on every request
                self.cookie = cookie.split(";", 1)[0]
        return response.status, response.getheader("Location", ""), payload

    def login(self, email: str, password: str) -> None:
        """Log in through the form, as a person would; exit when the console refuses."""
        status, _, page = self.request("GET", "/admin/login")
        token = CSRF.search(page.decode())
        if status != 200 or token is None:
            sys.exit(f"GET /admin/login answered {status} without a CSRF token: {page[:500]!r}")
        form = {"email": email, "password": password, "code": "", "csrf_token": token.group(1), "next": ""}
        status, location, page = self.request("POST", "/admin/login", form)
        if status != 302 or not location.endswith("/admin/"):
            sys.exit(f"POST /admin/login answered {status} (Location {location!r}): {page[:500]!r}")

    def close(self) -> None:
        self.connection.close()


# --- the pages and their timing ---------------------------------------------------------------

@dataclass(frozen=True)
class PageKind:
    name: str
    path: Callable[[], str]  # a fresh path each call
    marker: bytes  # in every right answer


def page_kinds(plan: Plan) -> list[PageKind]:
    """The console pages timed, each with how to pick its next path."""
    alerted, large = list(plan.alerted), plan.large
    nowhere = iter(range(10**9))
    return [
        PageKind("alerts queue", lambda: "/admin/", b'id="alerts"'),
        # Page 20 of every status: ~200 alerts are open (4 pages), so page 20 reaches into the history.
        PageKind("alerts, all statuses, page 20", lambda: "/admin/?status=all&page=20", b"<h1>Alerts</h1>"),
        PageKind("alerts, warning + complaint_rate", lambda: "/admin/?severity=warning&rule=complaint_rate",
                 b'id="alerts"'),
        PageKind("alert (open, with evidence)", lambda: f"/admin/alerts/{random.randint(1, plan.open_alerts)}",
                 b'id="alert-status"'),
        PageKind("account (any of all)", lambda: f"/admin/accounts/{random.randint(1, plan.accounts)}",
                 b'id="readings"'),
        PageKind("account (open alert)", lambda: f"/admin/accounts/{random.choice(alerted)}", b'id="open-alerts"'),
        PageKind("account (large dealer)", lambda: f"/admin/accounts/{random.choice(large)}", b'id="readings"'),
        PageKind("search (global + accounts)", lambda: _search(common_address(4 * random.randrange(plan.common // 4))),
                 b'id="results"'),
        PageKind("search (one scope)", lambda: _search(random.choice(plan.one_scope)), b'id="results"'),
        PageKind("search (nowhere)", lambda: _search(f"nobody{next(nowhere)}@mx1.example.net"), b'id="no-results"'),
        PageKind("event (raw message)", lambda: f"/admin/events/{random.randint(1, plan.events)}", b'id="body"'),
    ]


def _search(address: str) -> str:
    return "/admin/search?address=" + quote(address, safe="@")


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def ms(self, q: float) -> float:
        return harness.percentile(self.seconds, q) * 1000


def measure(console: Console, pages: list[PageKind], requests: int) -> dict[str, Timing]:
    """WARMUP rounds, then `requests` timed rounds; a round asks for each page once, in turn."""
    print(f"console pages: {len(pages)} kinds, {WARMUP} warm-up and {requests} timed requests of each")
    for _ in range(WARMUP):
        for page in pages:
            fetch(console, page)
    timings = {page.name: Timing() for page in pages}
    for _ in range(requests):
        for page in pages:
            elapsed, size = fetch(console, page)
            timings[page.name].seconds.append(elapsed)
            timings[page.name].sizes.append(size)
    return timings


def fetch(console: Console, page: PageKind) -> tuple[float, int]:
    """GET one page; the seconds until its last byte arrived, and its size. Exit when it is wrong."""
    path = page.path()
    started = time.perf_counter()
    status, location, body = console.request("GET", path)
    elapsed = time.perf_counter() - started
    if status != 200 or page.marker not in body:
        sys.exit(f"GET {path} ({page.name}) answered {status}{f' to {location}' if location else ''} "
                 f"without {page.marker.decode()}: {body[:1000]!r}")
    return elapsed, len(body)


def measure_floor(console: Console, count: int = 500) -> Timing:
    """GET /healthz the same way: what any request costs before a page does anything."""
    timing = Timing()
    for n in range(count + 50):
        started = time.perf_counter()
        status, _, _ = console.request("GET", "/healthz")
        if status != 200:
            sys.exit(f"GET /healthz answered {status}")
        if n >= 50:  # the first 50 warm up
            timing.seconds.append(time.perf_counter() - started)
    return timing


# --- report -----------------------------------------------------------------------------------

def summary(pages: list[PageKind], timings: dict[str, Timing], floor: Timing) -> str:
    width = max(len(page.name) for page in pages)
    lines = [f"{'page':<{width}}  {'count':>5}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  "
             f"{'KB':>5}"]
    lines += [_page_line(page.name, timings[page.name], width) for page in pages]
    lines.append(f"  (HTTP + client floor, GET /healthz the same way: p50 {floor.ms(50):.1f} ms, "
                 f"p95 {floor.ms(95):.1f} ms)")
    slowest = max(pages, key=lambda page: timings[page.name].ms(95))
    worst = timings[slowest.name].ms(95)
    aim = "reached" if worst <= AIM_MS else "not reached"
    lines.append(harness.bar(worst <= BARS["p95_ms"], f"p95 <= {BARS['p95_ms']:.0f} ms on every page")
                 + f"  (aim {AIM_MS:.0f} ms: {aim}; slowest p95 {worst:.1f} ms, {slowest.name})")
    return "\n".join(lines)


def _page_line(name: str, t: Timing, width: int) -> str:
    kilobytes = sum(t.sizes) / len(t.sizes) / 1024
    return (f"{name:<{width}}  {len(t.seconds):>5}  {t.ms(50):>7.1f}  {t.ms(95):>7.1f}  {t.ms(99):>7.1f}  "
            f"{max(t.seconds) * 1000:>7.1f}  {kilobytes:>5.1f}")


if __name__ == "__main__":
    main()
