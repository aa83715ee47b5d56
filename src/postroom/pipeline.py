"""The message-to-activity pipeline: facts about messages in, messages and activities stored.

One batch goes through three steps; the caller does the I/O between them::

    prepared = prepare_batch(session=..., context=..., facts=[MessageFacts, ...])
    bodies   = {i: Body}   for each i with prepared[i].needs_body   (parse a file, or IMAP FETCH)
    result   = record_batch(session=..., context=..., prepared=prepared, bodies=bodies)

Invariants:

* Text is read only for messages that will be logged (they match a record and are neither
  bulk nor vetoed by the private list), so a mailbox full of newsletters costs headers only.
* Everything a batch writes (messages, keys, participants, activities) is written in the
  caller's transaction; the sync engine adds its folder checkpoint to the same transaction.
* Activities are inserted with ``ON CONFLICT DO NOTHING`` on UNIQUE(fingerprint, person_id):
  replaying any batch is harmless.
* Bulk mail is stored (so it is never fetched again) but never logged; a bounce is logged as a
  bounce on the record of each recipient whose delivery failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from postroom.domain.addresses import normalize_address
from postroom.domain.identity import fingerprint, identity_key
from postroom.domain.matching import (
    Direction,
    LinkPlan,
    MatchPolicy,
    Participant,
    find_private_mention,
    list_counterparts,
    plan_links,
)
from postroom.errors import MessageParseError
from postroom.mail import extract_body, parse_message, parse_message_head
from postroom.mail.types import (
    Attachment,
    Body,
    Classification,
    Headers,
    Mailbox,
    MessageFacts,
    MessageHead,
    MessageKind,
    ParsedMessage,
)
from postroom.store import activities as activity_store
from postroom.store import messages as message_store
from postroom.store.activities import NewActivity
from postroom.store.matching import find_people_by_addresses, load_match_policy
from postroom.store.models import ActivityKind, BodyState, MailAccount, MailMessage, Visibility

log = logging.getLogger(__name__)

BODY_TEXT_LIMIT = 1_000_000
"""Characters of text kept per activity; the original stays on the server for the rest."""


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What the pipeline needs to know about the account the messages come from."""

    account_id: int
    policy: MatchPolicy
    visibility: Visibility


def load_context(*, session: Session, account_id: int) -> IngestContext:
    """The account's match policy and visibility, as they are now."""
    policy = load_match_policy(session=session, account_id=account_id)
    account = session.get(MailAccount, account_id)
    assert account is not None  # load_match_policy raised NotFound otherwise
    return IngestContext(account_id, policy, account.visibility)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    facts: MessageFacts
    message: message_store.NewMessage
    plan: LinkPlan
    bounce_person_ids: tuple[int, ...] = ()

    @property
    def needs_body(self) -> bool:
        """True when the message will be logged on some record (its text is wanted)."""
        return bool(self.plan.person_ids or self.bounce_person_ids)


@dataclass(slots=True)
class BatchResult:
    messages_new: int = 0
    messages_known: int = 0
    activities_created: int = 0
    vetoed_private: int = 0
    message_ids: list[int] = field(default_factory=list)
    """The stored message id of each prepared message, in order."""


def list_participants(headers: Headers) -> tuple[Participant, ...]:
    """The header participants, normalised; unusable addresses are left out."""
    result: list[Participant] = []
    seen: set[tuple[str, str]] = set()
    fields: tuple[tuple[str, tuple[Mailbox, ...]], ...] = (
        ("from", headers.from_),
        ("sender", headers.sender),
        ("to", headers.to),
        ("cc", headers.cc),
        ("bcc", headers.bcc),
    )
    for role, mailboxes in fields:
        for mailbox in mailboxes:
            key = normalize_address(mailbox.address)
            if key is not None and (role, key) not in seen:
                seen.add((role, key))
                result.append(Participant(role, key, mailbox.name))
    return tuple(result)


def _failed_recipients(classification: Classification) -> tuple[str, ...]:
    if classification.bounce is None:
        return ()
    keys = (normalize_address(a) for a in classification.bounce.failed_recipients)
    return tuple(dict.fromkeys(k for k in keys if k is not None))


