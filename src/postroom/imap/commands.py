"""Command building: typed arguments in, the octets of one IMAP command out. Pure: no I/O.

A ``Command`` is a name and arguments; an argument is ready-made text (an atom, a quoted
string, a parenthesised list) or a ``Literal``. ``encode_command`` turns it into the chunks to
write: with LITERAL+ (RFC 7888) one chunk, otherwise one chunk per synchronising literal, and
the sender waits for the server's ``+`` between chunks.

Invariants:

* Strings are always sent quoted (``"..."`` with ``\\`` and ``"`` escaped) or, when they hold
  CR, LF or 8-bit octets, as a literal. NUL can be sent in neither: ``ValueError``.
* Mailbox names given as ``str`` are encoded to modified UTF-7 (RFC 3501 §5.1.3) with
  ``imapclient.imap_utf7``; names given as ``bytes`` (``Folder.name_raw``, as the server listed
  them) are sent unchanged. ``INBOX`` is case-insensitive and always sent as ``INBOX``.
* Every command line stays within ``MAX_LINE`` (8192) octets, tag and CRLF included
  (RFC 7162 §4, RFC 2683 §3.2.1.5): ``build_uid_fetch`` splits long UID sets into several
  commands. UID sets are sorted, de-duplicated and compressed into ranges (``1:5,9,12:14``).
* Nothing that could mark mail ``\\Seen`` is built for sync: ``check_fetch_items`` refuses
  ``BODY[``, ``BINARY[``, ``RFC822`` and ``RFC822.TEXT`` (use ``BODY.PEEK[...]``/
  ``BINARY.PEEK[...]``); the sync opens folders with EXAMINE (read-only), never SELECT.
* The commands that change a mailbox (``select``, ``build_uid_store``, ``build_uid_copy``,
  ``build_uid_move``, ``build_uid_expunge``, ``append``) are built here too, for
  ``imap.writing.MailboxClient`` only (the mail client, on the user's own action). Flags are
  checked by ``check_flags``: the five system flags a client may set, or keywords (atoms).
  Like ``build_uid_fetch``, the ``build_uid_*`` builders split a long UID list over several
  commands of at most ``MAX_LINE`` octets each.
* Capability checks belong to the client; ``required_capabilities`` says which capability each
  FETCH item and STATUS item needs.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imapclient import imap_utf7

MAX_LINE = 8192
"""The longest command line we send, in octets, tag and CRLF included."""

UID_MAX = 4294967295
"""The largest UID (RFC 9051 §2.3.1.1: a non-zero 32-bit number). Use it as the upper bound
instead of ``*``: ``n:*`` always includes the last message, even when n is above every UID."""

_TAG_RESERVE = 12  # room for the tag when a command's length is computed before tagging
_ATOM_TEXT = re.compile(rb"^[\x21-\x7e]*$")  # printable ASCII, no space or control
_UID_SET = re.compile(r"^(?:\d+|\*)(?::(?:\d+|\*))?(?:,(?:\d+|\*)(?::(?:\d+|\*))?)*$")


@dataclass(frozen=True, slots=True)
class Literal:
    """A string sent as a literal (``{n}`` CRLF and n octets): for CR, LF or 8-bit data."""

    data: bytes


Argument = bytes | Literal


@dataclass(frozen=True, slots=True)
class Command:
    """One command: ``name`` (e.g. ``"UID FETCH"``) and its arguments, joined by spaces.

    ``sensitive`` commands (LOGIN, AUTHENTICATE) have their arguments redacted in logs.
    """

    name: str
    arguments: tuple[Argument, ...] = ()
    sensitive: bool = False

    def line_length(self, tag_length: int = _TAG_RESERVE) -> int:
        """Octets of the command line(s) as sent with LITERAL+, tag and CRLF included."""
        length = tag_length + 1 + len(self.name) + 2
        for argument in self.arguments:
            if isinstance(argument, Literal):
                length += 1 + len(b"{%d+}\r\n" % len(argument.data)) + len(argument.data)
            else:
                length += 1 + len(argument)
        return length


def encode_command(
    tag: bytes, command: Command, *, literal_plus: bool, literal_minus: bool = False
) -> list[bytes]:
    """The chunks to write for ``command``. Between two chunks the sender must wait for a
    continuation request (``+``): each chunk but the last ends with a synchronising literal
    marker ``{n}``. With ``literal_plus`` (LITERAL+) every literal is non-synchronising
    (``{n+}``) and there is one chunk; with ``literal_minus`` (LITERAL-) only literals up to
    4096 octets are.

    >>> encode_command(b"A1", Command("LOGIN", (b'"u"', Literal(b"p\\xe4ss"))), literal_plus=False)
    [b'A1 LOGIN "u" {4}\\r\\n', b'p\\xe4ss\\r\\n']
    """
    chunks: list[bytes] = []
    current = [tag, b" ", command.name.encode("ascii")]
    for argument in command.arguments:
        current.append(b" ")
        if isinstance(argument, Literal):
            size = len(argument.data)
            if literal_plus or (literal_minus and size <= 4096):
                current += (b"{%d+}\r\n" % size, argument.data)
            else:
                current.append(b"{%d}\r\n" % size)
                chunks.append(b"".join(current))
                current = [argument.data]
        else:
            current.append(argument)
    current.append(b"\r\n")
    chunks.append(b"".join(current))
    return chunks


def describe_command(tag: bytes, command: Command) -> str:
    """The command as the wire log shows it: literals as ``{n}`` plus their size only, and the
    arguments of sensitive commands (LOGIN, AUTHENTICATE) replaced by ``[redacted]``."""
    head = f"{tag.decode('ascii')} {command.name}"
    if command.sensitive:
        return f"{head} [redacted]" if command.arguments else head
    shown = [head]
    for argument in command.arguments:
        if isinstance(argument, Literal):
            shown.append(f"{{{len(argument.data)}}} [literal: {len(argument.data)} octets]")
        else:
            shown.append(argument.decode("utf-8", "replace"))
    return " ".join(shown)


# --- strings and mailbox names --------------------------------------------------------------


def quote(value: bytes | str) -> bytes:
    """A quoted string (RFC 9051 ``quoted``); ValueError if the value needs a literal.

    >>> quote('say "hi" \\\\o/')
    b'"say \\\\"hi\\\\" \\\\\\\\o/"'
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    if not _is_quotable(data):
        raise ValueError("this string holds CR, LF, NUL or 8-bit octets: send it as a literal")
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def string_argument(value: bytes | str) -> Argument:
    """A string argument (``astring``/``nstring``): quoted when possible, else a literal.

    ValueError for NUL, which neither form can carry (RFC 9051 §4.3).
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    if b"\x00" in data:
        raise ValueError("a string argument cannot contain NUL")
    return quote(data) if _is_quotable(data) else Literal(data)


def _is_quotable(data: bytes) -> bool:
    return data.isascii() and b"\r" not in data and b"\n" not in data and b"\x00" not in data


INBOX = "INBOX"
"""The one mailbox every account has, named in any case (RFC 9051 section 5.1)."""


def is_inbox(name: bytes | str) -> bool:
    """Whether a mailbox name (as listed, decoded or raw) is INBOX: the comparison is
    case-insensitive for INBOX only (RFC 9051 section 5.1), so ``inbox/Jobs`` is not INBOX.

    >>> is_inbox("Inbox"), is_inbox(b"INBOX"), is_inbox("INBOX.Sent"), is_inbox("Inbox ")
    (True, True, False, False)
    """
    return (name.upper() if isinstance(name, str) else name.upper().decode("latin-1")) == INBOX


def encode_mailbox(name: bytes | str) -> bytes:
    """The mailbox name as sent: ``str`` in modified UTF-7, ``bytes`` unchanged, INBOX
    upper-cased (RFC 9051 §5.1: INBOX is case-insensitive).

    >>> encode_mailbox("Entwürfe & Co")
    b'Entw&APw-rfe &- Co'
    """
    raw = imap_utf7.encode(name) if isinstance(name, str) else name
    if not isinstance(raw, bytes):  # pragma: no cover - imapclient returns bytes for str
        raise TypeError("imap_utf7.encode did not return bytes")
    return b"INBOX" if is_inbox(raw) else raw


def mailbox_argument(name: bytes | str) -> Argument:
    """The mailbox as a command argument: always quoted, or a literal for 8-bit names."""
    return string_argument(encode_mailbox(name))


# --- UID sets -------------------------------------------------------------------------------


def compress_uids(uids: Iterable[int]) -> list[str]:
    """Sorted, de-duplicated UIDs as range tokens.

    >>> compress_uids([9, 1, 2, 3, 5, 3])
    ['1:3', '5', '9']
    """
    ordered = sorted(set(uids))
    if ordered and (ordered[0] < 1 or ordered[-1] > UID_MAX):
        raise ValueError(f"UIDs are 1..{UID_MAX}")
    tokens: list[str] = []
    index = 0
    while index < len(ordered):
        start = end = ordered[index]
        index += 1
        while index < len(ordered) and ordered[index] == end + 1:
            end = ordered[index]
            index += 1
        tokens.append(str(start) if start == end else f"{start}:{end}")
    return tokens


def format_uid_set(uids: Iterable[int]) -> str:
    """A compressed UID set: ``format_uid_set([1, 2, 3, 7]) == "1:3,7"``."""
    tokens = compress_uids(uids)
    if not tokens:
        raise ValueError("an empty UID set cannot be sent")
    return ",".join(tokens)


def split_uid_set(uids: Iterable[int], max_length: int) -> list[str]:
    """Compressed UID sets of at most ``max_length`` characters each, in ascending order.

    >>> split_uid_set([1, 3, 5, 7], 3)
    ['1,3', '5,7']
    """
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for token in compress_uids(uids):
        if len(token) > max_length:
            raise ValueError("the command has no room left for a UID set")
        extra = len(token) + (1 if current else 0)
        if current and length + extra > max_length:
            chunks.append(",".join(current))
            current, length, extra = [], 0, len(token)
        current.append(token)
        length += extra
    if current:
        chunks.append(",".join(current))
    return chunks


def check_uid_set(text: str) -> str:
    """A UID set given as text (``"1:*"``, ``"5:4294967295"``, ``"1,3:5"``), checked."""
    if not _UID_SET.match(text):
        raise ValueError(f"not a UID set: {text!r}")
    return text


# --- commands -------------------------------------------------------------------------------


def capability() -> Command:
    return Command("CAPABILITY")


def noop() -> Command:
    return Command("NOOP")


def logout() -> Command:
    return Command("LOGOUT")


def starttls() -> Command:
    return Command("STARTTLS")


def idle() -> Command:
    """IDLE (RFC 2177); end it by sending the line ``DONE``."""
    return Command("IDLE")


IDLE_DONE = b"DONE\r\n"


def login(username: str, password: str) -> Command:
    """LOGIN with both arguments quoted, or as literals when they hold 8-bit text."""
    return Command("LOGIN", (string_argument(username), string_argument(password)), sensitive=True)


def sasl_plain(username: str, password: str) -> bytes:
    """The base64 SASL PLAIN response (RFC 4616): NUL authcid NUL password, in UTF-8."""
    message = b"\x00" + username.encode("utf-8") + b"\x00" + password.encode("utf-8")
    return base64.b64encode(message)


def authenticate_plain(username: str, password: str, *, initial_response: bool) -> Command:
    """AUTHENTICATE PLAIN; with ``initial_response`` (SASL-IR, RFC 4959) the credentials go
    on the command line, otherwise send ``sasl_plain(...)`` after the server's ``+``."""
    arguments: tuple[Argument, ...] = (b"PLAIN",)
    if initial_response:
        arguments += (sasl_plain(username, password),)
    return Command("AUTHENTICATE", arguments, sensitive=True)


