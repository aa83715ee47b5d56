"""Tests for postroom.mail.types: the values survive pickling (reading workers send them)."""

from __future__ import annotations

import pickle
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from postroom.mail.types import (
    Attachment,
    Body,
    Bounce,
    Classification,
    Headers,
    Mailbox,
    MessageKind,
    TextPlan,
    reduce_by_fields,
)

ANNA = Mailbox("Anna Berg", "anna@acme.example")
VALUES = [
    ANNA,
    Headers(
        subject="Interview",
        date=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
        date_raw="Thu, 02 Jan 2025 03:04:00 +0000",
        message_id="<a@b>",
        references=("<x@y>",),
        from_=(ANNA,),
        to=(Mailbox("", "robin@firm.example"),),
        list_id="<news.example>",
        content_type="multipart/report",
        report_type="delivery-status",
    ),
    Attachment("cv.pdf", "application/pdf", 1234),
    Bounce(("anna@acme.example",), "5.1.1", "no such user", "<a@b>"),
    Classification(MessageKind.BOUNCE, "delivery-status", Bounce(("a@b.example",))),
    Body("Hello", "Hello", (Attachment("cv.pdf", "application/pdf", 1),), True, ("X",)),
    TextPlan(part="1.2", subtype="html", charset="utf-8", encoding="base64", size=99),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_field_survives_pickling(value):
    copy = pickle.loads(pickle.dumps(value))  # noqa: S301 (our own bytes)

    assert copy == value
    assert all(getattr(copy, f.name) == getattr(value, f.name) for f in fields(value))
    assert type(value).__reduce__ is reduce_by_fields
