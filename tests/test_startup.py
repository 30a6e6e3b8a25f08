"""A fast start: what importing the app loads, checked in fresh interpreters (bench/startup.py
measures the times). Alembic, the classifiers and the DNS/DKIM libraries load only where used,
and the commands that use them still work."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
DEFERRED = ("alembic", "flask_migrate", "workers.classify", "workers.dsn", "workers.arf", "dkim", "dns.resolver")


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_APP")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path}/startup.db", "SECRET_KEY": "startup-" + "k" * 40}
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_importing_the_app_loads_no_migration_tool_classifier_or_dns(tmp_path):
    probe = f"import sys, wsgi; print(' '.join(m for m in {DEFERRED!r} if m in sys.modules))"
    result = run([sys.executable, "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


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
