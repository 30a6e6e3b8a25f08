"""The phrase knowledge of workers/phrases.py, family by family: each example is what a server
says, and the reason, hard flag and SMTP stage it must be read as (workers/status.interpret).

A family here is a way of saying one thing (the mailbox does not exist, the domain does not exist,
the sender is refused, ...), in the MTAs' and providers' words and in other languages.
"""
from __future__ import annotations

import pytest

from workers import phrases, status

# (the server's words, reason, hard)
FAMILIES = {
    "mailbox does not exist, English": [
        ("550 5.1.1 <a@b.example>: Recipient address rejected: User unknown in virtual mailbox table", "user_unknown", True),
        ("550 No such user here", "user_unknown", True),
        ("550 sorry, no mailbox here by that name. (#5.1.1)", "user_unknown", True),
        ("550 Unknown recipient", "user_unknown", True),
        ("550 The email account that you tried to reach does not exist", "user_unknown", True),
        ("553 Invalid recipient", "user_unknown", True),
        ("550 Recipient not found", "user_unknown", True),
        ("550 Mailbox not found", "user_unknown", True),
        ("550 Address unknown", "user_unknown", True),
        ("550 user does not exist", "user_unknown", True),
        ("550 This account has been deleted", "user_unknown", True),
        ("551 User not local; please try <x@y.example>", "has_moved", True),
        ("550 recipient is not valid", "user_unknown", True),
        ("550 5.1.1 User is unknown", "user_unknown", True),
        ("550 ** No mail box available for this user **", "user_unknown", True),
        ("554 delivery error: dd This user doesn't have an account here", "user_unknown", True),
        ("550 #5.1.0 Address rejected.", "user_unknown", True),
        ("Invalid final delivery userid: x@y.example", "user_unknown", True),
        ("550 BAD_RECIPIENT - see http://mail.example/undelivered", "user_unknown", True),
        ("550 x@y.example is not an active address at this host (invalid FreeUK 550 username)", "user_unknown", True),
        ("553 Requested action not taken: mailbox name not allowed", "user_unknown", True),
        ("550 This address no longer accepts mail", "user_unknown", True),
        ("550 Address not present in directory", "user_unknown", True),
    ],
    "mailbox does not exist, other languages": [
        ("550 Utilisateur inconnu", "user_unknown", True),
        ("550 L'adresse n'existe pas", "user_unknown", True),
        ("550 Empfänger unbekannt", "user_unknown", True),
        ("550 Benutzer existiert nicht", "user_unknown", True),
        ("Benutzer hans (hans@example.de) ist nicht im Domino-Verzeichnis aufgeführt", "user_unknown", True),
        ("550 Usuario desconocido", "user_unknown", True),
        ("550 La cuenta no existe", "user_unknown", True),
        ("550 Utente sconosciuto", "user_unknown", True),
        ("550 Destinatario inesistente", "user_unknown", True),
        ("550 Usuário desconhecido", "user_unknown", True),
        ("550 Onbekende gebruiker", "user_unknown", True),
        ("550 Adresaci nie istnieje", "user_unknown", True),
        ("550 Пользователь не найден", "user_unknown", True),
        ("550 指定されたメールアドレスは存在しません", "user_unknown", True),
        ("550 收件人不存在", "user_unknown", True),
        ("550 받는 사람이 존재하지 않는 주소입니다", "user_unknown", True),
    ],
    "the domain or host does not exist": [
        ("Host or domain name not found. Name service error for name=x.example type=A: Host not found",
         "host_unknown", True),
        ("553 5.1.2 Illegal host/domain name found", "host_unknown", True),
        ("Unrouteable address", "host_unknown", True),
        ("Sorry, I couldn't find any host named recipient.example.", "host_unknown", True),
        ("all relevant MX records point to non-existent hosts", "host_unknown", True),
        ("550 Domain does not exist", "host_unknown", True),
        ("554 bad destination mailbox address syntax", "host_unknown", True),
        ("DNS Error: Domain name not found", "host_unknown", True),
        ("Name or service not known", "host_unknown", True),
        ("550 Le domaine inconnu", "host_unknown", True),
    ],
    "the domain accepts no mail": [
        ("556 5.1.10 Recipient address has null MX", "not_accept", True),
        ("550 Domain has no MX record", "not_accept", True),
        ("550 This domain does not accept mail", "not_accept", True),
        ("550 no mail exchanger for the domain", "not_accept", True),
    ],
    "transient trouble on the way (never hard)": [
        ("Host or domain name not found. Name service error for name=x.example type=MX: Host not found, try again",
         "network_error", False),
        ("451 4.4.0 DNS error, temporary lookup failure", "network_error", False),
        ("connect to mx.x.example[192.0.2.1]:25: Connection timed out", "network_error", False),
        ("mail for x.example loops back to myself", "network_error", False),
        ("450 4.1.1 <a@b.example>: Recipient address rejected: unverified address", "user_unknown", False),
    ],
    "the sender is refused (never hard)": [
        ("553 5.1.8 <s@x.example>: Sender address rejected: Domain not found", "rejected", False),
        ("550 5.1.0 <s@x.example>... Sender rejected: user unknown", "rejected", False),
        ("501 5.5.2 <helo>: Helo command rejected: need fully-qualified hostname", "rejected", False),
        ("550 Sender verify failed", "rejected", False),
        ("553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)", "rejected", False),
        ("553 domain of sender address does not exist", "rejected", False),
        ("550 5.7.1 Client host rejected: cannot find your hostname", "blocked", False),
        ("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "blocked", False),
        ("550 The group you tried to contact may not exist, or you may not have permission to post", "rejected", False),
    ],
    "the mailbox exists but takes nothing now (soft)": [
        ("552 5.2.2 Mailbox full", "mailbox_full", False),
        ("550 5.2.1 The email account that you tried to reach is disabled", "suspended", False),
        ("452 4.2.2 Over quota", "mailbox_full", False),
        ("552 Message for <x@y.example> would exceed mailbox quota", "mailbox_full", False),
        ("550 5.1.1 [SUSPEND] Mailbox currently suspended", "suspended", False),
        ("550 Postfach voll", "mailbox_full", False),
        ("550 Caixa postal cheia", "mailbox_full", False),
    ],
    "the recipient's own filter (soft)": [
        ("550 Message filtered by the recipient's preferences", "filtered", False),
        ("550 5.7.1 Rejected by the recipient filter", "filtered", False),
    ],
    "the message itself is refused (soft)": [
        ("554 5.7.1 Message rejected as spam", "spam_block", False),
        ("550 5.7.26 Unauthenticated email from x.example is not accepted due to DMARC policy", "auth_failure", False),
        ("552 5.3.4 Message size exceeds fixed maximum message size", "message_too_large", False),
        ("550 5.1.1 max message size exceeded", "message_too_large", False),
        ("550 5.7.1 Recipient rejected by policy", "policy", False),
    ],
}

# (the server's words with where it said them, stage, reason, hard)
STAGES = [
    ("host mx.x.example said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO command)",
     "rcpt", "user_unknown", True),
    ("SMTP error from remote mail server after RCPT TO:<a@b.example>: 550 mailbox unavailable",
     "rcpt", "user_unknown", True),
    ("host mx.x.example said: 550 Requested action not taken: mailbox unavailable (in reply to end of DATA command)",
     "data", "undefined", False),
    ("host mx.x.example said: 550 5.1.1 User unknown (in reply to end of DATA command)", "data", "user_unknown", True),
    ("host mx.x.example said: 550 User unknown (in reply to end of DATA command)", "data", "filtered", False),
    ("SMTP error from remote mail server after MAIL FROM:<s@x.example> SIZE=1234: 550 user unknown",
     "mail", "rejected", False),
    ("host mx.x.example said: 550 no such user (in reply to MAIL FROM command)", "mail", "rejected", False),
    ("SMTP error from remote mail server after EHLO x.example: 550 Access denied", "helo", "rejected", False),
    (">>> MAIL From:<s@x.example>\n<<< 250 ok\n>>> RCPT To:<a@b.example>\n<<< 550 5.1.1 <a@b.example>... User unknown",
     "rcpt", "user_unknown", True),
    (">>> RCPT To:<a@b.example>\n<<< 250 ok\n>>> DATA\n<<< 550 User unknown", "data", "filtered", False),
    # No stage said: read as at RCPT TO (only after DATA can it be a filter's answer).
    ("550 Requested action not taken: mailbox unavailable", None, "user_unknown", True),
]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_phrase_family_reads_as_its_reason(family):
    wrong = []
    for words, reason, hard in FAMILIES[family]:
        got_reason, got_hard, _ = status.interpret(status.find_code(words), words)
        if (got_reason, got_hard) != (reason, hard):
            wrong.append(f"{words!r}: {got_reason}/{'hard' if got_hard else 'soft'}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("words", "stage", "reason", "hard"), STAGES)
def test_the_smtp_stage_decides_whose_fault_it_is(words, stage, reason, hard):
    assert status.stage_of(words) == stage
    got_reason, got_hard, _ = status.interpret(None, words)
    assert (got_reason, got_hard) == (reason, hard)


def test_a_delay_is_never_hard_whatever_it_says():
    for words in ("550 5.1.1 user unknown", "Host or domain name not found", "550 Domain has no MX record"):
        assert status.interpret(None, words, failed=False)[1] is False


def test_every_family_of_the_table_compiles_and_has_an_example():
    """No family without an example here: each reason of phrases.REASONS is read from at least one example."""
    covered = {reason for examples in FAMILIES.values() for _, reason, _ in examples}
    tested_elsewhere = {"content_error", "rate_limited", "has_moved", "relay_denied", "expired",
                        "system_error", "mailer_error", "syntax_error"}  # tests/test_classifier.py
    assert {reason for reason, _ in phrases.REASONS} <= covered | tested_elsewhere


def test_the_gate_words_never_change_what_a_family_matches():
    """workers/wording.py skips a family when none of its gate words is in the text: for every
    family, on every example here and on the notices of the corpus, gated and plain searches agree."""
    from pathlib import Path

    from workers import mime, wording
    from workers.formats import plain
    texts = [words.lower() for examples in FAMILIES.values() for words, _, _ in examples]
    texts += [words.lower() for words, *_ in STAGES]
    for path in sorted((Path(__file__).parent / "corpus").glob("*/*.eml")):
        notice, _ = plain.notice_and_original(mime.parse(path.read_bytes()))
        texts.append(" ".join(notice.split())[:status.TEXT_LIMIT].lower())
    for family in wording.families(phrases.REASONS):
        assert family.gates is not None, f"{family.reason}: a phrase with no gate word makes the family slow"
        for text in texts:
            assert family.matches(text) == bool(family.pattern.search(text)), (family.reason, text[:200])