def prepare_batch(
    *, session: Session, context: IngestContext, facts: Sequence[MessageFacts]
) -> list[PreparedMessage]:
    """Decide, from headers only, what each message is and which records it belongs on."""
    participants = [list_participants(f.headers) for f in facts]
    failed = [_failed_recipients(f.classification) for f in facts]
    wanted = {p.address_key for ps in participants for p in ps}
    wanted.update(key for keys in failed for key in keys)
    directory = find_people_by_addresses(session=session, address_keys=wanted)
    prepared: list[PreparedMessage] = []
    for f, people, failed_keys in zip(facts, participants, failed, strict=True):
        h = f.headers
        kind = f.classification.kind
        plan = plan_links(
            people, directory if kind is MessageKind.CONVERSATION else {}, context.policy
        )
        bounce_ids: tuple[int, ...] = ()
        if kind is MessageKind.BOUNCE:
            bounce_ids = tuple(
                dict.fromkeys(
                    pid
                    for key in failed_keys
                    if context.policy.is_contact(key) and not context.policy.is_private(key)
                    for pid in directory.get(key, ())
                )
            )
            people = people + tuple(Participant("bounced", key) for key in failed_keys)
        print_ = fingerprint(
            message_id=h.message_id,
            date=h.date,
            date_raw=h.date_raw,
            from_keys=[p.address_key for p in people if p.role == "from"],
            subject=h.subject,
            internaldate=f.internaldate,
        )
        keys = [identity_key(fingerprint=print_, emailid=f.emailid, gm_msgid=f.gm_msgid)]
        if keys[0] != print_:
            keys.append(print_)
        new = message_store.NewMessage(
            keys=tuple(keys),
            fingerprint=print_,
            subject=h.subject,
            direction=plan.direction,
            kind=kind,
            kind_reason=f.classification.reason,
            participants=people,
            message_id_header=h.message_id,
            in_reply_to=h.in_reply_to,
            references=h.references,
            date_at=h.date,
            internaldate=f.internaldate,
            size=f.size,
            emailid=f.emailid,
            gm_msgid=f.gm_msgid,
            source_path=f.source_path,
        )
        prepared.append(PreparedMessage(f, new, plan, bounce_ids))
    return prepared


def _participants_json(headers: Headers) -> dict[str, Any]:
    return {
        role: [[m.name, m.address] for m in boxes]
        for role, boxes in (("from", headers.from_), ("to", headers.to), ("cc", headers.cc))
        if boxes
    }


def attachments_json(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """``activity.attachments``: each file's name, type, decoded size and IMAP part number
    (``part``: what a download of the file from the server fetches, ``BODY.PEEK[<part>]``)."""
    return [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size, "part": a.part}
        for a in attachments
    ]


def build_activity_rows(
    *,
    prepared: PreparedMessage,
    message_id: int,
    body: Body | None,
    visibility: Visibility,
) -> list[NewActivity]:
    """The activities of one message (one per record), shaped by the account's visibility."""
    h = prepared.facts.headers
    subject = "" if visibility is Visibility.METADATA else h.subject
    text: str | None
    reply: str | None
    attachments: list[dict[str, Any]]
    if visibility is not Visibility.EVERYTHING:
        state, text, reply, attachments = BodyState.WITHHELD, None, None, []
    elif body is None:
        state, text, reply, attachments = BodyState.PENDING, None, None, []
    else:
        state = BodyState.PRESENT
        text, reply = body.text[:BODY_TEXT_LIMIT], body.reply_text[:BODY_TEXT_LIMIT]
        attachments = attachments_json(body.attachments)
    fingerprint = prepared.message.fingerprint
    direction = prepared.plan.direction
    occurred_at = h.date or prepared.facts.internaldate
    participants = _participants_json(h)

    def row(person_id: int, kind: ActivityKind, detail: str | None = None) -> NewActivity:
        return NewActivity(
            fingerprint=fingerprint,
            person_id=person_id,
            message_id=message_id,
            kind=kind,
            direction=direction,
            occurred_at=occurred_at,
            subject=subject,
            participants=participants,
            body_state=state,
            text=text,
            reply_text=reply,
            attachments=attachments,
            detail=detail,
        )

    rows = [row(pid, ActivityKind.EMAIL) for pid in prepared.plan.person_ids]
    bounce = prepared.facts.classification.bounce
    if prepared.bounce_person_ids:
        detail = None
        if bounce is not None:
            detail = " ".join(x for x in (bounce.status, bounce.diagnostic) if x) or None
        rows += [row(pid, ActivityKind.BOUNCE, detail) for pid in prepared.bounce_person_ids]
    return rows


