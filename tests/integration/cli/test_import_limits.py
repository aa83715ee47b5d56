"""``postroom record import`` refuses a file over the size limit before reading it (issue 11,
item 8)."""

from __future__ import annotations

from postroom.services.importing import MAX_FILE_SIZE


def test_a_file_over_the_limit_is_refused_without_being_read(run_cli, tmp_path):
    big = tmp_path / "contacts.vcf"
    with big.open("wb") as file:
        file.truncate(MAX_FILE_SIZE + 1)  # sparse

    code, out = run_cli("record", "import", str(big))

    assert code == 1
    assert "error: the file is 64.0 MB; at most 64 MB is imported at once" in out
    assert "split it into smaller files" in out
