"""A server that offers only TLS 1.1 is a TLS failure with advice, not a lost connection.

The server is Python's own ``ssl`` module on a real socket (OpenSSL 3 can still offer TLS 1.1
at security level 0); the client is ``ImapClient`` as the product makes it (TLS 1.2 or newer,
``default_ssl_context``'s settings, trusting the test CA). Both ways in are covered: implicit
TLS (port 993 style) and STARTTLS after a plain greeting.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from postroom.imap import ImapClient, ServerAddress, TlsFailed, TlsMode
from postroom.imap.connection import OLD_TLS_ADVICE
from tests.support.tls import client_context, issue_server_cert, new_ca, write_ca_pem


def old_tls_server_context(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context offering TLS 1.0 and 1.1 only, and the CA file that trusts it."""
    ca = new_ca()
    chain, key = issue_server_cert(ca, folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # else OpenSSL 3 has no cipher for TLS 1.1
    return context, write_ca_pem(ca, folder / "ca.pem")


@contextlib.contextmanager
def old_tls_server(context: ssl.SSLContext, *, starttls: bool) -> Iterator[tuple[int, list[str]]]:
    """Serve one connection on a free port: the TLS handshake at once, or after a plain
    greeting and the client's STARTTLS. Yields the port and the server's handshake errors."""
    listener = socket.create_server(("127.0.0.1", 0))
    errors: list[str] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                if starttls:
                    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] old server\r\n")
                    line = conn.recv(1024)  # "A0001 STARTTLS"
                    conn.sendall(line.split(b" ")[0] + b" OK Begin TLS negotiation now\r\n")
                try:
                    context.wrap_socket(conn, server_side=True).close()
                except (ssl.SSLError, OSError) as exc:
                    errors.append(getattr(exc, "reason", None) or str(exc))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], errors
    finally:
        listener.close()
        thread.join(10)


@pytest.mark.parametrize("mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
def test_a_tls_1_1_only_server_is_a_tls_failure_with_advice(tmp_path, mode):
    server_context, ca_pem = old_tls_server_context(tmp_path)
    client = client_context(ca_pem)
    client.minimum_version = ssl.TLSVersion.TLSv1_2  # as default_ssl_context()
    with old_tls_server(server_context, starttls=mode is TlsMode.STARTTLS) as (port, errors):
        address = ServerAddress("127.0.0.1", port, mode, ssl_context=client)
        with pytest.raises(TlsFailed) as caught:
            asyncio.run(ImapClient.connect(address, timeout=10))
    error = caught.value
    assert not error.retryable
    assert error.advice == OLD_TLS_ADVICE
    assert "TLS 1.2 or newer" in str(error)
    assert "no TLS version in common" in str(error)
    assert "closed the connection" not in str(error)
    assert errors == ["UNSUPPORTED_PROTOCOL"]  # the server really offered only TLS 1.1
