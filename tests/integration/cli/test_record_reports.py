"""What ``postroom record import|list|show`` print, on both databases (issue 12, items 5
and 6): an import report is a summary and the rows that need attention; the list fits 80
columns and its search ignores case and accents and looks at the company; the timeline
says who wrote to whom, which address a bounce failed, and when in the machine's zone."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from postroom.cli.runtime import close_runtime, console
from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.services import records
from postroom.store.db import make_session_factory
from tests.support.mailseed import ME, WHEN, add_mail_account, bounce, ingest, mail

NO_CODE = "has no country code (write it with + or give a default region)"


def _csv(tmp_path, name, *lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_big_import_prints_a_summary_and_the_rows_that_need_attention(
    cli,
    tmp_path,
):
    rows = [f"Fine {n},fine{n}@x.example,+44 20 7946 {n:04d}" for n in range(10)]
    rows += [f"Local {n},local{n}@x.example,020 7946 {n:04d}" for n in range(50)]
    rows += [",nameless@x.example,", ",,"]
    path = _csv(tmp_path, "people.csv", "name,email,phone", *rows)
    code, out = cli("record", "import", path)
    assert code == 1, out  # an error row: the exit code says so
    assert "people.csv: 62 lines: 60 created, 0 merged, 1 skipped, 1 error" in out
    assert f"phone left out on 50 lines: {NO_CODE}" in out
    assert "--region GB" in out
    assert "20 of 52 lines that need attention shown (--verbose lists every row)" in out
    assert "phone '020 7946 0000' left out" in out
    assert "Fine 0" not in out  # rows imported whole are only counted
    assert len(out.splitlines()) < 40
    assert "Traceback" not in out

    path = _csv(tmp_path, "again.csv", "name,email,phone", *rows)
    code, out = cli("record", "import", path, "--on-duplicate", "skip", "--verbose")
    assert "again.csv: 62 lines: 0 created, 0 merged, 61 skipped, 1 error" in out
    assert "Fine 0" in out
    assert "Local 49" in out
    assert "need attention shown" not in out


def test_an_import_summary_says_1_error_and_1_line(cli, tmp_path):
    code, out = cli("record", "import", _csv(tmp_path, "one.csv", "name,email", "Ann,a@x.example"))
    assert code == 0, out
    assert "one.csv: 1 line: 1 created, 0 merged, 0 skipped, 0 errors" in out
    assert "outcome" not in out  # no table when no row needs attention
    code, out = cli("record", "import", _csv(tmp_path, "two.csv", "name,email", ",b@x.example"))
    assert code == 1
    assert "two.csv: 1 line: 0 created, 0 merged, 0 skipped, 1 error" in out
    assert "name is empty" in out


def _seed(engine, tmp_path):
    """José García and Anna Berg at Acme, Bob Stone at Globex (two addresses, one bounced),
    and mail with José and Bob."""
    sessions = make_session_factory(engine)
    account = add_mail_account(sessions)
    with sessions.begin() as session:
        add = records.create_record
        jose = add(
            session=session,
            draft=PersonDraft(
                "José García",
                emails=("jose.garcia-fernandez@recruiting-partners.example",),
                phones=(PhoneEntry("+44 20 7946 0958", "mobile"),),
                company="Acme Corporation International",
                tags=("python", "remote"),
            ),
        ).record
        add(session=session, draft=PersonDraft("Anna Berg", company="ACME corporation"))
        bob = add(
            session=session,
            draft=PersonDraft(
                "Bob Stone",
                emails=("bob@globex.example", "bstone@old-job.example"),
                company="Globex",
            ),
        ).record
    ingest(
        sessions,
        account,
        tmp_path / "mail",
        mail(
            sender=f"José García <{jose.primary_email}>",
            to=f"Robin <{ME}>",
            cc="Sam <sam@firm.example>",
            msgid="<j1@x>",
        ),
        mail(sender=f"Robin <{ME}>", to=str(jose.primary_email), msgid="<j2@x>", when=WHEN),
        mail(sender=f"Robin <{ME}>", to="bstone@old-job.example", msgid="<b1@x>"),
        bounce(failed="bstone@old-job.example", when=WHEN + timedelta(hours=1)),
    )
    close_runtime()
    return jose, bob


def test_record_list_fits_80_columns_and_shows_last_contact_and_activities(
    cli,
    engine,
    tmp_path,
    monkeypatch,
):
    _seed(engine, tmp_path)
    monkeypatch.setattr(console, "width", 80)
    code, out = cli("record", "list")
    assert code == 0, out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    header = out.splitlines()[0]
    for column in ("id", "name", "company", "email", "last contact", "activities"):
        assert column in header, out
    jose = next(line for line in out.splitlines() if "José García" in line)
    assert "2025-03-0" in jose  # the local date of the last mail
    assert jose.rstrip().endswith(" 2")
    anna = next(line for line in out.splitlines() if "Anna Berg" in line)
    assert "never" in anna
    assert anna.rstrip().endswith(" 0")

    monkeypatch.setattr(console, "width", 160)
    code, out = cli("record", "list")
    for value in ("python, remote", "+44 20 7946 0958", "candidate"):
        assert value in out
    assert max(len(line) for line in out.splitlines()) <= 160


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("garcia", {"José García"}),
        ("GARCÍA jose", {"José García"}),
        ("acme", {"José García", "Anna Berg"}),
        ("Acme Corporation", {"José García", "Anna Berg"}),
        ("globex", {"Bob Stone"}),
        ("nobody", set()),
    ],
)
def test_record_search_ignores_case_and_accents_and_searches_the_company(
    cli,
    engine,
    tmp_path,
    words,
    found,
):
    _seed(engine, tmp_path)
    code, out = cli("record", "list", "--search", words)
    assert code == 0, out
    names = {"José García", "Anna Berg", "Bob Stone"}
    assert {name for name in names if name in out} == found
    if not found:
        assert "no records match" in out


def test_record_list_without_records_says_what_to_do(cli):
    code, out = cli("record", "list")
    assert code == 0, out
    assert "postroom record add NAME" in out


def test_record_show_says_who_wrote_to_whom_and_when_in_the_local_zone(
    cli,
    engine,
    tmp_path,
    monkeypatch,
):
    jose, bob = _seed(engine, tmp_path)
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        code, out = cli("record", "show", str(jose.id))
        assert code == 0, out
        assert "2025-03-03 11:00 CET" in out  # 10:00 UTC
        assert f"From: José García <{jose.primary_email}>" in out
        assert f"To: Robin <{ME}>" in out
        assert "Cc: Sam <sam@firm.example>" in out
        assert f"From: Robin <{ME}>" in out
        code, out = cli("record", "show", str(bob.id))
        assert code == 0, out
        assert "BOUNCE" in out
        assert "2025-03-03 12:00 CET" in out
        assert "failed: bstone@old-job.example" in out
        assert "failed: bob@globex.example" not in out
    finally:
        monkeypatch.undo()
        time.tzset()
