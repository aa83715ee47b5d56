"""Quarantine against a hostile server: the real Dovecot behind a proxy that answers some
FETCH commands itself (tests/support/hostile.py). docs/sync.md, "Quarantine"."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.hostile import HostileProxy, fetched_uids
from tests.support.mailbox import message as make_mail

from postroom.domain.records import PersonDraft
from postroom.imap import ServerAddress
from postroom.services.quarantine import (
    QuarantineState,
    list_quarantine,
    release_quarantined,
    retry_quarantined,
)
from postroom.services.records import add_person
from postroom.services.secrets import Keyring
from postroom.store.models import Activity, MailFolder, Quarantine, TlsMode, utcnow
from postroom.sync.account import AccountLogin, AccountReport, AccountSyncer

ME = "robin@firm.example"
ANNA = "anna@acme.example"
BAD = 6
ENDLESS_LITERAL = b"* %d FETCH (UID %d BODY[HEADER.FIELDS (FROM)] {10000000000}\r\n" % (BAD, BAD)


@pytest.fixture
def account(session_factory, dovecot, mail_user):
    """An account on the test Dovecot with 12 messages from Anna (UIDs 1-12) and her record."""
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="robin"
        )
        add_person(session=session, draft=PersonDraft("Anna", emails=(ANNA,)))
    for i in range(12):
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(ANNA, ME, f"m {i}"))
    return login


def through(proxy: HostileProxy, login: AccountLogin) -> AccountLogin:
    address = ServerAddress("127.0.0.1", proxy.port, TlsMode.PLAIN, allow_plaintext=True)
    return AccountLogin(login.account_id, login.label, address, login.username, login.password)


def sync(session_factory, login: AccountLogin) -> AccountReport:
    return asyncio.run(AccountSyncer(login=login, sessions=session_factory).sync_once())


def logged(session_factory) -> int:
    with session_factory() as session:
        return len(session.scalars(select(Activity)).all())


def held(session_factory) -> list[tuple[int | None, bool]]:
    with session_factory() as session:
        rows = session.scalars(select(Quarantine).order_by(Quarantine.uid)).all()
        return [(q.uid, q.is_suspect) for q in rows]


def inbox(report: AccountReport):
    return next(f for f in report.folders if f.folder == "INBOX")


def endless_literal_for_bad(tag: bytes, line: bytes) -> bytes | None:
    """A server that announces a 10 GB literal for UID 6's headers, in any FETCH asking for
    them: the client cannot read past it and closes the connection."""
    uids = fetched_uids(line)
    if uids is None or BAD not in uids or b"HEADER.FIELDS" not in line:
        return None
    return ENDLESS_LITERAL


def test_a_fatal_protocol_error_quarantines_only_the_message_that_causes_it(
    session_factory, account
):
    """Issue 11, item 1: an endless literal on the first header FETCH closes the connection.
    It used to quarantine all 12 messages for good (each later command failed on the closed
    connection) and the run said nothing. Now the batch is taken again on a new connection,
    each message alone, and only UID 6 is quarantined."""
    with HostileProxy(account.address.port) as proxy:
        proxy.answer = endless_literal_for_bad
        login = through(proxy, account)

        first = sync(session_factory, login)
        assert first.error is not None
        assert "ended" in first.error
        assert held(session_factory) == [(uid, True) for uid in range(1, 13)]  # suspects only

        second = sync(session_factory, login)
        assert second.error is not None  # UID 6 alone closed the connection again
        assert (BAD, False) in held(session_factory)

        third = sync(session_factory, login)
    assert third.error is None
    assert logged(session_factory) == 11
    assert held(session_factory) == [(BAD, False)]
    with session_factory() as session:
        [entry] = list_quarantine(session=session)
    assert (entry.folder, entry.uid, entry.attempts) == ("INBOX", BAD, 1)
    assert entry.state is QuarantineState.RETRYING  # tried again later, not given up
    assert "literal" in entry.error


def test_a_quarantined_message_is_tried_again_and_logged_once_the_server_reads_it(
    session_factory, account
):
    with HostileProxy(account.address.port) as proxy:
        proxy.answer = endless_literal_for_bad
        login = through(proxy, account)
        for _ in range(3):
            sync(session_factory, login)
        assert held(session_factory) == [(BAD, False)]

        # its retry is not due yet: the next sync leaves it alone
        assert sync(session_factory, login).error is None
        assert len([a for a in proxy.answered if b"UID FETCH 6 " in a]) == 1

        # due (as after 10 minutes): tried again, fails again, its next try further away
        with session_factory.begin() as session:
            session.execute(update(Quarantine).values(retry_at=utcnow()))
        assert sync(session_factory, login).error is not None
        with session_factory() as session:
            [entry] = list_quarantine(session=session)
        assert entry.attempts == 2
        assert entry.retry_at is not None
        assert (entry.retry_at - utcnow()).total_seconds() > 3000

    # the server reads it now; a user asks for a retry (postroom message quarantine retry)
    with session_factory.begin() as session:
        assert retry_quarantined(session=session, ids=[entry.id]) == 1
    report = sync(session_factory, account)
    assert report.error is None
    assert logged(session_factory) == 12
    assert held(session_factory) == []
    assert inbox(report).activities_created == 1


def test_a_released_message_is_never_tried_again(session_factory, account):
    with HostileProxy(account.address.port) as proxy:
        proxy.answer = endless_literal_for_bad
        login = through(proxy, account)
        for _ in range(3):
            sync(session_factory, login)
        with session_factory.begin() as session:
            assert release_quarantined(session=session, ids=[], account_id=None) == 1
            session.execute(update(Quarantine).values(retry_at=utcnow()))  # even if it were due
        assert sync(session_factory, login).error is None
        assert len([a for a in proxy.answered if b"UID FETCH 6 " in a]) == 1
    with session_factory() as session:
        assert list_quarantine(session=session) == []
        [entry] = list_quarantine(session=session, include_released=True)
    assert entry.state is QuarantineState.RELEASED
    # a full check never takes it either: it stays skipped
    with session_factory.begin() as session:
        session.execute(update(MailFolder).values(last_full_check_at=None))
    assert sync(session_factory, account).error is None
    assert logged(session_factory) == 11


def test_a_message_the_server_refuses_is_quarantined_in_the_same_run_and_counted(
    session_factory, account
):
    """A tagged NO for any FETCH of UID 6 leaves the connection open: the batch's messages are
    fetched alone at once, UID 6 is quarantined, and the report says so (it said "0
    quarantined": issue 11, item 11)."""
    with HostileProxy(account.address.port) as proxy:
        proxy.answer = lambda tag, line: (
            tag + b" NO cannot read this message\r\n" if BAD in (fetched_uids(line) or ()) else None
        )
        report = sync(session_factory, through(proxy, account))
    assert report.error is None
    assert inbox(report).quarantined == 1
    assert logged(session_factory) == 11
    assert held(session_factory) == [(BAD, False)]
