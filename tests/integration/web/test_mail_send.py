"""Sending from the mail client through the web (TestClient), on SQLite and PostgreSQL, with a
real Dovecot and a real SMTP server (aiosmtpd): new messages, replies and forwards; the copy
in Sent; the activity logged at once and once only; and every way it can fail."""

from __future__ import annotations

import email
import re
from email.policy import default
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from postroom.domain.accounts import TlsMode
from postroom.services import mailbox as mail_client
from postroom.services import original
from postroom.store.models import Activity, MailAccount
from tests.support import mailbox
from tests.support.originals import ANNA, CLEO, ROBIN, html_mail, make_world
from tests.support.smtp import SmtpServer
from tests.support.web import client_for, csrf_of, sign_in

LENA = "lena@contoso.example"


@pytest.fixture
def world(runtime, dovecot, mail_user):
    original.forget_cached_originals()
    mail_client.forget_counts()
    return make_world(runtime, dovecot, mail_user)


@pytest.fixture
def smtp(world):
    with SmtpServer(world.mail_user.username, world.mail_user.password) as server:
        with world.runtime.write() as session:
            account = session.get(MailAccount, world.account_id)
            account.smtp_host, account.smtp_port = server.host, server.port
            account.smtp_tls = TlsMode.PLAIN
        yield server


@pytest.fixture
def robin(world):
    with client_for(world.runtime) as client:
        yield sign_in(client, ROBIN)


def compose(client, world, **query):
    return client.get(f"/mail/{world.account_id}/compose?{urlencode(query)}")


def send(client, world, files=(), **fields):
    page = compose(client, world)
    data = {"csrf_token": csrf_of(page.text), "mode": "new", **fields}
    return client.post(
        f"/mail/{world.account_id}/send",
        data=data,
        files=[("files", f) for f in files] or None,
        follow_redirects=False,
    )


def activities_of(world, person_id):
    with world.runtime.read() as session:
        return session.scalar(
            select(func.count()).select_from(Activity).where(Activity.person_id == person_id)
        )


def validity(world, folder="INBOX"):
    return mailbox.folder_status(world.dovecot, world.mail_user, folder)["UIDVALIDITY"]


def sent_copies(world):
    uids = mailbox.list_uids(world.dovecot, world.mail_user, "Sent")
    with world.dovecot.imap(world.mail_user) as conn:
        conn.select("Sent", readonly=True)
        copies = []
        for uid in uids:
            _, data = conn.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])")
            copies.append((data[0][0], data[0][1]))
    return copies


def test_a_record_emails_from_the_first_account(world, robin, smtp):
    answer = robin.get(
        f"/mail/compose?{urlencode({'to': f'Anna Berg <{ANNA}>'})}", follow_redirects=False
    )
    assert answer.status_code == 303
    page = robin.get(answer.headers["location"])
    assert page.status_code == 200
    assert 'value="Anna Berg &lt;anna@acme.example&gt;"' in page.text
    assert "New message" in page.text
    record = robin.get(f"/records/{world.anna_id}")
    assert "/mail/compose?to=" in record.text


def test_a_new_message_is_sent_saved_in_sent_and_logged_once(world, robin, smtp):
    answer = send(
        robin,
        world,
        to=f"Anna Berg <{ANNA}>",
        cc="Stranger <someone@elsewhere.example>",
        bcc=LENA,
        subject="Offer from Firm: café meeting",
        text="Hello Anna,\n\nplease find the offer attached.\n\nRobin",
        files=[("Offer.pdf", b"%PDF-1.4 offer", "application/pdf")],
    )

    assert answer.status_code == 303, answer.text
    flash = robin.get(answer.headers["location"]).text
    assert "Sent to anna@acme.example, someone@elsewhere.example, lena@contoso.example." in flash
    assert "Logged on one record. A copy is in Sent." in flash
    [received] = smtp.received
    assert received.sender == ROBIN
    assert sorted(received.recipients) == sorted([ANNA, "someone@elsewhere.example", LENA])
    sent = email.message_from_bytes(received.data, policy=default)
    assert sent["Bcc"] is None
    assert LENA.encode() not in received.data
    assert sent["Subject"] == "Offer from Firm: café meeting"
    assert [p.get_filename() for p in sent.iter_attachments()] == ["Offer.pdf"]
    [(flags, copy)] = sent_copies(world)
    assert b"\\Seen" in flags
    kept = email.message_from_bytes(copy, policy=default)
    assert kept["Bcc"] == LENA  # as Thunderbird and Outlook keep it
    assert kept["Message-ID"] == sent["Message-ID"]
    assert activities_of(world, world.anna_id) == 1  # at once
    world.sync()  # the sync reads the copy in Sent: the same message
    assert activities_of(world, world.anna_id) == 1


