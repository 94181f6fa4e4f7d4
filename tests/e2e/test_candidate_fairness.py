"""Fair to every candidate, in real Chromium against a real ingest server and
store (issue 15): nothing is observed before the notice is acknowledged; an
accommodation request reaches the recruiters' dashboard without starting; a
keyboard user who reads the options with the arrow keys is measured exactly
like a mouse user making the same choice; a screen-reader user who reads for
40 s past the link's expiry loses nothing and is not recorded as idle; a full
queue pauses input instead of dropping events; and every candidate screen
passes axe-core (WCAG 2.2 A/AA and best practices) with no violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from playwright.sync_api import Page, expect

from hiremate import attempts, organizations
from hiremate import db as dbmod
from hiremate.metrics import LATEST
from hiremate.models import Accommodations, RiskLevel, Task, TaskOption
from hiremate.timeutil import utcnow
from tests.conftest import free_port
from tests.e2e.helpers import (
    PAGE_TIMEOUT,
    Candidate,
    assert_gapless,
    attempt_doc,
    event_types,
    stored_events,
    wait_for_profile,
    wait_until,
)
from tests.support import axe
from tests.support.ingest_helpers import Issued, ServerProcess, issue, server_env
from tests.support.netfault import StallingProxy
from tests.support.page_helpers import make_admin, open_page, scope_of, texts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REASON = "I would ask the team first because the data is incomplete and the risk is real."


def four_option_task(db: Any, organization_id: ObjectId) -> Task:
    now = utcnow()
    levels = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.MEDIUM]
    texts_ = ["Wait for more data", "Ask the team", "Ship it today", "Ship a small part"]
    task = Task(
        id=ObjectId(),
        organization_id=organization_id,
        title="A release under pressure",
        description="Decide how to handle the release.",
        scenario="The release is due today and one check failed for an unclear reason.",
        category="problem_solving",
        difficulty="medium",
        options=[
            TaskOption(id=f"opt_{n}", text=text, risk_level=level, behavioral_tags=["planning"])
            for n, (text, level) in enumerate(zip(texts_, levels, strict=True), start=1)
        ],
        reasoning_required=True,
        reasoning_min_length=20,
        created_at=now,
        updated_at=now,
    )
    db[dbmod.TASKS].insert_one(task.to_doc())
    return task


@pytest.fixture
def ingest(store_uri: str, db_name: str, tmp_path: Any) -> Iterator[ServerProcess]:
    """An ingest server process on this test's database (the one AppTest pages read too)."""
    server = ServerProcess(server_env(store_uri, db_name, tmp_path), free_port(), tmp_path / "ingest.log").start()
    try:
        yield server
    finally:
        server.kill()


def link(server: ServerProcess, issued: Issued) -> str:
    return f"http://127.0.0.1:{server.port}/a/{issued.token}"


def open_candidate(browser: Any, link: str, **context: Any) -> tuple[Any, Candidate]:
    ctx = browser.new_context(viewport={"width": 1000, "height": 900}, **context)
    return ctx, Candidate(ctx, link).open()


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == kind]


def metrics_of(db: Any, attempt_id: ObjectId) -> dict[str, Any]:
    wait_for_profile(db, attempt_id)
    return db[dbmod.METRICS].find_one({"attempt_id": attempt_id})


def no_violations(page: Page, state: str, seen: dict[str, int]) -> None:
    found = axe.violations(page)
    seen[state] = len(found)
    assert not found, f"axe found in the {state} state: {found}"


# ---------------------------------------------------------------- notice, consent, accommodation request


