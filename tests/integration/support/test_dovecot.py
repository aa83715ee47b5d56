"""The test infrastructure itself, checked with the stdlib ``imaplib`` (never our IMAP code):
private Dovecot servers (plain and TLS, full and basic), the mailbox helpers, the fault proxy."""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import pytest

from tests.support import mailbox
from tests.support.dovecot import DovecotServer, MailUser
from tests.support.tcpproxy import TcpProxy
from tests.support.tls import client_context, untrusted_ca_pem

FULL_ONLY = ("CONDSTORE", "QRESYNC", "ESEARCH", "SPECIAL-USE", "MOVE", "NOTIFY")


def make_mail(n: int, *, body: str = "hello", date: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Example <anna@example.test>"
    msg["To"] = "me@example.test"
    msg["Subject"] = f"message {n}"
    msg["Message-ID"] = f"<m{n}.{time.monotonic_ns()}@example.test>"
    msg["Date"] = date or "Tue, 03 Nov 2026 10:00:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()


@contextlib.contextmanager
def connected(host: str, port: int, user: MailUser | None = None) -> Iterator[imaplib.IMAP4]:
    """A stdlib connection that is closed at the end whatever state it is in (cut, timed out)."""
    conn = imaplib.IMAP4(host, port, timeout=10)
    try:
        if user is not None:
            conn.login(user.username, user.password)
        yield conn
    finally:
        conn.shutdown()


def first_group(pattern: bytes, text: bytes) -> bytes:
    found = re.search(pattern, text)
    assert found is not None, text[:300]
    return found.group(1)


def capabilities(conn: imaplib.IMAP4) -> set[str]:
    typ, data = conn.capability()
    assert typ == "OK"
    return set(data[0].decode().upper().split())


# -- servers, TLS, logins --------------------------------------------------------------------------


def test_login_plain_and_implicit_tls(dovecot: DovecotServer, mail_user: MailUser) -> None:
    plain = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    assert plain.login(mail_user.username, mail_user.password)[0] == "OK"
    plain.logout()

    context = ssl.create_default_context(cafile=str(dovecot.ca_pem_path))
    secure = imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=context, timeout=10)
    assert isinstance(secure.sock, ssl.SSLSocket)
    assert secure.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert secure.login(mail_user.username, mail_user.password)[0] == "OK"
    secure.logout()


def test_starttls_on_the_plain_port(dovecot: DovecotServer, mail_user: MailUser) -> None:
    conn = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    assert "STARTTLS" in capabilities(conn)
    conn.starttls(ssl_context=client_context(dovecot.ca_pem_path))
    assert conn.login(mail_user.username, mail_user.password)[0] == "OK"
    conn.logout()


def test_tls_with_a_ca_that_did_not_sign_the_server_is_refused(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    context = client_context(untrusted_ca_pem(tmp_path))
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=context, timeout=10)


