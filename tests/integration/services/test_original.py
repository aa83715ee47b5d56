"""Open original against the suite's real Dovecot, on SQLite and PostgreSQL.

Another client (tests/support/mailbox.py) moves and deletes the message between the sync and
the opening, as a phone or Outlook would.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, update

from postroom.errors import NotFound
from postroom.services import original
from postroom.services.original import OriginalState
from postroom.services.secrets import load_or_create_key
from postroom.store.models import (
    Activity,
    MailAccount,
    MailFolder,
    MailMessage,
    MessageLocation,
)
from tests.support import mailbox
from tests.support.originals import ANNA, PNG, html_mail, make_world, plain_mail
from tests.support.web import make_runtime


@pytest.fixture
def world(engine, tmp_path, dovecot, mail_user):
    original.forget_cached_originals()
    runtime = make_runtime(engine, tmp_path / "home")
    return make_world(runtime, dovecot, mail_user)


def open_as(world, user_id: int, activity_id: int) -> original.OriginalView:
    return asyncio.run(
        original.open_original(runtime=world.runtime, user_id=user_id, activity_id=activity_id)
    )


def locations(world, activity_id: int) -> list[tuple[str, bool, int, bool]]:
    """``(folder, tracked, uid, linked)`` of the activity's message, by folder name."""
    with world.runtime.read() as session:
        message_id = session.get(Activity, activity_id).message_id
        rows = session.execute(
            select(
                MailFolder.name,
                MailFolder.is_tracked,
                MessageLocation.uid,
                MessageLocation.unlinked_at,
            )
            .join(MailFolder, MailFolder.id == MessageLocation.folder_id)
            .where(MessageLocation.message_id == message_id)
            .order_by(MailFolder.name)
        )
        return [(name, tracked, uid, unlinked is None) for name, tracked, uid, unlinked in rows]


def test_a_synced_html_message_opens_with_its_headers_attachments_and_safe_body(world):
    activity_id, _ = world.deliver(html_mail())
    before = mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX")

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.SHOWN
    assert view.subject == "Your interview on Thursday"
    assert view.sender == (("Anna Berg", ANNA),)
    assert view.cc == (("Hiring", "hiring@acme.example"),)
    assert view.where == "INBOX"
    assert view.account_label == "Robin at Firm"
    assert view.has_html
    assert view.text is None
    assert [(a.filename, a.content_type, a.size) for a in view.attachments] == [
        ("Anna Berg CV.pdf", "application/pdf", 11)
    ]  # the inline logo is shown in the body, not listed
    body = asyncio.run(
        original.get_original_body(
            runtime=world.runtime,
            user_id=world.robin_id,
            activity_id=activity_id,
            allow_remote_images=False,
            image_url=lambda n: f"https://app.example/inline/{n}",
        )
    )
    assert "<b>Robin</b>" in body.html
    assert 'src="https://app.example/inline/' in body.html
    [cv] = view.attachments
    # one scheme: the IMAP part number, the same the sync kept on the activity
    assert cv.number == "2"
    with world.runtime.read() as session:
        kept = session.get(Activity, activity_id).attachments
    assert ("2", "Anna Berg CV.pdf") in [(a["part"], a["filename"]) for a in kept]
    part = asyncio.run(
        original.get_original_part(
            runtime=world.runtime, user_id=world.robin_id, activity_id=activity_id, number=cv.number
        )
    )
    assert (part.filename, part.data) == ("Anna Berg CV.pdf", b"%PDF-1.4 cv")
    # read-only: BODY.PEEK, nothing marked \Seen
    assert mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX") == before


def test_a_plain_text_message_opens_as_text(world):
    activity_id, _ = world.deliver(plain_mail())

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.SHOWN
    assert not view.has_html
    assert "<b>not bold</b> & 'quoted'" in view.text
    assert view.attachments == ()


def test_a_message_moved_to_a_folder_that_is_not_synced_is_found_and_remembered(world):
    mailbox.create_folder(world.dovecot, world.mail_user, "Clients/Acme")
    activity_id, uid = world.deliver(html_mail(subject="Moved away"))
    new_uid = mailbox.move(world.dovecot, world.mail_user, "INBOX", uid, "Clients/Acme")

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.SHOWN
    assert view.subject == "Moved away"
    assert view.where == "Clients/Acme"
    assert locations(world, activity_id) == [
        ("Clients/Acme", False, new_uid, True),  # remembered, in a folder made untracked
        ("INBOX", True, uid, False),  # the stale location is unlinked
    ]
    # the next opening goes straight to it, and the sync still leaves the folder alone
    world.sync()
    assert open_as(world, world.robin_id, activity_id).where == "Clients/Acme"
    with world.runtime.read() as session:
        folder = session.scalars(select(MailFolder).where(MailFolder.name == "Clients/Acme")).one()
        assert not folder.is_tracked
        assert (
            session.get(
                MailMessage, session.get(Activity, activity_id).message_id
            ).deleted_on_server_at
            is None
        )


