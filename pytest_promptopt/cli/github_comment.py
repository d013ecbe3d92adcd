"""One sticky comment on a GitHub pull request: found by its marker, updated, else created.

Reads what a GitHub Actions job has: `GITHUB_API_URL` (default https://api.github.com),
`GITHUB_REPOSITORY` (`owner/name`), the pull request's number from the event file at
`GITHUB_EVENT_PATH` (`pull_request.number`, or `issue.number` for a comment event) and
`GITHUB_TOKEN` (the job's token, sent as `Authorization: Bearer`, registered as a secret so no
message ever shows it). `GET /repos/{o}/{r}/issues/{n}/comments` (every page) finds the comment
whose body starts with the marker; `PATCH /repos/{o}/{r}/issues/comments/{id}` updates it,
`POST /repos/{o}/{r}/issues/{n}/comments` creates it when there is none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.redaction import redact, register_secret

if TYPE_CHECKING:
    import httpx

DEFAULT_API = "https://api.github.com"
PER_PAGE = 100
MAX_PAGES = 50


@dataclass(frozen=True)
class Posted:
    """What was done: `created` or `updated`, the comment's id and its address."""

    action: str
    comment_id: int
    url: str


@dataclass(frozen=True)
class Target:
    """Where the comment goes: the API, the repository, the pull request, the token."""

    api: str
    repository: str
    number: int
    token: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Target | None:
        """The job's pull request (None: the event is not a pull request's), or an error
        naming the variable that is missing."""
        token = env.get("GITHUB_TOKEN", "")
        register_secret(token)
        for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_PATH"):
            if not env.get(name):
                raise PromptOptError(f"{name} is not set: run `promptopt comment --post` in a "
                                     "GitHub Actions job (or set it)")  # fmt: skip
        if not token:
            raise PromptOptError(
                "GITHUB_TOKEN is not set: pass the job's token "
                "(env: GITHUB_TOKEN: ${{ github.token }}, with permissions: pull-requests: write)"
            )
        number = pr_number(Path(env["GITHUB_EVENT_PATH"]))
        if number is None:
            return None
        api = (env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        return cls(api, env["GITHUB_REPOSITORY"], number, token)


def pr_number(event_path: Path) -> int | None:
    """`pull_request.number` (or `issue.number`) of the event file; None for another event."""
    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromptOptError(
            f"GITHUB_EVENT_PATH {str(event_path)!r}: cannot read it ({exc})"
        ) from None
    for key in ("pull_request", "issue"):
        found = event.get(key) if isinstance(event, dict) else None
        if isinstance(found, dict) and isinstance(found.get("number"), int):
            return int(found["number"])
    return None


def post_comment(
    body: str,
    marker: str,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Posted | None:
    """Update the pull request's comment that starts with `marker`, else create one; None when
    the job is not for a pull request."""
    import httpx

    target = Target.from_env(os.environ if env is None else env)
    if target is None:
        return None
    headers = {
        "Authorization": f"Bearer {target.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "pytest-promptopt",
    }
    with httpx.Client(base_url=target.api, headers=headers, transport=transport,
                      timeout=30.0) as client:  # fmt: skip
        existing = _find(client, target, marker)
        if existing is None:
            path = f"/repos/{target.repository}/issues/{target.number}/comments"
            data = _call(client, "POST", path, {"body": body})
            action = "created"
        else:
            path = f"/repos/{target.repository}/issues/comments/{existing}"
            data = _call(client, "PATCH", path, {"body": body})
            action = "updated"
    return Posted(action, int(data.get("id", existing or 0)), str(data.get("html_url", "")))


def _find(client: httpx.Client, target: Target, marker: str) -> int | None:
    """The id of the first comment whose body starts with `marker` (every page read)."""
    path = f"/repos/{target.repository}/issues/{target.number}/comments"
    for page in range(1, MAX_PAGES + 1):
        found = _call(client, "GET", path, params={"per_page": PER_PAGE, "page": page})
        comments = found if isinstance(found, list) else []
        for comment in comments:
            if str(comment.get("body") or "").lstrip().startswith(marker):
                return int(comment["id"])
        if len(comments) < PER_PAGE:
            return None
    return None


def _call(
    client: httpx.Client,
    method: str,
    path: str,
    payload: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """One API call; a clear error (never with the token) when it fails."""
    import httpx

    try:
        response = client.request(method, path, json=payload, params=params)
    except httpx.HTTPError as exc:
        raise PromptOptError(redact(f"GitHub API {method} {path}: {exc}")) from None
    if response.status_code >= 400:
        message = _message(response)
        hint = (
            " (the token needs `permissions: pull-requests: write`)"
            if response.status_code in (401, 403, 404)
            else ""
        )
        raise PromptOptError(
            redact(f"GitHub API {method} {path}: {response.status_code} {message}{hint}")
        )
    return response.json() if response.content else {}


def _message(response: httpx.Response) -> str:
    """The API's error message, shortened."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else ""
