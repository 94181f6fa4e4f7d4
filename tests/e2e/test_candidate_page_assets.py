"""The candidate page's assets in real Chromium (ingest_server/httpd.py):
every module from a versioned, compressed, immutable URL, each fetched once
(a preload and the import it serves are the same URL), no policy violation,
and a second visit asks the network for the page alone; the page still
starts an assessment. The welcome screen waits for its own modules only:
Start pressed before the rest (session.js) has arrived waits for it, then
starts as usual."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from ingest_server import httpd
from tests.conftest import free_port
from tests.e2e.helpers import _SET_VISIBILITY, PAGE_TIMEOUT, attempt_doc, event_types, stored_events, wait_until
from tests.support.ingest_helpers import ServerProcess, issue, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VERSIONED = re.compile(r"^http://127\.0\.0\.1:\d+/static/v/[0-9a-f]{16}/([^?#]+)$")
REPORT_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI}`));
"""
LOADED = "() => window.hiremate && window.hiremate.loaded === true"  # session.js is here (app.js, App.load)
PRELOADS = re.compile(r'<link rel="modulepreload" href="/static/v/[0-9a-f]{16}/([^"]+)">')
NETWORK = "() => performance.getEntriesByType('resource').filter((e) => e.transferSize > 0).map((e) => e.name)"


@pytest.fixture
def ingest(store_uri: str, db_name: str, tmp_path: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(server_env(store_uri, db_name, tmp_path), free_port(), tmp_path / "ingest.log").start()
    try:
        yield server
    finally:
        server.kill()


@contextlib.contextmanager
def candidate_page(browser: Any, ingest: ServerProcess, db: Any) -> Iterator[tuple[Any, Any, str]]:
    """A fresh browser context's page reporting policy violations, and an
    issued two-task attempt: (page, issued, its link)."""
    issued = issue(db, count=2)
    context = browser.new_context()
    try:
        context.add_init_script(REPORT_VIOLATIONS)
        yield context.new_page(), issued, f"http://127.0.0.1:{ingest.port}/a/{issued.token}"
    finally:
        context.close()


def test_versioned_compressed_modules_once_each_and_a_second_visit_asks_for_the_page_alone(browser, ingest, db):
    with candidate_page(browser, ingest, db) as (page, _, url):
        answers: list[Any] = []
        page.on("response", lambda answer: answers.append(answer))
        page.goto(url)
        expect(page.locator("#start-button")).to_be_visible(timeout=PAGE_TIMEOUT)
        page.wait_for_function(LOADED, timeout=PAGE_TIMEOUT)  # the welcome does not wait for the rest: we do

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
        page.wait_for_function(LOADED, timeout=PAGE_TIMEOUT)
        assert page.evaluate(NETWORK) == []
        assert page.evaluate("() => performance.getEntriesByType('navigation')[0].transferSize") > 0

        # And the page works from those modules: the assessment starts.
        page.locator("#consent-checkbox").check()
        page.locator("#start-button").click()
        expect(page.locator("#screen-task")).to_be_visible(timeout=PAGE_TIMEOUT)
        assert page.evaluate("window.__violations") == []


def test_start_pressed_before_the_assessment_code_arrives_waits_for_it_then_starts(browser, ingest, db):
    with candidate_page(browser, ingest, db) as (page, issued, url):
        held: list[Any] = []
        page.route("**/session.js", lambda route: held.append(route))  # answered when the test lets it through
        sockets: list[Any] = []
        page.on("websocket", lambda socket: sockets.append(socket))
        document = page.goto(url)
        assert document is not None
        # The head preloads what the welcome screen needs, nothing else.
        assert PRELOADS.findall(document.text()) == ["ui.js"]
        expect(page.locator("#start-button")).to_be_visible(timeout=PAGE_TIMEOUT)
        wait_until(lambda: held or page.evaluate("0"), timeout=PAGE_TIMEOUT / 1000, what="session.js asked for")
        assert page.evaluate("() => window.hiremate.loaded") is False

        page.locator("#consent-checkbox").check()
        page.locator("#start-button").click()
        expect(page.locator("#start-button")).to_have_attribute("aria-disabled", "true")
        expect(page.locator("#welcome-status")).to_have_text("Starting…")
        expect(page.locator("#screen-welcome")).to_be_visible()
        page.evaluate(_SET_VISIBILITY, True)  # the person goes to another tab while it waits
        assert sockets == [] and attempt_doc(db, issued.attempt_id)["status"] == "pending"

        held[0].continue_()
        page.wait_for_function(LOADED, timeout=PAGE_TIMEOUT)
        # What the listeners saw meanwhile reached the tracker: it knows the page is hidden.
        assert page.evaluate("() => [window.hiremate.tracker.hidden, window.hiremate.tracker.focused]") == [True, False]
        page.evaluate(_SET_VISIBILITY, False)
        expect(page.locator("#screen-task")).to_be_visible(timeout=PAGE_TIMEOUT)
        expect(page.locator("#task-progress")).to_have_text("Task 1 of 2", timeout=PAGE_TIMEOUT)
        expect(page.locator("#task-title")).to_be_focused()
        wait_until(
            lambda: "task_started" in event_types(stored_events(db, issued.attempt_id)),
            timeout=PAGE_TIMEOUT / 1000,
            what="task_started stored",
        )
        assert attempt_doc(db, issued.attempt_id)["status"] == "in_progress"
        assert page.evaluate("window.__violations") == []
