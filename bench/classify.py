"""Benchmark of the bounce / complaint classifier, workers.classify.classify.

Classifies every message of the test corpus (tests/corpus/*/*.eml: the development corpus and
every other source) N times in this one process and prints messages per second, against the bar
of 3,000/s and the aim of 5,000/s. Where the reference classifier is installed (Sisimai, Debian's
libsisimai-perl), it reads the same files in the same run and its rate is printed beside ours.
Then a breakdown by the format the classifier recognised, the slowest messages, and with
--profile the functions that take the time.

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
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.classify import classify  # after the path set-up above

CORPUS = ROOT / "tests/corpus"  # every source folder below it
BAR, AIM = 3_000, 5_000
# Sisimai 4 reads each file named on stdin `repeat` times and prints the seconds it took.
REFERENCE = r"""
use strict; use warnings; use Sisimai; use Time::HiRes qw(time);
my $repeat = shift; my @files = <STDIN>; chomp @files;
my $start = time;
for (1 .. $repeat) { for my $file (@files) { my $found = Sisimai->make($file); } }
printf "%.6f\n", time - $start;
"""
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
    paths = sorted(corpus.glob("*.eml")) or sorted(corpus.glob("*/*.eml"))
    messages = [(str(path.relative_to(corpus)), path.read_bytes()) for path in paths]
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


def reference(corpus: Path, names: list[str], repeat: int) -> float | None:
    """Messages/s of Sisimai on the same files, or None when it is not installed."""
    perl = shutil.which("perl")
    if perl is None or subprocess.run([perl, "-MSisimai", "-e1"], check=False, capture_output=True).returncode != 0:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".pl") as script:
        script.write(REFERENCE)
        script.flush()
        done = subprocess.run([perl, script.name, str(repeat)], input="\n".join(str(corpus / n) for n in names),
                              capture_output=True, text=True, check=True)
    return repeat * len(names) / float(done.stdout.strip())


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
          f"  [aim {AIM:,}/s: {'met' if rate >= AIM else 'not yet'}]")
    print(f"  {cpu_rate:,.0f} messages per CPU second (less sensitive to other load on the machine)")
    theirs = reference(args.corpus, [name for name, _ in messages], max(1, repeat // 10))
    print(f"  reference (Sisimai) on the same files: {theirs:,.0f} messages/s" if theirs else
          "  reference (Sisimai): not installed (Debian: libsisimai-perl)")
    breakdown(messages)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, messages, max(1, repeat // 5))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
