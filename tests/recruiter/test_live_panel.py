"""The live panel's state: pure folding of events, the panel at a moment,
the socket URL; and the scoped, indexed reads against the real store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring

from hiremate import db as dbmod
from hiremate.models import AttemptStatus, BehaviorEvent, EventType
from hiremate.ops import simulate
from hiremate.scope import Scope
from recruiter import live_panel

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def tasks():
    return simulate.make_tasks(random.Random(11), 3)


@pytest.fixture
def attempt(tasks):
    return simulate.make_attempt(tasks, random.Random(12), organization_id=ObjectId()).model_copy(
        update={"status": AttemptStatus.IN_PROGRESS, "started_at": T0}
    )


def event(attempt, seq, event_type, seconds, task=0, **payload):
    return BehaviorEvent(
        attempt_id=attempt.id,
        task_id=attempt.task_ids[task],
        event_type=event_type,
        timestamp=T0 + timedelta(seconds=seconds),
        event_time=T0 + timedelta(seconds=seconds),
        sequence_number=seq,
        payload=payload,
    )


def first_task_events(attempt):
    """Task 1 completed, task 2 started and an option selected in it."""
    task1, task2 = attempt.task_snapshots[0], attempt.task_snapshots[1]
    return [
        event(attempt, 1, EventType.TASK_STARTED, 0, task_index=0),
        event(attempt, 2, EventType.OPTION_SELECTED, 4, option_id=task1.options[0].id, is_first_selection=True),
        event(attempt, 3, EventType.REASONING_STARTED, 5, time_since_task_start_ms=5000),
        event(
            attempt,
            4,
            EventType.REASONING_SUBMITTED,
            20,
            final_text="Because **bold** <b>x</b>",
            word_count=4,
            character_count=25,
        ),
        event(attempt, 5, EventType.TASK_COMPLETED, 22, final_option_id=task1.options[0].id, task_duration_ms=22000),
        event(attempt, 6, EventType.TASK_STARTED, 30, task=1, task_index=1),
        event(
            attempt, 7, EventType.OPTION_SELECTED, 35, task=1, option_id=task2.options[1].id, is_first_selection=True
        ),
    ]


# ---------------------------------------------------------------- folding


def test_start_state_knows_the_tasks(attempt):
    state = live_panel.start_state(attempt)
    assert state.total_tasks == 3
    assert state.task_titles == tuple(task.title for task in attempt.task_snapshots)
    assert state.last_seq == 0 and state.lines == ()


def test_advance_tracks_progress_and_the_open_task(attempt):
    state = live_panel.advance(live_panel.start_state(attempt), attempt, first_task_events(attempt))
    assert state.last_seq == 7
    assert state.events_seen == 7
    assert state.tasks_completed == 1
    assert state.current_task_number == 2
    assert state.open_task_started_at == T0 + timedelta(seconds=30)
    assert state.selected_option_id == attempt.task_snapshots[1].options[1].id
    assert [line.sequence_number for line in state.lines] == [1, 2, 3, 4, 5, 6, 7]


def test_lines_describe_events_with_option_texts_and_keep_candidate_text_verbatim(attempt):
    state = live_panel.advance(live_panel.start_state(attempt), attempt, first_task_events(attempt))
    selected = state.lines[1]
    assert attempt.task_snapshots[0].options[0].text in selected.description
    assert selected.task_number == 1
    assert state.lines[3].candidate_text == "Because **bold** <b>x</b>"
    assert state.lines[6].task_number == 2
    table = live_panel.lines_table(state.lines)
    assert table[3]["Candidate's text"] == "Because **bold** <b>x</b>"
    assert table[0]["Time"] == "09:00:00"  # UTC unless told the organisation's zone
    assert live_panel.lines_table(state.lines, ZoneInfo("Asia/Tokyo"))[0]["Time"] == "18:00:00"
    assert [row["Event"] for row in table[:3]] == ["Task started", "Option chosen", "Started writing"]  # not wire names


def test_advance_is_incremental_and_ignores_what_it_has_seen(attempt):
    events = first_task_events(attempt)
    start = live_panel.start_state(attempt)
    first = live_panel.advance(start, attempt, events[:4])
    assert start.last_seq == 0  # states are immutable
    # A later batch that overlaps the first, delivered out of order.
    second = live_panel.advance(first, attempt, list(reversed(events[2:])))
    assert second.events_seen == 7
    assert [line.sequence_number for line in second.lines] == [1, 2, 3, 4, 5, 6, 7]
    assert live_panel.advance(second, attempt, events) is second


def test_events_of_another_attempt_are_ignored(attempt, tasks):
    other = simulate.make_attempt(tasks, random.Random(99))
    state = live_panel.advance(live_panel.start_state(attempt), attempt, [event(other, 1, EventType.TASK_STARTED, 0)])
    assert state.events_seen == 0


def test_lines_are_bounded_but_counters_are_not(attempt):
    events = [
        event(attempt, seq, EventType.FOCUS_LOST if seq % 2 else EventType.FOCUS_GAINED, seq, trigger="tab_switch")
        for seq in range(1, 301)
    ]
    state = live_panel.start_state(attempt)
    for first in range(0, 300, 70):
        state = live_panel.advance(state, attempt, events[first : first + 70])
    assert len(state.lines) == live_panel.MAX_LINES
    assert state.lines[-1].sequence_number == 300
    assert state.lines[0].sequence_number == 300 - live_panel.MAX_LINES + 1
    assert state.focus_losses == 150
    assert state.events_seen == 300


# ---------------------------------------------------------------- the panel at a moment


def test_panel_shows_current_task_time_on_it_and_progress(attempt):
    state = live_panel.advance(live_panel.start_state(attempt), attempt, first_task_events(attempt))
    view = live_panel.panel(state, "in_progress", now=T0 + timedelta(seconds=37))
    title = attempt.task_snapshots[1].title
    assert view.current_task == f"Task 2 of 3: {title}"
    assert view.time_on_task_seconds == pytest.approx(7.0)
    assert view.progress == pytest.approx(1 / 3)
    assert view.progress_text == "1 of 3 tasks completed"
    assert view.away_seconds is None
    assert view.quiet_seconds is None  # 2 s since the last event: under the idle notice
    assert view.lines[0].sequence_number == 7  # newest first


def test_panel_reports_quiet_time_after_the_idle_threshold(attempt):
    state = live_panel.advance(live_panel.start_state(attempt), attempt, first_task_events(attempt))
    view = live_panel.panel(state, "in_progress", now=T0 + timedelta(seconds=35 + 8))
    assert view.quiet_seconds == pytest.approx(8.0)


def test_panel_shows_away_until_focus_returns(attempt):
    events = first_task_events(attempt)
    away = [*events, event(attempt, 8, EventType.FOCUS_LOST, 40, task=1, trigger="tab_switch")]
    state = live_panel.advance(live_panel.start_state(attempt), attempt, away)
    view = live_panel.panel(state, "in_progress", now=T0 + timedelta(seconds=52))
    assert view.away_seconds == pytest.approx(12.0)
    assert view.quiet_seconds is None  # away explains the silence
    assert view.focus_losses == 1
    back = live_panel.advance(state, attempt, [event(attempt, 9, EventType.FOCUS_GAINED, 55, task=1)])
    assert live_panel.panel(back, "in_progress", now=T0 + timedelta(seconds=56)).away_seconds is None


def test_a_closed_page_shows_as_disconnected_not_away(attempt):
    events = first_task_events(attempt)
    away = [*events, event(attempt, 8, EventType.FOCUS_LOST, 40, task=1, trigger="tab_switch")]
    state = live_panel.advance(live_panel.start_state(attempt), attempt, away)
    gone = T0 + timedelta(seconds=45)
    view = live_panel.panel(state, "in_progress", now=T0 + timedelta(seconds=60), disconnected_at=gone)
    assert view.disconnected_seconds == pytest.approx(15.0)
    assert view.away_seconds is None and view.quiet_seconds is None  # the page is gone, not just hidden
    ended = live_panel.panel(state, "completed", now=T0 + timedelta(seconds=60), disconnected_at=gone)
    assert ended.disconnected_seconds is None


def test_panel_counts_idle_periods(attempt):
    events = [
        *first_task_events(attempt),
        event(attempt, 8, EventType.IDLE_DETECTED, 50, task=1, idle_duration_ms=9000, last_activity_type="x"),
        event(attempt, 9, EventType.IDLE_DETECTED, 70, task=1, idle_duration_ms=6500, last_activity_type="x"),
    ]
    state = live_panel.advance(live_panel.start_state(attempt), attempt, events)
    view = live_panel.panel(state, "in_progress", now=T0 + timedelta(seconds=71))
    assert view.idle_periods == 2
    assert view.idle_seconds_total == pytest.approx(15.5)


def test_panel_before_any_event_and_after_the_end(attempt):
    empty = live_panel.panel(live_panel.start_state(attempt), "in_progress", now=T0)
    assert empty.current_task == "Waiting for the first task to start"
    assert empty.time_on_task_seconds is None and empty.quiet_seconds is None
    state = live_panel.advance(live_panel.start_state(attempt), attempt, first_task_events(attempt))
    ended = live_panel.panel(state, "completed", now=T0 + timedelta(hours=1))
    assert ended.is_final
    assert ended.current_task == "The attempt is completed"
    assert ended.time_on_task_seconds is None and ended.quiet_seconds is None and ended.away_seconds is None


def test_panel_between_tasks(attempt):
    state = live_panel.advance(live_panel.start_state(attempt), attempt, first_task_events(attempt)[:5])
    view = live_panel.panel(state, "in_progress", now=T0 + timedelta(seconds=23))
    assert view.current_task == "Between tasks (1 of 3 done)"
    assert view.time_on_task_seconds is None


# ---------------------------------------------------------------- socket URL


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("http://localhost:8765", "ws://localhost:8765/ws/live/abc?ticket=v1.t"),
        ("https://hire.example.com/", "wss://hire.example.com/ws/live/abc?ticket=v1.t"),
        ("https://example.com/hiremate", "wss://example.com/hiremate/ws/live/abc?ticket=v1.t"),
    ],
)
def test_live_socket_url(public_url, expected):
    assert live_panel.live_socket_url(public_url, "abc", "v1.t") == expected


def test_live_socket_url_refuses_what_is_not_http():
    with pytest.raises(ValueError):
        live_panel.live_socket_url("ftp://example.com", "abc", "t")
    with pytest.raises(ValueError):
        live_panel.live_socket_url("localhost:8765", "abc", "t")


# ---------------------------------------------------------------- reads (real store)


class _Finds(monitoring.CommandListener):
    def __init__(self):
        self.commands = []

    def started(self, event):
        if event.command_name == "find":
            self.commands.append(event.command)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_events_after_reads_only_newer_events_in_batches(db, tasks):
    scope = Scope(db, ObjectId(), ObjectId())
    attempt = simulate.make_attempt(tasks, random.Random(5), organization_id=scope.organization_id)
    db[dbmod.ATTEMPTS].insert_one(attempt.to_doc())
    events = [
        event(attempt, seq, EventType.FOCUS_LOST if seq % 2 else EventType.FOCUS_GAINED, seq) for seq in range(1, 1201)
    ]
    db[dbmod.EVENTS].insert_many([e.to_doc() for e in events])

    everything = live_panel.events_after(scope, attempt, 0)
    assert [e.sequence_number for e in everything] == list(range(1, 1201))
    assert [e.sequence_number for e in live_panel.events_after(scope, attempt, 1150)] == list(range(1151, 1201))
    assert live_panel.events_after(scope, attempt, 1200) == []
    assert len(live_panel.events_after(scope, attempt, 0, limit=700)) == 700


def test_events_after_asks_by_attempt_and_sequence_only(store_uri, db_name, db, tasks):
    """One query on the unique (attempt_id, sequence_number) index, never the whole list."""
    scope = Scope(db, ObjectId(), ObjectId())
    attempt = simulate.make_attempt(tasks, random.Random(6), organization_id=scope.organization_id)
    db[dbmod.EVENTS].insert_many([event(attempt, seq, EventType.FOCUS_LOST, seq).to_doc() for seq in range(1, 21)])
    listener = _Finds()
    watched = MongoClient(store_uri, tz_aware=True, event_listeners=[listener])
    try:
        fresh = live_panel.events_after(Scope(watched[db_name], scope.organization_id), attempt, 15)
    finally:
        watched.close()
    assert [e.sequence_number for e in fresh] == [16, 17, 18, 19, 20]
    (command,) = listener.commands
    assert command["filter"] == {"attempt_id": attempt.id, "sequence_number": {"$gt": 15}}
    assert command["sort"] == {"sequence_number": 1}


def test_events_after_refuses_an_attempt_of_another_organisation(db, tasks):
    scope = Scope(db, ObjectId(), ObjectId())
    foreign = simulate.make_attempt(tasks, random.Random(7), organization_id=ObjectId())
    with pytest.raises(ValueError):
        live_panel.events_after(scope, foreign, 0)


def test_reads_are_scoped_to_the_organisation(db, tasks):
    mine, theirs = Scope(db, ObjectId(), ObjectId()), Scope(db, ObjectId(), ObjectId())
    rng = random.Random(8)
    older = simulate.make_attempt(tasks, rng, organization_id=mine.organization_id, created_at=T0).model_copy(
        update={"status": AttemptStatus.IN_PROGRESS}
    )
    newer = simulate.make_attempt(
        tasks, rng, organization_id=mine.organization_id, created_at=T0 + timedelta(hours=1)
    ).model_copy(update={"status": AttemptStatus.IN_PROGRESS})
    done = simulate.make_attempt(tasks, rng, organization_id=mine.organization_id).model_copy(
        update={"status": AttemptStatus.COMPLETED}
    )
    foreign = simulate.make_attempt(tasks, rng, organization_id=theirs.organization_id).model_copy(
        update={"status": AttemptStatus.IN_PROGRESS}
    )
    db[dbmod.ATTEMPTS].insert_many([a.to_doc() for a in (older, newer, done, foreign)])

    assert [s.attempt_id for s in live_panel.in_progress_attempts(mine)] == [str(newer.id), str(older.id)]
    assert [s.attempt_id for s in live_panel.in_progress_attempts(theirs)] == [str(foreign.id)]
    assert live_panel.attempt_status(mine, newer.id).status == "in_progress"
    assert live_panel.attempt_status(mine, str(done.id)).is_final
    assert live_panel.attempt_status(mine, foreign.id) is None
    assert live_panel.attempt_status(mine, "not-an-id") is None
