"""``postroom message ingest`` leaves a file over the size limit unread and says how to raise
the limit (issue 11, item 9)."""

from __future__ import annotations

from postroom.cli.runtime import close_runtime
from postroom.store.db import make_session_factory
from tests.support.mailseed import ME, add_mail_account, mail


def test_a_file_over_the_limit_is_named_with_its_size_and_the_option(
    cli, engine, tmp_path, monkeypatch
):
    add_mail_account(make_session_factory(engine))
    close_runtime()
    small = tmp_path / "small.eml"
    small.write_bytes(mail(sender="Bob <bob@other.example>", to=ME))
    big = tmp_path / "big.eml"
    with big.open("wb") as file:
        file.truncate(2 * 2**20 + 1)

    code, out = cli("message", "ingest", str(small), str(big), "--max-size", "2")

    assert code == 1, out
    assert "2 files: 1 new messages" in out
    assert f"quarantined {big}: the file is 2.0 MB, over the limit of 2.0 MB" in out
    assert "raise the limit with --max-size MB or POSTROOM_MAX_MESSAGE_MB" in out

    close_runtime()  # settings are read once per process
    monkeypatch.setenv("POSTROOM_MAX_MESSAGE_MB", "3")
    code, out = cli("message", "ingest", str(big))
    assert code == 0
    assert "1 files: 1 new messages" in out

    close_runtime()  # settings are read once per process
    monkeypatch.setenv("POSTROOM_MAX_MESSAGE_MB", "lots")
    code, out = cli("message", "ingest", str(big))
    assert code == 1
    assert "error: POSTROOM_MAX_MESSAGE_MB='lots' is not a size in MB" in out
