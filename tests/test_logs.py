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
