"""A private deployment for one fault scenario, on loopback: its own PostgreSQL and Redis on spare
ports, gunicorn (config/gunicorn.py) and RQ workers, each a real process that a scenario can
stop, kill or restart, as an operator (or a crash) would."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import harness  # noqa: E402  (bench/harness.py: gunicorn, free ports, the CLI)

PG_BIN = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]) if Path("/usr/lib/postgresql").exists() else None
# PostgreSQL refuses to run as root; the Debian package's own user runs it then.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with suppress(OSError), open(f"/proc/{entry.name}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def wait_for(condition, timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll `condition` until it is true; the seconds it took. AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)
    return time.monotonic() - started


def run(command: list[str], timeout: float = 60, **kwargs) -> str:
    """Run `command` to its end (bounded); its stdout. AssertionError with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result.stdout


class Postgres:
    """A PostgreSQL cluster in `directory` (data and socket), trust auth, on 127.0.0.1:`port`."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.data = directory / "data"
        self.port = harness.free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        directory.mkdir(mode=0o755)
        if AS_POSTGRES:
            shutil.chown(directory, "postgres", "postgres")
            for parent in directory.parents:  # the postgres user must reach its directory
                if parent == Path(parent.anchor) or parent.stat().st_mode & 0o005 == 0o005:
                    break
                parent.chmod(parent.stat().st_mode | 0o005)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> str:
        return run([*AS_POSTGRES, str(PG_BIN / tool), *args], timeout=timeout)

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w",
                 "-t", "30", "start")

    def restart_fast(self) -> None:
        """`pg_ctl restart -m fast`: every connection is closed, the server back at once."""
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-m", "fast", "-w", "-t", "30",
                 "restart")

    def crash(self) -> None:
        """kill -9 of the postmaster; returns once every backend it had is gone too."""
        pid = self.postmaster_pid()
        backends = children(pid)
        os.kill(pid, signal.SIGKILL)
        # Backends notice their postmaster's death and exit; none may hold the shared memory
        # when the next postmaster starts.
        with suppress(AssertionError):
            wait_for(lambda: not any(alive(b) for b in backends), 10, "backends exit")
        for backend in backends:
            with suppress(ProcessLookupError):
                os.kill(backend, signal.SIGKILL)
        wait_for(lambda: not alive(pid) and not any(alive(b) for b in backends), 10, "postgres gone")
        # The dead postmaster stays a zombie until init reaps it, and PostgreSQL takes a lock file
        # whose process exists as a live server's; a service manager reaps at once.
        with suppress(AssertionError):
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), 5, "the postmaster reaped")
        if Path(f"/proc/{pid}").exists():
            (self.data / "postmaster.pid").unlink()

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop it, whatever state it is in."""
        with suppress(AssertionError, subprocess.TimeoutExpired):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "20", "stop", timeout=30)


class Redis:
    """redis-server on 127.0.0.1:`port`, nothing saved, that can be stopped and started again."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = harness.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers PING."""
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answers, 10, "redis answers")

    def answers(self) -> bool:
        """Whether this server answers on its port (not another that took the port meanwhile)."""
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"redis-server on port {self.port} exited: {self.directory / 'redis.log'}")
        result = subprocess.run(["redis-cli", "-p", str(self.port), "info", "server"], capture_output=True,
                                text=True, timeout=5, check=False)
        return f"process_id:{self.proc.pid}\n" in result.stdout

    def stop(self) -> None:
        """Stop it (SIGTERM; what a restart of the Redis service does)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Service:
    """The service's processes, what they need to be reached, and their logs."""
    directory: Path
    env: dict[str, str] = field(repr=False)
    base: str  # gunicorn, http://127.0.0.1:PORT
    gunicorn_pid: int
    gunicorn_log: str
    account_id: int
    sender_key: str
    ingest_key: str
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen:
        """One more `flask --app worker_app worker`, as systemd starts one."""
        log = open(self.directory / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115 (the process holds it)
        proc = subprocess.Popen([str(harness.BIN / "flask"), "--app", "worker_app", "worker"], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.workers.append(proc)
        return proc

    def cli(self, *args: str, timeout: float = 60) -> str:
        """`flask --app wsgi ARGS` against this deployment; its stdout."""
        return run([str(harness.BIN / "flask"), "--app", "wsgi", *args], timeout=timeout, cwd=ROOT, env=self.env)

    def logs(self) -> str:
        """What every log holds beyond INFO (warnings, errors, tracebacks), its last lines, for a
        failure's report."""
        paths = [Path(self.gunicorn_log), *sorted(self.directory.glob("worker-*.log"))]
        tails = [f"--- {p.name}\n" + "\n".join([line for line in p.read_text(errors="replace").splitlines()
                                                  if " INFO " not in line][-30:])
                 for p in paths if p.exists()]
        return "\n".join(tails)

    def stop_workers(self) -> None:
        """SIGTERM each worker's process group (its scheduler child too), SIGKILL what is left."""
        for proc in self.workers:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def deployment(directory: Path, workers: int = 2) -> Iterator[tuple[Service, Postgres, Redis]]:
    """PostgreSQL, Redis, the schema, an account with sender and ingest keys, gunicorn (2 x 4) and
    `workers` RQ workers; everything is stopped when the block ends."""
    postgres, redis = Postgres(directory / "pg"), Redis(directory)
    postgres.start()
    try:
        redis.start()
        env = harness.service_env(postgres.url, REDIS_URL=redis.url, UNSUBSCRIBE_KEYS=Fernet.generate_key().decode(),
                                  WEB_CONCURRENCY="2", GUNICORN_THREADS="4", LOG_LEVEL="INFO",
                                  PUBLIC_BASE_URL="http://127.0.0.1")
        run([str(harness.BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env)
        account_id, sender_key = harness.create_account_and_key(env, "Fault Motors", "--domain", "fault-motors.example")
        ingest_key = harness.flask_cli(env, "keys", "create", "--role", "ingest")
        with harness.gunicorn(env) as server:
            service = Service(directory, env, server.base, server.pid, server.log_path, account_id, sender_key,
                              ingest_key)
            try:
                for _ in range(workers):
                    service.start_worker()
                yield service, postgres, redis
            finally:
                service.stop_workers()
    finally:
        redis.stop()
        postgres.stop()
