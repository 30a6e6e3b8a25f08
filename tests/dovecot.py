"""A Dovecot IMAP server for tests (Debian's dovecot-imapd), on 127.0.0.1 with its own configuration.

Everything lives under the test's tmp directory: the configuration (passed with `-c`, the system's
/etc/dovecot is never read), base_dir, state_dir, passwd-files of users with plain passwords (one per user), the
log, and the maildirs. Two listeners: plain IMAP on `port` and IMAP over TLS on `tls_port`, with a
self-signed certificate for 127.0.0.1 and localhost whose PEM is `cafile`.

Dovecot runs as the current user, with two exceptions when that user is root, where Dovecot refuses:
login processes run as `dovenull` (chrooted by the root master first), and mail processes as
`dovecot` (userdb may not return uid 0). Those can't reach a pytest tmp directory (its parents are
0700), so the maildirs of a root run live in a private directory of the system temp dir instead,
removed by `stop()`.
"""
from __future__ import annotations

import datetime
import grp
import imaplib
import ipaddress
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.daemons import free_port, stop, wait_for_greeting

DOVECOT = os.environ.get("DOVECOT", "/usr/sbin/dovecot")
FOLDERS = ("Junk", "Spam", "Bulk", "[Gmail]/Spam")  # besides INBOX, created at each login
NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
START_TIMEOUT = 15.0

CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
instance_name = test-{port}
protocols = imap
listen = 127.0.0.1
log_path = {base}/dovecot.log
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
# (and no anvil-auth-penalty listener below: no growing delays after failed logins from 127.0.0.1)
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={mail}/%u
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
"""


def self_signed(host: str = "127.0.0.1") -> tuple[bytes, bytes]:
    """A certificate (its own CA, so it can be a cafile) for `host` and localhost, and its key; as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class Dovecot:
    """One Dovecot master (`dovecot -F`), started and stopped by a test."""

    def __init__(self, tmp_path: Path | str):
        self.base = Path(tmp_path) / "dovecot"
        self.port = 0
        self.tls_port = 0
        self.cafile = str(self.base / "cert.pem")
        self.process: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        self._private_mail: Path | None = None

    # Life cycle

    def start(self) -> Dovecot:
        for d in ("run", "state"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        cert, key = self_signed()
        (self.base / "cert.pem").write_bytes(cert)
        (self.base / "key.pem").write_bytes(key)
        os.chmod(self.base / "key.pem", 0o600)
        for _ in range(3):  # a port taken between free_port() and Dovecot's bind: try others
            self.port, self.tls_port = free_port(), free_port()
            (self.base / "dovecot.conf").write_text(self._config())
            self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.base / "dovecot.conf")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if wait_for_greeting(self.port, b"* OK", START_TIMEOUT, self.process):
                return self
            stop(self.process)
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"dovecot did not start; its log:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        if self._private_mail is not None:
            shutil.rmtree(self._private_mail, ignore_errors=True)
            self._private_mail = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # Users and mail

    def add_user(self, name: str, password: str) -> None:
        """Add a user, at once even while running (a changed password may take Dovecot a second to see)."""
        if not NAME.fullmatch(name) or not password or any(c in password for c in ":\n\r"):
            raise ValueError("a plain user name, and a password without ':' or line breaks")
        self.users[name] = password
        self._write_passwd(name, password)

    def login(self, user: str, password: str) -> imaplib.IMAP4:
        """An IMAP session of `user` on the plain listener; the caller logs out."""
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(user, password)
        return conn

    def append(self, user: str, password: str, folder: str, raw: bytes) -> int:
        """Store `raw` in `folder` of `user` (unseen); its UID."""
        conn = self.login(user, password)
        try:
            typ, data = conn.append(quoted(folder), None, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND {folder}: {data!r}")
            return int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        finally:
            conn.logout()

    # Inside

    def _config(self) -> str:
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        mail, mail_uid, mail_gid, login_user = self.base / "mail", os.getuid(), os.getgid(), user
        chroot = "  chroot =\n"  # a user that isn't root can't chroot
        if os.getuid() == 0:
            mail_user = _system_user("dovecot", "nobody")
            login_user = _system_user("dovenull", "nobody").pw_name
            mail_uid, mail_gid = mail_user.pw_uid, mail_user.pw_gid
            if self._private_mail is None:
                self._private_mail = Path(tempfile.mkdtemp(prefix="dovecot-mail-"))
            os.chmod(self._private_mail, 0o711)
            mail = self._private_mail / "mail"
            mail.mkdir(exist_ok=True)
            os.chown(mail, mail_uid, mail_gid)
            chroot = ""  # the default chroot (base_dir/login), entered by the root master
        mailboxes = "".join(f'  mailbox "{name}" {{\n    auto = create\n  }}\n' for name in FOLDERS)
        return CONFIG.format(base=self.base, port=self.port, tls_port=self.tls_port, internal_user=user,
                             internal_group=group, login_user=login_user, mail=mail, mail_uid=mail_uid,
                             mail_gid=mail_gid, chroot=chroot, mailboxes=mailboxes)

    def _write_passwd(self, name: str, password: str) -> None:
        # One passwd-file per user: Dovecot looks at a file's mtime at most once a second, so a user
        # added to a shared file just after a login would be unknown for up to a second.
        path = self.base / "users" / name
        path.parent.mkdir(exist_ok=True)
        partial = path.with_suffix(".new")
        partial.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        os.replace(partial, path)  # whole, so Dovecot never reads half a file


def quoted(folder: str) -> str:
    """A mailbox name as an IMAP quoted string ("[Gmail]/Spam" holds a character atoms can't)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _system_user(*names: str) -> pwd.struct_passwd:
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"none of the users {names} exists to run Dovecot's unprivileged processes")
