"""The viewer's ASGI application: pages rendered on the server and their JSON twins under /api/."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic_core import to_jsonable_python
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pytest_promptopt.redaction import redact
from pytest_promptopt.reporting.html import TEMPLATES_DIR, make_environment
from pytest_promptopt.view import pages
from pytest_promptopt.view.case import CaseNotFound
from pytest_promptopt.view.labels import LabelError, write_label
from pytest_promptopt.view.links import case_url
from pytest_promptopt.view.security import SecurityHeaders, write_refusal

HERE = Path(__file__).parent


class Viewer:
    """The database, the templates, the token and whether labels may be written."""

    def __init__(self, url: str, labels: bool = False) -> None:
        from pytest_promptopt.storage import Database

        self.db = Database(url)
        self.db.ensure_schema()
        self.labels = labels
        self.token = secrets.token_urlsafe(24)
        self.env = make_environment(HERE / "templates")
        self.env.globals.update(case_url=case_url, labels_on=labels, quote=quote)

    def page(self, name: str, data: dict[str, Any], status: int = 200) -> HTMLResponse:
        """A page rendered from its data."""
        html = self.env.get_template(name).render(data=data, token=self.token)
        return HTMLResponse(redact(html), status)

    def read(self, build: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """Run `build(self, repos, *args)` in a read transaction (no write lock)."""
        from pytest_promptopt.storage import read_transaction

        with read_transaction(self.db) as repos:
            return build(self, repos, *args)


def _json(data: Any, status: int = 200) -> Response:
    """A JSON answer, any secret redacted, `<`, `>` and `&` written as escapes (no markup)."""
    import json

    body = json.dumps(to_jsonable_python(data, fallback=str), indent=1)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        body = body.replace(char, escape)
    return Response(redact(body), status, media_type="application/json")


def _error(request: Request, status: int, message: str) -> Response:
    """An error as JSON under /api/, else as a plain page."""
    if request.url.path.startswith("/api/"):
        return _json({"error": message}, status)
    viewer: Viewer = request.app.state.viewer
    return viewer.page("error.html.j2", {"status": status, "message": message}, status)


def _route(name: str, template: str | None) -> Callable[[Request], Any]:
    """An endpoint showing `pages.<name>` as a page (`template`) or as JSON."""
    build = getattr(pages, name)

    def endpoint(request: Request) -> Response:
        viewer: Viewer = request.app.state.viewer
        try:
            data = viewer.read(build, request.path_params, request.query_params)
        except (CaseNotFound, pages.PageNotFound) as exc:
            return _error(request, 404, str(exc).strip("'\""))
        if template is None:
            data.pop("view", None)  # the charts and view objects only the page needs
            return _json(data)
        return viewer.page(template, data)

    return endpoint


async def post_label(request: Request) -> Response:
    """POST /api/labels: write one label (403 unless --labels and the token and origin agree)."""
    viewer: Viewer = request.app.state.viewer
    refused = write_refusal(request.headers, viewer.token, viewer.labels)
    if refused is not None:
        return _json({"error": refused}, 403)
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "the body is not JSON"}, 400)
    if not isinstance(body, dict):
        return _json({"error": "the body is a JSON object"}, 400)

    def write() -> dict[str, Any]:
        from pytest_promptopt.storage import transaction

        with transaction(viewer.db) as repos:
            return write_label(repos, body)

    try:
        return _json(await run_in_threadpool(write), 201)
    except LabelError as exc:
        return _json({"error": str(exc)}, 400)


def _css(request: Request) -> Response:
    """The report's stylesheet, shared with report.html."""
    return FileResponse(TEMPLATES_DIR / "report.css", media_type="text/css")


ROUTES = [
    ("/", "/api/runs", "runs_page", "runs.html.j2"),
    ("/runs/{run_id:int}", "/api/runs/{run_id:int}", "run_page", "run.html.j2"),
    ("/runs/{run_id:int}/cases/{key:path}", "/api/runs/{run_id:int}/cases/{key:path}",
     "case_page", "case.html.j2"),
    ("/compare/{a:int}/{b:int}", "/api/compare/{a:int}/{b:int}", "compare_page",
     "compare.html.j2"),
    ("/runs/{run_id:int}/optimize", "/api/runs/{run_id:int}/optimize", "optimize_page",
     "optimize.html.j2"),
    ("/label", "/api/labels", "label_page", "label.html.j2"),
]  # fmt: skip


def create_app(url: str, labels: bool = False, hosts: list[str] | None = None) -> Starlette:
    """The viewer over the database at `url`; `hosts` are the Host headers it answers."""
    routes: list[Any] = [Route("/static/report.css", _css)]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    routes.append(Route("/api/labels", post_label, methods=["POST"]))
    for page, api, name, template in ROUTES:
        routes.append(Route(page, _route(name, template)))
        routes.append(Route(api, _route(name, None)))
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts or ["127.0.0.1", "localhost"]),
    ]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={404: _not_found, 405: _not_allowed})  # fmt: skip
    app.state.viewer = Viewer(url, labels)
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths."""
    return _error(request, 404, f"no page at {request.url.path}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    """A method the route does not take (a write to a read-only page)."""
    return _error(request, 405, f"{request.method} is not allowed here")
