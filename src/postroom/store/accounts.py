"""Queries for mail accounts and the org-wide matching settings: internal domains and the
private list.

Every function takes keyword-only ``*, session`` and never commits: the caller owns the
transaction. Values arrive already checked and normalised (``services.accounts`` does that and
raises the errors); these functions only read and write rows.

Invariants kept here:

* An account is found by login with the host compared exactly (hosts are stored normalised)
  and the username compared case-insensitively (``str.casefold``).
* Adding an internal domain or a private entry that is there already is a no-op
  (``INSERT ... ON CONFLICT DO NOTHING``), so two writers racing agree on one row.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.store.db import insert_ignoring_duplicates
from postroom.store.models import InternalDomain, MailAccount, PrivateEntry, PrivateKind

# --- accounts ------------------------------------------------------------------------------


def get_account(*, session: Session, account_id: int) -> MailAccount | None:
    """The account ``account_id``, or None."""
    return session.get(MailAccount, account_id)


def get_account_by_login(*, session: Session, imap_host: str, username: str) -> MailAccount | None:
    """The oldest account on ``imap_host`` (normalised) whose username is ``username``,
    compared case-insensitively; None when there is none."""
    candidates = session.scalars(
        select(MailAccount).where(MailAccount.imap_host == imap_host).order_by(MailAccount.id)
    )
    wanted = username.casefold()
    return next((a for a in candidates if a.username.casefold() == wanted), None)


def list_accounts(*, session: Session, user_id: int | None = None) -> list[MailAccount]:
    """Every account, or those of the user ``user_id``, oldest first."""
    query = select(MailAccount).order_by(MailAccount.id)
    if user_id is not None:
        query = query.where(MailAccount.user_id == user_id)
    return list(session.scalars(query))


# --- internal domains ----------------------------------------------------------------------


def add_internal_domain(*, session: Session, domain: str) -> None:
    """Store the normalised ``domain``; nothing happens when it is there already."""
    session.execute(insert_ignoring_duplicates(session, InternalDomain).values(domain=domain))


def list_internal_domains(*, session: Session) -> list[str]:
    """The internal domains, sorted."""
    return list(session.scalars(select(InternalDomain.domain).order_by(InternalDomain.domain)))


def get_internal_domain(*, session: Session, domain: str) -> InternalDomain | None:
    """The row of the normalised ``domain``, or None."""
    return session.get(InternalDomain, domain)


def delete_internal_domain(*, session: Session, internal_domain: InternalDomain) -> None:
    """Delete ``internal_domain`` (a row from ``get_internal_domain``) and flush."""
    session.delete(internal_domain)
    session.flush()


# --- private list --------------------------------------------------------------------------


def add_private_entry(*, session: Session, kind: PrivateKind, value: str) -> PrivateEntry:
    """Put the normalised ``value`` on the private list as ``kind``; returns the entry, the
    existing one (left as it is) when ``value`` is there already."""
    session.execute(
        insert_ignoring_duplicates(session, PrivateEntry).values(kind=kind, value=value)
    )
    return session.scalars(select(PrivateEntry).where(PrivateEntry.value == value)).one()


def get_private_entry(*, session: Session, value: str) -> PrivateEntry | None:
    """The entry for the normalised ``value``, or None."""
    return session.scalars(select(PrivateEntry).where(PrivateEntry.value == value)).one_or_none()


def list_private_entries(*, session: Session) -> list[PrivateEntry]:
    """The private list, addresses first, each kind sorted by value."""
    return list(
        session.scalars(select(PrivateEntry).order_by(PrivateEntry.kind, PrivateEntry.value))
    )


def delete_private_entry(*, session: Session, entry: PrivateEntry) -> None:
    """Delete ``entry`` (a row from ``get_private_entry``) and flush."""
    session.delete(entry)
    session.flush()
