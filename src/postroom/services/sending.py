"""Sending mail from the mail client (docs/web.md, "Mail"): a new message, a reply, a reply
to all, a forward, through the account's SMTP server.

How a message is sent:

1. The draft is checked and made into bytes (``mail.compose``).
2. It goes to the SMTP server with the account's username and password (aiosmtplib):
   implicit TLS or STARTTLS with the certificate checked against the same trust as IMAP;
   plain text only to a loopback server the account allows it for. A refused recipient
   sends nothing to anyone (all or none), and the page says which address and why.
3. A copy goes to the Sent folder (APPEND, ``\\Seen``), so every other mail program shows it;
   not on Gmail, which keeps one by itself. The copy holds the Bcc header, as Thunderbird's
   and Outlook's do, so a record in Bcc sees the email too. The original of a reply is
   marked ``\\Answered`` and that of a forward ``$Forwarded``.
4. It is logged at once on the records of its recipients (the pipeline, on the Sent copy's
   bytes). When the sync reads the copy from the Sent folder it is the same message
   (``domain.identity``): nothing is logged twice.

After step 2 the message is sent; a failure in 3 or 4 is reported with the success, never
as a failure to send.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import aiosmtplib

from postroom import pipeline
from postroom.domain.folders import FolderRole, folder_role
from postroom.errors import InputError, PostroomError
from postroom.imap import CommandFailed, ImapError, ServerAddress
from postroom.imap.commands import encode_mailbox
from postroom.imap.writing import MailboxClient
from postroom.mail import parse_message
from postroom.mail.compose import (
    Draft,
    FileToSend,
    build_message,
    check_draft,
    forward_draft,
    new_message_id,
    parse_recipients,
    reply_draft,
    signed,
)
from postroom.mail.render import get_part_data, read_original
from postroom.mail.types import Mailbox
from postroom.services import mailbox, original
from postroom.services.accounts import AccountView, SmtpSettings, account_view, owned_account
from postroom.services.connection_test import smtp_address, smtp_client
from postroom.services.mailbox import MessageRef
from postroom.services.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_FILES_BYTES = 25 * 1024 * 1024
"""The files of one email together, at most (what most providers accept)."""
SMTP_TIMEOUT = 60.0


class Mode(enum.Enum):
    NEW = "new"
    REPLY = "reply"
    REPLY_ALL = "reply_all"
    FORWARD = "forward"
    DRAFT = "draft"
    """Going on with a draft kept in the Drafts folder (``ref`` names it)."""


@dataclass(frozen=True, slots=True)
class ComposeView:
    """The compose form, filled in: for a reply the addresses, subject and quote; for a
    forward the subject, the original's text and the names of the files it carries."""

    account: AccountView
    sender: Mailbox
    mode: Mode
    to: str
    cc: str
    bcc: str
    subject: str
    text: str
    ref: MessageRef | None
    forwarded_files: tuple[str, ...]
    smtp: SmtpSettings | None
    """None: the account has no SMTP server, and the page says how to add one."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the user sends, as typed."""

    mode: Mode
    to: str
    cc: str
    bcc: str
    subject: str
    text: str
    ref: MessageRef | None = None
    files: tuple[FileToSend, ...] = ()
    forward_files: bool = True


@dataclass(frozen=True, slots=True)
class SendResult:
    recipients: tuple[str, ...]
    saved_in: str | None
    """The folder the copy went to (None: Gmail keeps its own, or it could not be saved)."""
    logged: int
    """Activities made on records at once."""
    problems: tuple[str, ...]
    """What went wrong after the message was sent (the copy, the flag, the logging)."""


class SendFailed(PostroomError):
    """The message was not sent (nothing went out): the SMTP server said no, or could not
    be reached."""


# --- what the account sends with ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Account:
    view: AccountView
    sender: Mailbox
    smtp: SmtpSettings | None


