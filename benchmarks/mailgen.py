"""Generate realistic mail for benchmarks: deterministic, varied, and with known answers.

``generate(n, seed)`` yields ``GeneratedMessage`` objects: the RFC 5322 bytes plus what the
pipeline should conclude (direction, the record address it concerns, bulk or not). The mix:

* plain text, multipart/alternative (text + HTML), HTML only; replies with quoted history;
* attachments (PDF, DOCX, images: random bytes of 5-60 KB, base64) on about a fifth;
* charsets utf-8, iso-8859-1, windows-1252, koi8-r, shift_jis, with encoded-word subjects and
  names, quoted-printable and base64 bodies;
* about a third to or from a record address (``contact_addresses``), some newsletters with
  List-Id / List-Unsubscribe, the rest to or from strangers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.utils import format_datetime, formataddr, make_msgid

OWNER = "recruiter@postroom-firm.example"
OWNER_NAME = "Robin Recruiter"

FIRST = [
    "Anna",
    "Björn",
    "Chloé",
    "Dmitri",
    "Eva",
    "François",
    "Grete",
    "Hiro",
    "Inés",
    "Jürgen",
    "Kasia",
    "Lars",
    "Marta",
    "Noor",
    "Olek",
    "Pia",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomasz",
]
LAST = [
    "Berg",
    "Müller",
    "Dubois",
    "Ivanov",
    "Novák",
    "García",
    "Yamada",
    "Rossi",
    "Öztürk",
    "Kowalski",
    "Larsen",
    "Silva",
    "Nowak",
    "Fischer",
    "Martin",
    "Bianchi",
    "Sato",
    "Lind",
]
WORDS = [
    "role",
    "interview",
    "salary",
    "offer",
    "candidate",
    "team",
    "remote",
    "office",
    "notice",
    "week",
    "call",
    "feedback",
    "contract",
    "start",
    "date",
    "client",
    "reference",
    "profile",
    "experience",
    "skills",
    "project",
    "manager",
    "engineer",
    "python",
    "senior",
    "junior",
    "available",
    "tomorrow",
    "monday",
    "thanks",
    "regards",
]
TEXTS = {
    "utf-8": "Grüße aus München, merci beaucoup, спасибо, 有難う",
    "iso-8859-1": "Grüße aus Köln, ça va très bien, señor",
    "windows-1252": "Smart “quotes” – dashes — and €uro signs",
    "koi8-r": "Добрый день, резюме во вложении",
    "shift_jis": "履歴書を添付しました。よろしくお願いします。",
}


@dataclass(frozen=True, slots=True)
class GeneratedMessage:
    raw: bytes
    contact: str | None
    """The record address this message is to or from, if any."""
    is_sent: bool
    is_bulk: bool


def contact_addresses(count: int) -> list[tuple[str, str]]:
    """``count`` distinct (name, address) pairs for records."""
    rng = random.Random(7)
    result = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        result.append(
            (f"{first} {last}", f"{first[0].lower()}.person{i}@candidates{i % 50}.example")
        )
    return result


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _paragraphs(rng: random.Random, charset: str) -> list[str]:
    paras = [_sentence(rng, rng.randint(8, 30)) for _ in range(rng.randint(2, 8))]
    paras.insert(rng.randint(0, len(paras)), TEXTS[charset])
    return paras


def _html(paras: list[str]) -> str:
    body = "".join(f"<p style='margin:0 0 8px'>{p}</p>" for p in paras)
    return (
        "<html><head><style>p{font-family:Arial}</style></head><body>"
        f"<div>{body}</div><table><tr><td><b>Robin</b> | Recruiter</td></tr></table>"
        "</body></html>"
    )


def _text_part(text: str, subtype: str, charset: str, rng: random.Random) -> EmailMessage:
    text = text.encode(charset, "replace").decode(charset)  # what a real client would send
    part = EmailMessage()
    cte = "base64" if rng.random() < 0.3 else "quoted-printable"
    part.set_content(text, subtype=subtype, charset=charset, cte=cte)
    del part["MIME-Version"]
    return part


def _stranger(rng: random.Random, i: int) -> tuple[str, str]:
    return (f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"someone{i}@strangers{i % 97}.example")


def generate(
    count: int, *, seed: int = 1, contacts: list[tuple[str, str]] | None = None
) -> Iterator[GeneratedMessage]:
    rng = random.Random(seed)
    contacts = contacts or contact_addresses(max(10, count // 20))
    start = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    for i in range(count):
        charset = rng.choice(list(TEXTS))
        roll = rng.random()
        is_bulk = 0.33 <= roll < 0.43
        contact = rng.choice(contacts) if roll < 0.33 else None
        other = contact or _stranger(rng, i)
        is_sent = not is_bulk and rng.random() < 0.4
        paras = _paragraphs(rng, charset)
        if rng.random() < 0.35:
            quoted = "\n".join("> " + p for p in _paragraphs(rng, "utf-8"))
            paras.append(f"On Mon, 3 Mar 2025 at 10:00, {other[0]} <{other[1]}> wrote:\n{quoted}")
        text = "\n\n".join(paras)
        shape = rng.random()
        body: Message
        if shape < 0.3:
            body = _text_part(text, "plain", charset, rng)
        elif shape < 0.85:
            body = MIMEMultipart("alternative")
            body.attach(_text_part(text, "plain", charset, rng))
            body.attach(_text_part(_html(paras), "html", charset, rng))
        else:
            body = _text_part(_html(paras), "html", charset, rng)
        if rng.random() < 0.2:
            outer = MIMEMultipart("mixed")
            outer.attach(body)
            for _ in range(rng.randint(1, 2)):
                kind, name = rng.choice(
                    [
                        ("pdf", "CV {}.pdf"),
                        (
                            "vnd.openxmlformats-officedocument.wordprocessingml.document",
                            "Lebenslauf {}.docx",
                        ),
                        ("octet-stream", "photo {}.jpg"),
                    ]
                )
                attachment = MIMEApplication(rng.randbytes(rng.randint(5_000, 60_000)), kind)
                attachment.add_header(
                    "Content-Disposition",
                    "attachment",
                    filename=("utf-8", "", name.format(other[0])),
                )
                outer.attach(attachment)
            body = outer
        msg = body
        owner = formataddr((OWNER_NAME, OWNER))
        them = formataddr((other[0], other[1]), charset="utf-8")
        if is_bulk:
            msg["From"] = formataddr(("Job Board Weekly", "news@jobboard.example"))
            msg["To"] = owner
            msg["List-Id"] = "<weekly.jobboard.example>"
            msg["List-Unsubscribe"] = "<https://jobboard.example/unsub>"
        elif is_sent:
            msg["From"], msg["To"] = owner, them
        else:
            msg["From"], msg["To"] = them, owner
        if rng.random() < 0.2:
            cc = _stranger(rng, i + 1)
            msg["Cc"] = formataddr(cc)
        subject = f"Re: {_sentence(rng, 4)[:-1]} – {TEXTS[charset][:12]}"
        try:
            subject.encode(charset)
            header_charset = charset
        except UnicodeEncodeError:
            header_charset = "utf-8"
        msg["Subject"] = Header(subject, header_charset).encode().replace("\n", "")
        msg["Date"] = format_datetime(start + timedelta(minutes=7 * i))
        msg["Message-ID"] = make_msgid(idstring=str(i), domain="gen.example")
        msg["MIME-Version"] = "1.0"
        yield GeneratedMessage(msg.as_bytes(), contact[1] if contact else None, is_sent, is_bulk)