def test_a_reply_threads_quotes_and_marks_the_original_answered(world, robin, smtp):
    raw = html_mail()
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", raw)
    ref = {"folder": "INBOX", "v": validity(world), "uid": uid}

    page = compose(robin, world, mode="reply_all", **ref)

    assert page.status_code == 200
    assert "Reply to all" in page.text
    assert f'value="&#34;Anna Berg&#34; &lt;{ANNA}&gt;"' in page.text
    assert 'value="&#34;Hiring&#34; &lt;hiring@acme.example&gt;"' in page.text  # Cc, not Robin
    assert 'value="Re: Your interview on Thursday"' in page.text
    assert "wrote:\n&gt; Hello Robin, see you on Thursday." in page.text

    fields = {"mode": "reply", **{k: str(v) for k, v in ref.items()}}
    answer = send(
        robin, world, to=ANNA, subject="Re: Your interview on Thursday", text="Yes!", **fields
    )

    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/mail/{world.account_id}/message?")
    sent = email.message_from_bytes(smtp.received[0].data, policy=default)
    original_id = email.message_from_bytes(raw, policy=default)["Message-ID"]
    assert sent["In-Reply-To"] == original_id
    assert sent["References"].endswith(original_id)
    flags = mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX")[uid]
    assert b"\\Answered" in flags or "\\Answered" in flags


def test_a_forward_carries_the_original_files(world, robin, smtp):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", html_mail())
    ref = {"folder": "INBOX", "v": str(validity(world)), "uid": str(uid)}

    page = compose(robin, world, mode="forward", **ref)
    assert "Include the original's 1 file: Anna Berg CV.pdf" in page.text
    assert 'value="Fwd: Your interview on Thursday"' in page.text

    answer = send(
        robin,
        world,
        mode="forward",
        to="hiring.manager@client.example",
        subject="Fwd: Your interview on Thursday",
        text="FYI\n\n---------- Forwarded message ----------",
        forward_files="true",
        **ref,
    )

    assert answer.status_code == 303
    sent = email.message_from_bytes(smtp.received[0].data, policy=default)
    files = {p.get_filename(): p.get_content() for p in sent.iter_attachments()}
    assert files == {"Anna Berg CV.pdf": b"%PDF-1.4 cv"}
    flags = mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX")[uid]
    assert b"$Forwarded" in flags or "$Forwarded" in flags


def test_without_an_smtp_server_the_page_says_how_to_add_one(world, robin):
    page = compose(robin, world)
    assert "This account cannot send yet" in page.text
    assert f'href="/accounts/{world.account_id}/edit"' in page.text

    answer = send(robin, world, to=ANNA, subject="Hi", text="x")
    assert answer.status_code == 422
    assert "no SMTP server" in answer.text
    assert mailbox.list_uids(world.dovecot, world.mail_user, "Sent") == []


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"to": "anna"}, 422, "To: &#39;anna&#39; is not an email address"),
        ({"to": "", "cc": ""}, 422, "nobody to send to"),
        ({"to": "nobody@firm.example, " + ANNA}, 502, "refused nobody@firm.example (550"),
    ],
)
def test_what_is_not_sent_says_why_and_keeps_what_was_typed(
    world, robin, smtp, fields, status, words
):
    smtp.refuse("nobody@firm.example")
    answer = send(robin, world, subject="Kept subject", text="Kept text", **fields)

    assert answer.status_code == status
    assert words in answer.text
    assert 'value="Kept subject"' in answer.text
    assert "Kept text</textarea>" in answer.text
    assert smtp.received == []
    assert mailbox.list_uids(world.dovecot, world.mail_user, "Sent") == []
    assert activities_of(world, world.anna_id) == 0


