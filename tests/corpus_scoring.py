"""Scoring the classifier against labelled corpora: kind, recipients and hard/soft, per source.

A source is a folder of `*.eml` with `labels.jsonl` (tests/corpus/*/; README.md in each says where
the messages come from and under which licence). Two label layouts are read:
- the development corpus (tests/corpus/bounces, labelled by the reference classifier): `records`
  name the deciding recipient, and `adjudication.json` beside it corrects hard/soft (and kind)
  where the labels contradict the message's own words; it is always applied;
- the other sources, labelled by hand from the message's words by the same rules: `hard` is
  true, false, "either" (left out of the hard/soft figure) or null.

The hard/soft figure also counts its two error directions, since they cost different things: a
dead address read as soft keeps being mailed; a live one read as hard is suppressed for every dealer.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workers.findings import BOUNCE, COMPLAINT, Classification

# The reference writes this placeholder when a report names no recipient; it is not an address.
PLACEHOLDER_SUFFIX = ".invalid"
FIGURES = ("kind", "recipients", "hard")


@dataclass(frozen=True)
class Label:
    file: str
    kind: str
    recipients: frozenset[str]
    hard: bool | None  # None: not scored (not a bounce, unknown, or either reading stands)
    deciding: str | None  # the recipient whose hard/soft is scored
    # Labelled by the reference classifier, which names the final recipient of a forwarded
    # address; the other sources name the address the sender mailed (RecipientResult.mailed).
    reference: bool = False


@dataclass
class Score:
    counts: dict[str, list[int]] = field(default_factory=lambda: {name: [0, 0] for name in FIGURES})
    dead_as_soft: int = 0  # a dead address read as soft (or not read at all)
    alive_as_hard: int = 0  # a live address read as hard
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (file, figure, what we said)

    def ratio(self, figure: str) -> float:
        good, total = self.counts[figure]
        return good / total if total else 1.0

    def line(self, name: str) -> str:
        parts = [f"{name:>14}"]
        for figure in FIGURES:
            good, total = self.counts[figure]
            parts.append(f"{figure} {good}/{total} = {self.ratio(figure):6.1%}")
        parts.append(f"(dead read as soft {self.dead_as_soft}, alive read as hard {self.alive_as_hard})")
        return "  ".join(parts)


def pooled(scores: list[Score]) -> Score:
    """Several sources' scores as one (their misses included)."""
    total = Score()
    for score in scores:
        for figure in FIGURES:
            total.counts[figure] = [a + b for a, b in zip(total.counts[figure], score.counts[figure])]
        total.dead_as_soft += score.dead_as_soft
        total.alive_as_hard += score.alive_as_hard
        total.misses += score.misses
    return total


def sources(root: Path) -> list[Path]:
    """Every labelled source folder under `root` (the development corpus first)."""
    found = sorted(path.parent for path in root.glob("*/labels.jsonl"))
    return sorted(found, key=lambda path: path.name != "bounces")


def labels(source: Path) -> list[Label]:
    adjudication = _adjudication(source)
    out = []
    for line in (source / "labels.jsonl").read_text().splitlines():
        if line.strip():
            label = _label(json.loads(line), adjudication)
            if label is not None:
                out.append(label)
    return out


def _adjudication(source: Path) -> dict:
    path = source / "adjudication.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _label(raw: dict, adjudication: dict) -> Label | None:
    if raw.get("reason") == "unparsed":  # the reference could not read it: nothing to compare
        return None
    name = raw["file"]
    kind = adjudication.get("kind", {}).get(name, raw["kind"])
    reference = raw.get("records") is not None
    recipients = frozenset(a.lower() for a in raw.get("recipients") or ()
                           if not (reference and a.endswith(PLACEHOLDER_SUFFIX)))
    hard = adjudication.get("hard", {}).get(name, raw.get("hard"))
    records = raw.get("records") or ()
    deciding = records[0]["recipient"] if records else next(iter(sorted(recipients)), None)
    if kind != BOUNCE or hard not in (True, False):
        hard = None
    return Label(name, kind, recipients, hard, deciding.lower() if deciding else None, reference)


def score(source: Path, classify: Callable[[bytes], Classification]) -> Score:
    result = Score()
    for label in labels(source):
        verdict = classify((source / label.file).read_bytes())
        _count(result, label, "kind", verdict.kind == label.kind, verdict.kind)
        if label.kind in (BOUNCE, COMPLAINT):
            ours = frozenset(r.address if label.reference else r.mailed for r in verdict.recipients)
            _count(result, label, "recipients", ours == label.recipients, ",".join(sorted(ours)))
        if label.hard is not None:
            _score_hard(result, label, verdict)
    return result


def _score_hard(result: Score, label: Label, verdict: Classification) -> None:
    mine = [r for r in verdict.recipients if label.deciding in (r.address, r.mailed)] or list(verdict.recipients)
    hard = mine[0].hard if mine and verdict.kind == BOUNCE else None
    if label.hard and not hard:
        result.dead_as_soft += 1
    elif not label.hard and hard:
        result.alive_as_hard += 1
    _count(result, label, "hard", hard == label.hard, f"{hard} ({mine[0].reason if mine else 'no recipient'})")


def _count(result: Score, label: Label, figure: str, agreed: bool, ours: str) -> None:
    result.counts[figure][0] += agreed
    result.counts[figure][1] += 1
    if not agreed:
        result.misses.append((label.file, figure, ours))
