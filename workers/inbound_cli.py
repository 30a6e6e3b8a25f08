"""Operator commands for inbound events: `flask --app worker_app inbound ...` (or `--app wsgi`)."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from suppression import events
from suppression.db import db
from suppression.errors import DomainError
from workers import batches, inbound

inbound_cli = AppGroup("inbound", help="Inbound mail and provider events.")


@inbound_cli.command("ingest")
@click.option("--kind", type=click.Choice(events.KINDS), default="auto", show_default=True)
def ingest(kind: str):
    """Store one raw message from standard input (an MTA pipe) and queue it; prints its event id."""
    raw = sys.stdin.buffer.read(int(current_app.config["MAX_INBOUND_BYTES"]) + 1)
    try:
        accepted = inbound.accept_mail(raw, kind)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"{'already stored' if accepted.duplicate else 'stored'}: event {accepted.id}")
    click.echo(accepted.id)


@inbound_cli.command("failed")
@click.option("--limit", default=100, show_default=True)
def list_failed(limit: int):
    """Events that could not be read: id, received, error."""
    for event in events.failed(limit):
        click.echo(f"{event.id}\t{event.received_at:%Y-%m-%d %H:%M}\t{event.source}\t{event.error}")


@inbound_cli.command("retry")
@click.argument("event_ids", nargs=-1, type=int, required=True)
def retry(event_ids: tuple[int, ...]):
    """Make events pending again and queue them (after fixing what made them fail)."""
    for event_id in event_ids:
        try:
            events.reopen(event_id)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo(f"event {event_id}: {batches.enqueue_event(event_id)}")


@inbound_cli.command("sweep")
@click.option("--older-than", type=click.IntRange(min=0), default=None,
              help="Seconds an event may stay pending  [default: SWEEP_AFTER_SECONDS]")
def sweep(older_than: int | None):
    """Queue every event left pending (Redis was down at ingest time, a worker died)."""
    # Here, not at import: the jobs' modules (the readers of mail) load only where jobs run.
    from workers import jobs
    click.echo(f"queued {jobs.sweep_pending(older_than)} pending events")


def register(app: Flask) -> None:
    """Attach the inbound commands to the app's CLI."""
    app.cli.add_command(inbound_cli)
