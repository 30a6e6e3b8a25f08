"""A stored message as text for the evidence viewer: its header fields and its body source,
never parsed into HTML and never rendered. Long parts are cut for the page (the download has
every byte)."""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_FIELDS = 500
MAX_FIELD_CHARS = 4_000
MAX_BODY_CHARS = 256 * 1024
_END_OF_HEADER = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class Shown:
    fields: list[tuple[str, str]]  # (name, value) as written, unfolded, cut to MAX_FIELD_CHARS
    body: str
    cut: bool  # something was left out: download the .eml for all of it


def show(raw: bytes) -> Shown:
    """The message's header fields and body as text."""
    found = _END_OF_HEADER.search(raw)
    head, body = (raw[:found.start()], raw[found.end():]) if found else (raw, b"")
    fields, cut = _fields(_text(head))
    text = _text(body)
    return Shown(fields, text[:MAX_BODY_CHARS], cut or len(text) > MAX_BODY_CHARS)


def _fields(head: str) -> tuple[list[tuple[str, str]], bool]:
    unfolded: list[str] = []
    for line in head.splitlines():
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    fields = [_field(line) for line in unfolded[:MAX_FIELDS]]
    cut = len(unfolded) > MAX_FIELDS or any(len(value) > MAX_FIELD_CHARS for _, value in fields)
    return [(name, value[:MAX_FIELD_CHARS]) for name, value in fields], cut


def _field(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon or not name or len(name) > 76:  # not a header field: shown whole, unnamed
        return "", line
    return name, value.strip()


def _text(data: bytes) -> str:
    # Mail is mostly ASCII; anything else is shown as UTF-8 where it is, replaced where it is not.
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")
