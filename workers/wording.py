"""Families of phrases compiled for speed: one pattern per family, searched only when the text
holds one of the literal words that some phrase of the family cannot match without.

A family's pattern is an alternation of tens of phrases, and Python's regular expressions try
every alternative at every position of the text: searching every family of workers/phrases.py
through a 2,000-character notice costs about 300 µs. Most families cannot match most texts,
and a substring test (`word in text`) says so for a fraction of that. The gate words are taken
from the phrases themselves, so the gate never changes what matches: each is a run of literal
characters every match of its phrase contains (or, for a phrase that starts with a choice of
words, each of those words). A phrase with neither leaves its family ungated.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

try:  # the standard library's own parser of regular expressions (public as sre_parse before 3.11)
    from re import _constants as _sre
    from re import _parser
except ImportError:  # pragma: no cover - another Python: families are searched ungated
    _parser = _sre = None

MIN_GATE = 3  # characters: shorter literals would pass nearly every text
# Words nearly every bounce says: a gate of these lets every text through.
COMMON = frozenset({
    "user", "users", "mailbox", "address", "recipient", "account", "message", "mail", "e-mail", "email",
    "delivery", "domain", "host", "server", "not", "no", "the", "to", "from", "is", "was", "has", "your", "for",
    "smtp", "error", "failed", "rejected", "size", "ist", "de", "la", "le"})


class Family:
    """One reason's (or SMTP stage's) phrases: `matches(text)` on lower-cased text."""

    __slots__ = ("gates", "pattern", "reason")

    def __init__(self, reason: str, phrases: Iterable[str]):
        phrases = tuple(phrases)
        self.reason = reason
        self.pattern = re.compile("|".join(phrases))
        gates: set[str] = set()
        for phrase in phrases:
            words = _required_words(phrase)
            if not words:
                gates = set()
                break
            gates.update(words)
        self.gates = tuple(sorted(gates)) or None

    def matches(self, text: str) -> bool:
        if self.gates is not None and not any(map(text.__contains__, self.gates)):
            return False
        return self.pattern.search(text) is not None


def families(table: Iterable[tuple[str, Iterable[str]]]) -> tuple[Family, ...]:
    return tuple(Family(reason, phrases) for reason, phrases in table)


def _required_words(phrase: str) -> tuple[str, ...]:
    """Literals one of which every match of `phrase` contains; () when none can be found."""
    if _parser is None:
        return ()
    return _words_of(list(_parser.parse(phrase)))


def _words_of(items: list) -> tuple[str, ...]:
    if len(items) == 1 and items[0][0] is _sre.BRANCH:  # "a|b": each branch brings its own words
        found = [_words_of(list(branch)) for branch in items[0][1][1]]
        return tuple(w for words in found for w in words) if all(found) else ()
    candidates: list[tuple[str, ...]] = []
    run = ""
    for op, value in items:
        if op is _sre.LITERAL:
            run += chr(value)
            continue
        candidates += [(run,)] if len(run) >= MIN_GATE else []
        run = ""
        choice = _choice_of_words(op, value)
        candidates += [choice] if choice else []
    candidates += [(run,)] if len(run) >= MIN_GATE else []
    return max(candidates, key=_rarity, default=())


def _rarity(words: tuple[str, ...]) -> tuple[bool, int, int]:
    """How seldom a gate lets a text through: no word every bounce says, longer words, fewer of them."""
    return (not any(word.strip() in COMMON for word in words), min(len(word.strip()) for word in words), -len(words))


def _choice_of_words(op, value) -> tuple[str, ...]:
    """The words of a required choice "(?:a|b|c)" whose branches are all plain words (the parser
    inlines such a group as a BRANCH, or keeps it as a SUBPATTERN when it captures)."""
    if op is _sre.SUBPATTERN:
        inner = list(value[-1])
        if len(inner) != 1:
            return ()
        op, value = inner[0]
    if op is not _sre.BRANCH:
        return ()
    words = []
    for branch in value[1]:
        if not all(o is _sre.LITERAL for o, _ in branch):
            return ()
        words.append("".join(chr(v) for _, v in branch))
    return tuple(words) if all(len(w) >= MIN_GATE for w in words) else ()
