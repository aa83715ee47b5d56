"""How much time and memory one IMAP command and one response may take (docs/sync.md,
"Limits of a connection"). Pure: a frozen dataclass and the number ranges of the RFCs.

A server is not trusted to be reasonable: every count it can announce and every byte it can
send is bounded here, and going over a bound is an error that ends the connection
(``LimitExceeded``, or ``CommandTimedOut`` for time), never a hang or an unbounded list.

The defaults are far above what the sync asks for: its largest single item is one whole
message for "Open original" (25 MB, ``services/original.py``); a sync batch asks for headers,
BODYSTRUCTURE and text parts of at most 256 KB each. Tests make small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024

NUMBER_MAX = 2**32 - 1
"""RFC 9051 ``number``/``nz-number``: unsigned 32-bit (UIDs, UIDVALIDITY, UIDNEXT, EXISTS,
sequence numbers, sizes)."""
MODSEQ_MAX = 2**63 - 1
"""RFC 7162 ``mod-sequence-value``: unsigned 63-bit (MODSEQ, HIGHESTMODSEQ)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one connection.

    Size of one response (``framing.ResponseFramer``): ``max_line`` octets of text (its
    lines, literals not counted), ``max_literal`` octets per literal, and for all literals of
    one response together ``max_response_literals`` octets and ``max_response_literal_count``
    literals.

    Responses kept (``ImapClient``): at most ``max_kept_responses`` untagged responses (each
    range of a UID set counting as one more) and ``max_kept_octets`` of their octets are held
    at once: those a running command collects plus the queued events (consecutive ``EXISTS``
    are merged into the last one, so a server repeating them costs nothing).
    ``max_set_ranges`` bounds the ranges of one UID or sequence set (SEARCH, ESEARCH,
    VANISHED); ``max_search_uids`` the UIDs ``uid_search`` expands into a list
    (``uid_search_ranges`` keeps ranges and has no such bound).

    Time (``connection.Connection``): besides the inactivity timeout, every command must
    complete within ``command_seconds`` plus one second per ``min_rate`` octets received
    while it runs (a big fetch gets the time its size needs at that rate), and never more than
    ``max_command_seconds``. IDLE has its own rule (``ImapClient.idle``).
    """

    max_line: int = 64 * MiB
    max_literal: int = 256 * MiB
    max_response_literals: int = 256 * MiB
    max_response_literal_count: int = 100_000
    max_kept_responses: int = 1_000_000
    max_kept_octets: int = 1024 * MiB
    max_set_ranges: int = 1_000_000
    max_search_uids: int = 2_000_000
    command_seconds: float = 300.0
    min_rate: float = 8 * 1024
    max_command_seconds: float = 4 * 3600.0


DEFAULT_LIMITS = Limits()

__all__ = ["DEFAULT_LIMITS", "MODSEQ_MAX", "NUMBER_MAX", "Limits", "MiB"]
