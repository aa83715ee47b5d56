"""``imap.lexer`` against a real Dovecot's answers: every FETCH response for the shared corpus
and generated mail takes the fast path and gives exactly imapclient's values.

The unit tests (tests/unit/imap/test_lexer.py) cover the odd cases; this proves the fast path
is the one a sync takes, for the items it asks for, on real BODYSTRUCTUREs and header blocks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from benchmarks import mailgen

from postroom.imap import ImapClient, ServerAddress, TlsMode
from postroom.imap.framing import RawResponse
from postroom.imap.lexer import read_fetch
from postroom.imap.responses import data_records
from tests.support import mailbox
from tests.support.dovecot import DovecotServer, MailUser
from tests.unit.imap.test_lexer import assert_same_fetch

ITEM_SETS = [
    # the header batch of a sync, and what the web client will ask for
    ["UID", "INTERNALDATE", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT)]"],
    ["UID", "FLAGS", "MODSEQ", "X-GUID", "BODYSTRUCTURE"],
    ["UID", "BODY.PEEK[1]<0.2048>", "BODY.PEEK[HEADER]"],
]


def corpus_messages(corpus_dir: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((corpus_dir / "mail").rglob("*.eml"))]


async def fetch_all(server: DovecotServer, user: MailUser, items: list[str]) -> list[RawResponse]:
    address = ServerAddress(server.host, server.port, TlsMode.PLAIN, allow_plaintext=True)
    async with await ImapClient.connect(address) as client:
        await client.login(user.username, user.password)
        await client.examine("INBOX")
        uids = await client.uid_search("ALL")
        return list(await client.uid_fetch_raw(uids, items))


@pytest.mark.parametrize("items", ITEM_SETS, ids=["headers", "structure", "texts"])
def test_real_fetch_responses_take_the_fast_path_with_imapclients_values(
    dovecot: DovecotServer, mail_user: MailUser, corpus_dir: Path, items: list[str]
) -> None:
    raws = corpus_messages(corpus_dir)
    raws += [message.raw for message in mailgen.generate(200, seed=3)]
    mailbox.fill_maildir(mail_user, "INBOX", raws)
    responses = asyncio.run(fetch_all(dovecot, mail_user, items))
    assert len(responses) == len(raws)
    for response in responses:
        records, seq = data_records(response), response.number or 0
        assert read_fetch(seq, records) is not None, response
        assert_same_fetch(seq, records)
