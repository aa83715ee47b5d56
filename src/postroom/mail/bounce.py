"""Non-standard bounces: whose delivery a failure notice reports, read from its text.

Pure functions of the decoded :class:`Headers` and the stdlib ``compat32`` tree; no I/O. The
RFC 3464 report stays with ``classify.get_dsn``; this module reads the notices that have no
usable per-recipient block (docs/concepts.md, "Bounces").

* :func:`might_be_bounce` is the header-level test (sender, subject in many languages, report
  media type): only such messages are read as bounces at all, and the sync fetches their report.
* :func:`read_notice` reads the notice: `flufl.bounce <https://pypi.org/project/flufl.bounce/>`_'s
  detectors (Mailman's, for the many MTA formats), and, from a mail system's sender, our own
  patterns for the formats they miss.
* Guards: a failed recipient is a syntactically valid address named in the notice's own text
  (never only in the returned original message, which follows a "copy of the message" line or
  is attached as ``message/rfc822``), and not the notice's own sender or recipient. A notice
  that says it is only a warning (a delay) reports no failure.
* The input may be cut short (the sync reads a possible bounce from a capped prefix of the
  whole message): every step reads what is there and never raises; an address at the very end
  of a cut text is not taken (it may be cut too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message

from postroom.mail.bounce_detectors import get_flufl_failures
from postroom.mail.text import (
    MAX_TEXT_BYTES,
    decode_text,
    get_decoded_message_bytes,
    html_to_text,
    iter_leaf_parts,
    read_text_part,
)
from postroom.mail.types import Headers

BOUNCE_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "mailerdaemon", "mdaemon"}
)
"""Local parts of the mail systems that send bounces (RFC 5321 section 4.5.1 for
``postmaster``; ``MAILER-DAEMON`` and its spellings by long use), compared case-insensitively."""

_BOUNCE_NAME = re.compile(
    r"mail(?:er)?[ -]?daemon|mail delivery (?:sub)?system|postmaster|mail administrator"
    r"|delivery (?:status )?(?:notification|subsystem|system)|mail system|mail ?delivery"
    r"|microsoft exchange"
    r"|microsoft outlook|e-?mail gateway|virus ?(?:wall|scan|alert)|mailsweeper|interscan"
    r"|mail ?scanner|antivirus|anti-virus|mail ?router|system ?administrator|systemverwalter"
    r"|administrateur|administrador|amministratore|systeembeheerder|administratör"
    r"|システム管理者|メール管理者|系统管理员|系統管理員|邮件系统|郵件系統|시스템 관리자",
    re.IGNORECASE,
)
"""Display names of mail systems: ``Mail Delivery System``, ``Mail Delivery Subsystem``,
``Microsoft Outlook`` (Exchange Online's NDRs), virus gateways..."""

_BOUNCE_SUBJECT = re.compile(
    "|".join(
        (
            # English (every MTA and provider)
            r"undeliver(?:ed|able)|non-?deliver|not (?:be )?deliver(?:ed|able)",
            r"returned (?:mail|to sender)|mail delivery (?:failed|failure|problem|error)",
            r"delivery (?:status notification|failure|failed|has failed|problem|error|report)",
            r"failure notice|failed delivery|could not (?:be )?deliver|couldn't be delivered",
            r"mail system error|message (?:not delivered|rejected|bounced|blocked)",
            r"delivery notification|nondeliverable|bounced? mail|mail error|virus",
            # German, Dutch, Scandinavian, Finnish
            r"unzustellbar|nicht zustellbar|zustellung|zustellungsstatus|rückläufer|fehlgeschlagen",
            r"onbestelbaar|niet bezorgd|kan niet worden bezorgd|bezorging mislukt",
            r"kan inte levereras|olevererbar|går inte att leverera|leverans misslyckades",
            r"kan ikke leveres|kunne ikke leveres|uanbringelig|levering mislykkedes",
            r"ei voida toimittaa|toimittamaton|jakelu epäonnistui|toimitus epäonnistui",
            # French, Spanish, Italian, Portuguese
            r"non remis|non distribuable|non délivré|échec de (?:la )?(?:remise|livraison)",
            r"impossible de remettre|notification d'état de remise",
            r"no se puede entregar|no entregado|no se pudo entregar|error (?:en la|de) entrega",
            r"notificación de estado de entrega|mensaje devuelto",
            r"non recapitabile|impossibile recapitare|mancato recapito|notifica stato di consegna",
            r"não (?:é possível|foi possível) entregar|não entregue|falha na entrega",
            r"notificação de status de entrega",
            # Polish, Czech, Hungarian, Turkish, Russian
            r"niedostarczon|nie można dostarczyć|niedostarczaln|nie dostarczono",
            r"nelze doručit|nedoručiteln|nedoručen",
            r"kézbesíthetetlen|nem kézbesíthető|teslim edilemedi",
            r"не доставлен|недоставлен|невозможно доставить|не удалось доставить|возвращенное",
            # Japanese, Chinese, Korean
            r"配信不能|配信エラー|配送エラー|配信に失敗|送信できませんでした|未配信|送信エラー",
            r"无法投递|无法送达|退信|投递失败|未送达|無法傳遞|無法投遞|傳送失敗|郵件退回",
            r"배달되지 않|전달되지 않|전송 실패|반송",
        )
    ),
    re.IGNORECASE,
)
"""Subjects of bounces, in the languages mail systems write them. A loose net: it only selects
what is read further (nothing becomes a bounce without a failed recipient named in its text)."""

_REPLY_PREFIX = re.compile(
    r"\s*(?:re|fwd?|aw|wg|tr|rv|sv|vs|vl|odp|pd|antw|doorst|ynt|ilt|回复|回覆|转发|轉寄|返信|転送)"
    r"\s*(?:\[\d+\])?\s*[:：]",
    re.IGNORECASE,
)
"""A reply or forward a person wrote (``Re:``, ``Fwd:``, ``AW:``, ``WG:``, ``TR:``...)."""

_FAILURE_CUE = re.compile(
    _BOUNCE_SUBJECT.pattern
    + r"|permanent|unknown (?:user|recipient|address)|user unknown|no such (?:user|recipient)"
    r"|(?:mailbox|address|user|recipient) (?:is )?(?:unavailable|not found|does not exist|full)"
    r"|rejected|refused|not listed|did not reach|fail|error|unable to deliver|returned"
    r"|could not|couldn't|cannot be delivered|not going to try again|\b5\d\d[ -]|\b5\.\d\.\d",
    re.IGNORECASE,
)
"""Words of a failure: a notice must say one (in its subject or text) to be a bounce."""

_ADDRESS = (
    r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,}|xn--[\w-]+)"
)
_VALID_ADDRESS = re.compile(rf"(?:{_ADDRESS})\Z")
_FAILED_RECIPIENT_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    for pattern in (
        # Postfix, qmail, Yahoo, GMX: "<anna@example.com>: host mx.example.com said: 550 ..."
        rf"^[ \t]*[<\"]({_ADDRESS})[>\"]:",
        # sendmail: "<anna@example.com>... User unknown"
        rf"^[ \t]*<?({_ADDRESS})>?\.\.\.[ \t]*(?:user unknown|unknown user|no such user|mailbox"
        rf"|550|553|554)",
        # Gmail, Exchange Online: "wasn't delivered to anna@...", "Your message to anna@...
        # couldn't be delivered", Lotus Notes "was not delivered to: anna@..."
        rf"(?:wasn't|was not|couldn't be|could not be) delivered to:?\s*<?({_ADDRESS})>?",
        rf"message to <?({_ADDRESS})>? (?:couldn't|could not|can't|cannot) be delivered",
        rf"delivery has failed to these recipients or groups:\s*(?:[^@\n]*[(<])?({_ADDRESS})",
        # Lotus Notes, webmail: "User anna@... not listed in ...", "unknown user: anna@..."
        rf"^[ \t]*user <?({_ADDRESS})>? (?:not listed|is unknown|does not exist|unknown)",
        rf"(?:unknown user|user unknown|no such user|undeliverable to)[^:\n]*:[ \t]*<?({_ADDRESS})",
        # virus gateways and others: "Intended recipient: anna@...", "Recipient: anna@..."
        rf"^[ \t]*(?:intended |original |failed |rejected )?recipients?(?: address)?:[ \t]*"
        rf"<?({_ADDRESS})>?[ \t]*$",
        # DSN fields copied into the text
        rf"^[ \t]*(?:final|original)-recipient:[ \t]*rfc822;[ \t]*<?({_ADDRESS})>?",
        # localized: "Ihre Nachricht an anna@... konnte nicht zugestellt werden" and kin
        rf"\b(?:an|à|a|para|aan|till|til|do|to)\s+<?({_ADDRESS})>?\s+(?:konnte nicht|n'a pas pu"
        rf"|no se (?:pudo|puede)|non (?:è|può)|kon niet|não (?:pôde|foi)|kunde inte|kunne ikke"
        rf"|nie (?:mógł|może|została)|nemohl|nelze|не может|не удалось|не был)",
    )
)
"""Where notices name a failed recipient, for the formats ``flufl.bounce`` does not read."""

