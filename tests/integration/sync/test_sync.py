"""The sync engine against a real Dovecot (started by the suite), on SQLite and PostgreSQL.

The other mail client in these tests is the stdlib ``imaplib`` (tests/support/mailbox.py): it
appends, moves, expunges and resets folders the way a phone or Outlook would.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ssl
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import delete, func, select, update
from tests.support import cli, mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.dovecot import MailUser
from tests.support.mailbox import message as make_mail
from tests.support.tcpproxy import TcpProxy

from postroom.domain.records import PersonDraft
from postroom.imap import ServerAddress
from postroom.pipeline import link_past_messages
from postroom.services.accounts import add_account
from postroom.services.records import add_person
from postroom.services.secrets import Keyring, Secret
from postroom.store import sync_state
from postroom.store.models import (
    Activity,
    BodyState,
    FolderState,
    MailAccount,
    MailFolder,
    MailMessage,
    MessageLocation,
    Quarantine,
    TlsMode,
)
from postroom.sync.account import AccountLogin, AccountSyncer
from postroom.sync.pool import MIN_POOLED, ReadingPool

ME = "robin@firm.example"
ANNA = "anna@acme.example"
BOB = "bob@other.example"


@pytest.fixture
def world(session_factory, mail_user, dovecot):
    """An account on the test Dovecot (plain on loopback), two records, and its login."""
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="robin"
        )
        anna = add_person(session=session, draft=PersonDraft("Anna", emails=(ANNA,))).person.id
        bob = add_person(session=session, draft=PersonDraft("Bob", emails=(BOB,))).person.id
    return {"login": login, "anna": anna, "bob": bob, "account": login.account_id}


def syncer(session_factory, login, **kwargs) -> AccountSyncer:
    return AccountSyncer(login=login, sessions=session_factory, **kwargs)


def count(session_factory, model, *where) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def activities(session_factory, person_id=None) -> list[Activity]:
    with session_factory() as session:
        query = select(Activity).order_by(Activity.id)
        if person_id is not None:
            query = query.where(Activity.person_id == person_id)
        return list(session.scalars(query))


def test_first_sync_logs_inbox_and_sent_once_and_never_touches_flags(
    session_factory, world, dovecot, mail_user
):
    for i in range(30):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"in {i}"))
    for i in range(5):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail("stranger@x.example", ME, f"s {i}"))
    mailbox.append(dovecot, mail_user, "Sent", make_mail(ME, BOB, "offer"), flags=(r"\Seen",))
    before = {f: mailbox.snapshot_flags(dovecot, mail_user, f) for f in ("INBOX", "Sent")}

    report = asyncio.run(syncer(session_factory, world["login"], batch_size=7).sync_once())

    assert report.error is None
    assert len(activities(session_factory, world["anna"])) == 30
    [sent] = activities(session_factory, world["bob"])
    assert sent.direction.value == "sent"
    assert sent.subject == "offer"
    assert count(session_factory, MailMessage) == 36
    assert count(session_factory, MessageLocation) == 36
    after = {f: mailbox.snapshot_flags(dovecot, mail_user, f) for f in ("INBOX", "Sent")}
    assert after == before
    with session_factory() as session:
        roles = {f.role: f for f in session.scalars(select(MailFolder))}
        assert roles["inbox"].state is FolderState.LIVE
        assert roles["sent"].state is FolderState.LIVE

    again = asyncio.run(syncer(session_factory, world["login"]).sync_once())
    assert sum(f.fetched for f in again.folders) == 0
    assert count(session_factory, Activity) == 31


def test_an_empty_folder_is_live_after_its_first_sync(session_factory, world, dovecot, mail_user):
    """Sent has never held a message (UIDNEXT 1): no history to take, so it is live at once,
    not left "backfilling" for ever; and it stays live when mail arrives."""
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "hello"))

    asyncio.run(syncer(session_factory, world["login"]).sync_once())

    def states() -> dict[str | None, FolderState]:
        with session_factory() as session:
            return {f.role: f.state for f in session.scalars(select(MailFolder))}

    assert states() == {"inbox": FolderState.LIVE, "sent": FolderState.LIVE}
    mailbox.append(dovecot, mail_user, "Sent", make_mail(ME, BOB, "offer"))
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    assert states() == {"inbox": FolderState.LIVE, "sent": FolderState.LIVE}
    assert len(activities(session_factory, world["bob"])) == 1


def test_moves_keep_the_link_and_deletes_keep_the_activity(
    session_factory, world, dovecot, mail_user
):
    uid_move = mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "to archive"))
    uid_gone = mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "to delete"))
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    archive_id = track(session_factory, world["account"], "Archive")  # the user's choice
    mailbox.move(dovecot, mail_user, "INBOX", uid_move, "Archive")
    mailbox.expunge(dovecot, mail_user, "INBOX", uid_gone)

    asyncio.run(syncer(session_factory, world["login"]).sync_once())

    assert len(activities(session_factory, world["anna"])) == 2
    with session_factory.begin() as session:
        moved = session.scalars(
            select(MailMessage).where(MailMessage.subject == "to archive")
        ).one()
        locations = sync_state.list_locations(session=session, message_id=moved.id)
        assert next((loc.folder_id, loc.unlinked_at is None) for loc in locations) == (
            archive_id,
            True,
        )
        gone = session.scalars(select(MailMessage).where(MailMessage.subject == "to delete")).one()
        assert (
            sync_state.mark_deleted_messages(
                session=session, account_id=world["account"], grace=timedelta(0)
            )
            == 1
        )
        session.refresh(gone)
        session.refresh(moved)
        assert gone.deleted_on_server_at is not None
        assert moved.deleted_on_server_at is None
    kept = {a.subject: a for a in activities(session_factory, world["anna"])}
    assert kept["to delete"].body_state is BodyState.PRESENT  # the activity outlives the mail
    assert kept["to delete"].text.strip() == "Hello"


def test_a_uidvalidity_reset_relinks_without_new_activities(
    session_factory, world, dovecot, mail_user
):
    for i in range(12):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"m {i}"))
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    with session_factory() as session:
        old = session.scalars(select(MailFolder).where(MailFolder.role == "inbox")).one()
        old_uidvalidity = old.uidvalidity

    mailbox.reset_uidvalidity(dovecot, mail_user, "INBOX")
    report = asyncio.run(syncer(session_factory, world["login"]).sync_once())

    inbox_report = next(f for f in report.folders if f.folder == "INBOX")
    assert inbox_report.opening.value == "reset"
    assert inbox_report.messages_new == 0
    assert inbox_report.activities_created == 0
    assert count(session_factory, Activity) == 12
    with session_factory() as session:
        folder = session.scalars(select(MailFolder).where(MailFolder.role == "inbox")).one()
        assert folder.uidvalidity != old_uidvalidity
        assert (
            sync_state.count_linked(
                session=session, folder_id=folder.id, uidvalidity=folder.uidvalidity
            )
            == 12
        )

    # after the reset, new mail is taken as ever (EspoCRM #3654: it silently stopped); a reset
    # of Sent, not INBOX, is handled the same and stops nothing else (closeio/nylas#14)
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "after the reset"))
    mailbox.append(dovecot, mail_user, "Sent", make_mail(ME, BOB, "sent"))
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    mailbox.reset_uidvalidity(dovecot, mail_user, "Sent")
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "after the Sent reset"))
    report = asyncio.run(syncer(session_factory, world["login"]).sync_once())
    assert report.error is None
    assert {f.folder: f.opening.value for f in report.folders if f.opening} == {
        "INBOX": "resume",
        "Sent": "reset",
    }
    assert {a.subject for a in activities(session_factory)[-3:]} == {
        "after the reset",
        "sent",  # INBOX and Sent are synced at once: these two in either order
        "after the Sent reset",
    }
    assert count(session_factory, Activity) == 15


def test_new_mail_arrives_through_idle_within_two_seconds(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "before"))

    async def scenario() -> tuple[float, float]:
        async with watching(syncer(session_factory, world["login"])):
            await _until(lambda: len(activities(session_factory)) == 1, 30)
            await asyncio.sleep(0.5)  # let the watchers settle into IDLE
            start = time.monotonic()
            await asyncio.to_thread(
                mailbox.append, dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "pushed")
            )
            await _until(lambda: len(activities(session_factory)) == 2, 5)
            inbox_latency = time.monotonic() - start
            start = time.monotonic()
            await asyncio.to_thread(
                mailbox.append,
                dovecot,
                mail_user,
                "Sent",
                make_mail(ME, BOB, "sent from the phone"),
            )
            await _until(lambda: len(activities(session_factory, world["bob"])) == 1, 5)
            return inbox_latency, time.monotonic() - start

    inbox_latency, sent_latency = asyncio.run(scenario())
    assert inbox_latency < 2.0
    assert sent_latency < 2.0
    [sent] = activities(session_factory, world["bob"])
    assert sent.direction.value == "sent"


def test_a_wrong_password_is_reported_while_other_accounts_go_on(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME))
    bad = AccountLogin(
        account_id=world["account"],
        label="bad",
        address=world["login"].address,
        username=mail_user.username,
        password="wrong",
    )
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        other = add_account(
            session=session,
            keyring=keyring,
            user_email="sam@firm.example",
            label="sam",
            imap_host="127.0.0.1",
            imap_port=dovecot.port,
            tls=TlsMode.PLAIN,
            allow_plaintext=True,
            username="sam-" + mail_user.username,
            password=Secret("x"),
        ).id
    good = AccountLogin(
        other, "good", world["login"].address, mail_user.username, mail_user.password
    )

    async def both():
        return await asyncio.gather(
            syncer(session_factory, bad).sync_once(), syncer(session_factory, good).sync_once()
        )

    bad_report, good_report = asyncio.run(both())
    assert bad_report.error is not None
    assert bad_report.advice
    assert good_report.error is None
    with session_factory() as session:
        account = session.get(MailAccount, world["account"])
        assert account.needs_reauth
        assert account.last_error
        assert "wrong" not in (account.last_error or "")
    assert count(session_factory, MailMessage, MailMessage.account_id == other) == 1


def through(proxy: TcpProxy, account_id: int, user: MailUser) -> AccountLogin:
    """The login of ``user`` on the mail account, connecting through ``proxy``."""
    address = ServerAddress("127.0.0.1", proxy.port, TlsMode.PLAIN, allow_plaintext=True)
    return AccountLogin(account_id, "proxied", address, user.username, user.password)


def test_a_sync_takes_inbox_and_sent_on_a_connection_each(
    session_factory, world, dovecot, mail_user
):
    for i in range(12):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"in {i}"))
    mailbox.append(dovecot, mail_user, "Sent", make_mail(ME, BOB, "offer"))
    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        login = through(proxy, world["account"], mail_user)
        report = asyncio.run(syncer(session_factory, login, batch_size=5).sync_once())
        connections = proxy.connections_accepted

    assert report.error is None
    assert connections == 2  # as when watching: INBOX on the first, Sent on its own
    assert [(f.folder, f.activities_created) for f in report.folders] == [
        ("INBOX", 12),
        ("Sent", 1),
    ]


def test_a_connection_cut_in_the_middle_of_a_fetch_recovers(
    session_factory, world, dovecot, mail_user
):
    for i in range(40):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"m {i}", "x" * 20_000))
    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        login = through(proxy, world["account"], mail_user)
        proxy.cut_after_server_bytes(150_000)
        first = asyncio.run(syncer(session_factory, login, batch_size=10).sync_once())
        assert first.error is not None  # the cut was seen, recorded, not swallowed
        second = asyncio.run(syncer(session_factory, login, batch_size=10).sync_once())
    assert second.error is None
    assert len(activities(session_factory, world["anna"])) == 40
    assert count(session_factory, MailMessage) == 40


def test_a_server_without_condstore_or_qresync_syncs_and_is_never_sent_them(
    session_factory, dovecot_basic, basic_mail_user, world
):
    for i in range(8):
        mailbox.append(dovecot_basic, basic_mail_user, "INBOX", make_mail(ANNA, ME, f"m {i}"))
    mailbox.append(dovecot_basic, basic_mail_user, "Sent", make_mail(ME, BOB, "offer"))
    with TcpProxy("127.0.0.1", dovecot_basic.port) as proxy:
        login = through(proxy, world["account"], basic_mail_user)
        asyncio.run(syncer(session_factory, login).sync_once())
        uid = mailbox.list_uids(dovecot_basic, basic_mail_user, "INBOX")[0]
        mailbox.expunge(dovecot_basic, basic_mail_user, "INBOX", uid)
        mailbox.append(dovecot_basic, basic_mail_user, "INBOX", make_mail(ANNA, ME, "late"))
        report = asyncio.run(syncer(session_factory, login).sync_once())
        sent = b"".join(proxy.client_bytes()).upper()

    assert len(activities(session_factory, world["anna"])) == 9
    assert len(activities(session_factory, world["bob"])) == 1  # Sent found by its name
    assert sum(f.unlinked for f in report.folders) == 1
    assert b"UID FETCH" in sent
    for word in (b"CONDSTORE", b"QRESYNC", b"RETURN (", b"CHANGEDSINCE", b"MODSEQ", b"ENABLE"):
        assert word not in sent, word


def test_tls_with_a_trusted_ca_works_and_a_wrong_certificate_is_refused(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME))
    trusted = ssl.create_default_context(cafile=str(dovecot.ca_pem_path))
    good = AccountLogin(
        world["account"],
        "tls",
        ServerAddress("127.0.0.1", dovecot.tls_port, TlsMode.IMPLICIT, trusted),
        mail_user.username,
        mail_user.password,
    )
    assert asyncio.run(syncer(session_factory, good).sync_once()).error is None
    assert len(activities(session_factory, world["anna"])) == 1

    untrusted = AccountLogin(
        world["account"],
        "tls",
        ServerAddress("127.0.0.1", dovecot.tls_port, TlsMode.IMPLICIT),
        mail_user.username,
        mail_user.password,
    )
    report = asyncio.run(syncer(session_factory, untrusted).sync_once())
    assert report.error is not None
    assert "certificate" in (report.error + (report.advice or "")).lower()


def track(session_factory, account_id: int, name: str, role: str | None = None) -> int:
    """Add folder ``name`` (ASCII) to the account's tracked folders, as a user's choice or an
    earlier discovery did; returns its id."""
    with session_factory.begin() as session:
        return sync_state.ensure_folder(
            session=session,
            account_id=account_id,
            name_raw=name.encode(),
            name=name,
            delimiter="/",
            role=role,
        ).id


@contextlib.asynccontextmanager
async def watching(watcher: AccountSyncer) -> AsyncIterator[None]:
    """``watcher.run`` in a task for the block's length; then stopped, as the worker stops it
    (within 30 s, without an error)."""
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")


def test_one_unreadable_message_is_quarantined_and_never_blocks_the_folder(
    engine, session_factory, world, dovecot, mail_user, tmp_path
):
    """Dovecot drops the connection when it cannot read a message file (Nylas #288's trap)."""
    for i in range(12):
        mailbox.fill_maildir(mail_user, "INBOX", [make_mail(ANNA, ME, f"m {i}")])
    # the sixth message filled (UID 6): found by its subject, file names do not sort by UID
    bad = next(
        p for p in (mail_user.maildir / "new").iterdir() if b"Subject: m 5\n" in p.read_bytes()
    )
    bad.chmod(0)
    reports = []
    for _ in range(4):
        reports.append(asyncio.run(syncer(session_factory, world["login"]).sync_once()))
        if reports[-1].error is None:
            break
    assert reports[0].error is not None  # the batch failed: recorded, not swallowed
    assert reports[-1].error is None
    assert len(activities(session_factory, world["anna"])) == 11
    with session_factory() as session:
        rows = session.scalars(select(Quarantine)).all()
        assert [(q.uid, q.is_suspect) for q in rows] == [(6, False)]
        inbox = session.scalars(select(MailFolder).where(MailFolder.role == "inbox")).one()
        assert inbox.state is FolderState.LIVE
    # and the next cycle neither refetches it nor fails
    assert asyncio.run(syncer(session_factory, world["login"]).sync_once()).error is None
    # the user sees it
    status = cli.run({**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}, "status")
    assert "quarantined INBOX UID 6:" in status  # services.health: the folder and the UID


def test_an_address_added_later_brings_synced_mail_with_its_text(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(
        dovecot,
        mail_user,
        "INBOX",
        make_mail("carla@new.example", ME, "hello from carla", "I am interested."),
    )
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    assert activities(session_factory) == []  # Carla is nobody yet: headers only were read

    with session_factory.begin() as session:
        carla = add_person(
            session=session,
            draft=PersonDraft("Carla", emails=("carla@new.example",)),
            on_addresses_added=link_past_messages,
        ).person.id
    [pending] = activities(session_factory, carla)
    assert pending.body_state is BodyState.PENDING
    assert pending.subject == "hello from carla"

    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    [filled] = activities(session_factory, carla)
    assert filled.body_state is BodyState.PRESENT
    assert filled.text.strip() == "I am interested."


def threaded_reply_with_files(sender: str, subject: str) -> bytes:
    """A reply (In-Reply-To, References) whose text is an alternative, with a PDF: the text is
    part 1.1, the PDF part 2, and a forwarded message part 3 (RFC 9051 section 6.4.5)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ME, subject
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    msg["Message-ID"] = "<reply@acme.example>"
    msg["In-Reply-To"] = "<offer@firm.example>"
    msg["References"] = "<intro@firm.example> <offer@firm.example>"
    msg.set_content("Happy to talk.")
    msg.add_alternative("<p>Happy to talk.</p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4 cv", maintype="application", subtype="pdf", filename="cv.pdf")
    forwarded = EmailMessage()
    forwarded["Subject"] = "Reference letter"
    forwarded.set_content("Anna is great.")
    msg.add_attachment(forwarded)
    return msg.as_bytes()


FILES = [
    ("cv.pdf", "application/pdf", "2"),
    ("Reference letter", "message/rfc822", "3"),
]


def files_of(activity: Activity) -> list[tuple[object, ...]]:
    """Name, type and part of each attachment (sizes are the server's estimates here)."""
    return [(a["filename"], a["content_type"], a["part"]) for a in activity.attachments]


def test_synced_mail_keeps_its_threading_headers_and_attachment_part_numbers(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(dovecot, mail_user, "INBOX", threaded_reply_with_files(ANNA, "Re: offer"))

    asyncio.run(syncer(session_factory, world["login"]).sync_once())

    with session_factory() as session:
        message = session.scalars(select(MailMessage)).one()
        assert message.in_reply_to == "<offer@firm.example>"
        assert message.references == ["<intro@firm.example>", "<offer@firm.example>"]
    [logged] = activities(session_factory, world["anna"])
    assert logged.text.strip() == "Happy to talk."
    assert files_of(logged) == FILES


def test_text_fetched_for_a_record_added_later_has_attachment_part_numbers(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(
        dovecot, mail_user, "INBOX", threaded_reply_with_files("carla@new.example", "Hi")
    )
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    with session_factory.begin() as session:
        carla = add_person(
            session=session,
            draft=PersonDraft("Carla", emails=("carla@new.example",)),
            on_addresses_added=link_past_messages,
        ).person.id

    asyncio.run(syncer(session_factory, world["login"]).sync_once())

    [filled] = activities(session_factory, carla)
    assert filled.body_state is BodyState.PRESENT
    assert files_of(filled) == FILES


def test_the_daily_full_check_takes_a_message_that_was_missed(
    session_factory, world, dovecot, mail_user
):
    for i in range(5):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"m {i}"))
    asyncio.run(syncer(session_factory, world["login"]).sync_once())
    with session_factory.begin() as session:  # make it as if message "m 2" was never taken
        missed = session.scalars(select(MailMessage).where(MailMessage.subject == "m 2")).one()
        session.execute(delete(Activity).where(Activity.fingerprint == missed.fingerprint))
        session.delete(missed)
    assert len(activities(session_factory, world["anna"])) == 4

    quiet = asyncio.run(syncer(session_factory, world["login"]).sync_once())
    assert sum(f.missed for f in quiet.folders) == 0  # checked less than a day ago: not yet
    with session_factory.begin() as session:
        session.execute(update(MailFolder).values(last_full_check_at=None))
    report = asyncio.run(syncer(session_factory, world["login"]).sync_once())

    assert sum(f.missed for f in report.folders) == 1
    assert len(activities(session_factory, world["anna"])) == 5


def test_big_batches_read_in_a_worker_process_give_the_same_activities(
    session_factory, world, dovecot, mail_user
):
    pool = ReadingPool(workers=1)
    assert pool.wait_ready(60)
    try:
        for i in range(MIN_POOLED + 10):
            mail = make_mail(ANNA, ME, f"update {i}", body=f"Hello Robin, update number {i}.")
            mailbox.append(dovecot, mail_user, "INBOX", mail)
        for i in range(MIN_POOLED):
            mailbox.append(dovecot, mail_user, "INBOX", make_mail(f"x{i}@x.example", ME, "hi"))

        report = asyncio.run(
            syncer(session_factory, world["login"], batch_size=200, pool=pool).sync_once()
        )
        assert pool.workers == 1  # no worker died: every big read went to the worker
    finally:
        pool.shutdown()

    assert report.error is None
    texts = {a.subject: a.text for a in activities(session_factory, world["anna"])}
    assert len(texts) == MIN_POOLED + 10
    for i in range(MIN_POOLED + 10):
        assert texts[f"update {i}"].strip() == f"Hello Robin, update number {i}."
    assert count(session_factory, MailMessage) == 2 * MIN_POOLED + 10


def test_a_chosen_folders_history_is_taken_whole_not_one_slice_a_reconcile(
    session_factory, world, dovecot, mail_user
):
    mailbox.create_folder(dovecot, mail_user, "Archive")
    for i in range(20):
        mailbox.append(dovecot, mail_user, "Archive", make_mail(ANNA, ME, f"old {i}"))
    track(session_factory, world["account"], "Archive")

    async def scenario() -> None:
        # batches of 2: a slice of history (4 batches) is 8 messages; the next reconcile is
        # in 10 minutes, so the archive's history must not wait for it
        watcher = syncer(session_factory, world["login"], batch_size=2, reconcile_every=600)
        async with watching(watcher):
            await _until(lambda: len(activities(session_factory)) == 20, 20)

    asyncio.run(scenario())


def test_the_account_recovers_by_itself_after_a_server_outage(
    session_factory, world, dovecot, mail_user
):
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "before"))

    def account() -> MailAccount:
        with session_factory() as session:
            found = session.get(MailAccount, world["account"])
            assert found is not None
            return found

    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        login = through(proxy, world["account"], mail_user)

        async def scenario() -> None:
            async with watching(syncer(session_factory, login)):
                await _until(lambda: len(activities(session_factory)) == 1, 30)
                await asyncio.to_thread(proxy.refuse_new)
                await asyncio.to_thread(proxy.cut_all)  # the server is gone
                await _until(lambda: account().last_error is not None, 10)
                down = account()
                assert down.backoff_until is not None  # a retry is planned, with its time
                assert not down.needs_reauth
                await asyncio.to_thread(proxy.refuse_new, False)  # back
                await asyncio.to_thread(
                    mailbox.append, dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "after")
                )
                await _until(lambda: len(activities(session_factory)) == 2, 20)
                await _until(lambda: account().last_error is None, 5)

        asyncio.run(scenario())


