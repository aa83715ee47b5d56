"""Typed results over ``imapclient.response_parser``: framed responses in, dataclasses out.

Pure: no I/O. The IMAP grammar is imapclient's (``parse_fetch_response`` for FETCH,
``parse_response`` for VANISHED, ESEARCH, STATUS, LIST and response codes), with
``imap.lexer`` as its fast path for the common shapes (the same values, without imapclient's
byte-by-byte lexer); only UID sets and SEARCH's number list are read here, into ranges
(``parse_sequence_set``, ``parse_search``). This module otherwise only picks the response
apart at its type word and turns imapclient's tuples into typed values. Its quirks are
handled here:

* a one-number sequence set comes back as ``int`` (``VANISHED 5`` -> ``5``), a longer one as
  ``bytes`` (``b"1:3,5"``): ``parse_sequence_set`` takes both;
* a bracketed response code is one token (``b"[COPYUID 1 2 3]"``): ``parse_condition`` cuts
  it out and parses its inside on its own (``ResponseCode("COPYUID", (1, 2, 3))``); the
  UID codes of RFC 4315 are read from its raw text instead (``parse_copyuid``,
  ``parse_appenduid``), into ranges;
* an all-digit atom becomes ``int`` (a folder named ``2024``, a flag or X-GUID of digits):
  turned back into text where text is meant;
* INTERNALDATE is parsed with ``normalise_times=False``, so it keeps its UTC offset
  (``datetime`` with ``tzinfo``), never a naive local time.

Events (``UntaggedEvent``) are what the client hands to the sync engine: ``Exists``,
``Expunge``, ``Vanished``, ``FlagsChanged``, ``StatusUpdate``, ``Bye`` and ``Unknown``. Every
other type here is the data of one command (``Capabilities``, ``Folder``, ``SearchResult``...).
Names follow the RFCs: ``uid``, ``uidvalidity``, ``uidnext``, ``highestmodseq``.

Numbers are checked against their RFC ranges (``limits.NUMBER_MAX``, ``limits.MODSEQ_MAX``):
a UID, UIDVALIDITY or UIDNEXT of 0 or over 2^32-1, a count or size over 2^32-1, a MODSEQ
over 2^63-1 is a ``ProtocolError``, never a value that overflows a database column later.
UID and sequence sets (SEARCH, ESEARCH, VANISHED) stay ranges and are read without making a
list of every number; more than ``max_set_ranges`` ranges in one response is a
``LimitExceeded``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from imapclient import imap_utf7
from imapclient.response_parser import parse_fetch_response, parse_response
from imapclient.response_types import BodyData, Envelope

from postroom.imap.errors import LimitExceeded, ProtocolError
from postroom.imap.framing import Part, RawResponse, ResponseKind
from postroom.imap.lexer import read_fetch, read_values
from postroom.imap.limits import DEFAULT_LIMITS, MODSEQ_MAX, NUMBER_MAX

_T = TypeVar("_T")

# --- status responses and response codes -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """A bracketed response code: ``[UIDVALIDITY 3857529045]`` ->
    ``ResponseCode("UIDVALIDITY", (3857529045,))``. ``arguments`` are as imapclient parses
    them (int, bytes, nested tuples); ``raw`` is the text inside the brackets."""

    name: str
    arguments: tuple[Any, ...] = ()
    raw: bytes = b""

    def number(self) -> int | None:
        """The first argument when it is a number (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ...)."""
        first = self.arguments[0] if self.arguments else None
        return first if isinstance(first, int) else None

    def atoms(self) -> list[str]:
        """The arguments as words, upper case (for ``[CAPABILITY ...]``)."""
        return [word.decode("ascii", "replace").upper() for word in self.raw.split()[1:]]


@dataclass(frozen=True, slots=True)
class Condition:
    """A status response (RFC 9051 §7.1): ``status`` is OK, NO, BAD, BYE or PREAUTH."""

    status: str
    code: ResponseCode | None
    text: str

    @property
    def code_name(self) -> str | None:
        return self.code.name if self.code else None


def parse_response_code(inside: bytes) -> ResponseCode:
    """The code between the brackets; arguments imapclient cannot parse are kept as raw text."""
    name, _, rest = inside.partition(b" ")
    arguments: tuple[Any, ...] = ()
    if rest.strip():
        try:
            arguments = tuple(parse_response([rest]))
        except Exception:  # an odd code must not break the response around it
            arguments = (rest,)
    return ResponseCode(name.decode("ascii", "replace").upper(), arguments, inside)


def parse_condition(status: str, text: bytes) -> Condition:
    """``status`` plus the text after it: an optional ``[code]`` and the human text."""
    code = None
    if text.startswith(b"["):
        end = text.find(b"]")
        if end > 0:
            code = parse_response_code(text[1:end])
            text = text[end + 1 :].lstrip(b" ")
    return Condition(status, code, text.decode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class CopyUid:
    """``[COPYUID 38505 304,319:320 3956:3958]`` (RFC 4315 §3, also RFC 6851 §4.3 for MOVE):
    the messages with the UIDs in ``source`` are now in the destination folder, whose
    UIDVALIDITY is ``uidvalidity``, with the UIDs in ``destination``, pairwise in the order
    the sets list them. Both sets hold the same number of UIDs (``parse_copyuid`` checks)."""

    uidvalidity: int
    source: tuple[tuple[int, int], ...]
    destination: tuple[tuple[int, int], ...]

    def uid_map(self) -> dict[int, int]:
        """Source UID -> destination UID.

        >>> CopyUid(38505, ((304, 304), (319, 320)), ((3956, 3958),)).uid_map()
        {304: 3956, 319: 3957, 320: 3958}
        """
        return dict(zip(_expand(self.source), _expand(self.destination), strict=True))


@dataclass(frozen=True, slots=True)
class AppendUid:
    """``[APPENDUID 38505 3955]`` (RFC 4315 §3): the appended message has UID ``uid`` in
    the destination folder, whose UIDVALIDITY is ``uidvalidity``."""

    uidvalidity: int
    uid: int


def parse_copyuid(code: ResponseCode, *, max_uids: int) -> CopyUid:
    """The COPYUID response code of a UID COPY or UID MOVE of at most ``max_uids`` UIDs.

    Read from the code's raw text (imapclient turns a one-UID set into ``int`` and a longer
    one into ``bytes``). ProtocolError when it is not ``COPYUID uidvalidity set set``, when
    the two sets differ in size, or when they name more UIDs than were copied (a server
    cannot answer for more: this also bounds ``CopyUid.uid_map``).

    >>> parse_copyuid(parse_response_code(b"COPYUID 38505 304,319:320 3956:3958"), max_uids=3)
    CopyUid(uidvalidity=38505, source=((304, 304), (319, 320)), destination=((3956, 3958),))
    """
    words = code.raw.split()
    if code.name != "COPYUID" or len(words) != 4 or not words[1].isdigit():
        raise ProtocolError(f"not a COPYUID response code: {code.raw[:200]!r}")
    uidvalidity = checked(int(words[1]), "a COPYUID UIDVALIDITY")
    source = parse_sequence_set(words[2])
    destination = parse_sequence_set(words[3])
    count = _set_size(source)
    if count != _set_size(destination):
        raise ProtocolError(f"COPYUID maps sets of different sizes: {code.raw[:200]!r}")
    if count > max_uids:
        raise ProtocolError(
            f"COPYUID names {count} UIDs, more than the {max_uids} of the command: "
            f"{code.raw[:200]!r}"
        )
    return CopyUid(uidvalidity, source, destination)


def parse_appenduid(code: ResponseCode) -> AppendUid:
    """The APPENDUID response code of an APPEND of one message. ProtocolError when it is not
    ``APPENDUID uidvalidity uid`` (a UID set belongs to MULTIAPPEND, which we never send).

    >>> parse_appenduid(parse_response_code(b"APPENDUID 38505 3955"))
    AppendUid(uidvalidity=38505, uid=3955)
    """
    words = code.raw.split()
    if code.name != "APPENDUID" or len(words) != 3 or not words[1].isdigit():
        raise ProtocolError(f"not an APPENDUID response code: {code.raw[:200]!r}")
    if not words[2].isdigit():
        raise ProtocolError(f"APPENDUID for more than one message: {code.raw[:200]!r}")
    return AppendUid(
        checked(int(words[1]), "an APPENDUID UIDVALIDITY"),
        checked(int(words[2]), "an APPENDUID UID"),
    )


def _set_size(ranges: Iterable[tuple[int, int]]) -> int:
    return sum(high - low + 1 for low, high in ranges)


def _expand(ranges: Iterable[tuple[int, int]]) -> Iterator[int]:
    for low, high in ranges:
        yield from range(low, high + 1)


def parse_tagged(response: RawResponse) -> Condition:
    """The completion of a command: ``A0001 OK [READ-ONLY] done`` -> Condition("OK", ...)."""
    if response.kind is not ResponseKind.TAGGED or response.keyword not in {"OK", "NO", "BAD"}:
        raise ProtocolError(f"not a tagged status response: {response.first_segment[:200]!r}")
    return parse_condition(response.keyword, response.text_after_keyword())


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exists:
    """``* n EXISTS``: the folder now holds ``count`` messages."""

    count: int


@dataclass(frozen=True, slots=True)
class Expunge:
    """``* n EXPUNGE``: the message with sequence number ``seq`` is gone (later sequence
    numbers shift down by one)."""

    seq: int


@dataclass(frozen=True, slots=True)
class Vanished:
    """``* VANISHED [(EARLIER)] uid-set`` (RFC 7162 §3.2.10): UIDs gone, as inclusive ranges
    ``(low, high)`` in the order the server sent them. ``earlier`` marks the answer to a
    QRESYNC EXAMINE or a FETCH ... VANISHED; without it the expunge is happening now. The
    ranges may include UIDs the client never had: keep them as ranges."""

    ranges: tuple[tuple[int, int], ...]
    earlier: bool

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and any(low <= uid <= high for low, high in self.ranges)


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One ``* n FETCH (...)`` response, typed.

    ``uid`` is 0 when the server left it out (an unsolicited FETCH before QRESYNC is enabled;
    real UIDs are never 0). ``flags`` is None when FLAGS was not in the response. ``modseq``
    comes from ``MODSEQ (n)``. ``internaldate`` keeps its UTC offset.

    ``sections`` holds every body part item (``BODY[...]``, ``BINARY[...]``, ``RFC822.HEADER``)
    keyed as the server echoed it, upper-cased by imapclient: ``"BODY[HEADER.FIELDS (FROM TO)]"``,
    ``"BODY[1.2]<0>"`` (a partial fetch echoes only its origin), ``"BINARY[1]"``. Look one up by
    what was requested with ``section("BODY.PEEK[1.2]<0.262144>")``, which normalises both sides
    (see ``section_key``). A NIL section is left out.

    ``raw`` is imapclient's dict for the response (bytes keys, as parsed), for anything else.
    """

    uid: int
    seq: int
    flags: tuple[str, ...] | None
    modseq: int | None
    internaldate: dt.datetime | None
    size: int | None
    sections: dict[str, bytes]
    bodystructure: BodyData | None
    x_guid: str | None
    emailid: str | None
    gm_msgid: int | None
    raw: dict[bytes, Any]
    envelope: Envelope | None = None
    threadid: str | None = None
    gm_thrid: int | None = None
    gm_labels: tuple[str, ...] | None = None
    preview: str | None = None

    def section(self, requested: str) -> bytes | None:
        """The data of a requested body item, found however the server spelled its echo:
        ``item.section("BODY.PEEK[HEADER.FIELDS (From To)]")`` finds
        ``"BODY[HEADER.FIELDS (FROM TO)]"``; None when it is not in the response."""
        wanted = section_key(requested)
        direct = self.sections.get(wanted)
        if direct is not None:
            return direct
        for key, value in self.sections.items():
            if section_key(key) == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    """An unsolicited FETCH (usually ``FLAGS`` and ``MODSEQ``): another client changed a
    message, or the server reports a change in the middle of another command."""

    item: FetchItem


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """``* STATUS folder (MESSAGES n UIDNEXT m ...)`` that no STATUS command asked for (NOTIFY,
    RFC 5465). ``values`` holds the numeric items, upper-case names."""

    folder: str
    values: dict[str, int]
    folder_raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Bye:
    """``* BYE text``: the server is closing the connection."""

    text: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Any other unsolicited response (``* OK [ALERT] ...``, ``* OK Still here``, ``* 2 RECENT``,
    ``* OK [HIGHESTMODSEQ 5]``, a response type we do not know), kept as received: ``raw`` is
    the whole response with its literals, ``kind`` its type word (``"OK"``, ``"RECENT"``...),
    and ``code`` the parsed response code of an untagged OK/NO/BAD, if it had one."""

    raw: bytes
    kind: str = ""
    code: ResponseCode | None = None


UntaggedEvent = Exists | Expunge | Vanished | FlagsChanged | StatusUpdate | Bye | Unknown
"""What ``ImapClient.drain_events``, ``noop`` and ``idle`` return."""


# --- data of one command --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recent:
    """``* n RECENT``."""

    count: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    """``* CAPABILITY ...``: names upper-cased."""

    names: frozenset[str]


@dataclass(frozen=True, slots=True)
class Enabled:
    """``* ENABLED ...`` (RFC 5161): the extensions the server switched on, upper-cased."""

    names: frozenset[str]


@dataclass(frozen=True, slots=True)
class Flags:
    """``* FLAGS (...)``: the flags defined in the selected folder."""

    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Folder:
    """One ``* LIST`` entry.

    ``name`` is decoded from modified UTF-7; ``name_raw`` is the name exactly as listed (send
    this one back to the server). ``delimiter`` is None for a flat namespace (``NIL``).
    ``flags`` are the name attributes, spelled as in the RFCs whatever the server's case
    (``\\Sent``, ``\\Noselect``, ``\\HasNoChildren``...); unknown ones are kept as sent.
    """

    name: str
    name_raw: bytes
    delimiter: str | None
    flags: frozenset[str]

    @property
    def is_selectable(self) -> bool:
        """Whether the folder can be examined: see ``is_selectable``."""
        return is_selectable(self.flags)


UNSELECTABLE = frozenset({"\\Noselect", "\\NonExistent"})
"""Name attributes of a LIST entry that cannot be selected or examined: a hierarchy node
(``\\Noselect``, RFC 9051 section 7.3.1) or a name that does not exist (``\\NonExistent``,
RFC 5258 section 3.4, which implies ``\\Noselect``)."""


def is_selectable(flags: Iterable[str]) -> bool:
    """Whether a LIST entry with these name attributes (in their RFC spelling, as ``Folder``
    holds them) can be examined.

    >>> is_selectable({"\\\\HasNoChildren", "\\\\Sent"}), is_selectable({"\\\\NonExistent"})
    (True, False)
    """
    return UNSELECTABLE.isdisjoint(flags)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """``* SEARCH 2 84 882 83 [(MODSEQ m)]`` -> ``ranges`` ``((2, 2), (83, 84), (882, 882))``:
    ascending and disjoint, never a list of every number."""

    ranges: tuple[tuple[int, int], ...]
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class ESearchResult:
    """``* ESEARCH (TAG "A0005") UID ALL 1:3,5 COUNT 4`` (RFC 4731). ``all`` holds the ALL
    ranges (compact); ``tag`` is the correlator, to match it with its command."""

    tag: bytes | None
    uid: bool
    all: tuple[tuple[int, int], ...] = ()
    min: int | None = None
    max: int | None = None
    count: int | None = None
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class SelectedFolder:
    """The answer to EXAMINE or SELECT (RFC 9051 §6.3.1, §6.3.2, RFC 7162 §3.1, §3.2.5).

    ``highestmodseq`` is None when the server said ``[NOMODSEQ]`` or nothing; ``vanished`` are
    the ``VANISHED (EARLIER)`` ranges and ``changed`` the FETCH items of a QRESYNC EXAMINE.
    If ``uidvalidity`` differs from the one given to QRESYNC, the server ignored the QRESYNC
    parameters: nothing in ``vanished``/``changed`` applies to the old UIDs. ``read_only`` is
    False only when the server completed with ``[READ-WRITE]`` (a SELECT it allows writes in).
    """

    uidvalidity: int
    uidnext: int | None
    exists: int
    highestmodseq: int | None
    vanished: list[tuple[int, int]]
    changed: list[FetchItem]
    flags: tuple[str, ...] = ()
    read_only: bool = True


Untagged = (
    Condition
    | Exists
    | Expunge
    | Recent
    | Vanished
    | FetchItem
    | StatusUpdate
    | Capabilities
    | Enabled
    | Flags
    | Folder
    | SearchResult
    | ESearchResult
    | Unknown
)
"""Any untagged response, typed by ``parse_untagged``."""


# --- parsing --------------------------------------------------------------------------------


def parse_untagged(
    response: RawResponse, *, max_set_ranges: int = DEFAULT_LIMITS.max_set_ranges
) -> Untagged:
    """Type one untagged response. Raises ProtocolError if imapclient cannot parse the data of
    a response type we know or a number is out of its range (LimitExceeded for a set of more
    than ``max_set_ranges`` ranges); a type we do not know becomes ``Unknown``."""
    keyword = response.keyword
    number = response.number
    if number is not None:
        if keyword == "FETCH":
            return parse_fetch(response)
        if keyword == "EXISTS":
            return Exists(number)
        if keyword == "EXPUNGE":
            return Expunge(checked(number, "an EXPUNGE sequence number"))
        if keyword == "RECENT":
            return Recent(number)
        return Unknown(response.to_bytes(), keyword)
    if keyword in {"OK", "NO", "BAD", "BYE", "PREAUTH"}:
        return parse_condition(keyword, response.text_after_keyword())
    if keyword == "CAPABILITY":
        return Capabilities(_words(response.text_after_keyword()))
    if keyword == "ENABLED":
        return Enabled(_words(response.text_after_keyword()))
    if keyword == "SEARCH":
        return parse_search(response, max_ranges=max_set_ranges)
    if keyword == "ESEARCH":
        return parse_esearch(response, max_ranges=max_set_ranges)
    if keyword == "VANISHED":
        return parse_vanished(response, max_ranges=max_set_ranges)
    parser = _DATA_PARSERS.get(keyword)
    if parser is None:
        return Unknown(response.to_bytes(), keyword)
    return parser(response)


def checked(value: int, what: str, *, low: int = 1, high: int = NUMBER_MAX) -> int:
    """``value`` if ``low <= value <= high``, else ProtocolError naming ``what``. The default
    range is RFC 9051's nz-number (UIDs, UIDVALIDITY, UIDNEXT, sequence numbers)."""
    if low <= value <= high:
        return value
    shown = str(value) if value.bit_length() < 200 else f"a {value.bit_length()}-bit number"
    raise ProtocolError(f"{what} is out of range ({low} to {high}): {shown}")


