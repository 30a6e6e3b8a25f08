from config import SettingsError
from suppression import create_app

try:
    app = create_app()
except SettingsError as exc:  # a bad setting: say which one, not a stack trace
    raise SystemExit(f"suppression: {exc}") from None
