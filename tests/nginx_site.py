"""The nginx site of deploy/nginx/ in front of gunicorn, both on loopback, for the deploy test and
bench/slow_clients.py.

nginx is Debian's package (`make install-nginx`), run as a child in the foreground with its own
prefix, pid file, logs and temporary directories; it serves the repository's site file with only
its listen port, its upstream address and its access log's directory changed.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.daemons import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx" / "suppression.conf"
GUNICORN = Path(sys.executable).parent / "gunicorn"
# What the test may change in the site, and what to: each must match exactly once.
LISTEN = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)
UPSTREAM = re.compile(r"^(\s*)server unix:/run/suppression/gunicorn\.sock;$", re.MULTILINE)
LOG_DIR = "/var/log/nginx/"


def nginx_binary() -> str:
    """Debian's nginx; fails (never skips) when it is not installed."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        pytest.fail("nginx not found: run make install-nginx", pytrace=False)
    return found


def site_text(listen: str, upstream: str, log_dir: Path) -> str:
    """deploy/nginx/suppression.conf, listening on `listen` and passing to `upstream`."""
    text = SITE.read_text()
    for pattern, value in ((LISTEN, f"listen {listen};"), (UPSTREAM, f"server {upstream};")):
        text, count = pattern.subn(lambda m, value=value: m.group(1) + value, text)
        assert count == 1, f"{SITE.name} must have exactly one line matching {pattern.pattern}"
    return text.replace(LOG_DIR, f"{log_dir}/")


def main_config(directory: Path, site: Path) -> str:
    """A top-level nginx.conf that keeps everything under `directory` and includes `site`."""
    temp = "\n".join(f"    {kind}_temp_path {directory}/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # `user`: the master's own, so the workers can write the temporary directories (ignored unless root).
    return f"""daemon off;
master_process on;
worker_processes 1;
user {pwd.getpwuid(os.getuid()).pw_name};
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 1024; }}
http {{
{temp}
    access_log {directory}/access.log;
    include {site};
}}
"""


@contextmanager
def nginx(directory: Path, upstream: str) -> Iterator[str]:
    """The deploy site served by nginx from `directory` in front of `upstream`; yields its base URL."""
    binary = nginx_binary()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    site = directory / "suppression.conf"
    site.write_text(site_text(f"127.0.0.1:{port}", upstream, directory))
    conf = directory / "nginx.conf"
    conf.write_text(main_config(directory, site))
    command = [binary, "-p", f"{directory}/", "-e", f"{directory}/error.log", "-c", str(conf)]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, f"nginx -t refused the deploy site:\n{check.stderr}"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(port), proc, directory / "error.log", f"nginx on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)  # SIGTERM: nginx's fast shutdown


@contextmanager
def gunicorn(env: dict[str, str], bind: str, log: Path) -> Iterator[subprocess.Popen]:
    """gunicorn with config/gunicorn.py bound to `bind` (2 workers x 4 threads, as in production)."""
    env = env | {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4", "ACCESS_LOG": str(log)}
    with open(log, "ab") as output:
        # -b rather than BIND: a command-line setting overrides config/gunicorn.py whatever env holds.
        proc = subprocess.Popen([str(GUNICORN), "--config", "config/gunicorn.py", "-b", bind, "wsgi:app"],
                                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc)  # SIGTERM: gunicorn's graceful stop


def wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    """Return once GET `base`/healthz answers 200 (nginx answers 502 until gunicorn is up)."""
    wait_until(lambda: _healthy(base), proc, log, f"{base}/healthz", timeout=30)


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, log: Path, what: str, timeout: float = 10) -> None:
    """Return once `ready()`; fail with the tail of `log` if `proc` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text()[-4000:] if log.exists() else ""
            pytest.fail(f"{what} not ready (exit status {proc.returncode}) after {timeout:.0f} s:\n{tail}")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:  # refused, or an HTTPError (a 502 is one)
        return False


