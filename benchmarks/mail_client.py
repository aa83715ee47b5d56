"""Benchmark: the mail client's pages against the bare IMAP work they need, on a big folder.

    .venv/bin/python -m benchmarks.mail_client [--messages 20000] [--small 200] [--requests 30]

A private Dovecot (tests/support/dovecot.py) gets an INBOX of ``--messages`` generated
messages (benchmarks/mailgen.py: multipart, HTML, attachments, several charsets) and a folder
``Small`` of ``--small``, plus a few more folders. Robin's account on it is added to a fresh
SQLite runtime with 500 records, a tenth of the messages' correspondents among them.

Each page is requested ``--requests`` times through Starlette's TestClient against the real
app (signed in, the whole middleware stack, a new IMAP connection per page as in production),
alternating with its baseline: a bare ``imaplib`` client doing the least IMAP the page needs
on a fresh connection (login, LIST with counts, EXAMINE, UID SEARCH ALL, UID FETCH of the
page's 50 messages' flags, sizes, structures and header fields; for a message, EXAMINE and
BODY.PEEK[]), timed in the same run. The figure is the ratio of medians (page / baseline):
what Postroom adds over talking IMAP itself. Then the first page of the big folder against the
first page of the small one: a folder's size should not matter (ratio near 1).
"""

from __future__ import annotations

import argparse
import imaplib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.dovecot import DovecotServer, MailUser
from tests.support.web import add_user, client_for, make_runtime, sign_in

from benchmarks import mailgen
from postroom.domain.records import PersonDraft
from postroom.services import original
from postroom.services.records import add_person
from postroom.services.runtime import Runtime
from postroom.services.secrets import load_or_create_key
from postroom.store.db import create_db_engine, upgrade

ROBIN = mailgen.OWNER
LIST_ITEMS = (
    "(FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE "
    "BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE)])"
)


def fill(user: MailUser, count: int, small: int) -> list[tuple[str, str]]:
    contacts = mailgen.contact_addresses(max(10, count // 20))
    batch: list[bytes] = []
    for message in mailgen.generate(count, seed=3, contacts=contacts):
        batch.append(message.raw)
        if len(batch) >= 2000:
            mailbox.fill_maildir(user, "INBOX", batch)
            batch = []
    mailbox.fill_maildir(user, "INBOX", batch)
    mailbox.fill_maildir(user, "Small", [m.raw for m in mailgen.generate(small, seed=4)])
    for name in ("Clients", "Clients/Acme", "Clients/Northwind", "Candidates", "Newsletters"):
        mailbox.fill_maildir(user, name, [])
    return contacts


def bare_folder_page(server: DovecotServer, user: MailUser, folder: str) -> None:
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    conn.login(user.username, user.password)
    conn.list('""', '"*" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))')
    conn.select(folder, readonly=True)
    _, data = conn.uid("SEARCH", "ALL")
    uids = data[0].split()[-50:]
    conn.uid("FETCH", b",".join(uids).decode(), LIST_ITEMS)
    conn.logout()


def bare_message(server: DovecotServer, user: MailUser, folder: str, uid: int) -> None:
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    conn.login(user.username, user.password)
    conn.list('""', '"*"')
    conn.select(folder)
    conn.uid("FETCH", str(uid), "(RFC822.SIZE)")
    conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
    conn.uid("FETCH", str(uid), "(FLAGS)")
    conn.logout()


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def compare(
    label: str, page: Callable[[], object], baseline: Callable[[], object], requests: int
) -> tuple[float, float]:
    for _ in range(3):  # warm-up
        page()
        baseline()
    ours, bare = [], []
    for _ in range(requests):
        ours.append(timed(page))
        bare.append(timed(baseline))
    p50, b50 = statistics.median(ours), statistics.median(bare)
    p95 = statistics.quantiles(ours, n=20)[-1]
    print(
        f"{label:<34} {p50 * 1000:7.1f} ms p50 {p95 * 1000:7.1f} ms p95"
        f"   bare IMAP {b50 * 1000:6.1f} ms   ratio {p50 / b50:5.2f}",
        flush=True,
    )
    return p50, b50


def get_ok(client: TestClient, url: str) -> Callable[[], object]:
    def call() -> object:
        original.forget_cached_originals()  # each view reads the message from the server
        answer = client.get(url)
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
        return answer

    return call


def make_world(
    home: Path, server: DovecotServer, user: MailUser, contacts: list[tuple[str, str]]
) -> Runtime:
    database = home / "bench.db"
    engine = create_db_engine(f"sqlite:///{database}")
    upgrade(engine)
    runtime = make_runtime(engine, home)
    add_user(runtime, "ada@firm.example", admin=True)
    add_user(runtime, ROBIN, name="Robin")
    with runtime.write() as session:
        add_dovecot_account(
            session,
            keyring=load_or_create_key(runtime.settings),
            dovecot=server,
            mail_user=user,
            owner=ROBIN,
            label="Robin at Firm",
        )
        for name, address in contacts[:500]:
            add_person(session=session, draft=PersonDraft(name, emails=(address,)))
    return runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with DovecotServer() as server, tempfile.TemporaryDirectory() as tmp:
        user = server.add_user()
        print(f"filling INBOX with {args.messages:,} messages and Small with {args.small} ...")
        contacts = fill(user, args.messages, args.small)
        bare_folder_page(server, user, "INBOX")  # Dovecot's indexes built, files cached
        bare_folder_page(server, user, "Small")
        runtime = make_world(Path(tmp), server, user, contacts)
        with client_for(runtime) as client:
            sign_in(client, ROBIN)
            home = client.get("/mail", follow_redirects=False).headers["location"]
            account = home.split("?")[0]
            uidvalidity = mailbox.folder_status(server, user, "INBOX")["UIDVALIDITY"]
            newest = mailbox.folder_status(server, user, "INBOX")["UIDNEXT"] - 1
            pages = -(-args.messages // 50)
            big, big_bare = compare(
                f"INBOX ({args.messages:,}), first page",
                get_ok(client, f"{account}?folder=INBOX"),
                lambda: bare_folder_page(server, user, "INBOX"),
                args.requests,
            )
            compare(
                f"INBOX, last page ({pages:,})",
                get_ok(client, f"{account}?folder=INBOX&page={pages}"),
                lambda: bare_folder_page(server, user, "INBOX"),
                args.requests,
            )
            small, small_bare = compare(
                f"Small ({args.small}), first page",
                get_ok(client, f"{account}?folder=Small"),
                lambda: bare_folder_page(server, user, "Small"),
                args.requests,
            )
            compare(
                "one message (read from the server)",
                get_ok(client, f"{account}/message?folder=INBOX&v={uidvalidity}&uid={newest}"),
                lambda: bare_message(server, user, "INBOX", newest),
                args.requests,
            )
        print(
            f"big folder / small folder, first page: {big / small:.2f} "
            f"(bare IMAP: {big_bare / small_bare:.2f})"
        )


if __name__ == "__main__":
    main()
