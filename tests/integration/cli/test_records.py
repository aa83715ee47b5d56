"""``postroom record list|show`` on both databases: last contact, email counts, who wrote to
whom in the timeline (the same services as the web app)."""

from __future__ import annotations

from datetime import timedelta

from postroom.cli.runtime import close_runtime
from postroom.domain.records import PersonDraft
from postroom.services import records
from postroom.store.db import make_session_factory
from tests.support.mailseed import ME, WHEN, add_mail_account, bounce, ingest, mail


def test_list_and_show_a_record_with_its_mail(cli, engine, tmp_path):
    sessions = make_session_factory(engine)
    account = add_mail_account(sessions)
    with sessions.begin() as session:
        bob = records.create_record(
            session=session, draft=PersonDraft("Bob Stone", emails=("bob@other.example",))
        ).record
        records.create_record(session=session, draft=PersonDraft("Anna"))
    ingest(
        sessions,
        account,
        tmp_path / "mail",
        mail(
            sender="Bob Stone <bob@other.example>",
            to=f"Robin <{ME}>",
            cc="Sam <sam@firm.example>",
            msgid="<r1@x>",
            body="Tuesday works.\n\nOn Mon, Robin wrote:\n> Can we talk?\n",
            attachment=("cv.pdf", b"%PDF"),
        ),
        bounce(failed="bob@other.example", when=WHEN + timedelta(days=1)),
    )
    close_runtime()
    code, out = cli("record", "list", "--sort", "last_contact")
    assert code == 0, out
    lines = [line for line in out.splitlines() if "Bob Stone" in line or "Anna" in line]
    assert "Bob Stone" in lines[0]
    assert "2025-03-04" in lines[0]
    assert lines[0].rstrip(" │|").endswith("2")
    assert "never" in lines[1]
    code, out = cli("record", "show", str(bob.id))
    assert code == 0, out
    assert "From: Bob Stone <bob@other.example>" in out
    assert f"To: Robin <{ME}>" in out
    assert "Cc: Sam <sam@firm.example>" in out
    assert "Tuesday works." in out
    assert "Can we talk?" not in out
    assert "BOUNCE" in out
    assert "failed: bob@other.example" in out
    assert "cv.pdf" in out
    code, out = cli("record", "show", str(bob.id), "--full")
    assert "Can we talk?" in out
    code, out = cli("record", "list", "--limit", "1")
    assert "1 of 2 records" in out
    code, out = cli("record", "list", "--sort", "age")
    assert code != 0
    assert "Traceback" not in out
