"""The real-world corpus (/work/shared/corpus/mail): every file parsed, upstream expectations met.

* Every ``.eml`` goes through ``parse_message``: only MessageParseError may escape, and only for
  the files listed in EXPECTED_PARSE_ERRORS (truly empty files; the corpus has none).
* Every reply-parser ``.txt`` body goes through ``split_reply``.
* Where upstream states expected values (``X.expected.json``), they are compared; comparisons of
  text ignore whitespace. Where an upstream value is not what is right for our users, the
  exception is listed below with its reason and what we assert instead; a listed exception
  that stops being one fails the test, so the lists stay exact.

The file lists are read when the module is collected (ids are file names); the tests open the
files through the ``corpus_dir`` fixture, and ``test_corpus_listing_matches_manifests`` checks
that the lists are complete. Without the corpus, every test here is left out, and the suite
says so in one line at its start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from postroom.errors import MessageParseError
from postroom.mail import html_to_text, parse_message, split_reply
from postroom.mail.text import MAX_TEXT_BYTES
from postroom.mail.types import Mailbox, ParsedMessage
from tests.conftest import CORPUS

MAIL = CORPUS / "mail"
IMAP_TOOLS = "gh-imap_tools"
REPLY_FOLDERS = ("gh-email_reply_parser-github", "gh-email-reply-parser-zapier", "pypi-talon")
EXPECTED_COUNTS = {".eml": 217, ".txt": 46}  # the corpus README's table


def list_corpus(pattern: str) -> list[str]:
    """Paths relative to the mail corpus, sorted; empty when the corpus is missing."""
    return sorted(str(p.relative_to(MAIL)) for p in MAIL.glob(pattern)) if MAIL.is_dir() else []


MISSING = "corpus-missing"


def never_empty(paths: list[str]) -> list[str]:
    """``paths``, or ``[MISSING]`` when there are none (no corpus beside the checkout): the
    test is then left out with the other corpus tests (``tests/conftest.py``) instead of being
    skipped for an empty parameter set (docs/testing.md: no test is skipped)."""
    return paths or [MISSING]


EML_FILES = list_corpus("*/*.eml")
TXT_FILES = list_corpus("*/*.txt")
IMAP_TOOLS_EXPECTED = [
    Path(p).name.removesuffix(".expected.json")
    for p in list_corpus(f"{IMAP_TOOLS}/*.expected.json")
]
REPLY_EXPECTED = [p for folder in REPLY_FOLDERS for p in list_corpus(f"{folder}/*.expected.json")]

EXPECTED_PARSE_ERRORS: frozenset[str] = frozenset()
"""Corpus files parse_message must reject: exactly the empty ones (there are none)."""


def normalize(text: str) -> str:
    return " ".join(text.split())


def read_bytes(corpus_dir: Path, rel: str) -> bytes:
    return (corpus_dir / "mail" / rel).read_bytes()


def read_expected(corpus_dir: Path, rel: str) -> dict[str, object]:
    data = json.loads((corpus_dir / "mail" / rel).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- completeness ------------------------------------------------------------------------------


def test_corpus_listing_matches_manifests(corpus_dir: Path):
    folders = sorted(p for p in (corpus_dir / "mail").iterdir() if p.is_dir())
    collected = {".eml": set(EML_FILES), ".txt": set(TXT_FILES)}
    for folder in folders:
        manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
        items = {f"{folder.name}/{item['file']}" for item in manifest["items"]}
        on_disk = {
            f"{folder.name}/{p.name}"
            for p in folder.iterdir()
            if p.name != "MANIFEST.json" and not p.name.endswith(".expected.json")
        }
        assert items == on_disk, folder.name
        assert len(items) == manifest["count"]
        for rel in items:
            assert rel in collected[Path(rel).suffix], f"{rel} is not collected"
        for expected in folder.glob("*.expected.json"):
            stem = expected.name.removesuffix(".expected.json")
            assert any(rel.startswith(f"{folder.name}/{stem}.") for rel in items), expected
    assert {suffix: len(files) for suffix, files in collected.items()} == EXPECTED_COUNTS
    assert len(IMAP_TOOLS_EXPECTED) == 113
    assert len(REPLY_EXPECTED) == 14


def test_expected_parse_errors_are_exactly_the_empty_files(corpus_dir: Path):
    empty = {rel for rel in EML_FILES if not read_bytes(corpus_dir, rel).strip()}
    assert empty == EXPECTED_PARSE_ERRORS


# --- every file --------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", never_empty(EML_FILES))
def test_parse_message_reads_every_corpus_message(corpus_dir: Path, rel: str):
    raw = read_bytes(corpus_dir, rel)
    if rel in EXPECTED_PARSE_ERRORS:
        with pytest.raises(MessageParseError):
            parse_message(raw)
        return
    parsed = parse_message(raw)
    assert parsed.size == len(raw)
    assert parsed.body.is_from_html or len(parsed.body.text) <= MAX_TEXT_BYTES
    for mailbox in parsed.headers.from_ + parsed.headers.to + parsed.headers.cc:
        local, _, domain = mailbox.address.rpartition("@")
        assert local, mailbox
        assert domain, mailbox
    assert parsed.headers.date is None or parsed.headers.date.tzinfo is not None


@pytest.mark.parametrize("rel", never_empty(TXT_FILES))
def test_split_reply_handles_every_corpus_body(corpus_dir: Path, rel: str):
    text = read_bytes(corpus_dir, rel).decode("utf-8")
    reply = split_reply(text)
    assert reply.strip()
    lines = {line.strip() for line in text.splitlines()}
    assert all(line.strip() in lines for line in reply.splitlines())


# --- imap_tools expectations -------------------------------------------------------------------

Check = Callable[[str, str], bool]
"""``check(ours, upstream)``: what we assert instead of equality."""


def is_prefix(ours: str, upstream: str) -> bool:
    return bool(normalize(ours)) and normalize(upstream).startswith(normalize(ours))


def equals_without_non_ascii(ours: str, upstream: str) -> bool:
    return normalize("".join(c for c in ours if c.isascii())) == normalize(upstream)


def equals(value: str) -> Check:
    return lambda ours, _upstream: normalize(ours) == normalize(value)


NESTED_TEXT = (
    "imap_tools joins the text of every text/plain part, those inside the attached "
    "message/rfc822 too; our text is the outer message's first text part and the nested "
    "message is an attachment"
)
DROPPED_BYTES = (
    "the label says us-ascii/ISO-8859-1 but the bytes are 8-bit; imap_tools drops what it cannot "
    "decode, we decode it (cp1252): a reader sees the accented letters"
)

SIGNATURE = "a signature (PGP, S/MIME) is not a file (mail.text.is_not_a_file); imap_tools lists it"

DOUBLE_ENCODED = ("³nÅé«Ò°ê§ó·s¨³³t", "糧n矇竄簞礙禮籀繚s穡糧糧t")
"""The same bytes as our UTF-8 decoding shows them, and as imap_tools' Big5 (errors ignored)."""