_BLOCK_START = re.compile(
    r"following address(?:\(es\)|es)?\s+failed|permanent fatal errors"
    r"|following recipients?(?:\(s\))? (?:failed|could not be (?:delivered|reached)|cannot be"
    r" reached)|did not reach the following recipient|undeliverable to the following"
    r"|(?:wasn't|was not|were not|unable to|could not|couldn't) (?:able to )?deliver(?:ed)?"
    r" (?:your|the|this) (?:message|mail) to the following|delivery to the following recipient"
    r"|could not be delivered to the following|mail to the following recipients"
    r"|folgende(?:n|s)? (?:empfänger|adresse)|nicht zugestellt werden|destinataires? suivants?"
    r"|n'a pas pu être (?:remis|distribué)|destinatarios? siguientes?|no se pudo entregar"
    r"|destinatari seguenti|non è stato possibile recapitare|volgende ontvanger"
    r"|destinatários? seguintes?|não foi possível entregar|följande mottagare"
    r"|følgende (?:modtagere|mottakere)|następując\w+ (?:adresat|odbiorc)|nie można dostarczyć"
    r"|následující\w* příjemc|seuraaville vastaanottajille|следующ\w+ (?:получател|адрес)"
    r"|以下の宛先|以下の受信者|以下收件人|下列收件人|以下の(?:アドレス|メールアドレス)".replace(
        " ", r"\s+"
    ),
    re.IGNORECASE,
)
"""A line after which a notice lists failed recipients, one a line (Exim, sendmail, Exchange,
GroupWise, Gmail, Hotmail, qmail, and the same sentences in other languages)."""
_BLOCK_ADDRESS = re.compile(rf"^[ \t]*[<\"'*(]*({_ADDRESS})(?=[>\"')]|\s|:|,|;|$)")
_BLOCK_LINES = 40

