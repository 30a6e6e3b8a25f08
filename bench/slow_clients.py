"""Slow clients against gunicorn alone, and against nginx (deploy/nginx/suppression.conf) in front
of it: how long /healthz probes take while they dribble (issue 11, item 8).

    .venv/bin/python bench/slow_clients.py [--clients 8 32] [--probes 20] [--timeout 5]

gunicorn runs with config/gunicorn.py, 2 workers x 4 threads; nginx is Debian's (make install-nginx).
tests/test_deploy_nginx.py asserts the nginx half (32 clients, every probe within 100 ms).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import harness

sys.path.insert(0, str(harness.ROOT))

from tests.nginx_site import gunicorn, nginx, wait_healthy  # noqa: E402
from tests.slow_clients import probe, slow_clients  # noqa: E402


def measure(base: str, clients: int, probes: int, timeout: float) -> str:
    """One line: how the probes of `base` fared while `clients` slow clients dribbled."""
    with slow_clients(base, clients):
        results = [probe(base, timeout=timeout) for _ in range(probes)]
    answered = [seconds * 1000 for status, seconds in results if status == 200]
    failed = len(results) - len(answered)
    return (f"{clients:3d} slow clients: {len(answered)}/{probes} answered 200, {failed} timed out or failed; "
            f"p50 {harness.percentile(answered, 50):.1f} ms, max {max(answered, default=float('nan')):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=5, help="seconds a probe waits (the issue's: 5)")
    args = parser.parse_args()
    print(harness.load_note())
    with tempfile.TemporaryDirectory(prefix="bench-slow-clients-") as temp:
        directory = Path(temp)
        env = harness.service_env(f"sqlite:///{directory}/unused.db", TRUSTED_PROXIES="1")
        port = harness.free_port()
        log = directory / "gunicorn.log"
        with gunicorn(env, f"127.0.0.1:{port}", log) as server:
            direct = f"http://127.0.0.1:{port}"
            wait_healthy(direct, server, log)
            with nginx(directory / "nginx", f"127.0.0.1:{port}") as proxied:
                wait_healthy(proxied, server, log)
                for name, base in (("gunicorn alone", direct), ("nginx in front", proxied)):
                    for clients in args.clients:
                        print(f"{name:15s}{measure(base, clients, args.probes, args.timeout)}", flush=True)


if __name__ == "__main__":
    main()
