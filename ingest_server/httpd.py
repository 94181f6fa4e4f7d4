"""Plain HTTP on the ingest port: the candidate page, its assets, health.

Answers are websockets ``Response`` objects returned from
``process_request`` (the upgrade is then not performed).
"""

from __future__ import annotations

import email.utils
import http
import json
import mimetypes
import re
from pathlib import Path
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

from hiremate.models import TaskAttempt
from hiremate.timeutil import iso

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATE_PLACEHOLDER = "<!--HIREMATE_STATE-->"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")

PAGE_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}

FALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HireMate assessment</title></head>
<body><!--HIREMATE_STATE--><p>The assessment page is not installed on this server.</p></body></html>
"""


def response(status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | tuple[()] = ()) -> Response:
    status_code = http.HTTPStatus(status)
    all_headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("X-Content-Type-Options", "nosniff"),
            *headers,
        ]
    )
    return Response(status_code.value, status_code.phrase, all_headers, body)


def json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return response(status, body, "application/json", [("Cache-Control", "no-store")])


def text_response(status: int, text: str) -> Response:
    return response(status, text.encode(), "text/plain; charset=utf-8", [("Cache-Control", "no-store")])


def not_found() -> Response:
    return text_response(404, "Not Found\n")


# ---------------------------------------------------------------- the candidate page


def page_state(token: str | None, attempt: TaskAttempt | None) -> dict[str, Any]:
    """What the page needs to know before opening a socket."""
    if attempt is None or token is None:
        return {"state": "not_found", "token": None, "ws_path": None}
    return {
        "state": str(attempt.status),
        "token": token,
        "candidate_name": attempt.candidate_info.name,
        "position": attempt.candidate_info.position,
        "total_tasks": len(attempt.task_ids),
        "expires_at": iso(attempt.expires_at),
        "ws_path": f"/ws/assessment/{token}",
    }


def state_script(state: dict[str, Any]) -> str:
    """A JSON data block that can never close its script tag or start markup."""
    text = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return f'<script id="hm-state" type="application/json">{text}</script>'


def page_response(template: str, state: dict[str, Any]) -> Response:
    html = template.replace(STATE_PLACEHOLDER, state_script(state), 1)
    return response(
        200,
        html.encode(),
        "text/html; charset=utf-8",
        [
            ("Content-Security-Policy", PAGE_CSP),
            ("Referrer-Policy", "no-referrer"),  # the token is in the URL
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
        ],
    )


class StaticFiles:
    """Files under one folder, read once and re-read when they change."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, tuple[float, bytes]] = {}

    def _read(self, path: Path) -> bytes | None:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[path] = (mtime, data)
        return data

    def resolve(self, relative: str) -> Path | None:
        """The file for a URL path below /static/, or None (no traversal, no hidden files)."""
        if not relative or "\\" in relative or "\x00" in relative:
            return None
        parts = relative.split("/")
        if any(part in {"", ".", ".."} or part.startswith(".") for part in parts):
            return None
        path = (self.root / Path(*parts)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def get(self, relative: str) -> Response:
        path = self.resolve(relative)
        data = None if path is None else self._read(path)
        if path is None or data is None:
            return not_found()
        content_type = CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return response(200, data, content_type or "application/octet-stream", [("Cache-Control", "no-cache")])

    def template(self) -> str:
        data = self._read(self.root / "index.html")
        return FALLBACK_PAGE if data is None else data.decode("utf-8")
