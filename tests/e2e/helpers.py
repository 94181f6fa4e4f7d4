"""What a recruiter and a candidate do in the browser, and waits on the
database, for the end-to-end tests. Every wait is on something happening
(Playwright's expect, or a polled condition with a deadline); the only
fixed pauses are the ones a person makes (looking at an option, being away).
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from bson import ObjectId
from playwright.sync_api import BrowserContext, Locator, Page, expect
from pymongo.database import Database

from hiremate import db as dbmod

T = TypeVar("T")

DEMO_EMAIL = "demo@hiremate.example"
# Random per data folder: the stack fixture (tests/e2e/conftest.py) sets it
# from the launcher's banner line `  demo login      EMAIL / PASSWORD`.
DEMO_PASSWORD: str | None = None
APP_TIMEOUT = 30_000  # ms: a Streamlit page drawn on a busy 2-core machine
PAGE_TIMEOUT = 15_000  # ms: the candidate page
TYPING_DELAY_MS = 35  # about 30 characters a second: a quick typist
DIMENSIONS = ("Thinking style", "Decision pattern", "Risk orientation", "Communication style")


def wait_until(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the database


def stored_events(db: Database, attempt_id: ObjectId) -> list[dict[str, Any]]:
    return list(db[dbmod.EVENTS].find({"attempt_id": attempt_id}).sort("sequence_number", 1))


def attempt_doc(db: Database, attempt_id: ObjectId) -> dict[str, Any]:
    doc = db[dbmod.ATTEMPTS].find_one({"_id": attempt_id})
    assert doc is not None, f"no attempt {attempt_id}"
    return doc


def wait_for_profile(db: Database, attempt_id: ObjectId, timeout: float = 30.0) -> dict[str, Any]:
    return wait_until(
        lambda: db[dbmod.PROFILES].find_one({"attempt_id": attempt_id}),
        timeout=timeout,
        what=f"the profile of attempt {attempt_id}",
    )


def assert_gapless(events: list[dict[str, Any]]) -> int:
    """Stored events are exactly seq 1..N (no gap, no duplicate); returns N."""
    seqs = [e["sequence_number"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"stored seqs are not 1..N: {seqs}"
    return len(seqs)


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["event_type"]) for e in events]


# ---------------------------------------------------------------- the recruiter app (Streamlit)


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def wait_for_sidebar_links(page: Page) -> None:
    """Wait until the sidebar lists its page links. Right after a page load
    Streamlit can show, for a moment, the sidebar's caption and Log out
    button before the links, in a column taller than the window: a scan
    taken then finds a scrollable region with nothing to focus that no
    settled page has."""
    expect(page.get_by_test_id("stSidebar").get_by_role("link").first).to_be_visible(timeout=APP_TIMEOUT)


def log_in(page: Page, app_url: str, email: str = DEMO_EMAIL, password: str | None = None) -> None:
    """Log in; by default as the demo admin of the running stack."""
    if password is None:
        assert DEMO_PASSWORD, "the stack fixture did not read the demo login from the banner"
        password = DEMO_PASSWORD
    page.goto(app_url)
    page.get_by_label("Email").first.fill(email)
    page.get_by_label("Password").first.fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=APP_TIMEOUT)


def open_page(page: Page, name: str, heading: str | None = None) -> Locator:
    """Follow a sidebar link and wait for the page's title."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=name, exact=True).click()
    main = main_area(page)
    expect(main.get_by_role("heading", name=heading or name, exact=True).first).to_be_visible(timeout=APP_TIMEOUT)
    return main


