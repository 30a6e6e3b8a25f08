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


# Errors gunicorn answers itself, before the app sees the request (a request line over
# limit_request_line: 414; a malformed header: 400; too many headers: 431), are the API's JSON
# error object too, not gunicorn's HTML page (README, "API": every error is the same envelope).
def _json_error(sock, status_int, reason, mesg):
    import json

    from gunicorn import util
    field = {414: "url", 431: "headers"}.get(status_int, "headers" if "header" in str(mesg).lower() else "request")
    body = json.dumps({"error": {"code": _ERROR_CODES.get(status_int, "bad_request"),
                                 "message": mesg or reason,
                                 "details": [{"field": field, "problem": mesg or reason}] if status_int < 500
                                 else None}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)
    _linger(sock)


def _linger(sock):
    # Close gently: a client still sending its body (the request was refused before it was read)
    # would otherwise get a reset, and lose the answer with it. Bounded: 1 s and 1 MiB at most.
    import socket
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1)
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass


_ERROR_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
                431: "headers_too_large", 500: "internal_error", 501: "not_implemented"}


def _answer_errors_as_json():
    from gunicorn import util
    util.write_error = _json_error  # the workers fork from this process, and call util.write_error


_answer_errors_as_json()
