"""The load of a fault scenario, run as a process of its own (`python -m faults.load PLAN OUT`):
threads that post distinct hard bounces to POST /v1/inbound/mail and threads that send
one-click POSTs to /u/<token>, each at a steady pace on its own keep-alive connection, for
a fixed time. Every answer is written to OUT as JSON: what was sent and the status (0 when no
answer came), and for a 202 the event id."""
from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

TIMEOUT = 10  # seconds a request may take before it counts as unanswered
ONE_CLICK = b"List-Unsubscribe=One-Click"


def hard_bounce(n: int, account_id: int, run: str) -> bytes:
    """An RFC 3464 hard bounce (5.1.1 user unknown in reply to RCPT TO) of hb-RUN-N@example.com,
    returned to the account's VERP address; distinct bytes for every `n`."""
    recipient = bounced_address(run, n)
    return f"""From: MAILER-DAEMON@mta.fault-motors.example
To: bounces+a{account_id}-{n}@bounce.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <{run}.{n}.dsn@mta.fault-motors.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"

--B{n}
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B{n}
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.fault-motors.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown (in reply to RCPT TO command)

--B{n}
Content-Type: text/rfc822-headers

From: Sales <sales@fault-motors.example>
To: {recipient}
Subject: Winter tyres

--B{n}--
""".replace("\n", "\r\n").encode()


def bounced_address(run: str, n: int) -> str:
    return f"hb-{run}-{n}@example.com"


def unsubscribing_address(run: str, n: int) -> str:
    return f"oc-{run}-{n}@example.com"


@dataclass
class Answer:
    kind: str  # ingest or one_click
    n: int  # the message's number, or the token's index
    status: int  # 0: no answer (refused, reset, timed out)
    event_id: int | None = None  # a 202's


class Client:
    """One keep-alive connection, opened again after a failure."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            self.conn.request("POST", path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return 0, b""


def paced(rate: float, until: float):
    """Yield at `rate` a second until `until` (monotonic); a late start does not make a burst."""
    next_at = time.monotonic()
    while (now := time.monotonic()) < until:
        if next_at > now:
            time.sleep(next_at - now)
        yield
        next_at = max(next_at + 1 / rate, time.monotonic() - 1 / rate)


def ingest(plan: dict, numbers, until: float, answers: list[Answer]) -> None:
    client = Client(plan["base"])
    headers = {"Authorization": f"Bearer {plan['ingest_key']}", "Content-Type": "message/rfc822"}
    for _ in paced(plan["rate"], until):
        n = next(numbers)
        status, body = client.post("/v1/inbound/mail", hard_bounce(n, plan["account_id"], plan["run"]), headers)
        event_id = json.loads(body)["id"] if status == 202 else None
        answers.append(Answer("ingest", n, status, event_id))


def one_click(plan: dict, indexes, until: float, answers: list[Answer]) -> None:
    client = Client(plan["base"])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in paced(plan["rate"], until):
        i = next(indexes)
        if i >= len(plan["tokens"]):
            return
        status, _ = client.post(f"/u/{plan['tokens'][i]}", ONE_CLICK, headers)
        answers.append(Answer("one_click", i, status))


def main(plan_path: str, out_path: str) -> None:
    with open(plan_path) as f:
        plan = json.load(f)
    until = time.monotonic() + plan["seconds"]
    numbers, indexes = itertools.count(), itertools.count()  # next() is atomic under the GIL
    lists = [[] for _ in range(plan["ingest_threads"] + plan["one_click_threads"])]
    threads = [threading.Thread(target=ingest, args=(plan, numbers, until, lists[t]))
               for t in range(plan["ingest_threads"])]
    threads += [threading.Thread(target=one_click, args=(plan, indexes, until, lists[plan["ingest_threads"] + t]))
                for t in range(plan["one_click_threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(out_path, "w") as f:
        json.dump([asdict(a) for answers in lists for a in answers], f)


if __name__ == "__main__":
    main(*sys.argv[1:])
