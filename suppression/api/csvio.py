"""Address uploads (CSV, or one address a line) read with bounded memory, and CSV written back."""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from flask import current_app, request

from suppression.errors import DomainError, Invalid
from suppression.web import bodies

HEADER_NAMES = {"email", "address", "email_address", "e-mail", "emailaddress", "mail"}
SPOOL_IN_MEMORY = 1024 * 1024
MAX_FIELD = 16 * 1024 * 1024


class UnsupportedUpload(DomainError):
    http_status = 415
    code = "unsupported_media_type"


def upload() -> BinaryIO:
    """The uploaded file: a multipart `file` field or the raw body, spooled to disk past 1 MiB.
    The whole body is read before any of it is used: one cut short is refused, not applied."""
    if request.mimetype == "application/x-www-form-urlencoded":
        raise UnsupportedUpload("send the list as text/csv, text/plain or multipart/form-data")
    # Uploads go to disk, never to memory, so they get their own, much larger limit (the form
    # parser reads it from the request).
    request.max_content_length = current_app.config["MAX_UPLOAD_BYTES"]
    body = bodies.Checked(request.max_content_length, "the upload")
    if request.mimetype == "multipart/form-data":
        parser = request.make_form_data_parser()
        _, _, files = parser.parse(body, request.mimetype, request.content_length, request.mimetype_params)
        part = files.get("file") or next(iter(files.values()), None)
        if part is None:
            raise Invalid("send the list as the raw body or as a multipart field named 'file'",
                          code="missing_file")
        source = part.stream
    else:
        source = body
    # Our own spool: the request's parts are closed before a streamed response ends.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    shutil.copyfileobj(source, spool, 64 * 1024)
    spool.seek(0)
    return spool


def addresses(binary: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, address cell) for each non-blank line; a header row is recognised and skipped."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    # A runaway line is an invalid address to report, not a CSV error that ends the upload.
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(text)
    column = None
    try:
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if column is None:
                column = _address_column(row)
                if column is not None:
                    continue
                column = 0
            yield reader.line_num, (row[column] if column < len(row) else "").strip()
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num} is not valid CSV: {exc}", code="invalid_csv") from None


def _address_column(row: list[str]) -> int | None:
    for index, cell in enumerate(row):
        if cell.strip().lower() in HEADER_NAMES:
            return index
    return None


class CsvLines:
    """Formats rows as CSV lines, reusing one buffer."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def __call__(self, rows) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerows(rows)
        return self._buffer.getvalue()