def record_batch(
    *,
    session: Session,
    context: IngestContext,
    prepared: Sequence[PreparedMessage],
    bodies: dict[int, Body],
) -> BatchResult:
    """Store the messages and their activities; ``bodies`` maps an index of ``prepared`` to
    its text (messages that need none, or whose text could not be read, are absent)."""
    result = BatchResult()
    ids, new_keys = message_store.store_messages(
        session=session, account_id=context.account_id, messages=[p.message for p in prepared]
    )
    result.messages_new = len(new_keys)
    result.messages_known = len(prepared) - len(new_keys)
    rows: list[NewActivity] = []
    for index, p in enumerate(prepared):
        message_id = ids[p.message.identity_key]
        result.message_ids.append(message_id)
        if not p.needs_body:
            continue
        body = bodies.get(index)
        if body is not None and find_private_mention(body.text, context.policy):
            result.vetoed_private += 1
            continue
        rows += build_activity_rows(
            prepared=p, message_id=message_id, body=body, visibility=context.visibility
        )
    result.activities_created = activity_store.insert_activities(session=session, rows=rows)
    return result


def complete_pending_activities(
    *, session: Session, context: IngestContext, activity_ids: Sequence[int], body: Body
) -> None:
    """Give activities created after the fact the text of their message, now fetched; when
    the text mentions an address on the private list, they are removed instead."""
    if find_private_mention(body.text, context.policy):
        activity_store.delete_activities(session=session, activity_ids=activity_ids)
        return
    activity_store.fill_body(
        session=session,
        activity_ids=activity_ids,
        text=body.text[:BODY_TEXT_LIMIT],
        reply_text=body.reply_text[:BODY_TEXT_LIMIT],
        attachments=attachments_json(body.attachments),
    )


# --- .eml files -----------------------------------------------------------------------


@dataclass(slots=True)
class FileReport:
    files: int = 0
    stored: BatchResult = field(default_factory=BatchResult)
    errors: list[tuple[str, str]] = field(default_factory=list)
    """``(path, error)`` for each file that could not be read or parsed (quarantined)."""

    def add(self, other: FileReport) -> None:
        """Sum another batch's report into this one."""
        self.files += other.files
        self.errors += other.errors
        for name in ("messages_new", "messages_known", "activities_created", "vetoed_private"):
            setattr(self.stored, name, getattr(self.stored, name) + getattr(other.stored, name))


def facts_from_parsed(
    parsed: ParsedMessage | MessageHead, *, source_path: str | None = None
) -> MessageFacts:
    return MessageFacts(
        headers=parsed.headers,
        classification=parsed.classification,
        size=parsed.size,
        source_path=source_path,
    )


