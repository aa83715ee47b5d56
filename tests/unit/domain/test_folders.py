"""What a folder is for, and the UIDs of a page of a folder (domain/folders.py)."""

from __future__ import annotations

import pytest

from postroom.domain.folders import FolderRole, folder_role, newest_uids


@pytest.mark.parametrize(
    ("name", "flags", "delimiter", "role"),
    [
        ("INBOX", (), "/", FolderRole.INBOX),
        ("Inbox", (), None, FolderRole.INBOX),
        ("Stuff", ("\\Trash",), "/", FolderRole.TRASH),  # SPECIAL-USE wins over the name
        ("Sent", ("\\Junk",), "/", FolderRole.JUNK),
        ("Stuff", ("\\HasNoChildren", "\\sent"), "/", FolderRole.SENT),
        ("Deleted Items", (), "/", FolderRole.TRASH),  # Exchange
        ("[Gmail]/Sent Mail", (), "/", FolderRole.SENT),
        ("INBOX.Drafts", (), ".", FolderRole.DRAFTS),  # Courier-style namespace
        ("Junk E-mail", (), "/", FolderRole.JUNK),
        ("Papierkorb", (), "/", FolderRole.TRASH),
        ("Archive", (), "/", FolderRole.ARCHIVE),
        ("Clients/Acme", (), "/", None),
        ("Sent stuff", (), "/", None),
        ("Trash/Old", (), "/", None),  # a folder inside the Trash is not the Trash
    ],
)
def test_folder_role(name, flags, delimiter, role):
    assert folder_role(name, flags, delimiter) is role


@pytest.mark.parametrize(
    ("ranges", "skip", "count", "expected"),
    [
        ([], 0, 50, []),
        ([(1, 3), (7, 9)], 0, 2, [9, 8]),
        ([(1, 3), (7, 9)], 2, 3, [7, 3, 2]),
        ([(1, 3), (7, 9)], 5, 3, [1]),
        ([(1, 3), (7, 9)], 6, 3, []),  # past the end
        ([(1, 100_000_000)], 50, 3, [99_999_950, 99_999_949, 99_999_948]),  # never expanded
        ([(5, 5), (10, 10), (20, 20)], 1, 50, [10, 5]),
    ],
)
def test_newest_uids(ranges, skip, count, expected):
    assert newest_uids(ranges, skip, count) == expected
