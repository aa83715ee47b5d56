"""Mail accounts (docs/concepts.md, "Mail accounts") and the org-wide matching settings:
internal domains and the private list.

Every function takes keyword-only ``*, session`` and never commits.

Invariants:

* A password is stored only sealed (``services.secrets.Keyring``); it enters as a ``Secret``
  and leaves as one (``reveal_password``), so it never prints.
* TLS is the rule: implicit TLS (993/465) by default, STARTTLS when chosen (and then required).
  Plain text is accepted only for a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``)
  *and* when ``allow_plaintext`` is given: both, never one alone. The SMTP server (optional:
  without one the account cannot send) is checked by the same rules, in one place
  (``check_smtp_server``), and is used with the IMAP username and password.
* Hosts are stored lower-case in IDNA ASCII form; IPv6 literals without brackets.
* An account's own addresses are stored as typed and normalised (``normalize_address``); the
  login username is one of them whenever it is an address. Bad addresses are refused, not
  skipped.
* One account per (IMAP host, username), compared case-insensitively: the same mailbox synced
  twice would only duplicate work.
* Internal domains are stored normalised (IDNA ASCII, lower-case, no leading ``@``); private
  entries are an address key or such a domain. Adding what is there already is a no-op.

This module checks, normalises and raises; the rows are read and written by
``store.accounts`` (and users by ``store.records``): no SQL is built here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import idna
from sqlalchemy.orm import Session

from postroom.domain.accounts import is_loopback_host
from postroom.domain.addresses import normalize_address, normalize_domain
from postroom.errors import Conflict, InputError, NotFound
from postroom.services.secrets import Keyring, Secret
from postroom.store import accounts as account_store
from postroom.store import records as record_store
from postroom.store.models import (
    AccountAddress,
    MailAccount,
    PrivateEntry,
    PrivateKind,
    TlsMode,
)
from postroom.store.models import Visibility as Visibility  # re-exported: the faces choose it

_DEFAULT_IMAP_PORT = {TlsMode.IMPLICIT: 993, TlsMode.STARTTLS: 143, TlsMode.PLAIN: 143}
_DEFAULT_SMTP_PORT = {TlsMode.IMPLICIT: 465, TlsMode.STARTTLS: 587, TlsMode.PLAIN: 25}


# --- validation --------------------------------------------------------------------------


def normalize_host(host: str) -> str | None:
    """``"IMAP.Example.COM."`` -> ``"imap.example.com"``, ``"[::1]"`` -> ``"::1"``,
    ``"bücher.example"`` -> ``"xn--bcher-kva.example"``; None when it is not a host name."""
    text = host.strip().rstrip(".").lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        pass
    if not text or len(text) > 253:
        return None
    try:
        return idna.encode(text, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError:
        return None


def _check_host(host: str, what: str) -> str:
    found = normalize_host(host)
    if found is None:
        raise InputError(f"{what} host {host.strip()!r} is not a host name or address")
    return found


def _check_port(port: int, what: str) -> int:
    if not 1 <= port <= 65535:
        raise InputError(f"{what} port {port} is not between 1 and 65535")
    return port


def _check_tls(tls: TlsMode, host: str, what: str, *, allow_plaintext: bool) -> None:
    if tls is not TlsMode.PLAIN:
        return
    if not is_loopback_host(host):
        raise InputError(
            f"{what} without TLS is allowed only to a loopback host, not {host}",
            advice="use implicit TLS (port 993 for IMAP, 465 for SMTP) or STARTTLS",
        )
    if not allow_plaintext:
        raise InputError(
            f"{what} without TLS was not explicitly allowed",
            advice="allow it with --allow-plaintext, and only for a test server on this machine",
        )


def _check_own_addresses(addresses: Sequence[str], username: str) -> list[tuple[str, str]]:
    """``[(as typed, key)]`` for ``addresses`` plus ``username`` when it is an address."""
    found: dict[str, str] = {}  # key -> as typed, in the order given
    bad: list[str] = []
    for raw in addresses:
        typed = raw.strip()
        key = normalize_address(typed)
        if key is None:
            bad.append(repr(typed))
        else:
            found.setdefault(key, typed)
    if bad:
        raise InputError(f"own address {', '.join(bad)} is not an address")
    username_key = normalize_address(username)
    if username_key is not None:
        found.setdefault(username_key, username.strip())
    return [(typed, key) for key, typed in found.items()]


def _check_text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise InputError(f"{what} is empty")
    if len(text) > limit:
        raise InputError(f"{what} is longer than {limit} characters")
    return text


def check_imap_server(
    *, imap_host: str, imap_port: int | None, tls: TlsMode, allow_plaintext: bool
) -> tuple[str, int]:
    """``(host, port)`` normalised, the port defaulted from ``tls`` (993 or 143); raises
    ``InputError`` with advice for a bad host or port or a forbidden plain-text connection."""
    host = _check_host(imap_host, "IMAP")
    port = _check_port(_DEFAULT_IMAP_PORT[tls] if imap_port is None else imap_port, "IMAP")
    _check_tls(tls, host, "IMAP", allow_plaintext=allow_plaintext)
    return host, port


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where an account sends its mail: the SMTP server, its port and TLS mode. The login is
    the account's own (``AccountView.username`` and the stored password)."""

    host: str
    port: int
    tls: TlsMode


