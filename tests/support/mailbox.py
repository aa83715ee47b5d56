"""Change a test mailbox from *outside* our code, the way another mail client would.

Every helper opens its own stdlib ``imaplib`` connection (independent from Postroom's IMAP code),
does one thing, and logs out. :func:`fill_maildir` skips IMAP and writes message files straight
into the user's Maildir, for big fast fills; Dovecot indexes them on the next SELECT.

Folder names are the IMAP names as the client sees them (``"INBOX"``, ``"Sent"``,
``"Work/Clients"`` with the server's separator); non-ASCII names are sent in modified UTF-7.
"""

from __future__ import annotations

import base64
import email.utils
import imaplib
import itertools
import os
import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, Literal

from tests.support.dovecot import DovecotServer, MailUser

__all__ = [
    "append",
    "create_folder",
    "delete_folder",
    "expunge",
    "fill_maildir",
    "folder_status",
    "list_folders",
    "list_uids",
    "maildir_folder_path",
    "move",
    "quote_mailbox",
    "reset_uidvalidity",
    "set_flags",
    "snapshot_flags",
]

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_COPYUID = re.compile(rb"(\d+) (\S+) (\S+)")
_FETCH_START = re.compile(rb"^\d+ \(")
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_FETCH_DATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_LIST_LINE = re.compile(rb'^\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$')
_maildir_seq = itertools.count(1)
_last_stamp_us = 0


class MailboxError(RuntimeError):
    """The server refused a helper's command."""


# -- names ---------------------------------------------------------------------------------------


def encode_mailbox_name(name: str) -> str:
    """IMAP's modified UTF-7 (RFC 3501 §5.1.3): folder names on the wire and on disk."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def quote_mailbox(name: str) -> str:
    """``name`` as an IMAP quoted string, modified UTF-7 encoded (imaplib quotes nothing itself)."""
    encoded = encode_mailbox_name(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _decode_list_name(raw: bytes) -> str:
    text = raw.decode("ascii")
    if text.startswith('"'):
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    # decode modified UTF-7
    out: list[str] = []
    for plain, coded in re.findall(r"([^&]+)|&([^-]*)-", text):
        if plain:
            out.append(plain)
        elif coded == "":
            out.append("&")
        else:
            b64 = coded.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
    return "".join(out)


# -- plumbing ------------------------------------------------------------------------------------


def _check(result: tuple[str, list[Any]], what: str) -> list[Any]:
    typ, data = result
    if typ != "OK":
        raise MailboxError(f"{what}: {typ} {data!r}")
    return data


def _select(conn: imaplib.IMAP4, folder: str, *, readonly: bool) -> int:
    """SELECT/EXAMINE; returns EXISTS."""
    data = _check(conn.select(quote_mailbox(folder), readonly=readonly), f"SELECT {folder}")
    return int(data[0]) if data and data[0] else 0


def _uidvalidity(conn: imaplib.IMAP4) -> int:
    _, data = conn.response("UIDVALIDITY")
    return int(data[-1])


def _capabilities(conn: imaplib.IMAP4) -> set[str]:
    data = _check(conn.capability(), "CAPABILITY")
    return set(data[-1].decode().upper().split())


def _fetch_items(conn: imaplib.IMAP4, uid_set: str, items: str) -> list[bytes]:
    """``UID FETCH`` responses, each flattened to one bytes string (literals inlined)."""
    data = _check(conn.uid("FETCH", uid_set, items), f"UID FETCH {uid_set} {items}")
    flat: list[bytes] = []
    for part in data:
        if part is None:
            continue
        head = part[0] if isinstance(part, tuple) else part
        text = head + part[1] if isinstance(part, tuple) else part
        if _FETCH_START.match(head) or not flat:
            flat.append(text)
        else:
            flat[-1] += text
    return flat


# -- helpers -------------------------------------------------------------------------------------


def message(sender: str, to: str, subject: str = "Interview", body: str = "Hello") -> bytes:
    """A plain-text message as a phone or desktop client writes it: dated now, with a Message-ID
    of its own."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = email.utils.make_msgid(domain="test.example")
    msg.set_content(body)
    return msg.as_bytes()


