"""``postroom user add|password|list`` on both databases."""

from __future__ import annotations

from postroom.services import users
from postroom.services.runtime import start_runtime

PASSWORD = "correct horse battery"


def test_add_an_admin_then_list(cli):
    code, out = cli(
        "user",
        "add",
        "ada@firm.example",
        "--name",
        "Ada",
        "--admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, out
    assert "added user #1 ada@firm.example (admin)" in out
    code, out = cli("user", "list")
    assert code == 0
    assert "ada@firm.example" in out
    assert "admin" in out
    assert PASSWORD not in out


def test_a_short_password_is_refused_with_advice(cli):
    code, out = cli("user", "add", "bob@firm.example", "--password-stdin", stdin="short\n")
    assert code == 1
    assert "too short" in out
    assert "at least 10 characters" in out


def test_a_user_who_exists_is_not_added_twice(cli):
    cli("user", "add", "ada@firm.example", "--password-stdin", stdin=PASSWORD + "\n")
    code, out = cli("user", "add", "ada@firm.example", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 1
    assert "already exists" in out
    assert "postroom user password" in out


def test_a_new_password_signs_in_and_the_old_one_no_longer(cli, engine, tmp_path):
    cli("user", "add", "ada@firm.example", "--password-stdin", stdin=PASSWORD + "\n")
    code, out = cli(
        "user", "password", "ada@firm.example", "--password-stdin", stdin="a much newer password\n"
    )
    assert code == 0, out
    from postroom.config import Settings

    runtime = start_runtime(Settings.from_env())
    with runtime.write() as session:
        assert (
            users.authenticate(
                session=session, email="ada@firm.example", password="a much newer password"
            )
            is not None
        )
        assert (
            users.authenticate(session=session, email="ada@firm.example", password=PASSWORD) is None
        )
    runtime.engine.dispose()


def test_password_of_an_unknown_user_says_how_to_find_users(cli):
    code, out = cli(
        "user", "password", "ghost@firm.example", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 1
    assert "no user ghost@firm.example" in out
    assert "postroom user list" in out