def test_a_certificate_for_another_host_name_is_refused() -> None:
    with DovecotServer(tls_hostnames=("imap.elsewhere.test",)) as server:
        context = client_context(server.ca_pem_path)  # the right CA, the wrong name
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            imaplib.IMAP4_SSL(server.host, server.tls_port, ssl_context=context, timeout=10)
        # The same certificate is accepted under the name it was issued for.
        with (
            socket.create_connection((server.host, server.tls_port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="imap.elsewhere.test") as tls_sock,
        ):
            assert tls_sock.recv(100).startswith(b"* OK")


def test_a_wrong_password_fails_fast_and_does_not_slow_later_logins(
    dovecot: DovecotServer, mail_user: MailUser
) -> None:
    # Dovecot's per-IP auth penalty (2-15 s on every later login) is switched off.
    began = time.monotonic()
    for _ in range(2):
        conn = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            conn.login(mail_user.username, "wrong")
        conn.logout()
    with dovecot.imap(mail_user):
        pass
    assert time.monotonic() - began < 3.0


def test_users_are_fresh_and_isolated(dovecot: DovecotServer) -> None:
    a, b = dovecot.add_user(), dovecot.add_user()
    named = dovecot.add_user("recruiter@example.test", "s3cret")
    assert len({a.username, b.username, named.username}) == 3
    assert named.address == "recruiter@example.test"
    mailbox.append(dovecot, a, "INBOX", make_mail(1))
    assert mailbox.list_uids(dovecot, a, "INBOX") == [1]
    assert mailbox.list_uids(dovecot, b, "INBOX") == []
    assert a.maildir.is_dir()
    assert a.maildir.stat().st_uid == a.uid == 65534
    with pytest.raises(ValueError, match="exists already"):
        dovecot.add_user("recruiter@example.test")


def test_full_server_capabilities(dovecot: DovecotServer, mail_user: MailUser) -> None:
    assert dovecot.capabilities_variant == "full"
    with dovecot.imap(mail_user) as conn:
        caps = capabilities(conn)
    assert set(FULL_ONLY) <= caps
    assert {"IDLE", "UIDPLUS", "ENABLE"} <= caps


def test_basic_server_capabilities(dovecot_basic: DovecotServer, basic_mail_user: MailUser) -> None:
    assert dovecot_basic.capabilities_variant == "basic"
    with dovecot_basic.imap(basic_mail_user) as conn:
        caps = capabilities(conn)
    assert not set(FULL_ONLY) & caps
    assert {"IMAP4REV1", "IDLE", "UIDPLUS", "NAMESPACE", "CHILDREN"} <= caps


def test_special_use_folders(
    dovecot: DovecotServer,
    mail_user: MailUser,
    dovecot_basic: DovecotServer,
    basic_mail_user: MailUser,
) -> None:
    full = mailbox.list_folders(dovecot, mail_user)
    assert "\\Sent" in full["Sent"]
    for name in ("Drafts", "Trash", "Junk", "Archive"):
        assert f"\\{name}" in full[name]
    basic = mailbox.list_folders(dovecot_basic, basic_mail_user)
    assert set(basic) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    assert not any(a in ("\\Sent", "\\Trash") for attrs in basic.values() for a in attrs)
    # CREATE of an auto-created folder succeeds (Dovecot creates it on disk then); CREATE of a
    # folder that is really there is refused with ALREADYEXISTS, which create_folder reports.
    mailbox.create_folder(dovecot_basic, basic_mail_user, "Sent")
    assert mailbox.create_folder(dovecot_basic, basic_mail_user, "Notes") is True
    assert mailbox.create_folder(dovecot_basic, basic_mail_user, "Notes") is False


def test_restart_drops_connections_and_keeps_the_mail() -> None:
    with DovecotServer() as server:
        user = server.add_user()
        mailbox.append(server, user, "INBOX", make_mail(1))
        port, tls_port = server.port, server.tls_port
        with connected(server.host, server.port, user) as conn:
            server.restart()
            with pytest.raises((imaplib.IMAP4.abort, OSError)):
                conn.noop()
        assert (server.port, server.tls_port) == (port, tls_port)
        assert mailbox.list_uids(server, user, "INBOX") == [1]
    assert not server.running
    assert not server.folder.exists()


# -- mailbox helpers -------------------------------------------------------------------------------


def test_append_returns_uids_and_keeps_flags_and_date(
    dovecot: DovecotServer, mail_user: MailUser
) -> None:
    when = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)
    uids = [mailbox.append(dovecot, mail_user, "Sent", make_mail(i)) for i in range(3)]
    assert uids == [1, 2, 3]
    uid = mailbox.append(dovecot, mail_user, "INBOX", make_mail(9), (r"\Seen", "$Hot"), when)
    assert mailbox.snapshot_flags(dovecot, mail_user, "INBOX") == {uid: (b"$Hot", rb"\Seen")}
    with dovecot.imap(mail_user) as conn:
        conn.select("INBOX", readonly=True)
        _, data = conn.uid("FETCH", str(uid), "(INTERNALDATE)")
    assert b'"04-May-2025 03:02:01 +0000"' in data[0]
    assert mailbox.folder_status(dovecot, mail_user, "Sent")["MESSAGES"] == 3


