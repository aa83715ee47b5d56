"""The new part of a reply: what the sender wrote, without the quoted history or boilerplate.

A pure function over ``str``; nothing raises and the work is bounded (see :func:`split_reply`).
The patterns recognise how mail clients introduce the history in 16 languages (docs/concepts.md,
"Replies"): no maintained library did (mail-parser-reply, quotequail, talon and
email-reply-parser each split at most 49% of the multilingual set of
``tests/unit/mail/test_reply_corpus.py`` exactly right; ``benchmarks/reply_libraries.py``).
"""

from __future__ import annotations

import re
from enum import Enum

REPLY_PREFIX_CHARS = 16 * 1024
""":func:`split_reply` looks for the start of the history in at most this many characters: a
reply is at the top. Lines beyond are kept as they are."""

ATTRIBUTION_MAX_LINES = 3
"""An attribution line (``On ... wrote:``) may be wrapped over at most this many lines, ..."""

ATTRIBUTION_MAX_CHARS = 300
"""... and be at most this long."""

HISTORY_LINE_MAX_CHARS = 300
"""A line longer than this is never taken for an attribution, separator, header field or
sign-off (each of those is short): the patterns then read only short lines."""

HEADER_BLOCK_MAX_LINES = 8
"""The fields of a quoted header block (``From:`` / ``Sent:`` / ``To:`` / ``Subject:``) are read
from at most this many lines."""


class _Field(Enum):
    FROM = "from"
    DATE = "date"
    TO = "to"
    SUBJECT = "subject"
    CC = "cc"


_FIELD_NAMES: dict[_Field, tuple[str, ...]] = {
    # en, fr, de, nl, it, es, pt, pl, ru, fi, sv, no/da, cs, zh, ja
    _Field.FROM: (
        "from", "de", "von", "van", "da", "od", "от", "lähettäjä", "från", "fra",
        "发件人", "發件人", "寄件者", "寄件人", "差出人",
    ),
    _Field.DATE: (
        "sent", "date", "envoyé", "envoye", "gesendet", "datum", "verzonden", "inviato", "data",
        "enviado", "enviado el", "enviada em", "enviado em", "fecha", "wysłano", "wysłane",
        "отправлено", "дата", "lähetetty", "päivämäärä", "skickat", "sendt", "dato",
        "odesláno", "发送时间", "發送時間", "日期", "时间", "寄件日期", "送信日時", "日付", "日時",
    ),
    _Field.TO: (
        "to", "à", "a", "an", "aan", "para", "do", "кому", "vastaanottaja", "till", "til",
        "komu", "收件人", "收件者", "宛先", "destinataire", "empfänger",
    ),
    _Field.SUBJECT: (
        "subject", "objet", "sujet", "betreff", "onderwerp", "oggetto", "asunto", "assunto",
        "temat", "тема", "aihe", "ämne", "emne", "předmět", "主题", "主題", "主旨", "件名",
    ),
    _Field.CC: ("cc", "bcc", "cci", "kopie", "копия", "kopio", "kopia", "kopi", "抄送", "副本"),
}  # fmt: skip
_FIELD_OF = {name: field for field, names in _FIELD_NAMES.items() for name in names}
_HEADER_FIELD = re.compile(
    r"[ \t]*(?:>[ \t>]*)?\*{0,2}("
    + "|".join(sorted(map(re.escape, _FIELD_OF), key=len, reverse=True))
    + r")[ \t\u00a0]*[:：]",
    re.IGNORECASE,
)

