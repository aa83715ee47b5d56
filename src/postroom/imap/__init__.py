"""IMAP for the sync engine and the mail client: our own thin asyncio framing plus
``imapclient.response_parser``.

No database, no services: an import-linter contract keeps ``sqlalchemy``, ``postroom.store``,
``postroom.services`` and ``postroom.cli`` out of this package.

Modules, bottom up::

    errors       the ImapError subtree (retryable, advice)
    limits       Limits: the time and memory bounds of a command and a response
    framing      bytes -> RawResponse (lines + literals), pure
    commands     typed arguments -> command octets (quoting, UTF-7 names, UID sets), pure
    lexer        imapclient's response values, by one regular expression (its fast path), pure
    responses    RawResponse -> typed results and events, over imapclient, pure
    connection   asyncio stream: tags, continuations, inactivity timer, wire log
    client       ImapClient + ServerAddress: the API the sync engine uses, read-only
    writing      MailboxClient(ImapClient): SELECT, UID STORE/COPY/MOVE/EXPUNGE, APPEND;
                 the only module that changes a mailbox, used by the mail client only

The public API::

    client = await ImapClient.connect(ServerAddress(host, 993, TlsMode.IMPLICIT))
    await client.login(username, password)
    await client.enable("QRESYNC")                       # if client.has("QRESYNC")
    folders = await client.list_folders()                # [Folder(name, name_raw, ...)]
    box = await client.examine("INBOX", qresync=(uidvalidity, highestmodseq))
    uids = await client.uid_search("UID 1:4294967295")
    items = await client.uid_fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (FROM TO)]"])
    events = await client.idle(max_seconds=25 * 60)      # [Exists(...), Vanished(...), ...]
    await client.logout()

The mail client's connection adds the writes, each on the user's own action::

    from postroom.imap.writing import MailboxClient      # not re-exported here: see below
    client = await MailboxClient.connect(address)       # then login() as above
    box = await client.select("INBOX")                   # read-write
    await client.uid_store([7], add=["\\Seen"], remove=["\\Flagged"])
    new_uids = await client.uid_move([7], "Archive")     # {7: 412}, from COPYUID
    uid = await client.append("Drafts", raw, flags=["\\Draft"])

``ImapClient`` is read-only by construction (EXAMINE, BODY.PEEK; no STORE, COPY, MOVE,
EXPUNGE or APPEND); ``MailboxClient`` in ``writing`` adds the writes. The import-linter
contract "The sync engine never changes a mailbox" keeps ``postroom.sync`` and
``postroom.pipeline`` from importing ``postroom.imap.writing``, directly or indirectly. That is
why this package does not re-export ``MailboxClient``: the sync engine imports this package,
and an import of it from here would be invisible to the contract.
Nothing is sent that the server did not advertise. The wire trace is logger
``postroom.imap.wire`` at DEBUG, credentials redacted and literals (message bodies) by size.
"""

from postroom.imap.client import (
    DEFAULT_WAKE,
    ImapClient,
    ServerAddress,
    TlsMode,
    default_ssl_context,
)
from postroom.imap.commands import INBOX, UID_MAX, is_inbox
from postroom.imap.errors import (
    AuthFailed,
    CapabilityMissing,
    CommandFailed,
    CommandTimedOut,
    ConnectFailed,
    ConnectionLost,
    FolderMissing,
    ImapError,
    LimitExceeded,
    PlaintextRefused,
    ProtocolError,
    TlsFailed,
    is_retryable_code,
)
from postroom.imap.limits import DEFAULT_LIMITS, Limits
from postroom.imap.responses import (
    Bye,
    Exists,
    Expunge,
    FetchItem,
    FlagsChanged,
    Folder,
    SelectedFolder,
    StatusUpdate,
    Unknown,
    UntaggedEvent,
    Vanished,
    is_selectable,
    section_key,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_WAKE",
    "INBOX",
    "UID_MAX",
    "AuthFailed",
    "Bye",
    "CapabilityMissing",
    "CommandFailed",
    "CommandTimedOut",
    "ConnectFailed",
    "ConnectionLost",
    "Exists",
    "Expunge",
    "FetchItem",
    "FlagsChanged",
    "Folder",
    "FolderMissing",
    "ImapClient",
    "ImapError",
    "LimitExceeded",
    "Limits",
    "PlaintextRefused",
    "ProtocolError",
    "SelectedFolder",
    "ServerAddress",
    "StatusUpdate",
    "TlsFailed",
    "TlsMode",
    "Unknown",
    "UntaggedEvent",
    "Vanished",
    "default_ssl_context",
    "is_inbox",
    "is_retryable_code",
    "is_selectable",
    "section_key",
]