def create_task(page: Page, *, title: str, scenario: str, options: list[tuple[str, str]]) -> None:
    """Tasks page, New task: title, scenario and options (text, tags); Save."""
    main = open_page(page, "Tasks")
    main.get_by_role("button", name="New task").click()
    expect(main.get_by_label("Title", exact=True)).to_be_visible(timeout=APP_TIMEOUT)
    main.get_by_label("Title", exact=True).fill(title)
    main.get_by_label("Scenario", exact=True).fill(scenario)
    for _ in range(len(options) - 2):
        before = main.get_by_label(re.compile(r"^Option \d+$")).count()
        main.get_by_role("button", name="Add option").click()
        expect(main.get_by_label(re.compile(r"^Option \d+$"))).to_have_count(before + 1, timeout=APP_TIMEOUT)
    tags = main.get_by_label("Behavioural tags (optional)", exact=True)
    for number, (text, tag) in enumerate(options, start=1):
        main.get_by_label(f"Option {number}", exact=True).fill(text)
        tags.nth(number - 1).fill(tag)
    main.get_by_role("button", name="Save task").click()
    expect(main.get_by_text(f"Task “{title}” created.")).to_be_visible(timeout=APP_TIMEOUT)


def issue_assessment(page: Page, *, name: str, email: str, position: str, task_titles: list[str]) -> str:
    """Assessments page: fill the form, pick the tasks by hand, issue; return the link shown once."""
    main = open_page(page, "Assessments")
    form_toggle = main.locator("summary", has_text="Issue an assessment")
    expect(form_toggle).to_be_visible(timeout=APP_TIMEOUT)
    # The form starts folded once the organisation has issued anything (other
    # tests share the demo organisation): unfold it like a recruiter would.
    # Ask the <details> itself, not the input: a form still being drawn is
    # not visible yet either, and a click would then fold an open one.
    if main.locator('details:has(summary:has-text("Issue an assessment"))').get_attribute("open") is None:
        form_toggle.click()
    expect(main.get_by_label("Candidate name")).to_be_visible(timeout=APP_TIMEOUT)
    main.get_by_label("Candidate name").fill(name)
    main.get_by_label("Email", exact=True).fill(email)
    main.get_by_label("Position", exact=True).fill(position)
    # With kits (the demo has one) "Use a kit" comes first: choose the tasks by hand.
    by_hand = main.get_by_role("radiogroup", name="Tasks").get_by_text("Pick tasks by hand", exact=True)
    if by_hand.count():
        by_hand.click()
    picker = main.get_by_test_id("stMultiSelect").get_by_role("combobox")
    chosen = main.get_by_test_id("stMultiSelect")

    def pick(title: str) -> None:
        picker.click()
        page.keyboard.type(title[:24])
        option = page.get_by_role("option", name=re.compile("^" + re.escape(title) + " · "))
        expect(option).to_be_visible(timeout=APP_TIMEOUT)
        option.click()
        page.keyboard.press("Escape")

    for title in task_titles:
        pick(title)
        chip = chosen.get_by_text(title, exact=False).first
        try:
            expect(chip).to_be_visible(timeout=5000)
        except AssertionError:
            # Seen in 2 of 6 fresh-clone runs: the first pick on a just-unfolded
            # form did not stay (cause not found; see the issue 7 note). Picked
            # again, as a recruiter would on seeing it missing, and said so in
            # pytest's warnings summary (a passing test's output is not shown).
            warnings.warn(f"e2e: the pick of {title!r} did not stay; picking it again", stacklevel=2)
            pick(title)
    for title in task_titles:
        expect(chosen.get_by_text(title, exact=False).first).to_be_visible(timeout=APP_TIMEOUT)
    main.get_by_role("button", name="Issue assessment").click()
    code = main.get_by_test_id("stCode")
    expect(code).to_contain_text("/a/", timeout=APP_TIMEOUT)
    expect(main.get_by_text(f"Assessment link for {name}")).to_be_visible(timeout=APP_TIMEOUT)
    link = code.inner_text().strip()
    assert re.fullmatch(r"https?://\S+/a/[A-Za-z0-9_-]{20,}", link), link
    return link


def live_grid_cells(main: Locator, text: str) -> Locator:
    """Cells of the Live page's event stream table (the data grid's accessible table)."""
    return main.get_by_test_id("stDataFrame").locator(
        "td[role='gridcell']", has_text=re.compile(f"^{re.escape(text)}$")
    )


