"""One account's unexpected error never costs another account its pass, and is recorded with
backoff where ``status`` shows it (issue 11, item 3; docs/sync.md, "Failures")."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from sqlalchemy import select
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.hostile import HostileProxy
from tests.support.mailbox import message as make_mail

from postroom.domain.records import PersonDraft
from postroom.imap import ServerAddress
from postroom.services.health import AccountState, get_account_health
from postroom.services.records import add_person
from postroom.services.secrets import Keyring
from postroom.services.syncing import sync_accounts_once
from postroom.store.models import Activity, MailAccount, MailFolder, TlsMode
from postroom.sync.account import AccountLogin, AccountSyncer
from postroom.sync.folder import FolderSyncer

ME = "robin@firm.example"
SAM = "sam@firm.example"
ANNA = "anna@acme.example"
TOO_BIG = b"18446744073709551615"  # 2**64 - 1: no database integer holds it


def overflowing_uidvalidity(line: bytes) -> bytes:
    return re.sub(rb"\[UIDVALIDITY \d+\]", b"[UIDVALIDITY " + TOO_BIG + b"]", line)


@pytest.fixture
def two_accounts(session_factory, dovecot):
    """Robin's and Sam's accounts, each with one message from Anna in INBOX."""
    keyring = Keyring(Keyring.generate_key())
    logins = []
    with session_factory.begin() as session:
        for owner in (ME, SAM):
            user = dovecot.add_user()
            mailbox.append(dovecot, user, "INBOX", make_mail(ANNA, owner, f"to {owner}"))
            logins.append(
                add_dovecot_account(
                    session,
                    keyring=keyring,
                    dovecot=dovecot,
                    mail_user=user,
                    owner=owner,
                    label=owner.split("@")[0],
                )
            )
        add_person(session=session, draft=PersonDraft("Anna", emails=(ANNA,)))
    return logins


def test_a_number_the_database_cannot_hold_fails_its_folders_not_the_other_account(
    session_factory, two_accounts
):
    """A UIDVALIDITY beyond 2**63 once raised out of the whole pass (the database's integer
    overflowed); the IMAP layer now refuses it as a protocol error. Either way it stays in
    Robin's folders, reported by name (they were "#3", "#4"), and Sam's account syncs."""
    robin, sam = two_accounts
    with HostileProxy(robin.address.port) as proxy:
        proxy.rewrite = overflowing_uidvalidity
        address = ServerAddress("127.0.0.1", proxy.port, TlsMode.PLAIN, allow_plaintext=True)
        hostile = AccountLogin(
            robin.account_id, robin.label, address, robin.username, robin.password
        )
        reports = sync_accounts_once(logins=[hostile, sam], sessions=session_factory)

    robin_report, sam_report = reports
    assert sam_report.error is None
    assert [f.activities_created for f in sam_report.folders if f.folder == "INBOX"] == [1]
    # Robin's folders failed, each by its name (not "#1"), and said so
    failed = {f.folder: f.errors for f in robin_report.folders}
    assert set(failed) == {"INBOX", "Sent"}
    assert all(failed.values())
    with session_factory() as session:
        assert [a.subject for a in session.scalars(select(Activity))] == [f"to {SAM}"]
        folders = session.scalars(
            select(MailFolder).where(MailFolder.account_id == robin.account_id)
        ).all()
        assert all(f.last_error for f in folders)
        health = get_account_health(session=session, account_id=robin.account_id, owner_id=None)
    assert all(f.last_error for f in health.folders)


def test_an_unexpected_error_in_the_worker_is_recorded_with_backoff_not_a_dead_task(
    session_factory, two_accounts, monkeypatch
):
    """It used to end the account's task: nothing logged, ``status`` still "ok", and the
    supervisor restarted it at once, again and again."""
    robin, _ = two_accounts
    calls: list[float] = []

    async def broken(self, client):
        calls.append(time.monotonic())
        raise RuntimeError("a bug in the sync")

    monkeypatch.setattr(AccountSyncer, "discover", broken)

    async def watch_for_a_while() -> bool:
        stop = asyncio.Event()
        task = asyncio.create_task(AccountSyncer(login=robin, sessions=session_factory).run(stop))
        await asyncio.sleep(3.0)
        alive = not task.done()
        stop.set()
        await asyncio.wait_for(task, 10)
        return alive

    assert asyncio.run(watch_for_a_while())  # the task lives on, waiting to retry
    assert 1 <= len(calls) <= 4  # a backoff between tries (0-2 s, 0-4 s, ...), never a loop
    with session_factory() as session:
        account = session.get(MailAccount, robin.account_id)
        assert account.last_error == "unexpected error: RuntimeError: a bug in the sync"
        assert account.backoff_until is not None
        health = get_account_health(session=session, account_id=robin.account_id, owner_id=None)
    assert health.state is AccountState.RETRYING
    assert health.last_error_advice
    assert "report" in health.last_error_advice


@pytest.mark.parametrize("where", ["folder", "account"])
def test_an_unexpected_error_in_one_account_never_stops_the_others_pass(
    session_factory, two_accounts, monkeypatch, where
):
    """Any exception that is not an IMAP error (here a bug put into Robin's sync) used to
    raise out of ``sync_accounts_once``: Sam's account synced nothing either."""
    robin, sam = two_accounts
    syncer_class = FolderSyncer if where == "folder" else AccountSyncer
    name = "sync" if where == "folder" else "discover"
    original = getattr(syncer_class, name)

    async def broken(self, *args, **kwargs):
        account_id = self.account_id if where == "folder" else self.login.account_id
        if account_id == robin.account_id:
            raise ValueError("a bug in the sync")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(syncer_class, name, broken)
    robin_report, sam_report = sync_accounts_once(logins=[robin, sam], sessions=session_factory)

    assert sam_report.error is None
    assert [f.activities_created for f in sam_report.folders if f.folder == "INBOX"] == [1]
    error = "unexpected error: ValueError: a bug in the sync"
    with session_factory() as session:
        account = session.get(MailAccount, robin.account_id)
        if where == "folder":  # contained in the folders; the account itself is fine
            assert {f.folder: f.errors for f in robin_report.folders} == {
                "INBOX": [error],
                "Sent": [error],
            }
            folders = session.scalars(
                select(MailFolder).where(MailFolder.account_id == robin.account_id)
            ).all()
            assert {f.last_error for f in folders} == {error}
        else:
            assert robin_report.error == error
            assert account.last_error == error
            assert account.last_error_advice
