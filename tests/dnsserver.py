"""A DNS server on 127.0.0.1 for tests: TXT records from a dict, over UDP and TCP on one port.

Names are matched without case and without their trailing dot. A name in `records` with an
empty list answers NOERROR without records; a name not in it, NXDOMAIN. A name in `silent` is
never answered (the client times out); one in `servfail` answers SERVFAIL. `queries` counts the
questions asked per name, so a test can tell a cached answer from a fresh one.
"""
from __future__ import annotations

import errno
import threading
from collections import Counter

from dnslib import QTYPE, RCODE, RR, TXT, DNSError
from dnslib.server import DNSLogger, DNSServer

MAX_STRING = 255  # a TXT character-string's length is one byte


def _key(name: str) -> str:
    return str(name).rstrip(".").lower()


def _strings(record: str) -> list[bytes]:
    """A TXT record as the character-strings it must be sent as (longer ones are split)."""
    data = record.encode()
    return [data[i:i + MAX_STRING] for i in range(0, len(data), MAX_STRING)] or [b""]


class _Records:
    """The dnslib resolver: answers from its DnsServer's fields, read at each question."""

    def __init__(self, server: DnsServer):
        self.server = server

    def resolve(self, request, handler):
        name = _key(request.q.qname)
        self.server._count(name)
        if name in {_key(n) for n in self.server.silent}:
            raise DNSError("silent")  # dnslib's handler then sends nothing
        reply = request.reply()
        if name in {_key(n) for n in self.server.servfail}:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        records = {_key(n): v for n, v in self.server.records.items()}
        if name not in records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for record in records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(_strings(record)), ttl=self.server.ttl))
        return reply


class DnsServer:
    """Serves `records` (name -> TXT strings) on 127.0.0.1:`port`, UDP and TCP."""

    def __init__(self, records: dict[str, list[str]] | None = None, ttl: int = 300):
        self.records: dict[str, list[str]] = dict(records or {})
        self.ttl = ttl
        self.silent: set[str] = set()
        self.servfail: set[str] = set()
        self.queries: Counter[str] = Counter()
        self.port = 0
        self._servers: list[DNSServer] = []
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DnsServer:
        """Listen on a free port (the same one for UDP and TCP), in background threads."""
        quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        resolver = _Records(self)
        for _ in range(20):
            udp = DNSServer(resolver, address="127.0.0.1", port=0, logger=quiet)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, logger=quiet)
            except OSError as exc:
                udp.server.server_close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue  # the TCP port is taken by someone else: another pair
            self.port, self._servers = port, [udp, tcp]
            for server in self._servers:
                # dnslib's start_thread polls for shutdown every 0.5 s; tests stop servers often.
                threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.02},
                                 daemon=True).start()
            return self
        raise RuntimeError("no port free for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        self._servers = []

    def _count(self, name: str) -> None:
        with self._lock:
            self.queries[name] += 1