def _fetches(sent: bytes, item: str) -> list[list[int]]:
    """The UID sets of the ``UID FETCH`` commands in ``sent`` that ask for ``item``."""
    sets = []
    for line in sent.split(b"\r\n"):
        words = line.split(b" ")
        if len(words) > 4 and words[1:3] == [b"UID", b"FETCH"] and item.encode() in line:
            uids: list[int] = []
            for part in words[3].decode().split(","):
                low, _, high = part.partition(":")
                uids += range(int(low), int(high or low) + 1)
            sets.append(uids)
    return sets


def test_the_wire_newest_first_in_bounded_batches_text_only_for_records_then_qresync(
    session_factory, world, dovecot, mail_user
):
    matched = []
    for i in range(9):
        sender = ANNA if i % 3 == 0 else "stranger@x.example"
        uid = mailbox.append(dovecot, mail_user, "INBOX", make_mail(sender, ME, f"m {i}"))
        if sender == ANNA:
            matched.append(uid)
    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        login = through(proxy, world["account"], mail_user)
        asyncio.run(syncer(session_factory, login, batch_size=4).sync_once())
        inbox_lane = proxy.client_bytes()[0]  # INBOX's connection (Sent has its own)
        asyncio.run(syncer(session_factory, login, batch_size=4).sync_once())
        again = proxy.client_bytes()[2]

    heads = _fetches(inbox_lane, "HEADER.FIELDS")
    uids = [u for batch in heads for u in batch]
    assert sorted(uids) == sorted(mailbox.list_uids(dovecot, mail_user, "INBOX"))
    assert all(len(batch) <= 4 for batch in heads)
    assert [max(batch) for batch in heads] == sorted((max(b) for b in heads), reverse=True)
    structures = _fetches(inbox_lane, "BODYSTRUCTURE")
    assert sorted(u for batch in structures for u in batch) == sorted(matched)
    assert b"FLAGS" not in inbox_lane.split(b"LOGIN")[-1]  # nothing that could change a flag
    assert b" SELECT " not in inbox_lane
    assert b"EXAMINE" in again
    assert b"(QRESYNC (" in again  # the second sync asks only for what changed
    assert _fetches(again, "HEADER.FIELDS") == []


