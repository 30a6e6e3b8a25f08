"""No addresses in logs."""
from __future__ import annotations

import logging

from suppression.logs import RedactingFilter, redact


def test_addresses_are_redacted_from_paths_and_messages():
    assert redact("DELETE /v1/suppressions/jane.doe@example.com?list=x") == "DELETE /v1/suppressions/[address]?list=x"
    assert redact("/v1/suppressions/jane%40example.com") == "/v1/suppressions/[address]"
    assert redact("GET /v1/suppressions?limit=5") == "GET /v1/suppressions?limit=5"


def test_log_records_are_redacted_with_their_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "failed for %s", ("kunde@bücher.de",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "failed for [address]"


def test_tracebacks_are_redacted_too():
    try:
        raise ValueError("duplicate key (address)=(kunde@example.com)")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "kunde@example.com" not in text and "[address]" in text and "ValueError" in text


def test_access_log_lines_carry_no_address(tmp_path):
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from suppression.logs import AccessLogger
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = AccessLogger(config)
    request = SimpleNamespace(method="DELETE", path="/v1/suppressions/jane%40example.com")
    response = SimpleNamespace(status_code=204, sent=0)
    logger.access(response, request, {"REMOTE_ADDR": "192.0.2.1"}, timedelta(milliseconds=12))
    line = (tmp_path / "access.log").read_text()
    assert line.strip() == '192.0.2.1 "DELETE /v1/suppressions/[address]" 204 0 12ms'
    logger.access(response, SimpleNamespace(method="POST", path="/u/gAAAAABrDDAsmcODyC5R1yk-5V4RUC/resubscribe"),
                  {}, timedelta(milliseconds=3))
    assert (tmp_path / "access.log").read_text().splitlines()[1] == '- "POST /u/[token]/resubscribe" 204 0 3ms'
