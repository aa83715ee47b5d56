"""What a colleague sees of another user's mail: the account's visibility and the private list
decide, and no URL reaches past them (pages, API, search, Open original), on both databases.

Records are the firm's; mail is its owner's. Bob's mailbox shows only metadata to colleagues,
so Ada (an admin) sees that Bob wrote to Anna and when, never what about; the original
opens only for Bob.
"""

from __future__ import annotations

import pytest

from postroom.domain.records import PersonDraft
from postroom.services import records, users
from postroom.services.accounts import Visibility, add_account, add_private_entry
from postroom.services.secrets import Keyring, Secret
from tests.support.mailseed import ingest, mail
from tests.support.web import add_user, client_for, sign_in

BOB = "bob@firm.example"
SECRET_WORDS = "confidential counter-offer of ninety thousand"


@pytest.fixture
def scene(runtime, admin, tmp_path):
    """Bob's metadata-only mailbox holds a mail to Anna, and one naming a private address."""
    bob = add_user(runtime, BOB, name="Bob Colleague")
    with runtime.write() as session:
        account = add_account(
            session=session,
            keyring=Keyring(Keyring.generate_key()),
            user_email=BOB,
            label="Bob's mail",
            imap_host="imap.firm.example",
            username=BOB,
            password=Secret("pw"),
            visibility=Visibility.METADATA,
        )
        add_private_entry(session=session, value="lawyer@private.example")
        anna = records.create_record(
            session=session, draft=PersonDraft("Anna Berg", emails=("anna@acme.example",))
        ).record
    ingest(
        runtime.sessions,
        account.id,
        tmp_path / "mail",
        mail(
            sender=BOB,
            to="anna@acme.example",
            subject="Your counter-offer",
            body=SECRET_WORDS,
            msgid="<m1@firm.example>",
        ),
        mail(
            sender=BOB,
            to="anna@acme.example",
            cc="lawyer@private.example",
            subject="About the dispute",
            body="privileged",
            msgid="<m2@firm.example>",
        ),
    )
    with runtime.write() as session:
        _, token = users.create_api_token(session=session, user_id=admin.id, name="ada")
    return {"bob": bob, "anna": anna.id, "token": token}


def test_a_colleague_sees_who_and_when_but_not_what(runtime, admin_client, scene):
    page = admin_client.get(f"/records/{scene['anna']}")
    assert page.status_code == 200
    assert "Bob Colleague" in page.text or BOB in page.text
    for hidden in ("counter-offer", "ninety thousand", "About the dispute", "privileged"):
        assert hidden not in page.text

    with client_for(runtime) as api:
        api.headers["Authorization"] = f"Bearer {scene['token']}"
        timeline = api.get(f"/api/v1/records/{scene['anna']}/activities").json()
        assert timeline["total"] == 1  # the mail naming a private address is not logged at all
        [entry] = timeline["items"]
        assert entry["subject"] == ""
        assert not entry["text"]
        assert not entry["reply_text"]
        assert "ninety" not in api.get(f"/api/v1/activities/{entry['id']}").text
        for query in ("ninety", "counter", "privileged", "dispute"):
            found = api.get("/api/v1/search", params={"q": query}).json()
            assert (found["emails_total"], found["emails"]) == (0, []), query
        # the original is Bob's: for Ada it does not exist, whatever the URL
        assert admin_client.get(f"/activities/{entry['id']}/original").status_code == 404
        assert admin_client.get(f"/activities/{entry['id']}/original/body").status_code == 404
        assert admin_client.get(f"/activities/{entry['id']}/original/parts/1").status_code == 404


def test_the_owner_opens_the_original(runtime, scene):
    with client_for(runtime) as bob:
        sign_in(bob, BOB)
        [entry] = bob.get(f"/api/v1/records/{scene['anna']}/activities").json()["items"]
        original = bob.get(f"/activities/{entry['id']}/original")
        assert original.status_code == 200
        assert "Your counter-offer" in original.text