def check_smtp_server(
    *,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_tls: TlsMode | None,
    allow_plaintext: bool,
) -> SmtpSettings | None:
    """The SMTP server normalised, or None when ``smtp_host`` is None or blank (no server).

    ``smtp_tls`` defaults to implicit TLS unless ``smtp_port`` says otherwise (587 or 25 mean
    STARTTLS); ``smtp_port`` to the TLS mode's port (465, 587; 25 for plain). Raises
    ``InputError`` with advice for a bad host or port, a forbidden plain-text connection, or a
    port or TLS mode without a host.
    """
    if smtp_host is None or not smtp_host.strip():
        if smtp_port is not None or smtp_tls is not None:
            raise InputError(
                "an SMTP port or TLS mode was given without an SMTP host",
                advice="give the SMTP server's host name too, or leave the port and TLS mode out",
            )
        return None
    host = _check_host(smtp_host, "SMTP")
    if smtp_tls is None:
        smtp_tls = TlsMode.IMPLICIT if smtp_port in (None, 465) else TlsMode.STARTTLS
    port = _check_port(_DEFAULT_SMTP_PORT[smtp_tls] if smtp_port is None else smtp_port, "SMTP")
    _check_tls(smtp_tls, host, "SMTP", allow_plaintext=allow_plaintext)
    return SmtpSettings(host, port, smtp_tls)


def changed_smtp_server(
    *,
    current: SmtpSettings | None,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_tls: TlsMode | None = None,
    allow_plaintext: bool = False,
) -> SmtpSettings | None:
    """The SMTP server after an edit of ``current`` (what ``update_account`` saves; the faces
    test it first).

    None keeps a value. A blank ``smtp_host`` removes the server (port and TLS mode with it; a
    port or TLS mode given with it is an error). A new TLS mode without a port takes that
    mode's usual port; a new port alone keeps the TLS mode. Without a server so far, the values
    are checked and defaulted as ``add_account`` does. Keeping a plain-text server needs no
    new permission (its host must still be a loopback one). Raises ``InputError``.
    """
    if smtp_host is not None and not smtp_host.strip():
        return check_smtp_server(
            smtp_host=None, smtp_port=smtp_port, smtp_tls=smtp_tls, allow_plaintext=False
        )
    if current is None:
        return check_smtp_server(
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_tls=smtp_tls,
            allow_plaintext=allow_plaintext,
        )
    tls = current.tls if smtp_tls is None else smtp_tls
    return check_smtp_server(
        smtp_host=current.host if smtp_host is None else smtp_host,
        smtp_port=smtp_port
        if smtp_port is not None
        else (current.port if smtp_tls in (None, current.tls) else None),
        smtp_tls=tls,
        allow_plaintext=allow_plaintext or (tls is TlsMode.PLAIN and smtp_tls is None),
    )


