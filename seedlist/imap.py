"""Reading one seed mailbox over IMAP: the messages that arrived since the last read, per folder.

Each configured folder of the seed's provider (FOLDERS) that exists on the server is opened
read-only (EXAMINE) and its new messages found by UID, remembering per folder the UIDVALIDITY and
the last UID returned (FolderState). Bodies are fetched with BODY.PEEK[] in batches, so a message
is never marked seen and a hundred new ones cost a few round trips. Nothing here logs, and no
error repeats the URL or the password: the URL is a credential.

Failures raise MailboxError with a kind the caller can act on: "auth" (wrong credentials: retrying
won't help), "connect" (refused, unreachable, TLS refused or not trusted, connection lost),
"timeout" (the server stopped answering) and "protocol" (anything else the server said or did).
"""
from __future__ import annotations

import imaplib
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"imaps": 993, "imap": 143}
FETCH_BATCH = 50  # UIDs per UID FETCH: few round trips, bounded responses

# Provider -> folders read, with the placement a message found there gets. A folder the server
# lacks is skipped, so a map may list the names a provider uses in some accounts or locales only.
FOLDERS: dict[str, tuple[tuple[str, str], ...]] = {
    "gmail": (("INBOX", "inbox"), ("[Gmail]/Spam", "spam"), ("[Google Mail]/Spam", "spam"),
              ("Promotions", "other")),  # category labels appear as folders only when enabled
    "outlook": (("INBOX", "inbox"), ("Junk", "spam"), ("Junk Email", "spam")),
    "yahoo": (("INBOX", "inbox"), ("Bulk", "spam"), ("Bulk Mail", "spam")),
    "own": (("INBOX", "inbox"), ("Junk", "spam"), ("Spam", "spam")),
}
DEFAULT_FOLDERS = FOLDERS["own"]  # any other provider


@dataclass(frozen=True)
class FolderState:
    """Where a folder was read up to: UIDs are only comparable under one UIDVALIDITY."""
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Fetched:
    """One new message: the folder it was found in, its placement there, its UID and its bytes."""
    folder: str
    placement: str
    uid: int
    raw: bytes


