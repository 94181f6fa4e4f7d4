"""2 to 5 completed candidates side by side, as a frame and as a CSV."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from bson import ObjectId

from hiremate import db as dbmod
from hiremate import organizations
from hiremate.csvsafe import CsvWriter
from hiremate.errors import ReportError
from hiremate.ids import as_object_id
from hiremate.models import AttemptStatus, ComputedMetrics, SkillProfile
from hiremate.reports._common import _get, _lookup
from hiremate.reports.columns import COMPARE_ROWS, column_label
from hiremate.scope import Scope
from hiremate.timeutil import local_time

MIN_COMPARED, MAX_COMPARED = 2, 5


def compare_frame(scope: Scope, attempt_ids: Sequence[str | ObjectId]) -> pd.DataFrame:
    """2 to 5 completed attempts side by side: one row per ``COMPARE_ROWS``
    key (index named ``metric``), one column per candidate, in the order given.

    Raises ValueError, with a message a recruiter can act on, for fewer than
    2 or more than 5 distinct attempts, a malformed id, or an attempt that is
    not a completed one of this organisation with a computed profile.
    """
    ids = _distinct_ids(attempt_ids)
    completed = scope.where({"status": AttemptStatus.COMPLETED.value})
    attempts = _lookup(
        scope.collection(dbmod.ATTEMPTS), completed, "_id", ids, {"candidate_info": 1, "completed_at": 1}
    )
    missing = [str(oid) for oid in ids if oid not in attempts]
    if missing:
        raise ReportError(f"not a completed attempt of your organisation: {', '.join(missing)}")
    # Reached only through attempts found in scope above.
    metrics = _lookup(scope.collection(dbmod.METRICS), {}, "attempt_id", ids)
    profiles = _lookup(scope.collection(dbmod.PROFILES), {}, "attempt_id", ids)
    not_computed = [str(oid) for oid in ids if oid not in metrics or oid not in profiles]
    if not_computed:
        raise ReportError(f"no computed profile yet for: {', '.join(not_computed)}")
    columns = _column_names([attempts[oid] for oid in ids])
    data = {
        column: _compare_values(
            attempts[oid], ComputedMetrics.from_doc(metrics[oid]), SkillProfile.from_doc(profiles[oid])
        )
        for column, oid in zip(columns, ids, strict=True)
    }
    frame = pd.DataFrame(data, index=COMPARE_ROWS, dtype=object)
    frame.index.name = "metric"
    return frame


def _distinct_ids(attempt_ids: Sequence[str | ObjectId]) -> list[ObjectId]:
    ids: list[ObjectId] = []
    for value in attempt_ids:
        oid = as_object_id(value)
        if oid is None:
            raise ReportError(f"not an attempt id: {value!r}")
        if oid not in ids:
            ids.append(oid)
    if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
        raise ReportError(f"choose {MIN_COMPARED} to {MAX_COMPARED} different candidates to compare (got {len(ids)})")
    return ids


def _column_names(attempts: list[dict[str, Any]]) -> list[str]:
    """Candidate names, made unique with the email, then the attempt id."""
    names = [_get(doc, "candidate_info.name") or str(doc["_id"]) for doc in attempts]
    if len(set(names)) < len(names):
        names = [f"{name} ({_get(doc, 'candidate_info.email')})" for name, doc in zip(names, attempts, strict=True)]
    if len(set(names)) < len(names):
        names = [f"{name} [{str(doc['_id'])[-6:]}]" for name, doc in zip(names, attempts, strict=True)]
    return names


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _of(dimension: Any, name: str) -> Any:
    """A dimension's field; None when the profile has no such dimension (rule
    1.2.0 with no completed task: evidence_level "none")."""
    return None if dimension is None else getattr(dimension, name)


def _compare_values(attempt: dict[str, Any], metrics: ComputedMetrics, profile: SkillProfile) -> list[Any]:
    risk = metrics.aggregated_patterns.risk_preference
    chosen = risk.low_count + risk.medium_count + risk.high_count
    tasks = metrics.per_task_metrics
    overall = metrics.global_metrics
    patterns = metrics.aggregated_patterns
    values = {
        "attempt_id": str(attempt["_id"]),
        "candidate_email": _get(attempt, "candidate_info.email"),
        "position": _get(attempt, "candidate_info.position") or "",
        "completed_at": attempt.get("completed_at"),
        "thinking_style": _of(profile.thinking_style, "primary"),
        "thinking_style_confidence": _of(profile.thinking_style, "confidence"),
        "decision_speed": _of(profile.decision_pattern, "speed"),
        "decision_consistency": _of(profile.decision_pattern, "consistency"),
        "decision_pattern_confidence": _of(profile.decision_pattern, "confidence"),
        "risk_orientation": _of(profile.risk_orientation, "preference"),
        "risk_orientation_confidence": _of(profile.risk_orientation, "confidence"),
        "reasoning_depth": _of(profile.communication_style, "reasoning_depth"),
        "logical_structure": _of(profile.communication_style, "logical_structure"),
        "communication_style_confidence": _of(profile.communication_style, "confidence"),
        "low_risk_count": risk.low_count,
        "medium_risk_count": risk.medium_count,
        "high_risk_count": risk.high_count,
        "dominant_risk": risk.dominant,
        "low_risk_share": round(risk.low_count / chosen, 4) if chosen else 0.0,
        "high_risk_share": round(risk.high_count / chosen, 4) if chosen else 0.0,
        "decision_consistency_score": patterns.decision_consistency,
        "reasoning_engagement": patterns.reasoning_engagement,
        "attention_stability": patterns.attention_stability,
        "total_time_seconds": overall.total_time_seconds,
        "active_time_seconds": overall.active_interaction_time_seconds,
        "hesitation_time_seconds": overall.hesitation_time_seconds,
        "total_tasks": overall.total_tasks,
        "tasks_completed": overall.tasks_completed,
        "avg_time_per_task_seconds": overall.avg_time_per_task_seconds,
        "mean_first_decision_seconds": _mean([t.first_decision_speed_seconds for t in tasks]),
        "mean_decision_changes": _mean([t.decision_change_count for t in tasks]),
        "total_idle_seconds": round(sum(t.idle_time_seconds for t in tasks), 4),
        "total_focus_losses": sum(t.focus_loss_count for t in tasks),
    }
    return [values[row] for row in COMPARE_ROWS]


def compare_csv(scope: Scope, attempt_ids: Sequence[str | ObjectId]) -> bytes:
    """The comparison as a CSV a person reads: a row per metric, with its label."""
    frame = compare_frame(scope, attempt_ids)
    zone = organizations.time_zone_for(scope.db, scope.organization_id)
    writer = CsvWriter(["Metric", *frame.columns])
    for key, values in frame.iterrows():
        label, cells = column_label(str(key)), values.tolist()
        if any(isinstance(cell, datetime) for cell in cells):  # for people: local time, the zone named
            label = f"{label} ({zone.key})"
            cells = [local_time(cell, zone) if isinstance(cell, datetime) else cell for cell in cells]
        writer.writerow([label, *cells])
    scope.audit("export", "compare", None, kind="compare", attempt_ids=[str(v) for v in frame.loc["attempt_id"]])
    return writer.to_bytes()
