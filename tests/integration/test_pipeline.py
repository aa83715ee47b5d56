"""The message-to-activity pipeline against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from postroom.domain.records import PersonDraft
from postroom.pipeline import ingest_files, link_past_messages, load_context
from postroom.services.accounts import add_account, add_internal_domain, add_private_entry
from postroom.services.records import add_person
from postroom.services.secrets import Keyring, Secret
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    MailMessage,
    Quarantine,
    Visibility,
)

ME = "robin@firm.example"
WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def make_mail(
    *,
    sender: str,
    to: str,
    subject: str = "The Python role",
    body: str = "Hello there",
    msgid: str | None = "<m1@example.com>",
    cc: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(WHEN)
    if msgid:
        msg["Message-ID"] = msgid
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


@pytest.fixture
def setup(session_factory, tmp_path):
    """A user with one account, a colleague with another, and a few records."""
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        mine = add_account(
            session=session,
            keyring=keyring,
            user_email=ME,
            label="mine",
            imap_host="imap.firm.example",
            username=ME,
            password=Secret("pw"),
            own_addresses=["robin.alias@firm.example"],
        )
        theirs = add_account(
            session=session,
            keyring=keyring,
            user_email="sam@firm.example",
            label="sam",
            imap_host="imap.firm.example",
            username="sam@firm.example",
            password=Secret("pw"),
        )
        anna = add_person(
            session=session,
            draft=PersonDraft(
                "Anna Berg", emails=("anna@acme.example", "Anna.Berg@BÜCHER.example")
            ),
        ).person
        bob = add_person(
            session=session, draft=PersonDraft("Bob", emails=("bob@other.example",))
        ).person
        return {"mine": mine.id, "theirs": theirs.id, "anna": anna.id, "bob": bob.id}


def ingest(session_factory, account_id, tmp_path, *messages, name="m"):
    paths = []
    for i, msg in enumerate(messages):
        path = tmp_path / f"{name}{i}.eml"
        path.write_bytes(msg if isinstance(msg, bytes) else msg.as_bytes())
        paths.append(path)
    with session_factory.begin() as session:
        context = load_context(session=session, account_id=account_id)
        return ingest_files(session=session, context=context, paths=paths)


def activities(session_factory, person_id=None):
    with session_factory() as session:
        query = select(Activity).order_by(Activity.id)
        if person_id is not None:
            query = query.where(Activity.person_id == person_id)
        return list(session.scalars(query))


def test_received_mail_is_logged_once_with_its_new_text(session_factory, setup, tmp_path):
    reply = make_mail(
        sender="Anna <ANNA@acme.example>",
        to=ME,
        body="Tuesday works.\n\nOn Mon, 3 Mar 2025 at 09:00, Robin <robin@firm.example> wrote:\n"
        "> Can we talk?\n",
    )
    report = ingest(session_factory, setup["mine"], tmp_path, reply)
    assert (report.stored.messages_new, report.stored.activities_created) == (1, 1)
    [a] = activities(session_factory)
    assert a.person_id == setup["anna"]
    assert a.direction.value == "received"
    assert a.kind is ActivityKind.EMAIL
    assert a.subject == "The Python role"
    assert a.body_state is BodyState.PRESENT
    assert "Can we talk?" in a.text
    assert a.reply_text.strip() == "Tuesday works."
    assert a.occurred_at == WHEN
    assert a.participants["from"] == [["Anna", "ANNA@acme.example"]]

    again = ingest(session_factory, setup["mine"], tmp_path, reply, name="again")
    assert (
        again.stored.messages_new,
        again.stored.messages_known,
        again.stored.activities_created,
    ) == (0, 1, 0)
    assert len(activities(session_factory)) == 1


def test_mail_sent_from_an_alias_goes_on_every_recipient_including_idna(
    session_factory, setup, tmp_path
):
    sent = make_mail(
        sender="robin.alias@firm.example",
        to="anna.berg@xn--bcher-kva.example",
        cc="bob@OTHER.example, sam@firm.example",
    )
    ingest(session_factory, setup["mine"], tmp_path, sent)
    rows = activities(session_factory)
    assert sorted(a.person_id for a in rows) == sorted([setup["anna"], setup["bob"]])
    assert {a.direction.value for a in rows} == {"sent"}


def test_the_colleagues_copy_gives_no_second_activity(session_factory, setup, tmp_path):
    mail = make_mail(sender="anna@acme.example", to=f"{ME}, sam@firm.example")
    ingest(session_factory, setup["mine"], tmp_path, mail, name="mine")
    report = ingest(session_factory, setup["theirs"], tmp_path, mail, name="theirs")
    assert report.stored.messages_new == 1  # Sam can open his own copy ...
    assert report.stored.activities_created == 0  # ... but the record shows the email once
    assert len(activities(session_factory)) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MailMessage)) == 2


def test_bulk_mail_is_stored_but_not_logged(session_factory, setup, tmp_path):
    for i, extra in enumerate(
        [
            {"List-Id": "<news.acme.example>"},
            {"Precedence": "bulk"},
            {"Auto-Submitted": "auto-replied"},
            {"List-Unsubscribe": "<mailto:unsub@acme.example>"},
        ]
    ):
        mail = make_mail(sender="anna@acme.example", to=ME, msgid=f"<bulk{i}@x>", headers=extra)
        report = ingest(session_factory, setup["mine"], tmp_path, mail, name=f"bulk{i}")
        assert (report.stored.messages_new, report.stored.activities_created) == (1, 0), extra
    assert activities(session_factory) == []


def test_a_bounce_is_logged_as_a_bounce_on_the_failed_recipient(session_factory, setup, tmp_path):
    original = make_mail(sender=ME, to="bob@other.example", msgid="<orig@firm.example>")
    dsn = (
        (
            "From: Mail Delivery System <MAILER-DAEMON@mx.firm.example>\r\n"
            f"To: {ME}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Date: {format_datetime(WHEN)}\r\n"
            "Message-ID: <dsn1@mx.firm.example>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.firm.example\r\n\r\n"
            "Final-Recipient: rfc822; bob@other.example\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + original.as_bytes()
        + b"\r\n--B--\r\n"
    )
    report = ingest(session_factory, setup["mine"], tmp_path, dsn)
    assert report.stored.activities_created == 1
    [bounce] = activities(session_factory)
    assert bounce.person_id == setup["bob"]
    assert bounce.kind is ActivityKind.BOUNCE
    assert "5.1.1" in (bounce.detail or "")


def test_internal_domains_and_colleagues_are_not_contacts(session_factory, setup, tmp_path):
    with session_factory.begin() as session:
        add_internal_domain(session=session, domain="acme.example")
    ingest(session_factory, setup["mine"], tmp_path, make_mail(sender="anna@acme.example", to=ME))
    assert activities(session_factory) == []


def test_private_list_vetoes_participants_and_body_mentions(session_factory, setup, tmp_path):
    with session_factory.begin() as session:
        add_private_entry(session=session, value="lawyer@private.example")
        add_private_entry(session=session, value="clinic.example")
    cc_private = make_mail(
        sender="anna@acme.example", to=ME, cc="lawyer@private.example", msgid="<p1@x>"
    )
    body_mention = make_mail(
        sender="anna@acme.example",
        to=ME,
        msgid="<p2@x>",
        body="My doctor is dr.who@ward.CLINIC.example, please call.",
    )
    fine = make_mail(sender="anna@acme.example", to=ME, msgid="<p3@x>")
    report = ingest(session_factory, setup["mine"], tmp_path, cc_private, body_mention, fine)
    assert report.stored.activities_created == 1
    assert (
        report.stored.vetoed_private == 1
    )  # the body mention; the Cc is vetoed from headers alone
    assert [a.message_id is not None for a in activities(session_factory)] == [True]


@pytest.mark.parametrize(
    ("visibility", "subject", "state"),
    [
        (Visibility.SUBJECT, "The Python role", BodyState.WITHHELD),
        (Visibility.METADATA, "", BodyState.WITHHELD),
    ],
)
def test_account_visibility_keeps_the_text_out(
    session_factory, setup, tmp_path, visibility, subject, state
):
    with session_factory.begin() as session:
        from postroom.store.models import MailAccount

        session.get(MailAccount, setup["mine"]).visibility = visibility
    ingest(session_factory, setup["mine"], tmp_path, make_mail(sender="anna@acme.example", to=ME))
    [a] = activities(session_factory)
    assert (a.subject, a.body_state, a.text) == (subject, state, None)


def test_an_address_added_later_brings_past_mail_with_its_text(session_factory, setup, tmp_path):
    old = make_mail(
        sender="Carla <carla@new.example>",
        to=ME,
        body="I am interested.",
        msgid="<old@new.example>",
    )
    ingest(session_factory, setup["mine"], tmp_path, old)
    assert activities(session_factory) == []
    with session_factory.begin() as session:
        result = add_person(
            session=session,
            draft=PersonDraft("Carla", emails=("CARLA@new.example",)),
            on_addresses_added=link_past_messages,
        )
        carla = result.person.id
    [a] = activities(session_factory, carla)
    assert a.body_state is BodyState.PRESENT
    assert a.text.strip() == "I am interested."
    assert a.direction.value == "received"
    # and ingesting the same file again adds nothing
    assert (
        ingest(session_factory, setup["mine"], tmp_path, old, name="x").stored.activities_created
        == 0
    )


def test_a_past_message_whose_file_is_gone_is_linked_with_pending_text(
    session_factory, setup, tmp_path
):
    ingest(
        session_factory,
        setup["mine"],
        tmp_path,
        make_mail(sender="dora@new.example", to=ME, msgid="<gone@x>"),
        name="gone",
    )
    (tmp_path / "gone0.eml").unlink()
    with session_factory.begin() as session:
        dora = add_person(
            session=session,
            draft=PersonDraft("Dora", emails=("dora@new.example",)),
            on_addresses_added=link_past_messages,
        ).person.id
    [a] = activities(session_factory, dora)
    assert a.body_state is BodyState.PENDING
    assert a.subject == "The Python role"


def test_a_broken_file_is_quarantined_and_the_rest_goes_on(session_factory, setup, tmp_path):
    good = make_mail(sender="anna@acme.example", to=ME)
    report = ingest(session_factory, setup["mine"], tmp_path, b"", good)
    assert report.stored.activities_created == 1
    assert len(report.errors) == 1
    with session_factory() as session:
        [q] = session.scalars(select(Quarantine)).all()
        assert q.source_path.endswith("m0.eml")
        assert "empty" in q.error


def test_threading_headers_and_attachment_part_numbers_are_stored(session_factory, setup, tmp_path):
    reply = make_mail(
        sender="anna@acme.example",
        to=ME,
        subject="Re: The Python role",
        msgid="<r2@acme.example>",
        headers={
            "In-Reply-To": "<m1@firm.example>",
            "References": "<m0@firm.example> <m1@firm.example>",
        },
    )
    reply.add_alternative("<p>Hello there</p>", subtype="html")  # text: part 1 (alternative)
    reply.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="cv.pdf")
    ingest(session_factory, setup["mine"], tmp_path, reply)

    with session_factory() as session:
        message = session.scalars(select(MailMessage)).one()
        assert message.in_reply_to == "<m1@firm.example>"
        assert message.references == ["<m0@firm.example>", "<m1@firm.example>"]
    [activity] = activities(session_factory)
    assert activity.attachments == [
        {"filename": "cv.pdf", "content_type": "application/pdf", "size": 8, "part": "2"}
    ]


def test_a_message_without_threading_headers_stores_an_empty_reference_list(
    session_factory, setup, tmp_path
):
    ingest(session_factory, setup["mine"], tmp_path, make_mail(sender="anna@acme.example", to=ME))
    with session_factory() as session:
        message = session.scalars(select(MailMessage)).one()
        assert (message.in_reply_to, message.references) == (None, [])