class MailboxError(Exception):
    """A mailbox that could not be read. `kind`: auth, connect, timeout or protocol; `detail` is safe
    to store and show (host and port at most, never the URL or password)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class _Target:
    tls: bool
    host: str
    port: int
    user: str
    password: str

    @property
    def where(self) -> str:
        return f"{'imaps' if self.tls else 'imap'}://{self.host}:{self.port}"


def folders_for(provider: str) -> tuple[tuple[str, str], ...]:
    return FOLDERS.get((provider or "").lower(), DEFAULT_FOLDERS)


def read_new(url: str, provider: str, states: dict[str, FolderState], *, timeout: float = 10.0,
             allow_plain_loopback: bool = False, max_messages: int = 1000,
             cafile: str | None = None) -> tuple[list[Fetched], dict[str, FolderState]]:
    """The messages that arrived in the provider's folders since `states` (oldest first per folder, at
    most `max_messages` in all), and the states to pass next time. States of folders not read this
    time (missing on the server, or past the budget) are passed through unchanged."""
    target = _target(url, allow_plain_loopback)
    try:
        conn = _connect(target, timeout, cafile)
    except MailboxError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified, never re-raised with its text unchecked
        raise _scrubbed_error(_classified(exc, target, connecting=True), target) from None
    try:
        _login(conn, target)
        result = _read_folders(conn, folders_for(provider), states, max_messages)
    except BaseException as exc:
        _drop(conn)  # no LOGOUT: after a time-out it would wait out another one
        if isinstance(exc, MailboxError) or not isinstance(exc, Exception):
            raise
        raise _scrubbed_error(_classified(exc, target, connecting=False), target) from None
    _close(conn)
    return result


# The connection

def _target(url: str, allow_plain_loopback: bool) -> _Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise MailboxError("connect", "the mailbox is not a valid URL") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or not parts.username:
        raise MailboxError("connect", "the mailbox is not an imaps:// URL with a user name and host")
    host = parts.hostname
    target = _Target(parts.scheme == "imaps", host, port or DEFAULT_PORTS[parts.scheme],
                     unquote(parts.username), unquote(parts.password or ""))
    if not target.tls and not (allow_plain_loopback and _loopback(host)):
        raise MailboxError("connect", f"{target.where}: plain imap:// is refused (it would send the password "
                                      "in clear); use imaps://")
    return target


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect(target: _Target, timeout: float, cafile: str | None) -> imaplib.IMAP4:
    if not target.tls:
        return imaplib.IMAP4(target.host, target.port, timeout=timeout)
    context = ssl.create_default_context(cafile=cafile)  # verifies the chain and the host name
    return imaplib.IMAP4_SSL(target.host, target.port, ssl_context=context, timeout=timeout)


def _login(conn: imaplib.IMAP4, target: _Target) -> None:
    try:
        if target.password.isascii() and target.user.isascii():
            conn.login(target.user, target.password)
        else:  # LOGIN is ASCII only; AUTHENTICATE PLAIN carries UTF-8
            secret = b"\0" + target.user.encode() + b"\0" + target.password.encode()
            conn.authenticate("PLAIN", lambda _challenge: secret)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        said = _server_text(exc)
        # [UNAVAILABLE] is the server's own trouble (RFC 5530): worth a retry, unlike bad credentials.
        kind = "connect" if "[UNAVAILABLE]" in said.upper() else "auth"
        raise MailboxError(kind, _scrubbed(f"{target.where}: login refused: {said}", target)) from None


def _close(conn: imaplib.IMAP4) -> None:
    """LOGOUT; the messages are read already, so a failure here changes nothing."""
    try:
        conn.logout()
    except Exception:  # noqa: BLE001
        _drop(conn)


def _drop(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except Exception:  # noqa: BLE001 - closing a broken socket may fail again; it is closed either way
        pass


def _scrubbed_error(error: MailboxError, target: _Target) -> MailboxError:
    return MailboxError(error.kind, _scrubbed(error.detail, target))


def _scrubbed(detail: str, target: _Target) -> str:
    """`detail` without the password, should a server ever echo it."""
    return detail.replace(target.password, "***") if target.password else detail


def _classified(exc: BaseException, target: _Target, *, connecting: bool) -> MailboxError:
    """The MailboxError an exception of imaplib, ssl or socket stands for."""
    chain = _chain(exc)
    if any(isinstance(e, (TimeoutError, socket.timeout)) for e in chain):
        return MailboxError("timeout", f"{target.where}: no answer within the time-out")
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return MailboxError("connect", f"{target.where}: TLS certificate not trusted: {_first_line(exc)}")
    if any(isinstance(e, socket.gaierror) for e in chain):
        return MailboxError("connect", f"{target.where}: host name not found")
    if connecting and isinstance(exc, OSError):
        return MailboxError("connect", f"{target.where}: {exc.strerror or _first_line(exc)}")
    if any(isinstance(e, (ConnectionError, ssl.SSLError)) for e in chain) or (
            isinstance(exc, imaplib.IMAP4.abort) and "socket error" in str(exc)):
        return MailboxError("connect", f"{target.where}: connection lost: {_first_line(exc)}")
    return MailboxError("protocol", f"{target.where}: {_first_line(exc)}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _server_text(exc: BaseException) -> str:
    """What the server said, from imaplib's "LOGIN command error: NO [b'...']"."""
    said = re.findall(r"b'(.*?)'", str(exc)) or [str(exc)]
    return " ".join(said)[:300]


# The folders

