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


# Metrics of several workers (README, "Metrics"): with PROMETHEUS_MULTIPROC_DIR set, each worker
# writes its counts there and a scrape of any worker adds them all up.
def on_starting(server):
    # Counts a previous run left would be added to this run's, and the directory would only grow.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        import glob
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)


def child_exit(server, worker):
    # A worker that is gone keeps its counters' totals, but its live gauges must not be read.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
