"""The activities API gives an attachment's safe display name, never the name as sent
(issue 11 item 10; ``mail.filenames``), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from postroom.domain.records import PersonDraft
from postroom.services import records, users
from tests.support.mailseed import ME, add_mail_account, ingest, mail
from tests.support.web import client_for


@pytest.fixture
def api(runtime, admin):
    with runtime.write() as session:
        _, token = users.create_api_token(session=session, user_id=admin.id, name="tests")
    with client_for(runtime) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_the_api_gives_the_safe_name_of_a_hostile_file_name(api, runtime, tmp_path):
    account = add_mail_account(runtime.sessions)
    with runtime.write() as session:
        bob = records.create_record(
            session=session, draft=PersonDraft("Bob", emails=("bob@other.example",))
        ).record
    sent = "..\\..\\Bob\u202efdp.exe\x00<script>.pdf"
    raw = mail(sender="Bob <bob@other.example>", to=ME, msgid="<n1@x>", attachment=(sent, b"%PDF"))
    ingest(runtime.sessions, account, tmp_path, raw)

    page = api.get(f"/api/v1/records/{bob.id}/activities").json()

    (activity,) = page["items"]
    assert activity["attachments"] == [
        {"filename": "Bobfdp.exe_script_.pdf", "content_type": "application/pdf", "size": 4}
    ]
