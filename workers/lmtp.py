"""The LMTP listener (`make lmtp`, the command in workers/lmtp_cli.py): the MTA delivers bounces, complaints,
mailto opt-outs and seed mail here (Postfix: `lmtp:inet:127.0.0.1:8024` in `transport`) instead of
forking a command per message.

Each message goes through the inbound service, as POST /v1/inbound/mail does: stored raw,
committed, then queued; only then does each recipient get its 250. The envelope recipients are
stored in front of it as X-Original-To headers (as Postfix's local(8) adds them: a bounce's To
need not name the VERP address it came back to), and say what the mail is (the mailto address:
an opt-out; an active seed: seed mail; anything else, the bounce or VERP domain: read by the
worker). The database work blocks, so it runs in a thread
while the event loop serves the connections; the messages that arrive meanwhile are stored
together next, in one transaction (group commit). A database that cannot be reached gets 451
for every recipient: the MTA keeps the message and tries again, and the dedupe key makes a
message stored twice one event."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.lmtp import LMTP
from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError

from config import SettingsError
from seedlist import seeds
from suppression import unsubscribe
from suppression.db import DRIVER_ERRORS, end_failed_session
from suppression.errors import DomainError, TooLarge
from workers import inbound

log = logging.getLogger(__name__)

# The most messages stored in one transaction.
BATCH = 100
# Replies after DATA, one per recipient (RFC 2033 4.2).
ACCEPTED = "250 2.0.0 stored"
TOO_LARGE = "552 5.3.4 message larger than MAX_INBOUND_BYTES"
TRY_LATER = "451 4.3.0 cannot store the message now, try again later"
REFUSED = "554 5.7.1 this client may not deliver here (LMTP_ALLOW)"
# The <local@domain> of MAIL FROM and RCPT TO as an MTA writes them (dot-atoms, no quoting,
# comments or address literals), then the parameters.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_PATH = re.compile(rf"\s*<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*+(?!\()(.*)",
                        re.DOTALL)


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


def kind_of(recipients: list[str], mailboxes: frozenset[str]) -> str:
    """The inbound kind the envelope recipients make a message: an opt-out (one of the mailto
    `mailboxes`), seed mail, or read by the worker."""
    addresses = tuple(address.lower() for address in recipients)
    if any(address in mailboxes for address in addresses):
        return "unsubscribe"
    return "seed" if seeds.among(addresses) is not None else "auto"


def deliver(app: Flask, messages: list[tuple[bytes, list[str]]]) -> list[str]:
    """Store messages that arrived together, (raw, envelope recipients) pairs, in one transaction
    (each once, whatever its recipients: one event), and say what each is answered (one line for
    all its recipients). A batch the database refuses for a reason other than being unreachable
    is tried again a message at a time, so that one bad message fails alone."""
    with app.app_context():
        replies = _deliver(messages)
    if len(messages) > 1 and replies[0] is None:
        return [deliver(app, [message])[0] for message in messages]
    return [reply or TRY_LATER for reply in replies]


def _deliver(messages: list[tuple[bytes, list[str]]]) -> list[str | None]:
    """Each message's reply; None for every one when the batch failed for a reason of its own."""
    try:
        mailboxes = unsubscribe.mailboxes()
        outcomes = inbound.accept_mails([(raw, kind_of(recipients, mailboxes), recipients)
                                         for raw, recipients in messages])
    except (OperationalError, *DRIVER_ERRORS) as exc:
        end_failed_session()
        log.warning("LMTP messages refused for now, the database is unavailable: %s", type(exc).__name__)
        return [TRY_LATER] * len(messages)
    except Exception as exc:
        end_failed_session()
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            log.warning("LMTP messages refused for now, the database connection broke")
            return [TRY_LATER] * len(messages)
        if len(messages) == 1:
            log.exception("LMTP message refused for now")
        return [None] * len(messages)
    return [_reply(outcome) for outcome in outcomes]


def _reply(outcome: inbound.Accepted | DomainError) -> str:
    if isinstance(outcome, inbound.Accepted):
        return ACCEPTED
    if isinstance(outcome, TooLarge):
        return TOO_LARGE
    return f"554 5.6.0 {outcome.message}"  # an empty message: nothing to store; the MTA returns it


class Handler:
    """aiosmtpd's handler, one for all connections. The database work blocks, so it runs in a
    thread; the messages that arrive while a batch is being stored wait and go together in the
    next one, one transaction and one commit for all (group commit), and each 250 still follows
    its own message's commit. One thread is enough: a batch grows with the database's latency,
    and the event loop, not the database, is then what limits the rate (the GIL)."""

    def __init__(self, app: Flask, executor: ThreadPoolExecutor):
        self.app, self.executor = app, executor
        self.waiting: list[tuple[bytes, list[str], asyncio.Future]] = []
        self.writing = False

    async def handle_DATA(self, server, session, envelope) -> str:
        reply = asyncio.get_running_loop().create_future()
        self.waiting.append((bytes(envelope.original_content), list(envelope.rcpt_tos), reply))
        self._write()
        # aiosmtpd writes this string as it is: a line for each recipient, in RCPT order.
        return "\r\n".join([await reply] * len(envelope.rcpt_tos))

    def _write(self) -> None:
        """Hand the messages waiting, as one batch, to the thread, unless it is storing one already."""
        if not self.waiting or self.writing:
            return
        batch, self.waiting = self.waiting[:BATCH], self.waiting[BATCH:]
        self.writing = True
        future = asyncio.get_running_loop().run_in_executor(
            self.executor, deliver, self.app, [(raw, recipients) for raw, recipients, _ in batch])
        future.add_done_callback(lambda done: self._written(batch, done))

    def _written(self, batch: list[tuple[bytes, list[str], asyncio.Future]], done: asyncio.Future) -> None:
        self.writing = False
        failed = done.cancelled() or done.exception() is not None
        replies = [TRY_LATER] * len(batch) if failed else done.result()
        for (_, _, reply), text in zip(batch, replies):
            if not reply.done():  # done: cancelled, the client went away (the MTA will send it again)
                reply.set_result(text)
        self._write()


class Server(LMTP):
    """aiosmtpd's LMTP, with the client check of LMTP_ALLOW, and every reply to DATA one per recipient."""

    def __init__(self, handler: Handler, allow, max_bytes: int):
        # A message's lines are not held to RFC 5321's 1,000 octets: a malformed message is stored
        # and marked by the worker, not refused with 500 (data_size_limit still bounds it).
        self.line_length_limit = max(self.line_length_limit, 1024 * 1024)
        super().__init__(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True, decode_data=False,
                         hostname="suppression-lmtp", ident="suppression LMTP")
        self.allow = allow

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd reads each address with the email package's header parser: a sixth of the
        # listener's CPU a message. A plain path is read here to the same result; anything else
        # (quoted local parts, address literals, <>) is still read by aiosmtpd.
        plain = PLAIN_PATH.fullmatch(arg)
        if plain is None or self.local_part_limit and len(plain[1].rpartition("@")[0]) > self.local_part_limit:
            return super()._getaddr(arg)
        return plain[1], plain[2]

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
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="lmtp")
        # One handler for every connection: messages from all of them are batched together.
        self.handler = Handler(app, self.executor)
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    def _protocol(self) -> Server:
        return Server(self.handler, self.allow, self.max_bytes)

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
