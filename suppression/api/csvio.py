"""Address uploads (CSV, or one address a line) read with bounded memory, and CSV written back.

An upload is `text/csv` or `text/plain` as the raw body, or one multipart file field named
`file`; anything else is refused before a byte of it is read. Its bytes must be UTF-8 (a BOM is
fine): an address cell that is not comes out as `lists.Undecodable`, never as a guess."""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from flask import current_app, request

from suppression.errors import DomainError, Invalid
from suppression.lists import Undecodable
from suppression.web import bodies

HEADER_NAMES = {"email", "address", "email_address", "e-mail", "emailaddress", "mail"}
SPOOL_IN_MEMORY = 1024 * 1024
MAX_FIELD = 16 * 1024 * 1024
RAW_TYPES = ("text/csv", "text/plain")
MULTIPART = "multipart/form-data"
ACCEPTED_TYPES = (*RAW_TYPES, MULTIPART)
FIELD = "file"
UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}  # ASCII is UTF-8 too
# The request body of an upload, for the OpenAPI document.
REQUEST_BODY = {"required": True, "content": {
    **{kind: {"schema": {"type": "string", "description": "UTF-8 (a BOM is fine)"}} for kind in RAW_TYPES},
    MULTIPART: {"schema": {"type": "object", "required": [FIELD], "additionalProperties": False,
                           "properties": {FIELD: {"type": "string", "format": "binary"}}}}}}


class UnsupportedUpload(DomainError):
    http_status = 415
    code = "unsupported_media_type"


def takes_upload(view):
    """The view reads its body through `upload()`: a JSON body is refused as an upload (415),
    not parsed as JSON first (see api/blueprint.py)."""
    view.takes_upload = True
    return view


def upload() -> BinaryIO:
    """The uploaded file: a multipart `file` field or the raw body, spooled to disk past 1 MiB.
    The whole body is read before any of it is used: one cut short is refused, not applied."""
    _check_media_type()
    # Uploads go to disk, never to memory, so they get their own, much larger limit (the form
    # parser reads it from the request).
    request.max_content_length = current_app.config["MAX_UPLOAD_BYTES"]
    body = bodies.Checked(request.max_content_length, "the upload")
    source = _file_field(body) if request.mimetype == MULTIPART else body
    # Our own spool: the request's parts are closed before a streamed response ends.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    shutil.copyfileobj(source, spool, 64 * 1024)
    spool.seek(0)
    return spool


def _check_media_type() -> None:
    """415 for a body that is not a list we read: JSON, an image, a form, no type at all."""
    if request.mimetype not in ACCEPTED_TYPES:
        sent = f"a {request.mimetype} body" if request.mimetype else "a body without a Content-Type"
        raise UnsupportedUpload(f"{sent} is not an address list: send it as text/csv or text/plain, "
                                f"or as multipart/form-data with a file field named '{FIELD}'",
                                details={"content_type": request.mimetype or None,
                                         "accepted": list(ACCEPTED_TYPES)})
    charset = request.mimetype_params.get("charset")
    if request.mimetype in RAW_TYPES and charset and charset.strip().lower() not in UTF8_NAMES:
        # Declared, but we read UTF-8 only: refusing says so, where guessing would store garbage.
        raise UnsupportedUpload(f"uploads are read as UTF-8, not {charset}: save the file as UTF-8",
                                details={"charset": charset, "accepted": ["utf-8"]})


def _file_field(body: BinaryIO) -> BinaryIO:
    """The one file field named `file` of a multipart body; 422 naming any other field."""
    parser = request.make_form_data_parser()
    parser.silent = False  # a broken multipart body is an error to report, not an empty one
    try:
        _, form, files = parser.parse(body, request.mimetype, request.content_length, request.mimetype_params)
    except ValueError as exc:
        raise Invalid(f"the multipart body could not be read: {exc}", code="invalid_multipart") from None
    other = next((name for name in (*files.keys(), *form.keys()) if name != FIELD), None)
    if other is not None:
        raise Invalid(f"unexpected field '{other}': send the list as one file field named '{FIELD}'",
                      code="unexpected_field", details={"field": other})
    parts = files.getlist(FIELD)
    if len(parts) + len(form.getlist(FIELD)) > 1:
        raise Invalid(f"send one file in the field '{FIELD}', not several", code="too_many_files",
                      details={"field": FIELD})
    if not parts:
        # A plain form field named `file` (curl -F 'file=<list.csv') has been decoded by the form
        # parser, undecodable bytes replaced: only a file field keeps the bytes as sent.
        raise Invalid(f"send the list as a file field named '{FIELD}' (curl -F {FIELD}=@list.csv)",
                      code="missing_file", details={"field": FIELD})
    return parts[0].stream


def addresses(binary: BinaryIO) -> Iterator[tuple[int, str | Undecodable]]:
    """(line number, address cell) for each non-blank line; a header row is recognised and skipped.
    A cell that is not UTF-8 comes as `Undecodable`, with its bytes escaped."""
    # surrogateescape keeps each bad byte as a lone surrogate: the CSV structure (all ASCII) is
    # read as it is, and a cell that holds one can be told apart and shown with its bytes escaped.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
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
            yield reader.line_num, _cell((row[column] if column < len(row) else "").strip())
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num} is not valid CSV: {exc}", code="invalid_csv",
                      details={"line": reader.line_num}) from None
    finally:
        text.detach()  # the upload stays open for whoever reads it next (the wrapper would close it)


def _cell(value: str) -> str | Undecodable:
    try:
        value.encode("utf-8")  # fails only on the surrogates that stand for bytes that were not UTF-8
    except UnicodeEncodeError:
        return Undecodable(value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
    return value


def decodable(binary: BinaryIO) -> BinaryIO:
    """`binary`, read once to its end first: 422 `invalid_encoding` naming the first line whose
    address is not UTF-8 (or `invalid_csv`), before anything is answered from it."""
    for number, value in addresses(binary):
        if isinstance(value, Undecodable):
            raise Invalid(f"line {number} is not UTF-8 ({value.escaped[:320]}): save the file as UTF-8",
                          code="invalid_encoding", details={"line": number})
    binary.seek(0)
    return binary


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
