"""Norms without a score: where a candidate's figures on a task fall among
everyone in the organisation who completed the same task.

Descriptive only: norms never feed the labels (a profile stays a function of
its own attempt), they compare profiles of the same rule version, and they
leave out attempts with accommodations (their figures are not comparable,
and their presence is confidential). A percentile is a ranking, so the page
shows norms only on request ("Show norms") and only for groups of at least
``MIN_GROUP`` other candidates, always with the group's size.

They never scan profiles at view time. Each completed task of each computed
profile is one small document in ``norm_points`` (written as profiles are
stored, replaced when they are recomputed, rebuilt by
``python -m hiremate recount``); a page reads each task's group once (an indexed read) and counts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DeleteMany, InsertOne
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.models import ComputedMetrics, PerTaskMetrics, SkillProfile

__all__ = ["FIGURES", "MIN_GROUP", "NormLine", "TaskNorms", "norms_for", "rebuild", "record"]

MIN_GROUP = 20

# figure -> (PerTaskMetrics field, "lower" or "higher" is what the sentence says, the sentence)
FIGURES: dict[str, tuple[str, str, str]] = {
    "first_decision_seconds": ("first_decision_speed_seconds", "lower", "a faster first decision than"),
    "changes": ("decision_change_count", "lower", "fewer changes of option than"),
    "reasoning_words": ("reasoning_word_count", "higher", "a longer explanation (in words) than"),
    "hesitation_seconds": ("hesitation_seconds", "lower", "less hesitation than"),
}


@dataclass(frozen=True)
class NormLine:
    figure: str
    percent: int  # of the others, strictly beyond this candidate in the sentence's direction
    group: int  # how many others completed this task (same rules, no accommodations)

    def sentence(self) -> str:
        return f"{FIGURES[self.figure][2]} {self.percent}% of {self.group} candidates on this task"


@dataclass(frozen=True)
class TaskNorms:
    task_id: ObjectId
    group: int
    lines: list[NormLine]  # empty while the group is smaller than MIN_GROUP

    @property
    def shown(self) -> bool:
        return bool(self.lines)


def _points(organization_id: ObjectId | None, metrics: ComputedMetrics) -> list[dict[str, Any]]:
    return [
        {
            "organization_id": organization_id,
            "task_id": item.task_id,
            "version": metrics.version,
            "attempt_id": metrics.attempt_id,
            **{figure: float(getattr(item, field)) for figure, (field, _, _) in FIGURES.items()},
        }
        for item in metrics.per_task_metrics
    ]


def record(db: Database, computed: Sequence[tuple[ComputedMetrics, SkillProfile]]) -> None:
    """Replace the norm points of these attempts (called as profiles are stored)."""
    if not computed:
        return
    attempt_ids = [metrics.attempt_id for metrics, _ in computed]
    # By _id alone, filtered here: a condition on another field would make the embedded store read
    # every attempt for each batch (recompute --all slowed from 64 to 41 attempts/s at 100,000).
    accommodated = {
        doc["_id"]
        for doc in db[dbmod.ATTEMPTS].find({"_id": {"$in": attempt_ids}}, {"accommodations": 1})
        if doc.get("accommodations") is not None
    }
    writes: list[Any] = [DeleteMany({"attempt_id": {"$in": attempt_ids}})]
    for metrics, profile in computed:
        if metrics.attempt_id not in accommodated:
            writes += [InsertOne(point) for point in _points(profile.organization_id, metrics)]
    db[dbmod.NORM_POINTS].bulk_write(writes, ordered=True)


def norms_for(db: Database, organization_id: ObjectId, metrics: ComputedMetrics) -> list[TaskNorms]:
    """Each completed task's norm lines for this attempt, among the others of its organisation.

    One read of the group's points per task, counted here: the embedded store
    counts by decoding every matching point, so the group's size and four
    ranges as five ``count_documents`` cost five reads of the group."""
    out = []
    projection = {"_id": 0, "attempt_id": 1, **dict.fromkeys(FIGURES, 1)}
    for item in metrics.per_task_metrics:
        group_query = {"organization_id": organization_id, "task_id": item.task_id, "version": metrics.version}
        points = list(db[dbmod.NORM_POINTS].find(group_query, projection))
        others = sum(1 for point in points if point.get("attempt_id") != metrics.attempt_id)
        lines = [] if others < MIN_GROUP else list(_lines(points, item, others))
        out.append(TaskNorms(item.task_id, others, lines))
    return out


def _lines(points: list[dict[str, Any]], item: PerTaskMetrics, others: int) -> Iterable[NormLine]:
    for figure, (field, direction, _) in FIGURES.items():
        value = float(getattr(item, field))
        values = [point[figure] for point in points if isinstance(point.get(figure), int | float)]
        beyond = sum(1 for v in values if (v > value if direction == "lower" else v < value))
        yield NormLine(figure, round(100 * beyond / others), others)


def rebuild(db: Database, organization_id: ObjectId | None = None, *, batch_size: int = 500) -> int:
    """Rebuild the norm points from the stored metrics and profiles; returns how many attempts they cover."""
    scope: dict[str, Any] = {} if organization_id is None else {"organization_id": organization_id}
    db[dbmod.NORM_POINTS].delete_many(scope)
    covered = 0
    last_id: ObjectId | None = None
    while True:
        query = scope if last_id is None else {**scope, "_id": {"$gt": last_id}}
        profiles = list(db[dbmod.PROFILES].find(query).sort("_id", ASCENDING).limit(batch_size))
        if not profiles:
            return covered
        last_id = profiles[-1]["_id"]
        by_attempt = {doc["attempt_id"]: SkillProfile.from_doc(doc) for doc in profiles}
        metrics = db[dbmod.METRICS].find({"attempt_id": {"$in": list(by_attempt)}})
        pairs = [(ComputedMetrics.from_doc(doc), by_attempt[doc["attempt_id"]]) for doc in metrics]
        record(db, pairs)
        covered += len(pairs)
