"""Every account around the clock: one account's hung server never holds up another's mail."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from tests.support import mailbox
from tests.support.dovecot import DovecotServer, MailUser
from tests.support.tcpproxy import TcpProxy

from postroom.domain.records import PersonDraft
from postroom.imap import ServerAddress
from postroom.services.accounts import add_account
from postroom.services.records import add_person
from postroom.services.secrets import Keyring, Secret
from postroom.store.models import Activity, TlsMode
from postroom.sync.account import AccountLogin
from postroom.sync.supervisor import run_supervisor

ANNA = "anna@acme.example"
FINE = "fine@firm.example"


def _subjects(session_factory) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(select(Activity.subject)))


async def _until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.02)


def _account(session_factory, owner: str, user: MailUser, port: int) -> AccountLogin:
    with session_factory.begin() as session:
        account_id = add_account(
            session=session,
            keyring=Keyring(Keyring.generate_key()),
            user_email=owner,
            label=owner,
            imap_host="127.0.0.1",
            imap_port=port,
            tls=TlsMode.PLAIN,
            allow_plaintext=True,
            username=user.username,
            password=Secret(user.password),
            own_addresses=[owner],
        ).id
    address = ServerAddress("127.0.0.1", port, TlsMode.PLAIN, allow_plaintext=True)
    return AccountLogin(account_id, owner, address, user.username, user.password)


def test_a_hung_server_holds_up_only_its_own_account(
    session_factory, dovecot: DovecotServer, mail_user
):
    other_user = dovecot.add_user()
    with session_factory.begin() as session:
        add_person(session=session, draft=PersonDraft("Anna", emails=(ANNA,)))
    hung_mail = mailbox.message(ANNA, "hung@firm.example", "to the hung one")
    mailbox.append(dovecot, mail_user, "INBOX", hung_mail)
    mailbox.append(dovecot, other_user, "INBOX", mailbox.message(ANNA, FINE, "first"))

    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        hung = _account(session_factory, "hung@firm.example", mail_user, proxy.port)
        fine = _account(session_factory, FINE, other_user, dovecot.port)
        proxy.stall()  # the server accepts connections and then says nothing

        async def scenario() -> float:
            stop = asyncio.Event()
            supervisor = asyncio.create_task(
                run_supervisor(
                    load_logins=lambda: [hung, fine],
                    sessions=session_factory,
                    stop=stop,
                    refresh_every=60,
                )
            )
            try:
                await _until(lambda: "first" in _subjects(session_factory), 30)
                await asyncio.sleep(0.5)  # into IDLE
                start = time.monotonic()
                pushed = mailbox.message(ANNA, FINE, "pushed")
                await asyncio.to_thread(mailbox.append, dovecot, other_user, "INBOX", pushed)
                await _until(lambda: "pushed" in _subjects(session_factory), 5)
                latency = time.monotonic() - start
                assert "to the hung one" not in _subjects(session_factory)
                await asyncio.to_thread(proxy.resume)  # the hung server answers again
                await _until(lambda: "to the hung one" in _subjects(session_factory), 60)
                return latency
            finally:
                stop.set()
                await asyncio.wait_for(supervisor, 60)

        latency = asyncio.run(scenario())
    assert latency < 2.0
