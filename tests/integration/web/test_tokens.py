"""Personal API tokens: made on the settings page, shown once, used as Bearer, revoked."""

from __future__ import annotations

import re

from tests.support.web import add_user, client_for, post_form

TOKEN = re.compile(r'<code class="token-value">(pr_[^<]+)</code>')


def make_token(client, name="Zapier") -> str:
    response = post_form(client, "/settings/tokens", {"name": name}, page="/settings/tokens")
    assert response.status_code == 201
    found = TOKEN.search(response.text)
    assert found, "the new token is shown"
    return found.group(1)


def test_a_token_is_shown_once_and_works_as_bearer(runtime, admin_client):
    token = make_token(admin_client)
    listing = admin_client.get("/settings/tokens")
    assert "Zapier" in listing.text
    assert token not in listing.text  # never shown again
    with client_for(runtime) as api:
        me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["email"] == "ada@firm.example"
        assert "password" not in me.text
    assert "never" not in admin_client.get("/settings/tokens").text.split("Zapier")[1][:200]


def test_the_api_answers_401_with_a_problem_body_without_a_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    wrong = client.get("/api/v1/me", headers={"Authorization": "Bearer pr_not-a-token"})
    assert wrong.status_code == 401


def test_a_revoked_token_stops_working(runtime, admin_client):
    token = make_token(admin_client)
    page = admin_client.get("/settings/tokens").text
    token_id = re.search(r"/settings/tokens/(\d+)/revoke", page).group(1)
    response = post_form(
        admin_client,
        f"/settings/tokens/{token_id}/revoke",
        {},
        page="/settings/tokens",
        follow_redirects=True,
    )
    assert "The token is revoked" in response.text
    with client_for(runtime) as api:
        assert (
            api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        )


def test_nobody_revokes_another_users_token(runtime, admin_client):
    make_token(admin_client)
    page = admin_client.get("/settings/tokens").text
    token_id = re.search(r"/settings/tokens/(\d+)/revoke", page).group(1)
    add_user(runtime, "bob@firm.example")
    with client_for(runtime) as bob:
        from tests.support.web import sign_in

        sign_in(bob, "bob@firm.example")
        response = post_form(
            bob, f"/settings/tokens/{token_id}/revoke", {}, page="/settings/tokens"
        )
        assert response.status_code == 404
    assert "Zapier" in admin_client.get("/settings/tokens").text


def test_a_token_of_a_deactivated_user_stops_working(runtime, admin_client):
    bob = add_user(runtime, "bob@firm.example")
    with client_for(runtime) as bob_client:
        from tests.support.web import sign_in

        sign_in(bob_client, bob.email)
        token = make_token(bob_client, "bob's script")
    post_form(admin_client, f"/settings/users/{bob.id}", {"role": "user"}, page="/settings/users")
    with client_for(runtime) as api:
        assert (
            api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        )


def test_the_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/me" in schema["paths"]
    assert not any(path.startswith("/settings") for path in schema["paths"])
