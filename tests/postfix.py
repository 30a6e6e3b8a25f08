"""Postfix for tests (Debian's postfix, `make install-postfix`), on 127.0.0.1 with its own configuration.

`postfix -c DIR start` reads main.cf and master.cf from a directory of the test's own; the queue,
data directory and log are under it too, so /etc/postfix is never read and Debian's postfix service
is neither needed nor started. smtpd listens on a free loopback port and takes mail for a few
domains only (relay_domains), each routed by transport_maps to an LMTP address (the listener under
test); mail for anything else is refused at RCPT, and default_transport is `error`, so nothing
leaves the machine. A message the LMTP server answers with 4xx waits in the deferred queue and is
tried again within seconds (queue_run_delay, minimal_backoff_time).

The master runs as root (Postfix allows nothing else); its daemons run as `mail_owner` (Debian's
`postfix` user), so the queue lives in a directory of the system temp dir that user can reach (a
pytest tmp directory's parents are 0700), removed by `stop()`.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from tests.daemons import free_port, wait_for_greeting

POSTFIX = os.environ.get("POSTFIX", "/usr/sbin/postfix")
MAIL_OWNER, SETGID_GROUP = "postfix", "postdrop"  # Debian's, made by the package
START_TIMEOUT = 20.0

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/spool
data_directory = {base}/lib
mail_owner = {owner}
setgid_group = {setgid}
maillog_file = {base}/postfix.log
maillog_file_prefixes = {base}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mta.test
mydomain = test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = {domains}
relay_recipient_maps =
transport_maps = inline:{{ {transports} }}
default_transport = error:nothing is relayed outward from the test MTA
relay_transport = error:a relay domain without a transport_maps entry in the test MTA
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_banner = $myhostname ESMTP test
disable_dns_lookups = yes
smtp_dns_support_level = disabled
lmtp_host_lookup = native
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
lmtp_connect_timeout = 5s
# A cached connection would outlive the listener a test stops; each delivery connects anew.
lmtp_connection_cache_on_demand = no
lmtp_data_done_timeout = 30s
"""

# The services a message needs from smtpd to lmtp, and postlog for maillog_file; none chrooted
# (a chroot would need copies of /etc files), smtpd on the free port.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """One Postfix instance: `routes` maps each domain it takes mail for to an LMTP (host, port)."""

    def __init__(self, routes: dict[str, tuple[str, int]]):
        if not os.access(POSTFIX, os.X_OK):
            raise RuntimeError(f"{POSTFIX} is missing: make install-postfix")
        if os.geteuid() != 0:
            raise RuntimeError("Postfix's master runs as root only: run the Postfix tests as root")
        self.routes = routes
        self.port = 0
        self.base: Path | None = None

    # Life cycle

    def start(self) -> Postfix:
        # mkdtemp is 0700: the postfix user must reach the queue under it.
        self.base = Path(tempfile.mkdtemp(prefix="postfix-test-"))
        os.chmod(self.base, 0o755)
        for _ in range(3):  # a port taken between free_port() and the master's bind: try another
            self.port = free_port()
            self._write_config()
            logged = len(self.log())
            # Its checks make the queue's directories, with their owners and modes; `master -w`
            # returns once the master has bound smtpd's port (or failed to).
            started = self._postfix("start")
            if started and wait_for_greeting(self.port, b"220", START_TIMEOUT):
                return self
            self._stop_master()
            if "Address already in use" not in self.log()[logged:]:
                break
        why, log = _why(self.base), self.log()
        self.stop()
        raise RuntimeError(f"postfix did not start: {why}\nits log:\n{log}")

    def stop(self) -> None:
        """Stop it (its whole process group gone) and remove its directory."""
        if self.base is None:
            return
        self._stop_master()
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def log(self) -> str:
        path = self.base / "postfix.log" if self.base else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # Mail

    def submit(self, raw: bytes, recipients: list[str], sender: str = "") -> str:
        """Hand a message to smtpd, as a remote MTA would (sender "": a bounce's null sender); the
        queue id Postfix gave it. SMTPResponseException unless every step is accepted."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.ehlo_or_helo_if_needed()
            _accepted(smtp.mail(sender))
            for recipient in recipients:
                _accepted(smtp.rcpt(recipient))
            reply = _accepted(smtp.data(raw))
        return re.search(r"queued as ([0-9A-Za-z]+)", reply).group(1)

    def queued(self) -> dict[str, int]:
        """How many messages each queue (incoming, active, deferred, hold) holds now."""
        queue = self.base / "spool"
        return {name: sum(len(files) for _, _, files in os.walk(queue / name))
                for name in ("incoming", "active", "deferred", "hold")}

    # Inside

    def _write_config(self) -> None:
        transports = " ".join(f"{domain}=lmtp:inet:{host}:{port}" for domain, (host, port) in self.routes.items())
        # The configuration directory holds nothing else: `postfix start` wants everything under it root's.
        (self.base / "etc").mkdir(exist_ok=True)
        (self.base / "etc" / "main.cf").write_text(MAIN_CF.format(
            base=self.base, owner=MAIL_OWNER, setgid=SETGID_GROUP, domains=", ".join(self.routes),
            transports=transports))
        (self.base / "etc" / "master.cf").write_text(MASTER_CF.format(port=self.port))
        for d in ("etc", "spool", "lib"):
            (self.base / d).mkdir(exist_ok=True)
        shutil.chown(self.base / "lib", MAIL_OWNER)

    def _postfix(self, command: str) -> bool:
        return subprocess.run([POSTFIX, "-c", str(self.base / "etc"), command], capture_output=True,
                              timeout=60, check=False).returncode == 0

    def _stop_master(self) -> None:
        # `postfix stop` sleeps a whole second before it looks again; the master's SIGTERM (what
        # `stop` sends) ends its process group, whose end is awaited here instead.
        try:
            pid = int((self.base / "spool" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

def _accepted(answer: tuple[int, bytes]) -> str:
    code, text = answer
    if code != 250:
        raise smtplib.SMTPResponseException(code, text)
    return text.decode(errors="replace")


def _why(base: Path) -> str:
    """What `postfix check` says of the configuration: postfix writes to stderr only when that is a
    terminal (else to syslog, which a test machine may not run), so it runs under script(1)'s."""
    if shutil.which("script") is None:
        return "(see syslog)"
    checked = subprocess.run(["script", "-qec", f"{POSTFIX} -c {base}/etc check", "/dev/null"], capture_output=True,
                             text=True, timeout=60, check=False)
    return checked.stdout.strip() or "(postfix check finds nothing wrong)"
