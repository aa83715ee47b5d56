"""Use cases of the sync engine: who to sync, with which credentials and TLS trust.

This is where sealed passwords are opened (``services.secrets``) and handed to the engine as
``AccountLogin`` values; the engine itself never sees the key ring.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.config import Settings
from postroom.errors import ConfigError
from postroom.imap import ServerAddress
from postroom.services.secrets import Keyring
from postroom.store.models import MailAccount, TlsMode
from postroom.sync.account import AccountLogin


def build_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The system's trust store, plus ``POSTROOM_IMAP_CA_FILE`` when set; None = default."""
    if settings.imap_ca_file is None:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(settings.imap_ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the CA file {settings.imap_ca_file}: {exc}",
            advice="point POSTROOM_IMAP_CA_FILE at a PEM file of CA certificates",
        ) from exc
    return context


def server_address(account: MailAccount, context: ssl.SSLContext | None) -> ServerAddress:
    return ServerAddress(
        host=account.imap_host,
        port=account.imap_port,
        tls=account.imap_tls,
        ssl_context=context,
        allow_plaintext=account.imap_tls is TlsMode.PLAIN,
    )


def load_logins(
    *,
    session: Session,
    keyring: Keyring,
    settings: Settings,
    account_ids: Sequence[int] | None = None,
) -> list[AccountLogin]:
    """The enabled accounts (or those asked for) with their passwords opened."""
    query = select(MailAccount).order_by(MailAccount.id)
    if account_ids is not None:
        query = query.where(MailAccount.id.in_(account_ids))
    else:
        query = query.where(MailAccount.is_enabled)
    context = build_ssl_context(settings)
    return [
        AccountLogin(
            account_id=account.id,
            label=account.label,
            address=server_address(account, context),
            username=account.username,
            password=keyring.open(account.secret),
        )
        for account in session.scalars(query)
    ]
