"""Logging without addresses: an address in a path or message is redacted before it is written."""
from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

# Anything around an @ (raw or %40-encoded) up to a delimiter. A match may start only where a
# run of non-delimiters starts: tried at every position, a long token in a URL (an unsubscribe
# link) costs quadratic time, and the access log redacts every request line.
_ADDRESS = re.compile(r"(?<![^\s/?&=\"'<>,;])[^\s/?&=\"'<>,;]+(?:@|%40)[^\s/?&=\"'<>,;]+")


def redact(text: str) -> str:
    """`text` with every address replaced by [address]."""
    if "@" not in text and "%40" not in text:
        return text
    return _ADDRESS.sub("[address]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:  # database errors quote the row they failed on
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure(level: str) -> None:
    """Root logging at `level`, through the redacting filter."""
    logging.basicConfig(level=level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())


class AccessLogger(Logger):
    """gunicorn's access log, with addresses in the request line redacted."""

    def access(self, resp, req, environ, request_time):
        environ = dict(environ, PATH_INFO=redact(environ.get("PATH_INFO", "")),
                       RAW_URI=redact(environ.get("RAW_URI", "")), QUERY_STRING=redact(environ.get("QUERY_STRING", "")))
        req.path, req.uri, req.query = redact(req.path), redact(req.uri), redact(req.query or "")
        super().access(resp, req, environ, request_time)