def _load(runtime: Runtime, user_id: int, account_id: int) -> _Account:
    with runtime.read() as session:
        row = owned_account(session=session, account_id=account_id, owner_id=user_id)
        view = account_view(row)
        name = row.user.name or ""
        address = next(iter(view.own_addresses), None) or (
            view.username if "@" in view.username else view.owner_email
        )
        return _Account(view, Mailbox(name, address), view.smtp)


# --- the compose form --------------------------------------------------------------------


async def compose(
    *,
    runtime: Runtime,
    user_id: int,
    account_id: int,
    mode: Mode,
    ref: MessageRef | None = None,
    to: str = "",
) -> ComposeView:
    """The compose form for a new message (``to`` filled in, e.g. from a record), or for a
    reply, reply to all or forward of the message ``ref`` names (read from the server)."""
    account = await asyncio.to_thread(_load, runtime, user_id, account_id)
    signature = account.view.signature
    view = ComposeView(
        account=account.view,
        sender=account.sender,
        mode=Mode.NEW,
        to=to,
        cc="",
        bcc="",
        subject="",
        text=signed("", signature),
        ref=None,
        forwarded_files=(),
        smtp=account.smtp,
    )
    if mode is Mode.NEW or ref is None:
        return view
    draft, files = await _draft_from(runtime, user_id, account, mode, ref)
    return ComposeView(
        account=account.view,
        sender=account.sender,
        mode=mode,
        to=_typed(draft.to),
        cc=_typed(draft.cc),
        bcc=_typed(draft.bcc),
        subject=draft.subject,
        text=draft.text if mode is Mode.DRAFT else signed(draft.text, signature),
        ref=ref,
        forwarded_files=tuple(f.filename for f in files),
        smtp=account.smtp,
    )


def _typed(mailboxes: Sequence[Mailbox]) -> str:
    return ", ".join(f'"{m.name}" <{m.address}>' if m.name else m.address for m in mailboxes)


async def _draft_from(
    runtime: Runtime, user_id: int, account: _Account, mode: Mode, ref: MessageRef
) -> tuple[Draft, tuple[FileToSend, ...]]:
    """The draft of a reply or forward of ``ref``, and (for a forward) the original's files."""
    _, fetched = await mailbox.fetched_message(runtime, user_id, account.view.id, ref)
    parsed = await asyncio.to_thread(parse_message, fetched.raw)
    text = fetched.partial_text if fetched.is_partial else parsed.body.text
    own = (*account.view.own_addresses, account.view.username, account.view.owner_email)
    if mode is Mode.DRAFT:
        files = () if fetched.is_partial else await asyncio.to_thread(_files_of, fetched.raw)
        h = parsed.headers
        draft = Draft(
            sender=account.sender,
            to=h.to,
            cc=h.cc,
            bcc=h.bcc,
            subject=h.subject,
            text=text,
            in_reply_to=h.in_reply_to,
            references=h.references,
            files=files,
        )
        return draft, files
    if mode is Mode.FORWARD:
        files = () if fetched.is_partial else await asyncio.to_thread(_files_of, fetched.raw)
        draft = forward_draft(parsed.headers, text, sender=account.sender, files=files)
        return draft, files
    draft = reply_draft(
        parsed.headers,
        text,
        sender=account.sender,
        own_addresses=own,
        reply_all=mode is Mode.REPLY_ALL,
    )
    return draft, ()


def _files_of(raw: bytes) -> tuple[FileToSend, ...]:
    message = read_original(raw)
    files = []
    for part in message.attachments:
        found = get_part_data(raw, part.number)
        if found is not None:
            view = original.attachment_view(part)
            files.append(FileToSend(view.filename, part.content_type, found[1]))
    return tuple(files)


# --- sending -----------------------------------------------------------------------------


