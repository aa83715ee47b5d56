"""Mail folders as a mail program shows them: what a folder is for, and which UIDs make a
page of a folder, newest first (docs/web.md, "Mail"). Pure: no I/O."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence


class FolderRole(enum.Enum):
    """What a folder is for: SPECIAL-USE (RFC 6154) first, else its common names."""

    INBOX = "inbox"
    DRAFTS = "drafts"
    SENT = "sent"
    ARCHIVE = "archive"
    JUNK = "junk"
    TRASH = "trash"


_ROLE_FLAGS = {
    "\\drafts": FolderRole.DRAFTS,
    "\\sent": FolderRole.SENT,
    "\\archive": FolderRole.ARCHIVE,
    "\\junk": FolderRole.JUNK,
    "\\trash": FolderRole.TRASH,
}
_ROLE_NAMES = {
    FolderRole.DRAFTS: ("drafts", "draft", "entwürfe", "brouillons"),
    FolderRole.SENT: ("sent", "sent items", "sent messages", "sent mail", "gesendet"),
    FolderRole.ARCHIVE: ("archive", "archives", "archiv"),
    FolderRole.JUNK: ("junk", "spam", "junk e-mail", "junk email", "bulk mail"),
    FolderRole.TRASH: ("trash", "deleted items", "deleted messages", "bin", "papierkorb"),
}


def folder_role(name: str, flags: Iterable[str], delimiter: str | None) -> FolderRole | None:
    """The role of a LIST entry.

    >>> folder_role("Deleted Items", (), "/"), folder_role("X", ("\\\\Trash",), "/")
    (<FolderRole.TRASH: 'trash'>, <FolderRole.TRASH: 'trash'>)
    >>> folder_role("INBOX/Sent", (), "/"), folder_role("inbox", (), None)
    (<FolderRole.SENT: 'sent'>, <FolderRole.INBOX: 'inbox'>)
    """
    if name.upper() == "INBOX":
        return FolderRole.INBOX
    for flag in flags:
        role = _ROLE_FLAGS.get(flag.casefold())
        if role is not None:
            return role
    leaf = (name.rsplit(delimiter, 1)[-1] if delimiter else name).casefold()
    for role, names in _ROLE_NAMES.items():
        if leaf in names:
            return role
    return None


def newest_uids(ranges: Sequence[tuple[int, int]], skip: int, count: int) -> list[int]:
    """``count`` UIDs after the newest ``skip`` of ascending ``ranges``, newest first.

    >>> newest_uids([(1, 3), (7, 9)], 2, 3)
    [7, 3, 2]
    """
    chosen: list[int] = []
    for low, high in reversed(ranges):
        size = high - low + 1
        if skip >= size:
            skip -= size
            continue
        top = high - skip
        skip = 0
        bottom = max(low, top - (count - len(chosen)) + 1)
        chosen.extend(range(top, bottom - 1, -1))
        if len(chosen) >= count:
            break
    return chosen
