"""The built-in mail client: the user's own mailbox, read and changed on the server at once
(docs/web.md, "Mail").

Unlike the sync (read-only: EXAMINE and BODY.PEEK), the mail client acts for the user: an
opened message is marked read (``\\Seen``), and flag, move and delete go to the server at
once, so the phone and Outlook see the same. Writes use ``imap.writing.MailboxClient`` and
nothing else does.

A folder is named by its decoded name (``INBOX``, ``Projects/Acme``; sent to the server in
modified UTF-7) and a message by ``(folder, uidvalidity, uid)``: a folder whose UIDVALIDITY
changed no longer holds the message a link names (``NotFound``). Only the account's owner
may open it (anyone else: ``NotFound``, docs/web.md).

Each call opens its own connection (connect, log in, one folder) within ``OPEN_TIMEOUT``;
a server that cannot be asked is a ``MailUnavailable`` with what to do. A message's bytes are
kept in memory for a while (``original.CACHE_SECONDS``) so that its page, its body frame,
its images and its downloads cost one fetch. Database work runs in short sessions in a thread.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from postroom.domain.addresses import normalize_address
from postroom.domain.folders import FolderRole, folder_role, newest_uids
from postroom.errors import InputError, NotFound, PostroomError
from postroom.imap import AuthFailed, CommandFailed, FetchItem, Folder, ImapError, SelectedFolder
from postroom.imap.commands import MAX_SEARCH_WORDS, encode_mailbox
from postroom.imap.writing import MailboxClient
from postroom.mail.parse import parse_headers
from postroom.mail.render import (
    INLINE_IMAGE_TYPES,
    is_part_number,
    read_original,
)
from postroom.mail.structure import plan_text_fetch
from postroom.services import original
from postroom.services.accounts import AccountView, get_account_view, list_account_views
from postroom.services.original import AttachmentView, Fetched, Origin, PartContent
from postroom.services.runtime import Runtime
from postroom.store import matching
from postroom.store import records as record_store

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
"""Messages on one page of a folder, newest first."""
MAX_FOLDERS = 300
"""At most this many folders are listed (with their counts)."""
CONNECT_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0
OPEN_TIMEOUT = 60.0
"""Seconds one call (connect, log in, the work) may take."""
COUNTS_SECONDS = 60.0
"""How long folder counts are kept for a server without LIST-STATUS."""
LIST_FIELDS = "BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE)]"

SEEN, FLAGGED, ANSWERED, DELETED = "\\Seen", "\\Flagged", "\\Answered", "\\Deleted"


class MailUnavailable(PostroomError):
    """The mail server could not be asked now (network, TLS, login, a timeout)."""

    retryable = True


# --- what the pages show -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FolderView:
    """One folder in the list: ``name`` is its full decoded name (``Projects/Acme``),
    ``label`` its last level, ``depth`` how far it is nested; ``messages`` and ``unseen``
    are None for a folder that cannot be opened (a hierarchy node) or was not counted."""

    name: str
    label: str
    depth: int
    role: FolderRole | None
    is_selectable: bool
    messages: int | None = None
    unseen: int | None = None


@dataclass(frozen=True, slots=True)
class PersonRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message in a folder's list. ``correspondent`` is who it is from, or in the Sent
    and Drafts folders who it is to; ``people`` the records its addresses are on."""

    uid: int
    subject: str
    correspondent: str
    correspondent_address: str
    date: datetime | None
    size: int
    is_seen: bool
    is_flagged: bool
    is_answered: bool
    has_attachments: bool
    people: tuple[PersonRef, ...] = ()


@dataclass(frozen=True, slots=True)
class FolderPage:
    """A page of a folder: its messages newest first, and every folder for the side list."""

    account: AccountView
    accounts: tuple[AccountView, ...]
    folders: tuple[FolderView, ...]
    folder: FolderView
    uidvalidity: int
    total: int
    page: int
    pages: int
    rows: tuple[MessageRow, ...]
    query: str = ""
    """What the folder was searched for ("" for all its messages)."""
    in_text: bool = False
    """The search looked in the messages' text too, not only in From, To, Cc and Subject."""


