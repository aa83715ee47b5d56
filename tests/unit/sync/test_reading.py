"""Tests for postroom.sync.reading: recorded FETCH responses in, facts and texts out."""

from __future__ import annotations

import pickle

import pytest

from postroom.imap.errors import ProtocolError
from postroom.imap.framing import RawResponse, frame
from postroom.mail.types import MessageKind
from postroom.sync.reading import plan_texts, read_heads, read_texts

HEADER = "BODY[HEADER.FIELDS (FROM TO SUBJECT MESSAGE-ID CONTENT-TYPE LIST-ID)]"


def fetch(seq: int, uid: int, header: bytes, extra: str = "") -> bytes:
    return b"* %d FETCH (UID %d RFC822.SIZE 900%s %s {%d}\r\n%s)\r\n" % (
        seq,
        uid,
        extra.encode(),
        HEADER.encode(),
        len(header),
        header,
    )


def responses(*wire: bytes) -> list[RawResponse]:
    return frame(b"".join(wire))


ANNA = b"From: Anna <anna@acme.example>\r\nTo: robin@firm.example\r\nSubject: Hi\r\n\r\n"


def test_reads_the_messages_asked_for_and_ignores_the_rest():
    raw = responses(
        fetch(1, 10, ANNA),
        b"* 2 FETCH (UID 99 FLAGS (\\Seen))\r\n",  # unsolicited: another message's flags
        fetch(3, 11, b"From: news@list.example\r\nList-ID: <news.list.example>\r\n\r\n"),
    )

    heads = read_heads(raw, {10, 11, 12})  # 12 was expunged in the meantime: simply absent

    assert [f.uid for f in heads.fetched] == [10, 11]
    first, second = heads.fetched
    assert first.facts.headers.from_[0].address == "anna@acme.example"
    assert first.facts.size == 900
    assert first.facts.classification.kind is MessageKind.CONVERSATION
    assert second.facts.classification.kind is MessageKind.BULK
    assert heads.failures == []
    assert heads.delivery_reports == []


def test_a_flags_response_for_a_message_asked_for_is_merged_not_doubled():
    raw = responses(fetch(1, 10, ANNA), b"* 1 FETCH (UID 10 FLAGS (\\Flagged))\r\n")

    heads = read_heads(raw, {10})

    [only] = heads.fetched
    assert only.flags == ("\\Flagged",)
    assert only.facts.headers.subject == "Hi"


def test_delivery_reports_are_flagged_to_be_read_whole():
    dsn = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
    )
    heads = read_heads(responses(fetch(1, 7, dsn), fetch(2, 8, ANNA)), {7, 8})

    assert heads.delivery_reports == [7]
    assert len(heads.fetched) == 2


@pytest.mark.parametrize(
    ("sender", "subject", "report"),
    [
        (b"postmaster@mx.example", b"hello", True),
        (b"Mailer-Daemon@mx.example", b"hello", True),
        (b"postmaster.jobs@firm.example", b"hello", False),
        (b"anna@mailer-daemon.example", b"hello", False),
        (b"anna@mailer-daemon.example", b"Undeliverable: hello", True),  # by its subject
        (b"anna@acme.example", b"Re: Undeliverable: hello", False),
    ],
)
def test_a_possible_bounce_is_read_further_by_its_sender_or_subject(sender, subject, report):
    """``mail.bounce.might_be_bounce`` decides; what it lets through is read capped."""
    head = b"From: " + sender + b"\r\nSubject: " + subject + b"\r\n\r\n"
    heads = read_heads(responses(fetch(1, 7, head)), {7})

    assert heads.delivery_reports == ([7] if report else [])


def test_a_response_imapclient_cannot_parse_fails_the_whole_batch():
    raw = responses(fetch(1, 10, ANNA), b"* 2 FETCH (UID 11 RFC822.SIZE (((\r\n")

    with pytest.raises(ProtocolError):
        read_heads(raw, {10, 11})


def test_results_survive_a_trip_to_another_process():
    heads = read_heads(responses(fetch(1, 10, ANNA)), {10})

    assert pickle.loads(pickle.dumps(heads)) == heads  # noqa: S301 (our own bytes)


BODYSTRUCTURE = (
    b'* 1 FETCH (UID 10 BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL '
    b'"quoted-printable" 20 1 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL '
    b'"7bit" 30 1 NIL NIL NIL NIL) "alternative" ("boundary" "x") NIL NIL NIL))\r\n'
    b'* 2 FETCH (UID 11 BODYSTRUCTURE ("application" "pdf" ("name" "cv.pdf") NIL NIL '
    b'"base64" 4000 NIL ("attachment" ("filename" "cv.pdf")) NIL NIL))\r\n'
)


def test_text_plans_and_texts():
    plans = plan_texts(responses(BODYSTRUCTURE), {10, 11})

    assert plans[10].part == "1"
    assert plans[11].part is None  # nothing to read: only an attachment
    assert [a.filename for a in plans[11].attachments] == ["cv.pdf"]

    text = b"Gr=C3=BC=C3=9Fe, Anna"
    raw = responses(b"* 1 FETCH (UID 10 BODY[1]<0> {%d}\r\n%s)\r\n" % (len(text), text))
    bodies = read_texts(raw, "1", {10: plans[10]})

    assert bodies[10].text.strip() == "Grüße, Anna"


def test_delivery_reports_are_read_in_batches_bounded_by_count_and_octets():
    from postroom.sync.reading import (
        REPORT_BATCH,
        REPORT_BATCH_BYTES,
        REPORT_FETCH_BYTES,
        plan_report_batches,
    )

    small = dict.fromkeys(range(1, 46), 1000)
    assert [len(b) for b in plan_report_batches(list(small), small)] == [REPORT_BATCH] * 2 + [5]
    # a 25 MB report counts at its capped size: 16 of them fill a batch's octets
    huge = dict.fromkeys(range(1, 21), 25000000)
    batches = list(plan_report_batches(list(huge), huge))
    per_batch = REPORT_BATCH_BYTES // REPORT_FETCH_BYTES
    assert [len(b) for b in batches] == [per_batch, 20 - per_batch]
    assert [uid for b in batches for uid in b] == list(range(1, 21))  # each once, in order
    assert list(plan_report_batches([], {})) == []
