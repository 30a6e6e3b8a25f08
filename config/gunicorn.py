"""gunicorn settings; each can be overridden from the environment."""
import os

bind = os.environ.get("BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads overlap database waits, and unlike the sync worker they keep connections alive.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Imports and filters of a million lines take longer than gunicorn's 30 s default.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
accesslog = os.environ.get("ACCESS_LOG", "-")
# The access log must not carry addresses: this logger redacts them from the path, and writes
# its own fixed format (client "METHOD path" status bytes ms).
logger_class = "suppression.logs.AccessLogger"


def post_worker_init(worker):
    # The app's long-lived objects need no garbage collection passes; freezing them keeps
    # collector pauses out of request latency.
    import gc
    gc.freeze()
