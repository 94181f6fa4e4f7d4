"""HTML, script and markdown links in what candidates and recruiters type
stay inert in real Chromium: on the candidate page (name, task text,
options) and in the recruiter app (the profile with the candidate's name and
reasoning). A payload that ran would set ``window.__pwned``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from hiremate import attempts, tasks
from hiremate import db as dbmod
from hiremate.models import CandidateInfo
from hiremate.ops.demo import DEMO_EMAIL
from hiremate.scope import Scope
from tests.e2e.helpers import APP_TIMEOUT, Candidate, log_in, main_area, wait_for_profile

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = "<script>window.__pwned=2</script>"
LINK = "[click me](javascript:window.__pwned=3)"
NAME = f"Eve {IMG}"
REASONING = f"Because {SCRIPT} and {LINK}, therefore I chose this option after weighing it."


def _assert_inert(page: Page) -> None:
    assert page.evaluate("() => window.__pwned === undefined"), "a payload ran"
    assert page.locator("img[src='x']").count() == 0, "an <img> from typed text reached the DOM"
    assert page.locator("a[href^='javascript:']").count() == 0, "a javascript: link reached the DOM"


def _hostile_attempt(stack) -> attempts.IssuedAttempt:
    db = stack.database()
    organization = db[dbmod.ORGANIZATIONS].find_one({"slug": "demo"})
    user = db[dbmod.USERS].find_one({"email": DEMO_EMAIL})
    scope = Scope(db, organization["_id"], user["_id"], is_admin=True)
    task = tasks.create_task(
        scope,
        {
            "title": f"Title {IMG}",
            "description": f"Description {SCRIPT}",
            "scenario": f"Scenario {LINK}",
            "category": "communication",
            "difficulty": "easy",
            "reasoning_required": True,
            "reasoning_min_length": 20,
            "options": [
                {"id": "a", "text": f"Option {IMG}", "risk_level": "low", "behavioral_tags": ["cautious"]},
                {"id": "b", "text": f"Option {SCRIPT}", "risk_level": "high", "behavioral_tags": ["decisive"]},
            ],
        },
    )
    return attempts.issue_attempt(
        scope,
        candidate=CandidateInfo(name=NAME, email="eve@example.com", position=f"Analyst {SCRIPT}"),
        task_ids=[task.id],
        public_url=stack.ingest_url,
    )


def test_typed_html_and_script_stay_text_everywhere(browser, stack, shots):
    issued = _hostile_attempt(stack)
    candidate_context = browser.new_context(viewport={"width": 1200, "height": 900})
    recruiter_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        candidate = Candidate(candidate_context, issued.link).open()
        page = candidate.page
        expect(page.get_by_text(NAME, exact=False).first).to_be_visible(timeout=APP_TIMEOUT)
        _assert_inert(page)
        shots.take(page, "candidate-welcome")

        page.locator("#consent-checkbox").check()
        page.get_by_role("button", name="Start the assessment").click()
        candidate.expect_task(1, total=1)
        assert candidate.title() == f"Title {IMG}"
        expect(page.get_by_text(f"Scenario {LINK}")).to_be_visible()
        expect(candidate.options().nth(0)).to_contain_text(f"Option {IMG}")
        _assert_inert(page)
        shots.take(page, "candidate-task")

        candidate.choose(1)
        candidate.write(REASONING, delay=0)
        candidate.next()
        candidate.expect_done()
        _assert_inert(page)

        wait_for_profile(stack.database(), issued.attempt.id)
        recruiter = recruiter_context.new_page()
        log_in(recruiter, stack.app_url)
        recruiter.goto(f"{stack.app_url}/profile?attempt={issued.attempt.id}")
        main = main_area(recruiter)
        expect(main.get_by_text(NAME, exact=False).first).to_be_visible(timeout=APP_TIMEOUT)
        _assert_inert(recruiter)
        shots.take(recruiter, "recruiter-profile")
    finally:
        candidate_context.close()
        recruiter_context.close()
