"""AUP evaluation and its notifications, as jobs.

An account is judged after events count against it (one evaluation per account at a time: the
job's id is the account's, and RQ refuses a second while the first waits) and every 5 minutes
for all accounts (workers/schedule.py). What opens, escalates or suspends is announced, when
ALERT_WEBHOOK_URL is set, by one job per notification, with RQ's retries: an HMAC-signed JSON
POST (`X-Suppression-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
import urllib.request

import orjson
from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from suppression import accounts, alerts
from suppression.aup import Outcome
from suppression.db import iso
from workers import queues

SIGNATURE_HEADER = "X-Suppression-Signature"
TIMEOUT = 10  # seconds for the receiver to answer
log = logging.getLogger(__name__)


def request_evaluation(account_ids: list[int]) -> None:
    """Have these accounts judged soon (after the commit that counted against them)."""
    for account_id in account_ids:
        try:
            queues.enqueue(queues.AUP, "workers.jobs.evaluate_account", account_id, job_id=f"aup-account-{account_id}",
                           unique=True)
        except DuplicateJobError:
            pass  # one is waiting already: it will read these counts too
        except RedisError as exc:  # the scheduled evaluation judges it within 5 minutes
            log.warning("account %s: evaluation not queued, Redis is unavailable: %s", account_id,
                        type(exc).__name__)


def announce(outcome: Outcome) -> None:
    """Queue a notification for each alert opened or escalated, and each suspension."""
    if not current_app.config["ALERT_WEBHOOK_URL"]:
        return
    for changed in outcome.changes:
        _queue(f"alert.{changed.change.value}", changed.alert_id)
    for account_id in outcome.suspended:
        opened = [c.alert_id for c in outcome.changes if c.account_id == account_id]
        _queue("account.suspended", opened[0])


def _queue(kind: str, alert_id: int) -> None:
    try:
        queues.enqueue(queues.AUP, "workers.jobs.notify", kind, alert_id)
    except RedisError as exc:  # the alert is in the database and the console either way
        log.warning("alert %s: %s notification not queued, Redis is unavailable: %s", alert_id, kind,
                    type(exc).__name__)


def send(kind: str, alert_id: int) -> None:
    """POST the notification; raises when the receiver does not answer 2xx (RQ retries)."""
    config = current_app.config
    body = orjson.dumps(payload(kind, alert_id))
    stamp = str(int(time.time()))
    signature = hmac.new(str(config["ALERT_WEBHOOK_SECRET"]).encode(), stamp.encode() + b"." + body,
                         hashlib.sha256).hexdigest()
    request = urllib.request.Request(str(config["ALERT_WEBHOOK_URL"]), data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: f"t={stamp},v1={signature}"})
    with urllib.request.build_opener(_NoRedirect).open(request, timeout=TIMEOUT) as response:
        response.read(64 * 1024)
    log.info("alert %s: %s sent", alert_id, kind)


def payload(kind: str, alert_id: int) -> dict:
    """What a notification says (no addresses: the receiver follows the console link for evidence)."""
    alert = alerts.get(alert_id)
    account = accounts.get(alert.account_id)
    return {"event": kind, "alert": {"id": alert.id, "rule": alert.rule, "severity": alert.severity.value,
                                     "status": alert.status.value, "value": alert.value, "threshold": alert.threshold,
                                     "window_days": alert.window_days, "volume": alert.volume,
                                     "opened_at": iso(alert.opened_at)},
            "account": {"id": account.id, "name": account.name, "status": account.status.value,
                        "suspension_reason": account.suspension_reason},
            "console": f"{str(current_app.config['PUBLIC_BASE_URL']).rstrip('/')}/admin/alerts/{alert.id}"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a signed notification goes where it was configured to
        return None
