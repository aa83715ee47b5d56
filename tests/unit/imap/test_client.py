"""Tests for postroom.imap.client and .connection over in-memory streams (no sockets).

``FakeServer`` is a scripted IMAP server behind an in-memory transport: it reassembles each
command the client writes (answering ``+`` to synchronising literals), records it, and answers
from a table of canned responses or from a test's own function. It checks what the client
sends and how it reacts to what servers send: unsolicited responses mid-command, a silent
server, a cut connection, IDLE.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from postroom.imap import (
    DEFAULT_LIMITS,
    AuthFailed,
    CapabilityMissing,
    CommandFailed,
    CommandTimedOut,
    ConnectionLost,
    Exists,
    Expunge,
    FlagsChanged,
    FolderMissing,
    ImapClient,
    LimitExceeded,
    Limits,
    PlaintextRefused,
    ProtocolError,
    ServerAddress,
    TlsMode,
    Unknown,
    Vanished,
    is_retryable_code,
)
from postroom.imap import client as client_module
from postroom.imap.errors import RETRYABLE_CODES

PRE_AUTH = "IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN"
POST_AUTH = "IMAP4rev1 ID ENABLE IDLE LITERAL+ CONDSTORE QRESYNC ESEARCH SPECIAL-USE"
BASIC = "IMAP4rev1 IDLE"
ADDRESS = ServerAddress("127.0.0.1", 143, TlsMode.PLAIN, allow_plaintext=True)

Answer = bytes | Callable[["FakeServer", str, str], None]


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 20))

    return wrapper


class _Transport(asyncio.Transport):
    def __init__(self, server: FakeServer) -> None:
        super().__init__()
        self._server = server
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._server.receive(bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._server.client_closed()

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class FakeServer:
    """A scripted server; ``answers`` maps a command name ("UID FETCH") to a response
    template (``{tag}`` is replaced) or a function ``(server, tag, arguments)``."""

    def __init__(
        self,
        *,
        capabilities: str = PRE_AUTH,
        post_capabilities: str = POST_AUTH,
        answers: dict[str, Answer] | None = None,
        greeting: bytes | None = None,
    ) -> None:
        self.capabilities = capabilities
        self.post_capabilities = post_capabilities
        self.answers: dict[str, Answer] = {
            "CAPABILITY": self._capability,
            "LOGIN": self._login,
            "AUTHENTICATE": self._authenticate,
            "NOOP": b"{tag} OK NOOP completed\r\n",
            "LOGOUT": self._logout,
            "ID": b'* ID ("name" "Fake")\r\n{tag} OK ID completed\r\n',
            "ENABLE": self._enable,
            "IDLE": b"+ idling\r\n",
        }
        self.answers.update(answers or {})
        self.greeting = greeting if greeting is not None else b"* OK Fake IMAP ready\r\n"
        self.commands: list[bytes] = []  # each command as sent, literals inline, no CRLF
        self.wire = bytearray()  # every byte the client sent
        self.closed = False
        self.logged_in = False
        self.idle_tag: str | None = None
        self.sasl_tag: str | None = None
        self.sasl_responses: list[str] = []
        self._buffer = bytearray()
        self._current = bytearray()
        self._literal = 0
        self._reader: asyncio.StreamReader | None = None
        self._protocol: asyncio.StreamReaderProtocol | None = None

    # --- plumbing ----------------------------------------------------------------------------

    def streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport = _Transport(self)
        protocol.connection_made(transport)
        self._reader, self._protocol = reader, protocol
        if self.greeting:
            self.send(self.greeting)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    def send(self, data: bytes) -> None:
        if not self.closed and self._reader is not None:
            self._reader.feed_data(data)

    def send_later(self, delay: float, data: bytes) -> None:
        asyncio.get_running_loop().call_later(delay, self.send, data)

    def eof(self) -> None:
        if not self.closed and self._reader is not None:
            self._reader.feed_eof()

    def client_closed(self) -> None:
        self.closed = True
        if self._protocol is not None:
            asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)

    def receive(self, data: bytes) -> None:
        self.wire += data
        self._buffer += data
        while True:
            if self._literal:
                if len(self._buffer) < self._literal:
                    return
                self._current += self._buffer[: self._literal]
                del self._buffer[: self._literal]
                self._literal = 0
                continue
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 2]
            self._current += line
            if line.endswith(b"}") and b"{" in line:
                marker = line[line.rindex(b"{") + 1 : -1]
                if marker.endswith(b"+"):
                    self._literal = int(marker[:-1])
                else:
                    self._literal = int(marker)
                    self.send(b"+ Ready for literal data\r\n")
                self._current += b"\r\n"
                continue
            command, self._current = bytes(self._current), bytearray()
            self.commands.append(command)
            self._dispatch(command.decode("utf-8", "replace"))

    def _dispatch(self, text: str) -> None:
        if self.sasl_tag is not None:  # the client's answer to "+ " after AUTHENTICATE PLAIN
            tag, self.sasl_tag = self.sasl_tag, None
            self.sasl_responses.append(text)
            self._login(self, tag, "")
            return
        if self.idle_tag is not None and text == "DONE":
            tag, self.idle_tag = self.idle_tag, None
            done = self.answers.get("DONE", b"{tag} OK Idle completed\r\n")
            self._answer(done, tag, "")
            return
        tag, _, rest = text.partition(" ")
        words = rest.split(" ")
        name = " ".join(words[:2]) if words[0].upper() == "UID" else words[0]
        arguments = rest[len(name) + 1 :]
        if name.upper() == "IDLE":
            self.idle_tag = tag
        answer = self.answers.get(name.upper())
        if answer is None:
            self.send(f"{tag} BAD Unknown command {name}\r\n".encode())
            return
        self._answer(answer, tag, arguments)

    def _answer(self, answer: Answer, tag: str, arguments: str) -> None:
        if isinstance(answer, bytes):
            self.send(answer.replace(b"{tag}", tag.encode()))
        else:
            answer(self, tag, arguments)

    # --- default answers ---------------------------------------------------------------------

    def _capability(self, server: FakeServer, tag: str, arguments: str) -> None:
        caps = self.post_capabilities if self.logged_in else self.capabilities
        self.send(f"* CAPABILITY {caps}\r\n{tag} OK done\r\n".encode())

    def _login(self, server: FakeServer, tag: str, arguments: str) -> None:
        self.logged_in = True
        self.send(f"{tag} OK [CAPABILITY {self.post_capabilities}] Logged in\r\n".encode())

    def _authenticate(self, server: FakeServer, tag: str, arguments: str) -> None:
        if arguments.upper() == "PLAIN":  # no SASL-IR: ask for the response
            self.sasl_tag = tag
            self.send(b"+ \r\n")
            return
        self._login(server, tag, arguments)

    def _logout(self, server: FakeServer, tag: str, arguments: str) -> None:
        self.send(f"* BYE Logging out\r\n{tag} OK Logout completed\r\n".encode())
        self.eof()

    def _enable(self, server: FakeServer, tag: str, arguments: str) -> None:
        self.send(f"* ENABLED {arguments}\r\n{tag} OK Enabled\r\n".encode())

    def sent(self) -> list[str]:
        """The commands without their tags."""
        return [c.decode("utf-8", "replace").partition(" ")[2] for c in self.commands]


async def connect(
    server: FakeServer, *, limits: Limits = DEFAULT_LIMITS, **options: float
) -> ImapClient:
    reader, writer = server.streams()
    return await ImapClient.from_streams(
        reader,
        writer,
        ADDRESS,
        timeout=options.get("timeout", 2.0),
        command_timeout=options.get("command_timeout", 2.0),
        limits=limits,
    )


async def logged_in(
    server: FakeServer, *, limits: Limits = DEFAULT_LIMITS, **options: float
) -> ImapClient:
    client = await connect(server, limits=limits, **options)
    await client.login("anna", "secret")
    return client


# --- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allow"), [("imap.example.com", True), ("10.0.0.1", True), ("127.0.0.1", False)]
)
@run_async
async def test_plain_text_is_refused_before_connecting(host, allow):
    with pytest.raises(PlaintextRefused):
        await ImapClient.connect(ServerAddress(host, 143, TlsMode.PLAIN, allow_plaintext=allow))


def test_the_store_and_the_imap_layer_share_one_tls_mode():
    from postroom.store.models import TlsMode as StoreTlsMode

    assert StoreTlsMode is TlsMode
    ServerAddress("localhost", 143, TlsMode.PLAIN, allow_plaintext=True).check()
    ServerAddress("::1", 143, TlsMode.PLAIN, allow_plaintext=True).check()


# --- connecting and logging in --------------------------------------------------------------


@run_async
async def test_greeting_capabilities_are_used_and_login_rereads_them():
    server = FakeServer(greeting=f"* OK [CAPABILITY {PRE_AUTH}] hi\r\n".encode())
    client = await connect(server)
    assert server.sent() == []  # the greeting had the capabilities
    assert client.has("sasl-ir")
    assert not client.has("QRESYNC")
    await client.login("anna", "secret")
    assert client.has("QRESYNC")
    assert client.has("ESEARCH")
    assert client.is_authenticated
    await client.logout()
    assert server.sent()[-1] == "LOGOUT"


@run_async
async def test_login_prefers_authenticate_plain_with_initial_response():
    server = FakeServer()
    client = await logged_in(server)
    assert server.sent() == ["CAPABILITY", "AUTHENTICATE PLAIN AGFubmEAc2VjcmV0"]
    await client.close()


@run_async
async def test_authenticate_plain_without_sasl_ir_answers_the_continuation(caplog):
    caplog.set_level(logging.DEBUG)
    server = FakeServer(capabilities="IMAP4rev1 AUTH=PLAIN")
    client = await connect(server)
    await client.login("anna", "secret")
    assert server.sent()[-2] == "AUTHENTICATE PLAIN"
    assert server.sasl_responses == ["AGFubmEAc2VjcmV0"]
    assert client.has("QRESYNC")
    assert "AGFubmEAc2VjcmV0" not in caplog.text
    await client.close()


@run_async
async def test_login_falls_back_to_login_with_a_synchronising_literal(caplog):
    caplog.set_level(logging.DEBUG)
    password = 'pässwörd "quoted" secret'
    server = FakeServer(capabilities="IMAP4rev1 ID")  # no AUTH=PLAIN, no LITERAL+
    client = await connect(server)
    await client.login("anna@example.com", password)
    login = server.commands[-1]
    assert login.startswith(b'A0002 LOGIN "anna@example.com" {')
    assert login.endswith(password.encode())
    assert b"+ Ready" not in server.wire  # the server sent "+", not the client
    assert password not in caplog.text
    assert "pässwörd" not in caplog.text
    assert any("LOGIN [redacted]" in r.getMessage() for r in caplog.records)
    await client.close()


@run_async
async def test_the_password_never_reaches_any_log(caplog):
    caplog.set_level(logging.DEBUG)
    for capabilities in ("IMAP4rev1 AUTH=PLAIN SASL-IR", "IMAP4rev1 LITERAL+", "IMAP4rev1"):
        server = FakeServer(capabilities=capabilities)
        client = await connect(server)
        await client.login("anna", "top-secret-9")
        await client.logout()
    wrong = FakeServer(answers={"LOGIN": b"{tag} NO [AUTHENTICATIONFAILED] Bad\r\n"})
    wrong.capabilities = "IMAP4rev1"
    client = await connect(wrong)
    with pytest.raises(AuthFailed) as failed:
        await client.login("anna", "top-secret-9")
    await client.close()
    assert "top-secret-9" not in str(failed.value)
    assert "top-secret-9" not in caplog.text
    import base64

    assert base64.b64encode(b"\x00anna\x00top-secret-9").decode() not in caplog.text


@run_async
async def test_wrong_password_is_auth_failed_and_a_busy_server_is_retryable():
    server = FakeServer(
        answers={"AUTHENTICATE": b"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"}
    )
    client = await connect(server)
    with pytest.raises(AuthFailed) as failed:
        await client.login("anna", "wrong")
    assert failed.value.code == "AUTHENTICATIONFAILED"
    assert not failed.value.retryable
    assert "app password" in failed.value.advice
    await client.close()
    busy = FakeServer(answers={"AUTHENTICATE": b"{tag} NO [UNAVAILABLE] Try later\r\n"})
    client = await connect(busy)
    with pytest.raises(CommandFailed) as unavailable:
        await client.login("anna", "secret")
    assert not isinstance(unavailable.value, AuthFailed)
    assert unavailable.value.retryable
    await client.close()


@pytest.mark.parametrize("code", sorted(RETRYABLE_CODES))
@run_async
async def test_login_refused_with_a_temporary_code_is_retryable_not_auth_failed(code):
    busy = FakeServer(answers={"AUTHENTICATE": f"{{tag}} NO [{code}] Not now\r\n".encode()})
    client = await connect(busy)
    with pytest.raises(CommandFailed) as refused:
        await client.login("anna", "secret")
    assert not isinstance(refused.value, AuthFailed)
    assert refused.value.retryable
    assert refused.value.code == code
    await client.close()


def test_retryable_codes_are_the_temporary_ones_of_rfc_5530():
    assert {"UNAVAILABLE", "LIMIT", "INUSE", "SERVERBUG"} == RETRYABLE_CODES
    assert all(is_retryable_code(code) for code in RETRYABLE_CODES)
    for code in (None, "AUTHENTICATIONFAILED", "NONEXISTENT", "CLIENTBUG", "unavailable"):
        assert not is_retryable_code(code)
        assert not CommandFailed("x", status="NO", code=code).retryable


@run_async
async def test_a_bye_greeting_is_connection_lost():
    server = FakeServer(greeting=b"* BYE Too many connections\r\n")
    with pytest.raises(ConnectionLost, match="Too many connections"):
        await connect(server)


@run_async
async def test_a_server_that_never_greets_times_out():
    server = FakeServer(greeting=b"")
    started = time.monotonic()
    with pytest.raises(Exception, match="no IMAP greeting") as failed:
        await connect(server, timeout=0.2)
    assert failed.value.reason == "timeout"  # type: ignore[attr-defined]
    assert time.monotonic() - started < 1.5


@run_async
async def test_data_after_the_starttls_answer_is_refused_as_injection():
    server = FakeServer(
        capabilities="IMAP4rev1 STARTTLS",
        answers={"STARTTLS": b"{tag} OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] x\r\n"},
    )
    reader, writer = server.streams()
    address = ServerAddress("127.0.0.1", 143, TlsMode.STARTTLS)
    with pytest.raises(ProtocolError, match="injection"):
        await ImapClient.from_streams(reader, writer, address, timeout=1, command_timeout=1)


@run_async
async def test_starttls_must_be_advertised():
    from postroom.imap import TlsFailed

    server = FakeServer(capabilities="IMAP4rev1 AUTH=PLAIN")
    reader, writer = server.streams()
    address = ServerAddress("127.0.0.1", 143, TlsMode.STARTTLS)
    with pytest.raises(TlsFailed, match="STARTTLS"):
        await ImapClient.from_streams(reader, writer, address, timeout=1, command_timeout=1)
    assert "STARTTLS" not in server.sent()


# --- never send what was not advertised -----------------------------------------------------


@run_async
async def test_capability_checks_raise_before_anything_is_sent():
    server = FakeServer(post_capabilities=BASIC)
    client = await logged_in(server)
    before = list(server.commands)
    with pytest.raises(CapabilityMissing):
        await client.examine("INBOX", condstore=True)
    with pytest.raises(CapabilityMissing):
        await client.examine("INBOX", qresync=(1, 2))
    with pytest.raises(CapabilityMissing):
        await client.uid_fetch([1], ["UID", "MODSEQ"])
    with pytest.raises(CapabilityMissing):
        await client.uid_fetch([1], ["UID", "FLAGS"], changedsince=5)
    with pytest.raises(CapabilityMissing):
        await client.uid_fetch([1], ["EMAILID"])
    with pytest.raises(CapabilityMissing):
        await client.enable("QRESYNC")
    with pytest.raises(CapabilityMissing):
        await client.status("INBOX", ["HIGHESTMODSEQ"])
    await client.send_id({"name": "postroom"})  # no ID: silently not sent
    assert server.commands == before
    await client.close()


@run_async
async def test_qresync_must_be_enabled_first_and_enable_sends_only_advertised_names():
    server = FakeServer()
    client = await logged_in(server)
    with pytest.raises(CapabilityMissing, match="enable"):
        await client.examine("INBOX", qresync=(1, 2))
    with pytest.raises(CapabilityMissing):
        await client.uid_fetch([1], ["FLAGS"], changedsince=1, vanished=True)
    assert await client.enable("QRESYNC", "UTF8=ACCEPT") == {"QRESYNC", "CONDSTORE"}
    assert server.sent()[-1] == "ENABLE QRESYNC"
    assert client.enabled == {"QRESYNC", "CONDSTORE"}
    await client.close()


@run_async
async def test_fetching_items_that_set_seen_is_refused_before_sending():
    server = FakeServer()
    client = await logged_in(server)
    for item in ("BODY[]", "BODY[HEADER]", "RFC822", "RFC822.TEXT", "BINARY[1]"):
        with pytest.raises(ValueError, match="Seen"):
            await client.uid_fetch([1], ["UID", item])
    assert not any("FETCH" in c for c in server.sent())
    await client.close()


@run_async
async def test_search_uses_esearch_only_when_advertised():
    esearch = FakeServer(
        answers={
            "UID SEARCH": lambda s, tag, args: s.send(
                f'* ESEARCH (TAG "{tag}") UID ALL 1:3,7\r\n{tag} OK done\r\n'.encode()
            )
        }
    )
    client = await logged_in(esearch)
    assert await client.uid_search("UID 1:100") == [1, 2, 3, 7]
    assert esearch.sent()[-1] == "UID SEARCH RETURN (ALL) UID 1:100"
    await client.close()
    classic = FakeServer(
        post_capabilities=BASIC,
        answers={"UID SEARCH": b"* SEARCH 7 3 1\r\n{tag} OK done\r\n"},
    )
    client = await logged_in(classic)
    assert await client.uid_search("ALL") == [1, 3, 7]
    assert classic.sent()[-1] == "UID SEARCH ALL"
    await client.close()


@run_async
async def test_an_esearch_of_another_command_is_not_taken():
    server = FakeServer(
        answers={
            "UID SEARCH": lambda s, tag, args: s.send(
                b'* ESEARCH (TAG "Z9") UID ALL 99\r\n'
                + f'* ESEARCH (TAG "{tag}") UID ALL 4\r\n{tag} OK done\r\n'.encode()
            )
        }
    )
    client = await logged_in(server)
    assert await client.uid_search("ALL") == [4]
    assert [type(e) for e in client.drain_events()] == [Unknown]
    await client.close()


@run_async
async def test_list_folders_asks_for_special_use_when_advertised():
    server = FakeServer(
        answers={
            "LIST": b'* LIST (\\HasNoChildren \\sent) "." "INBOX.Sent"\r\n'
            b'* LIST () "." INBOX\r\n{tag} OK done\r\n'
        }
    )
    client = await logged_in(server)
    folders = await client.list_folders()
    assert [(f.name, f.delimiter, sorted(f.flags)) for f in folders] == [
        ("INBOX.Sent", ".", ["\\HasNoChildren", "\\Sent"]),
        ("INBOX", ".", []),
    ]
    assert server.sent()[-1] == 'LIST "" "*" RETURN (SPECIAL-USE)'
    await client.close()
    basic = FakeServer(post_capabilities=BASIC, answers={"LIST": b"{tag} OK done\r\n"})
    client = await logged_in(basic)
    assert await client.list_folders() == []
    assert basic.sent()[-1] == 'LIST "" "*"'
    await client.close()


# --- untagged responses: claimed or events --------------------------------------------------


@run_async
async def test_an_unsolicited_fetch_in_the_middle_of_a_uid_fetch_becomes_an_event():
    body = b"Subject: Hi\r\n\r\n"
    fetch = (
        b"* 1 FETCH (UID 10 FLAGS () BODY[HEADER] {%d}\r\n%s)\r\n"
        b"* 7 FETCH (FLAGS (\\Seen))\r\n"  # another message, no UID: unsolicited
        b"* 8 FETCH (UID 99 FLAGS (\\Flagged) MODSEQ (5))\r\n"  # not asked for
        b"* 3 EXPUNGE\r\n"
        b"* 2 FETCH (UID 11 FLAGS () BODY[HEADER] {%d}\r\n%s)\r\n"
        b"* 2 FETCH (UID 11 FLAGS (\\Seen))\r\n"  # the same message again: merged
        b"{tag} OK Fetch completed\r\n"
    ) % (len(body), body, len(body), body)
    server = FakeServer(answers={"UID FETCH": fetch})
    client = await logged_in(server)
    items = await client.uid_fetch([10, 11], ["UID", "FLAGS", "BODY.PEEK[HEADER]"])
    assert [(i.uid, i.flags, i.section("BODY.PEEK[HEADER]")) for i in items] == [
        (10, (), body),
        (11, ("\\Seen",), body),
    ]
    events = client.drain_events()
    assert [type(e) for e in events] == [FlagsChanged, FlagsChanged, Expunge]
    assert isinstance(events[0], FlagsChanged)
    assert (events[0].item.seq, events[0].item.uid) == (7, 0)
    assert client.drain_events() == []
    await client.close()


@run_async
async def test_a_flags_only_fetch_for_a_requested_uid_is_an_event_when_flags_were_not_asked():
    body = b"x"
    fetch = (
        b"* 1 FETCH (UID 10 FLAGS (\\Seen))\r\n"
        b"* 1 FETCH (UID 10 BODY[1] {1}\r\n%s)\r\n{tag} OK done\r\n"
    ) % body
    server = FakeServer(answers={"UID FETCH": fetch})
    client = await logged_in(server)
    items = await client.uid_fetch([10], ["BODY.PEEK[1]"])
    assert [(i.uid, i.flags, i.sections) for i in items] == [(10, None, {"BODY[1]": b"x"})]
    assert [type(e) for e in client.drain_events()] == [FlagsChanged]
    await client.close()


@run_async
async def test_events_keep_their_arrival_order_across_commands():
    server = FakeServer(
        answers={
            "NOOP": b"* 3 EXPUNGE\r\n* VANISHED 7:9\r\n* 5 EXISTS\r\n{tag} OK done\r\n",
            "STATUS": b"* STATUS Sent (MESSAGES 2)\r\n* 6 EXISTS\r\n"
            b'* STATUS "INBOX" (MESSAGES 6 UIDNEXT 20)\r\n{tag} OK done\r\n',
        }
    )
    client = await logged_in(server)
    assert await client.status("inbox", ["MESSAGES", "UIDNEXT"]) == {"MESSAGES": 6, "UIDNEXT": 20}
    events = await client.noop()
    assert events[0].folder == "Sent"  # type: ignore[union-attr]
    assert events[1:] == [Exists(6), Expunge(3), Vanished(((7, 9),), False), Exists(5)]
    await client.close()


@run_async
async def test_a_response_that_cannot_be_parsed_fails_its_command_but_not_the_connection():
    server = FakeServer(
        answers={
            "UID FETCH": b'* 1 FETCH (UID 4 BODY[] "unterminated)\r\n{tag} OK done\r\n',
        }
    )
    client = await logged_in(server)
    with pytest.raises(ProtocolError):
        await client.uid_fetch([4], ["BODY.PEEK[]"])
    assert await client.noop() == [Unknown(b'* 1 FETCH (UID 4 BODY[] "unterminated)', "FETCH")]
    await client.close()


# --- EXAMINE and STATUS ---------------------------------------------------------------------


@run_async
async def test_examine_with_qresync():
    answer = (
        b"* OK [CLOSED] closed\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n"
        b"* OK [UIDNEXT 9] ok\r\n* OK [HIGHESTMODSEQ 77] ok\r\n* OK [ALERT] Read me\r\n"
        b"* VANISHED (EARLIER) 2:4\r\n* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (70))\r\n"
        b"{tag} OK [READ-ONLY] done\r\n"
    )
    server = FakeServer(answers={"EXAMINE": answer})
    client = await logged_in(server)
    await client.enable("QRESYNC")
    selected = await client.examine("Entwürfe", qresync=(42, 60))
    assert server.sent()[-1] == 'EXAMINE "Entw&APw-rfe" (QRESYNC (42 60))'
    assert (selected.uidvalidity, selected.uidnext, selected.exists) == (42, 9, 3)
    assert (selected.highestmodseq, selected.vanished) == (77, [(2, 4)])
    assert [(i.uid, i.modseq) for i in selected.changed] == [(1, 70)]
    (alert,) = client.drain_events()
    assert isinstance(alert, Unknown)
    assert alert.code is not None
    assert alert.code.name == "ALERT"
    await client.close()


@run_async
async def test_examine_and_status_of_a_missing_folder_raise_folder_missing():
    server = FakeServer(
        answers={
            "EXAMINE": b"{tag} NO [NONEXISTENT] Mailbox doesn't exist: Gone\r\n",
            "STATUS": b"{tag} NO Mailbox doesn't exist: Gone\r\n",
        }
    )
    client = await logged_in(server)
    with pytest.raises(FolderMissing) as missing:
        await client.examine("Gone")
    assert (missing.value.status, missing.value.code) == ("NO", "NONEXISTENT")
    with pytest.raises(FolderMissing):
        await client.status("Gone", ["MESSAGES"])
    await client.close()


# --- timers and connection loss -------------------------------------------------------------


@run_async
async def test_a_silent_server_is_connection_lost_after_the_inactivity_timeout():
    server = FakeServer(answers={"NOOP": b"", "UID FETCH": b"* 1 FETCH (UID 1 BODY[] {100}\r\nabc"})
    client = await logged_in(server, command_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="no data from the server"):
        await client.uid_fetch([1], ["BODY.PEEK[]"])
    assert 0.25 < time.monotonic() - started < 1.5
    with pytest.raises(ConnectionLost):  # every later call fails at once
        await client.noop()
    await client.close()


@run_async
async def test_the_inactivity_timer_is_reset_by_every_chunk():
    def trickle(server: FakeServer, tag: str, arguments: str) -> None:
        body = b"x" * 10
        server.send(b"* 1 FETCH (UID 1 BODY[] {10}\r\n")
        for i in range(10):  # 1 byte every 0.1 s: 1 s in all, timeout 0.3 s
            server.send_later(0.1 * (i + 1), body[i : i + 1])
        server.send_later(1.1, f")\r\n{tag} OK done\r\n".encode())

    server = FakeServer(answers={"UID FETCH": trickle})
    client = await logged_in(server, command_timeout=0.3)
    (item,) = await client.uid_fetch([1], ["BODY.PEEK[]"])
    assert item.section("BODY.PEEK[]") == b"x" * 10
    await client.close()


@run_async
async def test_a_cut_connection_fails_the_running_command_at_once_and_all_later_ones():
    def cut(server: FakeServer, tag: str, arguments: str) -> None:
        server.send(b"* 1 FETCH (UID 1 BODY[] {1000}\r\npartial")
        server.eof()

    server = FakeServer(answers={"UID FETCH": cut})
    client = await logged_in(server, command_timeout=30)
    started = time.monotonic()
    results = await asyncio.gather(
        client.uid_fetch([1], ["BODY.PEEK[]"]),
        client.noop(),
        client.status("INBOX", ["MESSAGES"]),
        return_exceptions=True,
    )
    assert all(isinstance(r, ConnectionLost) for r in results)
    assert time.monotonic() - started < 1
    assert server.closed
    await client.logout()  # never raises


@run_async
async def test_bye_then_eof_mentions_the_bye():
    def bye(server: FakeServer, tag: str, arguments: str) -> None:
        server.send(b"* BYE Shutting down\r\n")
        server.eof()

    server = FakeServer(answers={"NOOP": bye})
    client = await logged_in(server)
    with pytest.raises(ConnectionLost, match="Shutting down"):
        await client.noop()


# --- IDLE -----------------------------------------------------------------------------------


@run_async
async def test_idle_returns_soon_after_the_first_event_and_sends_done():
    server = FakeServer()
    client = await logged_in(server)
    server.send_later(0.1, b"* OK Still here\r\n")
    server.send_later(0.2, b"* 4 EXISTS\r\n")
    server.send_later(0.25, b"* 1 RECENT\r\n")
    started = time.monotonic()
    events = await client.idle(max_seconds=10)
    elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 1.0  # the first EXISTS + ~0.2 s to gather more
    assert [type(e) for e in events] == [Unknown, Exists, Unknown]
    assert server.sent()[-2] == "IDLE"
    assert server.commands[-1] == b"DONE"
    await client.close()


@run_async
async def test_idle_without_events_ends_after_max_seconds():
    server = FakeServer()
    client = await logged_in(server)
    started = time.monotonic()
    assert await client.idle(max_seconds=0.3) == []
    assert 0.25 < time.monotonic() - started < 1.0
    assert server.commands[-1] == b"DONE"
    await client.close()


@run_async
async def test_idle_returns_at_once_when_an_event_is_already_waiting():
    server = FakeServer(answers={"NOOP": b"* 9 EXISTS\r\n{tag} OK done\r\n"})
    client = await logged_in(server)
    server.answers["STATUS"] = b"* 9 EXISTS\r\n{tag} OK done\r\n"
    await client.status("INBOX", ["MESSAGES"])
    assert await client.idle(max_seconds=10) == [Exists(9)]
    assert "IDLE" not in server.sent()
    await client.close()


@run_async
async def test_no_answer_to_done_is_connection_lost(monkeypatch):
    monkeypatch.setattr(client_module, "IDLE_DONE_TIMEOUT", 0.2)
    server = FakeServer(answers={"DONE": b""})
    client = await logged_in(server)
    with pytest.raises(ConnectionLost, match="DONE"):
        await client.idle(max_seconds=0.1)
    assert server.closed


@run_async
async def test_a_bye_during_idle_ends_it_with_connection_lost():
    server = FakeServer()
    client = await logged_in(server)
    server.send_later(0.1, b"* BYE Server shutting down\r\n")
    asyncio.get_running_loop().call_later(0.15, server.eof)
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="shutting down"):
        await client.idle(max_seconds=10)
    assert time.monotonic() - started < 1


@run_async
async def test_cancelling_idle_closes_the_connection():
    server = FakeServer()
    client = await logged_in(server)
    task = asyncio.create_task(client.idle(max_seconds=10))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.closed
    with pytest.raises(ConnectionLost):
        await client.noop()


@run_async
async def test_idle_needs_the_capability():
    server = FakeServer(post_capabilities="IMAP4rev1")
    client = await logged_in(server)
    with pytest.raises(CapabilityMissing, match="IDLE"):
        await client.idle(max_seconds=1)
    await client.close()


@run_async
async def test_a_big_uid_list_goes_out_in_several_short_commands():
    server = FakeServer(answers={"UID FETCH": b"{tag} OK done\r\n"})
    client = await logged_in(server)
    assert await client.uid_fetch(list(range(1, 60_000, 2)), ["FLAGS"]) == []
    fetches = [c for c in server.commands if b"UID FETCH" in c]
    assert len(fetches) > 5
    assert all(len(c) + 2 <= 8192 for c in fetches)
    await client.close()


@run_async
async def test_a_preauth_greeting_makes_login_read_the_capabilities_only():
    server = FakeServer(greeting=b"* PREAUTH [CAPABILITY IMAP4rev1 IDLE] Logged in as anna\r\n")
    server.logged_in = True
    client = await connect(server)
    assert client.is_authenticated
    await client.login("anna", "secret")
    assert server.sent() == ["CAPABILITY"]
    assert client.has("QRESYNC")
    with pytest.raises(Exception, match="already logged in"):
        await client.login("anna", "secret")
    await client.close()


# --- limits: what a hostile server can cost (issue 11, items 2, 3 and 5) --------------------


def esearch(ranges: str) -> Answer:
    def answer(server: FakeServer, tag: str, arguments: str) -> None:
        server.send(f'* ESEARCH (TAG "{tag}") UID ALL {ranges}\r\n{tag} OK done\r\n'.encode())

    return answer


@run_async
async def test_a_whole_uid_space_esearch_is_clipped_to_the_uid_range_asked():
    # the 60-byte answer that expanded into 3.7 GB; the old expansion of 1:100000 shows it
    server = FakeServer(answers={"UID SEARCH": esearch("1:100000")})
    client = await logged_in(server)
    assert await client.uid_search_ranges("UID 10:20") == [(10, 20)]
    assert await client.uid_search("UID 10:20 SINCE 1-Jan-2026") == list(range(10, 21))
    server.answers["UID SEARCH"] = esearch("1:4294967295")
    assert await client.uid_search_ranges("UID 1:*") == [(1, 4294967295)]
    assert await client.uid_search_ranges("UID 7,9:11") == [(7, 7), (9, 11)]
    await client.close()


@run_async
async def test_a_classic_search_answer_is_clipped_too():
    numbers = " ".join(str(n) for n in range(1, 5001))
    server = FakeServer(
        post_capabilities=BASIC,
        answers={"UID SEARCH": f"* SEARCH {numbers}\r\n{{tag}} OK done\r\n".encode()},
    )
    client = await logged_in(server)
    assert await client.uid_search("UID 4990:*") == list(range(4990, 5001))
    assert await client.uid_search_ranges("ALL") == [(1, 5000)]  # nothing to clip to
    await client.close()


@run_async
async def test_uid_search_refuses_to_expand_more_uids_than_its_limit():
    server = FakeServer(answers={"UID SEARCH": esearch("1:5000")})
    client = await logged_in(server, limits=Limits(max_search_uids=1000))
    assert await client.uid_search_ranges("UID 1:*") == [(1, 5000)]  # ranges: no limit
    with pytest.raises(LimitExceeded, match="5000 UIDs"):
        await client.uid_search("UID 1:*")
    assert isinstance(client.connection_error, LimitExceeded)
    with pytest.raises(LimitExceeded):  # the connection is over, like a lost one
        await client.noop()


@run_async
async def test_a_search_set_with_too_many_ranges_ends_the_connection():
    many = ",".join(str(n) for n in range(1, 400, 2))
    server = FakeServer(answers={"UID SEARCH": esearch(many)})
    client = await logged_in(server, limits=Limits(max_set_ranges=100))
    with pytest.raises(LimitExceeded, match="100 ranges"):
        await client.uid_search_ranges("UID 1:*")
    assert server.closed


@pytest.mark.parametrize(
    "code",
    ["UIDVALIDITY 0", "UIDVALIDITY 4294967296", "UIDNEXT 0", "UIDNEXT 18446744073709551616"],
)
@run_async
async def test_an_examine_with_a_number_out_of_range_is_a_protocol_error(code):
    answer = f"* 1 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n* OK [{code}] ok\r\n{{tag}} OK done\r\n"
    server = FakeServer(answers={"EXAMINE": answer.encode()})
    client = await logged_in(server)
    with pytest.raises(ProtocolError, match="out of range"):
        await client.examine("INBOX")
    await client.close()


@run_async
async def test_a_highestmodseq_beyond_63_bits_is_a_protocol_error():
    answer = b"* OK [UIDVALIDITY 5] ok\r\n{tag} OK [HIGHESTMODSEQ 9223372036854775808] done\r\n"
    server = FakeServer(answers={"EXAMINE": answer})
    client = await logged_in(server)
    with pytest.raises(ProtocolError, match="HIGHESTMODSEQ is out of range"):
        await client.examine("INBOX", condstore=True)
    await client.close()


def trickle(body_size: int, every: float) -> Answer:
    """A FETCH whose literal comes one byte every ``every`` seconds, for ever."""

    def answer(server: FakeServer, tag: str, arguments: str) -> None:
        server.send(b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % body_size)

        def one_more() -> None:
            if not server.closed:
                server.send(b"x")
                asyncio.get_running_loop().call_later(every, one_more)

        asyncio.get_running_loop().call_later(every, one_more)

    return answer


@run_async
async def test_a_server_trickling_a_literal_hits_the_command_deadline():
    # one byte every 0.05 s keeps the inactivity timer (0.3 s) happy for ever
    server = FakeServer(answers={"UID FETCH": trickle(100_000_000, 0.05)})
    limits = Limits(command_seconds=0.6, min_rate=1000)
    client = await logged_in(server, command_timeout=0.3, limits=limits)
    started = time.monotonic()
    with pytest.raises(CommandTimedOut, match="UID FETCH did not complete within"):
        await client.uid_fetch([1], ["BODY.PEEK[]"])
    assert 0.55 < time.monotonic() - started < 2
    assert server.closed
    with pytest.raises(ConnectionLost):  # CommandTimedOut is a lost connection to callers
        await client.noop()


@run_async
async def test_the_deadline_grows_with_the_data_received():
    body = b"y" * 4000

    def steady(server: FakeServer, tag: str, arguments: str) -> None:
        server.send(b"* 1 FETCH (UID 1 BODY[] {4000}\r\n")
        for i in range(20):  # 200 octets every 0.05 s: 4000 octets/s for 1 s
            server.send_later(0.05 * (i + 1), body[200 * i : 200 * (i + 1)])
        server.send_later(1.05, f")\r\n{tag} OK done\r\n".encode())

    server = FakeServer(answers={"UID FETCH": steady})
    client = await logged_in(server, limits=Limits(command_seconds=0.5, min_rate=2000))
    (item,) = await client.uid_fetch([1], ["BODY.PEEK[]"])  # 1.05 s > 0.5 s: earned by data
    assert item.section("BODY.PEEK[]") == body
    await client.noop()  # the deadline ended with the command
    await asyncio.sleep(0.6)
    await client.noop()
    await client.close()


@run_async
async def test_a_long_idle_is_not_cut_by_the_command_deadline():
    server = FakeServer()
    client = await logged_in(server, limits=Limits(command_seconds=0.1))
    assert await client.idle(max_seconds=0.5) == []
    assert server.commands[-1] == b"DONE"
    await client.close()


@run_async
async def test_an_idle_whose_done_is_never_answered_hits_its_own_deadline(monkeypatch):
    monkeypatch.setattr(client_module, "IDLE_DONE_TIMEOUT", 0.3)

    def chatter(server: FakeServer, tag: str, arguments: str) -> None:
        def one_more() -> None:  # keeps the inactivity timer from firing
            if not server.closed:
                server.send(b"* OK still here\r\n")
                asyncio.get_running_loop().call_later(0.05, one_more)

        one_more()

    server = FakeServer(answers={"DONE": chatter})
    client = await logged_in(server, command_timeout=0.2, limits=Limits(command_seconds=0.1))
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="IDLE did not complete"):
        await client.idle(max_seconds=0.2, wake_on=())
    assert time.monotonic() - started < 2
    assert server.closed


@run_async
async def test_the_literals_of_one_response_are_capped_together():
    # six 200 MB literals were accepted; here three of 400 octets against 1000 in all
    literal = b"z" * 400
    answer = (
        b"* 1 FETCH (UID 1 BODY[1] {400}\r\n%s BODY[2] {400}\r\n%s BODY[3] {400}\r\n%s)\r\n"
        b"{tag} OK done\r\n"
    ) % (literal, literal, literal)
    server = FakeServer(answers={"UID FETCH": answer})
    limits = Limits(max_literal=500, max_response_literals=1000)
    client = await logged_in(server, limits=limits)
    with pytest.raises(LimitExceeded, match="add up to more than 1000"):
        await client.uid_fetch([1], ["BODY.PEEK[1]", "BODY.PEEK[2]", "BODY.PEEK[3]"])
    assert server.closed
    with pytest.raises(LimitExceeded):
        await client.noop()


@run_async
async def test_repeated_exists_lines_are_merged_not_kept():
    # 3 million EXISTS lines took 383 MB; 20,000 show it: one event is kept, the last
    lines = b"".join(b"* %d EXISTS\r\n" % n for n in range(1, 20_001))
    server = FakeServer(answers={"NOOP": lines + b"{tag} OK done\r\n"})
    client = await logged_in(server, limits=Limits(max_kept_responses=100))
    assert await client.noop() == [Exists(20_000)]
    server.answers["EXAMINE"] = lines + b"* OK [UIDVALIDITY 3] ok\r\n{tag} OK done\r\n"
    assert (await client.examine("INBOX")).exists == 20_000
    await client.close()


@run_async
async def test_too_many_unsolicited_responses_end_the_connection():
    lines = b"".join(b"* %d EXPUNGE\r\n" % (n % 50 + 1) for n in range(500))
    server = FakeServer(answers={"NOOP": lines + b"{tag} OK done\r\n"})
    client = await logged_in(server, limits=Limits(max_kept_responses=100))
    with pytest.raises(LimitExceeded, match="more untagged responses than are kept"):
        await client.noop()
    assert server.closed


@run_async
async def test_too_many_fetch_responses_for_one_command_end_the_connection():
    lines = b"".join(b"* %d FETCH (UID %d FLAGS ())\r\n" % (n, n) for n in range(1, 301))
    server = FakeServer(answers={"UID FETCH": lines + b"{tag} OK done\r\n"})
    client = await logged_in(server, limits=Limits(max_kept_responses=200))
    with pytest.raises(LimitExceeded):
        await client.uid_fetch_raw(list(range(1, 301)), ["FLAGS"])
    server = FakeServer(answers={"UID FETCH": lines + b"{tag} OK done\r\n"})
    client = await logged_in(server, limits=Limits(max_kept_octets=5000))
    with pytest.raises(LimitExceeded, match="octets"):
        await client.uid_fetch(list(range(1, 301)), ["FLAGS"])
    server = FakeServer(answers={"UID FETCH": lines + b"{tag} OK done\r\n"})
    client = await logged_in(server, limits=Limits(max_kept_responses=300))
    assert len(await client.uid_fetch(list(range(1, 301)), ["FLAGS"])) == 300  # at the cap
    await client.close()


@run_async
async def test_the_ranges_of_held_search_answers_count_against_the_cap():
    # each answer is small on the wire; its ranges are what costs memory
    many = ",".join(str(n) for n in range(1, 100, 2))  # 50 ranges

    def three(server: FakeServer, tag: str, arguments: str) -> None:
        answer = f'* ESEARCH (TAG "{tag}") UID ALL {many}\r\n'.encode()
        server.send(answer * 3 + f"{tag} OK done\r\n".encode())

    server = FakeServer(answers={"UID SEARCH": three})
    client = await logged_in(server, limits=Limits(max_kept_responses=150))
    with pytest.raises(LimitExceeded, match="153 responses"):
        await client.uid_search_ranges("UID 1:*")
    server = FakeServer(answers={"UID SEARCH": three})
    client = await logged_in(server, limits=Limits(max_kept_responses=153))
    assert len(await client.uid_search_ranges("UID 1:*")) == 50
    await client.close()


@pytest.mark.parametrize(
    ("criteria", "asked"),
    [
        ("UID 5:*", [(5, 4294967295)]),
        ("  uid 1:3,7,2 SINCE 1-Jan-2026", [(1, 3), (7, 7)]),
        ("UID 9:4", [(4, 9)]),
        ("ALL", None),
        ("OR UID 1 UID 2", None),
        ("NOT UID 1:5", None),
        ("UIDNEXT", None),
    ],
)
def test_the_uid_range_asked_is_only_a_leading_uid_key(criteria, asked):
    assert client_module.asked_uid_ranges(criteria) == asked


def test_intersect_ranges():
    intersect = client_module.intersect_ranges
    assert intersect([(1, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]
    assert intersect([(1, 4294967295)], [(3, 3), (7, 9)]) == [(3, 3), (7, 9)]
    assert intersect([(1, 2)], [(3, 4)]) == []
    assert intersect([], [(1, 5)]) == []
