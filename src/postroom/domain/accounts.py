"""Values that describe a mail account, shared by the store and the IMAP layer."""

from __future__ import annotations

import enum


class TlsMode(enum.Enum):
    """How a connection to a mail server is protected."""

    IMPLICIT = "implicit"  # TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plain connect, then STARTTLS as a hard requirement: never plain text
    PLAIN = "plain"  # no TLS: only for a loopback host, and only when asked for explicitly
