"""The MIME corners of issue 10 item 3, on both paths: the whole message
(``parse_message``) and the IMAP path (BODYSTRUCTURE, then the text part:
``tests.unit.mail.test_structure.read_via_imap``). The messages are in tests/data/mime/."""

from __future__ import annotations

from pathlib import Path

import pytest

from postroom.mail import parse_message
from postroom.mail.types import Body
from tests.unit.mail.test_structure import read_via_imap

MIME = Path(__file__).parents[2] / "data" / "mime"


def read(name: str) -> bytes:
    return (MIME / name).read_bytes()


def both_paths(raw: bytes) -> list[Body]:
    """The body of ``raw`` from the whole message and from the IMAP path."""
    return [parse_message(raw).body, read_via_imap(raw)[1]]


def described(body: Body) -> list[tuple[str | None, str, str | None]]:
    return [(a.filename, a.content_type, a.part) for a in body.attachments]


# --- signatures and text/enriched are not files -----------------------------------------------


def test_a_text_enriched_alternative_is_not_an_attachment():
    for body in both_paths(read("enriched_alternative.eml")):
        assert body.text.strip() == "Please find my application below."
        assert body.attachments == ()


def test_a_pgp_signature_is_not_an_attachment():
    for body in both_paths(read("pgp_signed.eml")):
        assert body.text.strip() == "My CV is attached."
        assert [(a.filename, a.content_type, a.part) for a in body.attachments] == [
            ("cv.pdf", "application/pdf", "1.2")
        ]


def test_an_smime_signature_is_not_an_attachment():
    for body in both_paths(read("smime_signed.eml")):
        assert body.text.strip() == "Signed words."
        assert body.attachments == ()


def test_a_text_enriched_file_is_still_an_attachment():
    raw = read("enriched_alternative.eml").replace(
        b"Content-Type: text/enriched; charset=us-ascii\r\n",
        b"Content-Type: text/enriched; charset=us-ascii\r\nContent-Disposition: attachment;"
        b' filename="notes.etx"\r\n',
    )
    for body in both_paths(raw):
        assert [a.filename for a in body.attachments] == ["notes.etx"]


@pytest.mark.parametrize("name", ["enriched_alternative.eml", "pgp_signed.eml", "smime_signed.eml"])
def test_the_two_paths_agree(name: str):
    whole, imap = both_paths(read(name))
    assert whole.text.strip() == imap.text.strip()
    assert described(whole) == described(imap)  # sizes: the IMAP path estimates them
