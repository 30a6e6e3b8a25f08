"""Operator commands: `flask --app wsgi accounts|keys|staff|seeds|demo ...`."""
from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from seedlist import seeds as seedlist
from suppression import accounts as account_service
from suppression import staff as staff_service
from suppression import tokens
from suppression.db import db
from suppression.errors import DomainError
from suppression.models import Account, ApiKey, Role, Seed, StaffRole

CLI_ACTOR = "cli"
accounts_cli = AppGroup("accounts", help="Dealer accounts.")
keys_cli = AppGroup("keys", help="API keys.")
staff_cli = AppGroup("staff", help="Staff users of the console at /admin.")


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


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True,
              help="analyst: views and acknowledges; admin: also suspends, reinstates, removes suppressions.")
@click.option("--totp", is_flag=True, help="Require a second factor; prints the authenticator enrolment URI.")
@click.password_option(help="Prompted for (twice) when not given; at least 12 characters.")
def create_staff(email: str, role: str, totp: bool, password: str):
    """Create a console user."""
    try:
        user = staff_service.create(email, password, StaffRole(role), CLI_ACTOR, totp=totp)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created {role} {user.email}")
    if totp:
        click.echo("enrol this in an authenticator app (shown once):")
        click.echo(staff_service.totp_uri(user))


@staff_cli.command("list")
def list_staff():
    """One line per staff user: id, role, state, second factor, address."""
    for user in staff_service.listing():
        state = "active" if user.active else "disabled"
        click.echo(f"{user.id}\t{user.role.value}\t{state}\t{'totp' if user.totp_secret else '-'}\t{user.email}")


@staff_cli.command("disable")
@click.argument("email")
def disable_staff(email: str):
    """Stop a user logging in; their open sessions end at their next request."""
    _set_active(email, False)


@staff_cli.command("enable")
@click.argument("email")
def enable_staff(email: str):
    """Let a disabled user log in again."""
    _set_active(email, True)


def _set_active(email: str, active: bool) -> None:
    try:
        staff_service.set_active(staff_service.find(email), active, CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{'enabled' if active else 'disabled'} {email}")


@staff_cli.command("set-password")
@click.argument("email")
@click.password_option(help="Prompted for (twice) when not given.")
def set_staff_password(email: str, password: str):
    """Replace a user's password."""
    try:
        staff_service.set_password(staff_service.find(email), password, CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"password of {email} replaced")


@click.command("demo")
@with_appcontext
def demo():
    """On first start (no accounts yet) create a demo dealer and print its keys."""
    if db.session.scalar(select(Account.id).limit(1)) is not None:
        click.echo("demo: accounts exist already; create keys with `.venv/bin/flask --app wsgi keys create`")
        return
    account = account_service.create("Demo Motors", ["demo-motors.example"], CLI_ACTOR, "1 Main St, Springfield")
    _, sender = account_service.create_key(Role.sender, CLI_ACTOR, account.id, "demo sender")
    _, staff = account_service.create_key(Role.staff, CLI_ACTOR, None, "demo staff")
    _, ingest = account_service.create_key(Role.ingest, CLI_ACTOR, None, "demo ingest")
    password = secrets.token_urlsafe(12)
    admin = staff_service.create("admin@demo-motors.example", password, StaffRole.admin, CLI_ACTOR)
    db.session.commit()
    click.echo(f"demo account {account.id} 'Demo Motors' created. Keys (shown once):")
    click.echo(f"  sender: {sender}\n  staff:  {staff}\n  ingest: {ingest}")
    click.echo(f"console: /admin, log in as {admin.email} with the password {password} (shown once)")


unsubscribe_cli = AppGroup("unsubscribe", help="Unsubscribe link keys.")


@unsubscribe_cli.command("new-key")
def new_unsubscribe_key():
    """Print a new key: put it first in UNSUBSCRIBE_KEYS and keep the old ones after it."""
    click.echo(tokens.new_key())


seeds_cli = AppGroup("seeds", help="Seed addresses (seedlist monitoring).")


@seeds_cli.command("add")
@click.argument("address")
@click.option("--kind", type=click.Choice(["monitor", "trap", "optout"]), required=True)
@click.option("--provider", default="own", show_default=True, help="gmail, outlook, yahoo, own, ...")
@click.option("--mailbox", is_flag=True, help="Prompt for the mailbox's IMAP URL (kept sealed; never shown).")
def add_seed(address: str, kind: str, provider: str, mailbox: bool):
    """Add a seed; prints its id alone on the last line."""
    url = click.prompt("IMAP URL (imaps://user:password@host)", hide_input=True) if mailbox else None
    try:
        seed = seedlist.create(seedlist.NewSeed(address, kind, provider, url), CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created {kind} seed ({provider})")
    click.echo(seed.id)


@seeds_cli.command("list")
def list_seeds():
    """One line per seed: id, status, kind, provider, address, mailbox host."""
    for seed in db.session.scalars(seedlist.query().order_by(Seed.id)):
        click.echo(f"{seed.id}\t{seed.status.value}\t{seed.kind.value}\t{seed.provider}\t{seed.address}\t"
                   f"{seed.mailbox_host or '-'}")


@seeds_cli.command("rotate-keys")
def rotate_seed_keys():
    """Seal every stored mailbox again with the first of SEED_KEYS (then an old key may go)."""
    count = seedlist.rotate_keys()
    db.session.commit()
    click.echo(f"resealed {count} mailboxes")


def register(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    app.cli.add_command(accounts_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(demo)
    app.cli.add_command(unsubscribe_cli)
    app.cli.add_command(seeds_cli)
    from workers import cli as workers_cli
    from workers import inbound_cli, lmtp_cli, worker
    inbound_cli.register(app)
    lmtp_cli.register(app)
    workers_cli.register(app)
    worker.register(app)