IMAP_TOOLS_EXCEPTIONS: dict[tuple[str, str], tuple[Check, str]] = {
    ("error_emails__invalid_subject_characters", "subject"): (
        equals_without_non_ascii,
        "raw ISO-8859-1 bytes in the header: imap_tools drops ç and ã, we decode them",
    ),
    ("rfc2822__example14", "subject"): (
        equals("Re: TEST テストテスト"),
        "RFC 2047 keeps the space between plain text and an encoded word; imap_tools drops it",
    ),
    ("error_emails__missing_body", "to"): (
        equals(""),
        "'<Undisclosed-Recipient:@mailman.enron.com;>' has no usable address: we keep only "
        "local@domain mailboxes, imap_tools keeps the fragments",
    ),
    ("mime_emails__raw_email11", "to"): (
        equals(""),
        "'\"xxxxx@xxxxx\" <matmail>': the address is 'matmail', without a domain",
    ),
    ("attachment_2_base64", "text"): (
        equals("two attach"),
        "the outer message has only an HTML part ('two attach'); imap_tools' text is the "
        "undecoded base64 of the attached messages",
    ),
    ("attachment_8bit", "text"): (is_prefix, NESTED_TEXT),
    ("attachment_emails__attachment_message_rfc822", "text"): (is_prefix, NESTED_TEXT),
    ("mime_emails__raw_email_with_mimepart_without_content_type", "text"): (is_prefix, NESTED_TEXT),
    ("multipart_report_emails__multi_address_bounce1", "text"): (is_prefix, NESTED_TEXT),
    ("multipart_report_emails__multi_address_bounce2", "text"): (is_prefix, NESTED_TEXT),
    ("multipart_report_emails__multipart_report_multiple_status", "text"): (
        is_prefix,
        "prose in the delivery-status part is the text (mail.text.is_report_text); imap_tools "
        "also joins the returned message's",
    ),
    ("mime_emails__raw_email2", "attachments"): (equals(""), SIGNATURE),
    ("mime_emails__sig_only_email", "attachments"): (equals(""), SIGNATURE),
    ("mime_emails__raw_email7", "attachments"): (is_prefix, SIGNATURE),
    ("mime_emails__raw_email_with_nested_attachment", "attachments"): (is_prefix, SIGNATURE),
    ("mime_emails__raw_email4", "text"): (
        is_prefix,
        "three text/plain parts in multipart/mixed; imap_tools joins them, our text is the first "
        "(the others are a carrier's footer)",
    ),
    ("error_emails__content_transfer_encoding_7-bit", "text"): (
        lambda ours, upstream: (
            normalize(ours) == normalize(upstream.encode("latin-1").decode("cp1252", "replace"))
        ),
        "labelled ISO-8859-1, which we read as its superset cp1252 as browsers do: byte 0x86 is "
        "'†', not a C1 control character",
    ),
    ("error_emails__content_transfer_encoding_empty", "text"): (
        lambda ours, upstream: normalize(ours.replace(*DOUBLE_ENCODED)) == normalize(upstream),
        "labelled Big5, but the link text is valid UTF-8 (Big5 that was double-encoded): we decode "
        "it as UTF-8 when Big5 fails; imap_tools decodes Big5 dropping errors, other garbage",
    ),
    ("error_emails__content_transfer_encoding_plain", "text"): (
        equals_without_non_ascii,
        DROPPED_BYTES,
    ),
    ("plain_emails__raw_email6", "text"): (equals_without_non_ascii, DROPPED_BYTES),
    ("attachment_emails__attachment_message_rfc822", "attachments"): (
        equals("('ForwardedMessage.eml', 'message/rfc822', 3668)"),
        "broken.pdf is inside the forwarded message, which is one attachment to us",
    ),
}