def checked_modseq(value: int | None, what: str = "a MODSEQ") -> int | None:
    """``value`` (None passes) within RFC 7162's mod-sequence-value: 0 is taken (some servers
    send it for an empty folder), above 2^63-1 is a ProtocolError."""
    return None if value is None else checked(value, what, low=0, high=MODSEQ_MAX)


def to_event(response: RawResponse, typed: Untagged) -> UntaggedEvent:
    """The event an untagged response is when no command claims it."""
    if isinstance(typed, Exists | Expunge | Vanished | StatusUpdate):
        return typed
    if isinstance(typed, FetchItem):
        return FlagsChanged(typed)
    if isinstance(typed, Condition):
        if typed.status == "BYE":
            return Bye(typed.text)
        return Unknown(response.to_bytes(), response.keyword, typed.code)
    if isinstance(typed, Unknown):
        return typed
    return Unknown(response.to_bytes(), response.keyword)


def data_records(response: RawResponse) -> list[Part]:
    """The response as imapclient records, with ``* [n] KEYWORD `` cut from the front."""
    parts = list(response.parts)
    first, start = parts[0], response.data_start
    parts[0] = (first[0][start:], first[1]) if isinstance(first, tuple) else first[start:]
    return parts


def _parse(records: list[Part], what: str) -> tuple[Any, ...]:
    try:
        values = read_values(records)
        if values is not None:
            return tuple(values)
        return tuple(parse_response(records))
    except Exception as exc:
        raise ProtocolError(f"cannot parse the {what} response: {exc}") from exc


