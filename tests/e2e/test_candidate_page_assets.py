"""The candidate page's assets in real Chromium (ingest_server/httpd.py):
every module from a versioned, compressed, immutable URL, each fetched once
(a preload and the import it serves are the same URL), no policy violation,
and a second visit asks the network for the page alone; the page still
starts an assessment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from ingest_server import httpd
from tests.conftest import free_port
from tests.e2e.helpers import PAGE_TIMEOUT
from tests.support.ingest_helpers import ServerProcess, issue, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VERSIONED = re.compile(r"^http://127\.0\.0\.1:\d+/static/v/[0-9a-f]{16}/([^?#]+)$")
REPORT_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI}`));
"""
NETWORK = "() => performance.getEntriesByType('resource').filter((e) => e.transferSize > 0).map((e) => e.name)"


@pytest.fixture
def ingest(store_uri: str, db_name: str, tmp_path: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(server_env(store_uri, db_name, tmp_path), free_port(), tmp_path / "ingest.log").start()
    try:
        yield server
    finally:
        server.kill()


def test_versioned_compressed_modules_once_each_and_a_second_visit_asks_for_the_page_alone(browser, ingest, db):
    issued = issue(db, count=2)
    url = f"http://127.0.0.1:{ingest.port}/a/{issued.token}"
    context = browser.new_context()
    try:
        context.add_init_script(REPORT_VIOLATIONS)
        page = context.new_page()
        answers: list[Any] = []
        page.on("response", lambda answer: answers.append(answer))
        page.goto(url)
        expect(page.locator("#start-button")).to_be_visible(timeout=PAGE_TIMEOUT)

        assets = [a for a in answers if "/static/" in a.url]
        modules = [VERSIONED.match(a.url).group(1) for a in assets if a.url.endswith(".js")]  # type: ignore[union-attr]
        assert sorted(modules) == sorted(p.name for p in httpd.STATIC_DIR.glob("*.js")), "each module exactly once"
        for answer in assets:
            assert VERSIONED.match(answer.url), answer.url
            assert answer.status == 200
            headers = answer.all_headers()
            assert headers["cache-control"] == "public, max-age=31536000, immutable"
            if answer.url.endswith((".js", ".css")):
                assert headers["content-encoding"] == "br", answer.url  # Chromium asks for br, on plain http too
                assert headers["vary"] == "Accept-Encoding"
        document = answers[0].all_headers()
        assert document["cache-control"] == "no-store" and document["content-encoding"] == "br"
        assert document["content-security-policy"] == httpd.PAGE_CSP

        # A second visit: the page again (never stored), every asset from the cache.
        page.goto(url)
        expect(page.locator("#start-button")).to_be_visible(timeout=PAGE_TIMEOUT)
        assert page.evaluate(NETWORK) == []
        assert page.evaluate("() => performance.getEntriesByType('navigation')[0].transferSize") > 0

        # And the page works from those modules: the assessment starts.
        page.locator("#consent-checkbox").check()
        page.locator("#start-button").click()
        expect(page.locator("#screen-task")).to_be_visible(timeout=PAGE_TIMEOUT)
        assert page.evaluate("window.__violations") == []
    finally:
        context.close()
