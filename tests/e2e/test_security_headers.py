"""The recruiter app's security headers in real Chromium.

Found by attacking a running stack: a page on another origin could load the
app in an iframe and lay its own buttons over it (clickjacking). Now the app
forbids framing (CSP ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``),
and its Content-Security-Policy is strict enough to matter yet lets
everything the recruiter uses work: logging in (through the cookie route),
the dashboard, the candidates' data grid, a profile's four plotly charts and
the compare page's radar, with no violation reported.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from functools import partial

import pytest
from playwright.sync_api import expect

from hiremate import db as dbmod
from tests.conftest import free_port
from tests.e2e.helpers import APP_TIMEOUT, log_in, main_area, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Every violation, in every document of the context (a login reloads the page).
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`));
"""


@pytest.fixture
def hostile_site(stack, tmp_path) -> Iterator[str]:
    """A page on another origin (its own loopback port) that frames the app."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><body><h1>Win a prize</h1>"
        f'<iframe id="victim" src="{stack.app_url}/" width="1000" height="700"></iframe></body></html>'
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_another_site_cannot_frame_the_app(stack, browser, hostile_site, shots):
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    app_answers = []
    page.on("response", lambda response: response.url.startswith(stack.app_url) and app_answers.append(response))
    page.goto(hostile_site)
    expect(page.get_by_role("heading", name="Win a prize")).to_be_visible()
    refused = "frame-ancestors 'none'"
    for _ in range(60):  # Playwright delivers console events while it waits
        if any(refused in text for text in console):
            break
        page.wait_for_timeout(250)
    shots.take(page, "hostile page with the app refused in its frame")
    # Chromium fetched the app for the frame, then refused to show it.
    assert app_answers, "the frame never asked the app for its page"
    assert any(refused in text and stack.app_url.split("//")[1] in text for text in console), console
    frame = page.frame_locator("#victim")
    expect(frame.get_by_test_id("stApp")).to_have_count(0)
    child = next(f for f in page.frames if f != page.main_frame)
    assert not child.url.startswith(stack.app_url), child.url  # Chromium's error page, not the app
    context.close()


def test_the_app_works_under_its_policy_with_no_violation(stack, browser, shots):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    violations: list[str] = []
    context.expose_function("reportViolation", lambda text: violations.append(text))
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))

    first = page.goto(stack.app_url)
    assert "frame-ancestors 'none'" in (first.headers.get("content-security-policy") or "")
    log_in(page, stack.app_url)
    open_page(page, "Dashboard")
    expect(main_area(page).get_by_text("Recent activity")).to_be_visible(timeout=APP_TIMEOUT)
    shots.take(page, "dashboard")
    main = open_page(page, "Candidates")
    expect(main.get_by_test_id("stDataFrame").first).to_be_visible(timeout=APP_TIMEOUT)
    shots.take(page, "candidates")

    db = stack.database()
    completed = [str(doc["_id"]) for doc in db[dbmod.ATTEMPTS].find({"status": "completed"}, {"_id": 1}).limit(3)]
    assert len(completed) == 3, "the demo organisation has completed candidates"
    page.goto(f"{stack.app_url}/profile?attempt={completed[0]}")
    expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=APP_TIMEOUT)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    shots.take(page, "profile with its plotly charts")
    page.goto(f"{stack.app_url}/compare?attempts={','.join(completed)}")
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=APP_TIMEOUT)
    page.locator(".js-plotly-plot").first.hover()  # tooltips and the mode bar draw on hover
    shots.take(page, "compare with its radar")

    assert violations == []
    csp_messages = [text for text in console if re.search(r"content security policy|refused to", text, re.I)]
    assert csp_messages == []
    context.close()
