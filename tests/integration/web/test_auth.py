"""Signing in and out, the first admin, CSRF, throttling and sessions, on both databases."""

from __future__ import annotations

from tests.support.web import (
    PASSWORD,
    add_user,
    client_for,
    csrf_of,
    post_form,
    sign_in,
)


def test_an_empty_database_sends_the_first_visit_to_setup(client):
    response = client.get("/", follow_redirects=True)
    assert response.url.path == "/setup"
    assert "Create admin and sign in" in response.text


def test_the_first_admin_needs_the_setup_token_serve_printed(runtime):
    with client_for(runtime, setup_token="the-token") as client:
        page = client.get("/setup")
        form = {
            "name": "Ada Admin",
            "email": "ada@firm.example",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "csrf_token": csrf_of(page.text),
        }
        refused = client.post("/setup", data={**form, "token": "guessed"})
        assert refused.status_code == 403
        assert "setup token is not right" in refused.text
        made = client.post("/setup", data={**form, "token": "the-token"}, follow_redirects=True)
        assert made.url.path == "/"
        assert "You are the admin" in made.text
    # used once: a second visitor cannot make another admin
    with client_for(runtime, setup_token="the-token") as other:
        token = csrf_of(other.get("/login").text)
        again = other.post(
            "/setup",
            data={**form, "email": "eve@evil.example", "token": "the-token", "csrf_token": token},
            follow_redirects=False,
        )
        assert again.headers["location"] == "/login"


def test_setup_without_a_token_from_serve_is_refused(runtime):
    with client_for(runtime, setup_token=None) as client:
        page = client.get("/setup")
        response = client.post(
            "/setup",
            data={
                "token": "",
                "name": "Eve",
                "email": "eve@evil.example",
                "password": PASSWORD,
                "password_again": PASSWORD,
                "csrf_token": csrf_of(page.text),
            },
        )
        assert response.status_code == 403


def test_sign_in_and_out(client, admin):
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, admin.email)
    home = client.get("/")
    assert home.status_code == 200
    assert "Ada Admin" in home.text
    cookie = next(c for c in client.cookies.jar if c.name == "postroom_session")
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
    out = post_form(client, "/logout", {}, page="/", follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_without_saying_which_part(client, admin):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": admin.email, "password": "wrong password", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 401
    assert "do not match an active user" in response.text
    unknown = client.post(
        "/login",
        data={"email": "nobody@x.example", "password": "x" * 12, "csrf_token": csrf_of(page.text)},
    )
    assert unknown.status_code == 401
    assert "do not match an active user" in unknown.text


def test_sign_in_is_throttled_after_five_failures(client, admin):
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        response = client.post(
            "/login", data={"email": admin.email, "password": "nope" * 3, "csrf_token": token}
        )
        assert response.status_code == 401
    blocked = client.post(
        "/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token}
    )
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text


def test_a_form_without_its_csrf_token_is_refused(admin_client):
    response = admin_client.post("/settings/profile", data={"name": "X", "time_zone": "UTC"})
    assert response.status_code == 403
    assert "did not come from this site" in response.text
    forged = admin_client.post(
        "/settings/profile", data={"name": "X", "time_zone": "UTC", "csrf_token": "forged"}
    )
    assert forged.status_code == 403


def test_the_next_page_after_sign_in_stays_on_this_site(client, admin):
    page = client.get("/login?next=https://evil.example/")
    assert 'value="/"' in page.text
    response = client.post(
        "/login",
        data={
            "email": admin.email,
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_a_new_password_ends_other_sessions(runtime, admin):
    with client_for(runtime) as first, client_for(runtime) as second:
        sign_in(first, admin.email)
        sign_in(second, admin.email)
        response = post_form(
            first,
            "/settings/password",
            {
                "current": PASSWORD,
                "password": "a brand new password",
                "password_again": "a brand new password",
            },
            follow_redirects=True,
        )
        assert "Other sessions are signed out" in response.text
        assert first.get("/", follow_redirects=False).status_code == 200
        assert second.get("/", follow_redirects=False).status_code == 303


def test_a_user_cannot_open_admin_pages(runtime, admin):
    add_user(runtime, "bob@firm.example")
    with client_for(runtime) as client:
        sign_in(client, "bob@firm.example")
        assert client.get("/settings/users").status_code == 403
        response = post_form(
            client,
            "/settings/users",
            {"email": "mallory@firm.example", "password": PASSWORD, "role": "admin"},
        )
        assert response.status_code == 403


def test_an_admin_adds_a_user_who_can_then_sign_in(runtime, admin_client):
    response = post_form(
        admin_client,
        "/settings/users",
        {"email": "bob@firm.example", "password": PASSWORD, "name": "Bob", "role": "user"},
        follow_redirects=True,
    )
    assert "bob@firm.example can now sign in" in response.text
    with client_for(runtime) as client:
        sign_in(client, "bob@firm.example")


def test_a_deactivated_user_is_signed_out(runtime, admin_client):
    bob = add_user(runtime, "bob@firm.example")
    with client_for(runtime) as client:
        sign_in(client, bob.email)
        post_form(admin_client, f"/settings/users/{bob.id}", {"role": "user"})
        assert client.get("/", follow_redirects=False).status_code == 303


def test_pages_send_security_headers(admin_client):
    response = admin_client.get("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_dates_follow_the_users_time_zone(admin_client):
    response = post_form(
        admin_client,
        "/settings/profile",
        {"name": "Ada", "time_zone": "Asia/Tokyo"},
        follow_redirects=True,
    )
    assert 'value="Asia/Tokyo" selected' in response.text
    bad = post_form(admin_client, "/settings/profile", {"name": "Ada", "time_zone": "Mars/Base"})
    assert bad.status_code == 422
    assert "is not a time zone" in bad.text
