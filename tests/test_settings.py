"""Honest configuration: every setting is read by the code and shown in the README, header names
are defined once, and the secret key is required where many processes must share it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import config
from config import policy
from suppression import create_app

ROOT = Path(__file__).resolve().parent.parent
CODE = [p for top in ("suppression", "workers", "seedlist", "config") for p in (ROOT / top).rglob("*.py")]
GUNICORN = set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', (ROOT / "config" / "gunicorn.py").read_text()))


def code_mentions(name: str) -> int:
    return sum(p.read_text().count(f'"{name}"') for p in CODE)


@pytest.mark.parametrize("name", sorted(config.DEFAULTS))
def test_every_setting_is_read_by_the_code(name):
    assert code_mentions(name) >= 2, f"{name} is defined in config but nothing reads it"


def test_the_readme_shows_exactly_the_settings_there_are():
    readme = (ROOT / "README.md").read_text()
    known = set(config.DEFAULTS) | set(policy.setting_names()) | GUNICORN
    table_rows = [line for line in readme.splitlines() if line.startswith("| `") and "_" in line.split("|")[1]]
    shown = {name for row in table_rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    assert known - set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme)) == set(), "settings the README does not show"
    assert shown - known == set(), "settings the README shows that the code does not have"


def test_header_names_are_defined_once():
    spelled = [str(p.relative_to(ROOT)) for p in CODE if re.search(r"X-Account-ID|X-List-ID", p.read_text(), re.I)]
    assert spelled == ["config/__init__.py"]


def test_the_secret_key_is_required_on_postgresql(monkeypatch):
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(config.SettingsError, match="SECRET_KEY is required"):
        create_app({"DATABASE_URL": "postgresql://suppression@db.example/suppression"})


def test_on_sqlite_a_secret_key_is_made_once_and_kept(tmp_path):
    settings = config.load({})
    first = config.secret_key(settings, "sqlite:///x.db", str(tmp_path))
    assert len(first) >= config.MIN_SECRET_KEY and config.secret_key(settings, "sqlite:///x.db", str(tmp_path)) == first
    assert oct((tmp_path / "secret.key").stat().st_mode)[-3:] == "600"


def test_a_bad_setting_stops_the_service_with_a_message_not_a_traceback():
    env = dict(os.environ, COMPLAINT_RATE_WARNING="5", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("suppression: COMPLAINT_RATE_WARNING must be a fraction between 0 and 1 "
                                     "(0.001, or 0.1%), not '5'")