# --- accounts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountView:
    """A mail account as the faces see it: every setting but the password, which never
    leaves this layer (not even its length)."""

    id: int
    owner_id: int
    owner_email: str
    label: str
    imap_host: str
    imap_port: int
    tls: TlsMode
    smtp_host: str | None
    """The SMTP server the account sends through (with ``username`` and the stored password);
    None: it has none and cannot send. See also ``smtp``."""
    smtp_port: int | None
    smtp_tls: TlsMode | None
    signature: str
    """Put below what the user writes from this account ("" for none)."""
    username: str
    own_addresses: tuple[str, ...]
    visibility: Visibility
    is_enabled: bool
    needs_reauth: bool
    created_at: datetime

    @property
    def smtp(self) -> SmtpSettings | None:
        """The SMTP server as one value (None: the account cannot send)."""
        return _smtp_settings(self.smtp_host, self.smtp_port, self.smtp_tls)


def _smtp_settings(host: str | None, port: int | None, tls: TlsMode | None) -> SmtpSettings | None:
    """The stored columns as one value; a row saved with a host always has all three (the
    defaults fill in for one that does not)."""
    if not host:
        return None
    mode = TlsMode.IMPLICIT if tls is None else tls
    return SmtpSettings(host, _DEFAULT_SMTP_PORT[mode] if port is None else port, mode)


MAX_SIGNATURE = 5000
"""Characters of a signature, at most."""


def check_signature(text: str) -> str | None:
    """A signature as stored: line ends made ``\n``, space at the ends of lines and of the
    whole left out; None for an empty one. ``InputError`` when it is too long.

    >>> check_signature("  Robin Reeve  \r\nFirm Recruiting\r\n\r\n")
    '  Robin Reeve\nFirm Recruiting'
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    cleaned = "\n".join(lines).strip("\n")
    if len(cleaned) > MAX_SIGNATURE:
        raise InputError(
            f"the signature has {len(cleaned):,} characters, more than {MAX_SIGNATURE:,}",
            advice="shorten it",
        )
    return cleaned or None


def account_view(account: MailAccount) -> AccountView:
    return AccountView(
        id=account.id,
        owner_id=account.user_id,
        owner_email=account.user.email,
        label=account.label,
        imap_host=account.imap_host,
        imap_port=account.imap_port,
        tls=account.imap_tls,
        username=account.username,
        own_addresses=tuple(a.address for a in account.addresses),
        visibility=account.visibility,
        is_enabled=account.is_enabled,
        needs_reauth=account.needs_reauth,
        created_at=account.created_at,
        smtp_host=account.smtp_host,
        smtp_port=account.smtp_port,
        smtp_tls=account.smtp_tls,
        signature=account.signature or "",
    )


def owned_account(*, session: Session, account_id: int, owner_id: int | None) -> MailAccount:
    """The account ``account_id`` if ``owner_id`` may see it (None: anyone, the CLI); else
    ``NotFound``, with the same words as for an id that does not exist (docs/web.md)."""
    account = account_store.get_account(session=session, account_id=account_id)
    if account is None or (owner_id is not None and account.user_id != owner_id):
        raise NotFound(
            f"mail account #{account_id} does not exist",
            advice="see your mail accounts for the ones you have",
        )
    return account


def get_account_view(*, session: Session, account_id: int, owner_id: int | None) -> AccountView:
    """One account's settings; ``NotFound`` unless ``owner_id`` owns it (None: any)."""
    return account_view(owned_account(session=session, account_id=account_id, owner_id=owner_id))