def parse_fetch(response: RawResponse) -> FetchItem:
    """``* 12 FETCH (UID 7 FLAGS (\\Seen) BODY[] {5} ...)`` -> FetchItem, through
    ``imap.lexer.read_fetch`` or else ``imapclient.response_parser.parse_fetch_response``."""
    seq = response.number or 0
    records = data_records(response)
    try:
        data = read_fetch(seq, records)
        return fetch_item(seq, data if data is not None else imapclient_fetch(seq, records))
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"cannot parse a FETCH response: {exc}") from exc


def imapclient_fetch(seq: int, records: list[Part]) -> dict[bytes, Any]:
    """imapclient's dict for ``* seq FETCH`` given the records of its data (as
    ``data_records``), by ``parse_fetch_response`` itself; raises what imapclient raises."""
    # imapclient wants imaplib's "12 (UID 7 ...)": the number, then the data
    first, prefix = records[0], b"%d " % seq
    head = (prefix + first[0], first[1]) if isinstance(first, tuple) else prefix + first
    parsed = parse_fetch_response([head, *records[1:]], normalise_times=False, uid_is_key=False)
    ((_, data),) = parsed.items()
    values: dict[bytes, Any] = data
    return values


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges made ascending and disjoint, touching ones joined.

    >>> merge_ranges([(5, 5), (1, 3), (4, 4), (2, 2), (9, 12)])
    [(1, 5), (9, 12)]
    """
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def parse_fetches(responses: Iterable[RawResponse]) -> list[FetchItem]:
    """Raw FETCH responses (``ImapClient.uid_fetch_raw``) -> one FetchItem per UID, in the
    order of each UID's first response; a UID answered twice (an unsolicited FLAGS in the
    middle of a fetch) is merged, the later values winning. Responses without a UID are left
    out. Raises ProtocolError for a response imapclient cannot parse."""
    return merge_fetch_items(item for item in map(parse_fetch, responses) if item.uid)


def merge_fetch_items(items: Iterable[FetchItem]) -> list[FetchItem]:
    """One FetchItem per UID, in the order of each UID's first item; a UID answered twice (an
    unsolicited FLAGS in the middle of a fetch) is merged, the later values winning."""
    results: dict[int, FetchItem] = {}
    for item in items:
        earlier = results.get(item.uid)
        results[item.uid] = (
            item if earlier is None else fetch_item(earlier.seq, {**earlier.raw, **item.raw})
        )
    return list(results.values())


def fetch_item(seq: int, data: dict[bytes, Any]) -> FetchItem:
    """A FetchItem from imapclient's dict for one message (keys upper-case bytes).

    One pass over the keys: UID, FLAGS, MODSEQ, INTERNALDATE, RFC822.SIZE and body sections
    (what most responses hold) are taken on the way; the rarer items are looked up only when
    one is present."""
    sections: dict[str, bytes] = {}
    uid, flags, modseq = 0, None, None
    internaldate: dt.datetime | None = None
    size: int | None = None
    rare = False
    for key, value in data.items():
        if key == b"UID":
            uid = _int_or(value, 0)
            if uid:
                checked(uid, "a FETCH UID")
        elif key == b"FLAGS":
            flags = _texts(value) if value is not None else None
        elif key == b"MODSEQ":
            modseq = checked_modseq(_first_int(value), "a FETCH MODSEQ")
        elif key == b"SEQ":
            continue
        elif key == b"INTERNALDATE":
            internaldate = value if isinstance(value, dt.datetime) else None
        elif key == b"RFC822.SIZE":
            size = _int_or(value, None)
            if size is not None:
                checked(size, "an RFC822.SIZE", low=0)
        elif key.startswith(_SECTION_PREFIXES) or key == b"RFC822":
            if value is not None:
                sections[key.decode("ascii", "replace")] = _as_bytes(value)
        else:
            rare = True
    if internaldate is not None and type(internaldate.tzinfo) not in (dt.timezone, type(None)):
        offset = internaldate.utcoffset()
        if offset is not None:  # imapclient's own tzinfo class -> datetime.timezone
            internaldate = internaldate.replace(tzinfo=dt.timezone(offset))
    if not rare:
        return FetchItem(
            uid, seq, flags, modseq, internaldate, size, sections, None, None, None, None, data
        )
    emailid = data.get(b"EMAILID")
    threadid = data.get(b"THREADID")
    labels = data.get(b"X-GM-LABELS")
    bodystructure = data.get(b"BODYSTRUCTURE")
    envelope = data.get(b"ENVELOPE")
    return FetchItem(
        uid=uid,
        seq=seq,
        flags=flags,
        modseq=modseq,
        internaldate=internaldate,
        size=size,
        sections=sections,
        bodystructure=bodystructure if isinstance(bodystructure, BodyData) else None,
        x_guid=_text_or_none(data.get(b"X-GUID")),
        emailid=_text_or_none(emailid[0] if isinstance(emailid, tuple) and emailid else emailid),
        gm_msgid=_int_or(data.get(b"X-GM-MSGID"), None),
        raw=data,
        envelope=envelope if isinstance(envelope, Envelope) else None,
        threadid=_text_or_none(
            threadid[0] if isinstance(threadid, tuple) and threadid else threadid
        ),
        gm_thrid=_int_or(data.get(b"X-GM-THRID"), None),
        gm_labels=tuple(_decode_name(_as_bytes(label)) for label in labels)
        if isinstance(labels, tuple)
        else None,
        preview=_text_or_none(data.get(b"PREVIEW")),
    )


_SECTION_PREFIXES = (b"BODY[", b"BINARY[", b"RFC822.HEADER", b"RFC822.TEXT")


_PARTIAL = re.compile(r"<(\d+)(?:\.\d+)?>$")
_SPACES = re.compile(r"\s+")


def section_key(item: str) -> str:
    """The normal form of a body item, requested or echoed: upper case, ``.PEEK`` dropped,
    a partial ``<origin.length>`` cut to ``<origin>`` (servers echo only the origin),
    whitespace runs collapsed and quotes inside the brackets dropped.

    >>> section_key('BODY.PEEK[HEADER.FIELDS ("From"  to)]<0.2048>')
    'BODY[HEADER.FIELDS (FROM TO)]<0>'
    """
    key = _SPACES.sub(" ", item.strip().upper())
    key = key.replace("BODY.PEEK[", "BODY[").replace("BINARY.PEEK[", "BINARY[")
    opening, closing = key.find("["), key.rfind("]")
    if 0 <= opening < closing:
        key = key[:opening] + key[opening:closing].replace('"', "") + key[closing:]
    return _PARTIAL.sub(r"<\1>", key)


_SET_ITEM = re.compile(rb"(\d{1,10})(?::(\d{1,10}))?(,|$)")


def parse_sequence_set(
    value: Any, *, max_ranges: int = DEFAULT_LIMITS.max_set_ranges
) -> tuple[tuple[int, int], ...]:
    """A sequence/UID set as imapclient returns it (``5`` or ``b"1:3,5"``) -> inclusive ranges
    in the order given, each ``(low, high)`` with low <= high. ``*`` is not allowed here;
    every number must be 1 to 2^32-1 (ProtocolError); more than ``max_ranges`` ranges is a
    LimitExceeded. Read item by item: no list of the set's pieces is made first."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = checked(value, "a sequence set number")
        return ((number, number),)
    if not isinstance(value, bytes | str):
        raise ProtocolError(f"not a sequence set: {value!r}")
    text = value.encode("ascii", "replace") if isinstance(value, str) else value
    ranges: list[tuple[int, int]] = []
    position, size = 0, len(text)
    while True:
        found = _SET_ITEM.match(text, position)
        if found is None or (found.group(3) == b"," and found.end() == size):
            raise ProtocolError(f"not a sequence set: {text[:200]!r}")
        a = checked(int(found.group(1)), "a sequence set number")
        b = checked(int(found.group(2)), "a sequence set number") if found.group(2) else a
        if len(ranges) >= max_ranges:
            raise LimitExceeded(f"a sequence set has more than {max_ranges} ranges")
        ranges.append((a, b) if a <= b else (b, a))
        position = found.end()
        if position >= size:
            return tuple(ranges)


