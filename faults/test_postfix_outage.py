"""A PostgreSQL outage while mail arrives through Postfix: the LMTP listener (`flask --app worker_app lmtp`,
a process of its own) answers 451, Postfix holds the message in its deferred queue and tries again
every second or two, and once PostgreSQL is back the message is delivered and worked: nothing is
lost, nothing is doubled (one event, one suppression, counted once).

Postfix is tests/postfix.py's (on loopback, a configuration of its own); the deployment is the
fault scenarios' (faults/cluster.py), whose PostgreSQL this test stops and starts again."""
from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg

from faults.cluster import ROOT, Service, harness, wait_for
from faults.scenario import processes_needing_a_person
from tests.postfix import Postfix, free_port
from tests.test_inbound import dsn

BOUNCE_DOMAIN = "bounce.example"
HELD = 4  # seconds the database stays down once Postfix has the message: at least two more tries


@contextmanager
def lmtp(service: Service, port: int) -> Iterator[subprocess.Popen]:
    """`flask --app worker_app lmtp` on 127.0.0.1:`port`, as its systemd unit runs it; stopped with SIGTERM."""
    log = open(service.directory / "lmtp.log", "wb")  # noqa: SIM115 (the process holds it)
    proc = subprocess.Popen([str(harness.BIN / "flask"), "--app", "worker_app", "lmtp"], cwd=ROOT,
                            env=service.env | {"LMTP_BIND": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"},
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for(lambda: "LMTP listening" in (service.directory / "lmtp.log").read_text() or proc.poll() is not None,
                 30, "the LMTP listener starts")
        assert proc.poll() is None, (service.directory / "lmtp.log").read_text()
        yield proc
    finally:
        harness.stop(proc)


def deferrals(postfix: Postfix, queue_id: str) -> list[str]:
    """The replies of the LMTP deliveries of `queue_id` that Postfix deferred."""
    return re.findall(rf"{queue_id}: to=<[^>]+>, relay=.*status=deferred \((.*)\)", postfix.log())


def test_mail_through_postfix_during_a_postgresql_outage_is_held_and_delivered_once(cluster):
    service, postgres, _ = cluster
    port = free_port()
    postfix = Postfix({BOUNCE_DOMAIN: ("127.0.0.1", port)})
    postfix.start()
    try:
        with lmtp(service, port) as listener:
            postgres.stop()
            verp = f"bounces+a{service.account_id}-77@{BOUNCE_DOMAIN}"
            queue_id = postfix.submit(dsn("gone-during-outage@example.com", to=verp), [verp])
            wait_for(lambda: len(deferrals(postfix, queue_id)) >= 1, 20, "Postfix defers the message")
            tries = len(deferrals(postfix, queue_id))
            wait_for(lambda: len(deferrals(postfix, queue_id)) >= tries + 2, HELD * 3, "Postfix tries twice more")
            replies = deferrals(postfix, queue_id)
            assert all("451 4.3.0" in reply for reply in replies), replies
            assert postfix.queued()["deferred"] + postfix.queued()["active"] == 1  # held, not bounced

            postgres.start()
            wait_for(lambda: f"{queue_id}: removed" in postfix.log(), 30, "Postfix delivers the message")
            assert re.search(rf"{queue_id}: to=<{re.escape(verp)}>.*status=sent \(250 2\.0\.0 stored\)", postfix.log())
            assert not any(postfix.queued().values())
            assert re.search(rf"{queue_id}: .*status=bounced", postfix.log()) is None
            with psycopg.connect(postgres.url, autocommit=True) as conn:
                def one(sql: str, *params):
                    return conn.execute(sql, params).fetchone()[0]
                wait_for(lambda: one("SELECT count(*) FROM events WHERE status = 'pending'") == 0, 30,
                         "the workers process the event")
                events = conn.execute("SELECT status, account_id FROM events").fetchall()
                assert events == [("processed", service.account_id)]  # one event: nothing lost, nothing doubled
                assert one("SELECT count(*) FROM suppressions WHERE address = 'gone-during-outage@example.com'"
                           " AND reason = 'hard_bounce'") == 1
                assert one("SELECT coalesce(sum(hard_bounces), 0) FROM daily_counts WHERE account_id = %s",
                           service.account_id) == 1
            assert listener.poll() is None, "the LMTP listener died during the outage"
            assert processes_needing_a_person(service) == []
    finally:
        with suppress(Exception):
            print(postfix.log()[-4000:])
            print((service.directory / "lmtp.log").read_text()[-4000:])
        postfix.stop()
