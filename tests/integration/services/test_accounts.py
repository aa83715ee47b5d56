import re

import pytest
from sqlalchemy import text

from postroom.errors import Conflict, InputError, NotFound, SecretError
from postroom.services import accounts
from postroom.services.secrets import Keyring, Secret
from postroom.store.models import PrivateKind, TlsMode, Visibility

KEYRING = Keyring(Keyring.generate_key())
PASSWORD = Secret("correct horse battery staple")


def _add(session, **overrides):
    values = {
        "session": session,
        "keyring": KEYRING,
        "user_email": "Rec@Firm.example",
        "label": " Work ",
        "imap_host": "IMAP.Firm.example.",
        "username": "Rec@Firm.example",
        "password": PASSWORD,
    }
    values.update(overrides)
    return accounts.add_account(**values)


def test_add_account_stores_checked_values_and_a_sealed_password(session_factory):
    with session_factory.begin() as session:
        account = _add(
            session,
            own_addresses=["rec.alias@firm.example", " REC@firm.example ", "Jobs@Firm.example"],
            smtp_host="smtp.firm.example",
            visibility=Visibility.SUBJECT,
        )
        account_id = account.id
    with session_factory() as session:
        account = accounts.get_account_or_raise(session=session, account_id=account_id)
        assert account.user.email == "rec@firm.example"
        assert (account.label, account.imap_host, account.imap_port, account.imap_tls) == (
            "Work",
            "imap.firm.example",
            993,
            TlsMode.IMPLICIT,
        )
        assert (account.smtp_host, account.smtp_port, account.smtp_tls) == (
            "smtp.firm.example",
            465,
            TlsMode.IMPLICIT,
        )
        assert account.visibility is Visibility.SUBJECT
        assert [(a.address, a.address_key) for a in account.addresses] == [
            ("rec.alias@firm.example", "rec.alias@firm.example"),
            ("REC@firm.example", "rec@firm.example"),
            ("Jobs@Firm.example", "jobs@firm.example"),
        ]
        raw = bytes(session.execute(text("SELECT secret FROM mail_account")).scalar_one())
        assert PASSWORD.reveal().encode() not in raw
        assert accounts.reveal_password(keyring=KEYRING, account=account) == PASSWORD
        assert "correct horse" not in repr(
            accounts.reveal_password(keyring=KEYRING, account=account)
        )


def test_username_becomes_an_own_address_when_it_is_one(session_factory):
    with session_factory.begin() as session:
        account = _add(session, username="Anna.Berg@Firm.example")
        assert [a.address_key for a in account.addresses] == ["anna.berg@firm.example"]
        other = _add(session, imap_host="imap.other.example", username="aberg")
        assert other.addresses == []


def test_ports_follow_the_tls_mode(session_factory):
    with session_factory.begin() as session:
        account = _add(session, tls=TlsMode.STARTTLS, smtp_host="smtp.firm.example", smtp_port=587)
        assert (account.imap_port, account.imap_tls) == (143, TlsMode.STARTTLS)
        assert (account.smtp_port, account.smtp_tls) == (587, TlsMode.STARTTLS)
        explicit = _add(session, imap_host="imap2.firm.example", imap_port=10993)
        assert explicit.imap_port == 10993


def test_plain_text_needs_a_loopback_host_and_explicit_permission(session_factory):
    with session_factory.begin() as session:
        with pytest.raises(InputError) as caught:
            _add(session, tls=TlsMode.PLAIN, allow_plaintext=True)
        assert str(caught.value) == (
            "IMAP without TLS is allowed only to a loopback host, not imap.firm.example"
            " (use implicit TLS (port 993 for IMAP, 465 for SMTP) or STARTTLS)"
        )
        with pytest.raises(InputError, match="IMAP without TLS was not explicitly allowed"):
            _add(session, imap_host="127.0.0.1", tls=TlsMode.PLAIN)
        with pytest.raises(InputError, match="SMTP without TLS is allowed only to a loopback"):
            _add(
                session,
                imap_host="localhost",
                tls=TlsMode.PLAIN,
                allow_plaintext=True,
                smtp_host="smtp.firm.example",
                smtp_tls=TlsMode.PLAIN,
            )
        for loopback in ["localhost", "127.0.0.2", "[::1]", "imap.localhost"]:
            account = _add(
                session,
                imap_host=loopback,
                tls=TlsMode.PLAIN,
                allow_plaintext=True,
                smtp_host=loopback,
                smtp_tls=TlsMode.PLAIN,
            )
            assert (account.imap_port, account.smtp_port) == (143, 25)
        assert [a.imap_host for a in accounts.list_accounts(session=session)] == [
            "localhost",
            "127.0.0.2",
            "::1",
            "imap.localhost",
        ]