def parse_vanished(
    response: RawResponse, *, max_ranges: int = DEFAULT_LIMITS.max_set_ranges
) -> Vanished:
    """``* VANISHED (EARLIER) 41,43:116`` -> Vanished(((41, 41), (43, 116)), earlier=True)."""
    items = _parse(data_records(response), "VANISHED")
    earlier = False
    if items and isinstance(items[0], tuple):
        earlier = any(_as_bytes(word).upper() == b"EARLIER" for word in items[0])
        items = items[1:]
    if len(items) != 1:
        raise ProtocolError(f"unexpected VANISHED response: {response.first_segment[:200]!r}")
    return Vanished(parse_sequence_set(items[0], max_ranges=max_ranges), earlier)


def parse_esearch(
    response: RawResponse, *, max_ranges: int = DEFAULT_LIMITS.max_set_ranges
) -> ESearchResult:
    """``* ESEARCH (TAG "A0005") UID ALL 1:3,5 COUNT 4`` -> ESearchResult."""
    items = list(_parse(data_records(response), "ESEARCH"))
    tag = None
    if items and isinstance(items[0], tuple):
        correlator = items.pop(0)
        if len(correlator) == 2 and _as_bytes(correlator[0]).upper() == b"TAG":
            tag = _as_bytes(correlator[1])
    uid = bool(items) and isinstance(items[0], bytes) and items[0].upper() == b"UID"
    if uid:
        items.pop(0)
    values: dict[bytes, Any] = {}
    for index in range(0, len(items) - 1, 2):
        values[_as_bytes(items[index]).upper()] = items[index + 1]
    all_ranges = (
        parse_sequence_set(values[b"ALL"], max_ranges=max_ranges) if b"ALL" in values else ()
    )
    low, high, count = (_int_or(values.get(name), None) for name in (b"MIN", b"MAX", b"COUNT"))
    return ESearchResult(
        tag=tag,
        uid=uid,
        all=all_ranges,
        min=None if low is None else checked(low, "an ESEARCH MIN"),
        max=None if high is None else checked(high, "an ESEARCH MAX"),
        count=None if count is None else checked(count, "an ESEARCH COUNT", low=0),
        modseq=checked_modseq(_int_or(values.get(b"MODSEQ"), None), "an ESEARCH MODSEQ"),
    )


