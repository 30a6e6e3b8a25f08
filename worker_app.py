"""The app of the worker and the LMTP listener (`flask --app worker_app worker|lmtp|inbound|classify`):
the settings and extensions of wsgi.py's app without its web layer, which they never use."""
from config import SettingsError
from suppression import create_worker_app

try:
    app = create_worker_app()
except SettingsError as exc:  # a bad setting: say which one, not a stack trace
    raise SystemExit(f"suppression: {exc}") from None
