"""The built-in mail client through the web (TestClient), on SQLite and PostgreSQL, with a real
Dovecot: folders, a folder's messages, one message, and the actions that change the mailbox
on the server (read, unread, flag, move, delete), and who may do what."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from postroom.services import mailbox as mail_client
from postroom.services import original
from tests.support import mailbox
from tests.support.originals import ANNA, CLEO, PNG, ROBIN, html_mail, make_world, plain_mail
from tests.support.web import client_for, csrf_of, sign_in


@pytest.fixture
def world(runtime, dovecot, mail_user):
    original.forget_cached_originals()
    mail_client.forget_counts()
    return make_world(runtime, dovecot, mail_user)


@pytest.fixture
def robin(world):
    with client_for(world.runtime) as client:
        yield sign_in(client, ROBIN)


def folder_page(client, world, folder="INBOX", **extra):
    query = urlencode({"folder": folder, **extra})
    return client.get(f"/mail/{world.account_id}?{query}")


def message_path(world, uid, folder="INBOX", suffix=""):
    validity = mailbox.folder_status(world.dovecot, world.mail_user, folder)["UIDVALIDITY"]
    query = urlencode({"folder": folder, "v": validity, "uid": uid})
    return f"/mail/{world.account_id}/message{suffix}?{query}"


def act(client, world, action, uids, folder="INBOX", **extra):
    page = folder_page(client, world, folder)
    validity = mailbox.folder_status(world.dovecot, world.mail_user, folder)["UIDVALIDITY"]
    fields = {
        "csrf_token": csrf_of(page.text),
        "folder": folder,
        "v": str(validity),
        "action": action,
        "uid": [str(uid) for uid in uids],
        **extra,
    }
    return client.post(f"/mail/{world.account_id}/actions", data=fields, follow_redirects=False)


def subjects(page):
    return re.findall(r'class="mail-subject">(?:<span[^>]*>Unread: </span>)?([^<]*)<', page.text)


def flags_of(world, folder, uid):
    flags = mailbox.snapshot_flags(world.dovecot, world.mail_user, folder)[uid]
    return {flag.decode() if isinstance(flag, bytes) else flag for flag in flags}


def test_mail_opens_the_first_account_inbox_or_says_to_add_one(world, robin):
    answer = robin.get("/mail", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/mail/{world.account_id}?folder=INBOX"

    with client_for(world.runtime) as client:
        cleo = sign_in(client, CLEO)
        page = cleo.get("/mail")
        assert page.status_code == 200
        assert "Connect your mailbox" in page.text
        assert 'href="/accounts/new"' in page.text


def test_a_folder_lists_its_messages_newest_first_with_their_state(world, robin):
    mailbox.create_folder(world.dovecot, world.mail_user, "Projects/Acme")
    first = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Older news"))
    second = mailbox.append(world.dovecot, world.mail_user, "INBOX", html_mail("Newer news"))
    stranger = mailbox.message("Zed <zed@elsewhere.example>", ROBIN, "From a stranger", "Hi")
    third = mailbox.append(world.dovecot, world.mail_user, "INBOX", stranger)
    mailbox.set_flags(world.dovecot, world.mail_user, "INBOX", first, ("\\Seen",))
    mailbox.set_flags(world.dovecot, world.mail_user, "INBOX", second, ("\\Flagged",))
    before = mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX")

    page = folder_page(robin, world)

    assert page.status_code == 200
    text = page.text
    assert text.index("From a stranger") < text.index("Newer news") < text.index("Older news")
    assert "3 messages" in text
    assert "2 unread" in text
    rows = re.findall(r'<li class="mail-row([^"]*)">', text)
    assert rows == [" unread", " unread flagged", ""]
    assert f'href="/records/{world.anna_id}"' in text  # Anna's mail shows her record
    assert 'aria-label="Has attachments"' in text
    for name in ("Inbox", "Sent", "Drafts", "Trash", "Archive", "Acme"):
        assert f'<span class="mail-folder-name">{name}</span>' in text
    assert f"uid={third}" in text
    # opening a folder changes nothing on the server
    assert mailbox.snapshot_flags(world.dovecot, world.mail_user, "INBOX") == before


def test_a_big_folder_pages_newest_first(world, robin, monkeypatch):
    monkeypatch.setattr(mail_client, "PAGE_SIZE", 4)
    raws = [mailbox.message(f"Anna <{ANNA}>", ROBIN, f"Note {n:02d}", "x") for n in range(10)]
    mailbox.fill_maildir(world.mail_user, "INBOX", raws)

    first = folder_page(robin, world)
    third = folder_page(robin, world, page=3)

    subjects = re.findall(
        r'<span class="mail-subject">(?:<span[^>]*>Unread: </span>)?([^<]*)<', first.text
    )
    assert subjects == ["Note 09", "Note 08", "Note 07", "Note 06"]
    assert "1–4 of 10" in first.text
    last = re.findall(
        r'<span class="mail-subject">(?:<span[^>]*>Unread: </span>)?([^<]*)<', third.text
    )
    assert last == ["Note 01", "Note 00"]
    assert folder_page(robin, world, page=99).status_code == 200  # past the end: the last page


def test_a_message_opens_marked_read_with_its_people(world, robin):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", html_mail())
    assert "\\Seen" not in flags_of(world, "INBOX", uid)

    page = robin.get(message_path(world, uid))

    assert page.status_code == 200
    text = page.text
    assert "Your interview on Thursday" in text
    assert "Anna Berg CV.pdf" in text
    assert "\\Seen" in flags_of(world, "INBOX", uid)  # as any mail program does
    frame = re.search(r"<iframe[^>]*>", text).group(0)
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    # Anna is on a record; the Cc address is not: one click makes a record of it
    assert f'href="/records/{world.anna_id}"' in text
    create = re.search(r'href="(/records/new\?[^"]+)"', text).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(create).query) == {
        "name": ["Hiring"],
        "email": ["hiring@acme.example"],
    }
    form = robin.get(create)
    assert 'value="Hiring"' in form.text
    assert 'value="hiring@acme.example"' in form.text
    assert ROBIN not in re.search(r"People in this email.*</aside>", text, re.S).group(0)


def test_the_body_frame_attachments_and_inline_images(world, robin):
    hostile = (
        '<p>Hi</p><script>alert(1)</script><img src="http://tracker.example/p.gif">'
        '<img src="cid:logo@acme">'
    )
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", html_mail(html=hostile))
    robin.get(message_path(world, uid))

    body = robin.get(message_path(world, uid, suffix="/body"))

    assert body.status_code == 200
    assert body.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in body.text
    assert "tracker.example" not in body.text
    inline = re.search(r'src="(http://testserver/mail/[^"]+/inline/[^"]+)"', body.text).group(1)
    with client_for(world.runtime) as anonymous:  # the frame sends no cookie: the token names Robin
        image = anonymous.get(inline.replace("&amp;", "&"))
    assert image.status_code == 200
    assert image.content == PNG
    path = message_path(world, uid, suffix="/parts/2")
    download = robin.get(path)
    assert download.status_code == 200
    assert download.content == b"%PDF-1.4 cv"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert robin.get(message_path(world, uid, suffix="/parts/9")).status_code == 404


def test_read_unread_flag_and_unflag_change_the_server(world, robin):
    one = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("One"))
    two = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Two"))

    answer = act(robin, world, "read", [one, two])
    assert answer.status_code == 303
    assert "\\Seen" in flags_of(world, "INBOX", one)
    assert "\\Seen" in flags_of(world, "INBOX", two)
    assert "2 messages marked read." in robin.get(answer.headers["location"]).text

    act(robin, world, "unread", [two])
    act(robin, world, "flag", [one])
    assert flags_of(world, "INBOX", one) == {"\\Seen", "\\Flagged"}
    assert flags_of(world, "INBOX", two) == set()
    act(robin, world, "unflag", [one])
    assert flags_of(world, "INBOX", one) == {"\\Seen"}


def test_move_and_delete_go_to_the_server(world, robin):
    keep = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Keep"))
    moved = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("To archive"))
    deleted = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("To delete"))

    answer = act(robin, world, "move", [moved], target="Archive")
    assert "Moved 1 message to Archive." in robin.get(answer.headers["location"]).text
    act(robin, world, "delete", [deleted])

    assert mailbox.list_uids(world.dovecot, world.mail_user, "INBOX") == [keep]
    assert len(mailbox.list_uids(world.dovecot, world.mail_user, "Archive")) == 1
    trash = mailbox.list_uids(world.dovecot, world.mail_user, "Trash")
    assert len(trash) == 1
    # in the Trash, delete is for good
    page = folder_page(robin, world, "Trash")
    assert "Delete for good" in page.text
    act(robin, world, "delete", trash, folder="Trash")
    assert mailbox.list_uids(world.dovecot, world.mail_user, "Trash") == []


def test_an_action_from_the_message_page_returns_there_or_to_the_folder(world, robin):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Flag me"))
    robin.get(message_path(world, uid))

    flagged = act(robin, world, "flag", [uid], opened="1")
    assert flagged.headers["location"] == message_path(world, uid)
    assert "Unflag" in robin.get(flagged.headers["location"]).text
    moved = act(robin, world, "move", [uid], target="Archive", opened="1")
    assert moved.headers["location"] == f"/mail/{world.account_id}?folder=INBOX"


def test_bad_actions_say_what_to_do_and_change_nothing(world, robin):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Stay"))

    for action, extra in (("move", {}), ("move", {"target": "Nowhere"}), ("explode", {})):
        answer = act(robin, world, action, [uid], **extra)
        assert answer.status_code == 303
        page = robin.get(answer.headers["location"])
        assert 'class="flash flash-error"' in page.text
    assert (
        "no message was chosen" in robin.get(act(robin, world, "read", []).headers["location"]).text
    )
    assert mailbox.list_uids(world.dovecot, world.mail_user, "INBOX") == [uid]
    assert flags_of(world, "INBOX", uid) == set()


def test_a_stale_link_or_a_missing_folder_is_not_found(world, robin):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Here"))
    path = message_path(world, uid)

    assert robin.get(path.replace(f"uid={uid}", f"uid={uid + 50}")).status_code == 404
    stale = re.sub(r"v=\d+", "v=1", path)
    assert robin.get(stale).status_code == 404
    assert folder_page(robin, world, "No such folder").status_code == 404


def test_another_users_mailbox_does_not_exist_for_them(world, robin):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Private"))
    path = message_path(world, uid)
    with client_for(world.runtime) as client:
        cleo = sign_in(client, CLEO)
        assert folder_page(cleo, world).status_code == 404
        assert cleo.get(path).status_code == 404
        assert cleo.get(message_path(world, uid, suffix="/parts/1")).status_code == 404
        page = cleo.get("/mail")
        fields = {
            "csrf_token": csrf_of(page.text),
            "folder": "INBOX",
            "v": "1",
            "action": "delete",
            "uid": [str(uid)],
        }
        answer = cleo.post(f"/mail/{world.account_id}/actions", data=fields)
        assert answer.status_code == 404
    assert mailbox.list_uids(world.dovecot, world.mail_user, "INBOX") == [uid]


def test_a_refused_login_says_what_to_do(world, robin):
    from postroom.services import accounts
    from postroom.services.secrets import Secret, load_or_create_key

    with world.runtime.write() as session:
        accounts.set_account_password(
            session=session,
            keyring=load_or_create_key(world.runtime.settings),
            account_id=world.account_id,
            password=Secret("wrong"),
            owner_id=world.robin_id,
        )

    page = folder_page(robin, world)

    assert page.status_code == 503
    assert "refused the login" in page.text
    assert "current password" in page.text


def test_without_list_status_the_counts_are_kept_a_minute_and_follow_our_changes(
    runtime, dovecot_basic, basic_mail_user, caplog
):
    """A server without LIST-STATUS (Gmail, Microsoft 365) costs a STATUS per folder: the
    counts are asked once a minute, and what the mail client itself changes corrects them."""
    original.forget_cached_originals()
    mail_client.forget_counts()
    world = make_world(runtime, dovecot_basic, basic_mail_user)
    one = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("One"))
    mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Two"))
    caplog.set_level(logging.DEBUG, logger="postroom.imap.wire")

    def statuses() -> int:
        sent = [r.getMessage() for r in caplog.records]
        caplog.clear()
        return sum(1 for line in sent if re.match(r"C: \S+ STATUS ", line))

    with client_for(world.runtime) as client:
        robin = sign_in(client, ROBIN)
        assert "2 unread" in folder_page(robin, world).text
        assert statuses() >= 5  # INBOX, Sent, Drafts, Trash, ...
        assert "2 unread" in folder_page(robin, world).text
        assert statuses() == 0
        robin.get(message_path(world, one))  # marked read here: one unread fewer at once
        assert "1 unread" in folder_page(robin, world).text
        assert statuses() == 0
        act(robin, world, "unread", [one])  # an action asks the server again
        assert "2 unread" in robin.get(f"/mail/{world.account_id}?folder=INBOX").text
        assert statuses() >= 5


def test_a_folder_is_searched_by_name_address_or_subject_in_any_language(world, robin):
    jorg = mailbox.message("Jörg Müller <joerg@example.de>", ROBIN, "Bewerbung", "Guten Tag")
    mailbox.append(world.dovecot, world.mail_user, "INBOX", jorg)
    mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Salary expectations"))
    note = mailbox.message(f"Anna <{ANNA}>", ROBIN, "Thursday", "The offer from Müller GmbH")
    mailbox.append(world.dovecot, world.mail_user, "INBOX", note)

    by_name = folder_page(robin, world, q="müller")
    by_two_words = folder_page(robin, world, q="anna salary")
    in_text = folder_page(robin, world, q="GmbH", text="1")
    nothing = folder_page(robin, world, q="GmbH")

    assert subjects(by_name) == ["Bewerbung"]
    assert "1 message with “müller”" in by_name.text
    assert subjects(by_two_words) == ["Salary expectations"]
    assert subjects(in_text) == ["Thursday"]
    assert "(text included)" in in_text.text
    assert "Nothing in Inbox matches “GmbH”" in nothing.text
    assert 'value="GmbH"' in nothing.text


def test_acting_on_search_results_returns_to_them(world, robin):
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail("Flag me"))
    page = folder_page(robin, world, q="flag")
    fields = {
        "csrf_token": csrf_of(page.text),
        "folder": "INBOX",
        "v": str(mailbox.folder_status(world.dovecot, world.mail_user, "INBOX")["UIDVALIDITY"]),
        "action": "flag",
        "uid": [str(uid)],
        "q": "flag",
    }
    answer = robin.post(f"/mail/{world.account_id}/actions", data=fields, follow_redirects=False)
    assert answer.headers["location"] == f"/mail/{world.account_id}?folder=INBOX&q=flag"
