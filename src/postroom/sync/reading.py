"""Reading fetched messages: raw FETCH responses in, facts and texts out.

Pure (no I/O, no database, no event loop), picklable in and out, so that the CPU-heavy part
of a first sync (imapclient's parser, the header fields, the text of the messages that are
logged) can run in worker processes (``sync.pool``) while the sync process does the I/O.

* ``read_heads``: the header batch -> one ``Fetched`` per message asked for, the messages
  whose header block is unreadable (to be quarantined), and the delivery reports (to be read
  whole, so that the failed recipient is known).
* ``plan_texts``: BODYSTRUCTURE responses -> which part holds each message's text.
* ``read_texts``: the fetched text parts -> decoded ``Body`` values.
* ``plan_report_batches`` and ``read_reports``: delivery reports (and what claims to be one)
  are read from their first ``REPORT_FETCH_BYTES`` only, a bounded batch at a time: the
  human-readable part and the ``message/delivery-status`` part come first (RFC 3464), the
  returned message, which may be huge, last.

A response imapclient cannot parse raises ``ProtocolError`` for the whole batch, as it would
in ``ImapClient.uid_fetch``: the caller then fetches the batch's messages one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from postroom.errors import MessageParseError
from postroom.imap import FetchItem
from postroom.imap.framing import RawResponse
from postroom.imap.responses import parse_fetches
from postroom.mail import decode_text_part, parse_headers, parse_message, plan_text_fetch
from postroom.mail.bounce import might_be_bounce
from postroom.mail.classify import get_bulk_reason
from postroom.mail.types import (
    Body,
    Classification,
    Headers,
    MessageFacts,
    MessageKind,
    TextPlan,
    reduce_by_fields,
)

REPORT_FETCH_BYTES = 256 * 1024
"""What is read of a delivery report: ``BODY.PEEK[]<0.262144>``. Enough for its text and its
delivery-status part; a sender cannot make the sync read more by claiming to be a mailer."""
REPORT_BATCH = 20
"""Delivery reports read per FETCH, at most."""
REPORT_BATCH_BYTES = 4 * 1024 * 1024
"""And at most this many octets per FETCH (each report counted at its capped size)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message as read from its header batch."""

    __reduce__ = reduce_by_fields

    uid: int
    facts: MessageFacts
    modseq: int | None
    flags: tuple[str, ...]
    body: Body | None = None
    """Set when the whole message was read (a delivery report)."""


@dataclass(slots=True)
class Heads:
    """What ``read_heads`` made of one header batch."""

    fetched: list[Fetched] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    delivery_reports: list[int] = field(default_factory=list)


def read_heads(responses: Sequence[RawResponse], uids: Collection[int]) -> Heads:
    """The messages of ``uids`` among ``responses`` (others are unsolicited and ignored; a
    UID with no response was expunged in the meantime and is simply absent)."""
    heads = Heads()
    for item in parse_fetches(responses):
        if item.uid not in uids:
            continue
        try:
            headers = parse_headers(section(item, "HEADER.FIELDS") or b"")
        except MessageParseError as exc:
            heads.failures.append((item.uid, f"{type(exc).__name__}: {exc}"))
            continue
        heads.fetched.append(_read_item(item, headers))
        if is_delivery_report(headers):
            heads.delivery_reports.append(item.uid)
    return heads


def plan_texts(responses: Sequence[RawResponse], uids: Collection[int]) -> dict[int, TextPlan]:
    """``{uid: TextPlan}`` from BODYSTRUCTURE responses, for the messages of ``uids``."""
    return {
        item.uid: plan_text_fetch(item.bodystructure)
        for item in parse_fetches(responses)
        if item.uid in uids and item.bodystructure is not None
    }


def read_texts(
    responses: Sequence[RawResponse], part: str, plans: dict[int, TextPlan]
) -> dict[int, Body]:
    """``{uid: Body}``: each message's text part ``part`` decoded by its plan."""
    bodies: dict[int, Body] = {}
    for item in parse_fetches(responses):
        plan = plans.get(item.uid)
        payload = section(item, part)
        if plan is not None and payload is not None:
            bodies[item.uid] = decode_text_part(payload, plan)
    return bodies


