"""hiremate.events: the sans-I/O validator, row by row of docs/protocol.md."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiremate import db as dbmod
from hiremate import events as ev
from hiremate.models import (
    AttemptStatus,
    BehaviorEvent,
    Document,
    EventMetadata,
    EventType,
    Task,
    TaskAttempt,
    TaskOption,
)
from hiremate.ops import simulate
from hiremate.timeutil import iso, to_ms
from tests.support import builders

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def make_task(index: int, *, reasoning_required: bool = True, min_length: int = 20) -> Task:
    return Task(
        id=ObjectId(),
        title=f"Task {index}",
        scenario="Something happened.",
        category="problem_solving",
        difficulty="easy",
        options=[
            TaskOption(id="opt_1", text="Wait", risk_level="low", behavioral_tags=["cautious"]),
            TaskOption(id="opt_2", text="Act", risk_level="high", behavioral_tags=["bold"]),
            TaskOption(id="opt_3", text="Ask", risk_level="medium", behavioral_tags=["collaborative"]),
        ],
        reasoning_required=reasoning_required,
        reasoning_min_length=min_length,
        created_at=T0,
        updated_at=T0,
    )


def make_attempt(tasks: list[Task], started_at: datetime | None = T0) -> TaskAttempt:
    return builders.make_attempt(tasks, issued_at=T0, status=AttemptStatus.IN_PROGRESS, started_at=started_at)


class Run:
    """A state plus helpers to send events at controlled times."""

    def __init__(self, tasks: list[Task] | None = None) -> None:
        self.tasks = tasks or [make_task(0), make_task(1, reasoning_required=False)]
        self.attempt = make_attempt(self.tasks)
        self.state = ev.AttemptState.initial(self.attempt)
        self.now = T0 + timedelta(seconds=1)

    def msg(
        self, event_type: str, payload: dict[str, Any], *, task: int | None = None, seq: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        index = self.state.ambient_task().index if task is None else task
        return {
            "seq": self.state.next_seq if seq is None else seq,
            "task_id": str(self.tasks[index].id),
            "event_type": event_type,
            "payload": payload,
            **extra,
        }

    def check(self, event_type: str, payload: dict[str, Any], **kwargs: Any) -> ev.ValidationResult:
        self.now += timedelta(seconds=1)
        return ev.validate(self.state, self.msg(event_type, payload, **kwargs), now=self.now)

    def ok(self, event_type: str, payload: dict[str, Any], **kwargs: Any) -> BehaviorEvent:
        result = self.check(event_type, payload, **kwargs)
        assert isinstance(result, BehaviorEvent), result
        self.state.apply(result)
        return result

    def refused(self, code: str, event_type: str, payload: dict[str, Any], **kwargs: Any) -> ev.Rejection:
        before = self.state.copy()
        result = self.check(event_type, payload, **kwargs)
        assert isinstance(result, ev.Rejection), result
        assert result.code == code, result
        assert self.state == before  # validate never changes the state
        return result

    # the happy path pieces
    def start(self, index: int | None = None) -> None:
        i = self.state.current_task_index if index is None else index
        self.ok("task_started", {"task_index": i}, task=i)

    def select(self, option: str = "opt_1") -> None:
        self.ok("option_selected", {"option_id": option, "is_first_selection": True})

    def reason(self, text: str = "Because the numbers support this choice.") -> None:
        self.ok("reasoning_started", {"time_since_task_start_ms": 10})
        self.ok(
            "reasoning_submitted", {"final_text": text, "word_count": len(text.split()), "character_count": len(text)}
        )

    def complete(self, option: str = "opt_1", duration: int = 5000) -> None:
        self.ok("task_completed", {"final_option_id": option, "task_duration_ms": duration})


# ---------------------------------------------------------------- results


def test_rejection_codes_are_the_protocol_list():
    assert {
        "invalid_json", "unknown_message", "not_started", "token_already_used", "invalid_event_type",
        "invalid_payload", "unknown_task", "unknown_option", "invalid_transition", "sequence_gap",
        "word_count_mismatch", "duration_out_of_range", "batch_too_large", "attempt_closed",
        "rate_limited", "task_not_available", "incomplete", "consent_required",
    } == ev.ERROR_CODES  # fmt: skip
    with pytest.raises(ValueError):
        ev.Rejection("not_a_code", "x")


def test_rejection_message_shape():
    assert ev.Rejection("sequence_gap", "m", {"expected": 8}, seq=9).to_message() == {
        "type": "error", "seq": 9, "code": "sequence_gap", "message": "m", "expected": 8,
    }  # fmt: skip
    assert "seq" not in ev.Rejection("invalid_json", "m").to_message()


# ---------------------------------------------------------------- sequence


def test_sequence_next_duplicate_gap():
    run = Run()
    run.start()
    assert isinstance(run.check("option_viewed", {"option_id": "opt_1"}, seq=1), ev.Duplicate)
    gap = run.refused("sequence_gap", "option_viewed", {"option_id": "opt_1"}, seq=4)
    assert gap.extra == {"expected": 2} and gap.seq == 4
    run.ok("option_viewed", {"option_id": "opt_1"}, seq=2)


def test_a_duplicate_is_acknowledged_whatever_it_carries():
    run = Run()
    run.start()
    assert isinstance(run.check("nonsense", {"x": 1}, seq=1), ev.Duplicate)


@pytest.mark.parametrize("seq", [0, -1, "2", 2.0, True, None])
def test_a_seq_that_is_not_a_positive_integer_is_invalid_payload(seq):
    run = Run()
    message = run.msg("task_started", {"task_index": 0}, task=0)
    message["seq"] = seq
    result = ev.validate(run.state, message, now=run.now)
    assert isinstance(result, ev.Rejection) and result.code == "invalid_payload"


def test_a_rejected_seq_is_not_used_up():
    run = Run()
    run.refused("invalid_transition", "option_selected", {"option_id": "opt_1", "is_first_selection": True}, task=0)
    assert run.state.next_seq == 1
    event = run.ok("task_started", {"task_index": 0}, task=0)
    assert event.sequence_number == 1


# ---------------------------------------------------------------- event type, task, payload


@pytest.mark.parametrize("event_type", ["mouse_moved", "", None, 5, "TASK_STARTED"])
def test_unknown_event_type(event_type):
    Run().refused("invalid_event_type", event_type, {"task_index": 0}, task=0)


def test_unknown_task():
    run = Run()
    for task_id in [str(ObjectId()), "not-an-id", None, 12]:
        message = run.msg("task_started", {"task_index": 0}, task=0)
        message["task_id"] = task_id
        result = ev.validate(run.state, message, now=run.now)
        assert isinstance(result, ev.Rejection) and result.code == "unknown_task"


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("task_started", {"task_index": "0"}),
        ("task_started", {"task_index": True}),
        ("task_started", {"task_index": 0.0}),
        ("task_started", {}),
        ("task_started", {"task_index": -1}),
        ("task_started", "not an object"),
        ("idle_detected", {"idle_duration_ms": 0}),
        ("idle_detected", {"idle_duration_ms": -5}),
        ("option_viewed", {"option_id": 1}),
    ],
)
def test_invalid_payload(event_type, payload):
    Run().refused("invalid_payload", event_type, payload, task=0)


def test_unknown_payload_keys_are_dropped():
    run = Run()
    event = run.ok("task_started", {"task_index": 0, "extra": "x"}, task=0)
    assert event.payload == {"task_index": 0}


@pytest.mark.parametrize("field", ["client_timestamp", "sent_at"])
def test_malformed_times_are_invalid_payload(field):
    run = Run()
    for value in ["yesterday", "2026-11-25T18:00:00", 12]:
        run.refused("invalid_payload", "task_started", {"task_index": 0}, task=0, **{field: value})


def test_unknown_option():
    run = Run()
    run.start()
    run.refused("unknown_option", "option_viewed", {"option_id": "opt_9"})
    run.refused("unknown_option", "option_selected", {"option_id": "nope", "is_first_selection": True})
    run.select("opt_1")
    run.refused(
        "unknown_option",
        "option_changed",
        {"from_option_id": "opt_1", "to_option_id": "opt_9", "time_since_last_change_ms": 1},
    )
    run.refused("unknown_option", "task_completed", {"final_option_id": "opt_9", "task_duration_ms": 1})


# ---------------------------------------------------------------- word count


@pytest.mark.parametrize(
    "text", ["one two three", "  leading and trailing  ", "tabs\tand\nnewlines", "em\u2003space", "", "a\u00a0b"]
)
def test_word_count_is_python_split(text):
    run = Run()
    run.start()
    run.ok("reasoning_started", {"time_since_task_start_ms": 1})
    expected = len(text.split())
    wrong = run.refused(
        "word_count_mismatch",
        "reasoning_submitted",
        {"final_text": text, "word_count": expected + 1, "character_count": len(text)},
    )
    assert wrong.extra == {"expected": expected}
    run.ok("reasoning_submitted", {"final_text": text, "word_count": expected, "character_count": len(text)})


# ---------------------------------------------------------------- the transition table, row by row


def test_task_started_rules():
    run = Run()
    run.refused("invalid_transition", "task_started", {"task_index": 1}, task=1)  # not the current task
    run.refused("invalid_transition", "task_started", {"task_index": 1}, task=0)  # wrong task_index
    run.start()
    run.refused("invalid_transition", "task_started", {"task_index": 0}, task=0)  # a task is open
    run.select()
    run.reason()
    run.complete()
    assert run.state.current_task_index == 1
    run.refused("invalid_transition", "task_started", {"task_index": 0}, task=0)  # done already
    run.start(1)
    run.select()
    run.complete()
    run.refused("invalid_transition", "task_started", {"task_index": 1}, task=1)  # every task done
    assert run.state.all_tasks_completed


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("option_viewed", {"option_id": "opt_1"}),
        ("option_selected", {"option_id": "opt_1", "is_first_selection": True}),
        ("reasoning_started", {"time_since_task_start_ms": 1}),
        ("task_completed", {"final_option_id": "opt_1", "task_duration_ms": 1}),
    ],
)
def test_task_events_need_their_task_open(event_type, payload):
    run = Run()
    run.refused("invalid_transition", event_type, payload, task=0)


def test_task_events_must_carry_the_open_task():
    run = Run()
    run.start()
    run.refused("invalid_transition", "option_viewed", {"option_id": "opt_1"}, task=1)


def test_option_viewed_any_time_in_the_open_task():
    run = Run()
    run.start()
    run.ok("option_viewed", {"option_id": "opt_1", "view_duration_ms": None})
    run.select()
    run.ok("option_viewed", {"option_id": "opt_2", "view_duration_ms": 300})


def test_option_selected_only_once():
    run = Run()
    run.start()
    run.select("opt_2")
    run.refused("invalid_transition", "option_selected", {"option_id": "opt_1", "is_first_selection": False})


def test_the_input_kind_added_in_1_2_is_stored_only_when_sent():
    # An old client's selections are stored exactly as before: no "input": null.
    run = Run()
    run.start()
    selected = run.ok("option_selected", {"option_id": "opt_1", "is_first_selection": True})
    assert selected.payload == {"option_id": "opt_1", "is_first_selection": True}
    changed = run.ok(
        "option_changed",
        {"from_option_id": "opt_1", "to_option_id": "opt_2", "time_since_last_change_ms": 5, "input": "keyboard"},
    )
    assert changed.payload["input"] == "keyboard"
    viewed = run.ok("option_viewed", {"option_id": "opt_3", "view_duration_ms": None})
    assert viewed.payload == {"option_id": "opt_3", "view_duration_ms": None}


def test_option_changed_from_the_selected_option():
    run = Run()
    run.start()
    change = {"from_option_id": "opt_1", "to_option_id": "opt_2", "time_since_last_change_ms": 5}
    run.refused("invalid_transition", "option_changed", change)  # nothing selected
    run.select("opt_1")
    run.refused("invalid_transition", "option_changed", {**change, "from_option_id": "opt_3"})
    run.ok("option_changed", change)
    run.ok("option_changed", {"from_option_id": "opt_2", "to_option_id": "opt_3", "time_since_last_change_ms": 5})
    assert run.state.selected_option == "opt_3"


def test_reasoning_rules():
    run = Run()
    run.start()
    text = "A long enough answer for this task."
    submit = {"final_text": text, "word_count": len(text.split()), "character_count": len(text)}
    run.refused("invalid_transition", "reasoning_updated", {"character_count": 1, "word_count": 1})
    run.refused("invalid_transition", "reasoning_submitted", submit)
    run.ok("reasoning_started", {"time_since_task_start_ms": 1})
    run.refused("invalid_transition", "reasoning_started", {"time_since_task_start_ms": 1})
    run.ok("reasoning_updated", {"character_count": 4, "word_count": 1})
    run.ok("reasoning_submitted", submit)
    run.refused("invalid_transition", "reasoning_updated", {"character_count": 1, "word_count": 1})
    run.ok("reasoning_started", {"time_since_task_start_ms": 100})  # revising after a submit
    run.ok("reasoning_submitted", submit)


def test_task_completed_rules():
    run = Run([make_task(0, min_length=30), make_task(1)])
    run.start()
    done = {"final_option_id": "opt_1", "task_duration_ms": 4000}
    run.refused("invalid_transition", "task_completed", done)  # nothing selected
    run.select("opt_2")
    run.refused("invalid_transition", "task_completed", done)  # not the selected option
    run.refused("invalid_transition", "task_completed", {**done, "final_option_id": "opt_2"})  # no reasoning
    run.reason("Too short.")
    run.refused("invalid_transition", "task_completed", {**done, "final_option_id": "opt_2"})  # under 30 characters
    run.reason("x" * 30)
    run.ok("task_completed", {**done, "final_option_id": "opt_2"})
    assert run.state.current_task_index == 1 and run.state.open_task is None


def test_reasoning_not_required():
    run = Run([make_task(0, reasoning_required=False)])
    run.start()
    run.select()
    run.complete()
    assert run.state.all_tasks_completed


def test_focus_and_idle_events_follow_the_ambient_task():
    run = Run()
    idle = {"idle_duration_ms": 1500, "last_activity_type": "option_viewed"}
    for kind, payload in [("focus_lost", {"trigger": "tab_switch"}), ("focus_gained", {}), ("idle_detected", idle)]:
        run.ok(kind, payload, task=0)  # before the first task: the task at current_task_index
        run.refused("invalid_transition", kind, payload, task=1)
    run.start()
    run.ok("focus_lost", {}, task=0)
    run.refused("invalid_transition", "focus_lost", {}, task=1)
    run.select()
    run.reason()
    run.complete()
    run.ok("focus_lost", {}, task=1)  # between tasks: the next one
    run.refused("invalid_transition", "focus_lost", {}, task=0)
    run.start()
    run.select()
    run.complete()
    run.ok("idle_detected", idle, task=1)  # after the last task: the last one
    run.refused("invalid_transition", "focus_gained", {}, task=0)


# ---------------------------------------------------------------- task duration


@pytest.mark.parametrize(
    ("duration", "code"),
    [(-1, "duration_out_of_range"), (1_800_000, "duration_out_of_range"), (10**9, "duration_out_of_range")],
)
def test_duration_range(duration, code):
    run = Run([make_task(0, reasoning_required=False)])
    run.start()
    run.select()
    run.refused(code, "task_completed", {"final_option_id": "opt_1", "task_duration_ms": duration})
    run.complete(duration=1_799_999)


def _long_task(span: timedelta) -> Run:
    """A task whose stored events span ``span`` by event time."""
    run = Run([make_task(0, reasoning_required=False)])
    run.start()
    run.now = T0 + span  # the next events arrive that much later
    run.select()
    return run


def test_a_task_open_longer_than_30_minutes_may_report_its_duration():
    run = _long_task(timedelta(minutes=31))
    run.complete(duration=1_900_000)


def test_the_30_minutes_are_measured_on_the_stored_events():
    run = _long_task(timedelta(minutes=29))
    run.refused("duration_out_of_range", "task_completed", {"final_option_id": "opt_1", "task_duration_ms": 1_900_000})
    run.refused("duration_out_of_range", "task_completed", {"final_option_id": "opt_1", "task_duration_ms": -1})


# ---------------------------------------------------------------- event time


def test_event_time_without_sent_at_is_the_arrival():
    now = T0 + timedelta(minutes=5)
    assert ev.derive_event_time(now, None, now - timedelta(minutes=1), None, T0) == now
    assert ev.derive_event_time(now, now, None, None, T0) == now


def test_event_time_keeps_offline_spacing():
    now = T0 + timedelta(minutes=10)
    sent_at = T0 + timedelta(minutes=20)  # the client's clock is 10 minutes ahead
    client = sent_at - timedelta(seconds=90)  # buffered 90 s before sending
    assert ev.derive_event_time(now, sent_at, client, None, T0) == now - timedelta(seconds=90)


def test_event_time_clamps():
    now = T0 + timedelta(minutes=10)
    # a client timestamp after sent_at would put the event in the future
    assert ev.derive_event_time(now, now, now + timedelta(seconds=5), None, T0) == now
    # never before the previous event
    previous = now - timedelta(seconds=10)
    assert ev.derive_event_time(now, now, now - timedelta(minutes=1), previous, T0) == previous
    # never before the attempt started
    assert ev.derive_event_time(now, now, now - timedelta(hours=1), None, T0) == T0
    # the lower bounds win over the arrival when servers' clocks disagree
    assert ev.derive_event_time(now, None, None, now + timedelta(seconds=1), T0) == now + timedelta(seconds=1)


aware = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))


@given(
    now=aware, sent=st.none() | aware, client=st.none() | aware, previous=st.none() | aware, started=st.none() | aware
)
def test_event_time_properties(now, sent, client, previous, started):
    result = ev.derive_event_time(now, sent, client, previous, started)
    lowers = [to_ms(x) for x in (previous, started) if x is not None]
    assert result == to_ms(result)
    for lower in lowers:
        assert result >= lower
    if not lowers or max(lowers) <= to_ms(now):
        assert result <= to_ms(now)
    if sent is not None and client is not None:
        raw = to_ms(now) - (to_ms(sent) - to_ms(client))
        assert result == max([min(raw, to_ms(now)), *lowers])


def test_validate_derives_event_time_from_the_message():
    run = Run()
    arrival = T0 + timedelta(minutes=3)
    message = run.msg(
        "task_started",
        {"task_index": 0},
        task=0,
        client_timestamp=iso(arrival - timedelta(seconds=40)),
        sent_at=iso(arrival),
    )
    result = ev.validate(run.state, message, now=arrival)
    assert isinstance(result, BehaviorEvent)
    assert result.event_time == arrival - timedelta(seconds=40)
    assert result.timestamp == arrival and result.client_timestamp == arrival - timedelta(seconds=40)
    # In a batch, the batch's sent_at applies.
    message.pop("sent_at")
    result = ev.validate(run.state, message, now=arrival, sent_at=iso(arrival))
    assert result.event_time == arrival - timedelta(seconds=40)


# ---------------------------------------------------------------- state rebuilt from stored events


def _simulated(seed: int, count: int = 3, **kwargs: Any) -> tuple[TaskAttempt, list[dict[str, Any]]]:
    rng = random.Random(seed)
    tasks = simulate.make_tasks(rng, count)
    attempt = make_attempt(tasks, started_at=simulate.DEFAULT_START)
    messages = [e.message() for e in simulate.simulate_events(tasks, rng, **kwargs)]
    return attempt, messages


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), stop=st.none() | st.integers(0, 3))
def test_every_simulated_session_is_accepted_and_rebuilds_the_same_state(seed, stop):
    attempt, messages = _simulated(seed, stop_after_tasks=stop, leave_open=True)
    state = ev.AttemptState.initial(attempt)
    stored = []
    now = simulate.DEFAULT_START
    for message in messages:
        now += timedelta(milliseconds=5)
        result = ev.validate(state, message, now=now)
        assert isinstance(result, BehaviorEvent), (message, result)
        state.apply(result)
        stored.append(result)
    rebuilt = ev.AttemptState.rebuild(attempt, [e.to_doc() for e in reversed(stored)])
    assert rebuilt == state
    assert state.current_task_index == (3 if stop is None else stop)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), skew_ms=st.integers(-90_000, 90_000))
def test_a_validated_event_is_what_a_full_validation_builds(seed, skew_ms):
    """validate builds the event from its checked values without a second
    pydantic pass: the result equals, field by field and type by type, the
    same event validated whole, and its document is the one model_dump gives."""
    attempt, messages = _simulated(seed)
    state = ev.AttemptState.initial(attempt)
    metadata = EventMetadata(user_agent="Mozilla/5.0", ip_hash="ab" * 16)
    now = simulate.DEFAULT_START
    for n, message in enumerate(messages):
        now += timedelta(milliseconds=1234, microseconds=567)  # the server's clock is finer than ms
        if n % 3 == 0:
            message = {**message, "client_timestamp": iso(now - timedelta(milliseconds=skew_ms)), "sent_at": iso(now)}
        result = ev.validate(state, message, now=now, metadata=metadata)
        assert isinstance(result, BehaviorEvent), (message, result)
        whole = BehaviorEvent.model_validate(result.model_dump())
        assert whole.__dict__ == result.__dict__
        assert [type(v) for v in whole.__dict__.values()] == [type(v) for v in result.__dict__.values()]
        assert result.model_fields_set == whole.model_fields_set - {"id"}
        for event in (result, whole):
            event.id = ObjectId() if n % 2 else None
            assert list(event.to_doc().items()) == list(Document.to_doc(event).items())
        state.apply(result)


def test_rebuild_stops_at_a_hole():
    attempt, messages = _simulated(3)
    state = ev.AttemptState.initial(attempt)
    stored = []
    for message in messages[:6]:
        result = ev.validate(state, message, now=T0)
        state.apply(result)
        stored.append(result)
    rebuilt = ev.AttemptState.rebuild(attempt, [stored[0], stored[1], stored[3], stored[4]])
    assert rebuilt.last_seq == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    seq=json_values | st.integers(0, 4),
    event_type=json_values | st.sampled_from([e.value for e in EventType]),
    payload=json_values,
    extra=st.dictionaries(st.sampled_from(["client_timestamp", "sent_at", "task_id"]), json_values, max_size=3),
)
def test_validate_never_raises_on_junk(seq, event_type, payload, extra):
    run = Run()
    run.start()
    message = {"seq": seq, "task_id": str(run.tasks[0].id), "event_type": event_type, "payload": payload, **extra}
    result = ev.validate(run.state, message, now=run.now)
    assert isinstance(result, BehaviorEvent | ev.Duplicate | ev.Rejection)


# ---------------------------------------------------------------- the readers


def test_stored_events_and_ids_read_one_attempt_in_seq_order(db):
    attempt_id, other = ObjectId(), ObjectId()
    ids = {seq: ObjectId() for seq in (1, 2, 3, 4)}
    db[dbmod.EVENTS].insert_many(
        [{"_id": ids[seq], "attempt_id": attempt_id, "sequence_number": seq} for seq in (3, 1, 4, 2)]
        + [{"_id": ObjectId(), "attempt_id": other, "sequence_number": 1}]
    )

    assert [doc["_id"] for doc in ev.stored_events(db, attempt_id)] == [ids[1], ids[2], ids[3], ids[4]]
    assert [doc["sequence_number"] for doc in ev.stored_events(db, attempt_id, from_seq=3)] == [3, 4]
    assert ev.stored_events(db, ObjectId()) == []
    assert ev.stored_ids(db, attempt_id, [2, 4, 9]) == {2: ids[2], 4: ids[4]}
    assert ev.stored_ids(db, attempt_id, []) == {}
