from postroom.store import accounts as store
from postroom.store.models import MailAccount, PrivateKind
from postroom.store.records import find_or_create_user


def _account(session, user_id, username, imap_host="imap.firm.example"):
    account = MailAccount(
        user_id=user_id,
        label=username,
        imap_host=imap_host,
        username=username,
        secret=b"sealed",
    )
    session.add(account)
    session.flush()
    return account


def test_accounts_by_id_by_login_and_by_user(session_factory):
    with session_factory.begin() as session:
        rec = find_or_create_user(session=session, email="rec@firm.example")
        boss = find_or_create_user(session=session, email="boss@firm.example")
        first = _account(session, rec.id, "Rec@Firm.example").id
        second = _account(session, boss.id, "boss@firm.example").id
        other_host = _account(session, rec.id, "rec@firm.example", "imap.other.example").id
        rec_id = rec.id
    with session_factory() as session:
        found = store.get_account(session=session, account_id=first)
        assert found is not None
        assert found.username == "Rec@Firm.example"
        assert store.get_account(session=session, account_id=999_999) is None

        by_login = store.get_account_by_login(
            session=session, imap_host="imap.firm.example", username="REC@firm.EXAMPLE"
        )
        assert by_login is not None
        assert by_login.id == first
        by_login = store.get_account_by_login(
            session=session, imap_host="imap.other.example", username="rec@firm.example"
        )
        assert by_login is not None
        assert by_login.id == other_host
        assert (
            store.get_account_by_login(
                session=session, imap_host="imap.firm.example", username="nobody@firm.example"
            )
            is None
        )

        assert [a.id for a in store.list_accounts(session=session)] == [
            first,
            second,
            other_host,
        ]
        assert [a.id for a in store.list_accounts(session=session, user_id=rec_id)] == [
            first,
            other_host,
        ]
        assert store.list_accounts(session=session, user_id=999_999) == []


def test_internal_domains_add_once_list_sorted_get_and_delete(session_factory):
    with session_factory.begin() as session:
        store.add_internal_domain(session=session, domain="zeta.example")
        store.add_internal_domain(session=session, domain="firm.example")
        store.add_internal_domain(session=session, domain="firm.example")
    with session_factory.begin() as session:
        assert store.list_internal_domains(session=session) == ["firm.example", "zeta.example"]
        assert store.get_internal_domain(session=session, domain="other.example") is None
        found = store.get_internal_domain(session=session, domain="zeta.example")
        assert found is not None
        store.delete_internal_domain(session=session, internal_domain=found)
    with session_factory() as session:
        assert store.list_internal_domains(session=session) == ["firm.example"]


def test_private_entries_add_once_list_get_and_delete(session_factory):
    with session_factory.begin() as session:
        domain = store.add_private_entry(
            session=session, kind=PrivateKind.DOMAIN, value="clinic.example"
        )
        store.add_private_entry(
            session=session, kind=PrivateKind.ADDRESS, value="boss@firm.example"
        )
        again = store.add_private_entry(
            session=session, kind=PrivateKind.DOMAIN, value="clinic.example"
        )
        assert again.id == domain.id
        assert domain.kind is PrivateKind.DOMAIN
    with session_factory.begin() as session:
        assert [(e.kind, e.value) for e in store.list_private_entries(session=session)] == [
            (PrivateKind.ADDRESS, "boss@firm.example"),
            (PrivateKind.DOMAIN, "clinic.example"),
        ]
        assert store.get_private_entry(session=session, value="other@firm.example") is None
        entry = store.get_private_entry(session=session, value="boss@firm.example")
        assert entry is not None
        store.delete_private_entry(session=session, entry=entry)
    with session_factory() as session:
        assert [e.value for e in store.list_private_entries(session=session)] == ["clinic.example"]
