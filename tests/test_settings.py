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


@pytest.mark.parametrize("bind,url", [
    (None, "http://127.0.0.1:5000"), ("127.0.0.1:5077", "http://127.0.0.1:5077"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"), ("[::1]:5001", "http://[::1]:5001"), ("[::]:5002", "http://[::1]:5002"),
    ("localhost", "http://localhost:8000"), ("api.example.net:80", "http://api.example.net:80")])
def test_links_follow_bind_when_public_base_url_is_unset(bind, url):
    assert config.load({} if bind is None else {"BIND": bind})["PUBLIC_BASE_URL"] == url
    assert config.load({"BIND": "127.0.0.1:5077", "PUBLIC_BASE_URL": "https://u.example"})["PUBLIC_BASE_URL"] == \
        "https://u.example"


def test_the_default_bind_is_gunicorns():
    gunicorn = (ROOT / "config" / "gunicorn.py").read_text()
    assert f'os.environ.get("BIND", "{config.DEFAULT_BIND}")' in gunicorn


@pytest.mark.parametrize("bind", ["unix:/run/suppression.sock", "fd://3", "127.0.0.1:http"])
def test_a_bind_with_no_url_needs_public_base_url(bind):
    with pytest.raises(config.SettingsError, match="PUBLIC_BASE_URL is required when BIND"):
        config.load({"BIND": bind})
    assert config.load({"BIND": bind, "PUBLIC_BASE_URL": "https://u.example"})["PUBLIC_BASE_URL"] == "https://u.example"


@pytest.mark.parametrize("domain", ["127.0.0.1", "[127.0.0.1]", "localhost", "::1", "unsub", "bad domain.example"])
def test_the_mailto_domain_must_be_a_mail_domain(domain):
    with pytest.raises(config.SettingsError, match="UNSUBSCRIBE_MAILTO_DOMAIN must be a mail domain"):
        config.load({"UNSUBSCRIBE_MAILTO_DOMAIN": domain})
    assert config.load({"UNSUBSCRIBE_MAILTO_DOMAIN": "unsub.example.net"})["UNSUBSCRIBE_MAILTO_DOMAIN"] == \
        "unsub.example.net"
