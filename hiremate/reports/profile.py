"""One candidate's profile: the attempt with its metrics, profile and
events, and the profile page's frames (per task, and the session's
timeline with a neutral sentence for each event)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from bson import ObjectId

from hiremate import db as dbmod
from hiremate.ids import as_object_id
from hiremate.models import BehaviorEvent, ComputedMetrics, EventType, SkillProfile, Task, TaskAttempt
from hiremate.reports.columns import PER_TASK_COLUMNS, TIMELINE_COLUMNS, humanize
from hiremate.scope import Scope


@dataclass(frozen=True)
class ProfileBundle:
    """Everything the profile page shows for one attempt. ``metrics`` and
    ``profile`` are None until the attempt has ended and been computed;
    ``events`` are in sequence order, without their request metadata."""

    attempt: TaskAttempt
    metrics: ComputedMetrics | None
    profile: SkillProfile | None
    events: list[BehaviorEvent]


def profile_bundle(scope: Scope, attempt_id: str | ObjectId) -> ProfileBundle | None:
    """The attempt with its metrics, profile and events; None when the id is
    malformed or names no attempt of this organisation."""
    oid = as_object_id(attempt_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}))
    if doc is None:
        return None
    # Metrics, profile and events carry no organisation of their own: they
    # are reached only through the attempt found in scope above.
    metrics = scope.collection(dbmod.METRICS).find_one({"attempt_id": oid})
    profile = scope.collection(dbmod.PROFILES).find_one({"attempt_id": oid})
    events = scope.collection(dbmod.EVENTS).find({"attempt_id": oid}, {"metadata": 0}).sort("sequence_number", 1)
    return ProfileBundle(
        attempt=TaskAttempt.from_doc(doc),
        metrics=ComputedMetrics.from_doc(metrics) if metrics else None,
        profile=SkillProfile.from_doc(profile) if profile else None,
        events=[BehaviorEvent.from_doc(event) for event in events],
    )


# ---------------------------------------------------------------- how a profile is described

# What the profile page and the PDF report say about what a profile is.
NO_SCORE_STATEMENT = (
    "This profile describes how the candidate worked through the tasks, on four dimensions, by fixed published "
    "rules. It is not a score and has no right answers: read it with the answers above, and a person reviews it "
    "before it is used."
)


@dataclass(frozen=True)
class DimensionView:
    """One dimension of a profile as people read it: its title, the label in
    words and the evidence sentences."""

    key: str  # the profile's field (reviews name dimensions by it)
    title: str
    label: str
    evidence: list[str]


def dimensions(profile: SkillProfile) -> list[DimensionView]:
    """The dimensions a profile describes, in the page's order (none when no
    task was completed: rule 1.2 describes no dimension then)."""
    if profile.thinking_style is None or profile.decision_pattern is None:
        return []
    views = [
        DimensionView(
            "thinking_style",
            "Thinking style",
            humanize(profile.thinking_style.primary),
            list(profile.thinking_style.evidence),
        ),
        DimensionView(
            "decision_pattern",
            "Decision pattern",
            f"{humanize(profile.decision_pattern.speed)} · {humanize(profile.decision_pattern.consistency).lower()}",
            list(profile.decision_pattern.evidence),
        ),
    ]
    if profile.risk_orientation is not None:
        views.append(
            DimensionView(
                "risk_orientation",
                "Risk orientation",
                humanize(profile.risk_orientation.preference),
                list(profile.risk_orientation.evidence),
            )
        )
    if profile.communication_style is not None:
        style = profile.communication_style
        views.append(
            DimensionView(
                "communication_style",
                "Communication style",
                f"{humanize(style.reasoning_depth)} · {humanize(style.logical_structure).lower()}",
                list(style.evidence),
            )
        )
    return views


# ---------------------------------------------------------------- frames for the profile page


def _tasks_by_id(attempt: TaskAttempt) -> dict[ObjectId, tuple[int, Task | None]]:
    """Task id -> (1-based number in the attempt's order, its snapshot)."""
    snapshots = {task.id: task for task in attempt.task_snapshots}
    return {task_id: (number, snapshots.get(task_id)) for number, task_id in enumerate(attempt.task_ids, start=1)}


def _task_title(number: int, task: Task | None) -> str:
    return task.title if task else f"Task {number}"


def _option_text(task: Task | None, option_id: str | None) -> str:
    option = task.option(option_id) if task and option_id else None
    return option.text if option else (option_id or "")


def per_task_frame(metrics: ComputedMetrics | None, attempt: TaskAttempt) -> pd.DataFrame:
    """One row per completed task (``PER_TASK_COLUMNS``), in the attempt's order."""
    tasks = _tasks_by_id(attempt)
    rows = []
    for item in metrics.per_task_metrics if metrics else []:
        number, task = tasks.get(item.task_id, (0, None))
        rows.append(
            {
                "task_number": number,
                "task_title": _task_title(number, task),
                "time_spent_seconds": item.time_spent_seconds,
                "active_seconds": round(max(item.time_spent_seconds - item.hesitation_seconds, 0.0), 4),
                "hesitation_seconds": item.hesitation_seconds,
                "first_decision_seconds": item.first_decision_speed_seconds,
                "decision_changes": item.decision_change_count,
                "final_option": _option_text(task, item.final_option_id),
                "risk_level": item.final_option_risk_level,
                "reasoning_words": item.reasoning_word_count,
                "logical_keywords": item.reasoning_logical_keywords_count,
                "reasoning_depth_score": item.reasoning_depth_score,
                "idle_seconds": item.idle_time_seconds,
                "focus_losses": item.focus_loss_count,
            }
        )
    return pd.DataFrame(rows, columns=PER_TASK_COLUMNS)


def timeline_frame(events: Sequence[BehaviorEvent], attempt: TaskAttempt) -> pd.DataFrame:
    """The session, one row per event in sequence order (``TIMELINE_COLUMNS``).

    ``seconds_from_task_start`` is measured by ``event_time`` from the task's
    ``task_started`` (negative for a focus or idle event recorded between
    tasks). ``candidate_text`` is the candidate's own words, to be shown as
    plain text, never as markdown or HTML.
    """
    tasks = _tasks_by_id(attempt)
    ordered = sorted(events, key=lambda event: event.sequence_number)
    starts = _task_starts(ordered)
    rows = []
    for event in ordered:
        number, task = tasks.get(event.task_id, (0, None))
        start = starts.get(event.task_id, event.event_time)
        rows.append(
            {
                "task_number": number,
                "task_title": _task_title(number, task),
                "sequence_number": event.sequence_number,
                "seconds_from_task_start": round((event.event_time - start).total_seconds(), 3),
                "event_type": event.event_type,
                "description": _describe(event, task),
                "candidate_text": str(event.payload.get("final_text") or ""),
            }
        )
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def _task_starts(events: Iterable[BehaviorEvent]) -> dict[ObjectId, datetime]:
    """Each task's ``task_started``; a task without one starts at its first event."""
    first_events: dict[ObjectId, datetime] = {}
    started: dict[ObjectId, datetime] = {}
    for event in events:
        first_events.setdefault(event.task_id, event.event_time)
        if event.event_type == EventType.TASK_STARTED:
            started.setdefault(event.task_id, event.event_time)
    return {**first_events, **started}


def _describe(event: BehaviorEvent, task: Task | None) -> str:
    """A neutral sentence for one event, with option texts instead of ids."""
    payload = event.payload

    def option(key: str) -> str:
        return f"“{_option_text(task, payload.get(key))}”"

    def seconds(key: str) -> str:
        return f"{(payload.get(key) or 0) / 1000:.1f}s"

    match event.event_type:
        case EventType.TASK_STARTED:
            return "Started the task"
        case EventType.OPTION_VIEWED:
            suffix = f" for {seconds('view_duration_ms')}" if payload.get("view_duration_ms") is not None else ""
            return f"Viewed option {option('option_id')}{suffix}"
        case EventType.OPTION_SELECTED:
            return f"Selected option {option('option_id')}"
        case EventType.OPTION_CHANGED:
            return f"Changed from {option('from_option_id')} to {option('to_option_id')}"
        case EventType.REASONING_STARTED:
            return "Started writing reasoning"
        case EventType.REASONING_UPDATED:
            return f"Reasoning in progress: {payload.get('word_count', 0)} words"
        case EventType.REASONING_SUBMITTED:
            return f"Submitted reasoning ({payload.get('word_count', 0)} words)"
        case EventType.TASK_COMPLETED:
            return f"Completed the task with {option('final_option_id')}"
        case EventType.IDLE_DETECTED:
            return f"No activity for {seconds('idle_duration_ms')}"
        case EventType.FOCUS_LOST:
            return "Left the assessment window"
        case EventType.FOCUS_GAINED:
            return "Returned to the assessment window"
        case EventType.NETWORK_WAIT:
            return f"The page waited {seconds('wait_duration_ms')} for the network (not counted as idle)"
    return event_name(str(event.event_type))


# What each event type is called on the recruiter's pages (never the wire name).
EVENT_NAMES: dict[str, str] = {
    EventType.TASK_STARTED: "Task started",
    EventType.OPTION_VIEWED: "Option viewed",
    EventType.OPTION_SELECTED: "Option chosen",
    EventType.OPTION_CHANGED: "Option changed",
    EventType.REASONING_STARTED: "Started writing",
    EventType.REASONING_UPDATED: "Writing",
    EventType.REASONING_SUBMITTED: "Explanation submitted",
    EventType.TASK_COMPLETED: "Task completed",
    EventType.IDLE_DETECTED: "No activity",
    EventType.FOCUS_LOST: "Left the window",
    EventType.FOCUS_GAINED: "Back in the window",
    EventType.NETWORK_WAIT: "Waiting for the network",
}


def event_name(event_type: str) -> str:
    """``option_viewed`` -> "Option viewed" (an unknown type in plain words too)."""
    return EVENT_NAMES.get(event_type) or event_type.replace("_", " ").capitalize()
