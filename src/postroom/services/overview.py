"""The home page's figures: what the firm's database holds and what the user has set up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postroom.store.models import Activity, Company, MailAccount, Person


@dataclass(frozen=True, slots=True)
class Overview:
    records: int
    companies: int
    activities: int
    my_accounts: int
    my_accounts_failing: int


def get_overview(*, session: Session, user_id: int) -> Overview:
    def count(query: object) -> int:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]

    mine = select(func.count()).select_from(MailAccount).where(MailAccount.user_id == user_id)
    return Overview(
        records=count(select(func.count()).select_from(Person)),
        companies=count(select(func.count()).select_from(Company)),
        activities=count(select(func.count()).select_from(Activity)),
        my_accounts=count(mine),
        my_accounts_failing=count(
            mine.where((MailAccount.last_error.is_not(None)) | (MailAccount.needs_reauth.is_(True)))
        ),
    )
