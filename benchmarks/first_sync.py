"""Benchmark: a first sync of a generated mailbox, against a raw imaplib pull and mbsync.

    .venv/bin/python -m benchmarks.first_sync [--messages 20000] [--runs 5] [--grow 100000]

A private Dovecot (tests/support/dovecot.py) gets ``--messages`` generated messages
(benchmarks/mailgen.py: realistic sizes, multipart and HTML, attachments, several charsets, a
third to or from record addresses), sent ones in Sent and the rest in INBOX. After one untimed
warm-up pass (Dovecot builds its indexes, the OS caches the files), the same run times:

* raw: stdlib imaplib, ``UID FETCH <500 uids> (BODY.PEEK[])`` over both folders;
* mbsync (Debian isync) pulling both folders into a Maildir;
* Postroom: ``AccountSyncer.sync_once`` into a fresh SQLite database until every activity is
  committed, in a child process that reports its peak RSS.

It prints messages per second of each, Postroom's ratio to the raw pull (target >= 0.25), whether
it beats mbsync, and peak RSS (target <= 200 MB). With ``--runs N`` the three pulls are timed N
times over the same mailbox (Dovecot's cache of header fields dropped before each Postroom run,
so that each is a first sync as the first was), and the spread of the ratios is printed: the
machine is shared, and one run can be 30% off another. With ``--grow N`` it measures Postroom again
on an N-message mailbox, to show that memory stays flat as the mailbox grows.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.support import mailbox, processes
from tests.support.dovecot import DovecotServer, MailUser

from benchmarks import header_parse, mailgen
from benchmarks.database import create_database

CHILD = """
# Run as a file, like the postroom console script: a main module with a file and no import
# spec, which spawned workers would run again unless the pool prevents it (sync/pool.py).
import asyncio, json, os, resource, sys, threading, time
from sqlalchemy import func, select
from postroom.imap import ServerAddress
from postroom.store.db import create_db_engine, make_session_factory
from postroom.store.models import Activity, MailMessage, TlsMode
from postroom.sync import heap
from postroom.sync.account import AccountLogin, AccountSyncer


def main():
    args = json.loads(sys.argv[1])
    heap.settle()  # as `postroom sync` does once it has loaded what it works with
    sessions = make_session_factory(create_db_engine(args["url"]))
    login = AccountLogin(args["account_id"], "bench",
        ServerAddress("127.0.0.1", args["port"], TlsMode.PLAIN, allow_plaintext=True),
        args["username"], args["password"])
    threads, busy = thread_cpu(), busy_cpu()
    start = time.perf_counter()
    report = asyncio.run(AccountSyncer(login=login, sessions=sessions).sync_once())
    elapsed = time.perf_counter() - start
    threads = {key: spent - threads.get(key, 0.0) for key, spent in thread_cpu().items()}
    busy = busy_cpu() - busy
    with sessions() as s:
        activities = s.scalar(select(func.count()).select_from(Activity))
        messages = s.scalar(select(func.count()).select_from(MailMessage))
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so it would count the benchmark
    # process this one was forked from (which holds the generated mailbox)
    hwm = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
    groups = {"main": 0.0, "database": 0.0, "other": 0.0}
    for (group, _), spent in threads.items():
        groups[group] += spent
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": elapsed, "rss_kb": hwm, "threads": groups, "busy": busy,
                      "cpu_self": usage.ru_utime + usage.ru_stime,
                      "activities": activities, "messages": messages, "error": report.error}))


def thread_cpu():
    # CPU seconds so far of each thread of this process, by (group, thread id): the event
    # loop's thread, the database threads, the others (the reading pool's)
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    spent = {}
    for task in os.listdir("/proc/self/task"):
        stat = open(f"/proc/self/task/{task}/stat").read().rsplit(")", 1)[1].split()
        name = names.get(int(task), "")
        group = ("main" if int(task) == os.getpid()
                 else "database" if name.startswith("postroom-db") else "other")
        spent[(group, task)] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return spent


