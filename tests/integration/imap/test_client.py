"""ImapClient against a real Dovecot 2.3 (fixtures from tests/dovecot_plugin.py).

Other clients change the mailbox through ``tests.support.mailbox`` (stdlib imaplib), as a user's
phone or desktop client would. The basic server advertises no CONDSTORE/QRESYNC/ESEARCH/
SPECIAL-USE but would accept them: the proxy's record of what we sent proves we never do.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import functools
import logging
import re
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from postroom.imap import (
    AuthFailed,
    ConnectFailed,
    ConnectionLost,
    Exists,
    FlagsChanged,
    FolderMissing,
    ImapClient,
    PlaintextRefused,
    ServerAddress,
    TlsFailed,
    TlsMode,
    Vanished,
)
from tests.support import mailbox
from tests.support.dovecot import DovecotServer, MailUser, free_port
from tests.support.tcpproxy import TcpProxy

HEADERS = "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT MESSAGE-ID)]"


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 60))

    return wrapper


def make_mail(n: int, *, subject: str | None = None, body: bytes = b"Hello\r\n") -> bytes:
    return (
        f"From: Anna Berg <anna@example.com>\r\n"
        f"To: me@example.test\r\n"
        f"Subject: {subject or f'Message {n} (with parens) * star'}\r\n"
        f"Message-ID: <m{n}@example.com>\r\n"
        f"Date: {email.utils.format_datetime(email.utils.localtime())}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode() + body


def plain(server: DovecotServer, port: int | None = None) -> ServerAddress:
    return ServerAddress(server.host, port or server.port, TlsMode.PLAIN, allow_plaintext=True)


async def login(address: ServerAddress, user: MailUser, **options: float) -> ImapClient:
    client = await ImapClient.connect(address, **options)
    await client.login(user.username, user.password)
    return client


# --- connecting: TLS, plain text, failures --------------------------------------------------


@run_async
async def test_implicit_tls_with_the_test_ca(dovecot, mail_user):
    context = ssl.create_default_context(cafile=str(dovecot.ca_pem_path))
    address = ServerAddress(dovecot.host, dovecot.tls_port, TlsMode.IMPLICIT, context)
    async with await login(address, mail_user) as client:
        assert client.has("QRESYNC")
        assert (await client.examine("INBOX")).exists == 0


@run_async
async def test_implicit_tls_with_the_default_trust_store_refuses_the_test_certificate(dovecot):
    address = ServerAddress(dovecot.host, dovecot.tls_port, TlsMode.IMPLICIT)
    with pytest.raises(TlsFailed, match="not trusted") as failed:
        await ImapClient.connect(address)
    assert not failed.value.retryable


@run_async
async def test_a_trusted_certificate_for_another_host_name_is_refused(dovecot):
    context = ssl.create_default_context(cafile=str(dovecot.ca_pem_path))
    # the certificate names 127.0.0.1 and localhost; the same server reached as 127.0.0.2
    with TcpProxy(dovecot.host, dovecot.tls_port, host="127.0.0.2") as proxy:
        address = ServerAddress("127.0.0.2", proxy.port, TlsMode.IMPLICIT, context)
        with pytest.raises(TlsFailed) as failed:
            await ImapClient.connect(address)
    assert "127.0.0.2" in str(failed.value)
    assert failed.value.advice
    assert not failed.value.retryable


@run_async
async def test_starttls_upgrades_and_reads_the_capabilities_again(dovecot, mail_user):
    context = ssl.create_default_context(cafile=str(dovecot.ca_pem_path))
    address = ServerAddress(dovecot.host, dovecot.port, TlsMode.STARTTLS, context)
    client = await ImapClient.connect(address)
    assert "STARTTLS" not in client.capabilities  # the list after TLS, not the plain one
    await client.login(mail_user.username, mail_user.password)
    assert client.has("CONDSTORE")
    await client.logout()
    with pytest.raises(TlsFailed):  # STARTTLS with the system trust store: refused, no fallback
        await ImapClient.connect(ServerAddress(dovecot.host, dovecot.port, TlsMode.STARTTLS))


@run_async
async def test_implicit_tls_to_a_plain_port_fails_cleanly(dovecot):
    context = ssl.create_default_context(cafile=str(dovecot.ca_pem_path))
    with pytest.raises(TlsFailed):
        await ImapClient.connect(
            ServerAddress(dovecot.host, dovecot.port, TlsMode.IMPLICIT, context), timeout=5
        )


@run_async
async def test_plain_text_only_when_allowed_and_on_loopback(dovecot, mail_user):
    async with await login(plain(dovecot), mail_user) as client:
        assert client.is_authenticated
    localhost = ServerAddress("localhost", dovecot.port, TlsMode.PLAIN, allow_plaintext=True)
    async with await login(localhost, mail_user):
        pass
    with pytest.raises(PlaintextRefused):
        await ImapClient.connect(ServerAddress(dovecot.host, dovecot.port, TlsMode.PLAIN))


@run_async
async def test_wrong_password_is_auth_failed(dovecot, mail_user):
    client = await ImapClient.connect(plain(dovecot))
    with pytest.raises(AuthFailed) as failed:
        await client.login(mail_user.username, "not-the-password")
    assert failed.value.code == "AUTHENTICATIONFAILED"
    assert not failed.value.retryable
    await client.logout()


@run_async
async def test_connection_refused(dovecot):
    with pytest.raises(ConnectFailed) as failed:
        await ImapClient.connect(plain(dovecot, free_port()))
    assert failed.value.reason == "refused"
    assert failed.value.retryable


@run_async
async def test_unknown_host():
    address = ServerAddress("no-such-host.postroom.invalid", 993, TlsMode.IMPLICIT)
    with pytest.raises(ConnectFailed) as failed:
        await ImapClient.connect(address)
    assert failed.value.reason == "dns"
    assert "server name" in failed.value.advice


@run_async
async def test_a_server_that_accepts_but_never_greets_times_out(dovecot):
    with TcpProxy(dovecot.host, dovecot.port) as proxy:
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(ConnectFailed) as failed:
            await ImapClient.connect(plain(dovecot, proxy.port), timeout=0.5)
        assert failed.value.reason == "timeout"
        assert time.monotonic() - started < 3
        proxy.resume()


# --- folders, fetching, searching -----------------------------------------------------------


@run_async
async def test_capabilities_after_login_and_folders_with_special_use(dovecot, mail_user):
    mailbox.create_folder(dovecot, mail_user, "Bewerbungen/Köln & Umland")
    client = await ImapClient.connect(plain(dovecot))
    assert not client.has("QRESYNC")  # pre-auth list
    await client.login(mail_user.username, mail_user.password)
    assert {"QRESYNC", "CONDSTORE", "ESEARCH", "SPECIAL-USE", "IDLE"} <= client.capabilities
    await client.send_id({"name": "postroom", "version": "0.1"})
    folders = {f.name: f for f in await client.list_folders()}
    assert "\\Sent" in folders["Sent"].flags
    assert "\\Archive" in folders["Archive"].flags
    cologne = folders["Bewerbungen/Köln & Umland"]
    assert cologne.name_raw == b"Bewerbungen/K&APY-ln &- Umland"
    assert cologne.delimiter == "/"
    assert (await client.examine(cologne.name)).exists == 0
    assert (await client.examine(cologne.name_raw)).exists == 0
    await client.logout()


@run_async
async def test_examine_and_fetch_leave_every_flag_alone(dovecot, mail_user):
    raws = [make_mail(n) for n in range(5)]
    uids = [mailbox.append(dovecot, mail_user, "INBOX", raw) for raw in raws]
    mailbox.set_flags(dovecot, mail_user, "INBOX", uids[1], ["\\Seen", "$Jobs"])
    before = mailbox.snapshot_flags(dovecot, mail_user, "INBOX")
    client = await login(plain(dovecot), mail_user)
    selected = await client.examine("INBOX", condstore=True)
    assert (selected.exists, selected.uidnext) == (5, uids[-1] + 1)
    assert selected.highestmodseq is not None
    assert selected.read_only
    items = await client.uid_fetch(
        uids,
        ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE", "X-GUID", "MODSEQ",
         HEADERS, "BODY.PEEK[1]<0.262144>", "BODY.PEEK[]"],
    )  # fmt: skip
    assert [i.uid for i in items] == uids
    first = items[0]
    assert first.section(HEADERS) is not None
    assert b"Subject: Message 0 (with parens) * star" in first.section(HEADERS)  # type: ignore[operator]
    assert first.section("BODY.PEEK[1]<0.262144>") == b"Hello\r\n"
    assert first.section("BODY.PEEK[]") == raws[0]
    assert first.bodystructure is not None
    assert not first.bodystructure.is_multipart
    assert first.x_guid
    assert first.modseq
    assert first.size
    assert first.internaldate is not None
    assert first.internaldate.tzinfo is not None
    assert "$Jobs" in (items[1].flags or ())
    await client.logout()
    assert mailbox.snapshot_flags(dovecot, mail_user, "INBOX") == before
    assert all(b"\\Seen" not in flags for uid, flags in before.items() if uid != uids[1])


@run_async
async def test_binary_peek_literal8(dovecot, mail_user):
    uid = mailbox.append(dovecot, mail_user, "INBOX", make_mail(1, body=b"caf\xc3\xa9\r\n"))
    async with await login(plain(dovecot), mail_user) as client:
        await client.examine("INBOX")
        (item,) = await client.uid_fetch([uid], ["BINARY.PEEK[1]"])
    assert item.section("BINARY.PEEK[1]") == b"caf\xc3\xa9\r\n"


@run_async
async def test_esearch_and_split_uid_fetch_over_many_messages(dovecot, mail_user):
    count = mailbox.fill_maildir(mail_user, "INBOX", (make_mail(n) for n in range(3000)))
    async with await login(plain(dovecot), mail_user) as client:
        selected = await client.examine("INBOX")
        assert selected.exists == count
        uids = await client.uid_search("ALL")
        assert uids == list(range(1, 3001))
        assert await client.uid_search("UID 2990:4294967295") == list(range(2990, 3001))
        assert await client.uid_search("SUBJECT nothing-like-this") == []
        odd = uids[::2]  # 1500 single UIDs: more than one 8 KB line
        items = await client.uid_fetch(odd, ["UID", "FLAGS"])
        assert [i.uid for i in items] == odd
        assert await client.uid_fetch([], ["FLAGS"]) == []
        assert await client.uid_fetch("3001:4294967295", ["FLAGS"]) == []


@run_async
async def test_status_and_missing_folders(dovecot, mail_user):
    mailbox.append(dovecot, mail_user, "Sent", make_mail(1))
    async with await login(plain(dovecot), mail_user) as client:
        status = await client.status(
            "Sent", ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ"]
        )
        assert status["MESSAGES"] == 1
        assert status["UIDNEXT"] == 2
        with pytest.raises(FolderMissing) as missing:
            await client.examine("No such folder")
        assert missing.value.status == "NO"  # Dovecot 2.3 sends no [NONEXISTENT]: the text says it
        with pytest.raises(FolderMissing):
            await client.status("No such folder", ["MESSAGES"])
        assert (await client.examine("INBOX")).exists == 0  # still usable


# --- changes made by other clients ----------------------------------------------------------


@run_async
async def test_idle_sees_new_mail_from_another_client(dovecot, mail_user):
    client = await login(plain(dovecot), mail_user)
    await client.examine("INBOX")
    loop = asyncio.get_running_loop()
    appended_at: list[float] = []

    def append_later() -> None:
        time.sleep(0.3)
        appended_at.append(time.monotonic())
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(1))

    writer = loop.run_in_executor(None, append_later)
    events = await client.idle(max_seconds=20)
    returned = time.monotonic()
    await writer
    assert Exists(1) in events
    assert returned - appended_at[0] < 2.5
    assert (await client.noop()) == []  # IDLE ended cleanly
    await client.logout()


@run_async
async def test_qresync_reports_what_another_client_expunged_and_flagged(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(6)]
    client = await login(plain(dovecot), mail_user)
    assert await client.enable("QRESYNC") == {"QRESYNC", "CONDSTORE"}
    first = await client.examine("INBOX", condstore=True)
    assert first.highestmodseq is not None
    await client.examine("Sent")  # leave INBOX
    await asyncio.to_thread(mailbox.expunge, dovecot, mail_user, "INBOX", uids[2])
    await asyncio.to_thread(mailbox.expunge, dovecot, mail_user, "INBOX", uids[3])
    await asyncio.to_thread(mailbox.set_flags, dovecot, mail_user, "INBOX", uids[5], ["\\Flagged"])
    again = await client.examine("INBOX", qresync=(first.uidvalidity, first.highestmodseq))
    assert again.uidvalidity == first.uidvalidity
    vanished = {uid for low, high in again.vanished for uid in range(low, high + 1)}
    assert {uids[2], uids[3]} <= vanished
    assert [(i.uid, "\\Flagged" in (i.flags or ())) for i in again.changed] == [(uids[5], True)]
    assert again.highestmodseq is not None
    assert again.highestmodseq > first.highestmodseq
    # the same on the selected folder: UID FETCH ... (CHANGEDSINCE m VANISHED)
    changed = await client.uid_fetch(
        "1:4294967295", ["UID", "FLAGS"], changedsince=first.highestmodseq, vanished=True
    )
    assert [i.uid for i in changed] == [uids[5]]
    earlier = [e for e in client.drain_events() if isinstance(e, Vanished)]
    assert earlier
    assert earlier[0].earlier
    assert uids[2] in earlier[0]
    await client.logout()


@run_async
async def test_expunge_and_flag_changes_while_selected_become_events(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(3)]
    client = await login(plain(dovecot), mail_user)
    await client.enable("QRESYNC")
    await client.examine("INBOX")
    await asyncio.to_thread(mailbox.set_flags, dovecot, mail_user, "INBOX", uids[0], ["\\Seen"])
    await asyncio.to_thread(mailbox.expunge, dovecot, mail_user, "INBOX", uids[1])
    events = await client.noop()
    flags = [e for e in events if isinstance(e, FlagsChanged)]
    vanished = [e for e in events if isinstance(e, Vanished)]
    assert [(e.item.uid, "\\Seen" in (e.item.flags or ())) for e in flags] == [(uids[0], True)]
    assert [(v.ranges, v.earlier) for v in vanished] == [(((uids[1], uids[1]),), False)]
    await client.logout()


@run_async
async def test_unsolicited_responses_come_out_in_the_order_the_server_sent_them(dovecot, mail_user):
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(n)) for n in range(6)]
    with TcpProxy(dovecot.host, dovecot.port, record_server=True) as proxy:
        client = await login(plain(dovecot, proxy.port), mail_user)
        await client.enable("QRESYNC")
        await client.examine("INBOX")
        before = len(proxy.server_bytes()[0])
        for uid in uids[:3]:  # flags, expunges and arrivals, interleaved by another client
            await asyncio.to_thread(mailbox.set_flags, dovecot, mail_user, "INBOX", uid, ["\\Seen"])
            await asyncio.to_thread(mailbox.expunge, dovecot, mail_user, "INBOX", uid + 3)
            await asyncio.to_thread(mailbox.append, dovecot, mail_user, "INBOX", make_mail(uid))
        events = await client.noop()
        wire = proxy.server_bytes()[0][before:]
        await client.logout()
    kinds = {FlagsChanged: b"FETCH", Vanished: b"VANISHED", Exists: b"EXISTS"}
    sent = [
        word
        for line in wire.split(b"\r\n")
        if line.startswith(b"* ")
        for word in kinds.values()
        if f" {word.decode()}".encode() in line
    ]
    assert len(sent) >= 4
    assert [kinds[type(e)] for e in events if type(e) in kinds] == sent


@run_async
async def test_the_wire_log_never_shows_the_credentials_of_authenticate_plain(
    dovecot, mail_user, caplog
):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    client = await login(plain(dovecot), mail_user)
    await client.examine("INBOX")
    await client.logout()
    wire = "\n".join(r.getMessage() for r in caplog.records if r.name == "postroom.imap.wire")
    sasl = base64.b64encode(f"\0{mail_user.username}\0{mail_user.password}".encode()).decode()
    assert "C: A0001 AUTHENTICATE [redacted]" in wire  # the path real servers take, not LOGIN
    assert "EXAMINE" in wire  # the log is there, only the secrets are not
    assert mail_user.password not in wire
    assert sasl not in wire
    assert sasl[:16] not in wire


# --- a server without the extensions --------------------------------------------------------


@run_async
async def test_basic_server_works_and_we_never_send_what_it_did_not_advertise(
    dovecot_basic, basic_mail_user, caplog
):
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    uids = [mailbox.append(dovecot_basic, basic_mail_user, "INBOX", make_mail(n)) for n in range(4)]
    with TcpProxy(dovecot_basic.host, dovecot_basic.port) as proxy:
        client = await login(plain(dovecot_basic, proxy.port), basic_mail_user)
        assert not client.has("CONDSTORE")
        assert not client.has("ESEARCH")
        await client.send_id({"name": "postroom"})
        assert await client.enable("QRESYNC", "CONDSTORE") == frozenset()
        folders = await client.list_folders()
        assert "Sent" in {f.name for f in folders}
        selected = await client.examine("INBOX")
        assert (selected.exists, selected.highestmodseq) == (4, None)
        assert await client.uid_search("ALL") == uids
        items = await client.uid_fetch(uids, ["UID", "FLAGS", HEADERS])
        assert len(items) == 4
        assert (await client.status("Sent", ["MESSAGES", "UIDNEXT"]))["MESSAGES"] == 0
        assert await client.idle(max_seconds=0.2) == []
        await client.logout()
        wire_sent = b"".join(proxy.client_bytes())
    sent = wire_sent.upper()
    for word in (b"CONDSTORE", b"QRESYNC", b"ESEARCH", b"RETURN", b"SPECIAL-USE", b"MODSEQ",
                 b"CHANGEDSINCE", b"ENABLE", b"MOVE"):  # fmt: skip
        assert word not in sent, word
    assert b'ID ("name" "postroom")' in wire_sent
    wire = "\n".join(r.getMessage() for r in caplog.records if r.name == "postroom.imap.wire")
    assert not re.search(r"^C: .*(CONDSTORE|QRESYNC|ESEARCH|RETURN)", wire, re.MULTILINE)
    assert basic_mail_user.password not in caplog.text


# --- faults ---------------------------------------------------------------------------------


@run_async
async def test_a_cut_in_the_middle_of_a_big_fetch_is_connection_lost_and_we_reconnect(
    dovecot, mail_user, dovecot_proxy
):
    body = b"x" * 20_000 + b"\r\n"
    mailbox.fill_maildir(mail_user, "INBOX", (make_mail(n, body=body) for n in range(60)))
    address = plain(dovecot, dovecot_proxy.port)
    client = await login(address, mail_user, command_timeout=30)
    await client.examine("INBOX")
    dovecot_proxy.cut_after_server_bytes(300_000)
    started = time.monotonic()
    with pytest.raises(ConnectionLost):
        await client.uid_fetch("1:4294967295", ["UID", "BODY.PEEK[]"])
    assert time.monotonic() - started < 2
    with pytest.raises(ConnectionLost):
        await client.noop()
    await client.logout()  # never raises
    async with await login(address, mail_user) as again:
        assert (await again.examine("INBOX")).exists == 60
        assert len(await again.uid_fetch("1:4294967295", ["UID", "BODY.PEEK[]"])) == 60


@run_async
async def test_a_stalled_server_is_connection_lost_after_the_inactivity_timeout(
    dovecot, mail_user, dovecot_proxy
):
    mailbox.append(dovecot, mail_user, "INBOX", make_mail(1))
    client = await login(plain(dovecot, dovecot_proxy.port), mail_user, command_timeout=0.5)
    await client.examine("INBOX")
    dovecot_proxy.stall()
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="no data"):
        await client.uid_fetch([1], ["FLAGS"])
    assert 0.4 < time.monotonic() - started < 3
    dovecot_proxy.resume()
    await client.close()


@run_async
async def test_a_server_restart_during_idle_is_connection_lost(dovecot_basic, basic_mail_user):
    with TcpProxy(dovecot_basic.host, dovecot_basic.port) as proxy:
        client = await login(plain(dovecot_basic, proxy.port), basic_mail_user)
        await client.examine("INBOX")
        asyncio.get_running_loop().call_later(0.3, proxy.cut_all)
        started = time.monotonic()
        with pytest.raises(ConnectionLost):
            await client.idle(max_seconds=20)
        assert time.monotonic() - started < 2
        await client.close()


@run_async
@pytest.mark.parametrize("server", ["dovecot", "dovecot_basic"])
async def test_folders_with_their_counts_by_list_status_or_one_status_each(server, request, caplog):
    """Dovecot advertises LIST-STATUS: one LIST; the basic one does not: LIST, then STATUS."""
    dovecot = request.getfixturevalue(server)
    user = dovecot.add_user()
    mailbox.create_folder(dovecot, user, "Projects/Entwürfe")
    for n in range(3):
        mailbox.append(dovecot, user, "INBOX", make_mail(n))
    mailbox.append(dovecot, user, "Projects/Entwürfe", make_mail(9))
    mailbox.set_flags(dovecot, user, "INBOX", 1, ("\\Seen",))
    client = await login(plain(dovecot), user)
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")
    async with client:
        listed = await client.list_folders_with_status(["MESSAGES", "UNSEEN"])

    counts = {folder.name: values for folder, values in listed}
    assert counts["INBOX"] == {"MESSAGES": 3, "UNSEEN": 2}
    assert counts["Projects/Entwürfe"] == {"MESSAGES": 1, "UNSEEN": 1}
    assert counts.get("Projects") in (None, {"MESSAGES": 0, "UNSEEN": 0})
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("C: ")]
    statuses = [line for line in sent if re.match(r"C: \S+ STATUS ", line)]
    if server == "dovecot":
        assert client.has("LIST-STATUS")
        assert any("RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))" in line for line in sent)
        assert statuses == []
    else:
        assert not client.has("LIST-STATUS")
        assert len(statuses) >= 2
