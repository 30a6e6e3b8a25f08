"""What mail servers' words mean, as data: phrases grouped by reason, the SMTP stage a reply
answered, and the words that put the fault on the sender's side.

Every entry is a regular expression searched in lower-cased text. Each family is compiled once
into one pattern (workers/status.py), so reading a diagnostic costs one search per family, not
one per phrase. tests/test_phrases.py holds an example of every family, in each language listed.
Grow this table when a server's wording is read wrongly; never add a phrase without its example.
"""
from __future__ import annotations

# Reasons, most specific first: the first family with a phrase found in the text decides.
# "blocked" and "spam_block" come before "user_unknown" so that a block-list rejection that also
# says "recipient rejected" stays soft; "suspended" and "mailbox_full" come before it so that
# "account disabled" over "user unknown" errs to soft.
REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # cPanel's wording (it adds "may be blacklisted"); Gmail's "DNS Error: Domain name not found".
    ("host_unknown", ("the account or domain may not exist", "dns error: domain name not found")),
    # A list or group that refuses a poster hedges "may not exist, or you may not have permission":
    # the refusal is of the sender, in any language.
    ("rejected", (
        "permission to post", r"(?:do not|don't|may not) have permission", r"ne soyez pas autorisé",
        r"pas (?:la )?permission", "nicht berechtigt", r"no tiene(?:s)? permiso", r"non (?:hai|ha) (?:il )?permesso")),
    ("content_error", ("duplicate header",)),
    ("filtered", (
        r"recipient(?:'s)? preferences", "domain filter", r"rejected by the (?:recipient|domain) filter",
        "message filtered", "because of the recipient's settings", "not accepting mail (?:with|from)")),
    ("auth_failure", (
        "dmarc", r"spf(?![a-z])", "dkim", r"unauthenticated (?:email|sender)", "sender is unauthenticated",
        r"authentication (?:checks|information|failed|required)", r"fails? to pass (?:spf|authentication)")),
    ("spam_block", (
        r"spam(?![a-z])", r"[^a-z]ube[^a-z]", "unsolicited", r"bulk e-?mail", "junk mail", "content rejected",
        "virus", "malware", r"security (?:policies|issue)", "illegal attachment", "suspicious", "message content")),
    ("rate_limited", (
        r"too many (?:connections|recipients|messages|sessions)", r"rate[ -]limit", "frequency limited",
        "sent to too many", "connection rate", "temporarily deferred due to", "throttl")),
    ("blocked", (
        r"black-?list", r"block-?list", "blocked", "banned", "dnsbl", r"[^a-z]rbl[^a-z]", "spamhaus", "spamcop",
        r"listed (?:at|on|in) (?:the )?[\w.-]*(?:dnsbl|rbl|spam|block|black)", "reputation", r"[^a-z]ptr[^a-z]",
        "reverse dns", "rdns", "client host rejected", "no access from mail server", "open relay",
        "invalid ip for sending", "not allowed to send", "mismatches client ip", r"unverif\w* sending ip",
        "without a valid sender dom", "refused to talk to me", "adresse ip source bloquee")),
    ("mailbox_full", (
        r"mailbox (?:is )?full", r"exceed\w* (?:the |your |his |her |their )?(?:mailbox |storage |disk )?quota", r"mailbox.{0,20}(?:exceeds|over|exceeded)", "over ?quota", "quota exceeded",
        r"exceeded (?:the |his |her |their )?(?:storage|quota)", "disk quota", "insufficient storage",
        r"not enough (?:disk )?(?:space|storage)", r"mailbox.{0,10}size limit", "too much mail data",
        "user is over", "account is over", r"storage (?:quota|limit|full)", "mailfolder is full",
        r"postfach (?:ist )?voll", r"bo[iî]te (?:aux lettres )?pleine", "buzón lleno", r"casella (?:di posta )?piena",
        r"caixa (?:postal )?(?:está )?cheia", "メールボックスがいっぱい", "邮箱已满", "ящик переполнен")),
    ("message_too_large", (
        r"message (?:is )?too (?:big|large)", r"size (?:limit|exceeds)", r"exceeds?.{0,30}(?:maximum|size)",
        "message length exceeds", "line limit exceeded", "too large for", "mail size", r"message size exceeded")),
    ("has_moved", ("has moved", "user not local", r"no longer (?:on server|with|at)", r"not our (?:user|customer)", "address changed")),
    ("suspended", (
        (r"(?:account|mailbox|address|user\(s\) account|recipient) (?:is |has been |currently |temporarily )?"
         r"(?:disabled|deactivated|suspended|locked|inactive|frozen|expired|closed)"),
        r"(?:account|mailbox|address)[\w\s]{0,30}? is disabled", r"disabled (?:recipient|user|mailbox|account)",
        r"temporar(?:y|ily) locked")),
    ("not_accept", (
        "null mx", "does not accept mail", r"(?:doesn't|does not|do not|don't) (?:receive|accept) (?:e-?)?mail",
        "no mx record", "mx or srv record indicated no", r"not accepting (?:e-?)?mail", "accepts no mail",
        r"no (?:valid )?mail ?exchanger", r"has no (?:valid )?mx", r"no (?:valid )?mx (?:or a )?(?:record|host)s?")),
    ("network_error", (
        r"host not found,? try again", "malformed or unexpected name server reply", "lost connection",
        r"name service error.{0,60}try again", "dns error", "routing loop", "too many hops", "mail loop",
        "loops back to myself", r"temporary (?:dns|lookup) failure", r"connection (?:timed out|reset)")),
    ("host_unknown", (
        "host unknown", "unknown host", "host not found", "no such domain", r"domain (?:name )?not found",
        r"domain (?:does not|doesn't) exist", r"unrout(?:e)?able (?:mail )?(?:domain|address)", "unknown domain",
        "host or domain name not found", "domain is not reachable", "dns lookup failure", "invalid domain",
        "no such host", r"(?<![\w.-])[\w.-]{1,200}\.[a-z]{2,} does not exist", r"illegal (?:host|domain)",
        r"(?:couldn't|could not|can't|cannot) find (?:any )?host", "mx records point to non-existent hosts",
        r"(?:bad|invalid|illegal|malformed) destination", r"domain (?:is )?(?:invalid|illegal|unknown)",
        r"(?:bad|invalid|illegal) (?:address )?syntax", r"no route (?:found )?(?:to|for) (?:the )?(?:domain|destination)",
        "name or service not known", "nxdomain", r"domain must exist", r"unknown (?:mail )?(?:domain|host)",
        r"domaine? (?:inconnu|inexistant)", "domain existiert nicht", "dominio inexistente", "ドメインが存在しません")),
    ("user_unknown", (
        "user ?unknown", r"unknown (?:user|recipient|local|mailbox|account|addressee)", r"unknown address(?! error)",
        r"no such (?:user|mailbox|recipient|address|account|person|local user)",
        r"(?:user|mailbox|recipient|address|account|addressee|e-?mail)(?: \S+)? (?:does not|doesn't|did not) exist",
        r"(?:user|mailbox|recipient|address|account|addressee) (?:not |was not |is not )(?:found|exist|known|listed|valid)",
        r"(?:invalid|bad|unknown or illegal) (?:recipient|mailbox|user|address|alias)", r"(?:recipient|address|addressee) (?:address )?unknown",
        r"not a valid (?:user|mailbox|recipient|e-?mail)", "recipient not found", "recip(?:ient)?notfound",
        r"no mail ?box (?:here|by that name|found|available)", r"bad[_ ]recipient", r"(?:invalid|unknown) (?:[\w-]+ ){0,2}(?:username|userid|user id)", r"not listed in (?:the )?(?:public name|domino|directory|address book)",
        r"nicht im [\w-]*verzeichnis", r"does not have a (?:final )?(?:e-?mail )?delivery point",
        r"address (?:you entered )?(?:couldn't|could not) be found", "mailbox not found",
        "account that you tried to reach does not exist", r"(?:user|recipient) (?:name )?is not recognized",
        "recipient address rejected: access denied", "no account by that name", r"account (?:has been )?(?:deleted|removed)",
        r"user doesn't have a .{1,60} account", r"(?:user|recipient) (?:doesn't|does not) have an? (?:[\w.-]+ )?account",
        r"(?<!sender )(?<!domain )address rejected(?![:\w])", "is not a known user", "does not have an account",
        "recipient rejected", r"not (?:a )?local user", r"(?:user|recipient|address|mailbox|addressee) (?:is |was )?unknown",
        r"not present in (?:the )?directory", r"mailbox name (?:not allowed|invalid)", "is not a valid e-?mail",
        r"no longer (?:exists|in use|valid|accepts? (?:e-?)?mail)", "ディレクトリには見つかりません",  # Domino, Japanese
        r"(?:destinataire|utilisateur|adresse) (?:inconnue?|invalide|inexistante?)", "destinataire invalide",
        r"n'existe (?:pas|plus)", r"(?:benutzer|empfänger|adresse|postfach) (?:ist )?(?:unbekannt|ungültig|existiert nicht)",
        "unbekannter empfänger", "ungültige empfänger", r"(?:usuario|destinatario|buzón|cuenta) (?:desconocido|no existe|inexistente)",
        r"no existe", "utente sconosciuto", r"destinatario (?:inesistente|sconosciuto)", "non esiste",
        r"(?:usuário|utilizador|destinatário) (?:desconhecido|inexistente)", "não existe",
        r"(?:onbekende|ongeldige) (?:gebruiker|ontvanger)", "bestaat niet", r"finns inte|findes ikke|finnes ikke",
        "nie istnieje", "nieznany użytkownik", "не существует", r"(?:пользователь|адрес|получатель) не найден",
        "нет такого пользователя", "неизвестный пользователь", "存在しません", "宛先不明", "見つかりません",
        "用户不存在", "收件人不存在", "地址不存在", r"帐户不存在|账户不存在|账号不存在", "无此用户", "존재하지 않는")),
    ("relay_denied", (
        r"relay(?:ing)? (?:denied|not permitted|access denied|prohibited)", "not configured to relay",
        "unable to relay", "we do not relay", "not permitted to relay", "relay not allowed",
        "list of allowed rcpthosts")),
    ("expired", (
        "retry timeout", r"timed? ?out", "too long", "delivery time expired", "envelope expired", "expired",
        "giving up", "could not deliver for", "not delivered within", "could not be delivered for",
        "all hosts have been failing", "multiple retries", r"not (?:yet )?been delivered", "has been delayed",
        "retried for", "requests to connect", "could not find a gateway", "not reachable", "unable to connect",
        "connection refused", "retry time not reached", "abandoned", "maximum time")),
    ("rejected", (
        r"sender (?:address )?(?:was )?rejected", "domain of sender", "unroutable sender", "sender domain",
        "not a member", "permission to post", "send mail as", "access denied", "not verified",
        "sending to/from an address")),
    ("content_error", (
        r"headers? too (?:large|long)", "8-?bit data", "improper use of 8-bit", r"rfc ?5322 compliant",
        r"not rfc ?5322", r"malformed (?:message|header|mime)", r"invalid (?:header|mime)")),
    ("system_error", (
        r"insufficient (?:disk|system)", "system error", r"service (?:currently )?unavailable", "temporary failure",
        "internal error", "queue file write error", "insufficient permission", "local error", "could not load")),
    ("mailer_error", ("procmail", "mailer error", "command died", "pipe to")),
    ("syntax_error", ("syntax error", "improper sequence", "command parameter", "bad sequence", "command not")),
)