@dataclass(frozen=True, slots=True)
class Correspondent:
    """An address of the message, with the records it is on (none: the page offers to make
    one). ``is_own`` marks the account's own addresses, which never make a record."""

    role: str
    """``from``, ``to`` or ``cc``."""
    name: str
    address: str
    people: tuple[PersonRef, ...]
    is_own: bool


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message as it is now on the server, for the mail client's message page."""

    account: AccountView
    accounts: tuple[AccountView, ...]
    folders: tuple[FolderView, ...]
    folder: FolderView
    uidvalidity: int
    uid: int
    subject: str
    sender: tuple[tuple[str, str], ...]
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    date: datetime | None
    is_flagged: bool
    is_seen: bool
    has_html: bool
    text: str | None
    remote_images: int
    attachments: tuple[AttachmentView, ...]
    correspondents: tuple[Correspondent, ...]
    is_partial: bool = False


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Names one message: folder, the folder's UIDVALIDITY when the link was made, its UID."""

    folder: str
    uidvalidity: int
    uid: int


class Action(enum.Enum):
    READ = "read"
    UNREAD = "unread"
    FLAG = "flag"
    UNFLAG = "unflag"
    MOVE = "move"
    DELETE = "delete"


# --- connecting --------------------------------------------------------------------------


def _load(runtime: Runtime, user_id: int, account_id: int) -> tuple[AccountView, ...]:
    """The account (first) and every account of the user; ``NotFound`` unless it is theirs."""
    with runtime.read() as session:
        account = get_account_view(session=session, account_id=account_id, owner_id=user_id)
        others = list_account_views(session=session, owner_id=user_id)
    return (account, *others)


def first_account_id(*, runtime: Runtime, user_id: int) -> int | None:
    """The user's first mail account, or None when they have none."""
    with runtime.read() as session:
        views = list_account_views(session=session, owner_id=user_id)
    return views[0].id if views else None


@asynccontextmanager
async def connected(runtime: Runtime, account: AccountView) -> AsyncIterator[MailboxClient]:
    """A logged-in connection to ``account``'s server, closed after; every failure to reach
    it is a ``MailUnavailable`` that says what to do."""
    label = account.label
    login = await asyncio.to_thread(original.load_login, runtime, account.id)
    try:
        async with asyncio.timeout(OPEN_TIMEOUT):
            client = await MailboxClient.connect(
                login.address, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
            )
            async with client:
                await client.login(login.username, login.password)
                yield client
    except AuthFailed as exc:
        raise MailUnavailable(
            f"The mail server refused the login of {label}.",
            advice="Store the account's current password (an app password where the provider "
            "asks for one) on its Mail accounts page; the sync needs it too.",
        ) from exc
    except TimeoutError as exc:
        raise MailUnavailable(
            f"The mail server of {label} took too long to answer.",
            advice="Try again in a minute; if it keeps happening, check the account's health.",
        ) from exc
    except (CommandFailed, NotFound, InputError):
        raise
    except (ImapError, OSError) as exc:
        logger.info("mail client: account %s: %s", account.id, exc)
        raise MailUnavailable(
            f"The mail server of {label} could not be asked: {exc}",
            advice=getattr(exc, "advice", None) or "Try again in a minute.",
        ) from exc


def _folder_missing(name: str) -> NotFound:
    return NotFound(
        f"there is no folder {name!r} in this mailbox",
        advice="it may have been renamed or deleted in another mail program; pick one from "
        "the list",
    )


_Counts = dict[str, tuple[int | None, int | None]]
_counts: dict[tuple[int, str, str], tuple[float, _Counts]] = {}
"""Per account (id, host, user name): until when, and each folder's (messages, unseen), for
servers without LIST-STATUS (Gmail, Microsoft 365), where counting costs a STATUS round trip
per folder."""


