"""``/settings/privacy`` on both databases: an admin keeps the internal domains and the private
list; a value that is wrong comes back on the form with the message; users are refused."""

from __future__ import annotations

from postroom.services import accounts
from tests.support.web import add_user, client_for, post_form, sign_in

PAGE = "/settings/privacy"


def test_an_admin_adds_and_removes_internal_domains(admin_client, runtime):
    empty = admin_client.get(PAGE)
    assert empty.status_code == 200
    assert "No internal domain yet" in empty.text
    assert "Nothing is private yet" in empty.text

    added = post_form(
        admin_client,
        PAGE + "/domains",
        {"domain": "@Firm.Example"},
        page=PAGE,
        follow_redirects=True,
    )
    assert "firm.example is an internal domain" in added.text
    assert "@firm.example" in added.text
    with runtime.read() as session:
        assert accounts.list_internal_domains(session=session) == ["firm.example"]

    bad = post_form(admin_client, PAGE + "/domains", {"domain": "not a domain"}, page=PAGE)
    assert bad.status_code == 422
    assert "is not a domain" in bad.text
    assert 'value="not a domain"' in bad.text

    removed = post_form(
        admin_client,
        PAGE + "/domains/remove",
        {"domain": "firm.example"},
        page=PAGE,
        follow_redirects=True,
    )
    assert "firm.example is no longer an internal domain" in removed.text
    with runtime.read() as session:
        assert accounts.list_internal_domains(session=session) == []


def test_an_admin_keeps_the_private_list(admin_client, runtime):
    for value in ("Doctor@Clinic.example", "@lawyers.example"):
        answer = post_form(admin_client, PAGE + "/private", {"value": value}, page=PAGE)
        assert answer.status_code == 200  # followed to the page
    page = admin_client.get(PAGE)
    assert "doctor@clinic.example" in page.text
    assert "@lawyers.example" in page.text
    bad = post_form(admin_client, PAGE + "/private", {"value": "a@@b"}, page=PAGE)
    assert bad.status_code == 422
    assert "is not an address" in bad.text
    post_form(admin_client, PAGE + "/private/remove", {"value": "doctor@clinic.example"}, page=PAGE)
    with runtime.read() as session:
        left = [e.value for e in accounts.list_private_entries(session=session)]
    assert left == ["lawyers.example"]
    gone = post_form(
        admin_client, PAGE + "/private/remove", {"value": "nobody@x.example"}, page=PAGE
    )
    assert gone.status_code == 404


def test_a_user_who_is_not_an_admin_is_refused(runtime):
    add_user(runtime, "robin@firm.example")
    with client_for(runtime) as client:
        sign_in(client, "robin@firm.example")
        assert client.get(PAGE).status_code == 403
        refused = post_form(client, PAGE + "/domains", {"domain": "evil.example"}, page="/")
        assert refused.status_code == 403
    with runtime.read() as session:
        assert accounts.list_internal_domains(session=session) == []
