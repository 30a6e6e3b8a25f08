"""A small, bounded MIME reader for bounce and complaint messages.

The standard library's `email` parser is correct but slow (about 1,900 messages/s on the corpus
with `policy=compat32`, before any classification) and has no limits of its own. A bounce only
needs a few things from a message: header fields, the tree of parts, the text of the readable
parts, and the header fields of the returned original. This reader does that and no more, on
`str` decoded as latin-1 (lossless, so a part's bytes can be recovered for its own charset), with
hard caps on size, depth, part count and header count, so that no input can make it slow.
"""
from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

MAX_BYTES = 1_000_000  # a bounce is read from its first MB; the original's headers come early
MAX_DEPTH = 12  # nesting of multiparts and message/rfc822 parts
MAX_PARTS = 200  # parts in the whole tree
MAX_HEADERS = 500  # header fields per part
MAX_FIELD = 8_192  # characters kept of one header field's value
MAX_TEXT = 200_000  # characters of a part's decoded text

_FIELD = re.compile(r"([!-9;-~]{1,100})[ \t]*:[ \t]*(.*)")
# One field with its continuation lines; a leading continuation line (no field yet) is skipped.
_FOLDED_FIELD = re.compile(r"(?:[ \t][^\n]*\n)*([!-9;-~]{1,100})[ \t]*:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)\n?")
_LOOSE_FIELD = re.compile(r"([A-Za-z][\w-]{0,99})[ \t]*:[ \t]*(.*)")
_FOLD = re.compile(r"[ \t]*\n[ \t]*")
_PARAM = re.compile(r';\s*([\w*.-]{1,60})\s*=\s*("(?:[^"\\]|\\.){0,1000}"|[^;\s]{0,1000})')
_TYPE = re.compile(r"\s*([\w.+-]{1,60}/[\w.+-]{1,60})")
_DELIMITER = re.compile(r"^--([^\s-][^\s]{0,69}|-[^\s]{1,69})[ \t]*$", re.MULTILINE)
_ENCODED_WORD = re.compile(r"=\?([\w.:-]{1,40})(?:\*[\w-]*)?\?([bBqQ])\?([^?\s]{0,2000})\?=")


