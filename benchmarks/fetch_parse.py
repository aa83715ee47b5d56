"""Benchmark: reading a first sync's FETCH responses, ``imap.lexer`` against imapclient.

    .venv/bin/python -m benchmarks.fetch_parse [--messages 3000] [--rounds 7]

A private Dovecot (tests/support/dovecot.py, run as root) gets ``--messages`` generated
messages (benchmarks/mailgen.py). Their FETCH responses are taken raw, as a first sync takes
them (``ImapClient.uid_fetch_raw``):

* headers: ``UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (...)]`` (sync/folder.py);
* structure: ``UID BODYSTRUCTURE``;
* text: ``UID BODY.PEEK[1]<0.262144>``.

Then, in the same run and interleaved (the machine is shared and noisy; the best round of each
counts), each kind is read into imapclient's values both ways: ``imap.lexer.read_fetch`` and
imapclient's own ``parse_fetch_response``. It prints microseconds per response of each and
imapclient's time over the lexer's, and checks that both give the same values.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.support import mailbox
from tests.support.dovecot import DovecotServer, MailUser
from tests.unit.imap.test_lexer import canonical

from benchmarks import mailgen
from postroom.imap import ImapClient, ServerAddress, TlsMode
from postroom.imap.framing import Part, RawResponse
from postroom.imap.lexer import read_fetch
from postroom.imap.responses import data_records, imapclient_fetch
from postroom.sync.folder import HEADER_ITEM

KINDS = {
    "headers": ["UID", "INTERNALDATE", "RFC822.SIZE", HEADER_ITEM],
    "structure": ["UID", "BODYSTRUCTURE"],
    "text": ["UID", "BODY.PEEK[1]<0.262144>"],
}

Response = tuple[int, list[Part]]


async def fetch_kinds(server: DovecotServer, user: MailUser) -> dict[str, list[Response]]:
    address = ServerAddress(server.host, server.port, TlsMode.PLAIN, allow_plaintext=True)
    async with await ImapClient.connect(address) as client:
        await client.login(user.username, user.password)
        await client.examine("INBOX")
        uids = await client.uid_search("ALL")
        kinds: dict[str, list[Response]] = {}
        for kind, items in KINDS.items():
            raw: list[RawResponse] = await client.uid_fetch_raw(uids, items)
            kinds[kind] = [(r.number or 0, data_records(r)) for r in raw]
        return kinds


def with_lexer(seq: int, records: list[Part]) -> dict[bytes, Any]:
    data = read_fetch(seq, records)
    if data is None:
        raise RuntimeError(f"the fast path declined a sync's response: {records[0]!r}")
    return data


def best_of(
    rounds: int, responses: list[Response], ways: dict[str, Callable[..., Any]]
) -> dict[str, float]:
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            for seq, records in responses:
                way(seq, records)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("runs a private Dovecot: run as root, as the tests do", file=sys.stderr)
        return 2
    with DovecotServer() as server:
        user = server.add_user()
        raws = [message.raw for message in mailgen.generate(args.messages, seed=4)]
        mailbox.fill_maildir(user, "INBOX", raws)
        kinds = asyncio.run(fetch_kinds(server, user))
    ways = {"imapclient": imapclient_fetch, "lexer": with_lexer}
    wrong = 0
    for kind, responses in kinds.items():
        wrong += sum(
            canonical(imapclient_fetch(*r)) != canonical(with_lexer(*r)) for r in responses
        )
        best = best_of(args.rounds, responses, ways)
        per = {name: seconds / len(responses) * 1e6 for name, seconds in best.items()}
        print(
            f"{kind:9}  {len(responses)} responses  imapclient {per['imapclient']:6.1f} µs"
            f"  lexer {per['lexer']:5.1f} µs  ratio {per['imapclient'] / per['lexer']:.1f}x"
        )
    if wrong:
        print(f"WRONG: {wrong} responses read differently", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