def test_two_syncs_of_one_account_at_once_log_each_message_once(
    session_factory, world, dovecot, mail_user
):
    for i in range(30):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"m {i}"))
    mailbox.append(dovecot, mail_user, "Sent", make_mail(ME, BOB, "offer"))

    async def both() -> list[object]:
        return await asyncio.gather(
            syncer(session_factory, world["login"], batch_size=5).sync_once(),
            syncer(session_factory, world["login"], batch_size=7).sync_once(),
        )

    reports = asyncio.run(both())  # Odoo #7380: concurrent fetches made duplicates

    assert [r.error for r in reports] == [None, None]
    assert len(activities(session_factory, world["anna"])) == 30
    assert len(activities(session_factory, world["bob"])) == 1
    assert count(session_factory, MailMessage) == 31
    assert count(session_factory, MessageLocation) == 31


def test_a_watched_folder_the_server_refuses_is_not_retried_in_a_loop(
    session_factory, world, dovecot, mail_user
):
    track(session_factory, world["account"], "Old Sent", role="sent")  # renamed on the server since
    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        login = through(proxy, world["account"], mail_user)

        async def scenario() -> None:
            async with watching(syncer(session_factory, login)):
                await asyncio.sleep(1.0)
                await asyncio.to_thread(
                    mailbox.append, dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "still")
                )
                await _until(lambda: len(activities(session_factory)) == 1, 5)
                await asyncio.sleep(1.0)

        asyncio.run(scenario())
        examines = b"".join(proxy.client_bytes()).count(b'EXAMINE "Old Sent"')
    assert 1 <= examines < 5  # tried again at the next reconcile, not thousands of times
    with session_factory() as session:
        gone = session.scalars(select(MailFolder).where(MailFolder.name == "Old Sent")).one()
        assert gone.last_error is not None
        assert "no longer exists" in gone.last_error  # status shows it, with what to do


def test_new_mail_is_logged_during_a_long_first_sync_not_after_it(
    session_factory, world, dovecot, mail_user
):
    mailbox.fill_maildir(mail_user, "INBOX", [make_mail(ANNA, ME, f"old {i}") for i in range(3000)])

    def inbox() -> MailFolder:
        with session_factory() as session:
            return session.scalars(select(MailFolder).where(MailFolder.role == "inbox")).one()

    async def scenario() -> tuple[FolderState, int]:
        # batches of 25: the history is 120 batches, taken four at a time between checks
        # for new mail (nylas-mail #3634: users waited days for a first sync to end)
        async with watching(syncer(session_factory, world["login"], batch_size=25)):
            await _until(lambda: len(activities(session_factory)) > 0, 30)
            await asyncio.to_thread(
                mailbox.append, dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "new today")
            )
            await _until(
                lambda: "new today" in {a.subject for a in activities(session_factory)}, 10
            )
            return inbox().state, len(activities(session_factory))

    state, logged = asyncio.run(scenario())
    assert state is FolderState.BACKFILLING  # the history was still being taken
    assert logged < 3001
