"""A mail account on the suite's Dovecot: saved through ``services.accounts`` (plain IMAP on
loopback, the mail user's login) and the ``AccountLogin`` the sync engine opens it with."""

from __future__ import annotations

from sqlalchemy.orm import Session

from postroom.imap import ServerAddress
from postroom.services.accounts import add_account
from postroom.services.secrets import Keyring, Secret
from postroom.store.models import TlsMode
from postroom.sync.account import AccountLogin
from tests.support.dovecot import DovecotServer, MailUser


def add_dovecot_account(
    session: Session,
    *,
    keyring: Keyring,
    dovecot: DovecotServer,
    mail_user: MailUser,
    owner: str,
    label: str,
) -> AccountLogin:
    """``owner``'s account on ``dovecot`` as ``mail_user`` (``owner`` its own address, made a
    user when it is none); returns its login for the sync."""
    account = add_account(
        session=session,
        keyring=keyring,
        user_email=owner,
        label=label,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        tls=TlsMode.PLAIN,
        allow_plaintext=True,
        username=mail_user.username,
        password=Secret(mail_user.password),
        own_addresses=[owner],
    )
    return AccountLogin(
        account_id=account.id,
        label=label,
        address=ServerAddress("127.0.0.1", dovecot.port, TlsMode.PLAIN, allow_plaintext=True),
        username=mail_user.username,
        password=mail_user.password,
    )
