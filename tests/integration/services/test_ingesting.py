"""services.ingesting: .eml files into activities, on SQLite and PostgreSQL."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from postroom.domain.records import PersonDraft
from postroom.errors import InputError, NotFound
from postroom.services.accounts import add_account
from postroom.services.ingesting import (
    MB,
    IngestReport,
    QuarantinedFile,
    choose_account,
    find_message_files,
    ingest_files,
    plan_batches,
)
from postroom.services.records import add_person
from postroom.services.secrets import Keyring, Secret
from postroom.store.models import Quarantine

ME = "robin@firm.example"


def add_mail_account(session, keyring: Keyring, user: str) -> int:
    return add_account(
        session=session,
        keyring=keyring,
        user_email=user,
        label=user,
        imap_host="imap.firm.example",
        username=user,
        password=Secret("pw"),
    ).id


def write_mail(path: Path, sender: str, msgid: str) -> Path:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ME, "The Python role"
    msg["Date"] = "Mon, 03 Mar 2025 10:00:00 +0000"
    msg["Message-ID"] = msgid
    msg.set_content("Tuesday works.")
    path.write_bytes(msg.as_bytes())
    return path


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(Keyring.generate_key())


def test_the_only_account_is_chosen_and_a_named_one_must_exist(session_factory, keyring):
    with session_factory.begin() as session:
        with pytest.raises(NotFound, match="no mail account yet") as none:
            choose_account(session=session, account_id=None)
        assert "postroom account add" in none.value.advice
        mine = add_mail_account(session, keyring, ME)
        assert choose_account(session=session, account_id=None) == mine
        assert choose_account(session=session, account_id=mine) == mine
        with pytest.raises(NotFound, match=f"mail account {mine + 99} does not exist"):
            choose_account(session=session, account_id=mine + 99)
        theirs = add_mail_account(session, keyring, "sam@firm.example")
        with pytest.raises(InputError, match="2 mail accounts: say which with --account"):
            choose_account(session=session, account_id=None)
        assert choose_account(session=session, account_id=theirs) == theirs


def test_folders_give_their_eml_files_in_name_order_and_a_missing_path_is_refused(tmp_path):
    (tmp_path / "inbox" / "old").mkdir(parents=True)
    b = write_mail(tmp_path / "inbox" / "b.eml", "anna@acme.example", "<b@x>")
    a = write_mail(tmp_path / "inbox" / "old" / "a.eml", "anna@acme.example", "<a@x>")
    (tmp_path / "inbox" / "notes.txt").write_text("not mail")
    single = write_mail(tmp_path / "single.msg", "anna@acme.example", "<s@x>")

    assert find_message_files([tmp_path / "inbox", single]) == [b, a, single]
    with pytest.raises(NotFound, match="no such file or folder"):
        find_message_files([tmp_path / "missing.eml"])


def test_ingest_logs_each_message_once_and_reports_broken_files(session_factory, keyring, tmp_path):
    with session_factory.begin() as session:
        account_id = add_mail_account(session, keyring, ME)
        add_person(session=session, draft=PersonDraft("Anna", emails=("anna@acme.example",)))
    anna = write_mail(tmp_path / "anna.eml", "anna@acme.example", "<1@acme.example>")
    stranger = write_mail(tmp_path / "stranger.eml", "who@else.example", "<2@else.example>")
    unreadable = tmp_path / "gone.eml"  # listed, then gone before it is read
    progress: list[int] = []

    with session_factory.begin() as session:
        first = ingest_files(
            session=session,
            account_id=account_id,
            paths=[anna, stranger, unreadable],
            on_progress=progress.append,
        )
    assert first == IngestReport(
        files=3,
        messages_new=2,
        messages_known=0,
        activities_created=1,
        quarantined=(QuarantinedFile(str(unreadable), first.quarantined[0].error),),
    )
    assert "FileNotFoundError" in first.quarantined[0].error
    assert sum(progress) == 3

    with session_factory.begin() as session:
        again = ingest_files(session=session, account_id=account_id, paths=[anna, stranger])
    assert (again.messages_new, again.messages_known, again.activities_created) == (0, 2, 0)

    total = first + again
    assert (total.files, total.messages_known, total.activities_created) == (5, 2, 1)
    assert total.quarantined == first.quarantined


def test_a_file_over_the_size_limit_is_quarantined_without_being_read(
    session_factory, keyring, tmp_path, monkeypatch
):
    """Issue 11, item 9: a 100 MB message took 878 MB; now its size on disk decides."""
    with session_factory.begin() as session:
        account_id = add_mail_account(session, keyring, ME)
        add_person(session=session, draft=PersonDraft("Anna", emails=("anna@acme.example",)))
    anna = write_mail(tmp_path / "anna.eml", "anna@acme.example", "<1@acme.example>")
    huge = tmp_path / "huge.eml"
    with huge.open("wb") as file:
        file.truncate(3 * MB + 1)  # sparse: no disk, and it must not reach memory either
    read: list[Path] = []
    read_bytes = Path.read_bytes

    def spy(path: Path) -> bytes:
        read.append(path)
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", spy)
    progress: list[int] = []

    with session_factory.begin() as session:
        report = ingest_files(
            session=session,
            account_id=account_id,
            paths=[huge, anna],
            max_size=3 * MB,
            on_progress=progress.append,
        )

    assert read == [anna]
    assert report.files == 2
    assert report.activities_created == 1
    assert report.quarantined == (
        QuarantinedFile(
            str(huge),
            "the file is 3.0 MB, over the limit of 3.0 MB for a message: not read",
            is_too_large=True,
        ),
    )
    assert sum(progress) == 2
    with session_factory() as session:
        [held] = session.query(Quarantine).all()
    assert held.source_path == str(huge.resolve())


def test_batches_are_bounded_by_bytes_as_well_as_by_files(tmp_path):
    sizes = [10, 10, 10, 30, 0, 0, 0]
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"m{i}.eml"
        path.write_bytes(b"x" * size)
        paths.append(path)

    batches = plan_batches(paths, max_files=3, max_bytes=25)

    assert [[p.name for p in batch] for batch in batches] == [
        ["m0.eml", "m1.eml"],
        ["m2.eml"],
        ["m3.eml"],  # larger than a batch: alone
        ["m4.eml", "m5.eml", "m6.eml"],
    ]