def test_nothing_is_observed_before_the_notice_is_acknowledged(browser, ingest, db, app_env, shots):
    admin = make_admin(db, org="Acme Hiring", email="boss@acme.test")
    issued = issue(db, count=2, organization_id=admin.organization_id, name="Grace Hopper")
    server = ingest
    context, candidate = open_candidate(browser, link(server, issued))
    try:
        page = candidate.page
        welcome = page.locator("#screen-welcome")
        expect(welcome).to_be_visible(timeout=PAGE_TIMEOUT)
        shown = welcome.inner_text()
        for words in ("Acme Hiring", "boss@acme.test", "profile", "accommodation", "kept", "730 days"):
            assert words in shown, words
        expect(page.locator("#help-contact")).to_contain_text("boss@acme.test")
        shots.take(page, "welcome-with-the-notice")

        # Start without the acknowledgement: explained, and nothing starts.
        page.locator("#start-button").click()
        expect(page.locator("#welcome-status")).not_to_be_empty()
        expect(page.locator("#consent-checkbox")).to_be_focused()
        page.wait_for_timeout(500)
        assert attempt_doc(db, issued.attempt_id)["status"] == "pending"
        assert stored_events(db, issued.attempt_id) == []
        assert candidate.wire.sockets == 0  # not even a socket

        # An accommodation request, without starting: the link stays valid.
        page.locator("#accommodation-button").click()
        page.locator('#accommodation-form input[name="need"][value="extra_time"]').check()
        page.locator("#accommodation-note").fill("I read with a screen magnifier.")
        page.locator("#accommodation-send").click()
        expect(page.locator("#accommodation-status")).to_contain_text("was sent to Acme Hiring", timeout=PAGE_TIMEOUT)
        shots.take(page, "accommodation-request-sent")
        doc = attempt_doc(db, issued.attempt_id)
        assert doc["status"] == "pending" and doc["token_used"] is False
        assert doc["accommodation_request"]["needs"] == ["extra_time"]
        dashboard = texts(open_page(db, admin, "app_pages/dashboard.py"))
        assert "1 accommodation request to answer" in dashboard and "Grace Hopper" in dashboard
        assert "magnifier" not in dashboard  # the details stay on the assessment, for those allowed

        # Acknowledge, start: the consent names the notice shown.
        page.locator("#consent-checkbox").check()
        page.locator("#start-button").click()
        candidate.expect_task(1, total=2)
        consent = attempt_doc(db, issued.attempt_id)["consent"]
        assert consent["notice_version"] == organizations.notice_for(db, admin.organization_id).version
        assert of_type(stored_events(db, issued.attempt_id), "task_started")  # observation begins now
    finally:
        context.close()


# ---------------------------------------------------------------- keyboard and mouse, the same choice


def _keyboard_walk(candidate: Candidate) -> None:
    """Space on the first option, arrow through three more 120 ms apart, keep the last; then write and go on."""
    page = candidate.page
    page.locator("#hm-opt-0").focus()
    page.keyboard.press("Space")
    for _ in range(3):
        page.wait_for_timeout(120)
        page.keyboard.press("ArrowDown")
    page.wait_for_timeout(1000)  # the selection settles (800 ms)
    page.keyboard.press("Tab")  # into the reasoning box
    expect(candidate.reasoning_box()).to_be_focused()
    page.keyboard.type(REASON, delay=15)
    page.keyboard.press("Tab")
    expect(page.locator("#next-button")).to_be_focused()
    page.keyboard.press("Enter")


def _mouse_walk(candidate: Candidate) -> None:
    """Hover the options one by one, click the last, write, click Next."""
    for index in range(4):
        candidate.look_at(index)
    candidate.choose(3)
    candidate.write(REASON, delay=15)
    candidate.next()


def test_a_keyboard_user_is_measured_like_a_mouse_user(browser, ingest, db, shots):
    server = ingest
    results = {}
    for how, walk in (("keyboard", _keyboard_walk), ("mouse", _mouse_walk)):
        organization_id = ObjectId()
        issued = issue(db, organization_id=organization_id, tasks=[four_option_task(db, organization_id)])
        context, candidate = open_candidate(browser, link(server, issued))
        try:
            candidate.start_with_keyboard() if how == "keyboard" else candidate.start()
            candidate.expect_task(1, total=1)
            walk(candidate)
            candidate.expect_done()
            shots.take(candidate.page, f"{how}-done")
        finally:
            context.close()
        events = stored_events(db, issued.attempt_id)
        assert_gapless(events)
        selected = of_type(events, "option_selected")
        results[how] = {
            "changes": len(of_type(events, "option_changed")),
            "views": len(of_type(events, "option_viewed")),
            "selected": [(e["payload"]["option_id"], e["payload"].get("input")) for e in selected],
            "final": of_type(events, "task_completed")[0]["payload"]["final_option_id"],
            "metric_changes": metrics_of(db, issued.attempt_id)["per_task_metrics"][0]["decision_change_count"],
        }
    print(results)
    keyboard, mouse = results["keyboard"], results["mouse"]
    assert keyboard["changes"] == 0 and keyboard["views"] >= 3, keyboard
    assert keyboard["selected"] == [("opt_4", "keyboard")]
    assert mouse["selected"] == [("opt_4", "pointer")]
    assert keyboard["final"] == mouse["final"] == "opt_4"
    assert keyboard["metric_changes"] == mouse["metric_changes"] == 0


# ---------------------------------------------------------------- a screen-reader user past the link's expiry


