"""The session generator: deterministic, realistic, and always within
docs/protocol.md's rules (checked here by an independent little state machine)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

from hiremate import attempt_counts
from hiremate.db import ATTEMPTS, EVENTS, METRICS, PROFILES
from hiremate.metrics import compute_metrics
from hiremate.models import PAYLOAD_MODELS, AttemptStatus, BehaviorEvent, CandidateInfo, EventType, SkillProfile, Task
from hiremate.ops import simulate
from hiremate.ops.simulate import (
    AlreadySeeded,
    make_tasks,
    seed_completed_attempt,
    seed_completed_attempts,
    simulate_session,
)
from hiremate.skills import interpret
from hiremate.task_library import LIBRARY
from hiremate.timeutil import parse_iso

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AMBIENT = {"focus_lost", "focus_gained", "idle_detected"}


class ProtocolChecker:
    """docs/protocol.md's "What each event is allowed to follow", from messages."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks
        self.index = 0
        self.open: Task | None = None
        self.selected: str | None = None
        self.writing = False
        self.longest_submission = -1
        self.hidden = False
        self.started_ms = 0

    def check(self, messages: list[dict]) -> None:
        previous = None
        for number, message in enumerate(messages, start=1):
            assert set(message) == {"seq", "task_id", "event_type", "payload", "client_timestamp"}
            assert message["seq"] == number
            at = parse_iso(message["client_timestamp"])
            assert previous is None or at >= previous
            previous = at
            PAYLOAD_MODELS[EventType(message["event_type"])].model_validate(message["payload"], strict=True)
            self.step(message, at)

    def step(self, message: dict, at: datetime) -> None:
        kind, payload, task_id = message["event_type"], message["payload"], message["task_id"]
        if kind in AMBIENT:
            expected = self.open or self.tasks[min(self.index, len(self.tasks) - 1)]
            assert task_id == str(expected.id)
            self.ambient(kind, payload)
            return
        if kind == "task_started":
            assert self.open is None and self.index < len(self.tasks)
            assert task_id == str(self.tasks[self.index].id) and payload["task_index"] == self.index
            self.open, self.selected, self.writing, self.longest_submission = self.tasks[self.index], None, False, -1
            self.started_ms = int(at.timestamp() * 1000)
            return
        assert self.open is not None and task_id == str(self.open.id), f"{kind} outside its open task"
        getattr(self, kind)(payload, at)

    def ambient(self, kind: str, payload: dict) -> None:
        if kind == "idle_detected":
            assert payload["idle_duration_ms"] > 0
            assert not self.hidden, "the page never reports idleness while hidden"
        self.hidden = kind == "focus_lost" or (self.hidden and kind != "focus_gained")

    def option_ids(self) -> set[str]:
        return {option.id for option in self.open.options}

    def option_viewed(self, payload: dict, at: datetime) -> None:
        assert payload["option_id"] in self.option_ids()

    def option_selected(self, payload: dict, at: datetime) -> None:
        assert self.selected is None and payload["option_id"] in self.option_ids()
        self.selected = payload["option_id"]

    def option_changed(self, payload: dict, at: datetime) -> None:
        assert self.selected is not None and payload["from_option_id"] == self.selected
        assert payload["to_option_id"] in self.option_ids() and payload["to_option_id"] != self.selected
        self.selected = payload["to_option_id"]

    def reasoning_started(self, payload: dict, at: datetime) -> None:
        assert not self.writing
        assert payload["time_since_task_start_ms"] == int(at.timestamp() * 1000) - self.started_ms
        self.writing = True

    def reasoning_updated(self, payload: dict, at: datetime) -> None:
        assert self.writing

    def reasoning_submitted(self, payload: dict, at: datetime) -> None:
        assert self.writing
        text = payload["final_text"]
        assert payload["word_count"] == len(text.split())
        assert payload["character_count"] == len(text)
        self.writing = False
        self.longest_submission = len(text)

    def task_completed(self, payload: dict, at: datetime) -> None:
        assert self.selected is not None and payload["final_option_id"] == self.selected
        if self.open.reasoning_required:
            assert self.longest_submission >= self.open.reasoning_min_length
        duration = int(at.timestamp() * 1000) - self.started_ms
        assert payload["task_duration_ms"] == duration and 0 <= duration < 1_800_000
        assert not self.writing
        self.open = None
        self.index += 1


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    task_count=st.integers(1, 10),
    stop=st.one_of(st.none(), st.integers(0, 10)),
    leave_open=st.booleans(),
)
def test_every_generated_session_obeys_the_protocol(seed, task_count, stop, leave_open):
    session = simulate_session(seed, task_count=task_count, stop_after_tasks=stop, leave_open=leave_open)
    checker = ProtocolChecker(session.tasks)
    checker.check(session.messages)
    finished = task_count if stop is None else min(stop, task_count)
    assert checker.index == session.tasks_completed == finished == session.attempt.current_task_index
    assert (checker.open is not None) == (leave_open and finished < task_count)
    expected_status = AttemptStatus.COMPLETED if finished == task_count else AttemptStatus.IN_PROGRESS
    assert session.attempt.status == expected_status


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), task_count=st.integers(1, 8), stop=st.one_of(st.none(), st.integers(0, 8)))
def test_the_ingest_validator_accepts_every_generated_event(seed, task_count, stop):
    events = pytest.importorskip("hiremate.events")
    session = simulate_session(seed, task_count=task_count, stop_after_tasks=stop, leave_open=True)
    state = events.AttemptState.initial(session.attempt)
    for message in session.messages:
        at = parse_iso(message["client_timestamp"])
        result = events.validate(state, message, now=at, sent_at=message["client_timestamp"])
        assert isinstance(result, BehaviorEvent), (message, result)
        assert result.event_time == at
        state.apply(result)