_SEARCH_NUMBER = re.compile(rb" *(\d{1,10})(?= |$)")
_SEARCH_MODSEQ = re.compile(rb" *\(MODSEQ (\d{1,20})\) *$", re.IGNORECASE)


def parse_search(
    response: RawResponse, *, max_ranges: int = DEFAULT_LIMITS.max_set_ranges
) -> SearchResult:
    """``* SEARCH 2 84 882`` (optionally ``(MODSEQ 917162500)`` at the end, RFC 7162) ->
    SearchResult with ascending ranges. The numbers are read one by one into ranges (a run of
    consecutive numbers is one range), never into a list of every number; each must be 1 to
    2^32-1, and more than ``max_ranges`` ranges is a LimitExceeded."""
    text = response.text_after_keyword()
    modseq = None
    suffix = _SEARCH_MODSEQ.search(text) if text.endswith(b")") else None
    if suffix is not None:
        modseq = checked_modseq(int(suffix.group(1)), "a SEARCH MODSEQ")
        text = text[: suffix.start()]
    text = text.rstrip(b" ")
    ranges: list[tuple[int, int]] = []
    position, size = 0, len(text)
    low = high = -1
    while position < size:
        found = _SEARCH_NUMBER.match(text, position)
        if found is None:
            raise ProtocolError(f"cannot parse the SEARCH response: {text[position:][:200]!r}")
        number = checked(int(found.group(1)), "a SEARCH result")
        position = found.end()
        if number == high + 1:
            high = number
            continue
        if high >= 0:
            ranges.append((low, high))
        if len(ranges) >= max_ranges:
            raise LimitExceeded(f"a SEARCH response has more than {max_ranges} ranges")
        low = high = number
    if high >= 0:
        ranges.append((low, high))
    return SearchResult(tuple(merge_ranges(ranges)), modseq)