_RETURNED_MESSAGE = re.compile(
    r"^[ \t>*-]*(?:"
    r"this is a copy of (?:the|your) (?:original )?message|below this line is a copy"
    r"|(?:a )?copy of (?:the|your) (?:original )?message (?:follows|is attached|below)"
    r"|(?:the )?original message (?:follows|is attached|headers?|details)"
    r"|-+ ?original message ?-+|returned (?:mail|message) follows|start of returned message"
    r"|-+ ?returned (?:mail|message) ?-+|unsent message follows|header of the source mail"
    r"|message headers? follows?|included is a copy of the message|your message reads"
    r"|old message:|original message headers|-- the header|message text follows"
    r"|-+ ?forwarded message ?-+|-+ ?message d'origine ?-+|-+ ?ursprüngliche nachricht ?-+"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
"""A line after which a notice quotes the message it returns: no failed recipient is read
from there (Exim, qmail, Yahoo, sendmail, Exchange, and their kin)."""

_QUOTED_LINE = re.compile(r"^[ \t]*>(?!>> ).*$", re.MULTILINE)
"""A line quoted with ``>`` (a person's reply quoting a bounce); sendmail's transcript lines
(``>>> RCPT To:<...>``) stay."""

_DELAY = re.compile(
    r"warning:? (?:message|could not send)|this is a warning|warning only|advisory-only"
    r"|do not need to resend|not yet been delivered|has been delayed|delivery (?:is )?delayed"
    r"|will (?:be retried|continue to (?:try|retry)|keep trying|retry)|still (?:being )?retr"
    r"|delivery attempts will continue|(?:has|have) been postponed|is delayed|\(delay\)"
    r"|zustellung verzögert|verzögert|retardé|retrasad|ritardat|vertraagd",
    re.IGNORECASE,
)
_PERMANENT = re.compile(
    r"permanent(?:ly)? (?:error|fail)|failed permanently|fatal error|gave up|giving up"
    r"|could not be delivered to (?:one|all)|permanent failure",
    re.IGNORECASE,
)
_ORIGINAL_PARTS = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})
_NOTICE_TYPES = frozenset({"text/plain", "text/html", "message/delivery-status"})