def _counts_key(account: AccountView) -> tuple[int, str, str]:
    return (account.id, account.imap_host, account.username)


async def _list_folders(
    client: MailboxClient, account: AccountView, *, counts: bool
) -> list[FolderView]:
    """Every folder, sorted for the side list, with its message and unread counts when
    ``counts``: one LIST where the server has LIST-STATUS (RFC 5819); elsewhere a STATUS per
    folder, kept for ``COUNTS_SECONDS`` (and corrected by this module's own changes)."""
    if counts and client.has("LIST-STATUS"):
        views = []
        for folder, status in await client.list_folders_with_status(
            ["MESSAGES", "UNSEEN"], max_folders=MAX_FOLDERS
        ):
            if folder.name:
                views.append(_counted(_folder_view(folder), status))
        return sorted(views, key=_folder_order)
    listed = [f for f in (await client.list_folders())[:MAX_FOLDERS] if f.name]
    kept = _counts.get(_counts_key(account))
    if kept is not None and kept[0] > time.monotonic():
        known = kept[1]
    elif counts:
        known = {}
        for folder in listed:
            if folder.is_selectable:
                try:
                    status = await client.status(folder.name_raw, ["MESSAGES", "UNSEEN"])
                except CommandFailed:
                    continue
                known[folder.name] = (status.get("MESSAGES"), status.get("UNSEEN"))
        _counts[_counts_key(account)] = (time.monotonic() + COUNTS_SECONDS, known)
    else:
        known = {}
    views = [_folder_view(folder) for folder in listed]
    views = [
        replace(view, messages=known[view.name][0], unseen=known[view.name][1])
        if view.name in known
        else view
        for view in views
    ]
    return sorted(views, key=_folder_order)


def _counted(view: FolderView, status: dict[str, int] | None) -> FolderView:
    if status is None:
        return view
    return replace(view, messages=status.get("MESSAGES"), unseen=status.get("UNSEEN"))


def _seen_one(account: AccountView, folder: str) -> None:
    """A message of ``folder`` was marked read here: one unread fewer in the kept counts."""
    kept = _counts.get(_counts_key(account))
    if kept is not None and folder in kept[1]:
        messages, unseen = kept[1][folder]
        kept[1][folder] = (messages, max(0, unseen - 1) if unseen is not None else None)


def forget_counts() -> None:
    """Drop every kept folder count (tests; and after this module changes a mailbox)."""
    _counts.clear()


def _folder_view(folder: Folder) -> FolderView:
    delimiter = folder.delimiter
    parts = folder.name.split(delimiter) if delimiter else [folder.name]
    return FolderView(
        name=folder.name,
        label=parts[-1] or folder.name,
        depth=len(parts) - 1,
        role=folder_role(folder.name, folder.flags, delimiter),
        is_selectable=folder.is_selectable,
    )


def _folder_order(view: FolderView) -> tuple[int, str]:
    if view.role is not None and (view.depth == 0 or view.role is FolderRole.INBOX):
        return (_ROLE_ORDER.index(view.role), "")
    return (len(_ROLE_ORDER), view.name.casefold())


_ROLE_ORDER = list(FolderRole)
"""Folders with a role come first (top level, or INBOX), in this order; then the rest by name."""


def _find_folder(folders: Sequence[FolderView], name: str) -> FolderView:
    for view in folders:
        if view.name == name or (name.upper() == "INBOX" and view.role is FolderRole.INBOX):
            if not view.is_selectable:
                break
            return view
    raise _folder_missing(name)


# --- a folder's messages -----------------------------------------------------------------


SEARCHED_FIELDS = ("FROM", "TO", "CC", "SUBJECT")
"""Where a folder search looks (with ``in_text``, in the text too: slower on big folders of
servers without a full-text index)."""