def parse_status(response: RawResponse) -> StatusUpdate:
    """``* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4)`` -> StatusUpdate (numeric items only)."""
    items = _parse(data_records(response), "STATUS")
    if len(items) < 2 or not isinstance(items[-1], tuple):
        raise ProtocolError(f"unexpected STATUS response: {response.first_segment[:200]!r}")
    name_raw = _as_bytes(items[0])
    pairs = items[-1]
    values = {
        _as_bytes(pairs[i]).decode("ascii", "replace").upper(): pairs[i + 1]
        for i in range(0, len(pairs) - 1, 2)
        if isinstance(pairs[i + 1], int)
    }
    for name, number in values.items():
        low, high = _STATUS_RANGES.get(name, (0, NUMBER_MAX))
        checked(number, f"STATUS {name}", low=low, high=high)
    return StatusUpdate(_decode_name(name_raw), values, name_raw)


#: The range of each numeric STATUS item (RFC 9051 §7.2.4, RFC 7162, RFC 8438); others 0 to
#: 2^32-1.
_STATUS_RANGES: dict[str, tuple[int, int]] = {
    "UIDVALIDITY": (1, NUMBER_MAX),
    "UIDNEXT": (1, NUMBER_MAX),
    "HIGHESTMODSEQ": (0, MODSEQ_MAX),
    "SIZE": (0, 2**63 - 1),
}