def test_folders_move_and_expunge(dovecot: DovecotServer, mail_user: MailUser) -> None:
    assert mailbox.create_folder(dovecot, mail_user, "Clients/Ünïcode & Co") is True
    assert "Clients/Ünïcode & Co" in mailbox.list_folders(dovecot, mail_user)
    first = mailbox.append(dovecot, mail_user, "INBOX", make_mail(1))
    second = mailbox.append(dovecot, mail_user, "INBOX", make_mail(2))
    new_uid = mailbox.move(dovecot, mail_user, "INBOX", first, "Clients/Ünïcode & Co")
    assert new_uid == 1
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == [second]
    assert mailbox.list_uids(dovecot, mail_user, "Clients/Ünïcode & Co") == [new_uid]
    mailbox.expunge(dovecot, mail_user, "INBOX", second)
    assert mailbox.list_uids(dovecot, mail_user, "INBOX") == []
    mailbox.delete_folder(dovecot, mail_user, "Clients/Ünïcode & Co")
    assert "Clients/Ünïcode & Co" not in mailbox.list_folders(dovecot, mail_user)


def test_move_without_the_move_extension(
    dovecot_basic: DovecotServer, basic_mail_user: MailUser
) -> None:
    uid = mailbox.append(dovecot_basic, basic_mail_user, "INBOX", make_mail(1))
    assert mailbox.move(dovecot_basic, basic_mail_user, "INBOX", uid, "Archive") == 1
    assert mailbox.list_uids(dovecot_basic, basic_mail_user, "INBOX") == []


def test_snapshot_flags_round_trip(dovecot: DovecotServer, mail_user: MailUser) -> None:
    uids = [mailbox.append(dovecot, mail_user, "INBOX", make_mail(i)) for i in range(3)]
    before = mailbox.snapshot_flags(dovecot, mail_user, "INBOX")
    assert before == dict.fromkeys(uids, ())
    # Reading with BODY.PEEK (as a well-behaved client does) changes nothing...
    with dovecot.imap(mail_user) as conn:
        conn.select("INBOX", readonly=True)
        conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    assert mailbox.snapshot_flags(dovecot, mail_user, "INBOX") == before
    # ...a plain BODY[] fetch does, and so does another client.
    with dovecot.imap(mail_user) as conn:
        conn.select("INBOX")
        conn.uid("FETCH", str(uids[0]), "(BODY[])")
    mailbox.set_flags(dovecot, mail_user, "INBOX", uids[1], [r"\Flagged"])
    after = mailbox.snapshot_flags(dovecot, mail_user, "INBOX")
    assert after == {uids[0]: (rb"\Seen",), uids[1]: (rb"\Flagged",), uids[2]: ()}
    mailbox.set_flags(dovecot, mail_user, "INBOX", uids[1], [r"\Flagged"], mode="remove")
    mailbox.set_flags(dovecot, mail_user, "INBOX", uids[0], [], mode="replace")
    assert mailbox.snapshot_flags(dovecot, mail_user, "INBOX") == before
    assert mailbox.snapshot_flags(dovecot, mail_user, "Trash") == {}


def x_guids(dovecot: DovecotServer, user: MailUser, folder: str) -> list[bytes]:
    with dovecot.imap(user) as conn:
        conn.select(mailbox.quote_mailbox(folder), readonly=True)
        _, data = conn.uid("FETCH", "1:*", "(X-GUID)")
    return [first_group(rb"X-GUID (\S+)\)", line) for line in data]


@pytest.mark.parametrize("how", ["reappend", "rebuild"])
@pytest.mark.parametrize("folder", ["Archive", "INBOX"])
def test_reset_uidvalidity(
    dovecot: DovecotServer, mail_user: MailUser, folder: str, how: Literal["reappend", "rebuild"]
) -> None:
    raws = [make_mail(i) for i in range(4)]
    for raw in raws:
        mailbox.append(dovecot, mail_user, folder, raw, flags=(r"\Seen",))
    mailbox.expunge(dovecot, mail_user, folder, 2)
    before = mailbox.folder_status(dovecot, mail_user, folder)
    guids = x_guids(dovecot, mail_user, folder)
    old, new = mailbox.reset_uidvalidity(dovecot, mail_user, folder, how)
    assert (x_guids(dovecot, mail_user, folder) == guids) is (how == "rebuild")
    assert old == before["UIDVALIDITY"]
    assert new != old
    assert mailbox.folder_status(dovecot, mail_user, folder)["UIDVALIDITY"] == new
    assert mailbox.list_uids(dovecot, mail_user, folder) == [1, 2, 3]
    assert set(mailbox.snapshot_flags(dovecot, mail_user, folder).values()) == {(rb"\Seen",)}
    with dovecot.imap(mail_user) as conn:
        conn.select(folder, readonly=True)
        _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = re.findall(rb"message (\d)", b"".join(p[1] for p in data if isinstance(p, tuple)))
    assert subjects == [b"0", b"2", b"3"]


