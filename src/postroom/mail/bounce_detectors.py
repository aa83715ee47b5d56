"""A typed wrapper around ``flufl.bounce``, Mailman's bounce detectors.

Its detectors read a ``compat32`` message and return byte addresses; here they are ``str`` and
an exception inside a detector (it happens on odd messages) means "nothing found": a bounce
is then read by our own patterns (``mail/bounce.py``).
"""

from __future__ import annotations

from email.message import Message

from flufl.bounce import all_failures


def get_flufl_failures(msg: Message) -> tuple[list[str], list[str]]:
    """``(temporary, permanent)``: the addresses ``flufl.bounce`` finds failing, as text, each
    list sorted; both empty when it finds none or fails."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector that breaks on odd input must not break the sync
        return [], []
    return _as_text(temporary), _as_text(permanent)


def _as_text(addresses: frozenset[bytes]) -> list[str]:
    return sorted(a.decode("ascii", "replace") for a in addresses)