_ORIGINAL_MESSAGE = (
    "original message", "reply message", "ursprüngliche nachricht", "antwort nachricht",
    "message d'origine", "message original", "oorspronkelijk bericht", "messaggio originale",
    "mensaje original", "mensagem original", "oryginalna wiadomość", "wiadomość oryginalna",
    "исходное сообщение", "alkuperäinen viesti", "ursprungligt meddelande",
    "opprinnelig melding", "oprindelig meddelelse", "původní zpráva", "原始邮件", "原始郵件",
    "元のメッセージ",
    # forwards: what follows is someone else's message too
    "forwarded message", "weitergeleitete nachricht", "message transféré", "message transfere",
    "doorgestuurd bericht", "messaggio inoltrato", "mensaje reenviado", "mensagem encaminhada",
    "wiadomość przekazana", "пересланное сообщение", "välitetty viesti",
    "vidarebefordrat meddelande", "videresendt melding", "videresendt meddelelse",
    "přeposlaná zpráva", "转发的邮件", "轉寄的郵件", "転送メッセージ",
)  # fmt: skip
_FORWARD_INTRO = re.compile(
    r"[ \t]*(?:begin forwarded message|anfang der weitergeleiteten nachricht|"
    r"début du message (?:réexpédié|réenvoyé|transféré)|doorgestuurd bericht|"
    r"inizio messaggio inoltrato|inicio del mensaje reenviado|início da mensagem reencaminhada)"
    r"[ \t\u00a0]*[:：][ \t]*$",
    re.IGNORECASE,
)
"""Apple Mail's forward line (``Begin forwarded message:``) and its translations."""
_WROTE = (
    r"wrote|writes|sent|a écrit|a ecrit|schrieb|geschrieben|escribió|escribio|ha scritto|"
    r"scrisse|schreef|geschreven|escreveu|pisze|napisał\(a\)|napisał|napisała|napisana|"
    r"написал\(а\)|написала|написал|пишет|kirjoitti|skrev|skriver|napsal\(a\)|napsala|napsal|"
    r"đã viết"
)
_WROTE_CJK = "写道|寫道|のメッセージ|のメール"
_SEPARATOR = re.compile(
    r"[ \t]*(?:>[ \t>]*)?-{2,}[ \t]*(?:"
    + "|".join(map(re.escape, _ORIGINAL_MESSAGE))
    + rf"|[^\n]{{1,80}}?\b(?:{_WROTE})\b)[ \t]*-{{2,}}[ \t]*$",
    re.IGNORECASE,
)
"""``-----Original Message-----`` and its translations; Android's ``---- Anna wrote ----``."""

_ATTRIBUTION_VERB = re.compile(rf"(?:(?<!\w)(?:{_WROTE})(?!\w)|{_WROTE_CJK})", re.IGNORECASE)
_ENDS_WITH_ADDRESS = re.compile(r"[>)][ \t\u00a0]*[:：]$")
"""Gmail in Russian and Japanese names no verb: ``пн, 3 июн. 2024 г. в 10:00, Anna <a@b>:``."""
_DIGIT = re.compile(r"\d")
_DATED_OPENING = re.compile(r"(?:on|le|am|el|il|op|em|dnia|den|på|dne|в)\s", re.IGNORECASE)
"""How an attribution opens on its date (``On Mon, Robin wrote:``): without a digit, such a
line is still an attribution when a quote follows (``As Robin wrote:`` is the sender's)."""
_QUOTED = re.compile(r"[ \t]*>")
_RULE = re.compile(r"[ \t]*(?:_{5,}|-{5,}|={5,})[ \t]*$")
_SIGNATURE_DASHES = re.compile(r"--[ \t]?$")
"""RFC 3676's ``-- `` signature separator (its space is often lost)."""

_MOBILE_START = re.compile(
    r"(?:sent from|sent with|sent via|sent using|get outlook for|envoyé de|envoyé depuis|"
    r"obtenir outlook|von meinem|gesendet von|gesendet mit|outlook für|enviado desde|enviado de|"
    r"enviado do|enviado con|obtener outlook|obter o outlook|inviato da|scarica outlook|"
    r"verzonden vanaf|verstuurd vanaf|verzonden met|outlook voor|wysłane z|wysłano z|"
    r"pobierz aplikację outlook|pobierz outlook|отправлено с|отправлено из|получить outlook|"
    r"lähetetty|hanki outlook|skickat från|hämta outlook|sendt fra|få outlook|hent outlook|"
    r"odesláno z|stáhněte si outlook|发自|來自|获取 outlook|取得 outlook)",
    re.IGNORECASE,
)
_MOBILE_END = re.compile(r"(?:から送信|を入手)$")
_MOBILE_DEVICE = re.compile(
    r"iphon|ipad|ipod|android|blackberry|samsung|galaxy|huawei|xiaomi|pixel|nokia|xperia|"
    r"motorola|oneplus|droid|htc|mobile|móvil|movil|cellulare|smartphone|handy|mobilgerät|phone|"
    r"tablet|wireless|outlook|mail|yahoo|aol|windows|ios|sparrow|телефон|смартфон|手机|携帯",
    re.IGNORECASE,
)
_MOBILE_MAX_CHARS = 80
_TRAILING_LINK = re.compile(r"\s*<[^<>\s]*>$")