def test_a_message_deleted_everywhere_shows_the_stored_text_and_is_marked_deleted(world):
    activity_id, uid = world.deliver(plain_mail(subject="Soon gone", body="Please call me."))
    mailbox.expunge(world.dovecot, world.mail_user, "INBOX", uid)

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.GONE
    assert view.error == "This email is no longer on the server."
    assert view.subject == "Soon gone"
    assert view.sender == (("Anna Berg", ANNA),)
    assert "Please call me." in view.stored_text
    with world.runtime.read() as session:
        message = session.get(MailMessage, session.get(Activity, activity_id).message_id)
        assert message.deleted_on_server_at is not None
    assert locations(world, activity_id) == [("INBOX", True, uid, False)]
    with pytest.raises(NotFound):
        asyncio.run(
            original.get_original_part(
                runtime=world.runtime, user_id=world.robin_id, activity_id=activity_id, number="1"
            )
        )


def test_someone_who_holds_no_copy_cannot_open_it(world):
    activity_id, _ = world.deliver(plain_mail())

    with pytest.raises(NotFound):
        open_as(world, world.cleo_id, activity_id)
    with pytest.raises(NotFound):
        asyncio.run(
            original.get_original_part(
                runtime=world.runtime, user_id=world.cleo_id, activity_id=activity_id, number="1"
            )
        )
    with pytest.raises(NotFound):
        open_as(world, world.robin_id, activity_id + 1000)  # no such activity


def test_a_refused_password_says_the_account_needs_a_new_one(world):
    activity_id, _ = world.deliver(plain_mail(body="Text kept at sync."))
    keyring = load_or_create_key(world.runtime.settings)
    with world.runtime.write() as session:
        session.execute(update(MailAccount).values(secret=keyring.seal("not the password")))

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.UNREACHABLE
    assert "refused the login" in view.error
    assert "new password" in view.advice
    assert "Text kept at sync." in view.stored_text


def test_an_unreachable_server_is_a_view_with_advice(world):
    activity_id, _ = world.deliver(plain_mail())
    with world.runtime.write() as session:
        session.execute(update(MailAccount).values(imap_port=1))  # nothing listens there

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.UNREACHABLE
    assert view.advice


def test_a_message_from_a_file_is_read_from_the_file(world, tmp_path):
    from postroom.pipeline import ingest_files, load_context

    path = tmp_path / "offer.eml"
    path.write_bytes(html_mail(subject="From a file"))
    with world.runtime.write() as session:
        context = load_context(session=session, account_id=world.account_id)
        ingest_files(session=session, context=context, paths=[path])
    with world.runtime.read() as session:
        activity_id = session.scalars(
            select(Activity.id).where(Activity.subject == "From a file")
        ).one()

    view = open_as(world, world.robin_id, activity_id)
    assert view.state is OriginalState.SHOWN
    assert view.where == "a file"

    path.unlink()
    original.forget_cached_originals()
    gone = open_as(world, world.robin_id, activity_id)
    assert gone.state is OriginalState.GONE
    assert "file" in gone.error


def test_an_inline_image_needs_a_valid_token(world):
    activity_id, _ = world.deliver(html_mail())
    view = open_as(world, world.robin_id, activity_id)
    assert view.state is OriginalState.SHOWN
    number = "1.2.2"  # mixed(alternative(text/plain, related(text/html, the logo)), the CV)
    token = original.sign_inline_image(
        runtime=world.runtime, user_id=world.robin_id, activity_id=activity_id, number=number
    )

    image = asyncio.run(
        original.get_inline_image(
            runtime=world.runtime, token=token, activity_id=activity_id, number=number
        )
    )
    assert (image.content_type, image.data) == ("image/png", PNG)
    for bad_token, bad_number in ((token + "x", number), (token, "2"), ("1.1.x", number)):
        with pytest.raises(NotFound):
            asyncio.run(
                original.get_inline_image(
                    runtime=world.runtime,
                    token=bad_token,
                    activity_id=activity_id,
                    number=bad_number,
                )
            )


