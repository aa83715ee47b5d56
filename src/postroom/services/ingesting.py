"""Ingesting .eml files (``postroom message ingest``): the pipeline's file path as a use case.

Every function takes keyword-only ``*, session`` and never commits: the caller owns the
transaction (the CLI commits one per batch of files, so a long ingest keeps what it did).

Invariants:

* Each message is logged once per record whatever is ingested again (``pipeline.ingest_files``
  and the unique keys under it); ingesting the same files twice creates nothing new.
* A file that cannot be read or parsed is quarantined with its error and reported in
  ``IngestReport.quarantined``; the other files go on.
* The account decides direction (its own addresses are "sent") and visibility, so one is
  always chosen: the one given, or the only one there is (``choose_account``).
* Memory is bounded: a file over ``max_size`` bytes is quarantined from its size on disk,
  never read; and the caller's batches (``plan_batches``) hold at most ``BATCH_FILES`` files
  and ``BATCH_BYTES`` bytes, since a batch's messages stay in memory until it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from postroom import pipeline
from postroom.errors import InputError, NotFound
from postroom.store import accounts as account_store
from postroom.store import messages as message_store

MB = 2**20

BATCH_FILES = 200
"""Files per transaction: a long ingest keeps what it did if it stops."""

BATCH_BYTES = 64 * MB
"""Bytes of files per transaction at most (a batch of one larger file excepted)."""


@dataclass(frozen=True, slots=True)
class QuarantinedFile:
    """A file that could not be read or parsed, with the error it gave."""

    path: str
    error: str
    is_too_large: bool = False
    """Left unread because of its size (a larger limit would take it)."""


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest did, file by file summed."""

    files: int = 0
    messages_new: int = 0
    messages_known: int = 0
    activities_created: int = 0
    vetoed_private: int = 0
    """Messages kept out by the private list (an address of it in their text)."""
    quarantined: tuple[QuarantinedFile, ...] = ()

    def __add__(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            files=self.files + other.files,
            messages_new=self.messages_new + other.messages_new,
            messages_known=self.messages_known + other.messages_known,
            activities_created=self.activities_created + other.activities_created,
            vetoed_private=self.vetoed_private + other.vetoed_private,
            quarantined=self.quarantined + other.quarantined,
        )


def choose_account(*, session: Session, account_id: int | None) -> int:
    """The mail account to ingest into: ``account_id`` when it exists, else the only account.

    Raises ``NotFound`` for an unknown ``account_id`` or when there is no account at all, and
    ``InputError`` when there are several and none was named.
    """
    ids = [account.id for account in account_store.list_accounts(session=session)]
    if account_id is not None:
        if account_id not in ids:
            raise NotFound(
                f"mail account {account_id} does not exist", advice="see `postroom account list`"
            )
        return account_id
    if not ids:
        raise NotFound(
            "no mail account yet: the account's own addresses decide sent vs received",
            advice="add one with `postroom account add`",
        )
    if len(ids) > 1:
        raise InputError(
            f"{len(ids)} mail accounts: say which with --account",
            advice="see `postroom account list`",
        )
    return ids[0]


def find_message_files(paths: Iterable[Path]) -> list[Path]:
    """The files of ``paths``: a file as it is, a folder's ``*.eml`` files (recursively, in
    name order). Raises ``NotFound`` for a path that is neither."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.eml") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise NotFound(f"{path}: no such file or folder")
    return found


def _size_of(path: Path) -> int | None:
    """The file's size on disk; None when it cannot be seen (the pipeline then reports why)."""
    try:
        return path.stat().st_size
    except OSError:
        return None


def plan_batches(
    paths: Sequence[Path], *, max_files: int = BATCH_FILES, max_bytes: int = BATCH_BYTES
) -> list[list[Path]]:
    """``paths`` in order, cut into batches of at most ``max_files`` files and ``max_bytes``
    bytes (by size on disk; a larger file is a batch of its own)."""
    batches: list[list[Path]] = []
    batch: list[Path] = []
    size = 0
    for path in paths:
        file_size = _size_of(path) or 0
        if batch and (len(batch) >= max_files or size + file_size > max_bytes):
            batches.append(batch)
            batch, size = [], 0
        batch.append(path)
        size += file_size
    if batch:
        batches.append(batch)
    return batches


def _megabytes(size: int) -> str:
    return f"{size / MB:,.1f} MB"


def ingest_files(
    *,
    session: Session,
    account_id: int,
    paths: Sequence[Path],
    max_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Run ``paths`` (.eml files) through the pipeline as mail of ``account_id``, in the
    caller's transaction; ``on_progress(n)`` is called as files are read. A file over
    ``max_size`` bytes is quarantined unread (``QuarantinedFile.is_too_large``)."""
    too_large: list[QuarantinedFile] = []
    readable: list[Path] = []
    for path in paths:
        size = _size_of(path)
        if max_size is None or size is None or size <= max_size:
            readable.append(path)
            continue
        error = (
            f"the file is {_megabytes(size)}, over the limit of {_megabytes(max_size)} "
            "for a message: not read"
        )
        too_large.append(QuarantinedFile(str(path), error, is_too_large=True))
        message_store.quarantine_message(
            session=session, error=error, account_id=account_id, source_path=str(path.resolve())
        )
    if too_large and on_progress is not None:
        on_progress(len(too_large))
    context = pipeline.load_context(session=session, account_id=account_id)
    report = pipeline.ingest_files(
        session=session, context=context, paths=readable, on_progress=on_progress
    )
    stored = report.stored
    return IngestReport(
        files=report.files + len(too_large),
        messages_new=stored.messages_new,
        messages_known=stored.messages_known,
        activities_created=stored.activities_created,
        vetoed_private=stored.vetoed_private,
        quarantined=(
            *too_large,
            *(QuarantinedFile(path, error) for path, error in report.errors),
        ),
    )