def ingest_files(
    *,
    session: Session,
    context: IngestContext,
    paths: Sequence[Path],
    on_progress: Callable[[int], None] | None = None,
) -> FileReport:
    """Run .eml files through the pipeline in the caller's transaction.

    A file that cannot be read or parsed is quarantined with its error; the others go on.
    """
    report = FileReport()
    facts: list[MessageFacts] = []
    heads: list[MessageHead] = []
    for path in paths:
        report.files += 1
        source = str(path.resolve())
        try:
            head = parse_message_head(path.read_bytes())
        except (OSError, MessageParseError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            report.errors.append((str(path), error))
            message_store.quarantine_message(
                session=session, error=error, account_id=context.account_id, source_path=source
            )
            log.info("quarantined %s: %s", path, error)
        else:
            facts.append(facts_from_parsed(head, source_path=source))
            heads.append(head)
        if on_progress is not None:
            on_progress(1)
    prepared = prepare_batch(session=session, context=context, facts=facts)
    bodies = {i: extract_body(heads[i].mime) for i, p in enumerate(prepared) if p.needs_body}
    report.stored = record_batch(session=session, context=context, prepared=prepared, bodies=bodies)
    return report


def ingest_message(*, session: Session, context: IngestContext, raw: bytes) -> BatchResult:
    """Run one message's bytes through the pipeline in the caller's transaction (a message
    just sent: logged at once; the sync's copy of it later is the same message).

    Raises ``MessageParseError`` when the bytes cannot be read at all."""
    head = parse_message_head(raw)
    prepared = prepare_batch(session=session, context=context, facts=[facts_from_parsed(head)])
    bodies = {0: extract_body(head.mime)} if prepared[0].needs_body else {}
    return record_batch(session=session, context=context, prepared=prepared, bodies=bodies)


# --- an address added to a record later -----------------------------------------------


def link_past_messages(session: Session, person_id: int, address_keys: list[str]) -> int:
    """Put past messages to or from ``address_keys`` on record ``person_id``; return how many
    activities were created.

    Each message is judged with its own account's policy as it is now (own, colleague and
    internal addresses are never contacts; the private list vetoes). A message ingested from
    a file gets its text at once; one synced from IMAP gets ``body_state = pending`` until the
    sync engine fetches its text from the original.
    """
    messages = message_store.list_messages_with_addresses(
        session=session, address_keys=address_keys, roles=("from", "to", "cc", "bcc", "bounced")
    )
    if not messages:
        return 0
    participants = message_store.list_participants(
        session=session, message_ids=[m.id for m in messages]
    )
    contexts: dict[int, IngestContext] = {}
    rows: list[NewActivity] = []
    wanted = set(address_keys)
    for message in messages:
        if message.kind is MessageKind.BULK:
            continue
        context = contexts.get(message.account_id)
        if context is None:
            context = contexts[message.account_id] = load_context(
                session=session, account_id=message.account_id
            )
        people = participants[message.id]
        if message.kind is MessageKind.BOUNCE:
            hits = [p for p in people if p.role == "bounced" and p.address_key in wanted]
        else:
            hits = [p for p in people if p.role != "bounced" and p.address_key in wanted]
        if not any(context.policy.is_contact(p.address_key) for p in hits):
            continue
        if any(context.policy.is_private(p.address_key) for p in people):
            continue
        if (
            message.kind is MessageKind.CONVERSATION
            and not set(list_counterparts(people, context.policy)) & wanted
        ):
            continue
        parsed = _reparse(message.source_path)
        if parsed is not None and find_private_mention(parsed.body.text, context.policy):
            continue
        rows += _rows_for_late_link(message, person_id, people, parsed, context)
    return activity_store.insert_activities(session=session, rows=rows)


def _reparse(source_path: str | None) -> ParsedMessage | None:
    if source_path is None:
        return None
    try:
        return parse_message(Path(source_path).read_bytes())
    except (OSError, MessageParseError) as exc:
        log.info("original of a past message unreadable (%s): text stays pending", exc)
        return None


def _rows_for_late_link(
    message: MailMessage,
    person_id: int,
    people: Sequence[Participant],
    parsed: ParsedMessage | None,
    context: IngestContext,
) -> list[NewActivity]:
    if parsed is not None:
        headers = parsed.headers
        classification = parsed.classification
    else:
        headers = Headers(
            subject=message.subject,
            date=message.date_at,
            message_id=message.message_id_header,
            from_=tuple(Mailbox(p.name, p.address_key) for p in people if p.role == "from"),
            to=tuple(Mailbox(p.name, p.address_key) for p in people if p.role == "to"),
            cc=tuple(Mailbox(p.name, p.address_key) for p in people if p.role == "cc"),
        )
        classification = Classification(message.kind, message.kind_reason)
    is_bounce = message.kind is MessageKind.BOUNCE
    facts = MessageFacts(headers, classification, message.size, message.internaldate)
    plan = LinkPlan(Direction(message.direction.value), () if is_bounce else (person_id,), (), None)
    prepared = PreparedMessage(
        facts,
        message_store.NewMessage(
            keys=(message.identity_key,),
            fingerprint=message.fingerprint,
            subject=message.subject,
            direction=message.direction,
            kind=message.kind,
            participants=tuple(people),
        ),
        plan,
        (person_id,) if is_bounce else (),
    )
    body = parsed.body if parsed is not None else None
    return build_activity_rows(
        prepared=prepared, message_id=message.id, body=body, visibility=context.visibility
    )