def test_bad_values_are_refused(session_factory):
    with session_factory.begin() as session:
        cases = [
            ({"label": " "}, "label is empty"),
            ({"username": ""}, "username is empty"),
            ({"password": Secret("")}, "password is empty"),
            ({"imap_host": "imap firm.example"}, "IMAP host 'imap firm.example' is not a host"),
            ({"imap_port": 0}, "IMAP port 0 is not between 1 and 65535"),
            ({"smtp_port": 587}, "an SMTP port or TLS mode was given without an SMTP host"),
            ({"own_addresses": ["ok@firm.example", "bob@", ""]}, "own address 'bob@', '' is not"),
            ({"user_email": "rec"}, "user email 'rec' is not an address"),
        ]
        for overrides, message in cases:
            with pytest.raises(InputError, match=re.escape(message)):
                _add(session, **overrides)
        assert accounts.list_accounts(session=session) == []


def _smtp(view: accounts.AccountView) -> tuple[object, object, object]:
    return view.smtp_host, view.smtp_port, view.smtp_tls


def _update(session, account_id: int, **changes) -> accounts.AccountView:
    return accounts.update_account(
        session=session, keyring=KEYRING, account_id=account_id, owner_id=None, **changes
    )


def test_the_smtp_server_is_set_changed_and_removed_without_the_password(session_factory):
    with session_factory.begin() as session:
        account_id = _add(session).id
        view = accounts.get_account_view(session=session, account_id=account_id, owner_id=None)
        assert _smtp(view) == (None, None, None)
        assert view.smtp is None  # it cannot send

        view = _update(session, account_id, smtp_host=" SMTP.Firm.example. ", smtp_port=587)
        assert _smtp(view) == ("smtp.firm.example", 587, TlsMode.STARTTLS)  # 587: STARTTLS
        assert view.smtp == accounts.SmtpSettings("smtp.firm.example", 587, TlsMode.STARTTLS)

        view = _update(session, account_id, smtp_tls=TlsMode.IMPLICIT)  # its usual port
        assert _smtp(view) == ("smtp.firm.example", 465, TlsMode.IMPLICIT)
        view = _update(session, account_id, smtp_port=2465)  # a port alone keeps the mode
        assert _smtp(view) == ("smtp.firm.example", 2465, TlsMode.IMPLICIT)
        view = _update(session, account_id, smtp_host="mail.firm.example")  # the rest kept
        assert _smtp(view) == ("mail.firm.example", 2465, TlsMode.IMPLICIT)
        view = _update(session, account_id, label="Renamed")  # no SMTP value: nothing changes
        assert _smtp(view) == ("mail.firm.example", 2465, TlsMode.IMPLICIT)

        view = _update(session, account_id, smtp_host=" ")  # blank: no SMTP server
        assert _smtp(view) == (None, None, None)
    with session_factory() as session:
        account = accounts.get_account_or_raise(session=session, account_id=account_id)
        assert (account.smtp_host, account.smtp_port, account.smtp_tls) == (None, None, None)
        assert accounts.reveal_password(keyring=KEYRING, account=account) == PASSWORD


def test_an_smtp_change_is_checked_as_add_checks_it(session_factory):
    with session_factory.begin() as session:
        account_id = _add(session, smtp_host="smtp.firm.example").id
        cases = [
            ({"smtp_host": "smtp firm.example"}, "SMTP host 'smtp firm.example' is not a host"),
            ({"smtp_port": 70000}, "SMTP port 70000 is not between 1 and 65535"),
            (
                {"smtp_tls": TlsMode.PLAIN, "allow_plaintext": True},
                "SMTP without TLS is allowed only to a loopback host, not smtp.firm.example",
            ),
            ({"smtp_host": "", "smtp_port": 587}, "an SMTP port or TLS mode was given without"),
        ]
        for changes, message in cases:
            with pytest.raises(InputError, match=re.escape(message)):
                _update(session, account_id, **changes)
        view = accounts.get_account_view(session=session, account_id=account_id, owner_id=None)
        assert _smtp(view) == ("smtp.firm.example", 465, TlsMode.IMPLICIT)  # nothing saved

        other_id = _add(session, imap_host="imap.other.example").id
        with pytest.raises(InputError, match="without an SMTP host"):  # it has no server yet
            _update(session, other_id, smtp_port=465)
        with pytest.raises(InputError, match="SMTP without TLS was not explicitly allowed"):
            _update(session, other_id, smtp_host="localhost", smtp_tls=TlsMode.PLAIN)
        view = _update(
            session, other_id, smtp_host="localhost", smtp_tls=TlsMode.PLAIN, allow_plaintext=True
        )
        assert _smtp(view) == ("localhost", 25, TlsMode.PLAIN)
        view = _update(session, other_id, smtp_port=2525)  # kept plain: asked once is enough
        assert _smtp(view) == ("localhost", 2525, TlsMode.PLAIN)
        with pytest.raises(InputError, match="only to a loopback host"):
            _update(session, other_id, smtp_host="smtp.other.example")