def test_fill_maildir_500_then_select(dovecot: DovecotServer, mail_user: MailUser) -> None:
    raws = [
        make_mail(i, date=f"Mon, 02 Mar 2026 {i // 60 % 24:02d}:{i % 60:02d}:00 +0000")
        for i in range(500)
    ]
    began = time.monotonic()
    assert mailbox.fill_maildir(mail_user, "INBOX", raws[:300], seen=True) == 300
    assert mailbox.fill_maildir(mail_user, "INBOX", raws[300:]) == 200
    assert (mail_user.maildir / "cur").stat().st_uid == mail_user.uid
    with dovecot.imap(mail_user) as conn:
        typ, data = conn.select("INBOX", readonly=True)
        assert (typ, data) == ("OK", [b"500"])
        _, fetched = conn.uid("FETCH", "1,300,301,500", "(FLAGS INTERNALDATE BODY.PEEK[HEADER])")
    fill_seconds = time.monotonic() - began
    headers = [p[0] + p[1] for p in fetched if isinstance(p, tuple)]
    subjects = [first_group(rb"Subject: message (\d+)", h) for h in headers]
    assert subjects == [b"0", b"299", b"300", b"499"]
    assert [b"\\Seen" in h for h in headers] == [True, True, False, False]
    assert b'INTERNALDATE "02-Mar-2026 08:19:00 +0000"' in headers[3]  # message 499
    assert fill_seconds < 5


def test_fill_maildir_into_a_new_subfolder(dovecot: DovecotServer, mail_user: MailUser) -> None:
    mailbox.fill_maildir(mail_user, "Projects/Été", [make_mail(1), make_mail(2)], seen=True)
    assert mailbox.maildir_folder_path(mail_user, "Projects/Été").name == ".Projects.&AMk-t&AOk-"
    assert "Projects/Été" in mailbox.list_folders(dovecot, mail_user)
    assert mailbox.list_uids(dovecot, mail_user, "Projects/Été") == [1, 2]


# -- the TCP proxy ---------------------------------------------------------------------------------


def test_proxy_forwards_and_counts(dovecot: DovecotServer, mail_user: MailUser) -> None:
    with TcpProxy(dovecot.host, dovecot.port) as proxy:
        conn = imaplib.IMAP4(proxy.host, proxy.port, timeout=10)
        conn.login(mail_user.username, mail_user.password)
        conn.select("INBOX")
        conn.logout()
        assert proxy.connections_accepted == 1
        assert proxy.bytes_to_server > 0
        assert proxy.bytes_to_client > 0
        sent = proxy.client_bytes()[0]
        assert re.search(rb"^\w+ LOGIN ", sent, re.MULTILINE)
        assert b" SELECT INBOX\r\n" in sent
    assert proxy.connections_open == 0


def _big_mailbox(dovecot: DovecotServer, user: MailUser) -> None:
    mailbox.fill_maildir(user, "INBOX", [make_mail(i, body="x" * 20_000) for i in range(10)])