def list_account_views(*, session: Session, owner_id: int | None) -> list[AccountView]:
    """The accounts of ``owner_id`` (None: every account), oldest first."""
    return [account_view(a) for a in account_store.list_accounts(session=session, user_id=owner_id)]


def add_account(
    *,
    session: Session,
    keyring: Keyring,
    user_email: str,
    label: str,
    imap_host: str,
    imap_port: int | None = None,
    tls: TlsMode = TlsMode.IMPLICIT,
    username: str,
    password: Secret,
    own_addresses: Sequence[str] = (),
    allow_plaintext: bool = False,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_tls: TlsMode | None = None,
    visibility: Visibility = Visibility.EVERYTHING,
    signature: str = "",
) -> MailAccount:
    """Add an IMAP account for the user ``user_email`` (created when new), password sealed.

    ``imap_port`` defaults to 993 for implicit TLS, else 143. With ``smtp_host``, ``smtp_tls``
    defaults to implicit TLS (port 465) unless ``smtp_port`` says otherwise (587 or 25 mean
    STARTTLS), and ``smtp_port`` to the TLS mode's port (465, 587; 25 for plain).

    Raises ``InputError`` for a bad value or a forbidden plain-text connection (with advice),
    and ``Conflict`` when an account for this host and username exists.
    """
    label = _check_text(label, "label", 200)
    username = _check_text(username, "username", 320)
    if not password.reveal():
        raise InputError("password is empty")
    host, port = check_imap_server(
        imap_host=imap_host, imap_port=imap_port, tls=tls, allow_plaintext=allow_plaintext
    )

    smtp = check_smtp_server(
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_tls=smtp_tls,
        allow_plaintext=allow_plaintext,
    )

    addresses = _check_own_addresses(own_addresses, username)
    existing = account_store.get_account_by_login(
        session=session, imap_host=host, username=username
    )
    if existing is not None:
        raise Conflict(
            f"account #{existing.id} ({existing.label}, user {existing.user.email}) already"
            f" syncs {username} on {host}",
        )
    user = record_store.find_or_create_user(session=session, email=user_email)
    account = MailAccount(
        user_id=user.id,
        label=label,
        imap_host=host,
        imap_port=port,
        imap_tls=tls,
        username=username,
        secret=keyring.seal(password),
        smtp_host=smtp.host if smtp else None,
        smtp_port=smtp.port if smtp else None,
        smtp_tls=smtp.tls if smtp else None,
        visibility=visibility,
        signature=check_signature(signature),
        addresses=[AccountAddress(address=typed, address_key=key) for typed, key in addresses],
    )
    session.add(account)
    session.flush()
    return account


def list_accounts(*, session: Session, user_email: str | None = None) -> list[MailAccount]:
    """Every account, or those of the user ``user_email``, oldest first."""
    if user_email is None:
        return account_store.list_accounts(session=session)
    user = record_store.get_user_by_email(session=session, email=user_email)
    return [] if user is None else account_store.list_accounts(session=session, user_id=user.id)


def get_account(*, session: Session, account_id: int) -> MailAccount | None:
    """The account ``account_id``, or None."""
    return account_store.get_account(session=session, account_id=account_id)


def get_account_or_raise(*, session: Session, account_id: int) -> MailAccount:
    """The account ``account_id``; raises ``NotFound`` when there is none."""
    account = account_store.get_account(session=session, account_id=account_id)
    if account is None:
        raise NotFound(f"mail account #{account_id} does not exist")
    return account


def reveal_password(*, keyring: Keyring, account: MailAccount) -> Secret:
    """The account's password, as a ``Secret``; raises ``SecretError`` for a wrong key."""
    return keyring.open_secret(account.secret)


