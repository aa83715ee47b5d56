"""A fast path for ``imapclient.response_parser``: response records in, the same values out.

imapclient's lexer reads a response one byte at a time in Python (about 40 µs for a header
FETCH, 90 µs for a BODYSTRUCTURE): on a first sync it was half of all the CPU. ``read_values``
lexes with one regular expression and builds the values as imapclient's ``parse_response``
does (``(...)`` a tuple, ``NIL`` None, an all-digit atom an int unless it has a leading zero,
a quoted string its unescaped inside, ``{n}`` the record's literal, anything else bytes).

It covers only the common shapes. For anything else it returns None and the caller asks
imapclient, which then parses the response or raises its error: an atom with a control
character or ``%``, a quote right after an atom, an unclosed ``[``, ``(`` or quote, a stray
``)``, a literal marker anywhere but at the end of its record, or a record with a literal whose
text does not end in one. ``tests/unit/imap/test_lexer.py``
checks that both give the same values, response by response.

``read_fetch`` does the same for imapclient's ``parse_fetch_response`` of one FETCH response
(its ``uid_is_key=False``, ``normalise_times=False`` form), and declines an ENVELOPE, which
imapclient converts itself. INTERNALDATE is read by ``read_internaldate``: the same instant
and offset as imapclient's, as a ``datetime.timezone``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.response_types import BodyData

Record = bytes | tuple[bytes, bytes]
"""One imaplib-style record: a text, or a text ending in ``{n}`` and the literal after it."""

_TOKENS = re.compile(
    rb"([ \t\r\n]*+)(?:"  # 1: the space before the token
    rb'((?:[^\x00-\x20()%"\[]++|\[[^\]]*+\])++)'  # 2: an atom; [...] may hold anything
    rb'|"((?:[^"\\]++|\\[\s\S])*+)"'  # 3: a quoted string
    rb"|(\()|(\))"  # 4, 5: parentheses
    rb"|([\s\S]))"  # 6: anything else
)
_ESCAPED = re.compile(rb'\\([\\"])')


def read_values(records: Sequence[Record]) -> list[Any] | None:
    """The values of a response's records as ``imapclient.response_parser.parse_response``
    gives them; None when the fast path declines (see the module docstring)."""
    out: list[Any] = []
    stack: list[list[Any]] = []
    tokens = _TOKENS.findall
    for record in records:
        if type(record) is tuple:
            text, literal = record
            if not text.endswith(b"}"):
                return None
        else:
            text, literal = record, None  # type: ignore[assignment]
        after_atom = False
        for space, word, quoted, opening, closing, other in tokens(text):
            if word:
                if word == b"NIL":
                    out.append(None)
                elif word[:1] == b"{":
                    if literal is None or word[1:] != b"%d}" % len(literal):
                        return None
                    out.append(literal)
                elif word.isdigit() and (word[:1] != b"0" or len(word) == 1):
                    out.append(int(word))
                else:
                    out.append(word)
                after_atom = True
                continue
            if opening:
                stack.append(out)
                out = []
            elif closing:
                if not stack:
                    return None
                inner = tuple(out)
                out = stack.pop()
                out.append(inner)
            elif other:
                return None  # something imapclient lexes its own way (or rejects)
            elif after_atom and not space:
                return None  # imapclient rejects a quote glued to an atom
            else:
                out.append(_ESCAPED.sub(rb"\1", quoted) if b"\\" in quoted else quoted)
            after_atom = False
    return None if stack else out


def read_fetch(seq: int, records: Sequence[Record]) -> dict[bytes, Any] | None:
    """imapclient's dict for one ``* seq FETCH (...)`` response, given the records of its
    data (from the opening parenthesis on); None when the fast path declines."""
    values = read_values(records)
    if values is None or len(values) != 1 or type(values[0]) is not tuple:
        return None
    items: tuple[Any, ...] = values[0]
    if len(items) % 2:
        return None
    data: dict[bytes, Any] = {b"SEQ": seq}
    for index in range(0, len(items), 2):
        name, value = items[index], items[index + 1]
        if type(name) is not bytes:
            return None
        word = name.upper()
        if word == b"UID":
            if type(value) is not int:
                return None
            data[word] = value
        elif word == b"INTERNALDATE":
            if value is not None and type(value) is not bytes:
                return None
            data[word] = None if value is None else read_internaldate(value)
        elif word == b"BODY" or word == b"BODYSTRUCTURE":
            if type(value) is not tuple:
                return None
            data[word] = BodyData.create(value)
        elif word == b"ENVELOPE":
            return None
        else:
            data[word] = value
    return data


_INTERNALDATE = re.compile(
    rb" ?(\d\d?)-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-](?:[01]\d|2[0-3])[0-5]\d)"
)
_MONTHS = {
    name: number
    for number, name in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}
_ZONES: dict[bytes, dt.timezone] = {}


def read_internaldate(value: bytes) -> dt.datetime | None:
    """``b"17-Jul-1996 02:44:25 -0700"`` as imapclient's ``parse_to_datetime(value,
    normalise=False)`` reads it (None where it raises ValueError), but with a
    ``datetime.timezone`` for the offset instead of imapclient's own class: the same instant
    and offset. The form servers send is read here; any other goes to imapclient."""
    found = _INTERNALDATE.fullmatch(value)
    month = _MONTHS.get(found[2]) if found is not None else None
    if found is None or month is None or found[7] == b"-0000" or found[3] < b"1000":
        try:
            parsed: dt.datetime = parse_to_datetime(value, normalise=False)
        except ValueError:
            return None
        offset = parsed.utcoffset()
        return parsed if offset is None else parsed.replace(tzinfo=dt.timezone(offset))
    zone = _ZONES.get(found[7])
    if zone is None:
        sign = -1 if found[7][:1] == b"-" else 1
        minutes = int(found[7][1:3]) * 60 + int(found[7][3:5])
        zone = _ZONES.setdefault(found[7], dt.timezone(dt.timedelta(minutes=sign * minutes)))
    try:
        return dt.datetime(
            int(found[3]),
            month,
            int(found[1]),
            int(found[4]),
            int(found[5]),
            int(found[6]),
            tzinfo=zone,
        )
    except ValueError:
        return None
