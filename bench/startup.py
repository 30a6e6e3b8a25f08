"""Benchmark of start-up: how long each entry point takes before it does any work, each run in
a fresh interpreter (the cost an MTA pipe, a cron job or a restarted worker pays every time).

- `import wsgi`: what gunicorn and every `flask --app wsgi ...` command load;
- `create_app()`: the app alone, without the wsgi module's error handling;
- `import worker_app`: the worker's and the LMTP listener's app, without the web layer;
- the worker: `flask --app worker_app worker --burst` on empty queues (start, look at the queues,
  stop), as `make worker` and deploy/ run it; and the same through the whole app (`--app wsgi`).

Runs against a throwaway SQLite file and the Redis at --redis (its queues must be empty; nothing
is written but the worker's registration). Prints the median wall and CPU time of each. The
modules' bytecode is cached as in a deployment (PYTHONDONTWRITEBYTECODE is dropped, and a first
run of each, not counted, writes it): compiling this project's sources costs another 0.3 s.

    .venv/bin/python bench/startup.py                 # 7 runs of each
    .venv/bin/python bench/startup.py --runs 3 --redis redis://127.0.0.1:6379/11
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import harness

BAR_S = 1.0
ENTRIES = {
    "import wsgi": [sys.executable, "-c", "import wsgi"],
    "create_app()": [sys.executable, "-c", "from suppression import create_app; create_app()"],
    "import worker_app": [sys.executable, "-c", "import worker_app"],
    "worker --burst": [str(harness.BIN / "flask"), "--app", "worker_app", "worker", "--burst"],
    "wsgi worker --burst": [str(harness.BIN / "flask"), "--app", "wsgi", "worker", "--burst"],
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run in a fresh process."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, cwd=harness.ROOT)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[-3:])} failed ({result.returncode}): {result.stderr.decode()[-800:]}")
    return wall, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= dict(DATABASE_URL=f"sqlite:///{tmp}/startup.db", REDIS_URL=args.redis,
                    SECRET_KEY=harness.BENCH_SECRET_KEY, LOG_LEVEL="WARNING")
        print(f"{args.runs} runs of each, fresh processes; load average {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} CPUs")
        for name, command in ENTRIES.items():
            one_run(command, env)  # writes the bytecode; not counted
            runs = [one_run(command, env) for _ in range(args.runs)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            mark = "ok" if wall <= BAR_S else f"over the {BAR_S:.0f} s bar"
            print(f"{name:<22} median wall {wall:6.2f} s   CPU {cpu:6.2f} s   ({mark})")


if __name__ == "__main__":
    main()
