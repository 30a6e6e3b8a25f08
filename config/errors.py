"""The one error of configuration: a setting whose value cannot be used. Its message names the
setting, and it stops the app (or the worker) at start-up, never at the first request."""


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names it."""
