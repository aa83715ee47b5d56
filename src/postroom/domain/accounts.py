"""Values and rules that describe a mail account, shared by the store, the IMAP layer and the
services.

* ``TlsMode``: how a connection is protected.
* ``is_loopback_host``: the one definition of "a loopback host", the only kind of host plain
  text is ever allowed to (``ServerAddress.check`` in ``imap/client.py`` and the account
  checks in ``services/accounts.py`` both call it).
"""

from __future__ import annotations

import enum
import ipaddress


class TlsMode(enum.Enum):
    """How a connection to a mail server is protected."""

    IMPLICIT = "implicit"  # TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plain connect, then STARTTLS as a hard requirement: never plain text
    PLAIN = "plain"  # no TLS: only for a loopback host, and only when asked for explicitly


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any name under ``.localhost`` (RFC 6761 section 6.3: such
    names resolve to loopback addresses only), for 127.0.0.0/8 and for ``::1``.

    Names are compared case-insensitively and without a trailing dot; an IPv6 literal may be
    in brackets. Nothing is resolved: ``127.0.0.1.example`` or ``localhost.example`` are not
    loopback, whatever a resolver says.

    >>> [is_loopback_host(h) for h in ("LocalHost.", "imap.localhost", "[::1]", "127.8.9.10")]
    [True, True, True, True]
    >>> [is_loopback_host(h) for h in ("localhost.example", "notlocalhost", "10.0.0.1", "")]
    [False, False, False, False]
    """
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
