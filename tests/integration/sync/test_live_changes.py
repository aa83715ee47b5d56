"""A running worker takes what users change while it runs, without a restart (docs/sync.md,
"Push and reconcile"): folders tracked or untracked, accounts added, removed or edited, at the
next reconcile at the latest. And it says it runs: a heartbeat ``postroom status`` reads, and
a log line when an account is live and at each tenth of a first sync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import delete, select, update
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.dovecot import DovecotServer, MailUser
from tests.support.mailbox import message as make_mail

from postroom.config import Settings
from postroom.domain.records import PersonDraft
from postroom.services import health
from postroom.services.records import add_person
from postroom.services.secrets import Keyring
from postroom.services.syncing import watch_accounts
from postroom.store import sync_state
from postroom.store import workers as worker_store
from postroom.store.models import (
    Activity,
    MailAccount,
    MailFolder,
    SyncWorker,
    Visibility,
    utcnow,
)
from postroom.sync.account import AccountSyncer

ME = "robin@firm.example"
ANNA = "anna@acme.example"
RECONCILE = 1.0
"""Seconds between reconciles in these tests: a change must be taken within about that."""


def _subjects(session_factory) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(select(Activity.subject)))


async def _until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.05)


async def _append(dovecot: DovecotServer, user: MailUser, folder: str, subject: str) -> None:
    raw = make_mail(ANNA, ME, subject)
    await asyncio.to_thread(mailbox.append, dovecot, user, folder, raw)


def _set_tracked(session_factory, account_id: int, name: str, tracked: bool) -> None:
    """As ``postroom account track`` / ``untrack`` leave the folder row."""
    with session_factory.begin() as session:
        folder = sync_state.ensure_folder(
            session=session,
            account_id=account_id,
            name_raw=name.encode(),
            name=name,
            delimiter="/",
            role=None,
        )
        folder.is_tracked = tracked


@contextlib.asynccontextmanager
async def _watching(watcher: AccountSyncer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def _worker(session_factory, keyring: Keyring, tmp_path) -> AsyncIterator[None]:
    """``watch_accounts`` as ``postroom worker`` runs it, with a reconcile of ``RECONCILE``
    seconds and the default account list reload (60 s): changes must not wait for that."""
    stop = asyncio.Event()
    settings = Settings(home=tmp_path, database_url="sqlite://", secret_key=None)
    task = asyncio.create_task(
        watch_accounts(
            sessions=session_factory,
            keyring=keyring,
            settings=settings,
            stop=stop,
            reconcile_every=RECONCILE,
        )
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def _anna(session_factory) -> None:
    with session_factory.begin() as session:
        add_person(session=session, draft=PersonDraft("Anna", emails=(ANNA,)))


def test_a_folder_tracked_while_watching_is_synced_at_the_next_reconcile_and_untracked_stops(
    session_factory, dovecot, mail_user
):
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="r"
        )
    _anna(session_factory)
    mailbox.create_folder(dovecot, mail_user, "Archive")
    mailbox.append(dovecot, mail_user, "Archive", make_mail(ANNA, ME, "archived before"))
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "inbox"))

    async def scenario() -> None:
        watcher = AccountSyncer(login=login, sessions=session_factory, reconcile_every=RECONCILE)
        async with _watching(watcher):
            await _until(lambda: "inbox" in _subjects(session_factory), 30)
            await asyncio.sleep(2 * RECONCILE)  # watching, the folder list read long ago
            assert "archived before" not in _subjects(session_factory)

            _set_tracked(session_factory, login.account_id, "Archive", True)
            await _until(lambda: "archived before" in _subjects(session_factory), 2 * RECONCILE + 3)
            await _append(dovecot, mail_user, "Archive", "archived while tracked")
            await _until(
                lambda: "archived while tracked" in _subjects(session_factory), 2 * RECONCILE + 3
            )

            _set_tracked(session_factory, login.account_id, "Archive", False)
            await asyncio.sleep(2 * RECONCILE)  # the next reconcile leaves it
            await _append(dovecot, mail_user, "Archive", "archived after untrack")
            await _append(dovecot, mail_user, "INBOX", "inbox after untrack")
            await _until(lambda: "inbox after untrack" in _subjects(session_factory), 5)
            await asyncio.sleep(3 * RECONCILE)  # reconciles pass: the archive stays left
            assert "archived after untrack" not in _subjects(session_factory)

    asyncio.run(scenario())
    with session_factory() as session:
        archive = session.scalars(select(MailFolder).where(MailFolder.name == "Archive")).one()
        assert not archive.is_tracked


def test_accounts_added_edited_and_removed_while_the_worker_runs_are_taken_at_once(
    session_factory, dovecot, mail_user, tmp_path
):
    keyring = Keyring(Keyring.generate_key())
    other_user = dovecot.add_user()
    _anna(session_factory)
    with session_factory.begin() as session:
        first = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="r"
        )
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "first account"))
    mailbox.append(dovecot, other_user, "INBOX", make_mail(ANNA, "kim@firm.example", "added"))

    async def scenario() -> None:
        async with _worker(session_factory, keyring, tmp_path):
            await _until(lambda: "first account" in _subjects(session_factory), 30)

            # added while running: it starts within a reconcile, not the 60 s reload
            def add_second() -> int:
                with session_factory.begin() as session:
                    return add_dovecot_account(
                        session,
                        keyring=keyring,
                        dovecot=dovecot,
                        mail_user=other_user,
                        owner="kim@firm.example",
                        label="kim",
                    ).account_id

            second = await asyncio.to_thread(add_second)
            await _until(lambda: "added" in _subjects(session_factory), 3 * RECONCILE + 10)

            # edited: a port where nothing listens, then the right one again; each is taken
            def set_port(port: int) -> None:
                with session_factory.begin() as session:
                    session.execute(
                        update(MailAccount).where(MailAccount.id == second).values(imap_port=port)
                    )

            def failing() -> bool:
                with session_factory() as session:
                    account = session.get(MailAccount, second)
                    return account is not None and account.last_error is not None

            await asyncio.to_thread(set_port, _closed_port())
            await _until(failing, 3 * RECONCILE + 10)
            await asyncio.to_thread(set_port, dovecot.port)
            await _append(dovecot, other_user, "INBOX", "after the edit")
            await _until(lambda: "after the edit" in _subjects(session_factory), 3 * RECONCILE + 20)

            # removed: its sync stops; the other account goes on
            def remove_second() -> None:
                with session_factory.begin() as session:
                    session.execute(delete(MailFolder).where(MailFolder.account_id == second))
                    session.execute(delete(MailAccount).where(MailAccount.id == second))

            await asyncio.to_thread(remove_second)
            await asyncio.sleep(3 * RECONCILE)
            await _append(dovecot, other_user, "INBOX", "after removal")
            await _append(dovecot, mail_user, "INBOX", "still synced")
            await _until(lambda: "still synced" in _subjects(session_factory), 10)
            await asyncio.sleep(2 * RECONCILE)
            assert "after removal" not in _subjects(session_factory)

    asyncio.run(scenario())
    with session_factory() as session:
        assert list(session.scalars(select(MailAccount.id))) == [first.account_id]


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_running_worker_is_seen_by_status_and_gone_when_it_stops(
    session_factory, dovecot, mail_user, tmp_path
):
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="r"
        )

    def summary() -> health.WorkerSummary:
        with session_factory() as session:
            return health.worker_summary(session=session)

    assert summary().text == health.NO_WORKER

    async def scenario() -> None:
        async with _worker(session_factory, keyring, tmp_path):
            await _until(lambda: summary().is_running, 10)
            seen = summary().running[0]
            assert seen.pid == os.getpid()
            assert summary().text.startswith(f"running on {seen.host} (pid {os.getpid()}) since ")
            await asyncio.sleep(2.5 * RECONCILE)  # beats at every reconcile: still running
            later = summary().running[0]
            assert later.seen_at > seen.seen_at
            assert later.started_at == seen.started_at

    asyncio.run(scenario())
    assert summary().text == health.NO_WORKER  # stopped cleanly: its row is gone
    with session_factory() as session:
        assert session.scalars(select(SyncWorker)).all() == []


def test_a_worker_killed_without_stopping_stops_counting_after_two_heartbeats(session_factory):
    with session_factory.begin() as session:
        worker_id = worker_store.start_worker(session=session, host="box", pid=42, beat_every=60)
    with session_factory() as session:
        assert health.worker_summary(session=session).running[0].pid == 42
        later = utcnow() + timedelta(seconds=121)
        assert worker_store.list_running_workers(session=session, now=later) == []
    with session_factory.begin() as session:
        session.execute(
            update(SyncWorker)
            .where(SyncWorker.id == worker_id)
            .values(seen_at=utcnow() - timedelta(seconds=121))
        )
    with session_factory() as session:
        assert health.worker_summary(session=session).text == health.NO_WORKER
    # a worker starting a week later forgets it
    with session_factory.begin() as session:
        session.execute(
            update(SyncWorker)
            .where(SyncWorker.id == worker_id)
            .values(seen_at=utcnow() - worker_store.FORGET_AFTER - timedelta(minutes=1))
        )
        worker_store.start_worker(session=session, host="box", pid=43, beat_every=60)
    with session_factory() as session:
        assert [w.pid for w in session.scalars(select(SyncWorker))] == [43]


def test_the_log_says_each_tenth_of_a_first_sync_and_when_the_account_is_live(
    session_factory, dovecot, mail_user, caplog
):
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="r"
        )
    mailbox.fill_maildir(mail_user, "INBOX", [make_mail(ANNA, ME, f"m {i}") for i in range(20)])
    caplog.set_level(logging.INFO, logger="postroom.sync")

    async def scenario() -> None:
        watcher = AccountSyncer(login=login, sessions=session_factory, batch_size=2)
        async with _watching(watcher):
            await _until(lambda: "live," in caplog.text, 30)

    asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "postroom.sync.account"]
    who = f"account #{login.account_id} r"
    tenths = [line for line in lines if line.startswith(f"{who}: INBOX first sync ")]
    assert tenths[:-1] == [
        f"{who}: INBOX first sync {p}% ({p // 5} of 20)" for p in range(10, 100, 10)
    ]
    assert tenths[-1] == f"{who}: INBOX first sync done (20 messages)"
    assert lines[0] == f"{who}: connected"
    live = [line for line in lines if line.startswith(f"{who}: live, ")]
    assert len(live) == 1  # once, not at every cycle
    assert lines.index(live[0]) > lines.index(tenths[-1])


def test_a_visibility_edited_while_the_worker_runs_applies_to_the_next_mail(
    session_factory, dovecot, mail_user, tmp_path
):
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="r"
        )
    _anna(session_factory)
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, "everything"))

    def logged() -> list[tuple[str, str | None]]:
        with session_factory() as session:
            return [
                (a.subject, a.text) for a in session.scalars(select(Activity).order_by(Activity.id))
            ]

    async def scenario() -> None:
        async with _worker(session_factory, keyring, tmp_path):
            await _until(lambda: len(logged()) == 1, 30)

            def metadata_only() -> None:
                with session_factory.begin() as session:
                    session.execute(
                        update(MailAccount)
                        .where(MailAccount.id == login.account_id)
                        .values(visibility=Visibility.METADATA)
                    )

            await asyncio.to_thread(metadata_only)
            await _append(dovecot, mail_user, "INBOX", "secret subject")
            await _until(lambda: len(logged()) == 2, 3 * RECONCILE + 5)

    asyncio.run(scenario())
    first, second = logged()
    assert first[0] == "everything"
    assert second == ("", None)  # who wrote to whom and when, never what


def test_with_a_ca_file_an_unchanged_account_is_not_restarted_at_every_reload(
    session_factory, dovecot, mail_user, tmp_path, caplog
):
    """Each reload used to open the CA file into a new TLS context, so every login compared
    unequal to the running one and every account was restarted at every reload."""
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="r"
        )
    settings = Settings(
        home=tmp_path,
        database_url="sqlite://",
        secret_key=None,
        imap_ca_file=dovecot.ca_pem_path,
    )
    caplog.set_level(logging.INFO, logger="postroom.sync")

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            watch_accounts(
                sessions=session_factory,
                keyring=keyring,
                settings=settings,
                stop=stop,
                refresh_every=0.2,
                reconcile_every=RECONCILE,
            )
        )
        await asyncio.sleep(10 * 0.2 + 1)
        stop.set()
        await asyncio.wait_for(task, 60)

    asyncio.run(scenario())
    started = [r for r in caplog.records if r.getMessage().endswith(": watching")]
    assert [r.getMessage() for r in started] == [f"account #{login.account_id} r: watching"]
