"""``/search?q=``: the top bar's search across records, companies and logged email.

One page for all three (``services.search.search_everything``): the first people and
companies, then the emails, best match first, paged (``page``). The query stays in the top
bar's box (``query`` in the context, read by base.html). Highlights are ``Segment`` values
the template escapes and wraps in ``<mark>``: no markup from the database reaches the page.
``sort=newest`` puts the emails newest first instead of best match first.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from postroom.services.search import search_everything
from postroom.web.deps import CurrentUser, ReadSession
from postroom.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

PER_PAGE = 20


def _page_number(text: str) -> int:
    """``page`` as typed in a URL: anything but a positive number is the first page."""
    try:
        return max(1, min(int(text), 10_000))
    except ValueError:
        return 1


@router.get("/search")
def search_page(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    q: str = "",
    page: str = "1",
    sort: str = "",
) -> Response:
    number = _page_number(page)
    results = search_everything(
        session=session,
        query=q,
        viewer_id=user.id,
        limit=PER_PAGE,
        offset=(number - 1) * PER_PAGE,
        order="newest" if sort == "newest" else None,
    )
    pages = max(1, -(-results.emails_total // PER_PAGE))
    newest = sort == "newest"

    def url(page: int = 1, newest: bool = newest) -> str:
        values: dict[str, str | int] = {"q": results.query}
        if newest:
            values["sort"] = "newest"
        if page > 1:
            values["page"] = page
        return "/search?" + urlencode(values)

    return render(
        request,
        "search/results.html",
        {
            "query": results.query,
            "results": results,
            "page": number,
            "pages": pages,
            "per_page": PER_PAGE,
            "url": url,
        },
    )
