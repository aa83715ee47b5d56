"""Addresses that look like a record's address but are not: they match no record
(issue 11 item 10; ``domain.addresses.normalize_address`` and ``mail.parse``)."""

from __future__ import annotations

import pytest

from postroom.domain.addresses import has_invisible_characters, normalize_address
from postroom.domain.matching import MatchPolicy, plan_links
from postroom.mail.parse import parse_headers
from postroom.pipeline import list_participants

ANNA = "anna@acme.example"
DIRECTORY = {ANNA: [1]}
POLICY = MatchPolicy(own_addresses=frozenset({"me@firm.example"}))


@pytest.mark.parametrize(
    "address",
    [
        "anna@acme.example\u200b",
        "anna\u200c@acme.example",
        "anna@acme.exa\u202emple",
        "anna@acme.example\u2069",
        "anna@acme\u00a0.example",
        "anna@acme.example\x00",
        "anna@acme.example\u3164",
    ],
)
def test_an_address_with_an_invisible_character_is_no_address(address: str):
    assert has_invisible_characters(address)
    assert normalize_address(address) is None


@pytest.mark.parametrize("address", [ANNA, "Anna@BÜCHER.example", "o'neil+cv@acme.example"])
def test_ordinary_addresses_have_no_invisible_characters(address: str):
    assert not has_invisible_characters(address)
    assert normalize_address(address) is not None


@pytest.mark.parametrize(
    "field",
    [
        "<=?utf-8?q?anna?=@acme.example>",
        "Anna <=?utf-8?q?anna?=@acme.example>",
        "Anna <anna@acme.example\u200b>",
        "anna@acme.example\u200b",
        "Anna <anna@acme.example\u202e>",
    ],
)
def test_a_lookalike_sender_is_matched_to_no_record(field: str):
    raw = f"From: {field}\r\nTo: me@firm.example\r\n\r\n".encode()
    plan = plan_links(list_participants(parse_headers(raw)), DIRECTORY, POLICY)
    assert plan.person_ids == ()


def test_the_real_address_is_still_matched():
    raw = b"From: =?utf-8?q?Anna?= <anna@acme.example>\r\nTo: me@firm.example\r\n\r\n"
    plan = plan_links(list_participants(parse_headers(raw)), DIRECTORY, POLICY)
    assert plan.person_ids == (1,)