def _read_folders(conn: imaplib.IMAP4, folders, states: dict[str, FolderState],
                  budget: int) -> tuple[list[Fetched], dict[str, FolderState]]:
    present = _existing(conn)
    fetched: list[Fetched] = []
    new_states = dict(states)
    for folder, placement in folders:
        name = present.get(folder.upper() if folder.upper() == "INBOX" else folder)
        if name is None or budget - len(fetched) <= 0:
            continue
        got, new_states[folder] = _read_folder(conn, name, placement, states.get(folder), budget - len(fetched))
        fetched.extend(Fetched(folder, placement, uid, raw) for uid, raw in got)
    return fetched, new_states


def _existing(conn: imaplib.IMAP4) -> dict[str, str]:
    """The selectable folders on the server, by name (INBOX in upper case: its name is case-insensitive)."""
    typ, data = conn.list()
    _ok(typ, data, "LIST")
    names: dict[str, str] = {}
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # the name came as a literal
            flags, name = item[0].decode(errors="replace"), item[1].decode(errors="replace")
        else:
            match = re.match(r'\((?P<flags>[^)]*)\) (?:NIL|"(?:[^"\\]|\\.)*") (?P<name>.*)$',
                             item.decode(errors="replace"))
            if not match:
                continue
            flags, name = match["flags"], _unquoted(match["name"])
        if "\\noselect" in flags.lower() or "\\nonexistent" in flags.lower():
            continue
        names["INBOX" if name.upper() == "INBOX" else name] = name
    return names


def _read_folder(conn: imaplib.IMAP4, name: str, placement: str, state: FolderState | None,
                 budget: int) -> tuple[list[tuple[int, bytes]], FolderState]:
    typ, data = conn.select(_quoted(name), readonly=True)  # EXAMINE: nothing read here changes the mailbox
    _ok(typ, data, f"EXAMINE {name}")
    uidvalidity = _number(conn.response("UIDVALIDITY")[1])
    if uidvalidity is None:
        raise imaplib.IMAP4.error(f"EXAMINE {name}: no UIDVALIDITY")
    # A new UIDVALIDITY means the old UIDs name nothing any more: read the folder from its start.
    last = state.last_uid if state and state.uidvalidity == uidvalidity else 0
    uidnext = _number(conn.response("UIDNEXT")[1])
    if uidnext is not None and uidnext <= last + 1:
        return [], FolderState(uidvalidity, last)  # nothing new: spare the SEARCH
    typ, data = conn.uid("SEARCH", f"UID {last + 1}:*")
    _ok(typ, data, f"UID SEARCH {name}")
    # "n:*" always matches the folder's last message, even when its UID is below n: keep only newer ones.
    uids = sorted(u for u in (int(w) for w in b" ".join(d for d in data if d).split()) if u > last)[:budget]
    got: list[tuple[int, bytes]] = []
    for start in range(0, len(uids), FETCH_BATCH):
        got.extend(_fetch(conn, uids[start:start + FETCH_BATCH], name))
    # A UID searched but not fetched was expunged in between; UIDs are never reused, so step past it.
    return got, FolderState(uidvalidity, uids[-1] if uids else last)


def _fetch(conn: imaplib.IMAP4, uids: list[int], name: str) -> list[tuple[int, bytes]]:
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    _ok(typ, data, f"UID FETCH {name}")
    wanted, bodies = set(uids), {}
    for item in data:
        if not isinstance(item, tuple):  # b")" closing a message, or an untagged FETCH of flags only
            continue
        match = re.search(rb"UID (\d+)", item[0])
        if match and int(match[1]) in wanted:
            bodies[int(match[1])] = item[1]
    return sorted(bodies.items())


def _ok(typ: str, data, what: str) -> None:
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what}: {typ} {_server_text(Exception(repr(data)))}")


def _number(values) -> int | None:
    for value in values or ():
        if value and value.strip().isdigit():
            return int(value)
    return None


def _quoted(folder: str) -> str:
    """A mailbox name as an IMAP quoted string: names like "[Gmail]/Spam" or "Junk Email" can't be atoms."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquoted(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return re.sub(r"\\(.)", r"\1", name[1:-1])
    return name