def enable(extensions: Sequence[str]) -> Command:
    """ENABLE (RFC 5161), e.g. ``ENABLE QRESYNC``."""
    return Command("ENABLE", tuple(_atom(extension) for extension in extensions))


def id_command(fields: Mapping[str, str]) -> Command:
    """ID (RFC 2971): ``ID ("name" "postroom" "version" "1.0")``, no spaces inside the
    parentheses (strict servers reject ``ID ( "name" ... )``), or ``ID NIL``."""
    if not fields:
        return Command("ID", (b"NIL",))
    items: list[bytes] = []
    for key, value in fields.items():
        if len(key.encode("utf-8")) > 30 or len(value.encode("utf-8")) > 1024:
            raise ValueError("ID field names are at most 30 octets, values at most 1024")
        items += (quote(key), quote(value))
    return Command("ID", (b"(" + b" ".join(items) + b")",))


def list_folders(*, special_use: bool, status: Sequence[str] = ()) -> Command:
    """``LIST "" "*"``, with ``RETURN (SPECIAL-USE)`` (RFC 6154) and ``RETURN (STATUS
    (...))`` (RFC 5819 LIST-STATUS) when asked for.

    >>> list_folders(special_use=True, status=["MESSAGES", "UNSEEN"]).arguments[-1]
    b'RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))'
    """
    arguments: tuple[Argument, ...] = (b'""', b'"*"')
    options = [b"SPECIAL-USE"] if special_use else []
    if status:
        options.append(b"STATUS (" + b" ".join(_atom(item.upper()) for item in status) + b")")
    if options:
        arguments += (b"RETURN (" + b" ".join(options) + b")",)
    return Command("LIST", arguments)