def append(
    server: DovecotServer,
    user: MailUser,
    folder: str,
    raw: bytes,
    flags: Sequence[str] = (),
    when: datetime | None = None,
) -> int:
    """APPEND one message; returns its UID (from APPENDUID). ``when`` is the INTERNALDATE
    (give it a timezone); imaplib turns bare LF line ends into CRLF, as IMAP requires."""
    with server.imap(user) as conn:
        date = imaplib.Time2Internaldate(when) if when is not None else None
        flag_list = "(" + " ".join(flags) + ")" if flags else None
        data = _check(conn.append(quote_mailbox(folder), flag_list, date, raw), "APPEND")
        found = _APPENDUID.search(data[0])
        if found is None:
            raise MailboxError(f"APPEND gave no APPENDUID: {data!r}")
        return int(found.group(2))


def create_folder(
    server: DovecotServer, user: MailUser, folder: str, subscribe: bool = True
) -> bool:
    """CREATE (and SUBSCRIBE) ``folder``. Returns False when it existed already (e.g. Sent,
    which the servers create by themselves), True when it was made."""
    with server.imap(user) as conn:
        typ, data = conn.create(quote_mailbox(folder))
        created = typ == "OK"
        if not created and b"ALREADYEXISTS" not in (data[0] or b""):
            raise MailboxError(f"CREATE {folder}: {typ} {data!r}")
        if subscribe:
            _check(conn.subscribe(quote_mailbox(folder)), f"SUBSCRIBE {folder}")
        return created


def delete_folder(server: DovecotServer, user: MailUser, folder: str) -> None:
    with server.imap(user) as conn:
        conn.unsubscribe(quote_mailbox(folder))
        _check(conn.delete(quote_mailbox(folder)), f"DELETE {folder}")


def list_folders(server: DovecotServer, user: MailUser) -> dict[str, tuple[str, ...]]:
    """Folder name -> LIST attributes (``\\Sent`` etc. when the server has SPECIAL-USE)."""
    with server.imap(user) as conn:
        if "SPECIAL-USE" in _capabilities(conn):
            data = _check(conn.list('""', '"*" RETURN (SPECIAL-USE)'), "LIST")
        else:
            data = _check(conn.list('""', '"*"'), "LIST")
    folders: dict[str, tuple[str, ...]] = {}
    for line in data:
        if isinstance(line, tuple):  # a literal name
            attrs = _LIST_LINE.match(line[0] + b" NIL")
            name = line[1].decode()
            folders[name] = tuple(attrs.group(1).decode().split()) if attrs else ()
            continue
        m = _LIST_LINE.match(line)
        if m:
            folders[_decode_list_name(m.group(2))] = tuple(m.group(1).decode().split())
    return folders