async def send(
    *, runtime: Runtime, user_id: int, account_id: int, outgoing: Outgoing
) -> SendResult:
    """Send ``outgoing`` from the account, save a copy in Sent, log it (module docstring).

    Raises ``InputError`` for what the user must fix (addresses, no SMTP server, files too
    large), ``SendFailed`` when the SMTP server refused it or could not be reached (nothing
    was sent), ``NotFound`` for an account or original that is not the user's."""
    account = await asyncio.to_thread(_load, runtime, user_id, account_id)
    if account.smtp is None:
        raise InputError(
            "this account has no SMTP server to send with",
            advice="add its SMTP server on the account's page (Mail accounts, Edit)",
        )
    draft = await _draft_of(runtime, user_id, account, outgoing)
    check_draft(draft)
    now, message_id = datetime.now(UTC), new_message_id(draft.sender)
    copy = await asyncio.to_thread(build_message, draft, date=now, message_id=message_id, bcc=True)
    sent = await asyncio.to_thread(build_message, draft, date=now, message_id=message_id)
    login = await asyncio.to_thread(original.load_login, runtime, account.view.id)
    address = smtp_address(settings=runtime.settings, smtp=account.smtp)
    await _submit(address, login.username, login.password, draft, sent)
    logger.info(
        "sent a message from account %s to %d recipients", account.view.id, len(draft.recipients)
    )

    problems: list[str] = []
    saved_in = None
    try:
        saved_in = await _save_copy(runtime, account, copy, outgoing, now)
    except (PostroomError, ImapError, OSError, TimeoutError) as exc:
        logger.info("sent, but no copy in Sent: %s", exc)
        problems.append(f"the copy could not be put in the Sent folder ({exc})")
    logged = 0
    try:
        logged = await asyncio.to_thread(_log, runtime, account.view.id, copy)
    except PostroomError as exc:
        problems.append(f"it could not be logged on the records now ({exc}); the sync will")
    return SendResult(draft.recipients, saved_in, logged, tuple(problems))


async def _draft_of(runtime: Runtime, user_id: int, account: _Account, outgoing: Outgoing) -> Draft:
    """The draft ``outgoing`` makes: its addresses checked, threaded to the message it
    answers, with the files given and (unless unticked) those of the forwarded message or
    the draft it goes on with."""
    draft = Draft(
        sender=account.sender,
        to=parse_recipients(outgoing.to, "To"),
        cc=parse_recipients(outgoing.cc, "Cc"),
        bcc=parse_recipients(outgoing.bcc, "Bcc"),
        subject=outgoing.subject.strip(),
        text=outgoing.text,
        files=outgoing.files,
    )
    if outgoing.ref is not None and outgoing.mode is not Mode.NEW:
        threaded, carried = await _draft_from(
            runtime, user_id, account, outgoing.mode, outgoing.ref
        )
        draft = replace(
            draft,
            in_reply_to=threaded.in_reply_to,
            references=threaded.references,
            files=draft.files + (carried if outgoing.forward_files else ()),
        )
    if sum(len(f.data) for f in draft.files) > MAX_FILES_BYTES:
        raise InputError(
            f"the files are larger than {MAX_FILES_BYTES // 2**20} MB together",
            advice="send fewer or smaller files, or a link to them",
        )
    return draft


async def save_draft(
    *, runtime: Runtime, user_id: int, account_id: int, outgoing: Outgoing
) -> MessageRef:
    """Keep ``outgoing`` in the Drafts folder (``\\Draft``, Bcc included), in place of the
    draft it goes on with (``Mode.DRAFT``); returns where it now is. It may have no
    recipient yet. ``InputError`` for what must be fixed first, or with no Drafts folder."""
    account = await asyncio.to_thread(_load, runtime, user_id, account_id)
    draft = await _draft_of(runtime, user_id, account, outgoing)
    now, message_id = datetime.now(UTC), new_message_id(draft.sender)
    raw = await asyncio.to_thread(
        build_message, draft, date=now, message_id=message_id, bcc=True, to_send=False
    )
    async with mailbox.connected(runtime, account.view) as client:
        folder = await _folder_of_role(client, FolderRole.DRAFTS)
        if folder is None:
            raise InputError("there is no Drafts folder", advice="create one in your mail program")
        uid = await client.append(
            encode_mailbox(folder), raw, flags=["\\Draft", "\\Seen"], internaldate=now
        )
        if outgoing.mode is Mode.DRAFT and outgoing.ref is not None:
            await _remove_draft(client, outgoing.ref)
        box = await client.examine(encode_mailbox(folder))
    mailbox.forget_counts()
    return MessageRef(folder, box.uidvalidity, uid or 0)