@dataclass(frozen=True, slots=True)
class Notice:
    """What a failure notice's text says: the failed recipients, or that it is a delay."""

    failed_recipients: tuple[str, ...] = ()
    is_delay: bool = False


def is_bounce_address(address: str) -> bool:
    """Whether ``address`` is a mail system's (``MAILER-DAEMON@...``, ``postmaster@...``...)."""
    local, at, _ = address.strip().rpartition("@")
    return bool(at) and local.lower() in BOUNCE_LOCAL_PARTS


def might_be_bounce(headers: Headers) -> bool:
    """Whether the headers alone say the message may be a bounce, so that its report is read.

    True for a delivery report (``multipart/report``, except read receipts), a message from a
    mail system (``MAILER-DAEMON@``, ``postmaster@``, a display name such as "Mail Delivery
    System"), a null or empty sender (``From: <>``), or a bounce subject in one of many
    languages and charsets (``Undeliverable:``, ``Unzustellbar:``, ``Non remis :``,
    ``配信不能:``...). A loose test: a message is a bounce only when its text names a failed
    recipient (:func:`read_notice`).

    >>> from postroom.mail.types import Mailbox
    >>> anna = (Mailbox("Anna", "anna@example.org"),)
    >>> might_be_bounce(Headers(subject="Unzustellbar: Ihre Bewerbung", from_=anna))
    True
    >>> might_be_bounce(Headers(subject="Re: Unzustellbar: Ihre Bewerbung", from_=anna))
    False
    """
    if headers.content_type == "multipart/report" and (
        headers.report_type != "disposition-notification"
    ):
        return True  # a delivery report (a read receipt is judged by its sender and subject)
    if is_from_mail_system(headers):
        return True
    if _REPLY_PREFIX.match(headers.subject):
        return False  # a person's reply or forward about a bounce is not one
    return bool(_BOUNCE_SUBJECT.search(headers.subject))


def is_valid_address(address: str) -> bool:
    """Whether ``address`` is a plain ``local@domain.tld`` (no ``..``, a real domain):
    ``david...@gmail.com`` and ``dylan`` are not.

    >>> is_valid_address("anna.berg+jobs@example.co.uk"), is_valid_address("david...@gmail.com")
    (True, False)
    """
    return _VALID_ADDRESS.match(address) is not None and len(address) <= 254


def read_notice(headers: Headers, msg: Message) -> Notice:
    """The failed recipients a failure notice names, or that it is only a delay warning.

    ``flufl.bounce``'s detectors read the message (a light twin of it); when the notice comes
    from a mail system (:func:`is_from_mail_system`), our own patterns add what they find in
    its text. Either way an address is kept only when it is valid, named in the notice's own
    text (not only in the returned message), and is not the notice's sender or recipient
    (:mod:`postroom.mail.bounce`). Only temporary failures found, or a notice that says it is a
    warning: a delay.
    """
    notice_text, returned_text = split_notice(msg)
    if _is_delay(headers.subject, notice_text):
        return Notice(is_delay=True)
    head = notice_text[:8192]
    if not (_FAILURE_CUE.search(headers.subject) or _FAILURE_CUE.search(head)):
        return Notice()
    from_system = is_from_mail_system(headers)
    if not headers.from_ and not (
        _BOUNCE_SUBJECT.search(headers.subject) or _BOUNCE_SUBJECT.search(head)
    ):
        return Notice()  # no sender and no word of a bounce: a message that lost its From
    temporary, permanent = get_flufl_failures(_for_detectors(msg))
    own = {m.address.lower() for m in (*headers.from_, *headers.sender, *headers.to, *headers.cc)}
    found = _keep_reported(permanent, notice_text, returned_text, own)
    if not found and temporary:
        return Notice(is_delay=True)
    if from_system:
        found = _keep_reported([*found, *find_recipients(notice_text)], notice_text, "", own)
    return Notice(failed_recipients=tuple(found))