# ---------------------------------------------------------------- the candidate page

# Headless Chromium keeps every tab "visible" whatever is in front, so a tab
# switch is emulated the way the page observes it: document.visibilityState
# and the visibilitychange event, with the window blur/focus a browser sends
# around it (app.js listens to exactly these).
_SET_VISIBILITY = """(hidden) => {
  if (!window.__hmVisibility) {
    window.__hmVisibility = 'visible';
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => window.__hmVisibility});
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => window.__hmVisibility === 'hidden'});
  }
  if (hidden) window.dispatchEvent(new Event('blur'));
  window.__hmVisibility = hidden ? 'hidden' : 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
  if (!hidden) window.dispatchEvent(new Event('focus'));
}"""


def reasoning_for(min_length: int, topic: str) -> str:
    text = f"I would {topic} because it keeps the risk small"
    while len(text) < min_length + 5:
        text += " and the team informed"
    return text + "."


class WireLog:
    """What the candidate page sent and received on its sockets (all tabs, all reconnections)."""

    def __init__(self) -> None:
        self.sent: dict[int, str] = {}  # seq -> event_type of the last event sent with it
        self.acked: set[int] = set()
        self.resumed_at: list[int] = []  # last_sequence_number of each resume
        self.sockets = 0

    def watch(self, page: Page) -> None:
        page.on("websocket", self._socket)

    def _socket(self, ws: Any) -> None:
        self.sockets += 1
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload: str | bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "event":
            self.sent[message["seq"]] = message["event_type"]
        elif message.get("type") == "batch":
            for event in message["events"]:
                self.sent[event["seq"]] = event["event_type"]

    def _received(self, payload: str | bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "ack":
            self.acked.update(message.get("seqs") or [message["seq"]])
        elif message.get("type") == "resumed":
            self.resumed_at.append(message["last_sequence_number"])

    def assert_matches(self, events: list[dict[str, Any]]) -> None:
        """The store holds what the page sent, each seq once, and the page
        learnt of every stored event (by an ack, or a resume covering it).

        A frame a tab sends while it is being closed can be stored without
        Playwright reporting it: such a seq must be covered by a later resume."""
        count = assert_gapless(events)
        resumed = max(self.resumed_at, default=0)
        differ = [
            (seq, self.sent.get(seq), stored)
            for seq, stored in enumerate(event_types(events), start=1)
            if self.sent.get(seq) != stored and not (seq not in self.sent and seq <= resumed)
        ]
        assert not differ, f"(seq, sent, stored) that differ: {differ}"
        known = self.acked | set(range(1, resumed + 1))
        assert known == set(range(1, count + 1)), f"acknowledged {sorted(known)} but stored 1..{count}"


class Candidate:
    """A person taking the assessment in one browser tab."""

    def __init__(self, context: BrowserContext, link: str) -> None:
        self.context = context
        self.link = link
        self.wire = WireLog()
        self.page: Page = self._new_page()

    def _new_page(self) -> Page:
        page = self.context.new_page()
        self.wire.watch(page)
        return page

    # ------------------------------------------------------------ navigation

    def open(self) -> Candidate:
        self.page.goto(self.link)
        return self

    def reopen(self) -> Candidate:
        """Close this tab and open the link again in a new tab of the same browser profile."""
        self.page.close()
        self.page = self._new_page()
        return self.open()

    def start(self) -> None:
        """Read the notice, acknowledge it, start."""
        start = self.page.get_by_role("button", name="Start the assessment")
        expect(start).to_be_visible(timeout=PAGE_TIMEOUT)
        self.page.locator("#consent-checkbox").check()
        start.click()
        self.expect_task(1, total=self.page.evaluate("() => window.hiremate.totalTasks"))

    def start_with_keyboard(self) -> None:
        """The same, with the keyboard only: Space on the acknowledgement, Enter on Start."""
        expect(self.page.locator("#start-button")).to_be_visible(timeout=PAGE_TIMEOUT)
        self.page.locator("#consent-checkbox").focus()
        self.page.keyboard.press("Space")
        expect(self.page.locator("#consent-checkbox")).to_be_checked()
        self.page.locator("#start-button").focus()
        self.page.keyboard.press("Enter")
        self.expect_task(1, total=self.page.evaluate("() => window.hiremate.totalTasks"))

    # ------------------------------------------------------------ what is on screen

    def expect_task(self, number: int, total: int = 3, timeout: int = PAGE_TIMEOUT) -> None:
        expect(self.page.locator("#screen-task")).to_be_visible(timeout=timeout)
        expect(self.page.locator("#task-progress")).to_have_text(f"Task {number} of {total}", timeout=timeout)

    def title(self) -> str:
        return self.page.locator("#task-title").inner_text()

    def options(self) -> Locator:
        return self.page.locator("#task-options label.option")

    def task_info(self) -> dict[str, Any]:
        return self.page.evaluate(
            "() => { const t = window.hiremate.shown.task; return t && {id: t.id, "
            "min: t.reasoning_required ? (t.reasoning_min_length || 0) : 0, "
            "options: (t.options || []).map((o) => o.id)}; }"
        )

    def checked_option(self) -> str | None:
        checked = self.page.locator("#task-options input:checked")
        return checked.get_attribute("value") if checked.count() else None

    def reasoning_box(self) -> Locator:
        return self.page.locator("#reasoning")

    # ------------------------------------------------------------ what a person does

    def look_at(self, index: int, ms: int = 380) -> None:
        """Rest the pointer on an option for a while (over 300 ms counts as viewing it)."""
        self.options().nth(index).hover()
        self.page.wait_for_timeout(ms)

    def choose(self, index: int) -> None:
        option = self.options().nth(index)
        option.click()
        expect(option.locator("input")).to_be_checked()

    def write(self, text: str, delay: int = TYPING_DELAY_MS) -> None:
        box = self.reasoning_box()
        box.click()
        box.press("End")
        self.page.keyboard.type(text, delay=delay)

    def switch_tab_and_back(self, away_ms: int = 700) -> None:
        """Go to another tab for a moment and come back."""
        self.page.evaluate(_SET_VISIBILITY, True)
        other = self.context.new_page()
        other.goto("about:blank")
        other.bring_to_front()
        other.wait_for_timeout(away_ms)
        other.close()
        self.page.bring_to_front()
        self.page.evaluate(_SET_VISIBILITY, False)

    def next(self) -> None:
        button = self.page.locator("#next-button")
        expect(button).to_be_enabled(timeout=PAGE_TIMEOUT)
        button.click()

    def do_task(
        self,
        number: int,
        *,
        total: int = 3,
        topic: str = "check the facts first",
        switch_tab: bool = False,
        delay: int = TYPING_DELAY_MS,
    ) -> str:
        """A whole task the way a person does it: look around, choose, change
        their mind, write, maybe leave the tab, then continue. Returns the option kept."""
        self.expect_task(number, total)
        info = self.task_info()
        self.look_at(0)
        self.look_at(1)
        self.choose(0)
        self.look_at(len(info["options"]) - 1)
        self.choose(1)  # changed their mind
        text = reasoning_for(info["min"], topic)
        half = max(12, info["min"] // 2)
        self.write(text[:half], delay=delay)
        if switch_tab:
            self.switch_tab_and_back()
        self.write(text[half:], delay=delay)
        self.next()
        return info["options"][1]

    def expect_done(self, timeout: int = PAGE_TIMEOUT) -> None:
        expect(self.page.get_by_role("heading", name="Thank you")).to_be_visible(timeout=timeout)

    def wait_all_acknowledged(self, timeout: int = PAGE_TIMEOUT) -> None:
        self.page.wait_for_function("() => window.hiremate.outbox.pendingCount() === 0", timeout=timeout)