async def _remove_draft(client: MailboxClient, ref: MessageRef) -> None:
    """Delete the draft ``ref`` names for good (it was sent, or saved anew); a draft that is
    no longer there, or a server without UIDPLUS, leaves it be."""
    if not client.has("UIDPLUS"):
        return
    try:
        box = await client.select(encode_mailbox(ref.folder))
    except CommandFailed:
        return
    if box.uidvalidity == ref.uidvalidity and not box.read_only:
        await client.uid_store([ref.uid], add=["\\Deleted"])
        await client.uid_expunge([ref.uid])


async def _submit(
    address: ServerAddress, username: str, password: str, draft: Draft, raw: bytes
) -> None:
    """Hand ``raw`` to the SMTP server for ``draft``'s recipients; ``SendFailed`` when it
    did not take it (then nobody got it)."""
    client = smtp_client(address, timeout=SMTP_TIMEOUT)
    label = f"{address.host}:{address.port}"
    try:
        async with client:
            await client.login(username, password)
            await client.mail(draft.sender.address)
            refused = []
            for recipient in draft.recipients:
                try:
                    await client.rcpt(recipient)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    refused.append(f"{recipient} ({exc.code} {exc.message})")
            if refused:  # all or none: nobody gets a message some were left out of
                await client.rset()
                raise SendFailed(
                    f"the SMTP server refused {', '.join(refused)}; nothing was sent",
                    advice="check the address, or leave it out and send again",
                )
            await client.data(raw)
    except SendFailed:
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SendFailed(
            f"the SMTP server {label} refused the login: {exc.code} {exc.message}",
            advice="the account's password may be out of date, or the provider wants an app "
            "password for sending; nothing was sent",
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailed(
            f"the SMTP server {label} said no: {exc.code} {exc.message}; nothing was sent",
            advice="try again later; if it keeps saying so, ask your mail provider",
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendFailed(
            f"the SMTP server {label} could not be reached: {exc}; nothing was sent",
            advice="check the SMTP settings on the account's page, and try again",
        ) from exc


async def _save_copy(
    runtime: Runtime, account: _Account, copy: bytes, outgoing: Outgoing, now: datetime
) -> str | None:
    """APPEND the copy to Sent (not on Gmail); mark the original answered or forwarded."""
    async with mailbox.connected(runtime, account.view) as client:
        saved_in = None
        if not client.has("X-GM-EXT-1"):  # Gmail keeps a copy of what its SMTP sends
            sent = await _folder_of_role(client, FolderRole.SENT)
            if sent is None:
                raise InputError(
                    "there is no Sent folder", advice="create one in your mail program"
                )
            await client.append(encode_mailbox(sent), copy, flags=["\\Seen"], internaldate=now)
            saved_in = sent
        ref = outgoing.ref
        if ref is not None and outgoing.mode is Mode.DRAFT:
            await _remove_draft(client, ref)
        elif ref is not None and outgoing.mode is not Mode.NEW:
            flag = "$Forwarded" if outgoing.mode is Mode.FORWARD else "\\Answered"
            try:
                box = await client.select(encode_mailbox(ref.folder))
                if box.uidvalidity == ref.uidvalidity and not box.read_only:
                    await client.uid_store([ref.uid], add=[flag])
            except CommandFailed as exc:
                logger.info("could not mark the original %s: %s", flag, exc)
        return saved_in


async def _folder_of_role(client: MailboxClient, role: FolderRole) -> str | None:
    folders = [f for f in await client.list_folders() if f.is_selectable]
    for folder in folders:
        if folder_role(folder.name, folder.flags, folder.delimiter) is role:
            return folder.name
    return None


def _log(runtime: Runtime, account_id: int, raw: bytes) -> int:
    with runtime.write() as session:
        context = pipeline.load_context(session=session, account_id=account_id)
        return pipeline.ingest_message(session=session, context=context, raw=raw).activities_created