def library_tasks() -> list[Task]:
    """The task library as an organisation has it installed."""
    return [
        Task(id=ObjectId(), organization_id=ObjectId(), library_key=key, created_at=NOW, updated_at=NOW,
             **task.model_dump())
        for key, task in LIBRARY.items()
    ]  # fmt: skip


@pytest.mark.parametrize("seed", range(12))
def test_sessions_over_the_task_library_obey_the_protocol(seed):
    rng = random.Random(seed)
    tasks = rng.sample(library_tasks(), 5)
    session = simulate_session(rng, tasks=tasks)
    ProtocolChecker(tasks).check(session.messages)
    assert session.attempt.status == AttemptStatus.COMPLETED
    events = pytest.importorskip("hiremate.events")
    state = events.AttemptState.initial(session.attempt)
    for message in session.messages:
        at = parse_iso(message["client_timestamp"])
        result = events.validate(state, message, now=at, sent_at=message["client_timestamp"])
        assert isinstance(result, BehaviorEvent), (message, result)
        state.apply(result)


def test_same_seed_same_session_and_different_seeds_differ():
    first, again, other = simulate_session(7), simulate_session(7), simulate_session(8)
    assert first.messages == again.messages
    assert first.attempt == again.attempt
    assert [t.id for t in first.tasks] == [t.id for t in again.tasks]
    assert first.messages != other.messages


def test_given_tasks_are_used_in_order():
    tasks = make_tasks(random.Random(1), 3)
    session = simulate_session(random.Random(2), tasks=tasks)
    started = [m["task_id"] for m in session.messages if m["event_type"] == "task_started"]
    assert started == [str(task.id) for task in tasks]
    assert session.attempt.task_ids == [task.id for task in tasks]
    assert session.attempt.task_snapshots == tasks


def test_behavior_events_match_the_messages():
    session = simulate_session(3, task_count=2)
    for event, message in zip(session.behavior_events, session.messages, strict=True):
        assert event.attempt_id == session.attempt.id
        assert (event.sequence_number, str(event.task_id), event.event_type) == (
            message["seq"],
            message["task_id"],
            message["event_type"],
        )
        assert event.event_time == event.timestamp == parse_iso(message["client_timestamp"])
        assert event.payload == message["payload"]


def test_a_completed_session_ends_at_its_last_event():
    session = simulate_session(11, task_count=4)
    attempt = session.attempt
    assert attempt.status == AttemptStatus.COMPLETED
    assert attempt.started_at <= session.events[0].at
    assert attempt.completed_at == session.events[-1].at
    assert session.events[-1].event_type == EventType.TASK_COMPLETED


def test_ending_a_partial_session():
    session = simulate_session(5, task_count=4, stop_after_tasks=2, leave_open=True)
    expired = session.ended(AttemptStatus.EXPIRED)
    locked = session.ended(AttemptStatus.LOCKED)
    assert (expired.status, expired.completed_at) == (AttemptStatus.EXPIRED, None)
    assert (locked.status, locked.locked_reason) == (AttemptStatus.LOCKED, "Locked by a recruiter")
    metrics = compute_metrics(expired, session.tasks, session.behavior_events, computed_at=NOW)
    assert metrics.global_metrics.tasks_completed == 2
    assert metrics.global_metrics.total_time_seconds == round(
        (session.events[-1].at - expired.started_at).total_seconds(), 4
    )


