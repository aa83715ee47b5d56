"""The record form warns when an address is one whose mail is never logged (a user's own, or
an internal domain's): the record would never collect activities (docs/concepts.md,
"Matching")."""

from __future__ import annotations

from postroom.services import accounts
from tests.support.web import csrf_of


def test_adding_a_record_with_an_internal_address_says_it_collects_nothing(admin_client, runtime):
    with runtime.write() as session:
        accounts.add_internal_domain(session=session, domain="firm.example")
    token = csrf_of(admin_client.get("/records/new").text)

    page = admin_client.post(
        "/records",
        data={
            "name": "Kim Lee",
            "kind": "candidate",
            "email": ["kim@firm.example", "kim@home.example"],
            "primary": "1",
            "csrf_token": token,
        },
        follow_redirects=True,
    )

    assert page.status_code == 200
    assert "Kim Lee is added." in page.text
    assert (
        '<div class="flash flash-info" role="status">Note: kim@firm.example is in the internal '
        "domain firm.example, whose mail is never logged: this record will never collect "
        "activities through it.</div>"
    ) in page.text
    assert "kim@home.example is" not in page.text
