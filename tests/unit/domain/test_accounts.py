"""Tests for postroom.domain.accounts: the loopback rule every layer shares."""

from __future__ import annotations

import doctest

import pytest

import postroom.domain.accounts
from postroom.domain.accounts import TlsMode, is_loopback_host
from postroom.imap import PlaintextRefused, ServerAddress
from postroom.imap import client as imap_client
from postroom.services import accounts as account_service


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "imap.localhost",  # RFC 6761 section 6.3: every name under .localhost is loopback
        "dovecot.test.localhost",
        "127.0.0.1",
        "127.255.0.9",
        "::1",
        "[::1]",
        " localhost ",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "localhost.example",  # a real domain whose first label is localhost
        "mylocalhost",
        "localhost-imap",
        "127.0.0.1.example",
        "10.0.0.1",
        "192.168.1.1",
        "::2",
        "imap.firm.example",
        "",
    ],
)
def test_hosts_that_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_the_imap_client_and_the_account_checks_share_the_one_rule() -> None:
    assert imap_client.is_loopback_host is is_loopback_host
    assert account_service.is_loopback_host is is_loopback_host
    ServerAddress("imap.localhost", 143, TlsMode.PLAIN, allow_plaintext=True).check()
    with pytest.raises(PlaintextRefused):
        ServerAddress("localhost.example", 143, TlsMode.PLAIN, allow_plaintext=True).check()


def test_the_docstring_examples_run() -> None:
    assert doctest.testmod(postroom.domain.accounts).failed == 0