def test_a_screen_reader_user_reads_past_the_links_expiry_and_loses_nothing(browser, ingest, db, shots):
    issued = issue(db, count=1, name="Ada Reader")
    attempts.set_accommodations(issued.scope, issued.attempt_id, Accommodations(assistive_technology=True))
    db[dbmod.ATTEMPTS].update_one(
        {"_id": issued.attempt_id}, {"$set": {"expires_at": utcnow() + timedelta(seconds=20)}}
    )
    server = ingest
    context, candidate = open_candidate(browser, link(server, issued))
    try:
        candidate.start()
        candidate.expect_task(1, total=1)
        expect(candidate.page.locator("#task-deadline")).to_contain_text("You can finish until")
        candidate.page.wait_for_timeout(40_000)  # reading with a screen reader: no input at all
        assert utcnow() > attempt_doc(db, issued.attempt_id)["start_by"]  # the link itself has expired
        info = candidate.task_info()
        candidate.choose(0)
        candidate.write(REASON[: max(info["min"] + 5, 30)] if info["min"] else REASON, delay=10)
        candidate.next()
        candidate.expect_done()
        shots.take(candidate.page, "done-after-the-links-expiry")
    finally:
        context.close()
    doc = attempt_doc(db, issued.attempt_id)
    assert doc["status"] == "completed" and doc["completed_at"] > doc["start_by"]
    events = stored_events(db, issued.attempt_id)
    assert_gapless(events)
    kinds = event_types(events)
    assert "idle_detected" not in kinds and "focus_lost" not in kinds, kinds
    metrics = metrics_of(db, issued.attempt_id)
    assert metrics["per_task_metrics"][0]["idle_time_seconds"] == 0
    assert metrics["version"] == LATEST


# ---------------------------------------------------------------- a full queue


def test_a_full_queue_pauses_input_and_loses_nothing(browser, ingest, db, shots):
    issued = issue(db, count=1)
    server = ingest
    network = StallingProxy(server.port)
    context, candidate = open_candidate(browser, f"http://127.0.0.1:{network.port}/a/{issued.token}", bypass_csp=True)
    try:
        page = candidate.page
        candidate.start()
        candidate.expect_task(1, total=1)
        candidate.wait_all_acknowledged()
        page.evaluate("() => { window.hiremate.outbox.maxEvents = 6; }")
        network.stall()  # what the page sends from now on waits on the way
        info = candidate.task_info()
        for index in range(len(info["options"])):
            candidate.look_at(index, ms=420)
        candidate.choose(0)
        candidate.write(REASON, delay=60)  # reasoning_started and updates, once a second
        expect(page.locator("#pause-status")).to_be_visible(timeout=PAGE_TIMEOUT)
        assert page.evaluate("() => window.hiremate.paused") is True
        assert page.locator("#task-form").get_attribute("inert") is not None
        queued = page.evaluate("() => window.hiremate.outbox.pendingCount()")
        assert queued >= 6
        shots.take(page, "paused-until-saved")
        assert not axe.violations(page), "the paused state"

        network.resume()
        expect(page.locator("#pause-status")).to_be_hidden(timeout=PAGE_TIMEOUT)
        assert page.locator("#task-form").get_attribute("inert") is None
        # Keys pressed while the form was paused went nowhere: the candidate finishes the sentence.
        typed = candidate.reasoning_box().input_value()
        assert REASON.startswith(typed)
        candidate.write(REASON[len(typed) :] or " Done.", delay=10)
        candidate.wait_all_acknowledged()
        candidate.next()
        candidate.expect_done()
    finally:
        context.close()
        network.close()
    events = stored_events(db, issued.attempt_id)
    count = assert_gapless(events)
    candidate.wire.assert_matches(events)
    assert count >= queued + 1
    kinds = event_types(events)
    assert kinds.count("option_viewed") >= len(info["options"])  # none evicted
    wait_until(lambda: attempt_doc(db, issued.attempt_id)["status"] == "completed", timeout=20, what="completion")


# ---------------------------------------------------------------- axe on every candidate screen


def _message_state(
    browser: Any, link: str, seen: dict[str, int], state: str, title: str, *, press_start: bool = False
) -> None:
    context, candidate = open_candidate(browser, link, bypass_csp=True)
    try:
        if press_start:  # an attempt in progress elsewhere: the welcome says so, and Continue finds out
            candidate.page.locator("#consent-checkbox").check()
            candidate.page.locator("#start-button").click()
        expect(candidate.page.locator("#message-title")).to_contain_text(title, timeout=PAGE_TIMEOUT)
        no_violations(candidate.page, state, seen)
    finally:
        context.close()


