"""Operator commands: `flask --app wsgi accounts|keys|demo ...`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from suppression import accounts as account_service
from suppression import tokens
from suppression.db import db
from suppression.errors import DomainError
from suppression.models import Account, ApiKey, Role

CLI_ACTOR = "cli"
accounts_cli = AppGroup("accounts", help="Dealer accounts.")
keys_cli = AppGroup("keys", help="API keys.")


def _fail(exc: DomainError):
    db.session.rollback()
    raise click.ClickException(exc.message)


@accounts_cli.command("create")
@click.argument("name")
@click.option("--domain", "domains", multiple=True, help="A sending domain (repeatable).")
@click.option("--postal-address", default=None)
def create_account(name: str, domains: tuple[str, ...], postal_address: str | None):
    """Create an account; prints its id alone on the last line."""
    try:
        account = account_service.create(name, list(domains), CLI_ACTOR, postal_address)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created account {account.name!r} with domains {[d.domain for d in account.domains]}")
    click.echo(account.id)


@accounts_cli.command("list")
def list_accounts():
    """One line per account: id, status, name."""
    for account in db.session.scalars(select(Account).order_by(Account.id)):
        click.echo(f"{account.id}\t{account.status.value}\t{account.name}")


@keys_cli.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--account", "account_id", type=int, default=None, help="The account of a sender key.")
@click.option("--name", default=None, help="A label, e.g. the system that uses the key.")
def create_key(role: str, account_id: int | None, name: str | None):
    """Create a key; prints the secret alone on the last line. It is not shown again."""
    try:
        key, secret = account_service.create_key(Role(role), CLI_ACTOR, account_id, name)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created {role} key {key.id}; store it now, it is not shown again:")
    click.echo(secret)


@keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke_key(key_id: int):
    """Revoke a key by id (see `keys list`)."""
    try:
        account_service.revoke_key(key_id, CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"revoked key {key_id}")


@keys_cli.command("list")
def list_keys():
    """One line per key: id, role, account, prefix, state. Secrets are never stored."""
    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.id)):
        state = "revoked" if key.revoked_at else "live"
        click.echo(f"{key.id}\t{key.role.value}\t{key.account_id or '-'}\t{key.prefix}...\t{state}\t{key.name or ''}")


@click.command("demo")
@with_appcontext
def demo():
    """On first start (no accounts yet) create a demo dealer and print its keys."""
    if db.session.scalar(select(Account.id).limit(1)) is not None:
        click.echo("demo: accounts exist already; create keys with `flask --app wsgi keys create`")
        return
    account = account_service.create("Demo Motors", ["demo-motors.example"], CLI_ACTOR, "1 Main St, Springfield")
    _, sender = account_service.create_key(Role.sender, CLI_ACTOR, account.id, "demo sender")
    _, staff = account_service.create_key(Role.staff, CLI_ACTOR, None, "demo staff")
    _, ingest = account_service.create_key(Role.ingest, CLI_ACTOR, None, "demo ingest")
    db.session.commit()
    click.echo(f"demo account {account.id} 'Demo Motors' created. Keys (shown once):")
    click.echo(f"  sender: {sender}\n  staff:  {staff}\n  ingest: {ingest}")


unsubscribe_cli = AppGroup("unsubscribe", help="Unsubscribe link keys.")


@unsubscribe_cli.command("new-key")
def new_unsubscribe_key():
    """Print a new key: put it first in UNSUBSCRIBE_KEYS and keep the old ones after it."""
    click.echo(tokens.new_key())


def register(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    app.cli.add_command(accounts_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(demo)
    app.cli.add_command(unsubscribe_cli)
    from workers import cli as workers_cli
    from workers import inbound_cli, worker
    inbound_cli.register(app)
    workers_cli.register(app)
    worker.register(app)
