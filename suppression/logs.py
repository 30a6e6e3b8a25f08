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


# An unsubscribe token is a capability (it opts its recipient out, or back in): not for logs.
_TOKEN_PATH = re.compile(r"(?<=/u/)[A-Za-z0-9_=-]{16,}")


class AccessLogger(Logger):
    """gunicorn's access log: client, method, path (addresses and tokens redacted, no query
    string), status, bytes sent and milliseconds. Written directly: gunicorn's general formatting computes every
    atom of every request, a fifth of the cost of a one-click unsubscribe."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        millis = request_time.seconds * 1000 + request_time.microseconds // 1000
        path = _TOKEN_PATH.sub("[token]", redact(req.path))
        # A request gunicorn refused itself (a bad header) has a status line but no status_code;
        # failing here would lose its answer.
        status = getattr(resp, "status_code", None) or str(getattr(resp, "status", "-")).split(" ", 1)[0]
        self.access_log.info('%s "%s %s" %s %s %sms', environ.get("REMOTE_ADDR", "-"), req.method, path,
                             status, getattr(resp, "sent", "-"), millis)
