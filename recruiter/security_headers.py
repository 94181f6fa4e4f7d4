"""Security headers on every HTTP answer of the recruiter app (pure ASGI).

Without them the app could be framed by any site (clickjacking: a hostile
page lays the app under its own buttons) and a browser was free to guess
content types and send the app's URLs, with their query strings, to other
sites. ``asgi.py`` puts :class:`SecurityHeaders` outermost, so the pages,
Streamlit's static assets, its health and host-config answers and the cookie
routes all carry the headers; WebSocket traffic is left alone.

The Content-Security-Policy is the strictest Streamlit 1.67 runs under
(checked in Chromium on every page, plotly charts and data grids included,
with no violation reported; ``tests/e2e/test_security_headers.py``):

* scripts only from the app's origin, plus the one inline script of
  Streamlit's ``index.html`` (``window.prerenderReady = false``) by its
  SHA-256, computed from the installed file when the app starts, so an
  upgrade of Streamlit that changes it keeps working; and WebAssembly
  compilation (``'wasm-unsafe-eval'``, which allows no JavaScript ``eval``):
  Streamlit's protobuf bundle (long.js) tries a tiny WebAssembly module at
  start-up. Plotly needs no ``'unsafe-eval'`` for the charts HireMate draws;
* styles from the origin and inline (Streamlit's emotion CSS-in-JS and
  plotly write ``<style>`` elements and ``style`` attributes at run time);
* images and fonts from the origin, ``data:`` and ``blob:`` only: nothing
  from another host, so a recruiter's browser tells no third party what it
  opens (app.py's favicon is an emoji, which Streamlit draws as a ``data:``
  SVG; a ``:material/...:`` page icon would be fetched from Google);
* connections to the origin only (``'self'`` covers the ``ws:``/``wss:``
  socket ``/_stcore/stream`` of the same host and port);
* no plugins, no ``<base>`` elsewhere, forms posting only here, and no framing
  by anyone (``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for
  older browsers).

A header the answer already has is kept: the cookie routes' own
``Referrer-Policy`` and ``Cache-Control`` stand. HSTS is sent only when the
request came over HTTPS: its own scheme, or ``X-Forwarded-Proto: https``
when ``HIREMATE_TRUST_PROXY`` says a proxy in front sets it (anyone can send
that header; over plain HTTP a browser ignores HSTS anyway).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HSTS = "max-age=31536000; includeSubDomains"
REFERRER_POLICY = "no-referrer"  # as on the candidate page: nothing in the app needs a Referer
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(index_html: bytes) -> list[str]:
    """CSP sources (``'sha256-...'``) of the inline scripts of an HTML page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(index_html)
    ]


def streamlit_index() -> bytes:
    """The ``index.html`` the installed Streamlit serves (empty when missing)."""
    import streamlit  # only to find its package folder; not run here

    path = Path(streamlit.__file__).resolve().parent / "static" / "index.html"
    try:
        return path.read_bytes()
    except OSError:
        return b""


def content_security_policy(script_hashes: list[str]) -> str:
    """The recruiter app's policy, allowing the given inline-script hashes."""
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes, "'wasm-unsafe-eval'"]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _trust_proxy_setting() -> bool:
    from hiremate.settings import get_settings

    return get_settings().trust_proxy


def came_over_https(scheme: str, forwarded_proto: list[str], *, trust_proxy: bool) -> bool:
    """Whether a request reached us over HTTPS: its own scheme, or with a
    trusted proxy the last ``X-Forwarded-Proto`` hop (the proxy nearest to
    the app speaks last; an earlier "https" may come from the client).
    The one rule for HSTS here and for the cookies' Secure flag (asgi.py)."""
    if scheme == "https":
        return True
    if not trust_proxy:
        return False
    last = ",".join(forwarded_proto).split(",")[-1]
    return last.strip().lower() == "https"


class SecurityHeaders:
    """ASGI middleware: adds the app's security headers to each HTTP response.

    ``trust_proxy`` (default: ``HIREMATE_TRUST_PROXY``, read at the first
    request) decides whether ``X-Forwarded-Proto: https`` counts as HTTPS;
    ``csp`` defaults to :func:`content_security_policy` of Streamlit's index.
    """

    def __init__(self, app: ASGIApp, *, trust_proxy: bool | None = None, csp: str | None = None) -> None:
        self.app = app
        self._trust_proxy = trust_proxy
        self.csp = csp or content_security_policy(inline_script_hashes(streamlit_index()))

    @property
    def trust_proxy(self) -> bool:
        if self._trust_proxy is None:
            self._trust_proxy = _trust_proxy_setting()
        return self._trust_proxy

    def headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The headers an answer to ``scope`` gets (unless it has them already)."""
        headers = [
            (b"content-security-policy", self.csp.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", REFERRER_POLICY.encode()),
            (b"permissions-policy", PERMISSIONS_POLICY.encode()),
        ]
        if self.is_https(scope):
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers

    def is_https(self, scope: Scope) -> bool:
        values = [value for name, value in scope.get("headers") or () if name.lower() == b"x-forwarded-proto"]
        forwarded = [value.decode("latin-1") for value in values]
        return came_over_https(scope.get("scheme", ""), forwarded, trust_proxy=self.trust_proxy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
