"""The frozen inputs and outputs of rule version "1.1.0".

``tests/hiremate/fixtures/metrics_1_1_0.json`` was written by this module
from the code as it was before rule version 1.2.0 existed (the parent of the
commit that added this file: ``hiremate/metrics.py`` and
``hiremate/skills.py`` with ``LATEST = "1.1.0"``), and is never regenerated
by the tests: ``test_metrics_versions.py`` recomputes every case with
``version="1.1.0"`` (and the attempt's accommodations passed to
``interpret``) and compares the serialised documents byte for byte.

The cases: every input of the 1.0.0 fixture as it is; its last eight again
with each accommodation and with a ``network_wait`` after every event; and
the streams of ``test_metrics_1_1.py`` (waits, accommodations, keyboard and
mouse) and a few risk mixes (all medium, 1 low / 2 medium) whose reading
1.2.0 changes. As for 1.0.0 the inputs are stored, not rebuilt, so a later
change to a builder cannot move them. Regenerate only to add cases, and only
from code that still passes the byte-identity test:

    python -m tests.hiremate.metrics_v1_1_cases
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hiremate.models import Accommodations, BehaviorEvent, EventType, TaskAttempt
from tests.hiremate import metrics_v1_cases
from tests.hiremate.metrics_v1_cases import (
    FIXTURE as FIXTURE_1_0_0,
)
from tests.hiremate.metrics_v1_cases import (
    case_inputs,
    loads,
)

FIXTURE = FIXTURE_1_0_0.parent / "metrics_1_1_0.json"
VERSION = "1.1.0"

ACCOMMODATION_VARIANTS = {
    "x1.5": Accommodations(time_multiplier=1.5),
    "untimed": Accommodations(untimed=True),
    "assistive": Accommodations(assistive_technology=True),
    "all": Accommodations(time_multiplier=2.0, untimed=True, assistive_technology=True),
}


def with_waits(events: list[BehaviorEvent]) -> list[BehaviorEvent]:
    waits = [
        BehaviorEvent(
            attempt_id=e.attempt_id,
            task_id=e.task_id,
            event_type=EventType.NETWORK_WAIT,
            timestamp=e.event_time + timedelta(seconds=3),
            event_time=e.event_time + timedelta(seconds=3),
            sequence_number=e.sequence_number * 2 + 1,
            payload={"wait_duration_ms": 2500, "reason": "reconnecting"},
        )
        for e in events
    ]
    return [e.model_copy(update={"sequence_number": e.sequence_number * 2}) for e in events] + waits


def _scripted_cases() -> list[dict[str, Any]]:
    from tests.hiremate import test_metrics_1_1 as v11
    from tests.hiremate.test_metrics import Script, completed_at, make_attempt, make_task

    cases: list[dict[str, Any]] = []

    def add(name: str, attempt: TaskAttempt, events: list[BehaviorEvent], acc: Accommodations | None = None) -> None:
        attempt = attempt.model_copy(update={"accommodations": acc})
        cases.append({"name": name, "attempt": attempt, "tasks": [], "events": events})

    attempt, script = v11.between_tasks_wait()
    add("wait-between-tasks", attempt, script.events)
    attempt, script = v11.mid_task_wait()
    add("wait-inside-a-task", attempt, script.events)
    for decision, name, acc in (
        (16.0, "slow-x2", Accommodations(time_multiplier=2.0)),
        (40.0, "slow-untimed", Accommodations(untimed=True)),
        (8.0, "slow-assistive", Accommodations(assistive_technology=True)),
        (40.0, "slow-plain", None),
    ):
        attempt, script = v11.slow_session(decision)
        add(name, attempt, script.events, acc)
    tasks = [v11.four_option_task() for _ in range(3)]
    attempt = make_attempt(tasks, completed_at=v11.T0 + timedelta(seconds=43))
    for kind in ("mouse", "keyboard-old", "keyboard-fixed"):
        add(f"selection-{kind}", attempt, v11.selection_streams(kind, tasks).events)

    # risk mixes 1.2.0 reads differently; focus lost once, twice and three times
    for name, options in (
        ("risk-0-3-0", ["opt_2", "opt_2", "opt_2"]),
        ("risk-1-2-0", ["opt_1", "opt_2", "opt_2"]),
        ("risk-1-1-1", ["opt_1", "opt_2", "opt_3"]),
        ("risk-2-2-1", ["opt_1", "opt_2", "opt_1", "opt_2", "opt_3"]),
    ):
        ts = [make_task() for _ in options]
        s = Script()
        start = 0.0
        for index, (task, option) in enumerate(zip(ts, options, strict=True)):
            s.task(task, index, start, start + 2 + index, start + 6 + index, option, "because it is cheaper")
            start += 8 + index
        add(name, make_attempt(ts, completed_at=completed_at(start - 2)), s.events)
    for losses in (1, 2, 3):
        a = make_task()
        s = Script().at(0, a, EventType.TASK_STARTED, task_index=0)
        s.at(1, a, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
        for k in range(losses):
            s.at(2 + 2 * k, a, EventType.FOCUS_LOST, trigger="tab_switch")
            s.at(3 + 2 * k, a, EventType.FOCUS_GAINED, trigger="tab_switch")
        s.at(10, a, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=0)
        add(f"focus-lost-{losses}", make_attempt([a], completed_at=completed_at(10)), s.events)
    return cases


def build_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    old = loads(FIXTURE_1_0_0.read_text())
    for case in old:
        attempt, tasks, events = case_inputs(case)
        cases.append({"name": case["name"], "attempt": attempt, "tasks": tasks, "events": events})
    for case in old[-8:]:
        attempt, tasks, events = case_inputs(case)
        for label, acc in ACCOMMODATION_VARIANTS.items():
            cases.append(
                {
                    "name": f"{case['name']}-{label}",
                    "attempt": attempt.model_copy(update={"accommodations": acc}),
                    "tasks": tasks,
                    "events": events,
                }
            )
        cases.append(
            {"name": f"{case['name']}-waits", "attempt": attempt, "tasks": tasks, "events": with_waits(events)}
        )
    return cases + _scripted_cases()


def write_fixture() -> None:
    metrics_v1_cases.write_fixture(build_cases(), fixture=FIXTURE, version=VERSION)


if __name__ == "__main__":
    write_fixture()