def is_from_mail_system(headers: Headers) -> bool:
    """Whether the sender is a mail system: a null or empty sender, ``MAILER-DAEMON@``,
    ``postmaster@`` and kin, or a display name such as "Mail Delivery System", "Microsoft
    Outlook", "System Administrator", "システム管理者". Only such notices are read by our own
    patterns; from anyone else, only a report or ``flufl.bounce``'s MTA-specific detectors
    make a bounce (a person writing "the following recipients could not be reached" is not
    one)."""
    if not headers.from_:
        return True
    return any(is_bounce_address(m.address) or _BOUNCE_NAME.search(m.name) for m in headers.from_)


def find_recipients(notice_text: str) -> list[str]:
    """The addresses our own patterns find in a notice's text: those after a "the following
    recipients failed" line, one a line (:func:`_read_block`), and those the one-line patterns
    of the common MTAs name."""
    found: list[str] = []
    for start in _BLOCK_START.finditer(notice_text):
        found += _read_block(notice_text, start.end())
    for pattern in _FAILED_RECIPIENT_PATTERNS:
        found += (m.group(1) for m in pattern.finditer(notice_text))
    return found


def _read_block(text: str, offset: int) -> list[str]:
    """The addresses that begin the lines after ``offset`` (the rest of the starting line
    included): indented detail lines are passed over; the block ends at a separator line
    (``---``), or at a line of prose once an address was found."""
    found: list[str] = []
    lines = text[offset:].split("\n", _BLOCK_LINES)[:_BLOCK_LINES]
    for number, line in enumerate(lines):
        if not number:  # the rest of the starting line: "failed: anna@..." or " -----"
            match = _BLOCK_ADDRESS.match(line.lstrip(" :-"))
            found += [match.group(1)] if match is not None else []
            continue
        match = _BLOCK_ADDRESS.match(line)
        if match is not None:
            found.append(match.group(1))
        elif _ends_block(line, bool(found), number):
            break
    return found


def _ends_block(line: str, found: bool, number: int) -> bool:
    """A separator line, prose after the addresses, or no address in the first lines."""
    if line.lstrip().startswith("--"):
        return True
    return (found and line[:1].isalpha()) or (not found and number > 6)


def split_notice(msg: Message) -> tuple[str, str]:
    """``(notice, returned)``: the text a mail system wrote (its text parts and delivery-status
    parts, cut before a "copy of the message follows" line), and the text of the message it
    returns (that cut-off text, and the headers of an attached original), each at most
    :data:`MAX_TEXT_BYTES` characters."""
    notice: list[str] = []
    returned: list[str] = []
    for part in _iter_report_parts(msg):
        content_type = part.get_content_type()
        if content_type in _ORIGINAL_PARTS:
            returned.append(_read_original(part))
            continue
        text = _read_part(part, content_type)
        if content_type != "message/delivery-status":
            text = _QUOTED_LINE.sub("", text)
        cut = _RETURNED_MESSAGE.search(text)
        if cut is not None:
            returned.append(text[cut.start() :])
            text = text[: cut.start()]
        notice.append(text)
    return "\n".join(notice)[:MAX_TEXT_BYTES], "\n".join(returned)[:MAX_TEXT_BYTES]


def _iter_report_parts(msg: Message) -> Iterator[Message]:
    """The leaves of the notice (an attached message is one leaf), the returned-message
    parts among them; never the parts of an attached message."""
    for part in iter_leaf_parts(msg):
        content_type = part.get_content_type()
        if content_type in _NOTICE_TYPES or content_type in _ORIGINAL_PARTS:
            yield part


