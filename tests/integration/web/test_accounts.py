"""The mail account pages on both databases and the suite's Dovecot: the list, add with
"Test connection", health, a new password, edit, remove, folders; each user sees only their
own accounts, and the password never comes back in a page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from postroom.domain.matching import Direction
from postroom.mail.types import MessageKind
from postroom.services import accounts as account_service
from postroom.services.secrets import Secret, load_or_create_key
from postroom.store import sync_state
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    FolderState,
    MailAccount,
    MailMessage,
    Person,
    Quarantine,
    TlsMode,
)
from tests.support.accounts import add_folder
from tests.support.smtp import SmtpServer
from tests.support.web import add_user, client_for, csrf_of, post_form, sign_in

ROBIN = "robin@firm.example"
SECRET_WORD = "S3cret-never-shown"


@pytest.fixture
def robin(runtime):
    return add_user(runtime, ROBIN, name="Robin Recruiter")


@pytest.fixture
def robin_client(runtime, robin):
    with client_for(runtime) as client:
        yield sign_in(client, ROBIN)


def add_account(
    runtime,
    owner: str,
    *,
    host="127.0.0.1",
    port=143,
    username="u@x.example",
    password=SECRET_WORD,
    label="Work",
) -> int:
    keyring = load_or_create_key(runtime.settings)
    with runtime.write() as session:
        account = account_service.add_account(
            session=session,
            keyring=keyring,
            user_email=owner,
            label=label,
            imap_host=host,
            imap_port=port,
            tls=TlsMode.PLAIN,
            username=username,
            password=Secret(password),
            allow_plaintext=True,
        )
        return account.id


def dovecot_form(dovecot, mail_user, **changes: str) -> dict[str, str]:
    form = {
        "label": "Robin at work",
        "addresses": f"{ROBIN}\n{mail_user.address}",
        "imap_host": "127.0.0.1",
        "imap_port": str(dovecot.port),
        "tls": "plain",
        "username": mail_user.username,
        "password": mail_user.password,
        "visibility": "subject",
    }
    return {**form, **changes}


def post_new(client, form: dict[str, str], action: str, **kwargs):
    """Post the add-account form with ``action`` (test or save), as its page would."""
    return post_form(
        client, "/accounts/new", {**form, "action": action}, page="/accounts/new", **kwargs
    )


def steps_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-step="(\w+)" data-outcome="(\w+)"', html))


def test_the_list_says_what_to_do_when_there_is_no_account(robin_client):
    page = robin_client.get("/accounts")
    assert page.status_code == 200
    assert "Add a mail account to start logging email" in page.text
    assert 'href="/accounts/new"' in page.text


def test_test_connection_then_save_on_dovecot(robin_client, runtime, dovecot, mail_user):
    form = robin_client.get("/accounts/new")
    assert form.status_code == 200
    assert ROBIN in form.text  # the owner's address is offered

    tested = post_new(robin_client, dovecot_form(dovecot, mail_user), "test")
    assert tested.status_code == 200
    assert steps_of(tested.text) == {
        "dns": "ok",
        "tcp": "ok",
        "tls": "warning",
        "login": "ok",
        "inbox": "ok",
        "sent": "ok",
    }
    assert "Connection works" in tested.text
    assert 'value="Robin at work"' in tested.text  # the form keeps its values ...
    assert mail_user.password not in tested.text  # ... but the password
    with runtime.read() as session:
        assert account_service.list_account_views(session=session, owner_id=None) == []

    saved = post_new(robin_client, dovecot_form(dovecot, mail_user), "save", follow_redirects=False)
    assert saved.status_code == 303
    account_id = int(saved.headers["location"].rsplit("/", 1)[1])
    health = robin_client.get(f"/accounts/{account_id}")
    assert health.status_code == 200
    assert "The account is saved" in health.text
    assert "never synced" in health.text
    assert mail_user.password not in health.text
    with runtime.read() as session:
        [view] = account_service.list_account_views(session=session, owner_id=None)
    assert view.owner_email == ROBIN
    assert view.visibility.value == "subject"
    assert set(view.own_addresses) == {ROBIN, mail_user.address}
    listing = robin_client.get("/accounts")
    assert "Robin at work" in listing.text
    assert f'href="/accounts/{account_id}"' in listing.text


def test_save_tests_first_and_keeps_the_form_when_the_login_is_refused(
    robin_client, runtime, dovecot, mail_user
):
    refused = post_new(
        robin_client,
        dovecot_form(dovecot, mail_user, password="wrong-password"),
        "save",
        follow_redirects=False,
    )
    assert refused.status_code == 422
    steps = steps_of(refused.text)
    assert steps["login"] == "failed"
    assert steps["inbox"] == steps["sent"] == "skipped"
    assert "The test failed at “Login”" in refused.text
    assert "app password" in refused.text  # what to do
    assert "wrong-password" not in refused.text
    assert f'value="{dovecot.port}"' in refused.text
    with runtime.read() as session:
        assert account_service.list_account_views(session=session, owner_id=None) == []


@pytest.mark.parametrize(
    ("changes", "step", "words"),
    [
        (
            {"imap_host": "no-such-host.invalid", "tls": "implicit", "imap_port": ""},
            "dns",
            "could not be found in DNS",
        ),
        ({"imap_port": "1"}, "tcp", "connection refused"),
    ],
    ids=["dns", "refused"],
)
def test_each_failed_step_says_what_happened_and_what_to_do(
    robin_client, dovecot, mail_user, changes, step, words
):
    tested = post_new(robin_client, dovecot_form(dovecot, mail_user, **changes), "test")
    assert tested.status_code == 200
    assert steps_of(tested.text)[step] == "failed"
    assert words in tested.text
    assert "What to do: check the server name" in tested.text


def test_an_untrusted_certificate_fails_the_tls_step(robin_client, dovecot, mail_user):
    tested = post_new(
        robin_client,
        dovecot_form(dovecot, mail_user, tls="implicit", imap_port=str(dovecot.tls_port)),
        "test",
    )
    steps = steps_of(tested.text)
    assert steps["tcp"] == "ok"
    assert steps["tls"] == "failed"
    assert "never switch to plain text" in tested.text


def test_plain_text_to_a_remote_host_is_refused_on_the_form(robin_client, dovecot, mail_user):
    refused = post_new(
        robin_client, dovecot_form(dovecot, mail_user, imap_host="imap.example.com"), "save"
    )
    assert refused.status_code == 422
    assert "only to a loopback host" in refused.text
    assert "use implicit TLS" in refused.text


def _seed_health(runtime, account_id: int) -> None:
    """INBOX live but missing 1 message, Sent in its first sync, a quarantined message."""
    with runtime.write() as session:
        inbox = add_folder(
            session, account_id, "INBOX", "inbox", state=FolderState.LIVE, server_count=3
        )
        add_folder(
            session, account_id, "Sent", "sent", state=FolderState.BACKFILLING, server_count=40
        )
        session.add(
            Quarantine(
                account_id=account_id,
                folder_id=inbox.id,
                uidvalidity=1,
                uid=7,
                error="the message has no header",
            )
        )
        session.add(
            Quarantine(
                account_id=account_id,
                folder_id=inbox.id,
                uidvalidity=1,
                uid=8,
                error="a suspect only",
                is_suspect=True,
            )
        )


def test_the_health_page_shows_folders_progress_and_quarantine(robin_client, runtime, robin):
    account_id = add_account(runtime, ROBIN)
    _seed_health(runtime, account_id)
    page = robin_client.get(f"/accounts/{account_id}")
    assert page.status_code == 200
    text = page.text
    assert ">first sync</span>" in text
    assert "0 of 40 messages (0%)" in text  # Sent's
    assert "behind by 2" in text  # INBOX: 3 on the server, 1 quarantined, none synced
    assert 'max="40" value="0"' in text  # Sent's progress bar
    assert "INBOX UID 7" in text
    assert "the message has no header" in text
    assert "a suspect only" not in text
    assert 'data-settling="true"' in text
    assert '<script src="/static/accounts.js' in text
    assert "<script>" not in text
    assert 'style="' not in text
    listing = robin_client.get("/accounts")
    assert "0 of 40 messages" in listing.text
    assert 'data-health-url="/api/v1/accounts/' in listing.text


def test_retrying_shows_the_error_with_its_advice(robin_client, runtime, robin):
    account_id = add_account(runtime, ROBIN)
    with runtime.write() as session:
        account = session.get(MailAccount, account_id)
        account.last_error = "cannot connect to 127.0.0.1:143: connection refused"
        account.last_error_advice = "check the server name and port"
    for url in ("/accounts", f"/accounts/{account_id}"):
        page = robin_client.get(url)
        assert "retrying" in page.text
        assert "connection refused" in page.text
        assert "check the server name and port" in page.text


def test_needs_a_new_password_takes_one_tested_on_the_server(
    robin_client, runtime, robin, dovecot, mail_user
):
    account_id = add_account(
        runtime, ROBIN, port=dovecot.port, username=mail_user.username, password="old-password"
    )
    with runtime.write() as session:
        account = session.get(MailAccount, account_id)
        account.needs_reauth = True
        account.last_error = "the server refused the login"
    page = robin_client.get(f"/accounts/{account_id}")
    assert "login refused: needs a new password" in page.text
    assert f'action="/accounts/{account_id}/password"' in page.text
    assert 'data-settling="false"' in page.text

    url = f"/accounts/{account_id}/password"
    wrong = post_form(
        robin_client, url, {"password": "still-wrong"}, page=f"/accounts/{account_id}"
    )
    assert wrong.status_code == 422
    assert steps_of(wrong.text)["login"] == "failed"
    with runtime.read() as session:
        assert session.get(MailAccount, account_id).needs_reauth

    right = post_form(
        robin_client,
        url,
        {"password": mail_user.password},
        page=f"/accounts/{account_id}",
        follow_redirects=True,
    )
    assert right.status_code == 200
    assert "The new password is saved" in right.text
    assert "needs a new password" not in right.text
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        account = session.get(MailAccount, account_id)
        assert not account.needs_reauth
        assert account.last_error is None
        assert account_service.reveal_password(keyring=keyring, account=account).reveal() == (
            mail_user.password
        )


def test_edit_retests_unless_told_not_to(robin_client, runtime, robin, dovecot, mail_user):
    account_id = add_account(
        runtime, ROBIN, port=dovecot.port, username=mail_user.username, password=mail_user.password
    )
    edit = robin_client.get(f"/accounts/{account_id}/edit")
    assert edit.status_code == 200
    assert mail_user.password not in edit.text
    assert 'value="Work"' in edit.text
    token = csrf_of(edit.text)
    form = dovecot_form(dovecot, mail_user, label="Renamed", password="", visibility="metadata")

    saved = robin_client.post(
        f"/accounts/{account_id}/edit", data={**form, "csrf_token": token}, follow_redirects=False
    )
    assert saved.status_code == 303  # tested with the stored password, which works
    with runtime.read() as session:
        view = account_service.get_account_view(
            session=session, account_id=account_id, owner_id=None
        )
    assert (view.label, view.visibility.value) == ("Renamed", "metadata")

    broken = {**form, "imap_port": "1"}
    refused = robin_client.post(
        f"/accounts/{account_id}/edit", data={**broken, "csrf_token": token}
    )
    assert refused.status_code == 422
    assert steps_of(refused.text)["tcp"] == "failed"
    forced = robin_client.post(
        f"/accounts/{account_id}/edit",
        data={**broken, "skip_test": "true", "csrf_token": token},
        follow_redirects=False,
    )
    assert forced.status_code == 303
    with runtime.read() as session:
        assert session.get(MailAccount, account_id).imap_port == 1


def test_remove_keeps_the_activities_it_logged(robin_client, runtime, robin):
    account_id = add_account(runtime, ROBIN)
    _seed_health(runtime, account_id)
    with runtime.write() as session:
        person = Person(name="Anna Berg", name_key="anna berg")
        message = MailMessage(
            account_id=account_id,
            identity_key="k1",
            fingerprint="f1",
            subject="Interview",
            direction=Direction.RECEIVED,
            kind=MessageKind.CONVERSATION,
        )
        session.add_all([person, message])
        session.flush()
        session.add(
            Activity(
                person_id=person.id,
                fingerprint="f1",
                message_id=message.id,
                kind=ActivityKind.EMAIL,
                direction=Direction.RECEIVED,
                subject="Interview",
                body_state=BodyState.PRESENT,
                text="Hello",
            )
        )
    confirm = robin_client.get(f"/accounts/{account_id}/remove")
    assert confirm.status_code == 200
    assert "The emails it logged stay on the records" in confirm.text
    removed = post_form(
        robin_client,
        f"/accounts/{account_id}/remove",
        {},
        page=f"/accounts/{account_id}/remove",
        follow_redirects=True,
    )
    assert removed.url.path == "/accounts"
    assert "Work is removed" in removed.text
    assert robin_client.get(f"/accounts/{account_id}").status_code == 404
    with runtime.read() as session:
        [activity] = session.scalars(select(Activity)).all()
        assert activity.message_id is None
        assert activity.text == "Hello"
        assert session.scalars(select(MailMessage)).all() == []
        assert sync_state.list_folders(session=session, account_id=account_id) == []
        assert session.scalars(select(Quarantine)).all() == []


def test_folders_are_listed_from_the_server_and_tracked(
    robin_client, runtime, robin, dovecot, mail_user
):
    account_id = add_account(
        runtime, ROBIN, port=dovecot.port, username=mail_user.username, password=mail_user.password
    )
    _seed_health(runtime, account_id)  # INBOX and Sent as the sync made them
    page = robin_client.get(f"/accounts/{account_id}/folders")
    assert page.status_code == 200
    assert 'data-folder-name="Archive"' in page.text
    assert "always synced" in page.text
    url = f"/accounts/{account_id}/folders"
    tracked = post_form(
        robin_client, url, {"name": "Archive", "action": "track"}, page=url, follow_redirects=True
    )
    assert "Archive is synced from now on" in tracked.text
    assert "Stop syncing" in tracked.text
    refused = post_form(robin_client, url, {"name": "INBOX", "action": "untrack"}, page=url)
    assert refused.status_code == 422
    assert "INBOX is always synced" in refused.text
    dropped = post_form(
        robin_client, url, {"name": "Archive", "action": "untrack"}, page=url, follow_redirects=True
    )
    assert "Archive is no longer synced" in dropped.text


def test_the_folders_page_says_when_the_server_cannot_be_reached(robin_client, runtime, robin):
    account_id = add_account(runtime, ROBIN, port=1)
    page = robin_client.get(f"/accounts/{account_id}/folders")
    assert page.status_code == 200
    assert "could not be read" in page.text
    assert "check the server name and port" in page.text


def test_another_user_even_an_admin_finds_no_such_account(runtime, robin, admin, admin_client):
    account_id = add_account(runtime, ROBIN)
    _seed_health(runtime, account_id)
    mallory = add_user(runtime, "mallory@firm.example")
    with client_for(runtime) as other:
        sign_in(other, mallory.email)
        for client in (other, admin_client):
            assert "Work" not in client.get("/accounts").text
            for url in ("", "/edit", "/remove", "/folders"):
                page = client.get(f"/accounts/{account_id}{url}")
                assert page.status_code == 404, url
                assert "u@x.example" not in page.text
            for url, data in (
                (
                    "/edit",
                    {
                        "label": "Mine now",
                        "skip_test": "true",
                        "imap_host": "127.0.0.1",
                        "tls": "plain",
                        "username": "u@x.example",
                    },
                ),
                ("/remove", {}),
                ("/password", {"password": "x", "skip_test": "true"}),
                ("/test", {}),
                ("/folders", {"name": "INBOX", "action": "untrack"}),
            ):
                answer = post_form(client, f"/accounts/{account_id}{url}", data, page="/accounts")
                assert answer.status_code == 404, url
    with runtime.read() as session:
        view = account_service.get_account_view(
            session=session, account_id=account_id, owner_id=None
        )
    assert view.label == "Work"


def test_the_password_is_never_in_a_page(robin_client, runtime, robin):
    account_id = add_account(runtime, ROBIN)
    _seed_health(runtime, account_id)
    for url in (
        "/accounts",
        f"/accounts/{account_id}",
        f"/accounts/{account_id}/edit",
        f"/accounts/{account_id}/remove",
        f"/api/v1/accounts/{account_id}",
        "/api/v1/accounts",
        f"/api/v1/accounts/{account_id}/health",
    ):
        answer = robin_client.get(url)
        assert answer.status_code == 200, url
        assert SECRET_WORD not in answer.text, url
    for model in robin_client.get("/api/v1/accounts").json():
        assert not {"password", "secret"} & set(model), model


def test_test_connection_of_a_saved_account(robin_client, runtime, robin, dovecot, mail_user):
    account_id = add_account(
        runtime,
        ROBIN,
        port=dovecot.port,
        username=mail_user.username,
        password=mail_user.password,
    )
    url = f"/accounts/{account_id}"
    tested = post_form(robin_client, url + "/test", {}, page=url)
    assert tested.status_code == 200
    assert "Connection works" in tested.text
    assert steps_of(tested.text)["sent"] == "ok"
    assert mail_user.password not in tested.text


SMTP_HELP = (
    "Postroom sends your mail through this server with the same username and password, and "
    "puts a copy in your Sent folder."
)


def _checked(html: str, name: str) -> str:
    """The value of the checked radio button ``name``."""
    [value] = re.findall(rf'name="{name}" value="(\w+)" checked', html)
    return value


def test_the_smtp_server_is_tested_and_saved_with_the_account(
    robin_client, runtime, dovecot, mail_user
):
    page = robin_client.get("/accounts/new")
    assert "<legend>Sending (SMTP)</legend>" in page.text
    assert SMTP_HELP in page.text
    assert _checked(page.text, "smtp_tls") == "implicit"

    with SmtpServer(mail_user.username, mail_user.password) as smtp:
        form = dovecot_form(
            dovecot, mail_user, smtp_host="127.0.0.1", smtp_port=str(smtp.port), smtp_tls="plain"
        )
        tested = post_new(robin_client, form, "test")
        assert tested.status_code == 200
        steps = steps_of(tested.text)
        assert (steps["smtp_dns"], steps["smtp_tcp"], steps["smtp_login"]) == ("ok",) * 3
        assert steps["smtp_tls"] == "warning"  # plain text, to this machine only
        assert "SMTP login" in tested.text
        assert f"sending through 127.0.0.1:{smtp.port}" in tested.text
        assert f'name="smtp_port" type="number" value="{smtp.port}"' in tested.text  # kept
        assert _checked(tested.text, "smtp_tls") == "plain"

        saved = post_new(robin_client, form, "save", follow_redirects=False)
        assert saved.status_code == 303, saved.text
        assert smtp.received == []  # the test sends nothing
    account_id = int(saved.headers["location"].rsplit("/", 1)[1])
    with runtime.read() as session:
        view = account_service.get_account_view(
            session=session, account_id=account_id, owner_id=None
        )
    assert view.smtp == account_service.SmtpSettings("127.0.0.1", smtp.port, TlsMode.PLAIN)
    health = robin_client.get(f"/accounts/{account_id}")
    assert f"127.0.0.1:{smtp.port}" in health.text
    assert "plain text (this machine only)" in health.text


def test_a_refused_smtp_login_keeps_the_form_and_saves_nothing(
    robin_client, runtime, dovecot, mail_user
):
    with SmtpServer(mail_user.username, "a-separate-smtp-password") as smtp:
        form = dovecot_form(
            dovecot, mail_user, smtp_host="localhost", smtp_port=str(smtp.port), smtp_tls="plain"
        )
        refused = post_new(robin_client, form, "save")
    assert refused.status_code == 422
    steps = steps_of(refused.text)
    assert steps["login"] == "ok"  # IMAP took the password, the SMTP server did not
    assert steps["smtp_login"] == "failed"
    assert "The test failed at “SMTP login”" in refused.text
    assert "app password" in refused.text
    assert mail_user.password not in refused.text
    assert 'name="smtp_host" type="text" value="localhost"' in refused.text
    assert f'name="smtp_port" type="number" value="{smtp.port}"' in refused.text
    assert _checked(refused.text, "smtp_tls") == "plain"
    with runtime.read() as session:
        assert account_service.list_account_views(session=session, owner_id=None) == []


def test_plain_smtp_to_a_remote_host_is_refused_on_the_form(robin_client, dovecot, mail_user):
    form = dovecot_form(dovecot, mail_user, smtp_host="smtp.example.com", smtp_tls="plain")
    refused = post_new(robin_client, form, "test")
    assert refused.status_code == 422
    assert "SMTP without TLS is allowed only to a loopback host" in refused.text
    assert 'name="smtp_host" type="text" value="smtp.example.com"' in refused.text


def test_edit_sets_and_removes_the_smtp_server_with_the_stored_password(
    robin_client, runtime, robin, dovecot, mail_user
):
    account_id = add_account(
        runtime, ROBIN, port=dovecot.port, username=mail_user.username, password=mail_user.password
    )
    health = robin_client.get(f"/accounts/{account_id}")
    assert "None set: sending mail needs an SMTP server" in health.text
    url = f"/accounts/{account_id}/edit"
    edit = robin_client.get(url)
    assert 'name="smtp_host" type="text" value=""' in edit.text
    token = csrf_of(edit.text)
    form = dovecot_form(dovecot, mail_user, label="Work", password="")

    with SmtpServer(mail_user.username, mail_user.password) as smtp:
        with_smtp = {**form, "smtp_host": "127.0.0.1", "smtp_port": str(smtp.port)}
        refused = robin_client.post(url, data={**with_smtp, "csrf_token": token})
        assert refused.status_code == 422  # implicit TLS (the default) to a plain port
        assert steps_of(refused.text)["smtp_tls"] == "failed"
        saved = robin_client.post(
            url,
            data={**with_smtp, "smtp_tls": "plain", "csrf_token": token},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text  # tested with the stored password
    with runtime.read() as session:
        view = account_service.get_account_view(
            session=session, account_id=account_id, owner_id=None
        )
    assert view.smtp == account_service.SmtpSettings("127.0.0.1", smtp.port, TlsMode.PLAIN)
    edit = robin_client.get(url)
    assert f'name="smtp_port" type="number" value="{smtp.port}"' in edit.text
    assert _checked(edit.text, "smtp_tls") == "plain"

    removed = robin_client.post(
        url,
        data={**form, "smtp_host": "", "smtp_port": str(smtp.port), "csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303, removed.text
    with runtime.read() as session:
        view = account_service.get_account_view(
            session=session, account_id=account_id, owner_id=None
        )
    assert (view.smtp_host, view.smtp_port, view.smtp_tls) == (None, None, None)
    assert "None set" in robin_client.get(f"/accounts/{account_id}").text


def test_test_connection_of_a_saved_account_tries_its_smtp_server(
    robin_client, runtime, robin, dovecot, mail_user
):
    account_id = add_account(
        runtime, ROBIN, port=dovecot.port, username=mail_user.username, password=mail_user.password
    )
    with SmtpServer(mail_user.username, mail_user.password) as smtp:
        with runtime.write() as session:
            account_service.update_account(
                session=session,
                keyring=load_or_create_key(runtime.settings),
                account_id=account_id,
                owner_id=None,
                smtp_host="127.0.0.1",
                smtp_port=smtp.port,
                smtp_tls=TlsMode.STARTTLS,
            )
        url = f"/accounts/{account_id}"
        tested = post_form(robin_client, url + "/test", {}, page=url)
    assert tested.status_code == 200
    steps = steps_of(tested.text)
    assert steps["sent"] == "ok"
    assert steps["smtp_tls"] == "failed"  # no STARTTLS on offer: never plain text instead
    assert steps["smtp_login"] == "skipped"
    assert "does not offer STARTTLS" in tested.text


def test_edit_keeps_a_signature_for_the_mail_client(
    robin_client, runtime, robin, dovecot, mail_user
):
    account_id = add_account(
        runtime, ROBIN, port=dovecot.port, username=mail_user.username, password=mail_user.password
    )
    url = f"/accounts/{account_id}/edit"
    token = csrf_of(robin_client.get(url).text)
    form = dovecot_form(dovecot, mail_user, label="Work", password="")
    signature = "Robin Reeve  \r\nFirm Recruiting <b>\r\n\r\n"

    saved = robin_client.post(
        url, data={**form, "signature": signature, "csrf_token": token}, follow_redirects=False
    )

    assert saved.status_code == 303, saved.text
    with runtime.read() as session:
        view = account_service.get_account_view(
            session=session, account_id=account_id, owner_id=None
        )
    assert view.signature == "Robin Reeve\nFirm Recruiting <b>"
    edit = robin_client.get(url)
    assert "Robin Reeve\nFirm Recruiting &lt;b&gt;</textarea>" in edit.text
    too_long = robin_client.post(url, data={**form, "signature": "x" * 5001, "csrf_token": token})
    assert too_long.status_code == 422
    assert "more than 5,000" in too_long.text
