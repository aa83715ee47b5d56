"""Open original: an activity's email as it is now on the server (docs/sync.md, docs/web.md).

The viewer opens *their own* copy: a copy of the message (same fingerprint) in one of their
mail accounts. Nobody else's mailbox is read, and an activity whose message the viewer holds
no copy of does not exist for them (``NotFound``, a 404 in the web, docs/web.md).

How the copy is found (docs/sync.md: read-only, EXAMINE and BODY.PEEK only):

1. A message ingested from a file is read from that file while it exists.
2. Each location the sync believes current (``message_location`` not unlinked) is tried:
   EXAMINE the folder; when its UIDVALIDITY still matches, ``UID FETCH uid (RFC822.SIZE)``,
   then ``BODY.PEEK[]`` up to ``MAX_ORIGINAL_BYTES`` (a bigger message gives its header, its
   text part and its attachment list only; a download of one of its files then fetches that
   part alone, ``BODY.PEEK[<part>.MIME]`` and ``BODY.PEEK[<part>]``, when it is no bigger
   than ``MAX_ORIGINAL_BYTES``).
3. Otherwise the account's every selectable folder (LIST, not only the tracked ones) is
   searched: ``UID SEARCH EMAILID`` where the server has OBJECTID (RFC 8474), ``X-GM-MSGID``
   on Gmail, then ``UID SEARCH HEADER Message-ID``. Where it is found is remembered as a
   location (the folder row is made untracked when new: the sync still leaves it alone), and
   the stale location is unlinked.
4. Found nowhere: ``mail_message.deleted_on_server_at`` is set, and the view says so and
   shows the text the activity kept.

A server that cannot be reached, hangs (``OPEN_TIMEOUT``) or refuses the login gives a view
with the error and what to do, never an exception. Unlike the other services, these take the
``Runtime`` rather than the caller's session: the IMAP work is async and may take seconds, so
database work runs in short sessions of its own in a thread (``asyncio.to_thread``), as does
parsing and sanitising, and the event loop stays free.

The fetched bytes are kept in memory for ``CACHE_SECONDS`` (per viewer and activity): the
page, its body frame, its inline images and downloads then cost one IMAP fetch, not five.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import functools
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from postroom.config import Settings
from postroom.errors import NotFound, PostroomError
from postroom.imap import CommandFailed, Folder, ImapClient
from postroom.imap.errors import AuthFailed
from postroom.mail.filenames import display_filename
from postroom.mail.render import (
    INLINE_IMAGE_TYPES,
    OriginalMessage,
    OriginalPart,
    get_part_data,
    is_part_number,
    parse_original,
    read_original,
    sanitize_html,
)
from postroom.mail.structure import TEXT_FETCH_BYTES, decode_text_part, plan_text_fetch
from postroom.services.runtime import Runtime
from postroom.services.secrets import load_or_create_key
from postroom.services.syncing import load_logins
from postroom.store import messages as message_store
from postroom.store import sync_state
from postroom.store.models import BodyState
from postroom.sync.account import AccountLogin, find_role

logger = logging.getLogger(__name__)

MAX_ORIGINAL_BYTES = 25 * 1024 * 1024
"""A message bigger than this is shown as its header, text and attachment list only."""
MAX_SEARCHED_FOLDERS = 500
"""At most this many folders are searched for a moved message."""
CACHE_SECONDS = 120.0
CACHE_BYTES = 96 * 1024 * 1024
IMAGE_TOKEN_SECONDS = 3600
CONNECT_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0
OPEN_TIMEOUT = 90.0
"""Seconds the whole opening (connect, look, search every folder) may take."""


class OriginalState(enum.Enum):
    SHOWN = "shown"
    """The whole message as it is now."""
    PARTIAL = "partial"
    """Too large to show whole: its header, its text and its attachments' names."""
    GONE = "gone"
    """No longer on the server (or its file is gone): the activity's stored text is shown."""
    UNREACHABLE = "unreachable"
    """The server could not be asked (network, TLS, login): ``error`` and ``advice`` say why."""


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """``number`` is the IMAP part number to download (``"2"``, ``"1.2"``; None when it
    cannot be: a partial message). ``filename`` is the safe display name
    (``mail.filenames.display_filename``), never the name as sent."""

    number: str | None
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class OriginalView:
    """What the Open original page shows. ``sender``/``to``/``cc`` are ``(name, address)``
    pairs; ``text`` is the plain-text body when there is no HTML body (``has_html``)."""

    activity_id: int
    person_id: int
    state: OriginalState
    subject: str
    sender: tuple[tuple[str, str], ...] = ()
    to: tuple[tuple[str, str], ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    date: datetime | None = None
    account_label: str = ""
    where: str = ""
    """The folder it was read from (``Archive``), or ``a file``."""
    mail_location: tuple[int, str, int, int] | None = None
    """Where the mail client can open it: (account id, folder, UIDVALIDITY, UID); None when it
    was read from a file or could not be read."""
    has_html: bool = False
    text: str | None = None
    remote_images: int = 0
    """Remote images the HTML body refers to, blocked until the viewer asks for them."""
    attachments: tuple[AttachmentView, ...] = ()
    stored_text: str | None = None
    """The text the activity kept (shown when the original is gone or unreachable)."""
    is_text_withheld: bool = False
    error: str | None = None
    advice: str | None = None


@dataclass(frozen=True, slots=True)
class OriginalBody:
    """The body for the sandboxed frame: sanitised ``html`` or plain ``text`` (one is set)."""

    html: str | None
    text: str | None
    blocked_images: int


@dataclass(frozen=True, slots=True)
class PartContent:
    filename: str
    content_type: str
    data: bytes


# --- what the viewer may open ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Location:
    folder_id: int
    name_raw: bytes
    name: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class _Copy:
    message_id: int
    account_id: int
    account_label: str
    source_path: str | None
    message_id_header: str | None
    emailid: str | None
    gm_msgid: int | None
    locations: tuple[_Location, ...]


@dataclass(frozen=True, slots=True)
class _Activity:
    activity_id: int
    person_id: int
    subject: str
    occurred_at: datetime | None
    participants: dict[str, list[list[str]]]
    stored_text: str | None
    is_text_withheld: bool
    copies: tuple[_Copy, ...]


def _load_activity(runtime: Runtime, user_id: int, activity_id: int) -> _Activity:
    with runtime.read() as session:
        found = message_store.get_activity_with_copies(
            session=session, activity_id=activity_id, user_id=user_id
        )
        if found is None or not found[1]:
            raise NotFound(
                "there is no such email",
                advice="open the email from a record's timeline; only your own mailbox's "
                "copy can be opened",
            )
        activity, rows = found
        copies = tuple(
            _Copy(
                message_id=message.id,
                account_id=account.id,
                account_label=account.label,
                source_path=message.source_path,
                message_id_header=message.message_id_header,
                emailid=message.emailid,
                gm_msgid=message.gm_msgid,
                locations=tuple(
                    _Location(folder.id, folder.name_raw, folder.name, loc.uidvalidity, loc.uid)
                    for loc, folder in sync_state.list_linked_locations(
                        session=session, message_id=message.id
                    )
                ),
            )
            for message, account in rows
        )
        return _Activity(
            activity_id=activity.id,
            person_id=activity.person_id,
            subject=activity.subject,
            occurred_at=activity.occurred_at,
            participants=dict(activity.participants or {}),
            stored_text=activity.text,
            is_text_withheld=activity.body_state is BodyState.WITHHELD,
            copies=copies,
        )


# --- fetching ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Where on the server a message was read: its part can be fetched from there alone."""

    account_id: int
    name_raw: bytes
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class Fetched:
    """The message's bytes (the header block alone when ``is_partial``); ``origin`` is where
    on the server it was read (None for a file)."""

    raw: bytes
    account_label: str
    where: str
    is_partial: bool = False
    partial_text: str = ""
    partial_attachments: tuple[AttachmentView, ...] = ()
    parsed: OriginalMessage | None = field(default=None, compare=False)
    origin: Origin | None = None

    def message(self) -> OriginalMessage:
        return self.parsed if self.parsed is not None else read_original(self.raw)


@dataclass(frozen=True, slots=True)
class _Failure:
    state: OriginalState
    error: str
    advice: str | None = None
    account_label: str = ""


_cache: OrderedDict[tuple[object, ...], tuple[float, Fetched]] = OrderedDict()


def cached(key: tuple[object, ...]) -> Fetched | None:
    entry = _cache.get(key)
    if entry is None:
        return None
    if entry[0] < time.monotonic():
        del _cache[key]
        return None
    _cache.move_to_end(key)
    return entry[1]


def remember(key: tuple[object, ...], fetched: Fetched) -> None:
    _cache[key] = (time.monotonic() + CACHE_SECONDS, fetched)
    _cache.move_to_end(key)
    total = sum(len(item.raw) for _, item in _cache.values())
    while total > CACHE_BYTES and len(_cache) > 1:
        _, (_, dropped) = _cache.popitem(last=False)
        total -= len(dropped.raw)


def forget_cached(key: tuple[object, ...]) -> None:
    """Drop one message kept in memory (it was moved or deleted)."""
    _cache.pop(key, None)


def forget_cached_originals() -> None:
    """Drop every message kept in memory (tests use it to see the server's state anew)."""
    _cache.clear()


async def _obtain(
    runtime: Runtime, user_id: int, activity_id: int, *, fresh: bool
) -> tuple[_Activity, Fetched | _Failure]:
    activity = await asyncio.to_thread(_load_activity, runtime, user_id, activity_id)
    key = (user_id, activity_id)
    if not fresh and (kept := cached(key)) is not None:
        return activity, kept
    failures: list[_Failure] = []
    for copy in activity.copies:
        outcome = await _obtain_copy(runtime, copy)
        if isinstance(outcome, Fetched):
            if not outcome.is_partial:  # parsed once, off the event loop
                parsed = await asyncio.to_thread(read_original, outcome.raw)
                outcome = replace(outcome, parsed=parsed)
            remember(key, outcome)
            return activity, outcome
        failures.append(outcome)
    unreachable = [f for f in failures if f.state is OriginalState.UNREACHABLE]
    return activity, (unreachable or failures)[0]


async def _obtain_copy(runtime: Runtime, copy: _Copy) -> Fetched | _Failure:
    if copy.source_path is not None:
        path = Path(copy.source_path)
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except OSError:
            return _Failure(
                OriginalState.GONE,
                "The file this email was read from is no longer there.",
                advice=f"It was read from {copy.source_path}. What was logged stays on the record.",
                account_label=copy.account_label,
            )
        return Fetched(raw, copy.account_label, "a file")
    try:
        login = await asyncio.to_thread(load_login, runtime, copy.account_id)
        async with asyncio.timeout(OPEN_TIMEOUT):
            return await _fetch_from_server(runtime, copy, login)
    except AuthFailed:
        return _Failure(
            OriginalState.UNREACHABLE,
            f"The mail server refused the login of {copy.account_label}.",
            advice="The account needs a new password: store the current one with "
            f"`postroom account password {copy.account_id}` (an app password where the "
            "provider asks for one). The sync needs it too.",
            account_label=copy.account_label,
        )
    except TimeoutError:
        return _Failure(
            OriginalState.UNREACHABLE,
            f"The mail server of {copy.account_label} took too long to answer.",
            advice="Try again in a minute; if it keeps happening, check the account's health.",
            account_label=copy.account_label,
        )
    except (PostroomError, OSError) as exc:
        logger.info("open original: account %s: %s", copy.account_id, exc)
        advice = getattr(exc, "advice", None) or "try again in a minute"
        return _Failure(
            OriginalState.UNREACHABLE,
            f"The mail server of {copy.account_label} could not be asked: {exc}",
            advice=str(advice),
            account_label=copy.account_label,
        )


def load_login(runtime: Runtime, account_id: int) -> AccountLogin:
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        logins = load_logins(
            session=session, keyring=keyring, settings=runtime.settings, account_ids=[account_id]
        )
    if not logins:
        raise NotFound(f"mail account #{account_id} was removed meanwhile")
    return logins[0]


async def _fetch_from_server(
    runtime: Runtime, copy: _Copy, login: AccountLogin
) -> Fetched | _Failure:
    client = await ImapClient.connect(
        login.address, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
    )
    async with client:
        await client.login(login.username, login.password)
        stale: list[_Location] = []
        for location in copy.locations:
            try:
                box = await client.examine(location.name_raw)
            except CommandFailed:  # FolderMissing, or a folder we may no longer read
                continue
            if box.uidvalidity != location.uidvalidity:
                continue
            origin = Origin(copy.account_id, location.name_raw, box.uidvalidity, location.uid)
            fetched = await fetch_uid(client, origin, copy.account_label, location.name)
            if fetched is not None:
                return fetched
            stale.append(location)
        found = await _search(client, copy)
    if found is not None:
        fetched, (folder, uidvalidity, uid) = found
        await asyncio.to_thread(_remember_location, runtime, copy, folder, uidvalidity, uid, stale)
        return fetched
    await asyncio.to_thread(_mark_gone, runtime, copy, stale)
    return _Failure(
        OriginalState.GONE,
        "This email is no longer on the server.",
        advice="It was deleted from the mailbox, or moved where Postroom cannot reach it. "
        "What was logged when it arrived stays on the record.",
        account_label=copy.account_label,
    )


async def _search(
    client: ImapClient, copy: _Copy
) -> tuple[Fetched, tuple[Folder, int, int]] | None:
    criteria = _search_criteria(client, copy)
    if not criteria:
        return None
    folders = [folder for folder in await client.list_folders() if folder.is_selectable]
    first = {location.name_raw for location in copy.locations}
    folders.sort(key=lambda f: (f.name_raw not in first, f.name.upper() != "INBOX", f.name))
    for folder in folders[:MAX_SEARCHED_FOLDERS]:
        try:
            box = await client.examine(folder.name_raw)
        except CommandFailed:
            continue  # gone since LIST, or not ours to read
        for criterion in criteria:
            uids = await client.uid_search(criterion)
            for uid in reversed(uids):
                origin = Origin(copy.account_id, folder.name_raw, box.uidvalidity, uid)
                fetched = await fetch_uid(client, origin, copy.account_label, folder.name)
                if fetched is not None:
                    return fetched, (folder, box.uidvalidity, uid)
    return None


def _search_criteria(client: ImapClient, copy: _Copy) -> list[str]:
    criteria = []
    if copy.emailid and client.has("OBJECTID") and _is_searchable(copy.emailid):
        criteria.append(f"EMAILID {copy.emailid}")  # RFC 8474
    if copy.gm_msgid is not None and client.has("X-GM-EXT-1"):
        criteria.append(f"X-GM-MSGID {copy.gm_msgid}")
    header = copy.message_id_header
    if header and _is_searchable(header):
        quoted = header.replace("\\", "\\\\").replace('"', '\\"')
        criteria.append(f'HEADER Message-ID "{quoted}"')
    return criteria


def _is_searchable(value: str) -> bool:
    return value.isascii() and value.isprintable() and 0 < len(value) <= 900


async def fetch_uid(
    client: ImapClient, origin: Origin, account_label: str, where: str
) -> Fetched | None:
    uid = origin.uid
    sized = await client.uid_fetch([uid], ["RFC822.SIZE"])
    if not sized:
        return None
    if (sized[0].size or 0) <= MAX_ORIGINAL_BYTES:
        items = await client.uid_fetch([uid], ["BODY.PEEK[]"])
        raw = items[0].section("BODY.PEEK[]") if items else None
        return None if raw is None else Fetched(raw, account_label, where, origin=origin)
    items = await client.uid_fetch([uid], ["BODY.PEEK[HEADER]", "BODYSTRUCTURE"])
    if not items:
        return None
    header = items[0].section("BODY.PEEK[HEADER]") or b""
    plan = plan_text_fetch(items[0].bodystructure)
    text = ""
    if plan.part is not None:
        item = f"BODY.PEEK[{plan.part}]<0.{TEXT_FETCH_BYTES}>"
        parts = await client.uid_fetch([uid], [item])
        payload = parts[0].section(item) if parts else None
        text = decode_text_part(payload or b"", plan).text
    attachments = tuple(
        AttachmentView(
            a.part if a.size <= MAX_ORIGINAL_BYTES else None,
            display_filename(a.filename, _unnamed(a.content_type)),
            a.content_type,
            a.size,
        )
        for a in plan.attachments
    )
    return Fetched(header, account_label, where, True, text, attachments, origin=origin)


async def _fetch_part(runtime: Runtime, fetched: Fetched, number: str) -> PartContent | None:
    """Part ``number`` of a message too large to read whole, fetched alone from where it was
    read (``BODY.PEEK[n.MIME]`` and ``BODY.PEEK[n]``, read-only), decoded; None when it is
    no file the view listed as downloadable, or is no longer there."""
    listed = {a.number: a for a in fetched.partial_attachments if a.number is not None}
    origin = fetched.origin
    if number not in listed or origin is None:
        return None
    login = await asyncio.to_thread(load_login, runtime, origin.account_id)
    async with asyncio.timeout(OPEN_TIMEOUT):
        client = await ImapClient.connect(
            login.address, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
        )
        async with client:
            await client.login(login.username, login.password)
            try:
                box = await client.examine(origin.name_raw)
            except CommandFailed:  # the folder is gone, or no longer ours to read
                return None
            if box.uidvalidity != origin.uidvalidity:
                return None
            mime_item, body_item = f"BODY.PEEK[{number}.MIME]", f"BODY.PEEK[{number}]"
            items = await client.uid_fetch([origin.uid], [mime_item, body_item])
    if not items or (body := items[0].section(body_item)) is None:
        return None
    header = items[0].section(mime_item) or b""
    attachment = listed[number]
    data = await asyncio.to_thread(_decode_fetched_part, header, body, attachment.content_type)
    return PartContent(attachment.filename, attachment.content_type, data)


async def fetch_part_or_fail(runtime: Runtime, fetched: Fetched, number: str) -> PartContent | None:
    """``_fetch_part``, a server that cannot be asked now being a ``NotFound`` that says so."""
    try:
        return await _fetch_part(runtime, fetched, number)
    except AuthFailed as exc:
        raise NotFound(
            f"the mail server refused the login of {fetched.account_label}",
            advice="store the account's current password; the sync needs it too",
        ) from exc
    except TimeoutError as exc:
        raise NotFound(
            f"the mail server of {fetched.account_label} took too long to answer",
            advice="try again in a minute",
        ) from exc
    except (PostroomError, OSError) as exc:
        logger.info("open original: part %s: %s", number, exc)
        raise NotFound(
            f"the mail server of {fetched.account_label} could not be asked",
            advice="try again in a minute",
        ) from exc


def _decode_fetched_part(header: bytes, body: bytes, content_type: str) -> bytes:
    """The content of a part fetched as its MIME header and its body: the body decoded by
    its Content-Transfer-Encoding; a nested message as it is."""
    if content_type.startswith("message/"):
        return body
    part = parse_original(header.rstrip(b"\r\n") + b"\r\n\r\n")
    if "content-transfer-encoding" not in part:
        return body
    part.set_payload(body.decode("ascii", "surrogateescape"))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else body


def _remember_location(
    runtime: Runtime,
    copy: _Copy,
    folder: Folder,
    uidvalidity: int,
    uid: int,
    stale: list[_Location],
) -> None:
    with runtime.write() as session:
        row = sync_state.ensure_folder(
            session=session,
            account_id=copy.account_id,
            name_raw=folder.name_raw,
            name=folder.name,
            delimiter=folder.delimiter,
            role=find_role(folder.name, folder.flags, folder.delimiter),
            is_tracked=False,
        )
        _unlink(session, stale)
        sync_state.add_locations(
            session=session,
            folder_id=row.id,
            uidvalidity=uidvalidity,
            rows=[(uid, copy.message_id, None, ())],
        )
    logger.info("open original: message %s found in %s (UID %s)", copy.message_id, folder.name, uid)


def _mark_gone(runtime: Runtime, copy: _Copy, stale: list[_Location]) -> None:
    with runtime.write() as session:
        _unlink(session, stale)
        message_store.mark_message_deleted(session=session, message_id=copy.message_id)
    logger.info("open original: message %s is no longer on the server", copy.message_id)


def _unlink(session: Session, stale: list[_Location]) -> None:
    for location in stale:
        sync_state.unlink_uid_ranges(
            session=session,
            folder_id=location.folder_id,
            uidvalidity=location.uidvalidity,
            ranges=[(location.uid, location.uid)],
        )


# --- what the web asks for ---------------------------------------------------------------


async def open_original(*, runtime: Runtime, user_id: int, activity_id: int) -> OriginalView:
    """The view of activity ``activity_id``'s email as it is now, for ``user_id``.

    Raises ``NotFound`` when there is no such activity or the user holds no copy of its
    message; every other trouble is a view with ``state`` GONE or UNREACHABLE.
    """
    activity, outcome = await _obtain(runtime, user_id, activity_id, fresh=True)
    people = activity.participants
    logged = OriginalView(  # what the activity kept: the view when the original cannot be read
        activity_id=activity.activity_id,
        person_id=activity.person_id,
        state=OriginalState.GONE,
        subject=activity.subject,
        sender=_pairs(people.get("from")),
        to=_pairs(people.get("to")),
        cc=_pairs(people.get("cc")),
        date=activity.occurred_at,
        stored_text=activity.stored_text,
        is_text_withheld=activity.is_text_withheld,
    )
    if isinstance(outcome, _Failure):
        return replace(
            logged,
            state=outcome.state,
            account_label=outcome.account_label,
            error=outcome.error,
            advice=outcome.advice,
        )
    message = outcome.message()
    read = replace(
        logged,
        subject=message.subject,
        sender=message.sender,
        to=message.to,
        cc=message.cc,
        date=message.date or activity.occurred_at,
        account_label=outcome.account_label,
        where=outcome.where,
        mail_location=(
            (origin.account_id, outcome.where, origin.uidvalidity, origin.uid)
            if (origin := outcome.origin) is not None
            else None
        ),
    )
    if outcome.is_partial:
        return replace(
            read,
            state=OriginalState.PARTIAL,
            text=outcome.partial_text,
            attachments=outcome.partial_attachments,
            advice=f"It is larger than {MAX_ORIGINAL_BYTES // (1024 * 1024)} MB: its files "
            "download one at a time; open it in your mail program to see it whole.",
        )
    remote = 0
    if message.html is not None:
        remote = await asyncio.to_thread(count_remote_images, message.html)
    return replace(
        read,
        state=OriginalState.SHOWN,
        has_html=message.html is not None,
        text=message.text if message.html is None else None,
        remote_images=remote,
        attachments=tuple(attachment_view(part) for part in message.attachments),
    )


async def get_original_body(
    *,
    runtime: Runtime,
    user_id: int,
    activity_id: int,
    allow_remote_images: bool,
    image_url: Callable[[str], str],
) -> OriginalBody:
    """The body for the sandboxed frame, sanitised; ``image_url(part number)`` is the URL of
    an inline image. Raises ``NotFound`` when there is nothing to show."""
    fetched = await _fetched_or_raise(runtime, user_id, activity_id)
    return await body_of(fetched, allow_remote_images=allow_remote_images, image_url=image_url)


async def body_of(
    fetched: Fetched, *, allow_remote_images: bool, image_url: Callable[[str], str]
) -> OriginalBody:
    """The body frame's content of a fetched message: its HTML sanitised (``cid:`` images
    through ``image_url(part number)``), else its text."""
    message = fetched.message()
    if fetched.is_partial or message.html is None:
        text = fetched.partial_text if fetched.is_partial else (message.text or "")
        return OriginalBody(html=None, text=text, blocked_images=0)

    def cid_url(content_id: str) -> str | None:
        part = message.find_content_id(content_id)
        return image_url(part.number) if part is not None else None

    html = message.html
    cleaned = await asyncio.to_thread(
        lambda: sanitize_html(html, image_url=cid_url, allow_remote_images=allow_remote_images)
    )
    return OriginalBody(html=cleaned.html, text=None, blocked_images=cleaned.blocked_images)


async def get_original_part(
    *, runtime: Runtime, user_id: int, activity_id: int, number: str
) -> PartContent:
    """Part ``number`` (its IMAP part number, ``"2"`` or ``"1.2"``: what
    ``activity.attachments`` keeps as ``part``) of the email, decoded, to download.

    Raises ``NotFound`` for a number not of that form (before anything is read), when the
    viewer holds no copy, or when the email has no such part."""
    if not is_part_number(number):
        raise NotFound("the email has no such part", advice="open the email to see its files")
    fetched = await _fetched_or_raise(runtime, user_id, activity_id)
    return await part_of(runtime, fetched, number)


async def part_of(runtime: Runtime, fetched: Fetched, number: str) -> PartContent:
    """Part ``number`` of a fetched message, decoded (a part of a message too large to have
    been read whole is fetched alone); ``NotFound`` when there is no such part."""
    if fetched.is_partial:
        content = await fetch_part_or_fail(runtime, fetched, number)
        if content is None:
            raise NotFound(
                f"this email is larger than {MAX_ORIGINAL_BYTES // (1024 * 1024)} MB and part "
                f"{number} cannot be downloaded on its own",
                advice="open it in your mail program to save its attachments",
            )
        return content
    found = await asyncio.to_thread(get_part_data, fetched.raw, number)
    if found is None:
        raise NotFound(f"the email has no part {number}", advice="open the email to see its files")
    part, data = found
    return PartContent(_filename(part), part.content_type, data)


async def get_inline_image(
    *, runtime: Runtime, token: str, activity_id: int, number: str
) -> PartContent:
    """An inline (``cid:``) image of the email, for the body frame, which carries no cookie:
    ``token`` (from ``sign_inline_image``) names the viewer. Only raster images are given.
    Raises ``NotFound`` for a bad or expired token or a part that is not such an image."""
    if not is_part_number(number):
        raise NotFound("the email has no such image")
    user_id = check_image_link(runtime, token, f"{activity_id}:{number}")
    if user_id is None:
        raise NotFound("this image link has expired", advice="reload the email")
    content = await get_original_part(
        runtime=runtime, user_id=user_id, activity_id=activity_id, number=number
    )
    if content.content_type not in INLINE_IMAGE_TYPES:
        raise NotFound(f"part {number} is not an image")
    return content


def sign_inline_image(*, runtime: Runtime, user_id: int, activity_id: int, number: str) -> str:
    """A token that lets the body frame load one inline image for an hour."""
    return sign_image_link(runtime, user_id, f"{activity_id}:{number}")


def sign_image_link(runtime: Runtime, user_id: int, subject: str) -> str:
    """A token naming ``user_id`` for an hour, for the image link ``subject`` names (the
    body frame sends no cookie); ``check_image_link`` reads it back."""
    expires = int(time.time()) + IMAGE_TOKEN_SECONDS
    return f"{user_id}.{expires}.{_signature(runtime, user_id, expires, subject)}"


def check_image_link(runtime: Runtime, token: str, subject: str) -> int | None:
    """The user a ``sign_image_link`` token for ``subject`` names, or None (bad, expired)."""
    user, _, rest = token.partition(".")
    expires, _, signature = rest.partition(".")
    if not (user.isdigit() and expires.isdigit()) or int(expires) < time.time():
        return None
    expected = _signature(runtime, int(user), int(expires), subject)
    return int(user) if hmac.compare_digest(expected, signature) else None


@functools.lru_cache(maxsize=8)
def _image_key(settings: Settings) -> bytes:
    """The key of the inline image links, derived once (the key file is read once)."""
    return load_or_create_key(settings).derive("original inline image")


def _signature(runtime: Runtime, user_id: int, expires: int, subject: str) -> str:
    key = _image_key(runtime.settings)
    message = f"{user_id}:{expires}:{subject}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def _fetched_or_raise(runtime: Runtime, user_id: int, activity_id: int) -> Fetched:
    _, outcome = await _obtain(runtime, user_id, activity_id, fresh=False)
    if isinstance(outcome, _Failure):
        raise NotFound(outcome.error, advice=outcome.advice)
    return outcome


def count_remote_images(html: str) -> int:
    return sanitize_html(html, image_url=lambda _: None, allow_remote_images=False).blocked_images


def attachment_view(part: OriginalPart) -> AttachmentView:
    return AttachmentView(part.number, _filename(part), part.content_type, part.size)


def _filename(part: OriginalPart) -> str:
    """The safe name to show and download ``part`` as (``mail.filenames``), never its name as
    sent; ``part-2.pdf`` and the like for a part sent without a usable name."""
    extension = {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html"}
    subtype = part.content_type.partition("/")[2]
    unnamed = f"part-{part.number}" + extension.get(part.content_type, f".{subtype or 'bin'}")
    return display_filename(part.filename, display_filename(unnamed, "download"))


def _unnamed(content_type: str) -> str:
    return "An inline image" if content_type.startswith("image/") else "An unnamed part"


def _pairs(values: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(values, list):
        return ()
    return tuple(
        (str(v[0] or ""), str(v[1] or ""))
        for v in values
        if isinstance(v, list | tuple) and len(v) == 2
    )
