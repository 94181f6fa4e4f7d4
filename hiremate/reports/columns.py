"""The columns of the frames recruiters read, and the words a page shows
for each of them.

Frames use snake_case column names (stable for charts and CSV);
``column_label`` gives the words a page shows for each of them.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from hiremate.models import (
    DecisionConsistency,
    DecisionSpeed,
    LogicalStructure,
    ReasoningDepth,
    RiskOrientationLabel,
    ThinkingStyle,
)

# Column of the candidates list -> (path in skill_profiles, the label's enum).
_PROFILE_LABELS: dict[str, tuple[str, type[StrEnum]]] = {
    "thinking_style": ("thinking_style.primary", ThinkingStyle),
    "decision_speed": ("decision_pattern.speed", DecisionSpeed),
    "decision_consistency": ("decision_pattern.consistency", DecisionConsistency),
    "risk_orientation": ("risk_orientation.preference", RiskOrientationLabel),
    "reasoning_depth": ("communication_style.reasoning_depth", ReasoningDepth),
    "logical_structure": ("communication_style.logical_structure", LogicalStructure),
}
PROFILE_LABEL_COLUMNS = list(_PROFILE_LABELS)
# A profile's labels, each result followed by its confidence: the same run of
# columns in a comparison and in the candidates CSV.
PROFILE_COLUMNS = [
    "thinking_style",
    "thinking_style_confidence",
    "decision_speed",
    "decision_consistency",
    "decision_pattern_confidence",
    "risk_orientation",
    "risk_orientation_confidence",
    "reasoning_depth",
    "logical_structure",
    "communication_style_confidence",
]

CANDIDATE_COLUMNS = [
    "attempt_id",
    "candidate_name",
    "candidate_email",
    "position",
    "status",
    "issued_at",
    "completed_at",
    *PROFILE_LABEL_COLUMNS,
    "review_state",
    "decision",
    "attempts",
]
PER_TASK_COLUMNS = [
    "task_number",
    "task_title",
    "time_spent_seconds",
    "active_seconds",
    "hesitation_seconds",
    "first_decision_seconds",
    "decision_changes",
    "final_option",
    "risk_level",
    "reasoning_words",
    "logical_keywords",
    "reasoning_depth_score",
    "idle_seconds",
    "focus_losses",
]
TIMELINE_COLUMNS = [
    "task_number",
    "task_title",
    "sequence_number",
    "seconds_from_task_start",
    "event_type",
    "description",
    "candidate_text",
]

# The rows of a comparison, in order; the radar reads the 0..1 ones.
COMPARE_ROWS = [
    "attempt_id",
    "candidate_email",
    "position",
    "completed_at",
    *PROFILE_COLUMNS,
    "low_risk_count",
    "medium_risk_count",
    "high_risk_count",
    "dominant_risk",
    "low_risk_share",
    "high_risk_share",
    "decision_consistency_score",
    "reasoning_engagement",
    "attention_stability",
    "total_time_seconds",
    "active_time_seconds",
    "hesitation_time_seconds",
    "total_tasks",
    "tasks_completed",
    "avg_time_per_task_seconds",
    "mean_first_decision_seconds",
    "mean_decision_changes",
    "total_idle_seconds",
    "total_focus_losses",
]
RADAR_ROWS = [
    "decision_consistency_score",
    "reasoning_engagement",
    "attention_stability",
    "low_risk_share",
    "high_risk_share",
]

COLUMN_LABELS: dict[str, str] = {
    "attempt_id": "Attempt",
    "candidate_name": "Candidate",
    "candidate_email": "Email",
    "position": "Position",
    "status": "Status",
    "issued_at": "Issued",
    "completed_at": "Completed",
    "thinking_style": "Thinking style",
    "thinking_style_confidence": "Thinking style confidence",
    "decision_speed": "Decision speed",
    "decision_consistency": "Decision consistency",
    "decision_pattern_confidence": "Decision pattern confidence",
    "risk_orientation": "Risk orientation",
    "risk_orientation_confidence": "Risk orientation confidence",
    "reasoning_depth": "Reasoning depth",
    "logical_structure": "Structure",
    "communication_style_confidence": "Communication style confidence",
    "low_risk_count": "Low-risk choices",
    "medium_risk_count": "Medium-risk choices",
    "high_risk_count": "High-risk choices",
    "dominant_risk": "Dominant risk level",
    "low_risk_share": "Low-risk share",
    "high_risk_share": "High-risk share",
    "decision_consistency_score": "Decision timing consistency",
    "reasoning_engagement": "Reasoning engagement",
    "attention_stability": "Attention stability",
    "total_time_seconds": "Total time (s)",
    "active_time_seconds": "Active time (s)",
    "hesitation_time_seconds": "Hesitation time (s)",
    "total_tasks": "Tasks",
    "tasks_completed": "Tasks completed",
    "avg_time_per_task_seconds": "Average time per task (s)",
    "mean_first_decision_seconds": "Average first decision (s)",
    "mean_decision_changes": "Average decision changes",
    "total_idle_seconds": "Idle time (s)",
    "total_focus_losses": "Left the window (times)",
    "task_number": "#",
    "task_title": "Task",
    "time_spent_seconds": "Time spent (s)",
    "active_seconds": "Active (s)",
    "hesitation_seconds": "Hesitation (s)",
    "first_decision_seconds": "First decision (s)",
    "decision_changes": "Decision changes",
    "final_option": "Final option",
    "risk_level": "Risk level",
    "reasoning_words": "Reasoning words",
    "logical_keywords": "Logical keywords",
    "reasoning_depth_score": "Reasoning depth score",
    "idle_seconds": "Idle (s)",
    "focus_losses": "Left the window",
    "sequence_number": "Seq",
    "seconds_from_task_start": "Time from task start (s)",
    "event_type": "Event",
    "description": "What happened",
    "candidate_text": "Candidate's text",
    "review_state": "Review",
    "decision": "Decision",
    "attempts": "Assessments",
    "decided_by": "Decided by",
    "decided_at": "Decided",
}


def column_label(column: str) -> str:
    """The words a page shows for a frame's column (``COLUMN_LABELS``; the
    name itself when it has none). Pass it to ``DataFrame.rename``."""
    return COLUMN_LABELS.get(column, column)


def humanize(value: Any) -> str:
    """A stored enum value as words: ``problem_solving`` -> ``Problem
    solving``, ``risk_averse`` -> ``Risk averse``; "" for None, NaN (how
    pandas keeps a missing label) and blanks. Pages, exports and the PDF
    report say labels this one way."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
