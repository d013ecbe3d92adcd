"""The viewer's URLs, every untrusted part quoted."""

from __future__ import annotations

from urllib.parse import quote


def case_url(run_id: int, suite: str, key: str) -> str:
    """The Case page of a case, its key and suite quoted."""
    return f"/runs/{run_id}/cases/{quote(key, safe='')}?suite={quote(suite, safe='')}"


def api_url(page_url: str) -> str:
    """The JSON twin of a page's URL."""
    for page, api in (("/label", "/api/labels"), ("/?", "/api/runs?")):
        if page_url.startswith(page):
            return api + page_url[len(page) :]
    return "/api/runs" if page_url == "/" else "/api" + page_url
