"""Benchmark: the message-to-activity pipeline into SQLite, against `email.message_from_bytes`.

    .venv/bin/python -m benchmarks.pipeline [--messages 20000] [--batch 500]

Generates realistic messages (benchmarks/mailgen.py: multipart, HTML, attachments, several
charsets, a third to or from record addresses), then in the same run times:

* the baseline: ``email.message_from_bytes(raw)`` over every message (timed twice, before and
  after the pipeline, and averaged: the machine is shared and noisy);
* the pipeline: parse, classify, match, text for matching messages, and the insert of
  messages, participants and activities into a fresh SQLite database, one transaction per batch.

It prints both rates and their ratio (target: at least 0.3), and checks the result: every
generated message to or from a record has exactly one activity.
"""

from __future__ import annotations

import argparse
import email
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from benchmarks import mailgen
from benchmarks.database import create_database
from postroom.errors import MessageParseError
from postroom.mail import extract_body, parse_message_head
from postroom.pipeline import (
    facts_from_parsed,
    load_context,
    prepare_batch,
    record_batch,
)
from postroom.store.models import (
    Activity,
    MailMessage,
    Person,
)


def time_baseline(raws: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in raws:
        email.message_from_bytes(raw)
    return time.perf_counter() - start


def set_up_database(path: Path, contacts: list[tuple[str, str]]) -> tuple[object, int]:
    return create_database(
        f"sqlite:///{path}", owner=mailgen.OWNER, username=mailgen.OWNER, contacts=contacts
    )


def time_pipeline(raws: list[bytes], sessions: object, account_id: int, batch: int) -> float:
    start = time.perf_counter()
    for first in range(0, len(raws), batch):
        with sessions.begin() as session:  # type: ignore[attr-defined]
            context = load_context(session=session, account_id=account_id)
            parsed = []
            for raw in raws[first : first + batch]:
                try:
                    parsed.append(parse_message_head(raw))
                except MessageParseError:
                    continue
            prepared = prepare_batch(
                session=session, context=context, facts=[facts_from_parsed(p) for p in parsed]
            )
            bodies = {
                i: extract_body(parsed[i].mime) for i, p in enumerate(prepared) if p.needs_body
            }
            record_batch(session=session, context=context, prepared=prepared, bodies=bodies)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    contacts = mailgen.contact_addresses(max(10, args.messages // 20))
    print(f"generating {args.messages} messages ...", flush=True)
    generated = list(mailgen.generate(args.messages, contacts=contacts))
    raws = [g.raw for g in generated]
    size = sum(len(r) for r in raws)
    print(f"  {size / 1e6:.1f} MB, {sum(1 for g in generated if g.contact)} to or from records")

    with tempfile.TemporaryDirectory() as folder:
        sessions, account_id = set_up_database(Path(folder) / "bench.db", contacts)
        before = time_baseline(raws)
        pipeline = time_pipeline(raws, sessions, account_id, args.batch)
        after = time_baseline(raws)
        with sessions.begin() as session:  # type: ignore[attr-defined]
            activities = session.scalar(select(func.count()).select_from(Activity))
            messages = session.scalar(select(func.count()).select_from(MailMessage))
            people = session.scalar(select(func.count()).select_from(Person))

    expected = sum(1 for g in generated if g.contact and not g.is_bulk)
    baseline = (before + after) / 2
    n = len(raws)
    print(f"baseline  email.message_from_bytes  {n / baseline:8.0f} msg/s", end="  ")
    print(f"({before:.2f} s, {after:.2f} s)")
    print(f"pipeline  parse+match+text+SQLite   {n / pipeline:8.0f} msg/s  ({pipeline:.2f} s)")
    print(f"ratio     {baseline / pipeline:.2f}  (target >= 0.30)")
    print(f"stored    {messages} messages, {activities} activities for {people} records")
    if activities != expected or messages != n:
        print(f"WRONG RESULT: expected {expected} activities and {n} messages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