def folder_status(server: DovecotServer, user: MailUser, folder: str) -> dict[str, int]:
    """``STATUS folder (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)`` as a dict."""
    with server.imap(user) as conn:
        data = _check(
            conn.status(quote_mailbox(folder), "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"), "STATUS"
        )
    inner = re.search(rb"\(([^)]*)\)", data[0])
    assert inner is not None
    words = inner.group(1).decode().split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def move(server: DovecotServer, user: MailUser, src: str, uid: int, dst: str) -> int:
    """Move one message; returns its UID in ``dst`` (COPYUID). Uses UID MOVE when the server
    advertises MOVE, else UID COPY + \\Deleted + UID EXPUNGE (UIDPLUS)."""
    with server.imap(user) as conn:
        has_move = "MOVE" in _capabilities(conn)
        _select(conn, src, readonly=False)
        conn.untagged_responses.pop("COPYUID", None)
        if has_move:
            _check(conn.uid("MOVE", str(uid), quote_mailbox(dst)), f"UID MOVE {uid}")
            copyuid = conn.untagged_responses.pop("COPYUID", [None])[-1]
        else:
            _check(conn.uid("COPY", str(uid), quote_mailbox(dst)), f"UID COPY {uid}")
            copyuid = conn.untagged_responses.pop("COPYUID", [None])[-1]  # tagged OK [COPYUID]
            _check(conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
            _check(conn.uid("EXPUNGE", str(uid)), f"UID EXPUNGE {uid}")
        if not isinstance(copyuid, bytes) or not (m := _COPYUID.match(copyuid)):
            raise MailboxError(f"no COPYUID for the move of UID {uid}: {copyuid!r}")
        if m.group(2) != str(uid).encode():
            raise MailboxError(f"COPYUID for another UID: {copyuid!r}")
        return int(m.group(3))


def expunge(server: DovecotServer, user: MailUser, folder: str, uid: int) -> None:
    """Delete one message for good: ``\\Deleted`` then ``UID EXPUNGE``."""
    with server.imap(user) as conn:
        _select(conn, folder, readonly=False)
        _check(conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
        _check(conn.uid("EXPUNGE", str(uid)), f"UID EXPUNGE {uid}")


def set_flags(
    server: DovecotServer,
    user: MailUser,
    folder: str,
    uid: int,
    flags: Iterable[str],
    mode: Literal["add", "remove", "replace"] = "add",
) -> None:
    """``UID STORE uid [+-]FLAGS.SILENT (flags)``, flags like ``\\Seen`` or ``$Label``."""
    op = {"add": "+FLAGS.SILENT", "remove": "-FLAGS.SILENT", "replace": "FLAGS.SILENT"}[mode]
    with server.imap(user) as conn:
        _select(conn, folder, readonly=False)
        _check(conn.uid("STORE", str(uid), op, "(" + " ".join(flags) + ")"), "UID STORE")


def list_uids(server: DovecotServer, user: MailUser, folder: str) -> list[int]:
    """Every UID in the folder, ascending (read-only: EXAMINE)."""
    with server.imap(user) as conn:
        _select(conn, folder, readonly=True)
        data = _check(conn.uid("SEARCH", "ALL"), "UID SEARCH")
    return sorted(int(x) for x in (data[0] or b"").split())


def snapshot_flags(
    server: DovecotServer, user: MailUser, folder: str
) -> dict[int, tuple[bytes, ...]]:
    """UID -> sorted flags, read with EXAMINE (changes nothing). ``\\Recent`` is left out: it
    belongs to a session, not to the message. Compare before/after to prove a client changed no
    flag."""
    with server.imap(user) as conn:
        if _select(conn, folder, readonly=True) == 0:
            return {}
        lines = _fetch_items(conn, "1:*", "(UID FLAGS)")
    snapshot: dict[int, tuple[bytes, ...]] = {}
    for line in lines:
        uid, flags = _FETCH_UID.search(line), _FETCH_FLAGS.search(line)
        assert uid is not None, line
        assert flags is not None, line
        snapshot[int(uid.group(1))] = tuple(
            sorted(f for f in flags.group(1).split() if f != rb"\Recent")
        )
    return snapshot


def reset_uidvalidity(
    server: DovecotServer,
    user: MailUser,
    folder: str,
    how: Literal["reappend", "rebuild"] = "reappend",
) -> tuple[int, int]:
    """Give ``folder`` a new UIDVALIDITY, keeping its messages (bytes, flags, INTERNALDATE, order)
    under new UIDs 1..n. Returns ``(old, new)`` UIDVALIDITY.

    ``how="reappend"`` (a mailbox moved to a new server): read every message, delete the folder,
    create it again and APPEND everything back, so the copies are new files with new Dovecot
    ``X-GUID``s. INBOX cannot be deleted: its messages are expunged, its ``dovecot-uidlist`` and
    index files removed, then the messages appended back.

    ``how="rebuild"`` (the server lost its index): only remove the folder's ``dovecot-uidlist``
    and index files; the message files stay, and so do their ``X-GUID``s (for Maildir the file
    name). Use it while no other session has the folder selected.
    """
    if how == "rebuild":
        old = folder_status(server, user, folder)["UIDVALIDITY"]
        _drop_uid_list(maildir_folder_path(user, folder))
        new = folder_status(server, user, folder)["UIDVALIDITY"]
        if new == old:
            raise MailboxError(f"UIDVALIDITY of {folder} did not change ({old})")
        return old, new
    with server.imap(user) as conn:
        exists = _select(conn, folder, readonly=False)
        old = _uidvalidity(conn)
        saved: list[tuple[bytes, tuple[str, ...], str]] = []
        if exists:
            for line in _fetch_items(conn, "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])"):
                flags = _FETCH_FLAGS.search(line)
                date = _FETCH_DATE.search(line)
                assert flags is not None, line[:200]
                assert date is not None, line[:200]
                start = line.index(b"BODY[] {")
                size = int(line[start + 8 : line.index(b"}", start)])
                body_at = line.index(b"}", start) + 1  # imaplib drops the CRLF after {n}
                kept = tuple(f.decode() for f in flags.group(1).split() if f != rb"\Recent")
                saved.append((line[body_at : body_at + size], kept, date.group(1).decode()))
        if folder.upper() == "INBOX":
            if exists:
                _check(conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
                _check(conn.expunge(), "EXPUNGE")
            conn.close()
        else:
            conn.close()
            _check(conn.delete(quote_mailbox(folder)), f"DELETE {folder}")
            typ, data = conn.create(quote_mailbox(folder))
            if typ != "OK" and b"ALREADYEXISTS" not in data[0]:  # auto-created folders come back
                raise MailboxError(f"CREATE {folder}: {typ} {data!r}")
            conn.subscribe(quote_mailbox(folder))
    if folder.upper() == "INBOX":
        _drop_uid_list(user.maildir)
    with server.imap(user) as conn:
        for raw, kept_flags, internal_date in saved:
            flag_list = "(" + " ".join(kept_flags) + ")" if kept_flags else None
            when = f'"{internal_date}"'
            _check(conn.append(quote_mailbox(folder), flag_list, when, raw), "APPEND")
        _select(conn, folder, readonly=True)
        new = _uidvalidity(conn)
    if new == old:
        raise MailboxError(f"UIDVALIDITY of {folder} did not change ({old})")
    return old, new


def _drop_uid_list(path: Path) -> None:
    """Remove a Maildir folder's UID list and indexes: Dovecot starts the folder over with a new
    UIDVALIDITY (from ``~/Maildir/dovecot-uidvalidity``) on its next access."""
    for entry in path.iterdir():
        if entry.name.startswith(("dovecot-uidlist", "dovecot.index")):
            entry.unlink()


# -- Maildir -------------------------------------------------------------------------------------


def maildir_folder_path(user: MailUser, folder: str) -> Path:
    """Where Dovecot keeps ``folder`` (default Maildir++ layout): INBOX is ``~/Maildir`` itself,
    ``Work/Clients`` is ``~/Maildir/.Work.Clients`` (names in modified UTF-7)."""
    if folder.upper() == "INBOX":
        return user.maildir
    if user.separator != "." and "." in folder:
        raise ValueError(f"{folder!r}: Maildir++ cannot hold '.' in a name when the separator is /")
    return user.maildir / ("." + encode_mailbox_name(folder).replace(user.separator, "."))


def _internal_date(raw: bytes) -> float | None:
    value = BytesHeaderParser().parsebytes(raw).get("Date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(value)).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def fill_maildir(user: MailUser, folder: str, raws: Iterable[bytes], seen: bool = False) -> int:
    """Write messages straight into the folder's Maildir (created if missing), owned by the
    user: ``cur/<name>:2,S`` when ``seen``, else ``new/<name>``. File names sort in the order
    given (also across calls), so Dovecot gives them ascending UIDs in that order on the next
    SELECT. INTERNALDATE (the file's mtime) is the message's Date header when it parses, else
    now. Returns the count.
    """
    global _last_stamp_us
    path = maildir_folder_path(user, folder)
    for d in (user.maildir, path, path / "cur", path / "new", path / "tmp"):
        if not d.is_dir():
            d.mkdir(mode=0o700)
            os.chown(d, user.uid, user.gid)
    if path != user.maildir and not (path / "maildirfolder").exists():
        (path / "maildirfolder").touch()
        os.chown(path / "maildirfolder", user.uid, user.gid)
    pid = os.getpid()
    count = 0
    for raw in raws:
        # Dovecot gives new files UIDs in the order of the time in their names (seconds, then
        # M<microseconds>), so every name gets a later stamp than the one before, across calls.
        _last_stamp_us = max(time.time_ns() // 1000, _last_stamp_us + 1)
        secs, usecs = divmod(_last_stamp_us, 1_000_000)
        name = f"{secs}.M{usecs}P{pid}Q{next(_maildir_seq)}.postroom,S={len(raw)}"
        target = path / ("cur" if seen else "new") / (f"{name}:2,S" if seen else name)
        tmp = path / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, user.uid, user.gid)
        stamp = _internal_date(raw)
        if stamp is not None:
            os.utime(tmp, (stamp, stamp))
        tmp.rename(target)
        count += 1
    return count