def test_proxy_cut_after_server_bytes_breaks_a_fetch_midway(
    dovecot: DovecotServer, mail_user: MailUser, dovecot_proxy: TcpProxy
) -> None:
    _big_mailbox(dovecot, mail_user)
    proxy = dovecot_proxy
    with connected(proxy.host, proxy.port, mail_user) as conn:
        conn.select("INBOX", readonly=True)
        before = proxy.bytes_to_client
        proxy.cut_after_server_bytes(50_000)
        with pytest.raises(imaplib.IMAP4.abort):
            conn.uid("FETCH", "1:*", "(BODY.PEEK[])")  # about 200 kB of response
    assert proxy.bytes_to_client - before == 50_000
    assert proxy.connections_open == 0
    # The cut is one-shot: the next connection works.
    with connected(proxy.host, proxy.port, mail_user) as again:
        assert again.select("INBOX")[1] == [b"10"]


def test_proxy_cut_after_client_bytes_on_one_connection(
    dovecot_proxy: TcpProxy, mail_user: MailUser
) -> None:
    proxy = dovecot_proxy
    with (
        connected(proxy.host, proxy.port, mail_user) as first,
        connected(proxy.host, proxy.port, mail_user) as second,
    ):
        sent_before = len(proxy.client_bytes()[1])
        proxy.cut_after_client_bytes(5, connection=1)  # only the second connection
        assert first.noop()[0] == "OK"
        with pytest.raises(imaplib.IMAP4.abort):
            second.noop()
        assert len(proxy.client_bytes()[1]) == sent_before + 5  # half a command line
        assert first.noop()[0] == "OK"
    assert proxy.connections_accepted == 2


def test_proxy_cut_all_with_fin_and_with_rst(dovecot_proxy: TcpProxy, mail_user: MailUser) -> None:
    proxy = dovecot_proxy
    with (
        connected(proxy.host, proxy.port, mail_user) as one,
        connected(proxy.host, proxy.port, mail_user),
    ):
        assert proxy.cut_all() == 2
        with pytest.raises(imaplib.IMAP4.abort):
            one.noop()
    with connected(proxy.host, proxy.port, mail_user) as conn:
        assert proxy.cut_all(reset=True) == 1
        with pytest.raises((ConnectionResetError, imaplib.IMAP4.abort)):
            conn.noop()
    assert proxy.connections_accepted == 3


def test_proxy_stall_and_resume(dovecot_proxy: TcpProxy, mail_user: MailUser) -> None:
    proxy = dovecot_proxy
    with connected(proxy.host, proxy.port, mail_user) as conn:
        proxy.stall(0.3)
        began = time.monotonic()
        assert conn.noop()[0] == "OK"
        assert time.monotonic() - began >= 0.3
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as raw:
        assert raw.recv(1000).startswith(b"* OK")
        proxy.stall()  # until resume()
        raw.sendall(b"a1 NOOP\r\n")
        raw.settimeout(0.2)
        with pytest.raises(TimeoutError):
            raw.recv(1000)
        proxy.resume()
        raw.settimeout(5)
        assert raw.recv(1000).startswith(b"a1 OK")


def test_proxy_refuse_new(dovecot_proxy: TcpProxy, mail_user: MailUser) -> None:
    proxy = dovecot_proxy
    with connected(proxy.host, proxy.port) as open_conn:
        proxy.refuse_new(True)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((proxy.host, proxy.port), timeout=5)
        assert open_conn.login(mail_user.username, mail_user.password)[0] == "OK"
        proxy.refuse_new(False)
        with connected(proxy.host, proxy.port, mail_user) as conn:
            assert conn.noop()[0] == "OK"


def test_idle_pushes_new_mail_within_a_second(dovecot: DovecotServer, mail_user: MailUser) -> None:
    with socket.create_connection((dovecot.host, dovecot.port), timeout=5) as raw:
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"* OK")
        raw.sendall(
            f"a LOGIN {mail_user.username} {mail_user.password}\r\nb SELECT INBOX\r\n".encode()
        )
        while not reader.readline().startswith(b"b OK"):
            pass
        raw.sendall(b"c IDLE\r\n")
        assert reader.readline().startswith(b"+ ")
        began = time.monotonic()
        mailbox.append(dovecot, mail_user, "INBOX", make_mail(1))
        assert reader.readline() == b"* 1 EXISTS\r\n"
        assert time.monotonic() - began < 1.5
        raw.sendall(b"DONE\r\nd LOGOUT\r\n")
        reader.close()
