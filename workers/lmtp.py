"""The LMTP listener (`make lmtp`, `flask --app wsgi lmtp`): the MTA delivers bounces, complaints,
mailto opt-outs and seed mail here (Postfix: `lmtp:inet:127.0.0.1:8024` in `transport`) instead of
forking a command per message.

Each message goes through the inbound service, as POST /v1/inbound/mail does: stored raw,
committed, then queued; only then does each recipient get its 250. The envelope recipients are
stored in front of it as X-Original-To headers (as Postfix's local(8) adds them: a bounce's To
need not name the VERP address it came back to), and say what the mail is (the mailto address:
an opt-out; an active seed: seed mail; anything else, the bounce or VERP domain: read by the
worker). The database work blocks, so it runs in a pool of threads, each message in an app
context of its own, while the event loop serves the other connections. A database that cannot be reached gets 451 for every recipient: the MTA keeps the
message and tries again, and the dedupe key makes a message stored twice one event."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import click
from aiosmtpd.lmtp import LMTP
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError, OperationalError

from config import SettingsError
from seedlist import seeds
from suppression import unsubscribe
from suppression.db import DRIVER_ERRORS, end_failed_session
from suppression.errors import DomainError, TooLarge
from workers import inbound

log = logging.getLogger(__name__)

# Messages stored at once; more connections than this wait for a thread, not for a connection.
THREADS = 16
# Replies after DATA, one per recipient (RFC 2033 4.2).
ACCEPTED = "250 2.0.0 stored"
TOO_LARGE = "552 5.3.4 message larger than MAX_INBOUND_BYTES"
TRY_LATER = "451 4.3.0 cannot store the message now, try again later"
REFUSED = "554 5.7.1 this client may not deliver here (LMTP_ALLOW)"


def parse_bind(bind: str) -> tuple[str, int]:
    """LMTP_BIND's host and port ("127.0.0.1:8024", "[::1]:8024"); SettingsError when it is neither."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"LMTP_BIND must be host:port, not {bind!r}")
    return host.strip("[]"), int(port)


def parse_allow(allow: str) -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] | None:
    """LMTP_ALLOW's client addresses; None (any client) when it is empty."""
    try:
        found = frozenset(ipaddress.ip_address(a.strip()) for a in allow.split(",") if a.strip())
    except ValueError as exc:
        raise SettingsError(f"LMTP_ALLOW is a comma-separated list of IP addresses: {exc}") from None
    return found or None


def kind_of(recipients: list[str]) -> str:
    """The inbound kind the envelope recipients make a message: an opt-out, seed mail, or read by the worker."""
    addresses = tuple(address.lower() for address in recipients)
    mailboxes = unsubscribe.mailboxes()
    if any(address in mailboxes for address in addresses):
        return "unsubscribe"
    return "seed" if seeds.among(addresses) is not None else "auto"


def deliver(app: Flask, raw: bytes, recipients: list[str]) -> list[str]:
    """Store one message for all its recipients (once: one event) and say what each is answered."""
    with app.app_context():
        try:
            inbound.accept_mail(raw, kind_of(recipients), recipients)
            reply = ACCEPTED
        except TooLarge:
            reply = TOO_LARGE
        except DomainError as exc:  # an empty message: nothing to store; the MTA returns it
            end_failed_session()
            reply = f"554 5.6.0 {exc.message}"
        except (OperationalError, *DRIVER_ERRORS) as exc:
            end_failed_session()
            log.warning("LMTP message refused for now, the database is unavailable: %s", type(exc).__name__)
            reply = TRY_LATER
        except Exception as exc:  # noqa: BLE001 - the MTA keeps the message and retries; we log why
            end_failed_session()
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                log.warning("LMTP message refused for now, the database connection broke")
            else:
                log.exception("LMTP message refused for now")
            reply = TRY_LATER
    return [reply] * len(recipients)


class Handler:
    """aiosmtpd's handler: each message's database work in the thread pool."""

    def __init__(self, app: Flask, executor: ThreadPoolExecutor):
        self.app, self.executor = app, executor

    async def handle_DATA(self, server, session, envelope) -> str:
        loop = asyncio.get_running_loop()
        replies = await loop.run_in_executor(self.executor, deliver, self.app, bytes(envelope.original_content),
                                             list(envelope.rcpt_tos))
        # aiosmtpd writes this string as it is: a line for each recipient, in RCPT order.
        return "\r\n".join(replies)


class Server(LMTP):
    """aiosmtpd's LMTP, with the client check of LMTP_ALLOW, and every reply to DATA one per recipient."""

    def __init__(self, handler: Handler, allow, max_bytes: int):
        # A message's lines are not held to RFC 5321's 1,000 octets: a malformed message is stored
        # and marked by the worker, not refused with 500 (data_size_limit still bounds it).
        self.line_length_limit = max(self.line_length_limit, 1024 * 1024)
        super().__init__(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True, decode_data=False,
                         hostname="suppression-lmtp", ident="suppression LMTP")
        self.allow = allow

    async def _handle_client(self) -> None:
        # No hook runs at connection time; refusing here, before the greeting, is RFC 5321's 554.
        peer = self.session.peer
        if self.allow is not None and not _allowed(peer, self.allow):
            log.warning("LMTP connection from %s refused (LMTP_ALLOW)", peer[0] if peer else "?")
            await self.push(REFUSED)
            self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status) -> None:
        # aiosmtpd answers a message over data_size_limit (or with a line over the limit) with one
        # line; an LMTP client waits for one per recipient.
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith(("552 Error: Too much mail data", "500 Line too long")) and self.envelope.rcpt_tos:
            text = TOO_LARGE if text.startswith("552") else text
            status = "\r\n".join([text] * len(self.envelope.rcpt_tos))
        await super().push(status)


def _allowed(peer, allow) -> bool:
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address in allow or (mapped is not None and mapped in allow)


class Listener:
    """The listener on its own event loop in a thread: `start()`, `stop()` (the command, tests, bench)."""

    def __init__(self, app: Flask, host: str | None = None, port: int | None = None):
        config = app.config
        bind_host, bind_port = parse_bind(str(config["LMTP_BIND"]))
        self.host = host or bind_host
        self.port = bind_port if port is None else port
        self.app = app
        self.allow = parse_allow(str(config["LMTP_ALLOW"]))
        self.max_bytes = int(config["MAX_INBOUND_BYTES"])
        self.executor = ThreadPoolExecutor(THREADS, thread_name_prefix="lmtp")
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    def _protocol(self) -> Server:
        return Server(Handler(self.app, self.executor), self.allow, self.max_bytes)

    def start(self) -> tuple[str, int]:
        """Listen (port 0: a free one) and serve in a thread; the address bound."""
        self._server = self.loop.run_until_complete(self.loop.create_server(self._protocol, self.host, self.port))
        self._thread = threading.Thread(target=self.loop.run_forever, name="lmtp-loop", daemon=True)
        self._thread.start()
        return self._server.sockets[0].getsockname()[:2]

    def stop(self) -> None:
        """Stop listening, let the messages in hand finish, and close the loop."""
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=30)
        self.executor.shutdown(wait=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


@click.command("lmtp")
@with_appcontext
def command() -> None:
    """Take mail from the MTA over LMTP on LMTP_BIND (Postfix: lmtp:inet:HOST:PORT)."""
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
