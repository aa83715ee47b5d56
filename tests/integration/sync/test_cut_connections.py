"""A property: whatever the points at which connections are cut during a first sync, no
activity is lost or logged twice (issue 11, item 12). Hypothesis picks where the server's
bytes stop (tests/support/tcpproxy.py in front of the real Dovecot); each example runs on a
fresh SQLite database and a fresh mailbox.

A message whose fetch was cut while it was being fetched alone may be quarantined (a cut looks
the same as a server dropping the connection over that message): it is then listed, and
logged once it is tried again. So the property is: after the cuts, every message is logged
once or quarantined, never both, never twice; after a retry, every one is logged once.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.tcpproxy import TcpProxy

from postroom.domain.records import PersonDraft
from postroom.imap import ServerAddress
from postroom.services.quarantine import list_quarantine, retry_quarantined
from postroom.services.records import add_person
from postroom.services.secrets import Keyring
from postroom.store.db import create_db_engine, make_session_factory
from postroom.store.models import Activity, MailMessage, MessageLocation, TlsMode
from postroom.sync.account import AccountLogin, AccountSyncer

ME = "robin@firm.example"
PEOPLE = ("anna@acme.example", "bob@other.example", "cleo@third.example")
MESSAGES = 18


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cuts=st.lists(st.integers(min_value=50, max_value=60_000), min_size=1, max_size=4))
def test_cut_connections_during_a_first_sync_never_lose_or_duplicate_an_activity(
    cuts, dovecot, request, tmp_path_factory
):
    path = tmp_path_factory.mktemp("cut") / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
    engine = create_db_engine(f"sqlite:///{path}")
    sessions = make_session_factory(engine)
    try:
        user = dovecot.add_user()
        with sessions.begin() as session:
            login = add_dovecot_account(
                session,
                keyring=Keyring(Keyring.generate_key()),
                dovecot=dovecot,
                mail_user=user,
                owner=ME,
                label="robin",
            )
            for address in PEOPLE:
                name = address.split("@")[0].title()
                add_person(session=session, draft=PersonDraft(name, emails=(address,)))
        subjects = {}
        for i in range(MESSAGES):
            sender, folder = (PEOPLE[i % 3], "INBOX") if i % 4 else (ME, "Sent")
            to = PEOPLE[(i + 1) % 3] if folder == "Sent" else ME
            body = f"message {i}\n" + "words " * (300 * (i % 5))
            uid = mailbox.append(dovecot, user, folder, mailbox.message(sender, to, f"m{i}", body))
            subjects[(folder, uid)] = f"m{i}"

        with TcpProxy("127.0.0.1", dovecot.port) as proxy:
            address = ServerAddress("127.0.0.1", proxy.port, TlsMode.PLAIN, allow_plaintext=True)
            proxied = AccountLogin(
                login.account_id, login.label, address, login.username, login.password
            )
            for cut in cuts:
                proxy.cut_after_server_bytes(cut)
                asyncio.run(AccountSyncer(login=proxied, sessions=sessions).sync_once())
                proxy.cut_after_server_bytes(10**12)  # disarmed if this run never got there
        for _ in range(3):  # then the network is fine again
            if asyncio.run(AccountSyncer(login=login, sessions=sessions).sync_once()).error is None:
                break

        with sessions() as session:
            logged = list(session.scalars(select(Activity.subject)))
            held = {(q.folder, q.uid) for q in list_quarantine(session=session)}
            assert session.scalar(select(func.count()).select_from(MailMessage)) == MESSAGES - len(
                held
            )
        assert len(logged) == len(set(logged))  # never twice
        assert sorted(logged + [subjects[where] for where in held]) == sorted(subjects.values())

        with sessions.begin() as session:
            retry_quarantined(session=session, ids=[])
        assert asyncio.run(AccountSyncer(login=login, sessions=sessions).sync_once()).error is None
        with sessions() as session:
            assert sorted(session.scalars(select(Activity.subject))) == sorted(subjects.values())
            assert session.scalar(select(func.count()).select_from(MailMessage)) == MESSAGES
            assert session.scalar(select(func.count()).select_from(MessageLocation)) == MESSAGES
            assert list_quarantine(session=session) == []
    finally:
        engine.dispose()
