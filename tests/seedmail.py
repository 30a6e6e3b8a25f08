"""Seed messages for tests: a dealer's marketing mail, DKIM-signed with a key the tests publish
in their loopback DNS server."""
from __future__ import annotations

import base64
import email.policy
from email.message import EmailMessage

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DOMAIN = "alpha-motors.example"
SELECTOR = "s1"
POSTAL = "Alpha Motors, 12 Harbour Road, Springfield 12345"
LONG_LINES = email.policy.SMTP.clone(max_line_length=998)  # a long unsubscribe URI stays one header line
COVERED = [b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post"]


class Key:
    """An RSA key: its PEM for dkimpy, and its DKIM record."""

    def __init__(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def publish(dns, key: Key, domain: str = DOMAIN) -> None:
    """The DNS a compliant sender publishes: its DKIM key and a DMARC policy."""
    dns.records[f"{SELECTOR}._domainkey.{domain}"] = [key.record]
    dns.records[f"_dmarc.{domain}"] = [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}"]
    dns.records[domain] = ["v=spf1 include:_spf.platform.example -all"]


def message(to: str, *, campaign: str | None = "spring-sale", subject: str = "Spring offers on every model",
            unsubscribe: str | None = "<https://unsubscribe.example.net/u/TOKEN>, <mailto:unsubscribe@example.net>",
            one_click: str | None = "List-Unsubscribe=One-Click", postal: str | None = POSTAL,
            sender: str = f"offers@{DOMAIN}", extra: dict | None = None, body: str = "Come and see the new models.",
            message_id: str = "<1@alpha-motors.example>") -> EmailMessage:
    mail = EmailMessage(policy=LONG_LINES)
    mail["From"] = f"Alpha Motors <{sender}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    mail["Message-ID"] = message_id
    if unsubscribe:
        mail["List-Unsubscribe"] = unsubscribe
    if one_click:
        mail["List-Unsubscribe-Post"] = one_click
    if campaign:
        mail["X-Campaign-ID"] = campaign
    for name, value in (extra or {}).items():
        mail[name] = value
    mail.set_content(body + ("\n\n" + postal if postal else "") + "\n")
    return mail


def signed(mail: EmailMessage, key: Key, domain: str = DOMAIN, headers: list[bytes] = COVERED) -> bytes:
    raw = mail.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    present = [h for h in headers if mail.get(h.decode()) is not None]
    return dkim.sign(raw, SELECTOR.encode(), domain.encode(), key.pem, include_headers=present) + raw
