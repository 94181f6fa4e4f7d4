"""Property-based fuzzing of the sans-I/O event validator (hiremate.events).

Realistic simulated sessions are replayed event by event while hypothesis
mutates some of them (types, missing keys, wrong task and option ids, seq
shifts, huge integers, unicode, nulls, nested junk, absurd clocks) and
throws in junk messages and replays. ``validate`` must never raise; a refusal
carries one of docs/protocol.md's codes; an accepted event is checked by an
independent oracle (tests/abuse_helpers.Oracle), not by validate itself.

300 examples a test in the suite; HIREMATE_FUZZ_EXAMPLES=20000 runs them long
(with HM_FUZZ_NO_SHRINK=1 a failure is reported as found).
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hiremate import events as ev
from hiremate.models import BehaviorEvent
from hiremate.ops import simulate
from hiremate.timeutil import iso
from tests.support.abuse_helpers import (
    PROTOCOL_ERROR_CODES,
    TOP_KEYS,
    Oracle,
    documented_error_codes,
    fuzz_examples,
    junk,
    mutate,
    mutation,
    times,
)

FUZZ = settings(
    # 2,000 before 2026-12-05 (44 s together); HIREMATE_FUZZ_EXAMPLES=2000 or more runs them long.
    max_examples=fuzz_examples(300),
    # HM_FUZZ_NO_SHRINK=1 reports a failure as found (shrinking one can take minutes).
    phases=[Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("HM_FUZZ_NO_SHRINK") else tuple(Phase),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@functools.cache
def session(seed: int) -> simulate.SimulatedSession:
    rng_seed = seed * 7919 + 1
    return simulate.simulate_session(rng_seed, task_count=1 + seed % 3, leave_open=False)


def test_the_codes_are_protocol_md_s():
    assert ev.ERROR_CODES == PROTOCOL_ERROR_CODES
    assert documented_error_codes() == PROTOCOL_ERROR_CODES


def _check(result: Any, state: ev.AttemptState, oracle: Oracle, message: Any) -> BehaviorEvent | None:
    assert isinstance(result, BehaviorEvent | ev.Duplicate | ev.Rejection), result
    if isinstance(result, ev.Rejection):
        assert result.code in PROTOCOL_ERROR_CODES, result
        if result.code == ev.SEQUENCE_GAP:
            assert result.extra == {"expected": oracle.last + 1}
        assert result.to_message()["type"] == "error"
        return None
    if isinstance(result, ev.Duplicate):
        assert type(message.get("seq")) is int and 1 <= result.seq == message["seq"] <= oracle.last, (message, result)
        return None
    problems = oracle.problems(result, message)
    assert problems == [], (message, result, problems)
    return result


@st.composite
def injections(draw: st.DrawFn, seed: int) -> dict[int, list[tuple[str, Any]]]:
    """Where in the session to inject what: a mutated copy of the next event,
    a junk message, or a replay of an accepted one."""
    tasks = session(seed).tasks
    plan: dict[int, list[tuple[str, Any]]] = {}
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(session(seed).messages)))
        kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "junk", "replay", "sent_at"]))
        if kind == "mutate":
            arg: Any = draw(mutation(tasks))
        elif kind == "junk":
            arg = draw(st.dictionaries(st.sampled_from([*TOP_KEYS, "type"]), junk, max_size=6))
        elif kind == "replay":
            arg = draw(st.integers(0, 10**6))
        else:
            arg = draw(times)
        plan.setdefault(at, []).append((kind, arg))
    return plan


@pytest.mark.slow
@FUZZ
@given(data=st.data(), seed=st.integers(0, 59))
def test_validator_on_mutated_sessions(data, seed):
    sim = session(seed)
    messages = sim.messages
    plan = data.draw(injections(seed), label="plan")
    state = ev.AttemptState.initial(sim.attempt)
    oracle = Oracle(list(sim.tasks))
    now = sim.attempt.started_at
    accepted: list[dict[str, Any]] = []
    for i, original in enumerate([*messages, None]):
        steps: list[tuple[str, Any]] = [*plan.get(i, []), ("valid", None)]
        for action, arg in steps:
            now += timedelta(milliseconds=700)
            sent_at = None
            if action == "valid":
                if original is None:
                    break
                message: Any = dict(original, seq=oracle.last + 1)
            elif action == "mutate":
                base = original if original is not None else messages[-1]
                message = mutate(dict(base, seq=oracle.last + 1), *arg)
            elif action == "junk":
                message = arg
            elif action == "replay":
                if not accepted:
                    continue
                message = accepted[arg % len(accepted)]
            else:  # a batch's sent_at with the next event
                if original is None:
                    continue
                message, sent_at = dict(original, seq=oracle.last + 1), arg
            before = state.copy()
            try:
                result = ev.validate(state, message, now=now, sent_at=sent_at)
            except Exception as exc:  # pragma: no cover - the property
                raise AssertionError(f"validate raised {exc!r} on {message!r}") from exc
            assert state == before, "validate changed the state"
            event = _check(result, state, oracle, message)
            if event is not None:
                state.apply(event)
                oracle.apply(event)
                accepted.append(message)
    # The state stays consistent with what was accepted.
    assert state.last_seq == oracle.last
    assert state.current_task_index == oracle.done
    if not plan:
        assert state.all_tasks_completed


@pytest.mark.slow
@FUZZ
@given(
    seed=st.integers(0, 59),
    prefix=st.integers(0, 200),
    message=st.dictionaries(
        st.sampled_from(["seq", "task_id", "event_type", "payload", "client_timestamp", "sent_at"]), junk, max_size=6
    ),
    seq=st.none() | st.integers(-2, 2),
    event_type=st.none() | st.sampled_from([e for e in simulate.EventType]),
    task=st.none() | st.integers(0, 3),
)
def test_validator_on_random_events_at_any_point(seed, prefix, message, seq, event_type, task):
    """Random events, some with a plausible seq, type and task, at any point of a session."""
    sim = session(seed)
    state = ev.AttemptState.initial(sim.attempt)
    oracle = Oracle(list(sim.tasks))
    now = sim.attempt.started_at
    for m in sim.messages[: prefix % (len(sim.messages) + 1)]:
        result = ev.validate(state, m, now=now)
        assert isinstance(result, BehaviorEvent)
        assert oracle.problems(result, m) == []
        state.apply(result)
        oracle.apply(result)
    if seq is not None:
        message["seq"] = state.next_seq + seq
    if event_type is not None:
        message["event_type"] = event_type.value
    if task is not None:
        message["task_id"] = str(sim.tasks[task].id) if task < len(sim.tasks) else str(ObjectId())
    message.setdefault("client_timestamp", iso(now))
    result = ev.validate(state, message, now=now)
    _check(result, state, oracle, message)
