"""Text from mail, servers and files is printed as it is (issue 11, item 4): never read as Rich
markup (``[/b]`` used to crash ``record show``; ``[link=...]`` made a clickable link), and with
terminal control and bidirectional characters removed (docs/architecture.md, "Decisions and
why")."""

from __future__ import annotations

import pytest

from postroom.cli.runtime import close_runtime
from postroom.domain.records import PersonDraft
from postroom.services import records
from postroom.store import sync_state
from postroom.store.db import make_session_factory
from tests.support.mailseed import ME, add_mail_account, ingest, mail

MARKUP = "hello [/b] world [link=http://x]y[/link]"
ESCAPE = "\x1b[31m"
"""A terminal escape sequence (red text); printed, only ``[31m`` may remain."""


def assert_safe(out: str) -> None:
    assert "\x1b" not in out
    assert "\u202e" not in out


@pytest.fixture
def sessions(engine):
    return make_session_factory(engine)


def test_record_show_and_list_print_a_hostile_subject_name_and_text_as_they_are(
    cli, sessions, tmp_path
):
    account = add_mail_account(sessions)
    with sessions.begin() as session:
        bob = records.create_record(
            session=session,
            draft=PersonDraft(f"Bob [/b] {ESCAPE}Stone", emails=("bob@other.example",)),
        ).record
    ingest(
        sessions,
        account,
        tmp_path / "mail",
        mail(
            sender='"Bob [/i]" <bob@other.example>',
            to=f"Robin <{ME}>",
            subject=f"{MARKUP} {ESCAPE}red",
            body=f"first line [/] {ESCAPE}\u202eevil\n",
            attachment=("cv [red]x.pdf", b"%PDF"),
        ),
    )
    close_runtime()

    code, out = cli("record", "show", str(bob.id))

    assert code == 0, out
    assert_safe(out)
    assert f"#{bob.id} Bob [/b] [31mStone" in out
    assert f"{MARKUP} [31mred" in out
    assert "From: Bob [/i] <bob@other.example>" in out, out
    assert "first line [/] [31mevil" in out
    assert "cv [red]x.pdf" in out

    code, out = cli("record", "list")

    assert code == 0, out
    assert_safe(out)
    assert "Bob [/b] [31mStone" in out


def test_status_prints_a_server_refusal_and_folder_names_as_they_are(cli, sessions):
    account = add_mail_account(sessions)
    with sessions.begin() as session:
        sync_state.record_account_failure(
            session=session,
            account_id=account,
            error=f"login refused: [/oops] {MARKUP} {ESCAPE}\u202e",
            advice="check [bold]the password",
        )
        folder = sync_state.ensure_folder(
            session=session,
            account_id=account,
            name_raw=b"Jobs [/b]",
            name=f"Jobs [/b] {ESCAPE}",
            delimiter="/",
            role=None,
        )
        sync_state.record_folder_failure(session=session, folder_id=folder.id, error="[/x] bad")
    close_runtime()

    code, out = cli("status")

    assert code == 0, out
    assert_safe(out)
    assert f"last error: login refused: [/oops] {MARKUP} [31m — check [bold]the password" in out
    assert "Jobs [/b] [31m" in out
    assert "[/x] bad" in out


def test_an_import_report_prints_file_names_and_values_as_they_are(cli, tmp_path):
    path = tmp_path / "people [red]x.csv"
    path.write_text(
        "Name,Email,Phone\n"
        f'"Anna [/b] Berg","[link=http://x]y[/link]",\n'
        f'"Carl {ESCAPE}Dahl",carl@x.example,"[/i]"\n'
        "Dora,dora@x.example,,extra [/u]\n"
    )

    code, out = cli("record", "import", str(path))

    assert code == 1, out  # Dora's row has more fields than the header
    assert_safe(out)
    assert "people [red]x.csv: 3 lines:" in out
    assert "Anna [/b] Berg" in out
    assert "email '[link=http://x]y[/link]' left out" in out
    assert "Carl [31mDahl" in out
    assert "phone '[/i]' left out" in out