def split_reply(text: str) -> str:
    """The new part of a reply: the history removed with its attribution (``On ... wrote:``,
    ``Le ... a écrit :``, ``Am ... schrieb ...:``, ...), its header block (``From:`` / ``Sent:``,
    ``Von:`` / ``Gesendet:``, ``发件人:`` / ``发送时间:``, ...) or ``-----Original Message-----``
    line; ``>``-quoted lines removed; then a trailing mobile sign-off (``Sent from my iPhone``,
    ``Envoyé de mon iPhone``, ``Get Outlook for iOS``, ...) and a ``-- `` signature.

    * An attribution followed by ``>``-quoted lines ends only that quote: text after it (a reply
      written below the quote) is kept. An attribution followed by unquoted text, a header
      block and an original-message line end the reply.
    * Every other line is the sender's: ``-Anna`` and ``Sent from my desk I can see ...`` stay.
    * The history is looked for in the first :data:`REPLY_PREFIX_CHARS` characters; each line is
      read a bounded number of times (at most :data:`ATTRIBUTION_MAX_LINES` and
      :data:`HEADER_BLOCK_MAX_LINES` ahead), so the work is linear in the text.
    * A text that is all quote or all boilerplate is returned stripped, as the reply.

    >>> split_reply("Thanks, see you then.\\n\\nOn Mon, 1 Jan 2024, Anna wrote:\\n> Shall we meet?")
    'Thanks, see you then.'
    """
    lines = text.replace("\r\n", "\n").split("\n")
    dropped = [False] * len(lines)
    end = len(lines)
    seen = 0
    index = 0
    while index < len(lines) and seen < REPLY_PREFIX_CHARS:
        line = lines[index]
        seen += len(line) + 1
        if _QUOTED.match(line):
            dropped[index] = True
        elif len(line) > HISTORY_LINE_MAX_CHARS:
            pass
        elif _SEPARATOR.match(line) or _FORWARD_INTRO.match(line) or _header_block_at(lines, index):
            end = index
            break
        elif (attribution := _attribution_at(lines, index)) is not None:
            if not _quote_follows(lines, attribution):
                end = index
                break
            for covered in range(index, attribution):
                dropped[covered] = True
            index = attribution
            continue
        index += 1
    kept = _without_boilerplate(lines[:end], dropped[:end])
    reply = "\n".join(_joined(lines[:end], kept)).strip()
    return reply or text.strip()


def _attribution_at(lines: list[str], index: int) -> int | None:
    """The index after the attribution that starts at ``lines[index]``, if one does.

    An attribution ends with a colon and has a digit (its date); it names a verb (``wrote``,
    ``a écrit``, ``写道``, ...) or ends with an address (``<a@b>:``); it has an address or is
    followed by a quote (checked by the caller for the latter). When a shorter attribution
    starts on a later line of the same lines, that one is taken: the earlier line is reply text.
    """
    block = ""
    for count in range(1, ATTRIBUTION_MAX_LINES + 1):
        last = index + count - 1
        if last >= len(lines) or len(lines[last]) > HISTORY_LINE_MAX_CHARS:
            return None
        if not lines[last].strip() or _QUOTED.match(lines[last]):
            return None
        block = f"{block} {lines[last].strip()}" if block else lines[last].strip()
        if len(block) > ATTRIBUTION_MAX_CHARS:
            return None
        if _is_attribution(block, lines, last + 1):
            if count > 1 and not lines[index].rstrip().endswith(("<", "(", ",")):
                later = " ".join(line.strip() for line in lines[index + 1 : last + 1])
                if _is_attribution(later, lines, last + 1):
                    return None
            return last + 1
    return None