# The SMTP command a reply answered, from the MTAs' own ways of saying it (Postfix "in reply to
# RCPT TO command", Exim "after RCPT TO:<...>", Sendmail's ">>> RCPT To:" transcript, Exchange
# "SMTP command: DATA"). Searched in order; the first found names the stage.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("data", (
        "end of data", "after data", "reply to data", "final data", r"\(data\)", r"smtp command\s*:?\s*data\b",
        r">>> data\b", "after end of data", r"in reply to (?:the )?data")),
    ("rcpt", (
        r"in reply to rcpt", r"after rcpt", r">>> rcpt", r"rcpt to command", r"smtp command\s*:?\s*rcpt",
        r"\(rcpt\)", "in rcpt to")),
    ("mail", (
        r"in reply to mail", r"after mail from", r">>> mail from", r"mail from command", r"smtp command\s*:?\s*mail",
        r"\(mail\)")),
    ("helo", (
        r"in reply to (?:ehlo|helo|lhlo)", r"after (?:ehlo|helo|lhlo)", r"(?:ehlo|helo) command",
        "after initial connection", "greeting", "in reply to connect", "on connect", "smtp banner")),
)

# Words that put the fault on the sending side: the sender's address or domain, the sending
# host's name or greeting. A refusal said so is never a dead recipient, whatever else it says
# ("Sender address rejected: Domain not found" is about the sender's domain).
SENDER_REFUSAL: tuple[str, ...] = (
    r"sender (?:address )?(?:was )?(?:rejected|refused|denied|invalid|unknown|not allowed)",
    r"sender (?:verify|verification|callout) (?:failed|rejected)", r"(?:domain of|unroutable) sender",
    r"sender(?:'s)? domain", r"(?:helo|ehlo) (?:command )?(?:rejected|refused)", "helo requires",
    "need fully-qualified hostname", r"(?:mail from|envelope sender|return[- ]path)(?: address)? (?:rejected|refused|invalid|not allowed)",
    r"invalid (?:sender|helo)", "bad sender",  "badmailfrom",
)

# RFC 5321's generic text for a 550: in reply to RCPT TO (or with no stage said), with no policy
# words, it is how large mailbox providers say the mailbox does not exist; in reply to DATA it
# may be a recipient's filter, and proves nothing.
UNAVAILABLE = (r"mailbox (?:is )?(?:unavailable|not available)", r"(?:account|address) (?:is )?unavailable")