#: Name attributes (RFC 9051 §7.3.1, RFC 5258, RFC 6154, RFC 8457) in their RFC spelling.
_NAME_ATTRIBUTES = {
    name.lower(): name
    for name in (
        "\\Noinferiors",
        "\\Noselect",
        "\\NonExistent",
        "\\Marked",
        "\\Unmarked",
        "\\HasChildren",
        "\\HasNoChildren",
        "\\Subscribed",
        "\\Remote",
        "\\All",
        "\\Archive",
        "\\Drafts",
        "\\Flagged",
        "\\Junk",
        "\\Sent",
        "\\Trash",
        "\\Important",
    )
}


def parse_list(response: RawResponse) -> Folder:
    """``* LIST (\\HasNoChildren \\Sent) "/" Sent`` -> Folder."""
    items = _parse(data_records(response), "LIST")
    if len(items) < 3 or not isinstance(items[0], tuple):
        raise ProtocolError(f"unexpected LIST response: {response.first_segment[:200]!r}")
    attributes, delimiter, name = items[0], items[1], items[2]
    flags = frozenset(_NAME_ATTRIBUTES.get(text.lower(), text) for text in _texts(attributes))
    name_raw = _as_bytes(name)
    return Folder(
        name=_decode_name(name_raw),
        name_raw=name_raw,
        delimiter=None if delimiter is None else _as_bytes(delimiter).decode("utf-8", "replace"),
        flags=flags,
    )


def parse_flags(response: RawResponse) -> Flags:
    """``* FLAGS (\\Answered \\Seen $Forwarded)``."""
    items = _parse(data_records(response), "FLAGS")
    return Flags(_texts(items[0]) if items and isinstance(items[0], tuple) else ())


_DATA_PARSERS: dict[str, Callable[[RawResponse], Untagged]] = {
    "LIST": parse_list,
    "STATUS": parse_status,
    "FLAGS": parse_flags,
}


