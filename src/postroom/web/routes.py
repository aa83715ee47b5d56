"""Every router of the app, pages and API, in the order they are matched.

A new area adds its module under ``pages/`` or ``api/`` and one line here.
"""

from __future__ import annotations

from fastapi import APIRouter

from postroom.web.api import accounts as accounts_api
from postroom.web.api import me
from postroom.web.api import records as records_api
from postroom.web.api import search as search_api
from postroom.web.pages import accounts as accounts_page
from postroom.web.pages import auth, home, settings
from postroom.web.pages import companies as companies_page
from postroom.web.pages import mail as mail_page
from postroom.web.pages import original as original_page
from postroom.web.pages import privacy as privacy_page
from postroom.web.pages import records as records_page
from postroom.web.pages import search as search_page

ROUTERS: list[APIRouter] = [
    auth.router,
    home.router,
    settings.router,
    records_page.router,
    companies_page.router,
    me.router,
    original_page.router,
    mail_page.router,
    accounts_page.router,
    privacy_page.router,
    accounts_api.router,
    search_page.router,
    search_api.router,
    records_api.router,
    records_api.company_router,
]
