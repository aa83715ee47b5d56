"""The pages' date filters (web/templating.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from postroom.services.users import UserRole, UserView
from postroom.web.templating import shortdate

WHEN = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)


def test_shortdate_shows_the_time_today_the_day_this_year_else_the_date():
    assert shortdate(WHEN, now=datetime(2026, 12, 6, 23, 59, tzinfo=UTC)) == "23:30"
    assert shortdate(WHEN, now=datetime(2026, 12, 7, 9, tzinfo=UTC)) == "6 Dec"
    assert shortdate(WHEN, now=datetime(2027, 1, 1, tzinfo=UTC)) == "6 Dec 2026"
    assert shortdate(None) == ""


def test_shortdate_counts_days_in_the_users_time_zone():
    berlin = _user("Europe/Berlin")  # 23:30 UTC is 00:30 on the 7th in Berlin
    assert shortdate(WHEN, berlin, now=datetime(2026, 12, 7, 8, tzinfo=UTC)) == "00:30"
    assert shortdate(WHEN, berlin, now=datetime(2026, 12, 6, 22, tzinfo=UTC)) == "7 Dec"


def _user(zone: str) -> UserView:
    return UserView(
        id=1,
        email="robin@firm.example",
        name="Robin",
        role=UserRole.USER,
        is_active=True,
        has_password=True,
        auth_epoch=0,
        time_zone=zone,
        created_at=WHEN,
    )