def examine(
    mailbox: bytes | str, *, condstore: bool = False, qresync: tuple[int, int] | None = None
) -> Command:
    """EXAMINE (read-only SELECT), with ``(CONDSTORE)`` (RFC 7162 §3.1.8) or
    ``(QRESYNC (uidvalidity modseq))`` (§3.2.5)."""
    arguments: tuple[Argument, ...] = (mailbox_argument(mailbox),)
    if qresync is not None:
        uidvalidity, modseq = qresync
        if not (0 < uidvalidity <= UID_MAX and modseq > 0):
            raise ValueError("QRESYNC needs a non-zero uidvalidity and modseq")
        arguments += (b"(QRESYNC (%d %d))" % (uidvalidity, modseq),)
    elif condstore:
        arguments += (b"(CONDSTORE)",)
    return Command("EXAMINE", arguments)


STATUS_ITEMS: Mapping[str, str | None] = {
    "MESSAGES": None,
    "RECENT": None,
    "UIDNEXT": None,
    "UIDVALIDITY": None,
    "UNSEEN": None,
    "DELETED": None,
    "HIGHESTMODSEQ": "CONDSTORE",
    "SIZE": "STATUS=SIZE",
    "APPENDLIMIT": "APPENDLIMIT",
    "MAILBOXID": "OBJECTID",
}
"""STATUS items we know, with the capability each needs (None: IMAP4rev1)."""


