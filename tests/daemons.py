"""What the tests that run a real daemon on loopback (nginx, Dovecot, Postfix) share: a free
port, waiting for the daemon's greeting, and stopping its process."""
from __future__ import annotations

import socket
import subprocess
import time
from contextlib import suppress


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (a daemon binds it a moment later: its
    starter retries a lost race)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_greeting(port: int, greeting: bytes, timeout: float, process: subprocess.Popen | None = None) -> bool:
    """True once a connection to `port` is greeted with `greeting` ("* OK", "220"); False when time
    runs out or `process` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(64).startswith(greeting):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    proc.terminate()
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
        return
    proc.kill()
    proc.wait()
