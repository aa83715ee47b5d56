"""``postroom record edit|remove``: every value entered can be corrected (issue 12, item 1).

An address added by ``edit`` runs late matching as ``record add`` does: mail ingested before
it appears on the record's timeline.
"""

from __future__ import annotations

from tests.integration.cli.test_main import write_mail

ME = "robin@firm.example"
ANNA = "anna@acme.example"
ANNA_HOME = "anna.berg@home.example"
LINK = "https://www.linkedin.com/in/anna-berg"


def _ok(cli, *args: str, stdin: str | None = None) -> str:
    code, out = cli(*args, stdin=stdin)
    assert code == 0, (args, out)
    return out


def _fails(cli, *args: str, stdin: str | None = None) -> str:
    code, out = cli(*args, stdin=stdin)
    assert code == 1, (args, out)
    assert out.strip().startswith("error:"), (args, out)
    return out


def _anna(cli) -> None:
    _ok(
        cli,
        "record",
        "add",
        "Anna Berg",
        "-e",
        ANNA,
        "-p",
        "+44 20 7946 0958",
        "--company",
        "Acme",
        "--title",
        "Engineer",
        "--tag",
        "python",
        "--link",
        LINK,
    )


def test_an_added_email_brings_past_mail_and_every_value_can_change(cli, tmp_path):
    _anna(cli)
    _ok(
        cli,
        "account",
        "add",
        "--user",
        ME,
        "--host",
        "imap.firm.example",
        "--username",
        ME,
        "--password-stdin",
        "--no-test",
        stdin="pw\n",
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_mail(
        inbox / "1.eml", sender=ANNA_HOME, to=ME, body="Sent from home.", msgid="<h1@home.example>"
    )
    assert "0 activities created" in _ok(cli, "message", "ingest", str(inbox))

    out = _ok(cli, "record", "edit", "1", "--add-email", ANNA_HOME)
    assert "updated record #1 Anna Berg (1 activity on its timeline)" in out
    out = _ok(cli, "record", "show", "1")
    assert "Interview on Tuesday" in out  # the past mail, matched late
    assert "Sent from home." in out
    assert f"{ANNA} (primary), {ANNA_HOME}" in out

    _ok(
        cli,
        "record",
        "edit",
        "1",
        "--name",
        "Anna Berg-Lund",
        "--kind",
        "contact",
        "--company",
        "",
        "--title",
        "CTO",
        "--location",
        "Leeds",
        "--notes",
        "Met at PyCon",
        "--remove-email",
        ANNA.upper(),
        "--remove-phone",
        "020 7946 0958",
        "--region",
        "GB",
        "--add-phone",
        "+1 415 555 0100",
        "--remove-tag",
        "Python",
        "--add-tag",
        "Remote",
        "--remove-link",
        LINK,
        "--add-link",
        "https://anna.example",
    )
    out = _ok(cli, "record", "show", "1")
    assert "#1 Anna Berg-Lund (contact)" in out
    assert f"email     {ANNA_HOME} (primary)" in out
    assert ANNA not in out
    assert "+1 415-555-0100" in out
    assert "7946" not in out
    assert "company" not in out  # cleared
    assert "title     CTO" in out
    assert "location  Leeds" in out
    assert "tags      remote" in out
    assert "links     https://anna.example" in out
    assert "notes     Met at PyCon" in out
    assert "Interview on Tuesday" in out  # still on the timeline


def test_edit_says_what_is_wrong_and_changes_nothing(cli):
    _anna(cli)
    _ok(cli, "record", "add", "Bob Stone", "-e", "bob@other.example")

    out = _fails(cli, "record", "edit", "1", "--remove-email", "nobody@acme.example")
    assert "record #1 has no email 'nobody@acme.example'" in out
    out = _fails(cli, "record", "edit", "1", "--remove-tag", "java")
    assert "record #1 has no tag 'java'" in out
    out = _fails(cli, "record", "edit", "1", "--remove-phone", "hello")
    assert "record #1 has no phone 'hello'" in out
    out = _fails(cli, "record", "edit", "1", "--add-email", "not-an-address")
    assert "not-an-address" in out
    out = _fails(cli, "record", "edit", "1", "--add-email", "BOB@other.example")
    assert "record #2 (Bob Stone) already has the email bob@other.example" in out
    out = _fails(cli, "record", "edit", "1", "--kind", "robot")
    assert "robot" in out
    assert "error: nothing to change" in _fails(cli, "record", "edit", "1")
    assert "record #99" in _fails(cli, "record", "edit", "99", "--name", "X")

    out = _ok(cli, "record", "show", "1")
    assert f"email     {ANNA} (primary)" in out
    assert "bob@other.example" not in out
    assert "tags      python" in out


def test_remove_asks_first(cli):
    _anna(cli)
    _ok(cli, "record", "add", "Bob Stone", "-e", "bob@other.example")

    code, out = cli("record", "remove", "1", stdin="n\n")
    assert code == 1
    assert "Remove record #1 Anna Berg and the 0 activities on its timeline?" in out
    assert "nothing removed" in out
    assert "internal error" not in out
    _ok(cli, "record", "show", "1")

    out = _ok(cli, "record", "remove", "1", stdin="y\n")
    assert "removed record #1 Anna Berg" in out
    assert "record #1" in _fails(cli, "record", "show", "1")

    assert "removed record #2 Bob Stone" in _ok(cli, "record", "remove", "2", "--yes")
    assert "no records" in _ok(cli, "record", "list")
    assert "record #2" in _fails(cli, "record", "remove", "2", "--yes")
