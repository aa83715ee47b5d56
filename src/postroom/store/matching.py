"""The data matching needs: an account's policy and the address directory of records."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from postroom.domain.matching import MatchPolicy
from postroom.errors import NotFound
from postroom.store.bulk import dialect_of, in_parameter, list_parameter
from postroom.store.db import table_of
from postroom.store.models import (
    AccountAddress,
    InternalDomain,
    MailAccount,
    PersonEmail,
    PrivateEntry,
    PrivateKind,
    UserAccount,
)


def load_match_policy(*, session: Session, account_id: int) -> MatchPolicy:
    """The owner's addresses of ``account_id``, colleagues' addresses, internal domains and the
    private list, as they are now.

    Colleagues are every other user (their login email and their accounts' addresses); the
    owner's other accounts count as the owner's own addresses.
    """
    account = session.get(MailAccount, account_id)
    if account is None:
        raise NotFound(f"mail account {account_id} does not exist")
    owner_rows = session.execute(
        select(AccountAddress.address_key)
        .join(MailAccount, MailAccount.id == AccountAddress.account_id)
        .where(MailAccount.user_id == account.user_id)
    )
    own = {key for (key,) in owner_rows}
    own.add(account.user.email.lower())
    colleague_rows = session.execute(
        select(AccountAddress.address_key)
        .join(MailAccount, MailAccount.id == AccountAddress.account_id)
        .where(MailAccount.user_id != account.user_id)
    )
    colleagues = {key for (key,) in colleague_rows}
    colleagues.update(
        email.lower()
        for (email,) in session.execute(
            select(UserAccount.email).where(UserAccount.id != account.user_id)
        )
    )
    private_addresses: set[str] = set()
    private_domains: set[str] = set()
    for kind, value in session.execute(select(PrivateEntry.kind, PrivateEntry.value)):
        (private_addresses if kind is PrivateKind.ADDRESS else private_domains).add(value)
    return MatchPolicy(
        own_addresses=frozenset(own),
        colleague_addresses=frozenset(colleagues - own),
        internal_domains=frozenset(d for (d,) in session.execute(select(InternalDomain.domain))),
        private_addresses=frozenset(private_addresses),
        private_domains=frozenset(private_domains),
    )


def load_never_contacts(*, session: Session) -> tuple[frozenset[str], frozenset[str]]:
    """``(addresses, internal domains)`` that no account's matching ever logs as a contact:
    every user's sign-in email and every account's own addresses (the owner's own, or a
    colleague's for every other account), and the internal domains."""
    addresses = {key for (key,) in session.execute(select(AccountAddress.address_key))}
    addresses.update(email.lower() for (email,) in session.execute(select(UserAccount.email)))
    domains = frozenset(d for (d,) in session.execute(select(InternalDomain.domain)))
    return frozenset(addresses), domains


def find_people_by_addresses(
    *, session: Session, address_keys: Iterable[str]
) -> dict[str, list[int]]:
    """``{address key: [person id, ...]}`` for the keys that are on some record."""
    directory: dict[str, list[int]] = {}
    wanted = set(address_keys)
    if not wanted:
        return directory
    rows = session.execute(
        _people_by_address(dialect_of(session)), {"keys": list_parameter(session, wanted)}
    )
    for key, person_id in rows:
        directory.setdefault(key, []).append(person_id)
    return directory


@functools.cache
def _people_by_address(dialect: str) -> Select[str, int]:
    table = table_of(PersonEmail).c
    return (
        select(table.address_key, table.person_id)
        .where(in_parameter(dialect, table.address_key, "keys"))
        .order_by(table.id)
    )
