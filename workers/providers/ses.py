"""Amazon SES bounce, complaint and delivery notifications, delivered by Amazon SNS over HTTPS.

Settings: `SES_TOPIC_ARNS`, the SNS topics accepted (comma-separated, or a list), which switches
the endpoint on: an SNS signature proves only that *some* AWS account's topic sent the message,
and the caller confirms subscriptions, so without it anyone's topic could feed this endpoint.

Both SES feeds are read: identity notifications (`notificationType`) and configuration-set
event publishing (`eventType`). `read_event` is the one reader of SES's event JSON: `parse` splits
its verdict into one ProviderEvent per recipient, and workers/formats/json_notice.py hands it the same JSON
when SNS delivers it by e-mail (one Classification with every recipient).
"""
from __future__ import annotations

import base64
import binascii
import functools
import re
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import config
from config.policy import NOT_COMPLAINTS
from workers.findings import BOUNCE, COMPLAINT, OTHER, Classification, Original
from workers.providers import (
    ProviderEvent,
    Rejected,
    dedupe,
    domain_of,
    header,
    header_names,
    iso_time,
    judge,
    load_json,
    message_id,
    obj,
    optional_obj,
    recipient,
    status_code,
    text,
)

PROVIDER = "ses"
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")
_CONFIRMATIONS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = {  # the string to sign, per type, in this order (AWS SNS docs)
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATIONS,
    "UnsubscribeConfirmation": _CONFIRMATIONS,
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_MAX_CERT_BYTES = 64 * 1024
# Subtypes that say the address is dead when the code and the text say nothing.
_DEAD_SUBTYPES = {"NoEmail": "user_unknown", "Suppressed": "suppressed",
                  "OnAccountSuppressionList": "suppressed"}
# Transient subtypes that name the reason when code and text do not.
_SOFT_SUBTYPES = {"MailboxFull": "mailbox_full", "MessageTooLarge": "message_too_large",
                  "ContentRejected": "spam_block", "AttachmentRejected": "spam_block"}
_REPORTS = {"Bounce": "bounce", "Complaint": "complaint"}  # the event types with one event per recipient


class Ses:
    """Amazon SES notifications delivered by SNS, from the accepted topics (any topic when none is given)."""

    def __init__(self, topic_arns: Iterable[str] = (), *, fetch_cert: Callable[[str], bytes] | None = None,
                 account_header: str = config.ACCOUNT_HEADER, list_header: str = config.LIST_HEADER):
        self.topics = frozenset(topic_arns)
        # fetch_cert(url): the PEM signing certificate at `url`; only ever called for an https URL on
        # sns.<region>.amazonaws.com. Tests give their own; the default is an HTTPS GET, cached.
        self.fetch_cert = fetch_cert or fetch_certificate
        self.account_header, self.list_header = account_header, list_header

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> Ses:
        """The adapter for SES_TOPIC_ARNS; ValueError when one of them is not an SNS topic ARN."""
        return cls(topic_arns(settings.get("SES_TOPIC_ARNS")), **header_names(settings))

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Rejected unless `body` is an SNS message signed by SNS, from an accepted topic."""
        message = _envelope(body)
        announced = header(headers, "x-amz-sns-message-type")
        if announced is not None and announced != message["Type"]:
            raise Rejected("x-amz-sns-message-type does not match the message Type")
        if self.topics and message["TopicArn"] not in self.topics:
            raise Rejected("topic not accepted (SES_TOPIC_ARNS)")
        version = text(message, "SignatureVersion", required=True)
        if version not in _HASHES:
            raise Rejected("unknown SignatureVersion")
        url = text(message, "SigningCertURL", required=True)
        check_sns_url(url, "SigningCertURL")
        try:
            signature = base64.b64decode(text(message, "Signature", required=True), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected("Signature is not base64") from None
        key = _public_key(self.fetch_cert, url, now)
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), _HASHES[version]())
        except InvalidSignature:
            raise Rejected("bad signature") from None

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        """The events in an SNS message: one per bounced or complaining recipient."""
        message = _envelope(body)
        if message["Type"] != "Notification":
            return [_confirmation(message)]
        notification = obj(load_json(text(message, "Message", required=True)), "Message")
        found = read_event(notification, self.account_header, self.list_header)
        report_key = _REPORTS.get(_kind(notification) or "")
        if report_key is None:  # a delivery, open, send ...: nothing to act on, one event for the message
            return [ProviderEvent(dedupe(PROVIDER, message["MessageId"]), replace(found, recipients=()),
                                  occurred_at=iso_time(message.get("Timestamp")))]
        report = notification[report_key]
        return [ProviderEvent(_key(report, message["MessageId"], result.address), replace(found, recipients=(result,)),
                              occurred_at=iso_time(report.get("timestamp"))) for result in found.recipients]


def topic_arns(value: object) -> frozenset[str]:
    """SES_TOPIC_ARNS (comma-separated, or a list) as a set; ValueError naming the setting."""
    items = value if isinstance(value, (list, tuple, set, frozenset)) else str(value or "").split(",")
    arns = frozenset(str(item).strip() for item in items if str(item).strip())
    wrong = sorted(arn for arn in arns if not _TOPIC_ARN.match(arn))
    if wrong:
        raise ValueError(f"SES_TOPIC_ARNS: {wrong[0]!r} is not an SNS topic ARN (arn:aws:sns:<region>:<id>:<name>)")
    return arns


def _confirmation(message: dict) -> ProviderEvent:
    at, topic = iso_time(message.get("Timestamp")), message["TopicArn"]
    key = dedupe(PROVIDER, message["MessageId"])
    if message["Type"] == "UnsubscribeConfirmation":
        detail = f"sns unsubscribe confirmation for {topic}: nothing to do"
        return ProviderEvent(key, Classification(OTHER, detail=detail), occurred_at=at)
    url = text(message, "SubscribeURL", required=True)
    check_sns_url(url, "SubscribeURL")
    detail = f"sns subscription confirmation for {topic}: GET the SubscribeURL once"
    return ProviderEvent(key, Classification(OTHER, detail=detail), subscription_url=url, occurred_at=at)


def read_event(notification: dict, account_header: str, list_header: str) -> Classification:
    """One SES event object as one Classification with all its recipients; Rejected when malformed.
    The two headers are the names of the account header and the list header in `mail.headers`.

    Bounce, Complaint and Delivery are read; any other event type is "other", with the original.
    """
    what = _kind(notification)
    if what == "Bounce":
        found = _bounce(obj(notification.get("bounce"), "bounce"))
    elif what == "Complaint":
        found = _complaint(obj(notification.get("complaint"), "complaint"))
    elif what == "Delivery":
        found = _delivery(notification.get("delivery"))
    else:
        found = Classification(OTHER, detail=f"ses {what or 'unknown'} notification")
    return replace(found, original=_original(optional_obj(notification, "mail"), account_header, list_header))


def string_to_sign(message: Mapping[str, object]) -> bytes:
    """The canonical "Name\\nvalue\\n" string SNS signs, for the message's Type."""
    lines = []
    for name in SIGNED_FIELDS[message["Type"]]:
        value = message.get(name)
        if value is None and name == "Subject":  # signed only when present
            continue
        if not isinstance(value, str):
            raise Rejected(f"{name} is missing")
        lines += [name, value]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def check_sns_url(url: str, what: str) -> None:
    """Rejected unless `url` is https on an SNS host (sns.<region>.amazonaws.com)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Rejected(f"{what} is not a URL") from None
    if parts.scheme != "https" or port not in (None, 443) or parts.username or parts.password:
        raise Rejected(f"{what} is not https on an SNS host")
    if not SNS_HOST.match(parts.hostname or ""):
        raise Rejected(f"{what} is not on an SNS host")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could leave amazonaws.com
        return None


@functools.lru_cache(maxsize=16)
def fetch_certificate(url: str) -> bytes:
    """The PEM certificate at `url` (an SNS signing certificate): HTTPS, no redirects, cached."""
    check_sns_url(url, "SigningCertURL")
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(url, timeout=5) as response:
        return response.read(_MAX_CERT_BYTES)


def confirm_subscription(url: str) -> None:
    """GET an SNS SubscribeURL once, which confirms the topic's subscription to our endpoint."""
    check_sns_url(url, "SubscribeURL")
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(url, timeout=10) as response:
        response.read(64 * 1024)


def _envelope(body: bytes) -> dict:
    message = obj(load_json(body), "the SNS message")
    kind = text(message, "Type", required=True)
    if kind not in SIGNED_FIELDS:
        raise Rejected("unknown SNS message Type")
    for name in ("MessageId", "TopicArn"):
        text(message, name, required=True)
    return message


def _public_key(fetch_cert: Callable[[str], bytes], url: str, now: float) -> rsa.RSAPublicKey:
    try:
        certificate = x509.load_pem_x509_certificate(fetch_cert(url))
    except Exception:  # noqa: BLE001 - whatever the fetcher raises, the message cannot be verified
        raise Rejected("signing certificate unavailable") from None
    moment = datetime.fromtimestamp(now, tz=UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise Rejected("signing certificate expired or not yet valid")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Rejected("signing certificate is not RSA")
    return key


def _kind(notification: dict) -> str | None:
    return text(notification, "notificationType") or text(notification, "eventType")


def _bounce(bounce: dict) -> Classification:
    kind, subtype = text(bounce, "bounceType"), text(bounce, "bounceSubType")
    permanent = {"Permanent": True, "Transient": False}.get(kind or "")
    results = []
    for item in _list(bounce, "bouncedRecipients"):
        item = obj(item, "bouncedRecipients[]")
        addr, status, diagnostic = _address(item), text(item, "status"), text(item, "diagnosticCode")
        hard, reason = judge(status, permanent, diagnostic or "", _DEAD_SUBTYPES.get(subtype or ""))
        if (hard, reason) == (False, "undefined") and subtype in _SOFT_SUBTYPES:
            reason = _SOFT_SUBTYPES[subtype]
        results.append(recipient(addr, action=text(item, "action") or "failed", status=status, hard=hard,
                                 reason=reason, diagnostic=diagnostic))
    return Classification(BOUNCE, tuple(results), detail=f"ses bounce {kind}/{subtype}")


def _complaint(complaint: dict) -> Classification:
    feedback_type, subtype = text(complaint, "complaintFeedbackType"), text(complaint, "complaintSubType")
    addresses = [_address(obj(item, "complainedRecipients[]")) for item in _list(complaint, "complainedRecipients")]
    if subtype == "OnAccountSuppressionList":
        # SES did not send: the address complained before, perhaps about another dealer.
        return Classification(OTHER, tuple(recipient(a, reason="ses_suppression_list") for a in addresses),
                              detail="ses complaint OnAccountSuppressionList: not sent, no new complaint")
    feedback_type = feedback_type.strip().lower() if feedback_type else None
    kind = OTHER if feedback_type in NOT_COMPLAINTS else COMPLAINT  # not-spam: the mail is wanted
    return Classification(kind, tuple(recipient(a, reason="feedback") for a in addresses),
                          feedback_type=feedback_type, detail=f"ses complaint {feedback_type or '(no feedback type)'}")


def _delivery(delivery: object) -> Classification:
    # Read loosely: a delivery changes nothing, so a field SES did not fill is no reason to refuse it.
    delivery = delivery if isinstance(delivery, dict) else {}
    response = delivery.get("smtpResponse")
    code = status_code(response) if isinstance(response, str) else None
    addresses = delivery.get("recipients") if isinstance(delivery.get("recipients"), list) else []
    results = tuple(recipient(a.strip().lower(), action="delivered", status=code, reason="delivered")
                    for a in addresses if isinstance(a, str) and "@" in a)
    return Classification(OTHER, results, detail="ses Delivery notification")


def _key(report: dict, sns_id: str, addr: str) -> str:
    # SES's feedbackId names the bounce or complaint itself: the same report published to two
    # topics (identity notifications and event publishing) is one event. SNS MessageId otherwise.
    return dedupe(PROVIDER, text(report, "feedbackId") or sns_id, addr)


def _list(container: dict, key: str) -> list:
    value = container.get(key)
    if not isinstance(value, list):
        raise Rejected(f"{key} is not a list")
    return value


def _address(item: dict) -> str:
    # SES gives the recipient as the message named it, display name included ("Ann" <ann@x>).
    value = text(item, "emailAddress", required=True)
    return (parseaddr(value)[1] or value).strip().lower()


def _original(mail: dict, account_header: str, list_header: str) -> Original:
    common = optional_obj(mail, "commonHeaders")
    raw_headers = mail.get("headers") or []
    if not isinstance(raw_headers, list):
        raise Rejected("mail.headers is not a list")
    pairs = [(text(h, "name") or "", text(h, "value") or "") for h in (obj(h, "mail.headers[]") for h in raw_headers)]

    def first(name: str) -> str | None:
        value = next((v for n, v in pairs if name and n.lower() == name.lower() and v.strip()), None)
        return value.strip() if value else None

    senders = common.get("from")
    sender = senders[0] if isinstance(senders, list) and senders and isinstance(senders[0], str) else first("From")
    dkim = tuple(dict.fromkeys(m.group(1).lower() for n, v in pairs if n.lower() == "dkim-signature"
                               for m in [re.search(r"(?:^|;)\s*d=([^;\s]+)", v)] if m))
    return Original(message_id=message_id(text(common, "messageId") or first("Message-ID") or text(mail, "messageId")),
                    from_domain=domain_of(sender), dkim_domains=dkim, account_header=first(account_header),
                    list_name=first(list_header), return_path=text(mail, "source"))
