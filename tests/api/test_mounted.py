"""The REST API mounted on the recruiter app's own server: a real
`streamlit run asgi.py` on loopback answers /api/v1 (and Greenhouse's
/integrations/greenhouse) next to the pages, with
the app's security headers, and its docs page's files pass the app's CSP."""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Iterator

import pytest

from hiremate import api_keys, auth
from hiremate.models import Role
from tests.support.stack import RunningApp, serve_app


@pytest.fixture(scope="module")
def running(store_uri: str, mongo_client, tmp_path_factory) -> Iterator[RunningApp]:
    yield from serve_app(store_uri, mongo_client, tmp_path_factory.mktemp("mounted-data"))


def get(app: RunningApp, path: str, key: str | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_the_api_answers_on_the_recruiter_app_s_address(running):
    organization = auth.create_organization(running.db, "Mounted Co")
    admin = auth.create_user(
        running.db,
        email="admin@mounted.test",
        full_name="Admin",
        password="correct horse battery staple 42",
        organization_id=organization.id,
        role=Role.ADMIN,
    )
    _, key = api_keys.create(auth.scope_for(running.db, admin), "mounted", "read")

    status, headers, body = get(running, "/api/v1/me", key)
    assert status == 200 and json.loads(body)["organization_name"] == "Mounted Co"
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]

    status, headers, body = get(running, "/api/v1/attempts")
    assert status == 401 and headers["Content-Type"] == "application/problem+json"
    assert headers["WWW-Authenticate"] == "Bearer"

    status, _, body = get(running, "/api/v1/openapi.json")
    assert status == 200 and json.loads(body)["servers"] == [{"url": "/api/v1"}]

    status, headers, body = get(running, "/api/v1/docs")
    policy = headers["Content-Security-Policy"]
    assert status == 200 and "script-src 'self'" in policy
    for source in re.findall(r'(?:src|href)="([^"]+)"', body.decode()):
        assert source.startswith("/api/v1/docs/static/")
        assert get(running, source)[0] == 200, source

    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)  # Greenhouse: Basic auth
    basic = base64.b64encode(f"{key}:".encode()).decode()
    connection.request("GET", "/integrations/greenhouse/list_tests", headers={"Authorization": f"Basic {basic}"})
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read()) == []  # no kits yet
    connection.close()

    status, _, body = get(running, "/")  # the pages are still Streamlit's
    assert status == 200 and b"<html" in body


@pytest.mark.e2e
def test_the_docs_page_renders_in_chromium_under_the_app_s_csp(running):
    from playwright.sync_api import expect, sync_playwright

    from tests.support.chromium import launch, require_chromium

    require_chromium()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.add_init_script(
                "window.__violations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"http://127.0.0.1:{running.port}/api/v1/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("HireMate REST API", timeout=15000)
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
            assert page.evaluate("window.__violations") == []
            assert errors == []
        finally:
            browser.close()