def set_account_password(
    *,
    session: Session,
    keyring: Keyring,
    account_id: int,
    password: Secret,
    owner_id: int | None = None,
) -> MailAccount:
    """Replace the account's password (sealed) and clear its "needs re-authentication" flag
    and its last error (the sync tries the new password at its next account list reload).

    Raises ``NotFound`` for an unknown id (or one ``owner_id`` does not own) and
    ``InputError`` for an empty password.
    """
    if not password.reveal():
        raise InputError("password is empty")
    account = owned_account(session=session, account_id=account_id, owner_id=owner_id)
    account.secret = keyring.seal(password)
    _clear_failure(account)
    session.flush()
    return account


def _clear_failure(account: MailAccount) -> None:
    """New credentials or a new server: the last failure no longer says anything."""
    account.needs_reauth = False
    account.last_error = None
    account.last_error_advice = None
    account.backoff_until = None
    account.consecutive_failures = 0


def update_account(
    *,
    session: Session,
    keyring: Keyring,
    account_id: int,
    owner_id: int | None,
    label: str | None = None,
    imap_host: str | None = None,
    imap_port: int | None = None,
    tls: TlsMode | None = None,
    username: str | None = None,
    password: Secret | None = None,
    own_addresses: Sequence[str] | None = None,
    visibility: Visibility | None = None,
    allow_plaintext: bool = False,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_tls: TlsMode | None = None,
    signature: str | None = None,
) -> AccountView:
    """Change the settings given (None: keep); checked as ``add_account`` checks them.
    ``signature`` "" removes it.

    The SMTP server changes as ``changed_smtp_server`` says (a blank ``smtp_host`` removes
    it), and needs no password: it is used with the stored one. ``allow_plaintext`` is the
    permission for both servers.

    A change of IMAP server, TLS mode, login or password clears "needs re-authentication" and
    the last error: the sync tries the new settings at its next account list reload (the SMTP
    server is not the sync's, so a change of it alone clears nothing). Raises ``NotFound``
    (not the owner's), ``InputError``, ``Conflict`` (another account syncs that login on that
    server). Testing the settings first is the caller's part (``services.connection_test``).
    """
    account = owned_account(session=session, account_id=account_id, owner_id=owner_id)
    changes_smtp = any(v is not None for v in (smtp_host, smtp_port, smtp_tls))
    smtp = (
        changed_smtp_server(
            current=_smtp_settings(account.smtp_host, account.smtp_port, account.smtp_tls),
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_tls=smtp_tls,
            allow_plaintext=allow_plaintext,
        )
        if changes_smtp
        else None
    )
    new_tls = account.imap_tls if tls is None else tls
    host, port = check_imap_server(
        imap_host=account.imap_host if imap_host is None else imap_host,
        imap_port=imap_port
        if imap_port is not None
        else (account.imap_port if tls is None or tls is account.imap_tls else None),
        tls=new_tls,
        allow_plaintext=allow_plaintext or (new_tls is TlsMode.PLAIN and tls is None),
    )
    login = account.username if username is None else _check_text(username, "username", 320)
    if (host, login.casefold()) != (account.imap_host, account.username.casefold()):
        existing = account_store.get_account_by_login(
            session=session, imap_host=host, username=login
        )
        if existing is not None and existing.id != account.id:
            raise Conflict(
                f"account #{existing.id} ({existing.label}) already syncs {login} on {host}",
                advice="remove that account first, or keep this one's login",
            )
    server_changed = (host, port, new_tls, login) != (
        account.imap_host,
        account.imap_port,
        account.imap_tls,
        account.username,
    )
    if label is not None:
        account.label = _check_text(label, "label", 200)
    account.imap_host, account.imap_port, account.imap_tls, account.username = (
        host,
        port,
        new_tls,
        login,
    )
    if password is not None:
        if not password.reveal():
            raise InputError("password is empty")
        account.secret = keyring.seal(password)
    if own_addresses is not None or username is not None:
        typed = (
            own_addresses if own_addresses is not None else [a.address for a in account.addresses]
        )
        wanted = _check_own_addresses(typed, login)
        keep = {key for _, key in wanted}
        account.addresses = [a for a in account.addresses if a.address_key in keep]
        have = {a.address_key for a in account.addresses}
        account.addresses.extend(
            AccountAddress(address=t, address_key=k) for t, k in wanted if k not in have
        )
    if visibility is not None:
        account.visibility = visibility
    if signature is not None:
        account.signature = check_signature(signature)
    if changes_smtp:
        account.smtp_host = smtp.host if smtp else None
        account.smtp_port = smtp.port if smtp else None
        account.smtp_tls = smtp.tls if smtp else None
    if server_changed or password is not None:
        _clear_failure(account)
    session.flush()
    return account_view(account)


