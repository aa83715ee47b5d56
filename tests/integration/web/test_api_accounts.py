"""``/api/v1/accounts`` with an API token, on both databases and the suite's Dovecot: create
(tested first), read, health, change, remove; another user's account does not exist; the
password never comes back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from postroom.services import users
from tests.support.smtp import SmtpServer
from tests.support.web import add_user, client_for

ROBIN = "robin@firm.example"


def _token(runtime, email: str) -> str:
    with runtime.write() as session:
        user = users.get_user_by_email(session=session, email=email)
        assert user is not None
        _, token = users.create_api_token(session=session, user_id=user.id, name="tests")
    return token


@pytest.fixture
def api(runtime) -> TestClient:
    add_user(runtime, ROBIN)
    with client_for(runtime) as client:
        client.headers["Authorization"] = f"Bearer {_token(runtime, ROBIN)}"
        yield client


def _body(dovecot, mail_user, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "label": "Work",
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "tls": "plain",
        "username": mail_user.username,
        "password": mail_user.password,
        "own_addresses": [ROBIN],
    }
    return {**body, **changes}


def test_create_read_change_and_remove(api, runtime, dovecot, mail_user):
    created = api.post("/api/v1/accounts", json=_body(dovecot, mail_user))
    assert created.status_code == 201, created.text
    account = created.json()
    assert mail_user.password not in created.text
    assert not {"password", "secret"} & set(account)
    assert account["tls"] == "plain"
    assert account["own_addresses"] == [ROBIN, mail_user.username]
    account_id = account["id"]

    assert [a["id"] for a in api.get("/api/v1/accounts").json()] == [account_id]
    assert api.get(f"/api/v1/accounts/{account_id}").json()["label"] == "Work"
    health = api.get(f"/api/v1/accounts/{account_id}/health").json()
    assert health["state"] == "never_synced"
    assert health["settling"] is True
    assert health["folders"] == []

    renamed = api.patch(f"/api/v1/accounts/{account_id}", json={"label": "Renamed"})
    assert renamed.status_code == 200
    assert renamed.json()["label"] == "Renamed"

    refused = api.patch(f"/api/v1/accounts/{account_id}", json={"password": "wrong-one"})
    assert refused.status_code == 422
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "Login" in problem["detail"]
    assert {s["step"]: s["outcome"] for s in problem["steps"]}["login"] == "failed"
    assert "wrong-one" not in refused.text

    forced = api.patch(
        f"/api/v1/accounts/{account_id}", json={"password": "wrong-one", "test": False}
    )
    assert forced.status_code == 200
    assert "wrong-one" not in forced.text

    tested = api.post(f"/api/v1/accounts/{account_id}/test")
    assert tested.status_code == 200
    assert tested.json()["ok"] is False  # the forced wrong password
    assert {s["step"]: s["outcome"] for s in tested.json()["steps"]}["login"] == "failed"

    assert api.delete(f"/api/v1/accounts/{account_id}").status_code == 204
    assert api.get(f"/api/v1/accounts/{account_id}").status_code == 404
    assert api.get("/api/v1/accounts").json() == []


def test_a_failed_test_saves_nothing_and_says_which_step(api, dovecot, mail_user):
    refused = api.post("/api/v1/accounts", json=_body(dovecot, mail_user, imap_port=1))
    assert refused.status_code == 422
    problem = refused.json()
    assert "connection refused" in problem["detail"]
    assert problem["advice"].startswith("check the server name and port")
    assert [s["outcome"] for s in problem["steps"]] == [
        "ok",
        "failed",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
    ]
    assert api.get("/api/v1/accounts").json() == []


def test_bad_values_are_a_problem_with_advice(api, dovecot, mail_user):
    remote_plain = api.post(
        "/api/v1/accounts", json=_body(dovecot, mail_user, imap_host="imap.example.com")
    )
    assert remote_plain.status_code == 422
    assert "loopback" in remote_plain.json()["detail"]
    unknown_field = api.post("/api/v1/accounts", json=_body(dovecot, mail_user, secret="x"))
    assert unknown_field.status_code == 422
    duplicate = _body(dovecot, mail_user, test=False)
    assert api.post("/api/v1/accounts", json=duplicate).status_code == 201
    again = api.post("/api/v1/accounts", json=duplicate)
    assert again.status_code == 409
    assert mail_user.password not in again.text


def test_another_users_account_does_not_exist_for_them(api, runtime, dovecot, mail_user):
    account_id = api.post("/api/v1/accounts", json=_body(dovecot, mail_user, test=False)).json()[
        "id"
    ]
    add_user(runtime, "admin@firm.example", admin=True)
    add_user(runtime, "mallory@firm.example")
    for email in ("admin@firm.example", "mallory@firm.example"):
        with client_for(runtime) as other:
            other.headers["Authorization"] = f"Bearer {_token(runtime, email)}"
            assert other.get("/api/v1/accounts").json() == []
            for method, url, body in (
                ("GET", f"/api/v1/accounts/{account_id}", None),
                ("GET", f"/api/v1/accounts/{account_id}/health", None),
                ("PATCH", f"/api/v1/accounts/{account_id}", {"label": "Mine", "test": False}),
                ("DELETE", f"/api/v1/accounts/{account_id}", None),
                ("POST", f"/api/v1/accounts/{account_id}/test", None),
            ):
                answer = other.request(method, url, json=body)
                assert answer.status_code == 404, (email, method, url)
                assert mail_user.username not in answer.text
    assert api.get(f"/api/v1/accounts/{account_id}").json()["label"] == "Work"


def test_the_api_needs_a_token_or_a_session(runtime):
    with client_for(runtime) as anonymous:
        answer = anonymous.get("/api/v1/accounts")
        assert answer.status_code == 401


def test_the_smtp_server_is_created_tested_changed_and_removed(api, dovecot, mail_user):
    with SmtpServer(mail_user.username, mail_user.password) as smtp:
        at = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port}
        refused = api.post("/api/v1/accounts", json=_body(dovecot, mail_user, **at))
        assert refused.status_code == 422  # implicit TLS by default; the server speaks plain
        assert {s["step"]: s["outcome"] for s in refused.json()["steps"]}["smtp_tls"] == "failed"

        created = api.post(
            "/api/v1/accounts", json=_body(dovecot, mail_user, **at, smtp_tls="plain")
        )
        assert created.status_code == 201, created.text
        account = created.json()
        assert (account["smtp_host"], account["smtp_port"], account["smtp_tls"]) == (
            "127.0.0.1",
            smtp.port,
            "plain",
        )
        tested = api.post(f"/api/v1/accounts/{account['id']}/test").json()
        assert tested["ok"] is True
        assert [s["step"] for s in tested["steps"]][-4:] == [
            "smtp_dns",
            "smtp_tcp",
            "smtp_tls",
            "smtp_login",
        ]
        moved = api.patch(f"/api/v1/accounts/{account['id']}", json={"smtp_port": 1})
        assert moved.status_code == 422  # tested with the stored password: nothing there
        assert "SMTP connection" in moved.json()["detail"]
        assert smtp.received == []

    removed = api.patch(f"/api/v1/accounts/{account['id']}", json={"smtp_host": ""})
    assert removed.status_code == 200, removed.text
    assert (removed.json()["smtp_host"], removed.json()["smtp_tls"]) == (None, None)
    assert api.get("/api/v1/accounts").json()[0]["smtp_port"] is None
