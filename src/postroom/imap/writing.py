"""The IMAP connection of the built-in mail client: the user's own actions change the mailbox.

``MailboxClient`` is an ``ImapClient`` plus the commands that write: SELECT (read-write),
UID STORE, UID COPY, UID MOVE, UID EXPUNGE and APPEND. This module is the only place in
Postroom that changes a mailbox, and only the mail client uses it. The sync engine keeps to
``ImapClient``, which is read-only by construction; an import-linter contract ("The sync
engine never changes a mailbox") keeps ``postroom.sync`` and ``postroom.pipeline`` from
importing this module.

Invariants:

* Everything ``ImapClient`` promises holds here too: one command at a time, nothing sent that
  the server did not advertise (UID MOVE needs MOVE, UID EXPUNGE needs UIDPLUS:
  ``CapabilityMissing`` before anything is sent), and the untagged EXPUNGE, VANISHED and
  FETCH responses that arrive during a write become events (``drain_events``), in order.
* UID STORE, UID MOVE and UID EXPUNGE act on the folder opened with ``select``; they raise
  ``ImapError`` before sending when no folder is open read-write (after ``examine``, a
  failed ``select`` or a ``[READ-ONLY]`` one). A long UID list is split over several commands
  (``commands.split_uid_set``), which run under the client's lock as one unit: no other
  command of this client (a SELECT of another folder) can come between them.
* Never a plain EXPUNGE: it would also remove messages that someone else marked
  ``\\Deleted``. ``uid_move`` is RFC 6851 UID MOVE when MOVE is advertised; otherwise, with
  UIDPLUS, UID COPY + UID STORE +FLAGS.SILENT (\\Deleted) + UID EXPUNGE of exactly those UIDs;
  with neither, CapabilityMissing("MOVE"). That fallback is not atomic: if it fails after
  the COPY, the messages are in both folders (and may be marked ``\\Deleted`` in the source).
* The UID maps come from the server's COPYUID (RFC 4315): for UID MOVE an untagged
  ``* OK [COPYUID ...]`` before the EXPUNGEs (Dovecot) or in the tagged OK, for UID COPY in
  the tagged OK; APPEND's new UID from APPENDUID. A server without UIDPLUS sends neither:
  ``{}`` and ``None``. A COPYUID that names other UIDs than those copied is a ProtocolError
  (raised after the command, which did complete).
* APPEND sends the message as a literal, byte for byte: non-synchronising with LITERAL+ (any
  size) or LITERAL- (up to 4096 octets), otherwise it waits for the server's ``+``
  (``connection.Connection.send``); a server that answers NO instead gets nothing more.
* A folder that does not exist (SELECT, COPY, MOVE or APPEND into it) raises FolderMissing
  (``[NONEXISTENT]``, ``[TRYCREATE]`` or the usual text); any other NO/BAD CommandFailed,
  with the server's code and text.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence

from postroom.imap import commands
from postroom.imap.client import ImapClient, _claimed_by_examine, _claims_nothing
from postroom.imap.commands import Command
from postroom.imap.errors import (
    CapabilityMissing,
    CommandFailed,
    FolderMissing,
    ImapError,
    ProtocolError,
)
from postroom.imap.responses import (
    Condition,
    ResponseCode,
    SelectedFolder,
    Untagged,
    is_folder_missing,
    parse_appenduid,
    parse_copyuid,
    selected_folder,
)

logger = logging.getLogger(__name__)


class MailboxClient(ImapClient):
    """A connection for the mail client: the user's own actions change the mailbox.

    >>> client = await MailboxClient.connect(address)  # doctest: +SKIP
    >>> await client.login("me@example.com", "app-password")  # doctest: +SKIP
    >>> inbox = await client.select("INBOX")  # doctest: +SKIP
    >>> await client.uid_store([7, 9], add=["\\\\Seen"], remove=["\\\\Flagged"])  # doctest: +SKIP
    >>> await client.uid_move([7], "Archive")  # doctest: +SKIP
    {7: 412}
    >>> await client.append("Drafts", draft, flags=["\\\\Draft", "\\\\Seen"])  # doctest: +SKIP
    58
    """

    _writable = False
    """A folder is open read-write (the last SELECT answered ``[READ-WRITE]``)."""

    # --- opening a folder --------------------------------------------------------------------

    async def select(self, folder: bytes | str) -> SelectedFolder:
        """Open ``folder`` read-write (SELECT, RFC 9051 §6.3.2): the folder the writes below
        act on. ``SelectedFolder.read_only`` is True when the server opened it read-only
        anyway (``[READ-ONLY]``: no right to change it); the writes then refuse to run.
        Raises FolderMissing, CommandFailed (RFC 9051: a failed SELECT leaves no folder
        open)."""
        command = commands.select(folder)
        async with self._lock:
            self._writable = False
            completion, claimed, _ = await self._run_locked(command, _claimed_by_examine)
            if completion.status != "OK":
                raise _failed(f"SELECT {folder!r}", completion)
            selected = selected_folder(claimed, completion)
            self._writable = not selected.read_only
        return selected

    async def examine(
        self,
        folder: bytes | str,
        *,
        condstore: bool = False,
        qresync: tuple[int, int] | None = None,
    ) -> SelectedFolder:
        """``ImapClient.examine``: the folder is then open read-only, and the writes that act
        on the open folder refuse to run until the next ``select``."""
        self._writable = False
        return await super().examine(folder, condstore=condstore, qresync=qresync)

    # --- writing -----------------------------------------------------------------------------

    async def uid_store(
        self, uids: Sequence[int], *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """Add the flags ``add`` to the messages ``uids`` of the open folder and remove the
        flags ``remove``: ``UID STORE <set> +FLAGS.SILENT (...)`` then ``-FLAGS.SILENT``.

        Flags are the system flags ``\\Seen \\Answered \\Flagged \\Deleted \\Draft`` (any
        case) or keywords (``$Forwarded``...): ValueError for anything else, or for a flag in
        both lists. UIDs that no longer exist are ignored by the server. No UIDs or no flags:
        nothing is sent. Raises ImapError when no folder is open read-write, CommandFailed.
        """
        built = commands.build_uid_store(uids, add=add, remove=remove)
        if not built:
            return
        async with self._lock:
            self._require_writable("UID STORE")
            for command in built:
                await self._run_checked(command)

    async def uid_copy(self, uids: Sequence[int], folder: bytes | str) -> dict[int, int]:
        """Copy the messages ``uids`` of the open folder to ``folder`` (UID COPY) -> old UID ->
        new UID in ``folder``, from the server's COPYUID (RFC 4315), or ``{}`` when the
        server sends none (no UIDPLUS). UIDs that no longer exist are left out. Works in a
        folder opened with ``examine`` too. Raises FolderMissing when ``folder`` does not
        exist, CommandFailed."""
        built = commands.build_uid_copy(uids, folder)
        async with self._lock:
            return await self._copy_locked(built, folder, uids)

    async def uid_move(self, uids: Sequence[int], folder: bytes | str) -> dict[int, int]:
        """Move the messages ``uids`` of the open folder to ``folder`` -> old UID -> new UID
        in ``folder`` (from COPYUID; ``{}`` when the server sends none).

        UID MOVE (RFC 6851) when MOVE is advertised; else, with UIDPLUS, UID COPY, UID STORE
        +FLAGS.SILENT (\\Deleted) and UID EXPUNGE of exactly these UIDs (see the module
        docstring: not atomic). The source's EXPUNGE/VANISHED responses become events.
        Raises CapabilityMissing("MOVE") with neither MOVE nor UIDPLUS (a plain EXPUNGE would
        also remove other messages marked \\Deleted), ImapError when no folder is open
        read-write, FolderMissing when ``folder`` does not exist, CommandFailed.
        """
        if not self.has("MOVE"):
            if not self.has("UIDPLUS"):
                raise CapabilityMissing(
                    "MOVE",
                    "the server advertises neither MOVE nor UIDPLUS: moving would need a plain "
                    "EXPUNGE, which also removes other messages marked \\Deleted",
                )
            return await self._move_by_copy(uids, folder)
        built = commands.build_uid_move(uids, folder)
        if not built:
            return {}
        asked = frozenset(uids)
        moved: dict[int, int] = {}
        async with self._lock:
            self._require_writable("UID MOVE")
            for command in built:
                completion, claimed, _ = await self._run_locked(command, _is_copyuid)
                if completion.status != "OK":
                    raise _failed(f"UID MOVE to {folder!r}", completion)
                codes = [r.code for r in claimed if isinstance(r, Condition) and r.code]
                if completion.code is not None and completion.code.name == "COPYUID":
                    codes.append(completion.code)
                for code in codes:
                    moved.update(_uid_map(code, asked))
        return moved

    async def _move_by_copy(self, uids: Sequence[int], folder: bytes | str) -> dict[int, int]:
        """``uid_move`` without MOVE: UID COPY, UID STORE +FLAGS.SILENT (\\Deleted), UID
        EXPUNGE of exactly ``uids`` (UIDPLUS), all under the lock."""
        self._require("UIDPLUS")
        copies = commands.build_uid_copy(uids, folder)
        if not copies:
            return {}
        removals = [
            *commands.build_uid_store(uids, add=["\\Deleted"]),
            *commands.build_uid_expunge(uids),
        ]
        async with self._lock:
            self._require_writable("a move without MOVE")
            logger.debug("MOVE is not advertised: moving by UID COPY, STORE and UID EXPUNGE")
            moved = await self._copy_locked(copies, folder, uids)
            for command in removals:
                await self._run_checked(command)
        return moved

    async def uid_expunge(self, uids: Sequence[int]) -> None:
        """Remove the messages ``uids`` of the open folder that are marked ``\\Deleted``, and
        no other (UID EXPUNGE, RFC 4315 §2.1). Their EXPUNGE/VANISHED responses become
        events. Raises CapabilityMissing without UIDPLUS, ImapError when no folder is open
        read-write, CommandFailed."""
        self._require("UIDPLUS")
        built = commands.build_uid_expunge(uids)
        if not built:
            return
        async with self._lock:
            self._require_writable("UID EXPUNGE")
            for command in built:
                await self._run_checked(command)

    async def append(
        self,
        folder: bytes | str,
        message: bytes,
        *,
        flags: Sequence[str] = (),
        internaldate: dt.datetime | None = None,
    ) -> int | None:
        """Store ``message`` (bytes, CRLF line ends, sent unchanged) in ``folder`` with
        ``flags`` (as for ``uid_store``) and ``internaldate`` (an aware datetime; the server
        uses now when None) -> its UID in ``folder`` from APPENDUID (UIDPLUS), or None when
        the server sends none. No folder needs to be open. Raises ValueError for an empty
        message, NUL in it, a bad flag or a naive datetime; FolderMissing when ``folder``
        does not exist; CommandFailed (e.g. ``[TOOBIG]``, ``[OVERQUOTA]``)."""
        command = commands.append(folder, message, flags=flags, internaldate=internaldate)
        completion, _, _ = await self._run(command, _claims_nothing)
        if completion.status != "OK":
            raise _failed(f"APPEND to {folder!r}", completion)
        code = completion.code
        if code is None or code.name != "APPENDUID":
            return None
        return parse_appenduid(code).uid

    # --- helpers -----------------------------------------------------------------------------

    def _require_writable(self, what: str) -> None:
        if not self._writable:
            raise ImapError(
                f"{what} needs a folder opened read-write, and none is",
                advice="open the folder with select() first (not examine())",
            )

    async def _run_checked(self, command: Command) -> None:
        """Run ``command`` (the lock held) and raise CommandFailed unless it completed OK."""
        completion, _, _ = await self._run_locked(command, _claims_nothing)
        self._check(command, completion)

    async def _copy_locked(
        self, built: Sequence[Command], folder: bytes | str, uids: Collection[int]
    ) -> dict[int, int]:
        asked = frozenset(uids)
        copied: dict[int, int] = {}
        for command in built:
            completion, _, _ = await self._run_locked(command, _claims_nothing)
            if completion.status != "OK":
                raise _failed(f"UID COPY to {folder!r}", completion)
            if completion.code is not None and completion.code.name == "COPYUID":
                copied.update(_uid_map(completion.code, asked))
        return copied


def _is_copyuid(response: Untagged) -> bool:
    """UID MOVE claims the untagged ``OK [COPYUID ...]`` (RFC 6851 §4.3)."""
    return (
        isinstance(response, Condition)
        and response.status == "OK"
        and response.code_name == "COPYUID"
    )


def _uid_map(code: ResponseCode, asked: frozenset[int]) -> dict[int, int]:
    """Old UID -> new UID from a COPYUID code; ProtocolError when it names a UID that was
    not asked for."""
    mapping = parse_copyuid(code, max_uids=len(asked)).uid_map()
    if not mapping.keys() <= asked:
        raise ProtocolError(f"COPYUID names UIDs that were not copied: {code.raw[:200]!r}")
    return mapping


def _failed(what: str, completion: Condition) -> CommandFailed:
    """The error for a NO/BAD to a command that names a folder: FolderMissing when the folder
    does not exist (``responses.is_folder_missing``), else CommandFailed."""
    error = FolderMissing if is_folder_missing(completion) else CommandFailed
    return error(
        f"{what} failed: {completion.status} {completion.text}".rstrip(),
        status=completion.status,
        code=completion.code_name,
        text=completion.text,
    )


__all__ = ["MailboxClient"]