def status(mailbox: bytes | str, items: Sequence[str]) -> Command:
    """STATUS mailbox (items...); items must be among ``STATUS_ITEMS``."""
    names = [item.upper() for item in items]
    unknown = [name for name in names if name not in STATUS_ITEMS]
    if unknown or not names:
        raise ValueError(f"unknown or no STATUS items: {unknown}")
    return Command(
        "STATUS", (mailbox_argument(mailbox), b"(" + " ".join(names).encode("ascii") + b")")
    )


def uid_search(criteria: str, *, esearch: bool) -> Command:
    """``UID SEARCH RETURN (ALL) <criteria>`` (ESEARCH, RFC 4731) or ``UID SEARCH <criteria>``.

    ``criteria`` is search-key text as the RFC writes it (``UID 1:500 SINCE 1-Jan-2026``);
    it must be printable ASCII on one line.
    """
    text = criteria.strip().encode("ascii", "strict") if criteria.isascii() else None
    if not text or not _ATOM_TEXT.match(text.replace(b" ", b"!")):
        raise ValueError("search criteria must be non-empty printable ASCII on one line")
    arguments: tuple[Argument, ...] = (b"RETURN (ALL)", text) if esearch else (text,)
    command = Command("UID SEARCH", arguments)
    if command.line_length() > MAX_LINE:
        raise ValueError(f"the search command would be longer than {MAX_LINE} octets")
    return command


SEARCH_FIELDS = frozenset({"FROM", "TO", "CC", "BCC", "SUBJECT", "BODY", "TEXT"})
"""The search keys ``uid_search_words`` may look in (RFC 9051 section 6.4.4)."""
MAX_SEARCH_WORDS = 8
MAX_SEARCH_WORD = 200


