"""Benchmark of the bounce / complaint classifier, workers.classify.classify.

Classifies every message of the corpus (tests/corpus/bounces/*.eml, a copy of ../shared/corpus/bounces) N times in this one
process and prints messages per second, against the bar of 1,000/s and the aim of 3,000/s
(Sisimai, the reference classifier, reads about 1,400/s on the same machine). Then a
breakdown by the format the classifier recognised, the slowest messages, and with --profile
the functions that take the time.

    .venv/bin/python bench/classify.py                 # about 10 s
    .venv/bin/python bench/classify.py --repeat 20
    .venv/bin/python bench/classify.py --profile

It asserts nothing; it reads files and prints.
"""
from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.classify import classify  # after the path set-up above

CORPUS = ROOT / "tests/corpus/bounces"  # a copy of ../shared/corpus/bounces
BAR, AIM = 1_000, 3_000
TARGET_SECONDS = 10.0


def format_of(detail: str | None) -> str:
    """A short name for the reader that decided (from Classification.detail)."""
    detail = detail or ""
    for needle, name in (("RFC 3464", "DSN (RFC 3464)"), ("delivery status fields", "DSN fields in text"),
                         ("delivery-success", "DSN (delivered)"), ("ARF", "ARF"), ("feedback loop", "FBL (non-ARF)"),
                         ("Amazon SES", "SES JSON"), ("non-standard", "non-standard notice"),
                         ("auto-reply", "auto-reply")):
        if needle in detail:
            return name
    return "other"


def load(corpus: Path) -> list[tuple[str, bytes]]:
    messages = [(path.name, path.read_bytes()) for path in sorted(corpus.glob("*.eml"))]
    if not messages:
        sys.exit(f"no .eml files in {corpus}")
    return messages


def run(messages: list[tuple[str, bytes]], repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to classify every message `repeat` times."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for _, raw in messages:
            classify(raw)
    return time.perf_counter() - wall, time.process_time() - cpu


def breakdown(messages: list[tuple[str, bytes]], rounds: int = 5) -> None:
    """Messages/s per recognised format and the slowest messages: the median of `rounds` timings of
    each message, taken in passes over the whole corpus (so no message is timed right after itself)."""
    formats = {name: format_of(classify(raw).detail) for name, raw in messages}
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, raw in messages:
            start = time.perf_counter()
            classify(raw)
            timings[name].append(time.perf_counter() - start)
    median = {name: sorted(times)[len(times) // 2] for name, times in timings.items()}
    totals: dict[str, list[float]] = defaultdict(list)
    for name, seconds in median.items():
        totals[formats[name]].append(seconds)
    print(f"\nby format (median of {rounds} timings per message):")
    for fmt, times in sorted(totals.items(), key=lambda item: -len(item[1])):
        print(f"  {fmt:22} {len(times):4} messages  {len(times) / sum(times):8,.0f}/s  "
              f"(mean {1e6 * sum(times) / len(times):6.0f} µs)")
    print("slowest:")
    for name, seconds in sorted(median.items(), key=lambda item: -item[1])[:5]:
        print(f"  {1e6 * seconds:7.0f} µs  {name}  ({formats[name]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=None, help="passes over the corpus (default: about 10 s)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--profile", action="store_true", help="print the top functions by time (cProfile)")
    args = parser.parse_args()

    messages = load(args.corpus)
    first, _ = run(messages, 1)  # also warms up regex caches and imports
    repeat = args.repeat or max(1, math.ceil(TARGET_SECONDS / max(first, 1e-6)))
    wall, cpu = run(messages, repeat)
    count = repeat * len(messages)
    rate, cpu_rate = count / wall, count / cpu
    print(f"classified {len(messages)} messages x {repeat} = {count:,} in {wall:.2f} s (one process)")
    print(f"  {rate:,.0f} messages/s  [bar >= {BAR:,}/s: {'met' if rate >= BAR else 'NOT met'}]"
          f"  [aim {AIM:,}/s: {'met' if rate >= AIM else 'not yet'}]  (Sisimai: ~1,400/s)")
    print(f"  {cpu_rate:,.0f} messages per CPU second (less sensitive to other load on the machine)")
    breakdown(messages)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, messages, max(1, repeat // 5))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