def remove_account(*, session: Session, account_id: int, owner_id: int | None) -> AccountView:
    """Delete the account with its folders, messages and their sync state (the database's
    ``ON DELETE CASCADE``); the activities it logged stay on the records, their link to the
    message cleared (``activity.message_id`` is ``SET NULL``). ``NotFound`` unless the owner's.
    A running sync drops the account at its next account list reload."""
    account = owned_account(session=session, account_id=account_id, owner_id=owner_id)
    view = account_view(account)
    session.delete(account)
    session.flush()
    return view


# --- org-wide settings -------------------------------------------------------------------


def _check_domain(value: str, what: str) -> str:
    text = value.strip()
    domain = normalize_domain(text[1:] if text.startswith("@") else text)
    if domain is None:
        raise InputError(f"{what} {text!r} is not a domain")
    return domain


def add_internal_domain(*, session: Session, domain: str) -> str:
    """Add the firm's own ``domain`` (``"@Firm.example"`` or ``"firm.example"``); returns its
    normalised form. Raises ``InputError`` when it is not a domain."""
    key = _check_domain(domain, "internal domain")
    account_store.add_internal_domain(session=session, domain=key)
    return key


def list_internal_domains(*, session: Session) -> list[str]:
    """The internal domains, sorted."""
    return account_store.list_internal_domains(session=session)


def remove_internal_domain(*, session: Session, domain: str) -> None:
    """Remove an internal domain; raises ``NotFound`` when it is not one."""
    key = _check_domain(domain, "internal domain")
    found = account_store.get_internal_domain(session=session, domain=key)
    if found is None:
        raise NotFound(f"{key} is not an internal domain")
    account_store.delete_internal_domain(session=session, internal_domain=found)


def check_private_value(value: str) -> tuple[PrivateKind, str]:
    """``"Boss@Firm.example"`` -> ``(ADDRESS, "boss@firm.example")``; ``"@Clinic.example"``
    or ``"clinic.example"`` -> ``(DOMAIN, "clinic.example")``. Raises ``InputError``."""
    text = value.strip()
    local, at, _ = text.rpartition("@")
    if at and local:
        key = normalize_address(text)
        if key is None:
            raise InputError(f"private entry {text!r} is not an address")
        return PrivateKind.ADDRESS, key
    return PrivateKind.DOMAIN, _check_domain(text, "private entry")


def add_private_entry(*, session: Session, value: str) -> PrivateEntry:
    """Put an address or a domain on the private list (mail with it is never logged).

    Returns the entry, the existing one when it is there already.
    """
    kind, key = check_private_value(value)
    return account_store.add_private_entry(session=session, kind=kind, value=key)


def list_private_entries(*, session: Session) -> list[PrivateEntry]:
    """The private list, addresses first, each kind sorted by value."""
    return account_store.list_private_entries(session=session)


def remove_private_entry(*, session: Session, value: str) -> None:
    """Take an address or domain off the private list; raises ``NotFound`` when absent."""
    _, key = check_private_value(value)
    found = account_store.get_private_entry(session=session, value=key)
    if found is None:
        raise NotFound(f"{key} is not on the private list")
    account_store.delete_private_entry(session=session, entry=found)