def test_a_refused_smtp_login_sends_nothing(world, robin, smtp):
    smtp.password = "changed"  # the provider wants another password for sending
    answer = send(robin, world, to=ANNA, subject="Hi", text="x")

    assert answer.status_code == 502
    assert "refused the login" in answer.text
    assert re.search(r"app\s+password", answer.text)
    assert smtp.received == []


def test_nobody_else_sends_from_an_account(world, robin, smtp):
    with client_for(world.runtime) as client:
        cleo = sign_in(client, CLEO)
        assert compose(cleo, world).status_code == 404
        page = cleo.get("/mail")
        data = {"csrf_token": csrf_of(page.text), "to": ANNA, "subject": "x", "text": "x"}
        answer = cleo.post(f"/mail/{world.account_id}/send", data=data)
        assert answer.status_code == 404
    assert smtp.received == []


def test_the_signature_waits_below_the_room_to_write(world, robin, smtp):
    from postroom.services import accounts
    from postroom.services.secrets import load_or_create_key

    with world.runtime.write() as session:
        accounts.update_account(
            session=session,
            keyring=load_or_create_key(world.runtime.settings),
            account_id=world.account_id,
            owner_id=world.robin_id,
            signature="Robin Reeve\nFirm Recruiting",
        )
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", html_mail())

    new = compose(robin, world)
    reply = compose(robin, world, mode="reply", folder="INBOX", v=validity(world), uid=uid)

    assert ">\n\n\n-- \nRobin Reeve\nFirm Recruiting</textarea>" in new.text
    assert "\n\n-- \nRobin Reeve\nFirm Recruiting\n\nOn " in reply.text


def drafts(world):
    return mailbox.list_uids(world.dovecot, world.mail_user, "Drafts")


def test_a_draft_is_kept_taken_up_again_and_sent(world, robin, smtp):
    saved = send(
        robin, world, save="draft", to="", bcc=LENA, subject="Offer (draft)", text="Dear Anna,"
    )  # no recipient yet: a draft may have none

    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/mail/{world.account_id}?folder=Drafts"
    assert "The draft is saved in Drafts." in robin.get(saved.headers["location"]).text
    [first] = drafts(world)
    flags = mailbox.snapshot_flags(world.dovecot, world.mail_user, "Drafts")[first]
    assert {f.decode() if isinstance(f, bytes) else f for f in flags} >= {"\\Draft", "\\Seen"}
    assert smtp.received == []

    ref = {"folder": "Drafts", "v": str(validity(world, "Drafts")), "uid": str(first)}
    message = robin.get(f"/mail/{world.account_id}/message?{urlencode(ref)}")
    assert "Edit draft" in message.text
    page = compose(robin, world, mode="draft", **ref)
    assert 'value="Offer (draft)"' in page.text
    assert f'value="{LENA}"' in page.text  # Bcc kept in the draft
    assert re.search(r">\n(Dear Anna,\s*)</textarea>", page.text), re.findall(
        r"<textarea[^>]*>([^<]*)<", page.text
    )

    again = send(
        robin,
        world,
        save="draft",
        mode="draft",
        to=ANNA,
        bcc=LENA,
        subject="Offer",
        text="Dear Anna,\n\nthe offer.",
        **ref,
    )
    assert again.status_code == 303
    [second] = drafts(world)  # saved anew in place of the first
    assert second != first

    ref = {"folder": "Drafts", "v": str(validity(world, "Drafts")), "uid": str(second)}
    sent = send(
        robin,
        world,
        mode="draft",
        to=ANNA,
        bcc=LENA,
        subject="Offer",
        text="Dear Anna,\n\nthe offer.",
        **ref,
    )

    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/mail/{world.account_id}?folder=INBOX"
    assert drafts(world) == []  # sent: no longer a draft
    [received] = smtp.received
    assert sorted(received.recipients) == sorted([ANNA, LENA])
    assert b"the offer." in received.data
    assert len(mailbox.list_uids(world.dovecot, world.mail_user, "Sent")) == 1
    assert activities_of(world, world.anna_id) == 1