def _read_part(part: Message, content_type: str) -> str:
    if content_type == "message/delivery-status":
        data = get_decoded_message_bytes(part)
        if data is not None:
            return decode_text(data, part.get_content_charset(), [], limit=MAX_TEXT_BYTES)
        payload = part.get_payload()
        if isinstance(payload, list):
            return "\n\n".join(str(b) for b in payload if isinstance(b, Message))[:MAX_TEXT_BYTES]
        return str(payload)[:MAX_TEXT_BYTES]
    text = read_text_part(part, [])
    return html_to_text(text) if content_type == "text/html" else text


def _read_original(part: Message) -> str:
    """The returned message's header fields and the start of its first text part (enough to
    know which addresses it holds; never its attachments)."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        data = part.get_payload(decode=True)
        return decode_text(data, None, [], limit=MAX_TEXT_BYTES) if isinstance(data, bytes) else ""
    texts: list[str] = []
    for original in payload:
        if not isinstance(original, Message):
            continue
        texts += (f"{name}: {value}" for name, value in original.items())
        first = next(
            (p for p in iter_leaf_parts(original) if p.get_content_maintype() == "text"), None
        )
        texts.append(read_text_part(first, []) if first is not None else "")
    return "\n".join(texts)[:MAX_TEXT_BYTES]


def _is_delay(subject: str, notice_text: str) -> bool:
    """A warning that delivery is late (and will be retried), not a failure report."""
    head = notice_text[:4096]
    if _PERMANENT.search(head) or _PERMANENT.search(subject):
        return False
    return bool(_DELAY.search(subject) or _DELAY.search(head))


def _keep_reported(
    addresses: Iterable[str], notice_text: str, returned_text: str, own: set[str]
) -> list[str]:
    """The addresses that pass the guards (module docstring), in order, without repeats."""
    notice_lower = notice_text.lower()
    returned_lower = returned_text.lower()
    kept: dict[str, str] = {}
    for address in addresses:
        address = address.strip().strip("<>").strip()
        key = address.lower()
        if key in kept or key in own or not is_valid_address(address):
            continue
        if notice_lower.endswith(key) and notice_lower.count(key) == 1:
            continue  # at the very end of a text cut short: the address may be cut too
        if is_bounce_address(address):
            continue
        if key not in notice_lower:
            # derived by a detector (AOL's screen names, Yale's domains): its local part must
            # be named in the notice, and the address never only in the returned message
            local = key.rpartition("@")[0]
            if key in returned_lower or not re.search(
                rf"(?<![\w.+-]){re.escape(local)}\b", notice_lower
            ):
                continue
        kept[key] = address
    return list(kept.values())


def _for_detectors(msg: Message) -> Message:
    """A light twin of ``msg`` for ``flufl.bounce``, whose detectors read every line of every
    part, many times over: a returned message keeps only its header fields, a part that is
    not text loses its content, a text part keeps its first :data:`MAX_TEXT_BYTES`; a message
    with no From field gets ``From: <>`` (a detector fails without one). The structure (the
    parts and their types) stays; ``msg`` itself is never changed."""
    twin = _copy_fields(msg)
    if not str(msg.get("from", "")).strip():
        del twin["From"]
        twin["From"] = "<>"
    stack = [(msg, twin)]
    while stack:
        part, copy = stack.pop()
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [c for c in payload if isinstance(c, Message)]
            copies: list[Message | str] = []
            for child in children:
                child_copy = _copy_fields(child)
                copies.append(child_copy)
                if part.get_content_type() != "message/rfc822":
                    stack.append((child, child_copy))
            copy.set_payload(copies)
        elif part.get_content_maintype() in ("text", "message"):
            copy.set_payload(str(payload)[:MAX_TEXT_BYTES])
        else:
            copy.set_payload("")
    return twin


def _copy_fields(part: Message) -> Message:
    copy = Message()
    for name, value in part.items():
        copy[name] = value
    copy.set_default_type(part.get_default_type())
    copy.set_payload("")
    return copy