def test_a_message_over_the_size_cap_shows_its_header_text_and_attachment_names(world, monkeypatch):
    cv = bytes(range(256)) * 8
    activity_id, _ = world.deliver(
        html_mail(
            attachments=(
                ("cv.pdf", "application/pdf", cv),
                ("big.bin", "application/octet-stream", b"x" * 50_000),
            )
        )
    )
    monkeypatch.setattr(original, "MAX_ORIGINAL_BYTES", 10_000)
    before = mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX")

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.PARTIAL
    assert view.subject == "Your interview on Thursday"
    assert "see you on Thursday" in view.text
    assert [(a.number, a.filename) for a in view.attachments] == [
        ("1.2.2", "An inline image"),  # by its structure: each small file downloads alone
        ("2", "cv.pdf"),
        (None, "big.bin"),  # itself over the cap
    ]
    assert "mail program" in view.advice

    def part(number: str) -> original.PartContent:
        return asyncio.run(
            original.get_original_part(
                runtime=world.runtime,
                user_id=world.robin_id,
                activity_id=activity_id,
                number=number,
            )
        )

    assert (part("2").filename, part("2").data) == ("cv.pdf", cv)  # base64, decoded
    assert part("1.2.2").data == PNG
    for refused in ("3", "1.1", "9"):  # over the cap, the body, no such part
        with pytest.raises(NotFound) as raised:
            part(refused)
        assert "larger than" in str(raised.value)
        assert "mail program" in str(raised.value.advice)
    # read-only: BODY.PEEK, nothing marked \Seen
    assert mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX") == before


def test_a_moved_message_is_found_on_a_plain_imap4rev1_server(
    engine, tmp_path, dovecot_basic, basic_mail_user
):
    """No ESEARCH, MOVE or SPECIAL-USE: classic UID SEARCH, and a move made by COPY+EXPUNGE."""
    original.forget_cached_originals()
    world = make_world(make_runtime(engine, tmp_path / "home"), dovecot_basic, basic_mail_user)
    mailbox.create_folder(dovecot_basic, basic_mail_user, "Kept")
    activity_id, uid = world.deliver(plain_mail(subject="On a basic server"))
    new_uid = mailbox.move(dovecot_basic, basic_mail_user, "INBOX", uid, "Kept")

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.SHOWN
    assert view.where == "Kept"
    assert ("Kept", False, new_uid, True) in locations(world, activity_id)


def test_after_a_uidvalidity_reset_the_message_is_found_under_its_new_uid(world):
    activity_id, _ = world.deliver(plain_mail(subject="Before the reset"))
    _, new = mailbox.reset_uidvalidity(world.dovecot, world.mail_user, "INBOX")

    view = open_as(world, world.robin_id, activity_id)

    assert view.state is OriginalState.SHOWN
    assert view.where == "INBOX"
    with world.runtime.read() as session:
        message_id = session.get(Activity, activity_id).message_id
        linked = session.execute(
            select(MessageLocation.uidvalidity, MessageLocation.uid).where(
                MessageLocation.message_id == message_id, MessageLocation.unlinked_at.is_(None)
            )
        ).all()
    assert (new, 1) in linked
    world.sync()  # the sync's own reset handling agrees with what was remembered
    assert open_as(world, world.robin_id, activity_id).state is OriginalState.SHOWN
    with world.runtime.read() as session:
        linked = session.execute(
            select(MessageLocation.uidvalidity, MessageLocation.uid).where(
                MessageLocation.message_id == message_id, MessageLocation.unlinked_at.is_(None)
            )
        ).all()
    assert linked == [(new, 1)]


def test_a_server_that_hangs_gives_up_within_the_time_limit(world, dovecot_proxy, monkeypatch):
    activity_id, _ = world.deliver(plain_mail(body="Kept while the server hangs."))
    with world.runtime.write() as session:
        session.execute(update(MailAccount).values(imap_port=dovecot_proxy.port))
    dovecot_proxy.stall()
    monkeypatch.setattr(original, "OPEN_TIMEOUT", 1.0)

    started = time.monotonic()
    view = open_as(world, world.robin_id, activity_id)

    assert time.monotonic() - started < 5
    assert view.state is OriginalState.UNREACHABLE
    assert view.error == "The mail server of Robin at Firm took too long to answer."
    assert "Kept while the server hangs." in view.stored_text


def test_a_part_number_not_of_the_imap_form_is_not_found(world):
    activity_id, _ = world.deliver(html_mail())
    too_long = ".".join(["2"] * 33)

    for number in ("", "0", "2.", "1..2", "1/2", "../2", "2 ", "x", "5", too_long):
        with pytest.raises(NotFound):
            asyncio.run(
                original.get_original_part(
                    runtime=world.runtime,
                    user_id=world.robin_id,
                    activity_id=activity_id,
                    number=number,
                )
            )