def format_mailboxes(mailboxes: tuple[Mailbox, ...]) -> str:
    return "; ".join(f"{m.name} <{m.address}>" for m in mailboxes)


def describe_imap_tools_fields(
    parsed: ParsedMessage, expected: dict[str, object]
) -> dict[str, tuple[str, str]]:
    """``{field: (ours, upstream)}`` as comparable strings."""
    headers = parsed.headers

    def mailboxes(values: object) -> str:
        assert isinstance(values, list)
        return "; ".join(f"{v['name']} <{v['email']}>" for v in values)

    from_values = expected["from_values"]
    upstream_text = str(expected["text"])
    if not upstream_text.strip() and expected["html"]:
        upstream_text = html_to_text(str(expected["html"]))
    attachments = expected["attachments"]
    assert isinstance(attachments, list)
    named = [a for a in attachments if a["filename"]]
    named_files = {a["filename"] for a in named}
    ours_named = [a for a in parsed.body.attachments if a.filename in named_files]
    return {
        "subject": (headers.subject, str(expected["subject"])),
        "from": (
            format_mailboxes(headers.from_[:1]),
            mailboxes([from_values] if from_values else []),
        ),
        "to": (format_mailboxes(headers.to), mailboxes(expected["to_values"])),
        "cc": (format_mailboxes(headers.cc), mailboxes(expected["cc_values"])),
        "text": (parsed.body.text, upstream_text),
        "attachments": (
            "; ".join(str((a.filename, a.content_type, a.size)) for a in ours_named),
            "; ".join(
                str((a["filename"], a["content_type"], a["payload"]["_bytes_len"])) for a in named
            ),
        ),
    }


@pytest.mark.parametrize("name", never_empty(IMAP_TOOLS_EXPECTED))
def test_imap_tools_expectations(corpus_dir: Path, name: str):
    expected = read_expected(corpus_dir, f"{IMAP_TOOLS}/{name}.expected.json")
    assert str(expected["_semantics"]).startswith("imap_tools.MailMessage attributes")
    parsed = parse_message(read_bytes(corpus_dir, f"{IMAP_TOOLS}/{name}.eml"))
    for field, (ours, upstream) in describe_imap_tools_fields(parsed, expected).items():
        exception = IMAP_TOOLS_EXCEPTIONS.get((name, field))
        if exception is None:
            assert normalize(ours) == normalize(upstream), field
        else:
            check, reason = exception
            assert normalize(ours) != normalize(upstream), f"no longer an exception: {reason}"
            assert check(ours, upstream), f"{field}: {reason}"


def test_imap_tools_exceptions_name_existing_messages(corpus_dir: Path):
    assert {name for name, _ in IMAP_TOOLS_EXCEPTIONS} <= set(IMAP_TOOLS_EXPECTED)


# --- reply expectations ------------------------------------------------------------------------

REPLY_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "pypi-talon/iphone.expected.json": (
        "Hello",
        "talon keeps the 'Sent from my iPhone' line in the reply; Postroom drops a trailing "
        "mobile sign-off as boilerplate, as GitHub's expectations (email_iPhone.txt) do "
        "(docs/concepts.md)",
    ),
    "pypi-talon/sparrow.expected.json": (
        "Hello",
        "talon keeps the '-- ' signature block in the reply; Postroom drops what follows the "
        "RFC 3676 signature separator (docs/concepts.md)",
    ),
}


@pytest.mark.parametrize("rel", never_empty(REPLY_EXPECTED))
def test_reply_expectations(corpus_dir: Path, rel: str):
    expected = read_expected(corpus_dir, rel)
    stem = rel.removesuffix(".expected.json")
    if rel.startswith("pypi-talon/"):
        assert expected["_semantics"] == "expected reply text (quotation removed) of the text part"
        ours = parse_message(read_bytes(corpus_dir, f"{stem}.eml")).body.reply_text
        upstream = str(expected["reply_text"])
    else:
        assert str(expected["_semantics"]).endswith(": the visible reply text")
        ours = split_reply(read_bytes(corpus_dir, f"{stem}.txt").decode("utf-8"))
        upstream = str(expected["visible_text"])
    if rel in REPLY_EXCEPTIONS:
        value, reason = REPLY_EXCEPTIONS[rel]
        assert normalize(ours) != normalize(upstream), f"no longer an exception: {reason}"
        assert normalize(ours) == normalize(value), reason
    else:
        assert normalize(ours) == normalize(upstream)


def test_reply_exceptions_name_existing_expectations(corpus_dir: Path):
    assert set(REPLY_EXCEPTIONS) <= set(REPLY_EXPECTED)
