"""Errors that name their fix (issue 12): each refusal says which option or setting mends it,
and a record that can never collect activities says so when it is added (docs/concepts.md,
"Matching")."""

from __future__ import annotations

from postroom.cli.runtime import open_runtime
from postroom.domain.accounts import TlsMode
from postroom.services import accounts as account_service
from postroom.services.secrets import Secret, load_or_create_key

ME = "robin@firm.example"
ALIAS = "jobs@robin.example"


def save_account(*, host: str, port: int, tls: TlsMode, username: str, password: str) -> int:
    """An account stored as a user typed it, without trying it first (the service never
    connects)."""
    runtime = open_runtime()
    with runtime.write() as session:
        account = account_service.add_account(
            session=session,
            keyring=load_or_create_key(runtime.settings),
            user_email=ME,
            label=username,
            imap_host=host,
            imap_port=port,
            tls=tls,
            username=username,
            password=Secret(password),
            own_addresses=(ME, ALIAS),
            allow_plaintext=tls is TlsMode.PLAIN,
        )
        return account.id


def one_error(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("error:")]
    return line


def test_refused_plain_text_names_allow_plaintext(cli, dovecot, mail_user):
    code, out = cli(
        "account",
        "add",
        "--user",
        ME,
        "--host",
        dovecot.host,
        "--port",
        str(dovecot.port),
        "--tls",
        "plain",
        "--username",
        mail_user.username,
        "--password-stdin",
        stdin=mail_user.password + "\n",
    )

    assert code == 1
    assert one_error(out) == (
        "error: IMAP without TLS was not explicitly allowed (allow it with --allow-plaintext, "
        "and only for a test server on this machine)"
    )


def test_implicit_tls_to_a_plain_port_says_try_starttls(cli, dovecot, mail_user):
    """The suite's Dovecot speaks plain IMAP on ``dovecot.port``: a TLS ClientHello gets an
    IMAP greeting back, which OpenSSL reports as WRONG_VERSION_NUMBER."""
    account = save_account(
        host=dovecot.host,
        port=dovecot.port,
        tls=TlsMode.IMPLICIT,
        username=mail_user.username,
        password=mail_user.password,
    )
    hint = "this port may speak plain IMAP or STARTTLS: try --tls starttls"

    code, out = cli("account", "test", str(account))

    assert code == 1
    assert "the server did not answer in TLS (WRONG_VERSION_NUMBER)" in out
    assert f"what to do: {hint}" in out

    code, out = cli("sync", "--once")

    assert code == 1
    assert f"({hint})" in out


def test_a_duplicate_refusal_names_on_duplicate(cli):
    assert cli("record", "add", "Anna Berg", "-e", "anna@acme.example")[0] == 0

    code, out = cli("record", "add", "Anna B.", "-e", "anna@acme.example")

    assert code == 1
    assert one_error(out) == (
        "error: record #1 (Anna Berg) already has the same email anna@acme.example "
        "(give --on-duplicate merge to merge into it, or --on-duplicate create for a separate "
        "record on purpose)"
    )
    code, out = cli(
        "record", "add", "Anna B.", "-e", "anna@acme.example", "--on-duplicate", "merge"
    )
    assert code == 0, out
    assert out.startswith("merged into record #1 Anna Berg")


def test_words_in_a_phone_field_are_not_a_phone_number(cli):
    code, out = cli("record", "add", "Bob", "-p", "hello")

    assert code == 1
    error = one_error(out)
    assert "phone 'hello' is not a phone number" in error
    assert "country code" not in error


def test_a_record_of_the_users_own_or_internal_address_is_warned_about(cli):
    save_account(
        host="imap.robin.example", port=993, tls=TlsMode.IMPLICIT, username=ME, password="pw"
    )
    assert cli("org", "internal-domain", "firm.example")[0] == 0

    code, out = cli("record", "add", "Robin", "-e", ALIAS, "-e", "anna@acme.example")
    assert code == 0, out
    assert out.splitlines() == [
        "created record #1 Robin",
        f"warning: {ALIAS} is a Postroom user's own address, whose mail is never logged: this "
        "record will never collect activities through it",
    ]

    code, out = cli("record", "add", "Kim", "-e", "kim@eu.firm.example")
    assert code == 0, out
    assert out.splitlines()[1] == (
        "warning: kim@eu.firm.example is in the internal domain firm.example, whose mail is "
        "never logged: this record will never collect activities through it"
    )

    code, out = cli("record", "add", "Anna", "-e", "anna@other.example")
    assert code == 0, out
    assert "warning" not in out


def test_an_internal_address_added_by_record_edit_is_warned_about(cli):
    assert cli("org", "internal-domain", "firm.example")[0] == 0
    assert cli("record", "add", "Kim", "-e", "kim@home.example")[0] == 0

    code, out = cli("record", "edit", "1", "--add-email", "kim@firm.example")

    assert code == 0, out
    assert out.splitlines()[1:] == [
        "warning: kim@firm.example is in the internal domain firm.example, whose mail is "
        "never logged: this record will never collect activities through it"
    ]
