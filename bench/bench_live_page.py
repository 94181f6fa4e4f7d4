"""Live fan-out to the Streamlit live page: a real `streamlit run asgi.py`
and headless Chromium (Playwright, /usr/bin/chromium), logged in through the
login form (a logged-out visit to the live page's address, kept through the login), watching an attempt on the Live page while
a candidate sends events through the real ingest server. For each event:
the time from its ack to the page showing the new event count."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from bench.bench_ingest import DB_NAME, Bench
from bench.common import Figure, free_port, hiremate_env, percentile, python_process, stop, wait_http
from hiremate import auth
from tests.support.chromium import launch
from tests.support.ingest_helpers import issue, tiny_events, ws_url

EVENTS = 12
EMAIL, PASSWORD = "live@bench.test", "correct-horse-battery-7"
GAP_SECONDS = 0.7  # between events: not in step with the page's 1 s refresh


def shown(count: int) -> str:
    """The live page's count of events, as it words it."""
    return "1 event" if count == 1 else f"{count} events"


def run(tmp: Path, log: Any = print) -> tuple[Figure, Figure, list[float]]:
    from playwright.sync_api import sync_playwright

    bench = Bench(tmp)
    app = None
    try:
        original = auth._BCRYPT_ROUNDS
        auth._BCRYPT_ROUNDS = 4
        try:
            organization = auth.create_organization(bench.db, "Live Bench")
            auth.create_user(
                bench.db, email=EMAIL, full_name="Live", password=PASSWORD, organization_id=organization.id,
            )  # fmt: skip
        finally:
            auth._BCRYPT_ROUNDS = original
        issued = issue(bench.db, count=1, organization_id=organization.id)
        port = free_port()
        env = hiremate_env(bench.uri, DB_NAME, tmp, HIREMATE_APP_PORT=str(port))
        command = ["-m", "streamlit", "run", "asgi.py", "--server.port", str(port), "--server.headless", "true"]
        command += ["--browser.gatherUsageStats", "false"]
        app = python_process(command, env, tmp / "streamlit.log")
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", app, timeout=60)
        latencies: list[float] = []
        with (
            sync_playwright() as playwright,
            connect(ws_url(bench.ingest_port, f"/ws/assessment/{issued.token}"), open_timeout=10) as ws,
        ):
            browser = launch(playwright)
            try:
                page = browser.new_page()
                info = json.loads(ws.recv(10))  # assessment_info
                ws.send(json.dumps({"type": "start", "consent": {"notice_version": info["notice"]["version"]}}))
                started = json.loads(ws.recv(10))
                assert started["type"] == "started", started
                # A logged-out visit to the live page's own address, then the login form: the app
                # returns to that address (query string kept) once logged in.
                page.goto(f"http://127.0.0.1:{port}/live?attempt={issued.attempt_id}")
                page.get_by_label("Email").first.fill(EMAIL)
                page.get_by_label("Password").first.fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_function(
                    "() => document.body?.innerText.includes('No events yet')", polling=20, timeout=60_000
                )
                events = tiny_events(issued.tasks[0].id, 1, EVENTS)
                for n, event in enumerate(events, start=1):
                    time.sleep(GAP_SECONDS)
                    ws.send(json.dumps({"type": "event", **event}))
                    ack = json.loads(ws.recv(10))
                    acked = time.perf_counter()
                    assert ack["type"] == "ack", ack
                    page.wait_for_function(
                        f"() => document.body?.innerText.includes('{shown(n)} so far')", polling=10, timeout=15_000
                    )
                    latencies.append((time.perf_counter() - acked) * 1000)
            finally:
                browser.close()
        p50 = Figure("live page p50", "ms", [percentile(latencies, 50)])
        p99 = Figure("live page p99", "ms", [percentile(latencies, 99)])
        log(f"  live page: p50 {p50.median:.0f} ms, max {max(latencies):.0f} ms over {len(latencies)} events")
        return p50, p99, latencies
    finally:
        stop(app)
        bench.close()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        run(Path(tmp))