def uid_search_words(words: Sequence[str], fields: Sequence[str], *, esearch: bool) -> Command:
    """``UID SEARCH`` for messages with every one of ``words`` in one of ``fields``: per word
    an ``OR`` chain (``OR OR FROM w TO w SUBJECT w``), the words ANDed. Words are strings
    (quoted, or literals when not 7-bit), with ``CHARSET UTF-8`` when any is not ASCII.

    >>> command = uid_search_words(["anna"], ["FROM", "SUBJECT"], esearch=False)
    >>> encode_command(b"A1", command, literal_plus=True)
    [b'A1 UID SEARCH OR FROM "anna" SUBJECT "anna"\\r\\n']
    """
    wanted = [w for w in words if w][:MAX_SEARCH_WORDS]
    unknown = [f for f in fields if f.upper() not in SEARCH_FIELDS]
    if not wanted or not fields or unknown:
        raise ValueError(f"nothing to search, or fields not searchable: {unknown}")
    if any(len(w) > MAX_SEARCH_WORD or "\r" in w or "\n" in w for w in wanted):
        raise ValueError(f"a search word is longer than {MAX_SEARCH_WORD} or holds a line break")
    arguments: list[Argument] = [b"RETURN (ALL)"] if esearch else []
    if not all(w.isascii() for w in wanted):
        arguments += [b"CHARSET", b"UTF-8"]
    for word in wanted:
        arguments += [b"OR"] * (len(fields) - 1)
        for name in fields:
            arguments += [_atom(name.upper()), string_argument(word.encode("utf-8"))]
    return Command("UID SEARCH", tuple(arguments))


#: FETCH items that need a capability (the prefix of the item, upper case).
_FETCH_ITEM_CAPABILITIES: Mapping[str, str] = {
    "MODSEQ": "CONDSTORE",
    "EMAILID": "OBJECTID",
    "THREADID": "OBJECTID",
    "X-GM-MSGID": "X-GM-EXT-1",
    "X-GM-THRID": "X-GM-EXT-1",
    "X-GM-LABELS": "X-GM-EXT-1",
    "BINARY.PEEK[": "BINARY",
    "BINARY.SIZE[": "BINARY",
    "PREVIEW": "PREVIEW",
}
_SEEN_SETTING = re.compile(r"^(?:BODY\[|BINARY\[|RFC822(?:\.TEXT)?$)")


def check_fetch_items(items: Sequence[str]) -> list[str]:
    """The FETCH items, upper-cased keywords, checked: ValueError for an item that would set
    ``\\Seen`` (``BODY[...]``, ``BINARY[...]``, ``RFC822``, ``RFC822.TEXT``) or that is not
    one line of printable ASCII."""
    checked: list[str] = []
    for item in items:
        text = item.strip()
        if not text or not text.isascii() or not _ATOM_TEXT.match(text.replace(" ", "!").encode()):
            raise ValueError(f"not a FETCH item: {item!r}")
        if _SEEN_SETTING.match(text.upper()):
            raise ValueError(
                f"{item!r} would mark the message \\Seen: use BODY.PEEK[...] / BINARY.PEEK[...]"
            )
        checked.append(text)
    if not checked:
        raise ValueError("no FETCH items")
    return checked


def required_capabilities(items: Iterable[str]) -> set[str]:
    """The capabilities the FETCH items need (``{"CONDSTORE"}`` for MODSEQ, ...)."""
    needed: set[str] = set()
    for item in items:
        upper = item.upper()
        for prefix, capability_name in _FETCH_ITEM_CAPABILITIES.items():
            if upper == prefix or (prefix.endswith("[") and upper.startswith(prefix)):
                needed.add(capability_name)
    return needed


def build_uid_fetch(
    uids: Sequence[int] | str,
    items: Sequence[str],
    *,
    changedsince: int | None = None,
    vanished: bool = False,
    max_line: int = MAX_LINE,
) -> list[Command]:
    """``UID FETCH <set> (<items>) [(CHANGEDSINCE m [VANISHED])]`` commands, each line at
    most ``max_line`` octets: a long UID list is split over several commands. A ``str`` set
    (``"1:*"``) is sent as one command, as it is. An empty UID list gives no command.

    ``VANISHED`` (RFC 7162 §3.2.6) needs ``changedsince``.
    """
    checked = check_fetch_items(items)
    if vanished and changedsince is None:
        raise ValueError("VANISHED needs CHANGEDSINCE")
    tail: list[Argument] = [("(" + " ".join(checked) + ")").encode("ascii")]
    if changedsince is not None:
        if changedsince < 0:
            raise ValueError("CHANGEDSINCE is a mod-sequence, not negative")
        modifier = b"(CHANGEDSINCE %d%s)" % (changedsince, b" VANISHED" if vanished else b"")
        tail.append(modifier)
    if isinstance(uids, str):
        command = Command("UID FETCH", (check_uid_set(uids).encode("ascii"), *tail))
        if command.line_length() > max_line:
            raise ValueError(f"the UID FETCH line would be longer than {max_line} octets")
        return [command]
    room = max_line - Command("UID FETCH", (b"", *tail)).line_length()
    return [
        Command("UID FETCH", (uid_set.encode("ascii"), *tail))
        for uid_set in split_uid_set(uids, room)
    ]


