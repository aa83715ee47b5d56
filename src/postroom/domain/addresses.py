"""Email address normalisation: one key per mailbox, whatever case or script it was written in.

``normalize_address("Anna.Berg@BÜCHER.example")`` -> ``"anna.berg@xn--bcher-kva.example"``

Rules (docs/concepts.md, "Matching"): the whole address is compared case-insensitively; the
domain is converted to its IDNA (UTS #46) ASCII form; surrounding angle brackets, whitespace and
a trailing dot on the domain are dropped. Gmail dot-folding and plus-addressing are *not*
applied: they would merge distinct mailboxes on other providers. An address with an invisible
character in it (:func:`has_invisible_characters`: a control, a zero-width or bidirectional
mark, a non-breaking or other space than U+0020) is no address: IDNA would drop some of them
from the domain and so match ``anna@acme.example\\u200b`` to Anna.
"""

from __future__ import annotations

import functools
import unicodedata

import idna

_FORBIDDEN = frozenset(' \t\r\n<>(),;:"[]\\')
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
"""Controls, format characters (zero-width, bidirectional marks, soft hyphen), surrogates,
private-use and unassigned code points, and separators (spaces other than U+0020)."""
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
"""Letters and symbols that render as nothing (Hangul fillers, the blank Braille pattern)."""


def has_invisible_characters(text: str) -> bool:
    """Whether ``text`` holds a character that shows as nothing or as some other space than
    U+0020 (see ``_INVISIBLE_CATEGORIES``): such a character in an address makes it look like
    another one.

    >>> has_invisible_characters("anna@acme.example")
    False
    >>> has_invisible_characters("anna@acme.example\\u200b")
    True
    """
    if text.isascii():
        return not text.isprintable()
    return any(
        c != " " and (unicodedata.category(c) in _INVISIBLE_CATEGORIES or c in _INVISIBLE_LETTERS)
        for c in text
    )


def normalize_domain(domain: str) -> str | None:
    """The IDNA ASCII, lower-case form of ``domain``, or None when it is not a usable domain."""
    domain = domain.strip().rstrip(".").lower()
    if not domain or any(c in _FORBIDDEN or c == "@" for c in domain):
        return None
    if domain.isascii():
        return domain if "." in domain or domain == "localhost" else None
    try:
        ascii_form = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    return ascii_form.lower()


@functools.lru_cache(maxsize=8192)
def normalize_address(address: str) -> str | None:
    """The matching key of ``address``, or None when it is not an address at all.

    Cached: a mailbox repeats the same few thousand addresses (the owner's in every message).
    """
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    if has_invisible_characters(address):
        return None
    local, at, domain = address.rpartition("@")
    if not at or not local or any(c in _FORBIDDEN for c in local):
        return None
    if len(local) > 64:
        return None
    key_domain = normalize_domain(domain)
    if key_domain is None:
        return None
    return f"{local.lower()}@{key_domain}"


def domain_of(address_key: str) -> str:
    """The domain part of a normalised address."""
    return address_key.rpartition("@")[2]


def is_in_domain(address_key: str, domains: frozenset[str]) -> bool:
    """True when the address's domain is one of ``domains`` or a subdomain of one."""
    domain = domain_of(address_key)
    while True:
        if domain in domains:
            return True
        _, dot, domain = domain.partition(".")
        if not dot:
            return False
