"""Faults under a real candidate page in Chromium: the ingest server killed
with -9 and the embedded store killed and restarted mid-assessment (the
page keeps acting, reconnects and resumes on its own; the store ends with
exactly seq 1..N and a profile), and two ingest servers behind one store
(a live view on either sees the events sent to the other).

Each piece runs as its own process here (a file-backed store with
--sync-on-commit, `python -m ingest_server` subprocesses), so a test can
kill exactly the one it means to.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from typing import Any

import pytest
from playwright.sync_api import expect
from pymongo.database import Database
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import TEST_SECRET
from tests.e2e.helpers import (
    PAGE_TIMEOUT,
    Candidate,
    assert_gapless,
    attempt_doc,
    event_types,
    reasoning_for,
    stored_events,
    wait_for_profile,
    wait_until,
)
from tests.support.ingest_helpers import Issued, issue, live_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


RECONNECT_TIMEOUT = 40_000  # ms: the page's back-off after a few failed attempts, plus a server start
OFFLINE_NOTE = "Reconnecting… your answers are kept."


def _assert_completed_gapless(db: Database, issued: Issued) -> list[dict[str, Any]]:
    wait_until(
        lambda: attempt_doc(db, issued.attempt_id)["status"] == "completed", timeout=20, what="the attempt to complete"
    )
    events = stored_events(db, issued.attempt_id)
    count = assert_gapless(events)
    kinds = event_types(events)
    assert kinds.count("task_started") == 3 and kinds.count("task_completed") == 3, kinds
    wait_for_profile(db, issued.attempt_id)
    print(f"{count} events stored, seq 1..{count}, profile computed")
    return events


def _midway_through_task_two(candidate: Candidate, *, topic: str) -> dict[str, Any]:
    """Task 1 done, task 2 open with its first option chosen, everything
    acknowledged: the moment the fault tests break something. Task 2's info."""
    candidate.start()
    candidate.do_task(1, topic=topic)
    candidate.expect_task(2)
    info = candidate.task_info()
    candidate.look_at(0)
    candidate.choose(0)
    candidate.wait_all_acknowledged()
    return info


def _answer_offline(candidate: Candidate, info: dict[str, Any], *, topic: str) -> str:
    """While the server side is down: change to the second option and write
    the reasoning; the page says it is offline. The reasoning written."""
    candidate.look_at(1)
    candidate.choose(1)
    text = reasoning_for(info["min"], topic)
    candidate.write(text)
    expect(candidate.page.locator("#net-status")).to_have_text(OFFLINE_NOTE, timeout=PAGE_TIMEOUT)
    return text


def _task_events(events: list[dict[str, Any]], task: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == kind and e["task_id"] == task.id]


# ---------------------------------------------------------------- kill -9 the ingest server


def test_ingest_server_killed_mid_assessment_page_resumes_by_itself(browser, rig, shots):
    db = rig.db()
    issued = issue(db, count=3, seed=21, name="Katherine Johnson")
    server = rig.ingest()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        candidate = Candidate(context, rig.link(server, issued)).open()
        info = _midway_through_task_two(candidate, topic="check the numbers twice")

        server.kill()  # kill -9, mid-task
        # The candidate carries on: changes their mind, writes, leaves the tab, continues.
        text = _answer_offline(candidate, info, topic="ask the team for the missing data")
        candidate.switch_tab_and_back()
        shots.take(candidate.page, "task-2-answered-while-the-server-is-down")
        candidate.next()
        expect(candidate.page.get_by_role("heading", name="Waiting for the connection…")).to_be_visible()
        shots.take(candidate.page, "waiting-for-the-server")
        during = len(stored_events(db, issued.attempt_id))

        server.start()  # the same port
        candidate.expect_task(3, timeout=RECONNECT_TIMEOUT)
        expect(candidate.page.locator("#net-status")).to_have_text("")
        shots.take(candidate.page, "task-3-after-reconnecting")
        candidate.do_task(3, topic="take the safer option")
        candidate.expect_done()
        shots.take(candidate.page, "done")

        events = _assert_completed_gapless(db, issued)
        candidate.wire.assert_matches(events)
        assert len(events) > during
        assert candidate.wire.resumed_at, "the page resumed its session on the restarted server"
        task2 = issued.tasks[1]
        assert [e["payload"]["to_option_id"] for e in _task_events(events, task2, "option_changed")] == [
            info["options"][1]
        ]
        assert _task_events(events, task2, "reasoning_submitted")[-1]["payload"]["final_text"] == text
        assert _task_events(events, task2, "task_completed")[0]["payload"]["final_option_id"] == info["options"][1]
        assert "focus_lost" in [e["event_type"] for e in events if e["task_id"] == task2.id]
    finally:
        context.close()


