"""Request bodies read whole, or refused: never more than a limit, never less than declared.

Werkzeug checks neither under gunicorn: gunicorn sets `wsgi.input_terminated`, so Werkzeug hands
over its stream as is, and gunicorn returns a body cut short by a client that hung up as if it
were whole. A view that acts on a body reads it here (or streams it through `Checked`)."""
from __future__ import annotations

from typing import BinaryIO

from flask import request

from suppression.errors import DomainError, TooLarge

STEP = 1024 * 1024  # read in steps, so a refused body is never held whole


class Incomplete(DomainError):
    http_status = 400
    code = "incomplete_body"


def whole(limit: int, what: str = "the body") -> bytes:
    """The request's body, all of it: TooLarge past `limit` bytes, Incomplete when the client sent
    less than its Content-Length."""
    declared = _declared(limit, what)
    stream = _input()
    if declared is not None:
        body = _read(stream, declared)
        _check_complete(len(body), declared)
        return body
    body = _read(stream, limit + 1)
    if len(body) > limit:
        raise TooLarge(f"{what} is larger than {limit} bytes")
    return body


class Checked:
    """The request's body as a stream that raises TooLarge past `limit` and Incomplete when it
    ends short of its Content-Length (for bodies spooled to disk rather than held)."""

    def __init__(self, limit: int, what: str = "the body"):
        self.limit, self.what = limit, what
        self.declared = _declared(limit, what)
        self.stream, self.seen = _input(), 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; b"" at the end of a whole body."""
        end = self.declared if self.declared is not None else self.limit + 1
        size = end - self.seen if size is None or size < 0 else min(size, end - self.seen)
        data = _read(self.stream, size) if size > 0 else b""
        self.seen += len(data)
        if self.seen > self.limit:
            raise TooLarge(f"{self.what} is larger than {self.limit} bytes")
        if not data and self.declared is not None:
            _check_complete(self.seen, self.declared)
        return data


def _declared(limit: int, what: str) -> int | None:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise TooLarge(f"{what} is larger than {limit} bytes")
    return declared


def _input() -> BinaryIO:
    environ = request.environ
    if request.content_length is None and "wsgi.input_terminated" not in environ:
        # Neither a length nor a server that ends the stream: reading could wait forever (WSGI).
        return _EMPTY
    return environ["wsgi.input"]


def _read(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, fewer only where the body ended (or the client went away)."""
    parts, left = [], size
    while left > 0:
        try:
            data = stream.read(min(left, STEP))
        except Exception:  # noqa: BLE001 - the server's own parse errors (a broken chunk) included
            raise Incomplete("the request body could not be read to its end; send it again") from None
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _check_complete(received: int, declared: int) -> None:
    if received < declared:
        raise Incomplete(f"the body ended after {received} of its {declared} bytes; send it again")


class _Empty:
    @staticmethod
    def read(size: int = -1) -> bytes:
        return b""


_EMPTY = _Empty()
