"""The account list says whether a worker syncs the mail (services.health.worker_summary)."""

from __future__ import annotations

from postroom.store import workers
from tests.integration.web.test_accounts import ROBIN, add_account, robin, robin_client

__all__ = ["robin", "robin_client"]  # the fixtures, shared with the account pages' tests

NO_WORKER = "No worker is running: new mail is not being logged."


def test_the_list_warns_when_no_worker_runs_and_says_since_when_one_does(
    robin_client, runtime, robin
):
    add_account(runtime, ROBIN)
    page = robin_client.get("/accounts")
    assert NO_WORKER in page.text
    assert "`postroom worker` or `postroom serve`" in page.text

    with runtime.write() as session:
        workers.start_worker(session=session, host="box", pid=7, beat_every=60)
    page = robin_client.get("/accounts")
    assert NO_WORKER not in page.text
    assert "Mail is synced around the clock, since " in page.text


def test_without_accounts_the_list_only_says_to_add_one(robin_client):
    page = robin_client.get("/accounts")
    assert NO_WORKER not in page.text
