"""A fresh, migrated database with one mail account and its records, for the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from postroom.store.db import create_db_engine, make_session_factory, upgrade
from postroom.store.models import (
    AccountAddress,
    MailAccount,
    Person,
    PersonEmail,
    TlsMode,
    UserAccount,
)


def create_database(
    url: str,
    *,
    owner: str,
    username: str,
    contacts: Sequence[tuple[str, str]],
    imap_port: int = 993,
) -> tuple[sessionmaker[Session], int]:
    """Migrate ``url``, add the owner's account (plain IMAP on loopback, as the benchmarks'
    private Dovecot) and one record per ``(name, address)``; return (sessions, account id)."""
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        account = MailAccount(
            user=UserAccount(email=owner),
            label="bench",
            imap_host="127.0.0.1",
            imap_port=imap_port,
            imap_tls=TlsMode.PLAIN,
            username=username,
            secret=b"-",
        )
        account.addresses.append(AccountAddress(address=owner, address_key=owner))
        session.add(account)
        for name, address in contacts:
            person = Person(name=name, name_key=name.casefold())
            person.emails.append(PersonEmail(address=address, address_key=address, is_primary=True))
            session.add(person)
        session.flush()
        return sessions, account.id
