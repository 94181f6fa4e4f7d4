"""What the candidate picked and why, task by task: the first thing the
profile page shows (docs/architecture.md "The recruiter app").

One card per task of the attempt, in its order: the scenario, every option
(the chosen one marked, with the risk level and tags recruiters authored),
the path of choices in words ("Chose B after 6.0 s, switched to C after
14.2 s"), the time on the task and the reasoning in full. Built from the
stored events alone, so a locked or expired attempt shows what it got to.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bson import ObjectId

from hiremate import skills
from hiremate.models import BehaviorEvent, EventType, Task, TaskAttempt
from hiremate.reports.profile import _tasks_by_id

__all__ = ["AnswerCard", "OptionShown", "answer_cards", "option_letter", "seconds_text"]

CardState = Literal["completed", "started", "not_reached"]


@dataclass(frozen=True)
class OptionShown:
    letter: str
    text: str
    risk_level: str
    tags: list[str]
    chosen: bool


@dataclass(frozen=True)
class AnswerCard:
    task_id: ObjectId
    number: int
    title: str
    description: str
    scenario: str
    options: list[OptionShown]
    state: CardState
    path: list[str] = field(default_factory=list)  # sentences, in order
    seconds_on_task: float | None = None
    reasoning: str | None = None  # the last submitted text, exactly as typed


def option_letter(index: int) -> str:
    return string.ascii_uppercase[index] if index < 26 else str(index + 1)


def seconds_text(seconds: float) -> str:
    """``6.0 s`` under a minute, ``2 min 05 s`` from one."""
    if seconds < 59.95:
        return skills.seconds(seconds)
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def answer_cards(attempt: TaskAttempt, events: Sequence[BehaviorEvent]) -> list[AnswerCard]:
    """One card per task of ``attempt`` (its snapshots), from its stored events."""
    by_task: dict[ObjectId, list[BehaviorEvent]] = {}
    for event in sorted(events, key=lambda e: e.sequence_number):
        by_task.setdefault(event.task_id, []).append(event)
    cards = []
    for task_id, (number, task) in _tasks_by_id(attempt).items():
        cards.append(_card(task_id, number, task, by_task.get(task_id, [])))
    return cards


def _card(task_id: ObjectId, number: int, task: Task | None, events: list[BehaviorEvent]) -> AnswerCard:
    letters = {option.id: option_letter(i) for i, option in enumerate(task.options)} if task else {}
    started = next((e.event_time for e in events if e.event_type == EventType.TASK_STARTED), None)
    completed = next((e for e in events if e.event_type == EventType.TASK_COMPLETED), None)
    final = completed.payload.get("final_option_id") if completed else None
    submitted = [e for e in events if e.event_type == EventType.REASONING_SUBMITTED]
    state: CardState = "completed" if completed else "started" if started else "not_reached"
    return AnswerCard(
        task_id=task_id,
        number=number,
        title=task.title if task else f"Task {number}",
        description=task.description if task else "",
        scenario=task.scenario if task else "",
        options=[
            OptionShown(letters[o.id], o.text, str(o.risk_level), list(o.behavioral_tags), o.id == final)
            for o in (task.options if task else [])
        ],
        state=state,
        path=_path(events, started, letters) if started else [],
        seconds_on_task=completed.payload.get("task_duration_ms", 0) / 1000 if completed else None,
        reasoning=submitted[-1].payload.get("final_text") if submitted else None,
    )


def _path(events: list[BehaviorEvent], started: datetime, letters: dict[str, str]) -> list[str]:
    """The choices in words, each with its time since the task started."""
    steps = []
    for event in events:
        after = seconds_text(max(0.0, (event.event_time - started).total_seconds()))
        if event.event_type == EventType.OPTION_SELECTED:
            steps.append(f"Chose {letters.get(event.payload.get('option_id'), '?')} after {after}")
        elif event.event_type == EventType.OPTION_CHANGED:
            steps.append(f"switched to {letters.get(event.payload.get('to_option_id'), '?')} after {after}")
        elif event.event_type == EventType.TASK_COMPLETED:
            steps.append(f"went on after {after}")
    return steps
