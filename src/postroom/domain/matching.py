"""Which records a message belongs on, and in which direction (docs/concepts.md, "Matching").

Pure: it works on normalised address keys (``domain.addresses.normalize_address``) and a
directory ``address_key -> person ids`` handed in by the caller.

Rules:

* Direction is decided by the account owner's addresses: a message whose From (or Sender) is
  one of them is SENT, everything else RECEIVED. A message both from and to the owner is SENT.
* Counterparts are the participants (From, To, Cc, Bcc) that are not the owner, not a
  colleague (another user's own address) and not in an internal domain (subdomains included).
* Every record holding a counterpart's address gets the message, once.
* The private list (addresses and domains) vetoes the whole message when a private address is
  a participant or is mentioned in the body. Private domains veto mentions of addresses in them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from postroom.domain.addresses import is_in_domain, normalize_address

ROLES = ("from", "to", "cc", "bcc")


class Direction(enum.Enum):
    RECEIVED = "received"
    SENT = "sent"


@dataclass(frozen=True, slots=True)
class Participant:
    role: str
    """``from``, ``to``, ``cc`` or ``bcc``; ``sender`` only counts for the direction."""
    address_key: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """What decides direction and who is not a contact; all values normalised."""

    own_addresses: frozenset[str] = frozenset()
    colleague_addresses: frozenset[str] = frozenset()
    internal_domains: frozenset[str] = frozenset()
    private_addresses: frozenset[str] = frozenset()
    private_domains: frozenset[str] = frozenset()

    def is_own(self, key: str) -> bool:
        return key in self.own_addresses

    def is_private(self, key: str) -> bool:
        return key in self.private_addresses or is_in_domain(key, self.private_domains)

    def is_contact(self, key: str) -> bool:
        """True when ``key`` may be logged as a contact (not us, not a colleague, not internal)."""
        return not (
            key in self.own_addresses
            or key in self.colleague_addresses
            or is_in_domain(key, self.internal_domains)
        )

    @property
    def has_private_list(self) -> bool:
        return bool(self.private_addresses or self.private_domains)


def decide_direction(participants: Iterable[Participant], policy: MatchPolicy) -> Direction:
    """SENT when the message is from (or sent by) one of the owner's addresses."""
    for p in participants:
        if p.role in ("from", "sender") and policy.is_own(p.address_key):
            return Direction.SENT
    return Direction.RECEIVED


def list_counterparts(participants: Iterable[Participant], policy: MatchPolicy) -> list[str]:
    """The distinct address keys that may be contacts, in order of first appearance."""
    seen: dict[str, None] = {}
    for p in participants:
        if p.role in ROLES and p.address_key not in seen and policy.is_contact(p.address_key):
            seen[p.address_key] = None
    return list(seen)


def find_private_participant(
    participants: Iterable[Participant], policy: MatchPolicy
) -> str | None:
    """The first participant on the private list, or None."""
    if not policy.has_private_list:
        return None
    for p in participants:
        if policy.is_private(p.address_key):
            return p.address_key
    return None


# An address-like token in free text; what it finds is normalised before any comparison.
_ADDRESS_IN_TEXT = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def find_private_mention(text: str, policy: MatchPolicy) -> str | None:
    """The first private address (or address in a private domain) mentioned in ``text``."""
    if not policy.has_private_list or "@" not in text:
        return None
    for match in _ADDRESS_IN_TEXT.finditer(text):
        key = normalize_address(match.group(0).strip(".'"))
        if key is not None and policy.is_private(key):
            return key
    return None


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """What to log for one message: its direction and the records to put it on."""

    direction: Direction
    person_ids: tuple[int, ...]
    counterparts: tuple[str, ...]
    vetoed_by: str | None = None
    """The private address that stops the message being logged, if any."""


def plan_links(
    participants: Iterable[Participant],
    directory: Mapping[str, Iterable[int]],
    policy: MatchPolicy,
) -> LinkPlan:
    """Decide direction and records for a message from its header participants.

    ``directory`` maps a normalised address to the ids of the records holding it. The body
    check of the private list is separate (``find_private_mention``): it needs the text,
    which is only fetched for messages that match.
    """
    people = tuple(participants)
    direction = decide_direction(people, policy)
    counterparts = list_counterparts(people, policy)
    vetoed_by = find_private_participant(people, policy)
    person_ids: dict[int, None] = {}
    if vetoed_by is None:
        for key in counterparts:
            for person_id in directory.get(key, ()):
                person_ids[person_id] = None
    return LinkPlan(direction, tuple(person_ids), tuple(counterparts), vetoed_by)
