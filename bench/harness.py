"""Set-up shared by the benchmarks in bench/: a throwaway PostgreSQL database, the app's CLI,
gunicorn; and the helpers their reports share (percentiles, bars, the load average).

The scripts run as `.venv/bin/python bench/NAME.py`, so this directory is on sys.path and they
`import harness`; everything here runs in the repository root with the service's environment.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET_KEY = "bench-" + "k" * 40  # a throwaway deployment's key
BIN = Path(sys.executable).parent  # .venv/bin when run as `.venv/bin/python bench/NAME.py`


# --- the throwaway database -------------------------------------------------------------------

def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


def recreate_database(admin_url: str, name: str) -> None:
    """Drop database `name` if it is there (a run that was killed leaves it), then create it empty."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, closing whatever connections are still open to it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def throwaway_database(admin_url: str, name: str, keep: bool = False) -> Iterator[str]:
    """Database `name` created empty; yields its URL, and drops it afterwards unless `keep`."""
    db_url = database_url(admin_url, name)
    recreate_database(admin_url, name)
    try:
        yield db_url
    finally:
        if keep:  # to look into it after the run; the next run recreates it anyway
            print(f"kept database {name}: {db_url}")
        else:
            drop_database(admin_url, name)


def database_arguments(parser, name: str) -> None:
    """The options of a benchmark's throwaway database `name`: --keep and --admin-url."""
    parser.add_argument("--keep", action="store_true", help=f"keep the {name} database afterwards")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL superuser connection (the database is created and dropped)")


# --- the app's CLI ----------------------------------------------------------------------------

def service_env(db_url: str, **settings: str) -> dict[str, str]:
    """This process's environment plus the service's settings, access log and chatter off."""
    return dict(os.environ, **({"DATABASE_URL": db_url, "ACCESS_LOG": "/dev/null", "LOG_LEVEL": "WARNING",
                                "SECRET_KEY": BENCH_SECRET_KEY} | settings))


def flask_cli(env: dict[str, str], *args: str) -> str:
    """Run `flask --app wsgi ARGS` in the repository; its last stdout line."""
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    lines = result.stdout.strip().splitlines()
    return lines[-1].strip() if lines else ""


def create_account_and_key(env: dict[str, str], *account_args: str) -> tuple[int, str]:
    """`flask accounts create ACCOUNT_ARGS` and a sender key for it: (account id, key)."""
    account_id = int(flask_cli(env, "accounts", "create", *account_args))
    key = flask_cli(env, "keys", "create", "--role", "sender", "--account", str(account_id))
    return account_id, key


# --- gunicorn ---------------------------------------------------------------------------------

class Server(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    pid: int  # gunicorn's master; its workers are its children
    log_path: str  # gunicorn's stdout and stderr


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], *extra_args: str) -> Iterator[Server]:
    """gunicorn with config/gunicorn.py and EXTRA_ARGS on a free port; yields it once it answers
    /healthz and always stops it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The log file goes when the block ends; gunicorn's output is read from it only while it runs.
    with tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log") as log:
        # -b rather than BIND: a command-line setting overrides config/gunicorn.py whatever env holds.
        proc = subprocess.Popen([str(BIN / "gunicorn"), "--config", "config/gunicorn.py", *extra_args,
                                 "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(base, proc, log.name)
            yield Server(base, proc.pid, log.name)
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), SIGKILL if it is not gone within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_healthy(base: str, proc: subprocess.Popen, log_path: str, timeout: float = 30) -> None:
    """Return once GET /healthz answers 200; exit with the log's tail if gunicorn dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}:\n{Path(log_path).read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or a worker is still loading the app
            pass
        time.sleep(0.1)
    sys.exit(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{Path(log_path).read_text()[-4000:]}")


# --- the report -------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks."""
    ordered = sorted(values)
    if not ordered:  # nothing was timed (no answer in the window): no figure rather than a crash
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bar(met: bool, text: str) -> str:
    """A target and whether the run reached it: '[bar TEXT: met]' or '[bar TEXT: NOT met]'."""
    return f"[bar {text}: {'met' if met else 'NOT met'}]"


def load_note() -> str:
    """The 1-minute load average before the run: other work on the machine skews every figure."""
    load = os.getloadavg()[0]
    busy = "  (the machine is busy: figures will be pessimistic)" if load > 1.0 else ""
    return f"load average before the run: {load:.2f} on {os.cpu_count()} cores{busy}"


# --- CPU accounting from /proc ----------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process() -> dict[int, tuple[str, int, int]]:
    """pid -> (command line, parent pid, user + system CPU ticks so far) for every process."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, ...; utime and stime are 12th, 13th
        found[int(entry.name)] = (command, int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def group_of(pid: int, command: str, parent: int, mine: dict[str, int], database: str) -> str:
    """Which part of the benchmark a process is (`mine`: group -> pid, that pid and its
    children; `database`: the benchmark's); other work on the machine is 'other'."""
    for group, own_pid in mine.items():
        if own_pid in (pid, parent):
            return group
    if command.startswith("postgres:"):
        if database in command:
            return "postgres"  # the backends serving the benchmark's connections
        if "(" not in command and "[local]" not in command:
            return "pg background"  # WAL writer, checkpointer ...: shared with other databases
    if command.startswith("redis-server"):
        return "redis"
    return "other"


def cpu_seconds_by_group(before: dict, after: dict, mine: dict[str, int], database: str) -> dict[str, float]:
    """CPU seconds each group spent between two `cpu_by_process` readings."""
    groups: Counter[str] = Counter()
    for pid, (command, parent, ticks) in after.items():
        earlier = before.get(pid)
        spent = ticks - earlier[2] if earlier and earlier[0] == command else ticks
        groups[group_of(pid, command, parent, mine, database)] += spent
    return {group: ticks / CLOCK_TICKS for group, ticks in groups.items()}
