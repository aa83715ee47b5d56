"""Fixtures of the store tests."""

from __future__ import annotations

import pytest

from postroom.store.models import MailAccount, TlsMode, UserAccount


@pytest.fixture
def account_id(session_factory) -> int:
    with session_factory.begin() as session:
        account = MailAccount(
            user=UserAccount(email="robin@firm.example"),
            label="mine",
            imap_host="imap.firm.example",
            imap_tls=TlsMode.IMPLICIT,
            username="robin@firm.example",
            secret=b"-",
        )
        session.add(account)
        session.flush()
        return account.id