def selected_folder(responses: Iterable[Untagged], completion: Condition) -> SelectedFolder:
    """The SelectedFolder from the untagged responses of one EXAMINE or SELECT and its
    tagged OK.

    ``* OK [CLOSED]`` (RFC 7162 §3.2.11) separates responses about the previously selected
    folder from those about the new one: everything before it is dropped.
    """
    uidvalidity: int | None = None
    uidnext: int | None = None
    highestmodseq: int | None = None
    exists = 0
    flags: tuple[str, ...] = ()
    vanished: list[tuple[int, int]] = []
    changed: list[FetchItem] = []
    for response in responses:
        if isinstance(response, Condition) and response.code is not None:
            name, number = response.code.name, response.code.number()
            if name == "CLOSED":
                uidvalidity = uidnext = highestmodseq = None
                exists, flags, vanished, changed = 0, (), [], []
            elif name == "UIDVALIDITY":
                uidvalidity = None if number is None else checked(number, "UIDVALIDITY")
            elif name == "UIDNEXT":
                uidnext = None if number is None else checked(number, "UIDNEXT")
            elif name == "HIGHESTMODSEQ":
                highestmodseq = checked_modseq(number, "HIGHESTMODSEQ")
            elif name == "NOMODSEQ":
                highestmodseq = None
        elif isinstance(response, Exists):
            exists = checked(response.count, "EXISTS", low=0)
        elif isinstance(response, Flags):
            flags = response.flags
        elif isinstance(response, Vanished):
            vanished.extend(response.ranges)
        elif isinstance(response, FetchItem):
            changed.append(response)
    if completion.code is not None and completion.code.name == "HIGHESTMODSEQ":
        highestmodseq = checked_modseq(completion.code.number(), "HIGHESTMODSEQ")
    if uidvalidity is None:
        raise ProtocolError("the server did not send UIDVALIDITY for the folder")
    return SelectedFolder(
        uidvalidity=uidvalidity,
        uidnext=uidnext,
        exists=exists,
        highestmodseq=highestmodseq,
        vanished=vanished,
        changed=changed,
        flags=flags,
        read_only=completion.code_name != "READ-WRITE",
    )


_MISSING_TEXT = re.compile(
    r"does ?n[o']t exist|not exist|no such|not found|unknown (?:mailbox|folder)|nonexistent",
    re.IGNORECASE,
)


def is_folder_missing(condition: Condition) -> bool:
    """Whether a NO to SELECT/EXAMINE/STATUS says the folder does not exist: the
    ``[NONEXISTENT]`` code (RFC 5530), or, from servers that send no code, the usual text
    ("Mailbox doesn't exist", "No such folder", "Folder not found"), also behind
    ``[TRYCREATE]``, which some servers send for it. Any other code (UNAVAILABLE...) says no."""
    if condition.status != "NO":
        return False
    if condition.code is not None and condition.code.name != "TRYCREATE":
        return condition.code.name == "NONEXISTENT"
    return bool(_MISSING_TEXT.search(condition.text))


# --- small conversions ----------------------------------------------------------------------


def _words(text: bytes) -> frozenset[str]:
    return frozenset(word.decode("ascii", "replace").upper() for word in text.split())


def _as_bytes(value: Any) -> bytes:
    """imapclient gives bytes, or int for an all-digit atom: text either way."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ProtocolError(f"expected a string, got {value!r}")


def _texts(values: Any) -> tuple[str, ...]:
    if not isinstance(values, tuple | list):
        values = (values,)
    return tuple(
        value.decode("utf-8", "replace") if type(value) is bytes else _as_bytes(value).decode()
        for value in values
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else _as_bytes(value).decode("utf-8", "replace")


def _int_or(value: Any, default: _T) -> int | _T:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _first_int(value: Any) -> int | None:
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) else None


def _decode_name(raw: bytes) -> str:
    """A mailbox name from modified UTF-7; a name that is not valid mUTF-7 (some servers send
    UTF-8) is decoded as UTF-8 instead."""
    try:
        decoded = imap_utf7.decode(raw)
    except Exception:
        decoded = None
    if isinstance(decoded, str):
        return decoded
    return raw.decode("utf-8", "replace")


__all__ = [
    "UNSELECTABLE",
    "AppendUid",
    "Bye",
    "Capabilities",
    "Condition",
    "CopyUid",
    "ESearchResult",
    "Enabled",
    "Exists",
    "Expunge",
    "FetchItem",
    "Flags",
    "FlagsChanged",
    "Folder",
    "Recent",
    "ResponseCode",
    "SearchResult",
    "SelectedFolder",
    "StatusUpdate",
    "Unknown",
    "Untagged",
    "UntaggedEvent",
    "Vanished",
    "checked",
    "checked_modseq",
    "data_records",
    "fetch_item",
    "imapclient_fetch",
    "is_folder_missing",
    "is_selectable",
    "parse_appenduid",
    "parse_condition",
    "parse_copyuid",
    "parse_esearch",
    "parse_fetch",
    "parse_flags",
    "parse_list",
    "parse_response_code",
    "parse_search",
    "parse_sequence_set",
    "parse_status",
    "parse_tagged",
    "parse_untagged",
    "section_key",
    "selected_folder",
    "to_event",
]