def test_sessions_look_like_people():
    """Over many seeds: spacing is human (no burst of zero gaps), reasoning
    carries connectors, and every kind of profile occurs."""
    seen: Counter = Counter()
    for seed in range(150):
        session = simulate_session(seed, task_count=6)
        times = [event.at for event in session.events]
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        assert max(gaps) < 120 and sum(gaps) / len(gaps) > 0.5
        profile = interpret(
            compute_metrics(session.attempt, session.tasks, session.behavior_events, computed_at=NOW), generated_at=NOW
        )
        seen.update(
            [
                profile.thinking_style.primary,
                profile.decision_pattern.speed,
                profile.decision_pattern.consistency,
                profile.risk_orientation.preference,
                profile.communication_style.reasoning_depth,
                profile.communication_style.logical_structure,
                *session_event_types(session),
            ]
        )
    labels = {
        *("analytical", "intuitive", "exploratory", "methodical"),
        *("fast", "moderate", "deliberate", "steady", "variable", "improving"),
        *("risk_averse", "balanced", "risk_tolerant", "brief", "detailed", "informal", "semi_structured"),
        "structured",
        # network_wait is about the page's connection, not the person: simulated people never wait on one.
        *(event_type.value for event_type in EventType if event_type != EventType.NETWORK_WAIT),
    }
    assert labels <= set(seen), labels - set(seen)


def session_event_types(session) -> set[str]:
    return {event.event_type.value for event in session.events}


def test_a_session_of_ten_tasks_has_a_few_hundred_events():
    sizes = [len(simulate_session(seed, task_count=10).events) for seed in range(20)]
    assert 150 <= sum(sizes) / len(sizes) <= 500


# ---------------------------------------------------------------- seeding a store


def test_seed_completed_attempt_stores_everything(db):
    org = ObjectId()
    tasks = make_tasks(random.Random(1), 3, organization_id=org)
    candidate = CandidateInfo(name="Grace Hopper", email="grace@example.com", position="Analyst")
    attempt = seed_completed_attempt(db, organization_id=org, tasks=tasks, rng=random.Random(2), candidate=candidate)

    stored = db[ATTEMPTS].find_one({"_id": attempt.id})
    assert stored["status"] == "completed" and stored["organization_id"] == org
    assert [snapshot["_id"] for snapshot in stored["task_snapshots"]] == [task.id for task in tasks]
    events = list(db[EVENTS].find({"attempt_id": attempt.id}).sort("sequence_number", 1))
    assert [e["sequence_number"] for e in events] == list(range(1, len(events) + 1))
    metrics = db[METRICS].find_one({"attempt_id": attempt.id})
    profile = SkillProfile.from_doc(db[PROFILES].find_one({"attempt_id": attempt.id}))
    assert profile.metrics_id == metrics["_id"]
    assert (profile.candidate_name, profile.candidate_email, profile.position) == (
        "Grace Hopper",
        "grace@example.com",
        "Analyst",
    )
    assert metrics["global_metrics"]["tasks_completed"] == 3


@pytest.mark.parametrize("with_events", [True, False])
def test_seed_completed_attempts_in_bulk(db, with_events):
    org = ObjectId()
    pool = make_tasks(random.Random(1), 8, organization_id=org)
    until = datetime(2026, 2, 1, tzinfo=UTC)
    attempts = seed_completed_attempts(
        db,
        organization_id=org,
        tasks=pool,
        count=23,
        rng=random.Random(3),
        tasks_per_attempt=4,
        until=until,
        with_events=with_events,
        batch_size=10,
    )
    assert len(attempts) == len({a.id for a in attempts}) == 23
    assert db[ATTEMPTS].count_documents({"organization_id": org, "status": "completed"}) == 23
    assert db[METRICS].count_documents({}) == db[PROFILES].count_documents({}) == 23
    assert (db[EVENTS].count_documents({}) > 23 * 4 * 5) is with_events
    assert all(len(a.task_ids) == 4 and set(a.task_ids) <= {t.id for t in pool} for a in attempts)
    assert all(a.completed_at < until for a in attempts)


