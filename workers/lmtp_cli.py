"""`flask --app worker_app lmtp` (or `--app wsgi`): run the LMTP listener of workers/lmtp.py until
SIGTERM. A module of its own so that the apps that list the command do not import the listener."""
from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from config import SettingsError


@click.command("lmtp")
@with_appcontext
def command() -> None:
    """Take mail from the MTA over LMTP on LMTP_BIND (Postfix: lmtp:inet:HOST:PORT)."""
    from workers.lmtp import Listener  # aiosmtpd, for this command only
    app = current_app._get_current_object()
    try:
        listener = Listener(app)
        host, port = listener.start()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {app.config['LMTP_BIND']}: {exc}") from None
    click.echo(f"LMTP listening on {host}:{port}")
    stopped = threading.Event()
    # systemd stops it with SIGTERM: stop listening and finish the messages in hand (the MTA
    # retries any it had no answer for).
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()


def register(app: Flask) -> None:
    """Add the `lmtp` command to the app's CLI."""
    app.cli.add_command(command)
