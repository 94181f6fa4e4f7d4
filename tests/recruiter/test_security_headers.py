"""The recruiter app's security headers (recruiter/security_headers.py).

Found by attacking a running stack: the app answered with no
Content-Security-Policy, no frame protection, no nosniff and no referrer
policy, so any site could frame it (clickjacking). Here: a real `streamlit run
asgi.py` on a free loopback port, asked over plain HTTP for a page, a static
asset, the health check and both cookie routes; and the middleware itself for
what a server on one port cannot show (HTTPS, an untrusted proxy header,
WebSockets). Chromium's side (a framing page refused, no violation while the
app works) is tests/e2e/test_security_headers.py.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from recruiter import security_headers
from recruiter.security_headers import SecurityHeaders
from tests.support.stack import serve_app

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class App:
    host: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection(self.host, timeout=10)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def app(store_uri: str, mongo_client, tmp_path_factory) -> Iterator[App]:
    """`streamlit run asgi.py` as the launcher starts it, behind a "proxy"
    (HIREMATE_TRUST_PROXY=true, so X-Forwarded-Proto counts)."""
    data_dir = tmp_path_factory.mktemp("headers-data")
    for running in serve_app(store_uri, mongo_client, data_dir, HIREMATE_TRUST_PROXY="true"):
        yield App(f"127.0.0.1:{running.port}")


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_protected(answer: Answer) -> None:
    """The headers that stop framing, sniffing and referrer leaks are all there."""
    policy = answer.header("Content-Security-Policy")
    assert policy, "no Content-Security-Policy"
    parsed = directives(policy)
    assert parsed["frame-ancestors"] == ["'none'"]
    assert parsed["object-src"] == ["'none'"]
    assert parsed["default-src"] == ["'self'"]
    assert "'unsafe-eval'" not in parsed["script-src"] and "'unsafe-inline'" not in parsed["script-src"]
    assert parsed["connect-src"] == ["'self'"]
    assert answer.header("X-Frame-Options") == "DENY"
    assert answer.header("X-Content-Type-Options") == "nosniff"
    assert answer.header("Referrer-Policy") == "no-referrer"
    assert answer.header("Strict-Transport-Security") is None  # plain HTTP


def test_the_page_is_served_with_the_headers(app):
    answer = app.get("/")
    assert answer.status == 200 and b"<html" in answer.body
    assert_protected(answer)


def test_a_deep_link_is_served_with_the_headers(app):
    answer = app.get("/candidates?attempt=0123")
    assert answer.status == 200
    assert_protected(answer)


def test_a_static_asset_is_served_with_the_headers(app):
    index = app.get("/").body.decode()
    script = re.search(r'src="\./(static/js/[^"]+\.js)"', index)
    assert script, "no script in Streamlit's index.html"
    answer = app.get("/" + script.group(1))
    assert answer.status == 200 and answer.header("Content-Type").endswith("javascript")
    assert_protected(answer)


def test_the_health_check_is_served_with_the_headers(app):
    answer = app.get("/_stcore/health")
    assert answer.status == 200
    assert_protected(answer)


def test_the_cookie_routes_keep_their_own_headers_and_get_the_rest(app):
    # The hand-over answers its GET with a page that posts back; sign-out redirects.
    for path, status in (("/auth/session?code=not-a-token&next=/home", 200), ("/auth/signout", 303)):
        answer = app.get(path)
        assert answer.status == status, path
        assert answer.header("Cache-Control") == "no-store", path
        assert len(answer.headers.get_all("Referrer-Policy")) == 1, path  # the route's own, not doubled
        assert_protected(answer)


def test_the_inline_script_of_streamlit_s_page_is_allowed_by_its_hash(app):
    """The one inline script of the page the browser gets is exactly the one
    the policy names (otherwise Chromium reports a violation at every load)."""
    answer = app.get("/")
    inline = security_headers.inline_script_hashes(answer.body)
    assert len(inline) == 1
    assert inline[0] in directives(answer.header("Content-Security-Policy"))["script-src"]


def test_hsts_only_when_the_trusted_proxy_says_https(app):
    assert app.get("/", {"X-Forwarded-Proto": "http"}).header("Strict-Transport-Security") is None
    assert app.get("/", {"X-Forwarded-Proto": "https"}).header("Strict-Transport-Security") == security_headers.HSTS
    # A client's own "https" in front of what the proxy appended proves nothing.
    assert app.get("/", {"X-Forwarded-Proto": "https, http"}).header("Strict-Transport-Security") is None


# ---------------------------------------------------------------- the middleware alone


def _plain_app(extra: list[tuple[bytes, bytes]] | None = None):
    async def asgi(scope, receive, send):
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept", "headers": []})
            return
        await send({"type": "http.response.start", "status": 200, "headers": list(extra or [])})
        await send({"type": "http.response.body", "body": b"ok"})

    return asgi


async def _call(middleware, scope) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await middleware({"headers": [], **scope}, receive, send)
    return sent


def _headers(message: dict) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    for name, value in message.get("headers", []):
        found.setdefault(name.lower(), []).append(value)
    return found


async def test_hsts_over_https_and_never_from_an_untrusted_proxy_header():
    https = await _call(SecurityHeaders(_plain_app(), trust_proxy=False), {"type": "http", "scheme": "https"})
    assert _headers(https[0])[b"strict-transport-security"] == [security_headers.HSTS.encode()]
    spoofed = {"type": "http", "scheme": "http", "headers": [(b"x-forwarded-proto", b"https")]}
    untrusted = await _call(SecurityHeaders(_plain_app(), trust_proxy=False), spoofed)
    assert b"strict-transport-security" not in _headers(untrusted[0])
    trusted = await _call(SecurityHeaders(_plain_app(), trust_proxy=True), spoofed)
    assert b"strict-transport-security" in _headers(trusted[0])


async def test_existing_headers_are_kept_and_websockets_are_left_alone():
    own = [(b"Referrer-Policy", b"same-origin"), (b"x-frame-options", b"SAMEORIGIN")]
    middleware = SecurityHeaders(_plain_app(own), trust_proxy=False)
    headers = _headers((await _call(middleware, {"type": "http", "scheme": "http"}))[0])
    assert headers[b"referrer-policy"] == [b"same-origin"] and headers[b"x-frame-options"] == [b"SAMEORIGIN"]
    assert headers[b"x-content-type-options"] == [b"nosniff"]
    socket = await _call(middleware, {"type": "websocket", "scheme": "ws"})
    assert socket == [{"type": "websocket.accept", "headers": []}]


def test_inline_script_hashes_are_those_of_the_script_bodies():
    page = b'<script>a()</script><script type="module" src="x.js"></script><SCRIPT id=y>\n b()\n</SCRIPT>'
    # printf 'a()' | openssl dgst -sha256 -binary | base64 (and likewise for "\n b()\n")
    assert security_headers.inline_script_hashes(page) == [
        "'sha256-qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4='",
        "'sha256-+oxi8L65iDZykLQAdjC/TMTkDKfD7AQmwaDO0ma6u5M='",
    ]