def test_an_smtp_change_keeps_the_sync_state(session_factory):
    """The SMTP server is not the sync's: changing it does not clear a refused login."""
    with session_factory.begin() as session:
        account = _add(session)
        account.needs_reauth = True
        account.last_error = "login refused"
        account_id = account.id
    with session_factory.begin() as session:
        view = _update(session, account_id, smtp_host="smtp.firm.example")
        assert view.needs_reauth
        assert view.smtp is not None


def test_the_same_mailbox_cannot_be_added_twice(session_factory):
    with session_factory.begin() as session:
        first = _add(session)
        with pytest.raises(Conflict) as caught:
            _add(
                session,
                user_email="other@firm.example",
                imap_host="imap.FIRM.example",
                username="REC@firm.example",
            )
        assert str(caught.value) == (
            f"account #{first.id} (Work, user rec@firm.example) already syncs"
            " REC@firm.example on imap.firm.example"
        )


def test_list_and_get_accounts(session_factory):
    with session_factory.begin() as session:
        a = _add(session)
        b = _add(session, user_email="other@firm.example", username="other@firm.example")
        assert accounts.list_accounts(session=session) == [a, b]
        assert accounts.list_accounts(session=session, user_email="OTHER@firm.example") == [b]
        assert accounts.list_accounts(session=session, user_email="nobody@firm.example") == []
        assert accounts.get_account(session=session, account_id=a.id) is a
        assert accounts.get_account(session=session, account_id=404) is None
        with pytest.raises(NotFound, match="mail account #404 does not exist"):
            accounts.get_account_or_raise(session=session, account_id=404)


def test_wrong_key_cannot_reveal_and_a_new_password_can_be_set(session_factory):
    with session_factory.begin() as session:
        account = _add(session)
        account.needs_reauth = True
        other = Keyring(Keyring.generate_key())
        with pytest.raises(SecretError):
            accounts.reveal_password(keyring=other, account=account)
        accounts.set_account_password(
            session=session, keyring=other, account_id=account.id, password=Secret("new pw")
        )
        assert accounts.reveal_password(keyring=other, account=account) == Secret("new pw")
        assert account.needs_reauth is False
        with pytest.raises(InputError, match="password is empty"):
            accounts.set_account_password(
                session=session, keyring=other, account_id=account.id, password=Secret("")
            )


def test_internal_domains(session_factory):
    with session_factory.begin() as session:
        assert (
            accounts.add_internal_domain(session=session, domain="@Firm.example") == "firm.example"
        )
        assert (
            accounts.add_internal_domain(session=session, domain="FIRM.example.") == "firm.example"
        )
        assert (
            accounts.add_internal_domain(session=session, domain="Bücher.example")
            == "xn--bcher-kva.example"
        )
        assert accounts.list_internal_domains(session=session) == [
            "firm.example",
            "xn--bcher-kva.example",
        ]
        with pytest.raises(InputError, match="internal domain 'firm' is not a domain"):
            accounts.add_internal_domain(session=session, domain="firm")
        accounts.remove_internal_domain(session=session, domain="@firm.example")
        with pytest.raises(NotFound, match=r"firm\.example is not an internal domain"):
            accounts.remove_internal_domain(session=session, domain="firm.example")
        assert accounts.list_internal_domains(session=session) == ["xn--bcher-kva.example"]


def test_private_list(session_factory):
    with session_factory.begin() as session:
        entry = accounts.add_private_entry(session=session, value=" Boss@Firm.example ")
        assert (entry.kind, entry.value) == (PrivateKind.ADDRESS, "boss@firm.example")
        again = accounts.add_private_entry(session=session, value="boss@FIRM.example")
        assert again.id == entry.id
        accounts.add_private_entry(session=session, value="@Clinic.example")
        accounts.add_private_entry(session=session, value="lawyer.example")
        assert [(e.kind, e.value) for e in accounts.list_private_entries(session=session)] == [
            (PrivateKind.ADDRESS, "boss@firm.example"),
            (PrivateKind.DOMAIN, "clinic.example"),
            (PrivateKind.DOMAIN, "lawyer.example"),
        ]
        with pytest.raises(InputError, match=r"private entry 'a b@x\.example' is not an address"):
            accounts.add_private_entry(session=session, value="a b@x.example")
        with pytest.raises(InputError, match="private entry 'nothing' is not a domain"):
            accounts.add_private_entry(session=session, value="nothing")
        accounts.remove_private_entry(session=session, value="@clinic.example")
        with pytest.raises(NotFound, match=r"clinic\.example is not on the private list"):
            accounts.remove_private_entry(session=session, value="clinic.example")
        assert [e.value for e in accounts.list_private_entries(session=session)] == [
            "boss@firm.example",
            "lawyer.example",
        ]
