"""Agreement of the classifier with every labelled corpus source, per source, with the misses.

    .venv/bin/python bench/accuracy.py                    # tests/corpus/*/ (each with labels.jsonl)
    .venv/bin/python bench/accuracy.py --corpus DIR       # one more labelled folder (an evaluation set)
    .venv/bin/python bench/accuracy.py --misses           # and what was read wrong, file by file

Scores as tests/test_classifier.py does (tests/corpus_scoring.py: adjudication applied, hard/soft
errors by direction). It asserts nothing; it prints.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import corpus_scoring  # after the path set-up above
from workers.classify import classify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, action="append", default=[], help="another labelled folder")
    parser.add_argument("--misses", action="store_true", help="list each disagreement")
    args = parser.parse_args()
    folders = args.corpus or corpus_scoring.sources(ROOT / "tests/corpus")
    scores = []
    for folder in folders:
        result = corpus_scoring.score(folder, classify)
        scores.append(result)
        print(result.line(folder.name))
        if args.misses:
            for name, figure, ours in result.misses:
                print(f"    {figure:10} {name}: {ours}")
    if len(folders) > 1:
        print(corpus_scoring.pooled(scores).line("all"))


if __name__ == "__main__":
    main()
