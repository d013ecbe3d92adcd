"""What keeps the viewer local and read-only: security headers, the Host check, the write guard."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
TOKEN_HEADER = "x-promptopt-token"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(host: str) -> list[str]:
    """The Host headers the server answers: its own address and the loopback names.

    Bound to every interface it cannot know its name: any Host (the user was warned).
    """
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return sorted({host, *LOCAL_HOSTS})


class SecurityHeaders:
    """ASGI middleware adding `HEADERS` to every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on; add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in names
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def write_refusal(headers: Any, token: str, labels: bool) -> str | None:
    """Why a write request is refused (None: it may write).

    Writes need `--labels`, a JSON body, the page's per-server token, and an Origin (when the
    browser sends one) that is the server itself: another site's page cannot post labels.
    """
    if not labels:
        return "the viewer is read-only: start it with `promptopt view --labels` to write labels"
    if not headers.get("content-type", "").startswith("application/json"):
        return "a label is sent as application/json"
    if headers.get(TOKEN_HEADER) != token:
        return f"missing or wrong {TOKEN_HEADER} header (reload the label page)"
    origin = headers.get("origin")
    if origin and urlsplit(origin).netloc != headers.get("host"):
        return f"cross-origin write refused (origin {origin})"
    return None
