"""Benchmark: ``parse_headers`` on IMAP header blocks, against the stdlib and the old parser.

    .venv/bin/python -m benchmarks.header_parse [--messages 5000] [--rounds 7]

Generates realistic messages (benchmarks/mailgen.py) and cuts from each the block an IMAP
server returns for ``BODY.PEEK[HEADER.FIELDS (FROM TO ... CONTENT-TYPE)]`` (the fields a first
sync fetches, CRLF line ends, a blank line at the end). Then, in the same run and interleaved
(the machine is shared and noisy; the best round of each counts), it times per message:

* stdlib: ``BytesHeaderParser(policy=compat32)`` plus ``getaddresses`` over the address fields,
  the least any stdlib-based parser does;
* old: ``parse_headers`` as it was before its fast paths (the copy kept as the test oracle in
  tests/unit/mail/test_parse_fast.py);
* new: ``postroom.mail.parse.parse_headers``, its address cache emptied before each round, so
  every round is a first sync of these messages.

It prints microseconds per message of each and the ratios (target: new at least 3x faster than
old), and checks that old and new give the same Headers for every block.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from tests.unit.mail.test_parse_fast import (
    FETCHED_FIELDS,
    header_fields_block,
    old_parse_headers,
)

from benchmarks import mailgen
from postroom.mail import parse

ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")
_HEADER_PARSER = BytesHeaderParser(policy=compat32)


def stdlib_reference(raw: bytes) -> object:
    msg = _HEADER_PARSER.parsebytes(raw)
    return [getaddresses(msg.get_all(name, [])) for name in ADDRESS_FIELDS]


def time_round(parser: Callable[[bytes], object], blocks: list[bytes]) -> float:
    """Seconds for one pass of ``parser`` over ``blocks``."""
    start = time.perf_counter()
    for block in blocks:
        parser(block)
    return time.perf_counter() - start


def python_speed(messages: int = 2_000, rounds: int = 5) -> float:
    """Microseconds ``parse_headers`` takes a message here, best of ``rounds``: how fast this
    machine runs Python right now. The first sync's ratio to a raw pull moves with it (the raw
    pull is mostly Dovecot's C), so the first-sync benchmark prints it beside its figures."""
    contacts = mailgen.contact_addresses(max(10, messages // 20))
    blocks = [
        header_fields_block(g.raw, FETCHED_FIELDS)
        for g in mailgen.generate(messages, seed=3, contacts=contacts)
    ]
    best = float("inf")
    for _ in range(rounds):
        parse._parse_address_texts.cache_clear()
        best = min(best, time_round(parse.parse_headers, blocks))
    return best / len(blocks) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(f"generating {args.messages} messages ...", flush=True)
    contacts = mailgen.contact_addresses(max(10, args.messages // 20))
    blocks = [
        header_fields_block(g.raw, FETCHED_FIELDS)
        for g in mailgen.generate(args.messages, seed=args.seed, contacts=contacts)
    ]
    size = sum(len(b) for b in blocks) / len(blocks)
    print(f"  {len(blocks)} header blocks, {size:.0f} bytes on average")

    wrong = sum(1 for b in blocks if repr(old_parse_headers(b)) != repr(parse.parse_headers(b)))
    if wrong:
        print(f"WRONG RESULT: {wrong} blocks give other Headers than before", file=sys.stderr)
        return 1

    best = {"stdlib": float("inf"), "old": float("inf"), "new": float("inf")}
    for _ in range(args.rounds):
        best["stdlib"] = min(best["stdlib"], time_round(stdlib_reference, blocks))
        best["old"] = min(best["old"], time_round(old_parse_headers, blocks))
        parse._parse_address_texts.cache_clear()
        best["new"] = min(best["new"], time_round(parse.parse_headers, blocks))

    per_message = {name: seconds / len(blocks) * 1e6 for name, seconds in best.items()}
    print(f"stdlib  BytesHeaderParser + getaddresses  {per_message['stdlib']:6.1f} µs/message")
    print(f"old     parse_headers before             {per_message['old']:6.1f} µs/message")
    print(f"new     parse_headers                    {per_message['new']:6.1f} µs/message")
    print(
        f"ratio   old/new {per_message['old'] / per_message['new']:.2f} (target >= 3), "
        f"stdlib/new {per_message['stdlib'] / per_message['new']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