async def list_folder(
    *,
    runtime: Runtime,
    user_id: int,
    account_id: int,
    folder: str,
    page: int = 1,
    query: str = "",
    in_text: bool = False,
) -> FolderPage:
    """Page ``page`` (from 1) of ``folder``'s messages, newest first (by UID: the order they
    arrived in), with every folder and its counts. ``NotFound`` for an account that is not
    the user's or a folder that is not there; ``MailUnavailable`` when the server cannot be
    asked. Opening a folder changes nothing (EXAMINE, BODY.PEEK)."""
    account, *accounts = await asyncio.to_thread(_load, runtime, user_id, account_id)
    async with connected(runtime, account) as client:
        folders = await _list_folders(client, account, counts=True)
        view = _find_folder(folders, folder)
        box = await client.examine(encode_mailbox(view.name))
        words = query.split()[:MAX_SEARCH_WORDS]
        if not box.exists:
            ranges = []
        elif words:
            fields = (*SEARCHED_FIELDS, "BODY") if in_text else SEARCHED_FIELDS
            ranges = await client.uid_search_words([w[:200] for w in words], fields)
        else:
            ranges = await client.uid_search_ranges("ALL")
        total = sum(high - low + 1 for low, high in ranges)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        uids = newest_uids(ranges, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        items = (
            await client.uid_fetch(
                uids, ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE", LIST_FIELDS]
            )
            if uids
            else []
        )
    rows = await asyncio.to_thread(_rows, runtime, account, view, items)
    return FolderPage(
        account=account,
        accounts=tuple(accounts),
        folders=tuple(folders),
        folder=view,
        uidvalidity=box.uidvalidity,
        total=total,
        page=page,
        pages=pages,
        rows=rows,
        query=" ".join(words),
        in_text=in_text and bool(words),
    )


def _rows(
    runtime: Runtime, account: AccountView, folder: FolderView, items: Sequence[FetchItem]
) -> tuple[MessageRow, ...]:
    """The page's rows, newest first, each with the records its addresses are on (looked up
    for the whole page at once)."""
    outgoing = folder.role in (FolderRole.SENT, FolderRole.DRAFTS)
    rows: list[tuple[MessageRow, tuple[str, ...]]] = []
    for item in sorted(items, key=lambda i: -i.uid):
        headers = parse_headers(item.section(LIST_FIELDS) or b"")
        shown = (headers.to or headers.cc) if outgoing else headers.from_
        name = shown[0].name or shown[0].address if shown else ""
        if len(shown) > 1:
            name = f"{name} +{len(shown) - 1}"
        flags = {flag.casefold() for flag in item.flags or ()}
        plan = plan_text_fetch(item.bodystructure) if item.bodystructure is not None else None
        row = MessageRow(
            uid=item.uid,
            subject=headers.subject,
            correspondent=name,
            correspondent_address=shown[0].address if shown else "",
            date=headers.date or item.internaldate,
            size=item.size or 0,
            is_seen=SEEN.casefold() in flags,
            is_flagged=FLAGGED.casefold() in flags,
            is_answered=ANSWERED.casefold() in flags,
            has_attachments=bool(plan and plan.attachments),
        )
        keys = tuple(
            key
            for mailbox in (*headers.from_, *headers.to, *headers.cc)
            if (key := normalize_address(mailbox.address)) is not None
        )
        rows.append((row, keys))
    people = _people(runtime, {k for _, keys in rows for k in keys}, _own_keys(account))
    return tuple(
        replace(row, people=tuple({r.id: r for k in keys for r in people.get(k, ())}.values()))
        for row, keys in rows
    )


def _own_keys(account: AccountView) -> frozenset[str]:
    addresses = (*account.own_addresses, account.username, account.owner_email)
    return frozenset(k for a in addresses if (k := normalize_address(a)) is not None)


def _people(
    runtime: Runtime, keys: Iterable[str], own: frozenset[str]
) -> dict[str, tuple[PersonRef, ...]]:
    """``{address key: the records it is on}``, the account's own addresses left out."""
    wanted = set(keys) - own
    if not wanted:
        return {}
    with runtime.read() as session:
        found = matching.find_people_by_addresses(session=session, address_keys=wanted)
        names = record_store.get_person_names(
            session=session, person_ids=(pid for ids in found.values() for pid in ids)
        )
    return {
        key: tuple(PersonRef(pid, names[pid]) for pid in ids if names.get(pid))
        for key, ids in found.items()
    }


# --- one message -------------------------------------------------------------------------


def _cache_key(user_id: int, account_id: int, ref: MessageRef) -> tuple[object, ...]:
    return ("mail", user_id, account_id, ref.folder, ref.uidvalidity, ref.uid)


def _gone(ref: MessageRef) -> NotFound:
    return NotFound(
        f"message {ref.uid} is no longer in {ref.folder}",
        advice="it was moved or deleted, perhaps in another mail program; reopen the folder",
    )


async def _select(client: MailboxClient, ref: MessageRef) -> SelectedFolder:
    """SELECT the folder of ``ref`` (read-write, unless the server opens it ``[READ-ONLY]``);
    ``NotFound`` when it is gone or reset."""
    try:
        box = await client.select(encode_mailbox(ref.folder))
    except CommandFailed as exc:
        raise _folder_missing(ref.folder) from exc
    if box.uidvalidity != ref.uidvalidity:
        raise _gone(ref)
    return box


async def open_message(
    *, runtime: Runtime, user_id: int, account_id: int, ref: MessageRef
) -> MessageView:
    """The message ``ref`` names, as it is now, marked read on the server (``\\Seen``, as any
    mail program does when a message is opened). ``NotFound`` when the account is not the
    user's or the message is no longer there; ``MailUnavailable`` when the server cannot be
    asked."""
    account, *accounts = await asyncio.to_thread(_load, runtime, user_id, account_id)
    async with connected(runtime, account) as client:
        folders = await _list_folders(client, account, counts=False)
        folder = _find_folder(folders, ref.folder)
        box = await _select(client, ref)
        origin = Origin(account.id, encode_mailbox(ref.folder), ref.uidvalidity, ref.uid)
        fetched = await original.fetch_uid(client, origin, account.label, ref.folder)
        if fetched is None:
            raise _gone(ref)
        flagged = await client.uid_fetch([ref.uid], ["FLAGS"])
        flags = {f.casefold() for f in (flagged[0].flags or ()) if flagged} if flagged else set()
        if SEEN.casefold() not in flags and not box.read_only:
            await client.uid_store([ref.uid], add=[SEEN])
            _seen_one(account, folder.name)
    if not fetched.is_partial:
        fetched = replace(fetched, parsed=await asyncio.to_thread(read_original, fetched.raw))
    original.remember(_cache_key(user_id, account_id, ref), fetched)
    message = fetched.message()
    correspondents = await asyncio.to_thread(
        _correspondents,
        runtime,
        account,
        (("from", message.sender), ("to", message.to), ("cc", message.cc)),
    )
    view = MessageView(
        account=account,
        accounts=tuple(accounts),
        folders=tuple(folders),
        folder=folder,
        uidvalidity=ref.uidvalidity,
        uid=ref.uid,
        subject=message.subject,
        sender=message.sender,
        to=message.to,
        cc=message.cc,
        date=message.date,
        is_flagged=FLAGGED.casefold() in flags,
        is_seen=True,
        has_html=False,
        text=None,
        remote_images=0,
        attachments=(),
        correspondents=correspondents,
    )
    if fetched.is_partial:
        return replace(
            view,
            text=fetched.partial_text,
            attachments=fetched.partial_attachments,
            is_partial=True,
        )
    remote = 0
    if message.html is not None:
        remote = await asyncio.to_thread(original.count_remote_images, message.html)
    return replace(
        view,
        has_html=message.html is not None,
        text=message.text if message.html is None else None,
        remote_images=remote,
        attachments=tuple(original.attachment_view(part) for part in message.attachments),
    )


def _correspondents(
    runtime: Runtime,
    account: AccountView,
    fields: Iterable[tuple[str, tuple[tuple[str, str], ...]]],
) -> tuple[Correspondent, ...]:
    own = _own_keys(account)
    listed = [
        (role, name, address, normalize_address(address))
        for role, pairs in fields
        for name, address in pairs
    ]
    people = _people(runtime, (key for *_, key in listed if key), own)
    seen: set[str] = set()
    result = []
    for role, name, address, key in listed:
        if key is None or key in seen:
            continue
        seen.add(key)
        result.append(Correspondent(role, name, address, people.get(key, ()), key in own))
    return tuple(result)


async def fetched_message(
    runtime: Runtime, user_id: int, account_id: int, ref: MessageRef
) -> tuple[AccountView, Fetched]:
    """The message's bytes: from the cache, else read again (read-only)."""
    account, *_ = await asyncio.to_thread(_load, runtime, user_id, account_id)
    key = _cache_key(user_id, account_id, ref)
    kept = original.cached(key)
    if kept is not None:
        return account, kept
    async with connected(runtime, account) as client:
        try:
            box = await client.examine(encode_mailbox(ref.folder))
        except CommandFailed as exc:
            raise _folder_missing(ref.folder) from exc
        if box.uidvalidity != ref.uidvalidity:
            raise _gone(ref)
        origin = Origin(account.id, encode_mailbox(ref.folder), ref.uidvalidity, ref.uid)
        fetched = await original.fetch_uid(client, origin, account.label, ref.folder)
    if fetched is None:
        raise _gone(ref)
    if not fetched.is_partial:
        fetched = replace(fetched, parsed=await asyncio.to_thread(read_original, fetched.raw))
    original.remember(key, fetched)
    return account, fetched


async def get_message_body(
    *,
    runtime: Runtime,
    user_id: int,
    account_id: int,
    ref: MessageRef,
    allow_remote_images: bool,
    image_url: Callable[[str], str],
) -> original.OriginalBody:
    """The body for the sandboxed frame, sanitised as Open original's is."""
    _, fetched = await fetched_message(runtime, user_id, account_id, ref)
    return await original.body_of(
        fetched, allow_remote_images=allow_remote_images, image_url=image_url
    )


async def get_message_part(
    *, runtime: Runtime, user_id: int, account_id: int, ref: MessageRef, number: str
) -> PartContent:
    """Part ``number`` of the message, decoded, to download; ``NotFound`` when it has none."""
    if not is_part_number(number):
        raise NotFound("the email has no such part", advice="open the email to see its files")
    _, fetched = await fetched_message(runtime, user_id, account_id, ref)
    return await original.part_of(runtime, fetched, number)


def image_subject(account_id: int, ref: MessageRef, number: str) -> str:
    """What an inline image link of the mail client signs (``original.sign_image_link``)."""
    return json.dumps(["mail", account_id, ref.folder, ref.uidvalidity, ref.uid, number])


def sign_inline_image(
    *, runtime: Runtime, user_id: int, account_id: int, ref: MessageRef, number: str
) -> str:
    """A token that lets the body frame (which sends no cookie) load one inline image."""
    return original.sign_image_link(runtime, user_id, image_subject(account_id, ref, number))


async def get_inline_image(
    *, runtime: Runtime, token: str, account_id: int, ref: MessageRef, number: str
) -> PartContent:
    """An inline image of the message for the body frame; ``token`` names the viewer."""
    if not is_part_number(number):
        raise NotFound("the email has no such image")
    subject = image_subject(account_id, ref, number)
    user_id = original.check_image_link(runtime, token, subject)
    if user_id is None:
        raise NotFound("this image link has expired", advice="reload the email")
    content = await get_message_part(
        runtime=runtime, user_id=user_id, account_id=account_id, ref=ref, number=number
    )
    if content.content_type not in INLINE_IMAGE_TYPES:
        raise NotFound(f"part {number} is not an image")
    return content


# --- acting on messages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What was done, in words for the next page (``Moved 2 messages to Archive.``)."""

    message: str
    removed: bool
    """The messages left the folder (moved or deleted)."""


def _messages(count: int) -> str:
    return "1 message" if count == 1 else f"{count:,} messages"


async def act(
    *,
    runtime: Runtime,
    user_id: int,
    account_id: int,
    folder: str,
    uidvalidity: int,
    uids: Sequence[int],
    action: Action,
    target: str = "",
) -> ActionResult:
    """Do ``action`` to ``uids`` of ``folder`` on the server at once.

    Read/unread and flag/unflag set or clear ``\\Seen`` and ``\\Flagged``. Move moves them
    to ``target`` (RFC 6851 MOVE, else COPY and a UID EXPUNGE of exactly those). Delete moves
    them to the Trash folder; in the Trash (or with no Trash folder) it removes them for good
    (``\\Deleted`` and UID EXPUNGE of exactly those). ``InputError`` for no messages or an
    unknown target; ``NotFound`` when the folder's UIDVALIDITY changed since the page was
    made (the UIDs would name other messages)."""
    if not uids:
        raise InputError("no message was chosen", advice="tick the messages to act on")
    account, *_ = await asyncio.to_thread(_load, runtime, user_id, account_id)
    ref = MessageRef(folder, uidvalidity, uids[0])
    async with connected(runtime, account) as client:
        folders = await _list_folders(client, account, counts=False)
        source = _find_folder(folders, folder)
        if (await _select(client, ref)).read_only:
            raise InputError(
                f"the server lets you read {folder} but not change it",
                advice="it may be a shared or archived folder; ask whoever runs the mail server",
            )
        _counts.pop(_counts_key(account), None)  # what is read, and where, changes now
        count = _messages(len(uids))
        if action in (Action.READ, Action.UNREAD, Action.FLAG, Action.UNFLAG):
            flag = SEEN if action in (Action.READ, Action.UNREAD) else FLAGGED
            if action in (Action.READ, Action.FLAG):
                await client.uid_store(uids, add=[flag])
            else:
                await client.uid_store(uids, remove=[flag])
            words = {
                Action.READ: "marked read",
                Action.UNREAD: "marked unread",
                Action.FLAG: "flagged",
                Action.UNFLAG: "unflagged",
            }
            return ActionResult(f"{count.capitalize()} {words[action]}.", removed=False)
        if action is Action.MOVE:
            destination = _destination(folders, target, source)
            await client.uid_move(uids, encode_mailbox(destination.name))
            _forget(user_id, account_id, folder, uidvalidity, uids)
            return ActionResult(f"Moved {count} to {destination.name}.", removed=True)
        trash = next((f for f in folders if f.role is FolderRole.TRASH and f.is_selectable), None)
        if trash is not None and trash.name != source.name:
            await client.uid_move(uids, encode_mailbox(trash.name))
            _forget(user_id, account_id, folder, uidvalidity, uids)
            return ActionResult(f"Moved {count} to {trash.name}.", removed=True)
        if not client.has("UIDPLUS"):  # a plain EXPUNGE would take others' \Deleted too
            raise InputError(
                "this mail server cannot delete single messages for good",
                advice="empty the Trash in your mail program",
            )
        await client.uid_store(uids, add=[DELETED])
        await client.uid_expunge(uids)
        _forget(user_id, account_id, folder, uidvalidity, uids)
        return ActionResult(f"Deleted {count} for good.", removed=True)


def _destination(folders: Sequence[FolderView], target: str, source: FolderView) -> FolderView:
    if not target:
        raise InputError("no folder to move to was chosen", advice="pick a folder")
    try:
        destination = _find_folder(folders, target)
    except NotFound as exc:
        raise InputError(f"there is no folder {target!r} to move to", advice=exc.advice) from exc
    if destination.name == source.name:
        raise InputError(f"the messages are already in {target}", advice="pick another folder")
    return destination


def _forget(
    user_id: int, account_id: int, folder: str, uidvalidity: int, uids: Sequence[int]
) -> None:
    for uid in uids:
        original.forget_cached(
            _cache_key(user_id, account_id, MessageRef(folder, uidvalidity, uid))
        )
