"""Message identity: the keys that say two copies are the same message (docs/sync.md,
"Identity keys").

``fingerprint`` is the org-wide key: the same for the sender's Sent copy, the recipient's INBOX
copy and a colleague's copy, because it is built only from what the author wrote:

    "f:" + sha256(lower(Message-ID) | Date | sorted From addresses)

and, when there is no Message-ID, also ``| Subject | INTERNALDATE``. RFC822.SIZE is never part of
it: copies differ in their Received fields. ``identity_key`` is the per-account key of
``mail_message``: EMAILID (RFC 8474) or X-GM-MSGID when the server gives one, else the
fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime


def _canonical_date(date: datetime | None, date_raw: str | None) -> str:
    if date is not None:
        return date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return " ".join((date_raw or "").split())


def fingerprint(
    *,
    message_id: str | None,
    date: datetime | None,
    date_raw: str | None,
    from_keys: Iterable[str],
    subject: str,
    internaldate: datetime | None = None,
) -> str:
    """The org-wide identity of a message, e.g. ``"f:3b0c...e1"`` (66 characters)."""
    parts = [
        (message_id or "").strip().lower(),
        _canonical_date(date, date_raw),
        ",".join(sorted(set(from_keys))),
    ]
    if not parts[0]:
        parts.append(" ".join(subject.split()))
        parts.append(_canonical_date(internaldate, None))
    digest = hashlib.sha256("|".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"f:{digest}"


def identity_key(
    *, fingerprint: str, emailid: str | None = None, gm_msgid: int | None = None
) -> str:
    """The per-account key: the server's own id when it has one, else the fingerprint."""
    if emailid:
        return f"e:{emailid}"
    if gm_msgid is not None:
        return f"g:{gm_msgid}"
    return fingerprint