class Part:
    """One MIME entity: header fields, content type, and either sub-parts or a body."""

    __slots__ = ("_text", "body", "ctype", "fields", "params", "parts")

    def __init__(self, fields: dict[str, list[str]], body: str):
        self.fields = fields
        self.ctype, self.params = content_type(self.get("content-type"))
        self.body = body
        self.parts: list[Part] = []
        self._text: str | None = None

    def get(self, name: str) -> str | None:
        """The first value of a header field (name in lower case), or None."""
        values = self.fields.get(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """Every value of a header field, in order."""
        return self.fields.get(name, [])

    @property
    def maintype(self) -> str:
        return self.ctype.partition("/")[0]

    def walk(self):
        """This part and all parts below it, depth first."""
        yield self
        for part in self.parts:
            yield from part.walk()

    def text(self) -> str:
        """The body with its transfer encoding and charset undone; line ends are \\n."""
        if self._text is None:
            data = transfer_decode(self.body[:MAX_TEXT * 2], self.get("content-transfer-encoding"))
            self._text = to_text(data, self.params.get("charset"))[:MAX_TEXT]
        return self._text


def parse(raw: bytes) -> Part:
    """Parse a raw RFC 5322 message (at most MAX_BYTES of it) into a tree of parts."""
    text = raw[:MAX_BYTES].decode("latin-1")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("From "):  # an mbox envelope line
        text = text.partition("\n")[2]
    budget = [MAX_PARTS]
    return _entity(text, 0, budget)


def read_headers(block: str) -> tuple[dict[str, list[str]], str]:
    """(header fields unfolded, names lower-cased; the rest of the block from the first line that is
    not a field)."""
    fields: dict[str, list[str]] = {}
    position, end, count = 0, len(block), 0
    while position < end:
        match = _FOLDED_FIELD.match(block, position)
        if match is None or count >= MAX_HEADERS:
            rest = block[position:]
            return fields, rest if rest.strip() else ""
        count += 1
        position = match.end()
        value = match.group(2)
        if "\n" in value:
            value = _FOLD.sub(" ", value[:MAX_FIELD * 2])
        fields.setdefault(match.group(1).lower(), []).append(value[:MAX_FIELD].rstrip())
    return fields, ""


def loose_headers(block: str) -> dict[str, list[str]]:
    """Header fields of a returned original, where folding is often broken by the bouncing MTA:
    a line that is not `Name: value` continues the field before it."""
    fields: dict[str, list[str]] = {}
    values: list[str] | None = None
    count = 0
    for line in block.split("\n"):
        match = _LOOSE_FIELD.match(line)
        if match is not None and count < MAX_HEADERS:
            count += 1
            values = fields.setdefault(match.group(1).lower(), [])
            values.append(match.group(2)[:MAX_FIELD].rstrip())
        elif values is not None and line.strip() and len(values[-1]) < MAX_FIELD:
            values[-1] = (values[-1] + " " + line.strip())[:MAX_FIELD]
    return fields


def split_message(text: str) -> tuple[str, str]:
    """Split message text into its header block and body."""
    if text.startswith("\n"):
        return "", text[1:]
    head, sep, body = text.partition("\n\n")
    if not sep:
        return head, ""
    return head, body


def _entity(text: str, depth: int, budget: list[int], shallow: bool = False) -> Part:
    if shallow:  # a returned original: its header fields, read leniently
        head, body = split_message(text.lstrip("\n"))
        fields, rest = read_headers(head)
        if rest:  # folding broken by the bouncing MTA: read those lines leniently
            for name, values in loose_headers(rest).items():
                fields.setdefault(name, []).extend(values)
        part = Part(fields, body)
        budget[0] -= 1
        return part
    head, body = split_message(text)
    fields, rest = read_headers(head)
    if rest:  # a line that is no header field: the body starts there
        body = rest + "\n\n" + body
    part = Part(fields, body)
    budget[0] -= 1
    if depth >= MAX_DEPTH or budget[0] <= 0:
        return part
    if part.maintype == "multipart":
        boundary = part.params.get("boundary")
        chunks = split_multipart(body, boundary) if boundary else []
        if not chunks:  # a missing or wrong boundary parameter: use the first delimiter-like line
            found = _DELIMITER.search(body)
            chunks = split_multipart(body, found.group(1)) if found else []
        if chunks:
            for chunk in chunks:
                if budget[0] <= 0:
                    break
                part.parts.append(_entity(chunk, depth + 1, budget))
        else:  # no parts at all: read the body as text
            part.ctype, part.params = "text/plain", {}
    elif part.ctype in ("message/rfc822", "message/global", "message/rfc822-headers"):
        inner = body
        if (part.get("content-transfer-encoding") or "").strip().lower() in ("base64", "quoted-printable"):
            inner = transfer_decode(body, part.get("content-transfer-encoding")).decode("latin-1")
            inner = inner.replace("\r\n", "\n").replace("\r", "\n")
        # Only the returned original's header fields matter; its own parts are never read.
        part.parts.append(_entity(inner, depth + 1, budget, shallow=True))
    return part


def split_multipart(body: str, boundary: str) -> list[str]:
    """The bodies of a multipart's parts (preamble and epilogue dropped; a missing close is tolerated)."""
    delimiter = "\n--" + boundary
    chunks = ("\n" + body).split(delimiter, MAX_PARTS * 5)  # parts beyond the cap are never read
    parts: list[list[str]] = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        end = chunk.find("\n")
        rest_of_line = chunk if end < 0 else chunk[:end]
        if rest_of_line.strip():  # a longer boundary that starts with this one: not a delimiter
            if parts:
                parts[-1].append(delimiter + chunk)
            continue
        parts.append(["" if end < 0 else chunk[end + 1:]])
    return ["".join(pieces) for pieces in parts]


def content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """(type/subtype in lower case, parameters) of a Content-Type value; text/plain when absent."""
    if not value:
        return "text/plain", {}
    main, _, rest = value.partition(";")
    match = _TYPE.match(main)
    if match is None:
        return "text/plain", {}
    ctype = match.group(1).lower()
    rest = main[match.end():] + ";" + rest  # a parameter written without its semicolon
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        name, raw = match.group(1).lower().rstrip("*"), match.group(2)
        if raw.startswith('"'):
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params.setdefault(name, raw)
    return ctype, params


def transfer_decode(body: str, encoding: str | None) -> bytes:
    """Bytes of a body with its Content-Transfer-Encoding undone; invalid data degrades, never raises."""
    data = body.encode("latin-1", "replace")
    encoding = (encoding or "").strip().lower()
    if encoding == "base64":
        return _base64(data)
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(data)
        except (binascii.Error, ValueError):
            return data
    return data


def _base64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    clean = clean[: len(clean) - len(clean) % 4]
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        return data


def to_text(data: bytes, charset: str | None) -> str:
    """Decode bytes by a declared charset; unknown or non-text charsets fall back to UTF-8/latin-1."""
    name = _codec(charset) if charset else None
    if name:
        try:
            return data.decode(name, "replace")
        except (UnicodeError, ValueError, TypeError, LookupError):  # a codec that misbehaves on bad input
            name = None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _codec(charset: str) -> str | None:
    return _text_codec(charset.strip().strip('"').lower()[:40])


@lru_cache(maxsize=256)  # bounded: charset names come from untrusted mail
def _text_codec(name: str) -> str | None:
    """The codec for a charset name, if it is a text encoding Python knows."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded words (or raw UTF-8) decoded, for subjects and names."""
    if not value.isascii():
        try:
            value = value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
    if "=?" not in value:
        return value

    def word(match: re.Match) -> str:
        charset, kind, payload = match.groups()
        raw = payload.encode("latin-1", "replace")
        if kind in "bB":
            data = _base64(raw + b"=" * (-len(raw) % 4))
        else:
            data = binascii.a2b_qp(raw.replace(b"_", b" "), header=True)
        return to_text(data, charset)

    return _ENCODED_WORD.sub(word, value)


def fix_escapes(text: str) -> str:
    """Text with raw ISO-2022-JP escape sequences (left in DSN fields by some MTAs) decoded."""
    if "\x1b$" not in text:
        return text
    try:
        return text.encode("latin-1").decode("iso-2022-jp", "replace")
    except (UnicodeError, ValueError):
        return text


def field_blocks(text: str, starts: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Blocks of `Name: value` fields separated by blank lines (DSN and ARF report bodies).

    A field named in `starts` that is already in the current block also starts a new block
    (DSNs whose recipient blocks are not separated by blank lines).
    """
    text = fix_escapes(text)
    blocks: list[dict[str, str]] = []
    block: dict[str, str] = {}
    last = None
    for line in text.split("\n"):
        if not line.strip():
            if block:
                blocks.append(block)
                block = {}
            last = None
            continue
        if line[:1] in (" ", "\t") and last is not None:
            if len(block[last]) < MAX_FIELD:
                block[last] += " " + line[:MAX_FIELD].strip()
            continue
        match = _FIELD.match(line.lstrip())
        if match is None:
            last = None
            continue
        last = match.group(1).lower()
        if last in starts and last in block:
            blocks.append(block)
            block = {}
        if last in block:  # a repeated field (Original-Rcpt-To in ARF) is kept, joined by newlines
            if len(block[last]) < MAX_FIELD:
                block[last] += "\n" + match.group(2)[:MAX_FIELD].strip()
        else:
            block[last] = match.group(2)[:MAX_FIELD].strip()
    if block:
        blocks.append(block)
    return blocks