def busy_cpu():
    # CPU seconds the whole machine has spent not idle (all cores; /proc/stat's first line)
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
"""


def fill(user: MailUser, count: int, seed: int) -> tuple[int, list[tuple[str, str]]]:
    """Put ``count`` generated messages in INBOX and Sent; return (activities due, contacts)."""
    contacts = mailgen.contact_addresses(max(10, count // 20))
    expected = 0
    inbox: list[bytes] = []
    sent: list[bytes] = []
    for message in mailgen.generate(count, seed=seed, contacts=contacts):
        (sent if message.is_sent else inbox).append(message.raw)
        expected += bool(message.contact and not message.is_bulk)
        if len(inbox) + len(sent) >= 2000:
            mailbox.fill_maildir(user, "INBOX", inbox)
            mailbox.fill_maildir(user, "Sent", sent)
            inbox, sent = [], []
    mailbox.fill_maildir(user, "INBOX", inbox)
    mailbox.fill_maildir(user, "Sent", sent)
    return expected, contacts


def raw_pull(server: DovecotServer, user: MailUser) -> int:
    count = 0
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    conn.login(user.username, user.password)
    for folder in ("INBOX", "Sent"):
        conn.select(folder, readonly=True)
        _, data = conn.uid("SEARCH", "ALL")
        uids = data[0].split()
        for start in range(0, len(uids), 500):
            chunk = b",".join(uids[start : start + 500]).decode()
            _, fetched = conn.uid("FETCH", chunk, "(BODY.PEEK[])")
            count += sum(1 for part in fetched if isinstance(part, tuple))
    conn.logout()
    return count


def mbsync_pull(server: DovecotServer, user: MailUser, folder: Path) -> float:
    (folder / "mail").mkdir()
    config = folder / "mbsyncrc"
    config.write_text(
        f"IMAPAccount bench\nHost 127.0.0.1\nPort {server.port}\nUser {user.username}\n"
        f"Pass {user.password}\nSSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {folder}/mail/\nInbox {folder}/mail/INBOX\n\n"
        "Channel pull\nFar :remote:\nNear :local:\nPatterns INBOX Sent\nCreate Near\n"
        "Sync Pull\nExpunge None\nSyncState *\n"
    )
    start = time.perf_counter()
    result = subprocess.run(
        ["mbsync", "-q", "-c", str(config), "pull"], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"mbsync failed: {result.stderr.strip()}")
    return elapsed


def postroom_sync(
    server: DovecotServer, user: MailUser, contacts: list[tuple[str, str]], folder: Path
) -> dict[str, Any]:
    url = f"sqlite:///{folder / 'postroom.db'}"
    sessions, account_id = create_database(
        url,
        owner=mailgen.OWNER,
        username=user.username,
        contacts=contacts,
        imap_port=server.port,
    )
    sessions.kw["bind"].dispose()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    dovecot_before = processes.cpu_seconds(server.pid or 0)
    args = {
        "url": url,
        "account_id": account_id,
        "port": server.port,
        "username": user.username,
        "password": user.password,
    }
    script = folder / "sync_child.py"
    script.write_text(CHILD)
    with subprocess.Popen(
        [sys.executable, str(script), json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        samples: list[int] = []

        def watch() -> None:
            while process.poll() is None:
                samples.append(tree_rss_kb(process.pid))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        out, err = process.communicate()
        watcher.join()
        peak = max(samples, default=0)
    time.sleep(0.2)  # Dovecot's master reaps the imap process of the sync
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"postroom sync failed: {err.strip()[-2000:]}")
    values: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    values["tree_rss_kb"] = peak
    # the reading workers: what the sync process and the workers it reaped used, less its own;
    # Dovecot: the imap process of the sync, reaped by Dovecot's master
    tree = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
    values["cpu_workers"] = tree - values["cpu_self"]
    values["cpu_dovecot"] = processes.cpu_seconds(server.pid or 0) - dovecot_before
    return values


def tree_rss_kb(pid: int) -> int:
    """The resident memory of ``pid`` and all its descendants (the reading workers), in KB."""
    total, frontier = 0, [pid]
    while frontier:
        member = frontier.pop()
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{member}/task").iterdir():
                frontier += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue  # it just ended
    return total


def measure(count: int, seed: int, runs: int = 1) -> list[dict[str, Any]]:
    """Fill a mailbox once, then time the three pulls ``runs`` times, each on its own."""
    with DovecotServer() as server, tempfile.TemporaryDirectory() as tmp:
        user = server.add_user()
        print(f"filling a {count}-message mailbox ...", flush=True)
        expected, contacts = fill(user, count, seed)
        raw_pull(server, user)  # warm-up: indexes built, files cached
        results = []
        for run in range(runs):
            folder = Path(tmp, f"run{run}")
            folder.mkdir()
            start = time.perf_counter()
            pulled = raw_pull(server, user)
            raw_seconds = time.perf_counter() - start
            mbsync_seconds = mbsync_pull(server, user, folder)
            os.sync()  # mbsync's 20,000 files: written back now, not while Postroom is timed
            for cache in user.maildir.glob("**/dovecot.index.cache"):
                cache.unlink()  # every run asks Dovecot for header fields it has not cached
            result = postroom_sync(server, user, contacts, folder)
            if (
                result.get("error")
                or result["messages"] != count
                or result["activities"] != expected
            ):
                raise RuntimeError(
                    f"wrong result: {result}, expected {count} messages and {expected} activities"
                )
            results.append(
                {"count": count, "pulled": pulled, "raw": raw_seconds, "mbsync": mbsync_seconds}
                | result
            )
        return results


def cpu_line(r: dict[str, Any]) -> str:
    """Where the CPU time of one Postroom run went, and how busy the machine was."""
    threads = r["threads"]
    own = sum(threads.values())
    cores = os.cpu_count() or 1
    return (
        f"CPU                 {own + r['cpu_workers'] + r['cpu_dovecot']:.1f} s:"
        f" sync process {own:.1f} (event loop {threads['main']:.1f},"
        f" database threads {threads['database']:.1f}, other threads {threads['other']:.1f}),"
        f" reading workers {r['cpu_workers']:.1f}, Dovecot {r['cpu_dovecot']:.1f};"
        f" the machine's {cores} cores {r['busy'] / (r['seconds'] * cores):.0%} busy"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1, help="time the pulls this many times")
    parser.add_argument("--grow", type=int, default=0, help="also measure RSS at this size")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("runs a private Dovecot: run as root, as the tests do", file=sys.stderr)
        return 2
    speed = header_parse.python_speed()
    print(f"this machine's Python now: parse_headers {speed:.1f} µs a message")
    results = measure(args.messages, seed=1, runs=args.runs)
    for r in results:
        n = r["count"]
        print(f"raw imaplib UID FETCH BODY.PEEK[]  {n / r['raw']:8.0f} msg/s  ({r['raw']:.2f} s)")
        print(
            f"mbsync (isync) pull                {n / r['mbsync']:8.0f} msg/s"
            f"  ({r['mbsync']:.2f} s)"
        )
        print(
            f"postroom first sync                {n / r['seconds']:8.0f} msg/s"
            f"  ({r['seconds']:.2f} s, {int(r['activities'])} activities)"
        )
        print(f"ratio to raw pull   {r['raw'] / r['seconds']:.2f}  (target >= 0.25)")
        print(
            f"ratio to mbsync     {r['mbsync'] / r['seconds']:.2f}"
            "  (target > 1: faster than mbsync)"
        )
        print(
            f"peak RSS            {r['tree_rss_kb'] / 1024:.0f} MB, all processes"
            f" (sync process alone {r['rss_kb'] / 1024:.0f} MB; target <= 200 MB)"
        )
        print(cpu_line(r))
    if len(results) > 1:
        raw = sorted(r["raw"] / r["seconds"] for r in results)
        mbsync = sorted(r["mbsync"] / r["seconds"] for r in results)
        rss = max(r["tree_rss_kb"] for r in results) / 1024
        print(
            f"over {len(results)} runs: ratio to raw pull {raw[0]:.2f}-{raw[-1]:.2f},"
            f" to mbsync {mbsync[0]:.2f}-{mbsync[-1]:.2f}, peak RSS {rss:.0f} MB"
        )
    if args.grow:
        (g,) = measure(args.grow, seed=2)
        print(
            f"peak RSS at {args.grow} messages: {g['tree_rss_kb'] / 1024:.0f} MB, all processes"
            f" (sync process alone {g['rss_kb'] / 1024:.0f} MB) "
            f"(ratio to raw pull {g['raw'] / g['seconds']:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
