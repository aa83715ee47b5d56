"""Mail accounts for the tests: one on the suite's Dovecot, saved through ``services.accounts``
(plain IMAP on loopback, the mail user's login) with the ``AccountLogin`` the sync engine opens
it with; and a folder with synced messages written as the sync leaves them, for health tests."""

from __future__ import annotations

from sqlalchemy.orm import Session

from postroom.domain.matching import Direction
from postroom.imap import ServerAddress
from postroom.mail.types import MessageKind
from postroom.services.accounts import add_account
from postroom.services.secrets import Keyring, Secret
from postroom.store import sync_state
from postroom.store.models import FolderState, MailFolder, MailMessage, MessageLocation, TlsMode
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


def add_folder(
    session: Session,
    account_id: int,
    name: str,
    role: str | None,
    *,
    state: FolderState,
    server_count: int,
) -> MailFolder:
    """The account's folder ``name`` in ``state``, the server counting ``server_count``
    messages in it (UIDVALIDITY 1)."""
    folder = sync_state.ensure_folder(
        session=session,
        account_id=account_id,
        name_raw=name.encode(),
        name=name,
        delimiter="/",
        role=role,
    )
    session.flush()
    folder.state, folder.server_count, folder.uidvalidity = state, server_count, 1
    return folder


def add_synced_messages(
    session: Session, account_id: int, folder_id: int, count: int, *, start: int = 1
) -> None:
    """``count`` received messages synced from the folder, at UIDs ``start`` on."""
    uids = range(start, start + count)
    messages = [
        MailMessage(
            account_id=account_id,
            identity_key=f"k{folder_id}-{uid}",
            fingerprint=f"f{folder_id}-{uid}",
            direction=Direction.RECEIVED,
            kind=MessageKind.CONVERSATION,
        )
        for uid in uids
    ]
    session.add_all(messages)
    session.flush()
    session.add_all(
        MessageLocation(folder_id=folder_id, uidvalidity=1, uid=uid, message_id=message.id)
        for uid, message in zip(uids, messages, strict=True)
    )
