"""Clients that send a request a byte at a time, and probes timed while they do (issue 11, item 8).

Half send their headers slowly (GET /healthz); half send whole headers, then the body they
declared slowly (POST /v1/inbound/ses, a public endpoint that reads its body before anything
else). gunicorn's threaded worker waits for headers without a thread, but reads a body in one
of its 8 threads, for as long as the body takes: 8 slow bodies leave none for anyone else.
"""
from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

BYTE_EVERY = 0.5  # seconds between two bytes of a slow client
SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 400
SLOW_BODY = (b"POST /v1/inbound/ses HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             b"Content-Length: 4000\r\n\r\n")


def _dribble(address: tuple[str, int], opening: bytes, stop: threading.Event) -> None:
    """Send `opening` whole if it ends the headers, else byte by byte; then a byte every BYTE_EVERY."""
    try:
        with socket.create_connection(address, timeout=5) as sock:
            if opening.endswith(b"\r\n\r\n"):
                sock.sendall(opening)
                opening = b"{" + b" " * 4000
            for byte in opening:
                sock.sendall(bytes([byte]))
                if stop.wait(BYTE_EVERY):
                    return
    except OSError:  # the server gave up on this client (a timeout): that is its right
        return


@contextmanager
def slow_clients(base: str, count: int) -> Iterator[None]:
    """`count` slow clients of `base`, each connected and sending by the time the block starts."""
    url = urlsplit(base)
    address = (url.hostname, url.port)
    stop = threading.Event()
    threads = [threading.Thread(target=_dribble, args=(address, SLOW_HEADERS if i % 2 else SLOW_BODY, stop),
                                daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(3 * BYTE_EVERY)  # every client has connected and sent a few bytes
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def probe(base: str, path: str = "/healthz", timeout: float = 5) -> tuple[int | None, float]:
    """GET `path` on a new connection: (status, or None when it timed out or failed; seconds)."""
    url = urlsplit(base)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request("GET", path)
        status = conn.getresponse().status
    except OSError:
        status = None
    finally:
        conn.close()
    return status, time.perf_counter() - started