# --- commands that change a mailbox (imap.writing, the mail client only) ----------------------


SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
"""The system flags a client may set and clear (RFC 9051 §2.3.2), in their RFC spelling.
``\\Recent`` (RFC 3501) is the server's own and ``\\*`` only appears in PERMANENTFLAGS."""

_SYSTEM_FLAGS = {flag.lower(): flag for flag in SYSTEM_FLAGS}


def check_flags(flags: Iterable[str]) -> list[str]:
    """Flags to store or append, checked: a system flag in any case becomes its RFC spelling
    (``\\seen`` -> ``\\Seen``), a keyword (``$Forwarded``, ``$Label1``, ``NonJunk``) must be an
    atom (RFC 9051 ``flag-keyword``); duplicates (in any case) are dropped, the order kept.
    ValueError for any other ``\\`` flag (``\\Recent``, ``\\*``...) and for a keyword with a
    space, bracket, brace, quote, backslash, ``%``, ``*``, control or 8-bit character.

    >>> check_flags(["\\\\seen", "$Forwarded", "\\\\Seen", "$forwarded"])
    ['\\\\Seen', '$Forwarded']
    """
    checked: list[str] = []
    seen: set[str] = set()
    for flag in flags:
        if flag.startswith("\\"):
            spelled = _SYSTEM_FLAGS.get(flag.lower())
            if spelled is None:
                allowed = " ".join(SYSTEM_FLAGS)
                raise ValueError(f"not a flag a client may set: {flag!r} (system flags: {allowed})")
        else:
            data = flag.encode("ascii") if flag.isascii() else b""
            if not data or not _ATOM_TEXT.match(data) or any(c in data for c in _ATOM_SPECIALS):
                raise ValueError(f"not a keyword (an atom): {flag!r}")
            spelled = flag
        if spelled.lower() not in seen:
            seen.add(spelled.lower())
            checked.append(spelled)
    return checked


def _flag_list(flags: Sequence[str]) -> bytes:
    return ("(" + " ".join(flags) + ")").encode("ascii")


def select(mailbox: bytes | str) -> Command:
    """SELECT (RFC 9051 §6.3.2): open a folder read-write. For the mail client only; the sync
    opens folders with ``examine``."""
    return Command("SELECT", (mailbox_argument(mailbox),))


def build_uid_store(
    uids: Sequence[int],
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    max_line: int = MAX_LINE,
) -> list[Command]:
    """``UID STORE <set> +FLAGS.SILENT (...)`` for the flags to ``add``, then
    ``UID STORE <set> -FLAGS.SILENT (...)`` for those to ``remove`` (``check_flags``), each
    line at most ``max_line`` octets (a long UID list is split). No UIDs or no flags: no
    command. ValueError for a flag in both lists.

    >>> for command in build_uid_store([4, 5], add=["\\\\Seen"], remove=["\\\\Flagged"]):
    ...     print(encode_command(b"A1", command, literal_plus=True)[0])
    b'A1 UID STORE 4:5 +FLAGS.SILENT (\\\\Seen)\\r\\n'
    b'A1 UID STORE 4:5 -FLAGS.SILENT (\\\\Flagged)\\r\\n'
    """
    added, removed = check_flags(add), check_flags(remove)
    both = {flag.lower() for flag in added} & {flag.lower() for flag in removed}
    if both:
        raise ValueError(f"flags both added and removed: {sorted(both)}")
    built: list[Command] = []
    for operation, flags in ((b"+FLAGS.SILENT", added), (b"-FLAGS.SILENT", removed)):
        if flags:
            built += _split_by_uids("UID STORE", uids, (operation, _flag_list(flags)), max_line)
    return built


def build_uid_copy(
    uids: Sequence[int], mailbox: bytes | str, *, max_line: int = MAX_LINE
) -> list[Command]:
    """``UID COPY <set> mailbox`` commands (RFC 9051 §6.4.9), a long UID list split."""
    return _split_by_uids("UID COPY", uids, (mailbox_argument(mailbox),), max_line)