def _is_attribution(block: str, lines: list[str], after: int) -> bool:
    quote_follows = _quote_follows(lines, after)
    if not _DIGIT.search(block) and not (quote_follows and _DATED_OPENING.match(block)):
        return False
    if not block.endswith((":", "：")):
        # Old Gmail: ``2011/4/7 Anna <a@b>`` with no colon, right above the quote.
        return block.endswith(">") and "@" in block and quote_follows
    if not (_ATTRIBUTION_VERB.search(block) or _ENDS_WITH_ADDRESS.search(block)):
        return False
    return "@" in block or quote_follows


def _quote_follows(lines: list[str], index: int) -> bool:
    """Whether the first line with text from ``lines[index]`` on is ``>``-quoted."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index < len(lines) and bool(_QUOTED.match(lines[index]))


def _header_block_at(lines: list[str], index: int) -> bool:
    """Whether a quoted message's header block starts at ``lines[index]``: a From or Date field,
    then (wrapped values allowed, no blank line) two different fields with an address among
    them, or three with From among them and a Subject field or a rule line just above. A
    reply's own ``From: Monday`` / ``To: Friday`` lines are not taken for one."""
    first = _header_field(lines[index])
    if first not in (_Field.FROM, _Field.DATE):
        return False
    fields: set[_Field] = {first}
    has_address = "@" in lines[index]
    for line in lines[index + 1 : index + HEADER_BLOCK_MAX_LINES]:
        if not line.strip():
            break
        field = _header_field(line)
        if field is not None:
            fields.add(field)
            has_address = has_address or "@" in line
    if len(fields) >= 2 and has_address:
        return True
    if _Field.FROM not in fields or len(fields) < 3:
        return False
    ruled = index > 0 and bool(_RULE.match(lines[index - 1]))
    return _Field.SUBJECT in fields or ruled


def _header_field(line: str) -> _Field | None:
    if len(line) > HISTORY_LINE_MAX_CHARS:
        return None
    match = _HEADER_FIELD.match(line)
    return None if match is None else _FIELD_OF[" ".join(match[1].lower().split())]


def _without_boilerplate(lines: list[str], dropped: list[bool]) -> list[bool]:
    """``dropped``, with a trailing mobile sign-off, a ``-- `` signature and rule lines left
    before the history also dropped."""
    kept = [not gone for gone in dropped]
    text_above = False
    for index, line in enumerate(lines):
        if not kept[index]:
            continue
        if text_above and _SIGNATURE_DASHES.match(line):
            kept[index:] = [False] * (len(lines) - index)
            break
        text_above = text_above or bool(line.strip())
    last = len(lines) - 1
    while last >= 0:
        line = lines[last]
        if kept[last] and line.strip() and not (_is_mobile_sign_off(line) or _RULE.match(line)):
            break
        kept[last] = False
        last -= 1
    return kept


def _is_mobile_sign_off(line: str) -> bool:
    """``Sent from my iPhone``, ``Von meinem iPhone gesendet``, ``Get Outlook for iOS<link>``:
    a known opening or ending, a device or app named, short, one clause (``Sent from my desk,
    which ...`` is the sender's own sentence)."""
    if len(line) > HISTORY_LINE_MAX_CHARS:
        return False
    words = _TRAILING_LINK.sub("", line.strip()).rstrip(".")
    if len(words) > _MOBILE_MAX_CHARS or any(mark in words for mark in ",;!?"):
        return False
    named = _MOBILE_START.match(words) or _MOBILE_END.search(words)
    return bool(named) and bool(_MOBILE_DEVICE.search(words))


def _joined(lines: list[str], kept: list[bool]) -> list[str]:
    """The kept lines; where lines were dropped, the blank lines around them become one."""
    out: list[str] = []
    gap = False
    for line, keep in zip(lines, kept, strict=True):
        if not keep:
            gap = True
        elif not line.strip() and gap:
            continue
        else:
            if gap and out and out[-1].strip():
                out.append("")
            gap = False
            out.append(line)
    return out