def stored_counts(db) -> dict[str, int]:
    return {name: db[name].count_documents({}) for name in (ATTEMPTS, EVENTS, METRICS, PROFILES)}


def counted_organization(db) -> ObjectId:
    """A new organisation whose (empty) counters are marked counted, so that
    reading them shows what seeding wrote (not a recount on first read)."""
    org = ObjectId()
    attempt_counts.recount(db, org)
    return org


def counters_are_right(db, org) -> bool:
    """The counters as seeding left them equal what a recount from the attempts makes of them."""
    kept = (attempt_counts.by_position_status(db, org), attempt_counts.duration_histogram(db, org))
    attempt_counts.recount(db, org)
    return kept == (attempt_counts.by_position_status(db, org), attempt_counts.duration_histogram(db, org))


def test_the_same_seed_again_in_the_same_store_is_refused_before_writing(db):
    org = counted_organization(db)
    pool = make_tasks(random.Random(1), 6, organization_id=org)
    seed_completed_attempts(db, organization_id=org, tasks=pool, count=4, rng=random.Random(9))
    before = stored_counts(db)
    with pytest.raises(AlreadySeeded, match="4 of these simulated attempts are stored already"):
        seed_completed_attempts(db, organization_id=org, tasks=pool, count=6, rng=random.Random(9))
    assert stored_counts(db) == before
    assert attempt_counts.by_status(db, org)["completed"] == 4
    assert counters_are_right(db, org)


def test_fixed_attempt_ids_seed_each_attempt_once(db):
    org = counted_organization(db)
    pool = make_tasks(random.Random(1), 6, organization_id=org)
    ids = [ObjectId() for _ in range(5)]
    first = seed_completed_attempts(
        db, organization_id=org, tasks=pool, count=3, rng=random.Random(1), attempt_ids=ids[:3]
    )
    assert [a.id for a in first] == ids[:3]
    after_first = stored_counts(db)

    again = seed_completed_attempts(db, organization_id=org, tasks=pool, count=5, rng=random.Random(2), attempt_ids=ids)
    assert [a.id for a in again] == ids[3:]  # only the two that were missing
    assert stored_counts(db)[ATTEMPTS] == after_first[ATTEMPTS] + 2
    assert db[PROFILES].count_documents({}) == db[METRICS].count_documents({}) == 5
    assert set(db[EVENTS].distinct("attempt_id")) == set(ids)
    assert (
        seed_completed_attempts(db, organization_id=org, tasks=pool, count=5, rng=random.Random(3), attempt_ids=ids)
        == []
    )
    assert attempt_counts.by_status(db, org)["completed"] == 5
    assert counters_are_right(db, org)
    with pytest.raises(ValueError, match="2 attempt ids for 3 attempts"):
        seed_completed_attempts(db, organization_id=org, tasks=pool, count=3, rng=random.Random(1), attempt_ids=ids[:2])


def test_fixed_ids_another_process_stores_meanwhile_are_skipped(db, monkeypatch):
    """Two seeds at once: both find the ids missing, the second one's insert
    then meets the first one's attempts and stores only the rest."""
    org = counted_organization(db)
    pool = make_tasks(random.Random(1), 6, organization_id=org)
    ids = [ObjectId() for _ in range(4)]
    seed_completed_attempts(db, organization_id=org, tasks=pool, count=2, rng=random.Random(1), attempt_ids=ids[:2])
    looked = simulate._stored_ids
    calls = []

    def missed_them(db_, wanted):
        calls.append(list(wanted))
        return set() if len(calls) == 1 else looked(db_, wanted)  # the check ran before the other seed stored

    monkeypatch.setattr(simulate, "_stored_ids", missed_them)
    stored = seed_completed_attempts(
        db, organization_id=org, tasks=pool, count=4, rng=random.Random(2), attempt_ids=ids
    )
    assert [a.id for a in stored] == ids[2:] and len(calls) == 2
    assert db[ATTEMPTS].count_documents({}) == 4
    assert db[PROFILES].count_documents({}) == db[METRICS].count_documents({}) == 4
    for attempt_id in ids:  # one session's events each, not two
        sequence = [e["sequence_number"] for e in db[EVENTS].find({"attempt_id": attempt_id})]
        assert sorted(sequence) == list(range(1, len(sequence) + 1))
    assert attempt_counts.by_status(db, org)["completed"] == 4
    assert counters_are_right(db, org)