# ---------------------------------------------------------------- the store stops and comes back


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_store_stopped_and_restarted_mid_assessment_page_resumes_by_itself(browser, rig, shots, stop_signal):
    db = rig.db()
    issued = issue(db, count=3, seed=22, name="Dorothy Vaughan")
    server = rig.ingest()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        candidate = Candidate(context, rig.link(server, issued)).open()
        info = _midway_through_task_two(candidate, topic="write down the facts first")

        rig.store.process.send_signal(stop_signal)  # the secantusd-py process, mid-task
        rig.store.process.wait(10)
        text = _answer_offline(candidate, info, topic="wait for the full report")
        shots.take(candidate.page, "task-2-answered-while-the-store-is-down")
        candidate.next()

        rig.start_store()  # the same files, the same port
        candidate.expect_task(3, timeout=RECONNECT_TIMEOUT)
        expect(candidate.page.locator("#net-status")).to_have_text("")
        shots.take(candidate.page, "task-3-after-the-store-is-back")
        candidate.do_task(3, topic="ask a colleague")
        candidate.expect_done()
        shots.take(candidate.page, "done")

        events = _assert_completed_gapless(db, issued)
        candidate.wire.assert_matches(events)
        assert candidate.wire.resumed_at, "the page resumed its session once the store was back"
        task2 = issued.tasks[1]
        assert _task_events(events, task2, "reasoning_submitted")[-1]["payload"]["final_text"] == text
        assert _task_events(events, task2, "task_completed")[0]["payload"]["final_option_id"] == info["options"][1]
        assert server.process is not None and server.process.poll() is None  # the ingest server rode it out
    finally:
        context.close()


# ---------------------------------------------------------------- two ingest servers, one store


class LiveWatcher:
    """A recruiter's /ws/live subscriber in a thread, collecting what arrives."""

    def __init__(self, port: int, issued: Issued) -> None:
        ticket = live_ticket(issued, TEST_SECRET.encode())
        self.url = f"ws://127.0.0.1:{port}/ws/live/{issued.attempt_id}?ticket={ticket}"
        self.messages: list[dict[str, Any]] = []
        self.completed = threading.Event()
        self.error: BaseException | None = None
        self.connection = contextlib.ExitStack()
        self.ws = self.connection.enter_context(connect(self.url, open_timeout=10))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                message = json.loads(self.ws.recv())
                self.messages.append(message)
                if message.get("type") == "assessment_completed":
                    self.completed.set()
        except ConnectionClosed:
            pass
        except BaseException as exc:  # reported by the test
            self.error = exc

    def seqs(self) -> list[int]:
        return [m["sequence_number"] for m in self.messages if m.get("type") == "event_logged"]

    def wait_completed(self, timeout: float = 20.0) -> None:
        assert self.completed.wait(timeout), f"no assessment_completed on {self.url}: {self.messages[-3:]}"
        assert self.error is None, self.error

    def close(self) -> None:
        self.connection.close()
        self.thread.join(5)


def test_two_ingest_servers_a_live_view_on_either_sees_both(browser, rig, shots):
    db = rig.db()
    first, second = rig.ingest(), rig.ingest()
    ada = issue(db, count=3, seed=31, name="Ada Lovelace")
    mary = issue(db, count=3, seed=32, name="Mary Jackson", organization_id=ada.scope.organization_id)
    # Each attempt is watched on the server its candidate is NOT connected to, and on its own.
    watchers = {
        "ada@second": LiveWatcher(second.port, ada),
        "ada@first": LiveWatcher(first.port, ada),
        "mary@first": LiveWatcher(first.port, mary),
        "mary@second": LiveWatcher(second.port, mary),
    }
    contexts = [browser.new_context(viewport={"width": 1000, "height": 800}) for _ in range(2)]
    try:
        candidates = [
            Candidate(contexts[0], rig.link(first, ada)).open(),
            Candidate(contexts[1], rig.link(second, mary)).open(),
        ]
        for candidate in candidates:
            candidate.start()
        for number in (1, 2, 3):
            for candidate in candidates:
                candidate.do_task(number, topic=f"handle step {number} carefully", switch_tab=number == 2, delay=10)
        for candidate in candidates:
            candidate.expect_done()
        shots.take(candidates[0].page, "ada-done-on-the-first-server")
        shots.take(candidates[1].page, "mary-done-on-the-second-server")

        for issued, prefix, candidate in ((ada, "ada", candidates[0]), (mary, "mary", candidates[1])):
            events = _assert_completed_gapless(db, issued)
            candidate.wire.assert_matches(events)
            expected = [e["sequence_number"] for e in events]
            for where in ("first", "second"):
                watcher = watchers[f"{prefix}@{where}"]
                watcher.wait_completed()
                assert watcher.seqs() == expected, f"{prefix}@{where} saw {watcher.seqs()}"
                seen = [m["event_type"] for m in watcher.messages if m.get("type") == "event_logged"]
                assert seen == event_types(events)
    finally:
        for watcher in watchers.values():
            watcher.close()
        for context in contexts:
            context.close()
