"""Mail parsing: bytes in, typed values out. Pure: no I/O, no database, no asyncio.

The public API::

    parse_headers(raw: bytes) -> Headers            # a header block (IMAP HEADER.FIELDS)
    parse_message(raw: bytes) -> ParsedMessage      # a whole message, body included
    parse_message_head(raw: bytes) -> MessageHead   # the same without reading the body ...
    extract_body(msg: email.message.Message) -> Body  # ... which comes from head.mime
    plan_text_fetch(bodystructure) -> TextPlan      # IMAP: the part to fetch for the text ...
    decode_text_part(payload: bytes, plan: TextPlan) -> Body  # ... and its bytes as a Body
    classify(headers: Headers, msg: Message) -> Classification
    html_to_text(html: str) -> str
    split_reply(text: str) -> str

``parse_message`` and ``parse_message_head`` raise only ``postroom.errors.MessageParseError``
(empty bytes, or a failure inside the stdlib, wrapped); malformed mail degrades and lists what
it tolerated in ``defects``. An import-linter contract keeps
``sqlalchemy``, ``asyncio``, ``socket`` and the other layers out of this package.
"""

from postroom.mail.classify import classify
from postroom.mail.parse import parse_headers, parse_message, parse_message_head
from postroom.mail.reply import split_reply
from postroom.mail.structure import decode_text_part, plan_text_fetch
from postroom.mail.text import extract_body, html_to_text
from postroom.mail.types import (
    Attachment,
    Body,
    Bounce,
    Classification,
    Headers,
    Mailbox,
    MessageHead,
    MessageKind,
    ParsedMessage,
    TextPlan,
)

__all__ = [
    "Attachment",
    "Body",
    "Bounce",
    "Classification",
    "Headers",
    "Mailbox",
    "MessageHead",
    "MessageKind",
    "ParsedMessage",
    "TextPlan",
    "classify",
    "decode_text_part",
    "extract_body",
    "html_to_text",
    "parse_headers",
    "parse_message",
    "parse_message_head",
    "plan_text_fetch",
    "split_reply",
]
