"""Periodic jobs, declared as data (as Redash's tasks/schedule.py): what runs, where and when.

Every worker runs RQ's cron scheduler over SCHEDULE (workers/scheduler.py), and each slot (one
time a crontab names) is queued once, whichever worker's scheduler comes first. A new periodic
job is one more line here.
"""
from __future__ import annotations

from dataclasses import dataclass

from croniter import croniter

from workers import queues


@dataclass(frozen=True)
class Periodic:
    """A job queued at each time its crontab names, in UTC."""

    name: str  # unique in SCHEDULE; with the slot's time, the job's id
    func: str  # the job's dotted path
    cron: str  # a crontab line, not an interval: its slots are the same times on every host
    queue: str = queues.INBOUND
    args: tuple = ()  # plain JSON values

    def __post_init__(self):
        if not croniter.is_valid(self.cron):
            raise ValueError(f"{self.name}: {self.cron!r} is not a crontab line")
        if self.queue not in queues.NAMES:
            raise ValueError(f"{self.name}: no queue {self.queue!r}")


SCHEDULE: tuple[Periodic, ...] = (
    # Events left pending (stored while Redis was down, or their worker died) are queued again:
    # every minute, so a hard bounce stranded so is suppressed within two (SWEEP_AFTER_SECONDS).
    Periodic("sweep-pending", "workers.jobs.sweep_pending", "* * * * *"),
    # Every account with recent counts or an open alert, judged against the AUP rules (events ask
    # for their own account's evaluation as they come; this catches volume and one-click opt-outs).
    Periodic("aup-evaluate", "workers.jobs.evaluate_accounts", "*/5 * * * *", queue=queues.AUP),
    # Seed messages audited while DNS did not answer: their DKIM and DMARC rules checked again.
    Periodic("seed-dns-recheck", "workers.seed_jobs.recheck_seeds", "*/5 * * * *", queue=queues.SEEDS),
    # Seed mailboxes read over IMAP: each due one (not backing off after an error) polled by its own job.
    Periodic("seed-mailboxes", "workers.seed_jobs.poll_mailboxes", "*/5 * * * *", queue=queues.SEEDS),
)