def build_uid_move(
    uids: Sequence[int], mailbox: bytes | str, *, max_line: int = MAX_LINE
) -> list[Command]:
    """``UID MOVE <set> mailbox`` commands (RFC 6851; needs MOVE), a long UID list split."""
    return _split_by_uids("UID MOVE", uids, (mailbox_argument(mailbox),), max_line)


def build_uid_expunge(uids: Sequence[int], *, max_line: int = MAX_LINE) -> list[Command]:
    """``UID EXPUNGE <set>`` commands (RFC 4315 §2.1; needs UIDPLUS): expunge exactly these
    UIDs among the ``\\Deleted`` messages, never the others. A long UID list is split."""
    return _split_by_uids("UID EXPUNGE", uids, (), max_line)


def _split_by_uids(
    name: str, uids: Sequence[int], tail: tuple[Argument, ...], max_line: int
) -> list[Command]:
    room = max_line - Command(name, (b"", *tail)).line_length()
    return [
        Command(name, (uid_set.encode("ascii"), *tail)) for uid_set in split_uid_set(uids, room)
    ]


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_internaldate(value: dt.datetime) -> bytes:
    """An INTERNALDATE as APPEND takes it (RFC 9051 ``date-time``, quoted), in the datetime's
    own UTC offset; seconds are the finest unit. ValueError for a naive datetime or an offset
    that is not whole minutes.

    >>> format_internaldate(dt.datetime(2026, 3, 7, 9, 5, 1, tzinfo=dt.timezone.utc))
    b'" 7-Mar-2026 09:05:01 +0000"'
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("an INTERNALDATE needs a timezone (an aware datetime)")
    seconds = int(offset.total_seconds())
    if seconds % 60 or offset.microseconds:
        raise ValueError("an INTERNALDATE's UTC offset must be whole minutes")
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    text = (
        f'"{value.day:2d}-{_MONTHS[value.month - 1]}-{value.year:04d} '
        f'{value.hour:02d}:{value.minute:02d}:{value.second:02d} {sign}{hours:02d}{minutes:02d}"'
    )
    return text.encode("ascii")


def append(
    mailbox: bytes | str,
    message: bytes,
    *,
    flags: Sequence[str] = (),
    internaldate: dt.datetime | None = None,
) -> Command:
    """``APPEND mailbox [(flags)] ["date-time"] {n}`` + the message as a literal (RFC 9051
    §6.3.12). The message is sent byte for byte: give it CRLF line ends. ValueError for an
    empty message, one holding NUL (that needs BINARY, RFC 3516), or a bad flag or date."""
    if not message:
        raise ValueError("an empty message cannot be appended")
    if b"\x00" in message:
        raise ValueError("a message holding NUL cannot be sent as a literal (RFC 3516 BINARY)")
    arguments: list[Argument] = [mailbox_argument(mailbox)]
    checked = check_flags(flags)
    if checked:
        arguments.append(_flag_list(checked))
    if internaldate is not None:
        arguments.append(format_internaldate(internaldate))
    arguments.append(Literal(message))
    return Command("APPEND", tuple(arguments))


_ATOM_SPECIALS = b'(){%*"\\]'


def _atom(word: str) -> bytes:
    data = word.encode("ascii")
    if not data or not _ATOM_TEXT.match(data) or any(c in data for c in _ATOM_SPECIALS):
        raise ValueError(f"not an atom: {word!r}")
    return data


__all__ = [
    "IDLE_DONE",
    "INBOX",
    "MAX_LINE",
    "STATUS_ITEMS",
    "SYSTEM_FLAGS",
    "UID_MAX",
    "Argument",
    "Command",
    "Literal",
    "append",
    "authenticate_plain",
    "build_uid_copy",
    "build_uid_expunge",
    "build_uid_fetch",
    "build_uid_move",
    "build_uid_store",
    "capability",
    "check_fetch_items",
    "check_flags",
    "check_uid_set",
    "compress_uids",
    "describe_command",
    "enable",
    "encode_command",
    "encode_mailbox",
    "examine",
    "format_internaldate",
    "format_uid_set",
    "id_command",
    "idle",
    "is_inbox",
    "list_folders",
    "login",
    "logout",
    "mailbox_argument",
    "noop",
    "quote",
    "sasl_plain",
    "select",
    "split_uid_set",
    "starttls",
    "status",
    "string_argument",
    "uid_search",
]
