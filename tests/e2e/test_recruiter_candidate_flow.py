"""The whole of HireMate in real Chromium, started as `make run` starts it:
a recruiter writes a task and issues an assessment, a candidate takes it
like a person does while the recruiter watches live, then the profile and
the CSV export; a reload keeps the recruiter's login; a candidate who
closes the tab continues where they were."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from playwright.sync_api import expect

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.models import CandidateInfo
from hiremate.ops.demo import DEMO_EMAIL
from hiremate.scope import Scope
from tests.e2e.helpers import (
    APP_TIMEOUT,
    DIMENSIONS,
    Candidate,
    assert_gapless,
    attempt_doc,
    create_task,
    event_types,
    issue_assessment,
    live_grid_cells,
    log_in,
    main_area,
    open_page,
    stored_events,
    wait_for_profile,
    wait_until,
)

pytestmark = pytest.mark.e2e

NEW_TASK = "Budget overrun before the quarterly review"
LIBRARY_TASKS = ["A build that fails now and then", "Choosing a tool for the team"]


@pytest.mark.slow
def test_recruiter_issues_candidate_completes_recruiter_watches_and_exports(browser, stack, shots):
    started = time.monotonic()
    db = stack.database()
    recruiter_context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    candidate_context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        recruiter = recruiter_context.new_page()
        log_in(recruiter, stack.app_url)
        shots.take(recruiter, "recruiter-logged-in")

        create_task(
            recruiter,
            title=NEW_TASK,
            scenario="The quarterly budget is 10% over two weeks before the review. Finance wants a plan by Friday.",
            options=[
                ("Cut the travel budget at once and tell the teams afterwards.", "decisive, fast"),
                ("Ask each team lead for savings proposals by Wednesday.", "collaborative"),
                ("Present the overrun as it is and propose a plan at the review.", "transparent, patient"),
            ],
        )
        shots.take(recruiter, "task-created")

        link = issue_assessment(
            recruiter,
            name="Grace Hopper",
            email="grace@example.com",
            position="Data Analyst",
            task_titles=[NEW_TASK, *LIBRARY_TASKS],
        )
        shots.take(recruiter, "assessment-issued-link-shown-once")
        attempt = db[dbmod.ATTEMPTS].find_one({"candidate_info.email": "grace@example.com"})
        assert attempt is not None and attempt["status"] == "pending" and len(attempt["task_ids"]) == 3
        attempt_id = attempt["_id"]

        # The candidate opens the link in their own browser.
        candidate = Candidate(candidate_context, link).open()
        expect(candidate.page.get_by_role("heading", name="Hello, Grace Hopper")).to_be_visible(timeout=APP_TIMEOUT)
        shots.take(candidate.page, "candidate-welcome")
        candidate.start()
        assert candidate.title() == NEW_TASK
        shots.take(candidate.page, "candidate-task-1")

        # The recruiter follows it on the Live page, which lists attempts in progress.
        live = open_page(recruiter, "Live")
        expect(live.get_by_text("Grace Hopper").first).to_be_visible(timeout=APP_TIMEOUT)
        expect(live_grid_cells(live, "Task started")).to_have_count(1, timeout=APP_TIMEOUT)

        # Task 1, watched step by step: each action shows up while the task is still open.
        info = candidate.task_info()
        candidate.look_at(0)
        candidate.look_at(2)
        candidate.choose(2)
        expect(live_grid_cells(live, "Option viewed").first).to_be_attached(timeout=APP_TIMEOUT)
        expect(live_grid_cells(live, "Option chosen")).to_have_count(1, timeout=APP_TIMEOUT)
        shots.take(recruiter, "live-option-selected")
        candidate.look_at(1)
        candidate.choose(1)  # changes their mind
        expect(live_grid_cells(live, "Option changed")).to_have_count(1, timeout=APP_TIMEOUT)
        candidate.write("Savings proposals from the leads are more realistic ")
        expect(live_grid_cells(live, "Started writing")).to_have_count(1, timeout=APP_TIMEOUT)
        candidate.write("than a cut nobody agreed to.")
        assert len(candidate.reasoning_box().input_value()) >= info["min"]
        shots.take(candidate.page, "candidate-task-1-answered")
        expect(live.get_by_text(re.compile(r"Task 1 of 3"))).to_be_visible(timeout=APP_TIMEOUT)
        shots.take(recruiter, "live-mid-task-1")
        candidate.next()

        # Task 2 with a trip to another tab; task 3 straight through.
        candidate.do_task(2, topic="reproduce the failure before the release", switch_tab=True)
        expect(live.get_by_text("Left the window 1 time", exact=True)).to_be_visible(timeout=APP_TIMEOUT)
        shots.take(recruiter, "live-after-tab-switch")
        candidate.do_task(3, topic="try the tool with one team first")
        candidate.expect_done()
        shots.take(candidate.page, "candidate-done")

        # What was stored: every action, in order, once.
        wait_until(
            lambda: attempt_doc(db, attempt_id)["status"] == "completed", timeout=20, what="the attempt to complete"
        )
        events = stored_events(db, attempt_id)
        count = assert_gapless(events)
        candidate.wire.assert_matches(events)
        kinds = event_types(events)
        assert kinds.count("task_started") == 3 and kinds.count("task_completed") == 3
        assert kinds.count("option_changed") == 3  # once per task
        for kind in ("option_viewed", "reasoning_updated", "reasoning_submitted"):
            assert kind in kinds
        lost = [e for e in events if e["event_type"] == "focus_lost"]
        assert [e["payload"]["trigger"] for e in lost] == ["tab_switch"]
        assert kinds.count("focus_gained") == 1
        wait_for_profile(db, attempt_id)

        # The Live page sees the end, then links to the profile with the four dimensions.
        expect(live.get_by_text("The candidate completed the assessment.")).to_be_visible(timeout=APP_TIMEOUT)
        expect(live.get_by_text(f"{count} events so far", exact=False)).to_be_visible(timeout=APP_TIMEOUT)
        shots.take(recruiter, "live-completed")
        live.get_by_role("link", name="Open the profile").click()
        profile = main_area(recruiter)
        expect(profile.get_by_role("heading", name="Grace Hopper")).to_be_visible(timeout=APP_TIMEOUT)
        for dimension in DIMENSIONS:
            expect(profile.get_by_text(dimension, exact=True)).to_be_visible(timeout=APP_TIMEOUT)
        expect(profile.get_by_text("Tasks completed")).to_be_visible()
        expect(profile.get_by_role("heading", name="Answers")).to_be_visible()
        shots.take(recruiter, "profile")

        # A person reviews: agrees or disagrees with each dimension, then records a decision.
        for dimension in DIMENSIONS:
            group = profile.get_by_role("radiogroup", name=re.compile(f"^{dimension}"))
            group.get_by_text("Disagree" if dimension == "Risk orientation" else "Agree", exact=True).click()
        profile.get_by_label("Reason (required to disagree)").nth(2).fill(
            "Asked about it: she weighs risk case by case."
        )
        profile.get_by_label("Notes").fill("Ask about the vendor decision in the interview.")
        profile.get_by_role("button", name="Mark reviewed").click()
        expect(profile.get_by_text("Your review is recorded.")).to_be_visible(timeout=APP_TIMEOUT)
        profile.get_by_role("radiogroup", name="Decision").get_by_text("Advance", exact=True).click()
        profile.get_by_label("Reason for the decision (required)").fill("Clear reasoning on every task.")
        profile.get_by_role("button", name="Record decision").click()
        expect(profile.get_by_text("Decision recorded: Advance.")).to_be_visible(timeout=APP_TIMEOUT)
        # The whole profile in one picture (Streamlit scrolls inside its main area): docs/recruiter-profile.png.
        viewport = recruiter.viewport_size
        recruiter.set_viewport_size({"width": 1400, "height": 7200})
        recruiter.wait_for_timeout(500)
        shots.take(recruiter, "profile-reviewed-whole")
        recruiter.set_viewport_size(viewport)
        review = db[dbmod.REVIEWS].find_one({"_id": attempt_id})
        assert review["decision"]["value"] == "advance"
        actions = {e["action"] for e in db[dbmod.AUDIT_LOG].find({"target_id": str(attempt_id)})}
        assert {"profile.reviewed", "profile.decision_recorded"} <= actions

        # The profile's events CSV holds exactly the stored events.
        with recruiter.expect_download(timeout=APP_TIMEOUT) as download_info:
            profile.get_by_role("button", name="Events (CSV)").click()
        events_csv = shots.file("attempt-events.csv")
        download_info.value.save_as(events_csv)
        rows = list(csv.DictReader(io.StringIO(events_csv.read_text(encoding="utf-8-sig"))))
        assert len(rows) == count

        # Exports: the candidates file contains this attempt's candidate.
        exports = open_page(recruiter, "Exports")
        exports.get_by_role("button", name="Prepare file").first.click()
        download_button = exports.get_by_role("button", name="Download candidates with profiles (CSV)")
        expect(download_button).to_be_visible(timeout=APP_TIMEOUT)
        shots.take(recruiter, "exports-prepared")
        with recruiter.expect_download(timeout=APP_TIMEOUT) as download_info:
            download_button.click()
        candidates_csv = shots.file(download_info.value.suggested_filename)
        download_info.value.save_as(candidates_csv)
        text = candidates_csv.read_text(encoding="utf-8-sig")
        matching = [row for row in csv.reader(io.StringIO(text)) if "grace@example.com" in row]
        assert len(matching) == 1, text[:2000]
        assert "Grace Hopper" in matching[0]
        print(f"{count} events stored; flow took {time.monotonic() - started:.1f}s")
    finally:
        candidate_context.close()
        recruiter_context.close()
        db.client.close()


def test_a_reload_keeps_the_recruiter_logged_in(browser, stack, shots):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        log_in(page, stack.app_url)
        # A plain login lands on the dashboard.
        expect(main_area(page).get_by_role("heading", name="Dashboard", exact=True)).to_be_visible(timeout=APP_TIMEOUT)
        open_page(page, "Assessments")
        shots.take(page, "assessments-before-reload")
        page.reload()
        expect(main_area(page).get_by_role("heading", name="Assessments", exact=True)).to_be_visible(
            timeout=APP_TIMEOUT
        )
        expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=APP_TIMEOUT)
        expect(page.get_by_role("button", name="Log in")).to_have_count(0)
        shots.take(page, "assessments-after-reload")
    finally:
        context.close()


def test_a_shared_link_opened_logged_out_returns_there_after_login(browser, stack, shots):
    """A colleague's /profile?attempt=<id>, opened logged out: after the login
    form the browser is on that exact address, showing that candidate."""
    db = stack.database()
    try:
        doc = db[dbmod.PROFILES].find_one({}, sort=[("_id", 1)])
        assert doc is not None, "the demo data has completed profiles"
    finally:
        db.client.close()
    shared = f"{stack.app_url}/profile?attempt={doc['attempt_id']}"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(shared)
        page.get_by_label("Email").first.fill(DEMO_EMAIL)
        page.get_by_label("Password").first.fill(stack.demo_password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=APP_TIMEOUT)
        expect(main_area(page).get_by_text(doc["candidate_name"]).first).to_be_visible(timeout=APP_TIMEOUT)
        wait_until(lambda: page.url == shared, timeout=10, what=f"the address {shared} (now {page.url})")
        shots.take(page, "shared-profile-after-login")
    finally:
        context.close()


@pytest.mark.slow
def test_a_candidate_who_closes_the_tab_continues_where_they_were(browser, stack, shots):
    db = stack.database()
    organization = db[dbmod.ORGANIZATIONS].find_one({"slug": "demo"})
    user = db[dbmod.USERS].find_one({"email": DEMO_EMAIL})
    task_ids = [
        db[dbmod.TASKS].find_one({"organization_id": organization["_id"], "title": title})["_id"]
        for title in ["Two reports that disagree", "Telling a client about a delay", "Two experts, two answers"]
    ]
    issued = attempts.issue_attempt(
        Scope(db, organization["_id"], user["_id"], is_admin=True),
        candidate=CandidateInfo(name="Alan Turing", email="alan@example.com", position="Engineer"),
        task_ids=task_ids,
        public_url=stack.ingest_url,
    )
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        candidate = Candidate(context, issued.link).open()
        candidate.start()
        candidate.do_task(1, topic="compare the two sources line by line")

        # Task 2: an answer chosen and half written, then the tab is closed.
        candidate.expect_task(2)
        title = candidate.title()
        info = candidate.task_info()
        candidate.look_at(3)
        candidate.choose(3)
        text = "Tell the client today, with a new date and the reason for it"
        candidate.write(text)
        shots.take(candidate.page, "task-2-before-closing")
        candidate.reopen()  # at once: what was not acknowledged yet waits on this device

        candidate.expect_task(2)
        assert candidate.title() == title
        expect(candidate.page.locator("#task-options input").nth(3)).to_be_checked()
        assert candidate.checked_option() == info["options"][3]
        expect(candidate.reasoning_box()).to_have_value(text)
        shots.take(candidate.page, "task-2-after-reopening")

        candidate.write(", so that they can plan around it.")
        candidate.next()
        candidate.do_task(3, topic="ask both experts for their evidence")
        candidate.expect_done()
        shots.take(candidate.page, "done")

        attempt_id = issued.attempt.id
        wait_until(
            lambda: attempt_doc(db, attempt_id)["status"] == "completed", timeout=20, what="the attempt to complete"
        )
        events = stored_events(db, attempt_id)
        assert_gapless(events)
        candidate.wire.assert_matches(events)
        assert candidate.wire.resumed_at, "the reopened tab resumed the session"
        kinds = event_types(events)
        assert kinds.count("task_started") == 3, kinds  # task 2 was not started twice
        completed_2 = [e for e in events if e["event_type"] == "task_completed" and e["task_id"] == task_ids[1]]
        assert completed_2[0]["payload"]["final_option_id"] == info["options"][3]
        submitted_2 = [e for e in events if e["event_type"] == "reasoning_submitted" and e["task_id"] == task_ids[1]]
        assert submitted_2[-1]["payload"]["final_text"].startswith(text)
        wait_for_profile(db, attempt_id)
    finally:
        context.close()
        db.client.close()
