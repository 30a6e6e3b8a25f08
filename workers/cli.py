"""Operator command: `flask --app worker_app classify FILE...` (or `--app wsgi`) shows how each message is read."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask

import config
from workers.findings import Classification


def as_line(name: str, result: Classification, verbose: bool = False) -> dict:
    """The JSON object printed for one message (docs/DESIGN.md "Classification")."""
    recipients = []
    for r in result.recipients:
        entry = {"address": r.address, "action": r.action, "status": r.status, "hard": r.hard, "reason": r.reason}
        if verbose:
            entry["diagnostic"] = r.diagnostic
        recipients.append(entry)
    line = {"file": name, "kind": result.kind, "recipients": recipients, "feedback_type": result.feedback_type}
    if verbose:
        line["detail"] = result.detail
        line["original"] = result.as_json()["original"]
    return line


@click.command("classify")
@click.argument("files", nargs=-1, required=True)
@click.option("--account-header", default=config.ACCOUNT_HEADER, show_default=True,
              help="Header of the returned original that names the dealer account.")
@click.option("--list-header", default=config.LIST_HEADER, show_default=True,
              help="Header of the returned original that names the list it was sent for.")
@click.option("-v", "--verbose", is_flag=True, help="Also print the detail, diagnostics and the original's sender.")
def classify_command(files: tuple[str, ...], account_header: str, list_header: str, verbose: bool) -> None:
    """Classify raw messages (bounce, complaint or other): one JSON line per FILE ("-" reads stdin).

    A file that cannot be read is reported on stderr; the others are still classified and the
    exit status is 1.
    """
    # The classifiers (DSN, ARF, the providers' formats) are loaded by this command only.
    from workers.classify import classify

    unreadable = 0
    for name in files:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            click.echo(f"classify: cannot read {name}: {exc.strerror or exc}", err=True)
            unreadable += 1
            continue
        line = as_line(name, classify(raw, account_header, list_header), verbose)
        click.echo(json.dumps(line, ensure_ascii=False))
    if unreadable:
        raise click.exceptions.Exit(1)


def register(app: Flask) -> None:
    """Add the `classify` command to the app's CLI."""
    app.cli.add_command(classify_command)
