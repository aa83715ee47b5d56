"""services.health, services.connection_test and the account changes of services.accounts, on
both databases (and the suite's Dovecot for the test): states in their order, counts per
folder, owners only, the test's steps before saving, update and remove."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from postroom.config import Settings
from postroom.domain.matching import Direction
from postroom.errors import Conflict, InputError, NotFound
from postroom.services import accounts, connection_test, health
from postroom.services.connection_test import Outcome, Step
from postroom.services.secrets import Keyring, Secret
from postroom.store import records as record_store
from postroom.store import sync_state
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    FolderState,
    MailAccount,
    MailMessage,
    MessageLocation,
    Person,
    TlsMode,
    Visibility,
)
from tests.support.accounts import add_folder, add_synced_messages

KEYRING = Keyring(Keyring.generate_key())
OWNER = "robin@firm.example"


def _add(session, *, owner=OWNER, username="robin@firm.example", host="imap.firm.example"):
    return accounts.add_account(
        session=session,
        keyring=KEYRING,
        user_email=owner,
        label="Work",
        imap_host=host,
        username=username,
        password=Secret("pw"),
    )


def test_the_states_in_their_order(session_factory):
    with session_factory.begin() as session:
        account_id = _add(session).id
    with session_factory() as session:
        assert (
            health.get_account_health(session=session, account_id=account_id, owner_id=None).state
            is health.AccountState.NEVER_SYNCED
        )

    with session_factory.begin() as session:
        inbox = add_folder(
            session, account_id, "INBOX", "inbox", state=FolderState.BACKFILLING, server_count=10
        )
        add_synced_messages(session, account_id, inbox.id, 4)
    with session_factory() as session:
        found = health.get_account_health(session=session, account_id=account_id, owner_id=None)
    assert found.state is health.AccountState.FIRST_SYNC
    assert found.first_sync == health.Progress(4, 10)
    assert found.state_text == "first sync in progress: 4 of 10"
    assert found.is_settling

    with session_factory.begin() as session:
        session.get(MailAccount, account_id).last_success_at = datetime.now(UTC)
        sync_state.save_checkpoint(session=session, folder_id=inbox.id, state=FolderState.LIVE)
    with session_factory() as session:
        found = health.get_account_health(session=session, account_id=account_id, owner_id=None)
    assert found.state is health.AccountState.OK
    [folder] = found.folders
    assert (folder.status, folder.behind, folder.status_text) == (
        health.FolderStatus.BEHIND,
        6,
        "behind by 6",
    )
    assert not found.is_settling

    retry = datetime(2026, 12, 6, 14, 5, 3, tzinfo=UTC)
    with session_factory.begin() as session:
        sync_state.record_account_failure(
            session=session, account_id=account_id, error="timed out", advice="wait", retry_at=retry
        )
    with session_factory() as session:
        found = health.get_account_health(session=session, account_id=account_id, owner_id=None)
    assert found.state_text == "retrying at 14:05:03 UTC"

    with session_factory.begin() as session:
        sync_state.record_account_failure(
            session=session,
            account_id=account_id,
            error="refused",
            advice="password",
            needs_reauth=True,
        )
    with session_factory() as session:
        found = health.get_account_health(session=session, account_id=account_id, owner_id=None)
    assert found.state_text == "login refused: needs a new password"
    assert not found.is_settling


def test_a_dropped_folder_is_not_synced_and_counts_stay(session_factory):
    with session_factory.begin() as session:
        account_id = _add(session).id
        archive = add_folder(
            session, account_id, "Archive", None, state=FolderState.LIVE, server_count=5
        )
        add_synced_messages(session, account_id, archive.id, 2)
        archive.is_tracked = False
    with session_factory() as session:
        [folder] = health.get_account_health(
            session=session, account_id=account_id, owner_id=None
        ).folders
    assert folder.status is health.FolderStatus.NOT_SYNCED
    assert (folder.synced, folder.behind, folder.progress) == (2, 0, None)


def test_only_the_owner_sees_an_account(session_factory):
    with session_factory.begin() as session:
        account = _add(session)
        account_id, owner_id = account.id, account.user_id
        other = record_store.find_or_create_user(session=session, email="mallory@firm.example")
        other_id = other.id
    with session_factory() as session:
        assert [
            h.account_id for h in health.list_account_health(session=session, owner_id=owner_id)
        ] == [account_id]
        assert health.list_account_health(session=session, owner_id=other_id) == []
        for call in (health.get_account_health, accounts.get_account_view):
            with pytest.raises(NotFound, match=f"mail account #{account_id} does not exist"):
                call(session=session, account_id=account_id, owner_id=other_id)
        with pytest.raises(NotFound):
            accounts.remove_account(session=session, account_id=account_id, owner_id=other_id)
        with pytest.raises(NotFound):
            accounts.set_account_password(
                session=session,
                keyring=KEYRING,
                account_id=account_id,
                password=Secret("x"),
                owner_id=other_id,
            )


def test_update_checks_like_add_and_clears_the_last_failure(session_factory):
    with session_factory.begin() as session:
        first = _add(session)
        second = _add(session, username="jobs@firm.example")
        first_id, second_id = first.id, second.id
        sync_state.record_account_failure(
            session=session, account_id=first_id, error="no", advice=None, needs_reauth=True
        )
    with session_factory.begin() as session:
        view = accounts.update_account(
            session=session,
            keyring=KEYRING,
            account_id=first_id,
            owner_id=None,
            label=" Renamed ",
            own_addresses=["alias@firm.example"],
            visibility=Visibility.METADATA,
            password=Secret("new"),
        )
    assert view.label == "Renamed"
    assert view.own_addresses == ("robin@firm.example", "alias@firm.example")
    assert view.visibility is Visibility.METADATA
    assert not view.needs_reauth
    with session_factory.begin() as session:
        with pytest.raises(Conflict):
            accounts.update_account(
                session=session,
                keyring=KEYRING,
                account_id=second_id,
                owner_id=None,
                username="ROBIN@firm.example",
            )
        with pytest.raises(InputError, match="loopback"):
            accounts.update_account(
                session=session,
                keyring=KEYRING,
                account_id=second_id,
                owner_id=None,
                tls=TlsMode.PLAIN,
                allow_plaintext=True,
            )
        changed = accounts.update_account(
            session=session,
            keyring=KEYRING,
            account_id=second_id,
            owner_id=None,
            tls=TlsMode.STARTTLS,
        )
    assert (changed.tls, changed.imap_port) == (TlsMode.STARTTLS, 143)
    with session_factory() as session:
        account = session.get(MailAccount, first_id)
        assert accounts.reveal_password(keyring=KEYRING, account=account).reveal() == "new"
        assert account.last_error is None


def test_remove_keeps_activities_and_drops_the_rest(session_factory):
    with session_factory.begin() as session:
        account_id = _add(session).id
        inbox = add_folder(
            session, account_id, "INBOX", "inbox", state=FolderState.LIVE, server_count=1
        )
        add_synced_messages(session, account_id, inbox.id, 1)
        person = Person(name="Anna", name_key="anna")
        session.add(person)
        session.flush()
        message_id = session.scalars(select(MailMessage.id)).one()
        session.add(
            Activity(
                person_id=person.id,
                fingerprint=f"f{inbox.id}-1",
                message_id=message_id,
                kind=ActivityKind.EMAIL,
                direction=Direction.RECEIVED,
                body_state=BodyState.PRESENT,
                text="kept",
            )
        )
    with session_factory.begin() as session:
        removed = accounts.remove_account(session=session, account_id=account_id, owner_id=None)
    assert removed.label == "Work"
    with session_factory() as session:
        assert session.get(MailAccount, account_id) is None
        assert session.scalars(select(MailMessage)).all() == []
        assert session.scalars(select(MessageLocation)).all() == []
        [activity] = session.scalars(select(Activity)).all()
        assert activity.message_id is None
        assert activity.text == "kept"


def _settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, database_url="sqlite://", secret_key=None)


def test_the_test_before_saving_checks_every_step(tmp_path, dovecot, mail_user):
    report = connection_test.try_new_server(
        settings=_settings(tmp_path),
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        tls=TlsMode.PLAIN,
        username=mail_user.username,
        password=Secret(mail_user.password),
    )
    assert report.ok
    assert [s.outcome for s in report.steps] == [
        Outcome.OK,
        Outcome.OK,
        Outcome.WARNING,
        Outcome.OK,
        Outcome.OK,
        Outcome.OK,
    ]
    assert report.step(Step.SENT).message == "Sent"
    assert "IDLE" in report.extensions

    refused = connection_test.try_new_server(
        settings=_settings(tmp_path),
        imap_host="localhost",
        imap_port=dovecot.port,
        tls=TlsMode.PLAIN,
        username=mail_user.username,
        password=Secret("wrong"),
    )
    assert refused.failed is not None
    assert refused.failed.step is Step.LOGIN
    assert all("wrong" not in (s.message + (s.advice or "")) for s in refused.steps)


def test_a_certificate_from_a_trusted_ca_passes_the_tls_step(tmp_path, dovecot, mail_user):
    settings = Settings(
        home=tmp_path, database_url="sqlite://", secret_key=None, imap_ca_file=dovecot.ca_pem_path
    )
    report = connection_test.try_new_server(
        settings=settings,
        imap_host="127.0.0.1",
        imap_port=dovecot.tls_port,
        tls=TlsMode.IMPLICIT,
        username=mail_user.username,
        password=Secret(mail_user.password),
    )
    assert report.step(Step.TLS).outcome is Outcome.OK
    assert report.step(Step.TLS).message == "implicit TLS, certificate checked"
    assert report.ok


def test_bad_settings_are_refused_before_connecting(tmp_path):
    with pytest.raises(InputError, match="loopback"):
        connection_test.try_new_server(
            settings=_settings(tmp_path),
            imap_host="imap.example.com",
            imap_port=None,
            tls=TlsMode.PLAIN,
            username="u",
            password=Secret("p"),
        )
