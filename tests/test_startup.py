"""A fast start: what importing the app loads, checked in fresh interpreters (bench/startup.py
measures the times). Alembic, the classifiers and the DNS/DKIM libraries load only where used;
the worker's app (worker_app.py) loads no web layer; and the commands still work."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.test_inbound import dsn

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
DEFERRED = ("alembic", "flask_migrate", "workers.classify", "workers.dsn", "workers.arf", "dkim", "dns.resolver",
            "workers.jobs", "aiosmtpd")
# What only the web app uses: the OpenAPI machinery and its models, the pages, the rate limiter, the metrics.
WEB = ("flask_openapi3", "pydantic", "suppression.api", "suppression.pages", "suppression.admin", "suppression.web",
       "flask_limiter", "prometheus_client")


def run(args: list[str], tmp_path: Path, stdin: str | None = None, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_APP")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path}/startup.db", "SECRET_KEY": "startup-" + "k" * 40} | settings
    return subprocess.run(args, check=False, env=env, cwd=ROOT, capture_output=True, text=True, input=stdin,
                          timeout=120)


def loaded(module: str, names: tuple[str, ...], tmp_path: Path) -> list[str]:
    """Which of `names` importing `module` loads, in a fresh interpreter."""
    probe = f"import sys, {module}; print(' '.join(m for m in {names!r} if m in sys.modules))"
    result = run([sys.executable, "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_the_app_loads_no_migration_tool_classifier_dns_jobs_or_lmtp_server(tmp_path):
    assert loaded("wsgi", DEFERRED, tmp_path) == []
    assert loaded("wsgi", WEB, tmp_path) == list(WEB)  # the probe sees what the web app needs


def test_the_worker_app_loads_no_web_layer(tmp_path):
    assert loaded("worker_app", DEFERRED + WEB, tmp_path) == []


def test_the_worker_app_has_the_workers_commands_and_its_worker_processes_a_queued_bounce(tmp_path, redis_url):
    flask = [str(FLASK), "--app", "worker_app"]
    listed = run([*flask, "--help"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    for command in ("worker", "lmtp", "inbound", "classify", "db"):
        assert f"  {command} " in listed.stdout
    assert run([*flask, "db", "upgrade"], tmp_path).returncode == 0
    stored = run([*flask, "inbound", "ingest"], tmp_path, dsn("gone@example.com").decode(), REDIS_URL=redis_url)
    assert stored.returncode == 0, stored.stderr
    worked = run([*flask, "worker", "--burst"], tmp_path, REDIS_URL=redis_url)
    assert worked.returncode == 0, worked.stderr
    with sqlite3.connect(tmp_path / "startup.db") as db:
        assert db.execute("SELECT status FROM events").fetchall() == [("processed",)]
        assert db.execute("SELECT address, reason FROM suppressions").fetchall() == [("gone@example.com", "hard_bounce")]


def test_the_db_commands_load_flask_migrate_when_they_run(tmp_path):
    listed = run([str(FLASK), "--app", "wsgi", "--help"], tmp_path)
    assert "Perform database migrations." in listed.stdout
    upgraded = run([str(FLASK), "--app", "wsgi", "db", "upgrade"], tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    current = run([str(FLASK), "--app", "wsgi", "db", "-d", "migrations", "current"], tmp_path)
    assert current.returncode == 0, current.stderr
    assert "(head)" in current.stdout


def test_the_classify_command_loads_the_classifiers(tmp_path):
    message = tmp_path / "bounce.eml"
    message.write_bytes(b"From: MAILER-DAEMON@mta.example\r\nTo: b@bounce.example\r\nSubject: hi\r\n\r\nhello\r\n")
    result = run([str(FLASK), "--app", "wsgi", "classify", str(message)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"kind": ' in result.stdout


def test_the_openapi_document_is_described_when_first_asked_for(tmp_path):
    probe = ("import wsgi; before = len(wsgi.app.paths); "
             "document = wsgi.app.test_client().get('/openapi.json').get_json(); "
             "print(before, len(wsgi.app.paths), len(document['paths']))")
    result = run([sys.executable, "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    before, described, served = map(int, result.stdout.split())
    assert before == 0
    assert described == served > 30
