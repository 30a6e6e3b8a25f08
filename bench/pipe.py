"""Benchmark of the pipe client's cost to the MTA host: CPU per message of bin/suppression-pipe
(the standard library only) against the per-message `flask --app wsgi inbound ingest` it replaces.

The client posts to a loopback HTTP server that answers 202 at once, so only the client's own
work is measured: start the interpreter, read the message, one POST, exit. The flask command
runs against a throwaway SQLite database (it loads the whole service to store one message).

    .venv/bin/python bench/pipe.py            # 100 client runs, 5 flask runs
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness

PIPE = harness.ROOT / "bin" / "suppression-pipe"
BAR_MS = 50.0
MESSAGE = (b"From: MAILER-DAEMON@mta.example\r\nTo: bounces@bounce.example\r\nSubject: Undelivered\r\n\r\n"
           + b"x" * 3000 + b"\r\n")


class Accept(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_run(command: list[str], runs: int, env: dict[str, str]) -> float:
    before = children_cpu()
    for _ in range(runs):
        result = subprocess.run(command, input=MESSAGE, env=env, capture_output=True, cwd=harness.ROOT)
        if result.returncode != 0:
            sys.exit(f"{command[0]} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return (children_cpu() - before) / runs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--flask-runs", type=int, default=5)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, SUPPRESSION_KEY="bench")
    client = per_run([str(PIPE), f"http://127.0.0.1:{server.server_port}"], args.runs, env)  # by its #! line
    server.shutdown()
    with tempfile.TemporaryDirectory() as folder:
        flask_env = dict(os.environ, DATABASE_URL=f"sqlite:///{folder}/pipe.db", LOG_LEVEL="WARNING")
        subprocess.run([str(harness.BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env=flask_env, cwd=harness.ROOT,
                       capture_output=True, check=True)
        flask = per_run([str(harness.BIN / "flask"), "--app", "wsgi", "inbound", "ingest"], args.flask_runs, flask_env)
    print(f"bin/suppression-pipe: {client:.1f} ms of CPU a message ({args.runs} runs)")
    print(f"flask --app wsgi inbound ingest: {flask:.0f} ms of CPU a message ({args.flask_runs} runs)")
    print(harness.bar(client <= BAR_MS, f"pipe client <= {BAR_MS:.0f} ms of CPU a message: {client:.1f} ms"))


if __name__ == "__main__":
    main()