def _self_identify(page: Page, seen: dict[str, int], shots: Any) -> None:
    """The optional questions below "Thank you": explained refusals, then sent over their own socket."""
    form = page.locator("#self-id-form")
    expect(page.locator("#self-id")).to_be_visible()
    expect(page.locator("#self-id-why")).to_contain_text("Acme Hiring asks these two questions")
    page.locator("#screen-done").screenshot(path=str(shots.file("self-identification-form.png")))
    page.locator("#self-id-send").click()  # nothing chosen: optional, and said so
    expect(page.locator("#self-id-status")).to_contain_text("these questions are optional", timeout=PAGE_TIMEOUT)
    form.locator('input[name="sex"][value="female"]').check()
    page.locator("#self-id-send").click()  # an answer without the explicit consent
    expect(page.locator("#self-id-status")).to_contain_text("tick the box", timeout=PAGE_TIMEOUT)
    assert page.evaluate("document.activeElement.id") == "self-id-consent"
    page.locator("#self-id-consent").check()
    page.locator("#self-id-send").click()
    expect(page.locator("#self-id-status")).to_contain_text("your answers were sent", timeout=PAGE_TIMEOUT)
    expect(form).to_be_hidden()
    no_violations(page, "self-identification sent", seen)


def test_every_candidate_screen_passes_axe(browser, ingest, db, app_env, shots):
    axe.require_axe()
    admin = make_admin(db, org="Acme Hiring", email="boss@acme.test")
    org = admin.organization_id
    organizations.update_settings(scope_of(db, admin), {"self_identification": True})
    server = ingest
    seen: dict[str, int] = {}

    issued = issue(db, count=1, organization_id=org)
    context, candidate = open_candidate(browser, link(server, issued), bypass_csp=True)
    try:
        page = candidate.page
        expect(page.locator("#screen-welcome")).to_be_visible(timeout=PAGE_TIMEOUT)
        no_violations(page, "welcome", seen)
        page.locator("#start-button").click()  # not acknowledged yet: explained
        expect(page.locator("#welcome-status")).not_to_be_empty()
        no_violations(page, "welcome, consent missing", seen)
        page.locator("#accommodation-button").click()
        expect(page.locator("#accommodation-form")).to_be_visible()
        no_violations(page, "accommodation form", seen)
        page.locator('#accommodation-form input[name="need"][value="alternative"]').check()
        page.locator("#accommodation-send").click()
        expect(page.locator("#accommodation-status")).to_contain_text("was sent", timeout=PAGE_TIMEOUT)
        no_violations(page, "accommodation request sent", seen)
        candidate.start()
        no_violations(page, "task", seen)
        page.locator("#next-button").click(force=True)  # not ready: the reason is announced
        expect(page.locator("#next-live")).not_to_be_empty()
        no_violations(page, "task, next not ready", seen)
        info = candidate.task_info()
        candidate.choose(0)
        candidate.write(REASON if info["min"] else "Fine.", delay=5)
        no_violations(page, "task, answered", seen)
        candidate.next()
        candidate.expect_done()
        no_violations(page, "done, self-identification offered", seen)
        _self_identify(page, seen, shots)
        shots.take(page, "done")
    finally:
        context.close()
    doc = db[dbmod.SELF_IDS].find_one({"_id": issued.attempt_id})
    assert (doc["sex"], doc["race_ethnicity"], doc["organization_id"]) == ("female", "prefer_not_to_say", org)
    _message_state(browser, link(server, issued), seen, "completed", "completed")

    running = issue(db, count=1, organization_id=org)
    first, other = open_candidate(browser, link(server, running))
    try:
        other.start()
        _message_state(browser, link(server, running), seen, "already used", "already in use", press_start=True)
    finally:
        first.close()

    replaced = issue(db, count=1, organization_id=org)
    attempts.reissue_link(replaced.scope, replaced.attempt_id, public_url="http://x")
    _message_state(browser, link(server, replaced), seen, "replaced", "replaced")

    expired = issue(db, count=1, organization_id=org)
    db[dbmod.ATTEMPTS].update_one(
        {"_id": expired.attempt_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    _message_state(browser, link(server, expired), seen, "expired", "expired")

    locked = issue(db, count=1, organization_id=org)
    attempts.lock_attempt(locked.scope, locked.attempt_id, "position filled")
    _message_state(browser, link(server, locked), seen, "locked", "closed")

    unknown = Issued(issued.attempt, "x" * 43, issued.tasks, issued.scope)
    _message_state(browser, link(server, unknown), seen, "not found", "not valid")
    print(f"axe violations per state: {seen}")
    assert len(seen) == 15 and not any(seen.values())
