"""MailboxClient against a real Dovecot 2.3 (fixtures from tests/dovecot_plugin.py).

What a write did is always read back over a separate, read-only ``ImapClient`` connection (or
with ``tests.support.mailbox``), never through the connection that wrote. ``dovecot`` advertises
MOVE and UIDPLUS; ``dovecot_basic`` only UIDPLUS, so ``uid_move`` falls back to UID COPY +
UID STORE + UID EXPUNGE there, and the proxy's record shows what went over the wire.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import functools
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from postroom.imap import (
    CapabilityMissing,
    CommandFailed,
    Expunge,
    FlagsChanged,
    FolderMissing,
    ImapClient,
    ImapError,
    ServerAddress,
    TlsMode,
    Unknown,
    Vanished,
)
from postroom.imap.writing import MailboxClient
from tests.support import mailbox
from tests.support.dovecot import DovecotServer, MailUser
from tests.support.tcpproxy import TcpProxy

ALL = "1:4294967295"


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 60))

    return wrapper


def make_mail(n: int, *, body: bytes = b"Hello\r\n") -> bytes:
    return (
        f"From: Anna Berg <anna@example.com>\r\n"
        f"To: me@example.test\r\n"
        f"Subject: Message {n}\r\n"
        f"Message-ID: <w{n}@example.com>\r\n"
        f"Date: {email.utils.format_datetime(email.utils.localtime())}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode() + body


def plain(server: DovecotServer, port: int | None = None) -> ServerAddress:
    return ServerAddress(server.host, port or server.port, TlsMode.PLAIN, allow_plaintext=True)


async def open_mailbox(address: ServerAddress, user: MailUser) -> MailboxClient:
    client = await MailboxClient.connect(address)
    await client.login(user.username, user.password)
    return client


async def read_back(
    server: DovecotServer, user: MailUser, folder: str | bytes, items: list[str]
) -> dict[int, Any]:
    """UID -> FetchItem of every message in ``folder``, over a fresh read-only ImapClient."""
    reader = await ImapClient.connect(plain(server))
    await reader.login(user.username, user.password)
    async with reader:
        if (await reader.examine(folder)).exists == 0:
            return {}
        return {item.uid: item for item in await reader.uid_fetch(ALL, ["UID", *items])}


async def flags_on_server(
    server: DovecotServer, user: MailUser, folder: str = "INBOX"
) -> dict[int, set[str]]:
    """UID -> flags (without ``\\Recent``, which belongs to a session) as the server has them."""
    items = await read_back(server, user, folder, ["FLAGS"])
    return {uid: set(item.flags or ()) - {"\\Recent"} for uid, item in items.items()}


def wire_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "postroom.imap.wire")


# --- SELECT ---------------------------------------------------------------------------------


@run_async
async def test_select_reports_counts_uidvalidity_and_read_write(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(3)]
    status = mailbox.folder_status(dovecot, mail_user, "INBOX")
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        selected = await client.select("INBOX")
        assert selected.exists == 3
        assert selected.uidvalidity == status["UIDVALIDITY"]
        assert selected.uidnext == uids[-1] + 1
        assert not selected.read_only
        assert {"\\Seen", "\\Flagged", "\\Deleted"} <= set(selected.flags)
        assert (await client.select("Sent")).exists == 0
        assert (await client.examine("INBOX")).read_only


@run_async
async def test_writes_refuse_to_run_in_a_folder_opened_read_only(dovecot, mail_user, caplog):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    uid = mailbox.append(dovecot, mail_user, "INBOX", make_mail(1))
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        with pytest.raises(ImapError, match="read-write"):
            await client.uid_store([uid], add=["\\Seen"])  # nothing open yet
        await client.examine("INBOX")
        for write in (
            client.uid_store([uid], add=["\\Seen"]),
            client.uid_move([uid], "Archive"),
            client.uid_expunge([uid]),
        ):
            with pytest.raises(ImapError, match="select"):
                await write
        assert await client.uid_copy([uid], "Archive") == {uid: 1}  # COPY may read-only
        with pytest.raises(FolderMissing):
            await client.select("No such folder")
        with pytest.raises(ImapError, match="read-write"):  # a failed SELECT closes the folder
            await client.uid_store([uid], add=["\\Seen"])
    assert not re.search(r"^C: \S+ UID (STORE|MOVE|EXPUNGE)", wire_log(caplog), re.MULTILINE)
    assert await flags_on_server(dovecot, mail_user) == {uid: set()}


# --- UID STORE ------------------------------------------------------------------------------


@run_async
async def test_uid_store_adds_and_removes_seen_and_flagged(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(3)]
    mailbox.set_flags(dovecot, mail_user, "INBOX", uids[1], ["\\Seen", "$Jobs"])
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        await client.select("INBOX")
        await client.uid_store(uids[:2], add=["\\Seen", "\\Flagged"])
        assert await flags_on_server(dovecot, mail_user) == {
            uids[0]: {"\\Seen", "\\Flagged"},
            uids[1]: {"\\Seen", "\\Flagged", "$Jobs"},
            uids[2]: set(),
        }
        await client.uid_store(uids[1:], add=["$Forwarded"], remove=["\\seen", "\\FLAGGED"])
        assert await flags_on_server(dovecot, mail_user) == {
            uids[0]: {"\\Seen", "\\Flagged"},
            uids[1]: {"$Jobs", "$Forwarded"},
            uids[2]: {"$Forwarded"},
        }
        await client.uid_store([uids[0]], remove=["\\Seen", "\\Flagged"])
        await client.uid_store([], add=["\\Seen"])  # nothing to do: nothing sent
        events = client.drain_events()
    # .SILENT: no FETCH comes back for our own changes; the new keyword $Forwarded makes
    # Dovecot announce the folder's new FLAGS and PERMANENTFLAGS (both events, as unclaimed)
    assert not [e for e in events if isinstance(e, FlagsChanged)]
    assert [(e.kind, e.code and e.code.name) for e in events if isinstance(e, Unknown)] == [
        ("FLAGS", None),
        ("OK", "PERMANENTFLAGS"),
    ]
    assert await flags_on_server(dovecot, mail_user) == {
        uids[0]: set(),
        uids[1]: {"$Jobs", "$Forwarded"},
        uids[2]: {"$Forwarded"},
    }


@run_async
async def test_untagged_responses_during_a_write_become_events(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(3)]
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        await client.enable("CONDSTORE")
        await client.select("INBOX")
        client.drain_events()
        await asyncio.to_thread(mailbox.expunge, dovecot, mail_user, "INBOX", uids[2])
        await client.uid_store([uids[0]], add=["\\Seen"])
        events = client.drain_events()
    # another client's expunge, and (CONDSTORE enabled) the MODSEQ of our own silent store
    assert Expunge(3) in events
    (changed,) = [e for e in events if isinstance(e, FlagsChanged)]
    assert changed.item.uid == uids[0]
    assert changed.item.flags is None  # .SILENT: only UID and MODSEQ (RFC 7162 §3.1.3)
    assert changed.item.modseq


@run_async
async def test_a_long_scattered_uid_list_is_split_over_several_commands(dovecot, mail_user, caplog):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    mailbox.fill_maildir(mail_user, "INBOX", (make_mail(n) for n in range(4000)))
    odd = list(range(1, 4001, 2))  # 2000 single UIDs: more than one 8 KB line
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        await client.select("INBOX")
        await client.uid_store(odd, add=["\\Flagged"])
        moved = await client.uid_move(odd, "Archive")
    sent = wire_log(caplog)
    assert len(re.findall(r"^C: \S+ UID STORE ", sent, re.MULTILINE)) > 1
    assert len(re.findall(r"^C: \S+ UID MOVE ", sent, re.MULTILINE)) > 1
    assert sorted(moved) == odd
    assert sorted(moved.values()) == list(range(1, 2001))
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == list(range(2, 4001, 2))
    archived = await flags_on_server(dovecot, mail_user, "Archive")
    assert len(archived) == 2000
    assert all(flags == {"\\Flagged"} for flags in archived.values())


# --- UID COPY and UID MOVE ------------------------------------------------------------------


@run_async
async def test_uid_copy_returns_the_uid_map_and_leaves_the_source(dovecot, mail_user):
    raws = [make_mail(n) for n in range(3)]
    uids = [mailbox.append(dovecot, mail_user, "INBOX", raw) for raw in raws]
    mailbox.append(dovecot, mail_user, "Archive", make_mail(99))  # the copies are not UID 1
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        await client.select("INBOX")
        copied = await client.uid_copy([uids[2], uids[0], 4711], "Archive")
        assert await client.uid_copy([], "Archive") == {}
    assert copied == {uids[0]: 2, uids[2]: 3}  # 4711 does not exist: left out
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == uids
    archived = await read_back(dovecot, mail_user, "Archive", ["BODY.PEEK[]"])
    assert archived[copied[uids[0]]].section("BODY.PEEK[]") == raws[0]
    assert archived[copied[uids[2]]].section("BODY.PEEK[]") == raws[2]


@run_async
async def test_uid_move_moves_to_another_folder(dovecot, mail_user, caplog):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    raws = [make_mail(n) for n in range(4)]
    uids = [mailbox.append(dovecot, mail_user, "INBOX", raw) for raw in raws]
    mailbox.append(dovecot, mail_user, "Archive", make_mail(99))
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        assert client.has("MOVE")
        await client.select("INBOX")
        client.drain_events()
        moved = await client.uid_move([uids[1], uids[3]], "Archive")
        events = client.drain_events()
    assert moved == {uids[1]: 2, uids[3]: 3}
    assert sorted(e.seq for e in events if isinstance(e, Expunge)) == [2, 4]
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == [uids[0], uids[2]]
    archived = await read_back(dovecot, mail_user, "Archive", ["BODY.PEEK[]"])
    assert sorted(archived) == [1, 2, 3]
    assert archived[moved[uids[1]]].section("BODY.PEEK[]") == raws[1]
    assert archived[moved[uids[3]]].section("BODY.PEEK[]") == raws[3]
    sent = wire_log(caplog)
    assert re.search(r"^C: \S+ UID MOVE 2,4 \"Archive\"$", sent, re.MULTILINE)
    assert re.search(r"^S: \* OK \[COPYUID \d+ 2,4 2:3\]", sent, re.MULTILINE)  # untagged


@run_async
async def test_uid_move_with_qresync_reports_vanished(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(3)]
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        await client.enable("QRESYNC")
        await client.select("INBOX")
        client.drain_events()
        moved = await client.uid_move(uids[:2], "Trash")
        vanished = [e for e in client.drain_events() if isinstance(e, Vanished)]
    assert sorted(moved) == uids[:2]
    assert [(v.ranges, v.earlier) for v in vanished] == [(((uids[0], uids[1]),), False)]


@run_async
async def test_uid_move_without_move_removes_only_the_moved_message(dovecot_basic, basic_mail_user):
    server, user = dovecot_basic, basic_mail_user
    raws = [make_mail(n) for n in range(3)]
    uids = [mailbox.append(server, user, "INBOX", raw) for raw in raws]
    mailbox.set_flags(server, user, "INBOX", uids[2], ["\\Deleted"])  # someone else's
    with TcpProxy(server.host, server.port) as proxy:
        async with await open_mailbox(plain(server, proxy.port), user) as client:
            assert not client.has("MOVE")
            assert client.has("UIDPLUS")
            await client.select("INBOX")
            moved = await client.uid_move([uids[0]], "Archive")
            events = client.drain_events()
        sent = b"".join(proxy.client_bytes())
    assert moved == {uids[0]: 1}
    assert events == [Expunge(1)]
    assert mailbox.list_uids(server, user, "INBOX") == uids[1:]  # uids[2] is still there
    assert mailbox.snapshot_flags(server, user, "INBOX")[uids[2]] == (b"\\Deleted",)
    archived = await read_back(server, user, "Archive", ["FLAGS", "BODY.PEEK[]"])
    assert archived[1].section("BODY.PEEK[]") == raws[0]
    assert "\\Deleted" not in (archived[1].flags or ())
    assert b"MOVE" not in sent
    assert b' UID COPY 1 "Archive"\r\n' in sent
    assert b" UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n" in sent
    assert b" UID EXPUNGE 1\r\n" in sent
    assert not re.search(rb"\d EXPUNGE\r\n", sent)  # never a plain EXPUNGE


@run_async
async def test_without_move_or_uidplus_nothing_is_moved_or_sent(dovecot_basic, basic_mail_user):
    server, user = dovecot_basic, basic_mail_user
    uids = [mailbox.append(server, user, "INBOX", make_mail(n)) for n in range(2)]
    with TcpProxy(server.host, server.port) as proxy:
        async with await open_mailbox(plain(server, proxy.port), user) as client:
            await client.select("INBOX")
            client.capabilities = client.capabilities - {"UIDPLUS"}  # as a server without it
            before = len(b"".join(proxy.client_bytes()))
            with pytest.raises(CapabilityMissing) as missing:
                await client.uid_move([uids[0]], "Archive")
            assert missing.value.capability == "MOVE"
            assert "EXPUNGE" in str(missing.value)
            with pytest.raises(CapabilityMissing) as missing:
                await client.uid_expunge([uids[0]])
            assert missing.value.capability == "UIDPLUS"
            assert len(b"".join(proxy.client_bytes())) == before
    assert mailbox.list_uids(server, user, "INBOX") == uids
    assert mailbox.list_uids(server, user, "Archive") == []


# --- UID EXPUNGE ----------------------------------------------------------------------------


@run_async
async def test_uid_expunge_removes_only_the_given_deleted_messages(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(4)]
    mailbox.set_flags(dovecot, mail_user, "INBOX", uids[3], ["\\Deleted"])  # someone else's
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        await client.select("INBOX")
        await client.uid_store(uids[:2], add=["\\Deleted"])
        await client.uid_expunge([uids[0], uids[2]])  # uids[2] is not \Deleted: it stays
        events = client.drain_events()
        await client.uid_expunge([])
    assert events == [Expunge(1)]
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == uids[1:]
    assert await flags_on_server(dovecot, mail_user) == {
        uids[1]: {"\\Deleted"},
        uids[2]: set(),
        uids[3]: {"\\Deleted"},
    }


# --- APPEND ---------------------------------------------------------------------------------


@run_async
async def test_append_returns_the_new_uid_and_stores_the_message_byte_for_byte(
    dovecot, mail_user, caplog
):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    mailbox.append(dovecot, mail_user, "Drafts", make_mail(1))
    raw = make_mail(2, body="Grüße aus Köln\r\n".encode() + b"x" * 998 + b"\r\n" * 3)
    when = dt.datetime(2026, 2, 3, 14, 15, 16, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        uid = await client.append(
            "Drafts", raw, flags=["\\Draft", "\\seen", "$Jobs"], internaldate=when
        )
        status = mailbox.folder_status(dovecot, mail_user, "Drafts")
    assert uid == 2
    assert status["UIDNEXT"] == 3
    (item,) = [
        i
        for u, i in (
            await read_back(dovecot, mail_user, "Drafts", ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])
        ).items()
        if u == uid
    ]
    assert item.section("BODY.PEEK[]") == raw
    assert set(item.flags or ()) - {"\\Recent"} == {"\\Draft", "\\Seen", "$Jobs"}
    assert item.internaldate == when
    assert f"[literal: {len(raw)} octets]" in wire_log(caplog)
    assert "Köln" not in caplog.text  # bodies never reach the log


@run_async
async def test_append_with_synchronising_literals_waits_for_the_continuation(
    dovecot, mail_user, caplog
):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    raw = make_mail(3, body=b"y" * 200_000 + b"\r\n")
    with TcpProxy(dovecot.host, dovecot.port) as proxy:
        async with await open_mailbox(plain(dovecot, proxy.port), mail_user) as client:
            # as a server without LITERAL+ / LITERAL-: every literal waits for "+"
            client._set_capabilities(client.capabilities - {"LITERAL+", "LITERAL-"})
            uid = await client.append("INBOX", raw)
            with pytest.raises(FolderMissing):  # refused before "+": the literal is not sent
                await client.append("No such folder", raw)
            assert (await client.select("INBOX")).exists == 1  # still in step
        sent = b"".join(proxy.client_bytes())
    assert uid == 1
    assert b' APPEND "INBOX" {%d}\r\n' % len(raw) in sent
    assert sent.count(raw) == 1
    assert re.search(r"^S: \+ ", wire_log(caplog), re.MULTILINE)
    assert (await read_back(dovecot, mail_user, "INBOX", ["BODY.PEEK[]"]))[1].section(
        "BODY.PEEK[]"
    ) == raw


@run_async
async def test_append_to_a_folder_with_a_non_ascii_name(dovecot, mail_user):
    mailbox.create_folder(dovecot, mail_user, "Entwürfe")
    raw = make_mail(4)
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        uid = await client.append("Entwürfe", raw, flags=["\\Draft"])
        listed = {f.name: f for f in await client.list_folders()}
        assert listed["Entwürfe"].name_raw == b"Entw&APw-rfe"
        second = await client.append(listed["Entwürfe"].name_raw, raw)  # the name as listed
        selected = await client.select("Entwürfe")
    assert (uid, second) == (1, 2)
    assert selected.exists == 2
    stored = await read_back(dovecot, mail_user, "Entwürfe", ["FLAGS", "BODY.PEEK[]"])
    assert stored[1].section("BODY.PEEK[]") == stored[2].section("BODY.PEEK[]") == raw
    assert "\\Draft" in (stored[1].flags or ())


@run_async
async def test_a_missing_folder_is_folder_missing_with_the_servers_text(dovecot, mail_user):
    uid = mailbox.append(dovecot, mail_user, "INBOX", make_mail(5))
    async with await open_mailbox(plain(dovecot), mail_user) as client:
        with pytest.raises(FolderMissing) as missing:
            await client.select("No such folder")
        assert missing.value.status == "NO"
        assert "exist" in missing.value.text  # Dovecot: "Mailbox doesn't exist: ..."
        assert missing.value.text in str(missing.value)
        await client.select("INBOX")
        for write in (
            client.uid_copy([uid], "No such folder"),
            client.uid_move([uid], "No such folder"),
            client.append("No such folder", make_mail(6)),
        ):
            with pytest.raises(FolderMissing) as missing:
                await write
            assert missing.value.code == "TRYCREATE"
            assert "No such folder" in missing.value.text
            assert isinstance(missing.value, CommandFailed)
        await client.uid_store([uid], add=["\\Seen"])  # the folder is still open read-write
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == [uid]
    assert await flags_on_server(dovecot, mail_user) == {uid: {"\\Seen"}}
