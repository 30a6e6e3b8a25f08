"""The figures /metrics reads from the database and Redis when it is scraped: the same whichever
process answers, with no state kept in the processes but a few seconds' cache and the audit
log's settled totals (suppression/totals.py). An unreachable database or Redis is a 0 in
`suppression_database_up` or `suppression_redis_up`, never a failed scrape."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from threading import Lock

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from suppression import stats, totals
from suppression.db import db, utcnow
from suppression.models import AccountStatus, Reason
from workers import connection, depths

log = logging.getLogger(__name__)
SUSPENDED_BY = ("aup", "staff")


class ServiceCollector(Collector):
    """The database's and Redis's figures, read again once the last reading is `cache_seconds` old."""

    def __init__(self, redis_url: str, cache_seconds: int, sweep_after_seconds: int):
        self.redis_url, self.cache_seconds = redis_url, cache_seconds
        self.sweep_after = timedelta(seconds=sweep_after_seconds)
        self.tally = totals.Tally()
        self._lock = Lock()  # one reading at a time; the scrapes that wait get its figures
        self._families: list[Metric] = []
        self._expires = float("-inf")

    def collect(self) -> Iterable[Metric]:
        """The families of the last reading, taking a new one when it is too old."""
        with self._lock:
            if time.monotonic() >= self._expires:
                self._families = self._read()
                self._expires = time.monotonic() + self.cache_seconds
            return list(self._families)

    def _read(self) -> list[Metric]:
        started = time.perf_counter()
        families = database_families(self.tally, self.sweep_after) + (redis_families(self.redis_url) if self.redis_url else [])
        took = GaugeMetricFamily("suppression_metrics_read_seconds",
                                 "Seconds the last reading of the database and Redis for /metrics took",
                                 value=time.perf_counter() - started)
        return [*families, took]


def database_families(tally: totals.Tally, sweep_after: timedelta) -> list[Metric]:
    """The tables' figures, after `suppression_database_up`."""
    try:
        families = _tables(tally, sweep_after)
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("metrics: the database is unavailable: %s", type(exc).__name__)
        return [_up("database", False)]
    return [_up("database", True), *families]


def _tables(tally: totals.Tally, sweep_after: timedelta) -> list[Metric]:
    now = utcnow()
    families = [
        family(GaugeMetricFamily, "suppression_suppressions", "Suppressions in force (not expired), by reason "
               "and scope (global, account or list)", ["reason", "scope"], stats.suppressions_in_force(now)),
        family(GaugeMetricFamily, "suppression_events", "Inbound events stored, by source, kind (what the sender "
               "said it is) and status", ["source", "kind", "status"], stats.events()),
        GaugeMetricFamily("suppression_events_stranded", "Inbound events pending longer than SWEEP_AFTER_SECONDS "
                          "(stranded, or behind a backlog): the sweep queues them again every minute",
                          value=stats.stranded(now - sweep_after)),
        family(GaugeMetricFamily, "suppression_alerts_open", "AUP alerts open or acknowledged, by severity, rule "
               "and status", ["severity", "rule", "status"], stats.open_alerts()),
        family(GaugeMetricFamily, "suppression_accounts", "Dealer accounts, by status", ["status"],
               _with_zeros(stats.accounts(), [s.value for s in AccountStatus])),
    ]
    found = tally.read()
    if found is None:  # the audit log's settled totals are still being read: no figure yet
        return families
    return [*families,
            family(CounterMetricFamily, "suppression_suppressions_added", "Suppressions added, by reason, as the "
                   "audit log records them", ["reason"], _with_zeros(found.added.items(), [r.value for r in Reason])),
            family(CounterMetricFamily, "suppression_suspensions", "Account suspensions, by the AUP rules (aup) "
                   "or by staff", ["by"], _with_zeros(found.suspensions.items(), SUSPENDED_BY))]


def redis_families(url: str) -> list[Metric]:
    """The queues' figures, after `suppression_redis_up`."""
    try:
        rows = depths.jobs_by_state(connection.shared(url))
    except RedisError as exc:
        log.warning("metrics: Redis is unavailable: %s", type(exc).__name__)
        return [_up("redis", False)]
    return [_up("redis", True),
            family(GaugeMetricFamily, "suppression_queue_jobs", "RQ jobs by queue and state (queued, started, "
                   "failed, scheduled, deferred)", ["queue", "state"], rows)]


def family(kind: type[Metric], name: str, documentation: str, labels: list[str], rows: Iterable[tuple]) -> Metric:
    """A metric family of `kind` with one sample per row: its label values, then its value."""
    found = kind(name, documentation, labels=labels)
    for *values, number in rows:
        found.add_metric([str(v) for v in values], number)
    return found


def _with_zeros(rows: Iterable[tuple[str, int]], names: Iterable[str]) -> list[tuple[str, int]]:
    # Every known label value has a sample, 0 included: an alert on it needs no absent() clause.
    found = dict(rows)
    return [(name, found.pop(name, 0)) for name in names] + sorted(found.items())


def _up(what: str, up: bool) -> Metric:
    return GaugeMetricFamily(f"suppression_{what}_up", f"1 if the {what} answered the last reading for /metrics",
                             value=int(up))