def plan_report_batches(
    uids: Sequence[int], sizes: Mapping[int, int | None]
) -> Iterator[list[int]]:
    """``uids`` in FETCH batches of at most ``REPORT_BATCH`` messages and
    ``REPORT_BATCH_BYTES`` octets, each message counted at ``min(size, REPORT_FETCH_BYTES)``
    (an unknown size at the cap).

    >>> list(plan_report_batches([1, 2, 3], {1: 10, 2: None, 3: 5}))
    [[1, 2, 3]]
    """
    batch: list[int] = []
    octets = 0
    for uid in uids:
        size = sizes.get(uid)
        cost = REPORT_FETCH_BYTES if size is None else min(size, REPORT_FETCH_BYTES)
        if batch and (len(batch) >= REPORT_BATCH or octets + cost > REPORT_BATCH_BYTES):
            yield batch
            batch, octets = [], 0
        batch.append(uid)
        octets += cost
    if batch:
        yield batch


def read_reports(
    responses: Sequence[RawResponse], entries: Mapping[int, Fetched]
) -> tuple[list[Fetched], list[tuple[int, str]]]:
    """The delivery reports of ``entries`` (by UID) read from their capped whole-message
    fetch: each ``Fetched`` again with the classification and text of the message (a report
    whose bytes did not come is left as it was), and ``(uid, error)`` for one that cannot be
    parsed. CPU work: the caller runs it off the event loop."""
    raw_of: dict[int, bytes] = {}
    for item in parse_fetches(responses):
        payload = section(item, "")
        if item.uid in entries and payload is not None:
            raw_of[item.uid] = payload
    read: list[Fetched] = []
    failures: list[tuple[int, str]] = []
    for uid, entry in entries.items():
        raw = raw_of.get(uid)
        if raw is None:
            read.append(entry)
            continue
        try:
            parsed = parse_message(raw)
        except MessageParseError as exc:
            failures.append((uid, f"{type(exc).__name__}: {exc}"))
            continue
        facts = MessageFacts(
            headers=parsed.headers,
            classification=parsed.classification,
            size=entry.facts.size,
            internaldate=entry.facts.internaldate,
            emailid=entry.facts.emailid,
            gm_msgid=entry.facts.gm_msgid,
        )
        read.append(Fetched(uid, facts, entry.modseq, entry.flags, parsed.body))
    return read, failures


def section(item: FetchItem, part: str) -> bytes | None:
    """The bytes of ``BODY[<part>]`` in a fetch item: ``""`` is the whole message,
    ``"HEADER.FIELDS"`` the header fields whatever their list, ``"1.2"`` a body part (with or
    without a partial ``<origin>``)."""
    for key, value in item.sections.items():
        name = key.upper()
        if "[" not in name or "]" not in name:
            continue
        inner = name[name.index("[") + 1 : name.index("]")]
        if inner == part or (part == "HEADER.FIELDS" and inner.startswith("HEADER.FIELDS")):
            return value
    return None


def is_delivery_report(headers: Headers) -> bool:
    """A DSN, or what may be a bounce by its headers (``mail.bounce.might_be_bounce``: a
    mail system's sender, a bounce subject...): read further (its first
    ``REPORT_FETCH_BYTES`` only), to learn whose delivery failed."""
    return might_be_bounce(headers)


def _read_item(item: FetchItem, headers: Headers) -> Fetched:
    reason = get_bulk_reason(headers)
    kind = MessageKind.BULK if reason else MessageKind.CONVERSATION
    facts = MessageFacts(
        headers=headers,
        classification=Classification(kind, reason),
        size=item.size,
        internaldate=item.internaldate,
        emailid=item.emailid,
        gm_msgid=item.gm_msgid,
    )
    return Fetched(item.uid, facts, item.modseq, tuple(item.flags or ()))
