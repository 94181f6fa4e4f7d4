"""Norms without a score: where a candidate's figures on a task fall among
everyone in the organisation who completed the same task.

Descriptive only: norms never feed the labels (a profile stays a function of
its own attempt), they compare profiles of the same rule version, and they
leave out attempts with accommodations (their figures are not comparable,
and their presence is confidential). A percentile is a ranking, so the page
shows norms only on request ("Show norms") and only for groups of at least
``MIN_GROUP`` other candidates, always with the group's size.

They never scan profiles or points at view time. Each completed task of
each computed profile is one small document in ``norm_points`` (written as
profiles are stored, replaced when they are recomputed, deleted with the
attempt, rebuilt by ``python -m hiremate recount``), and every change of the
points is applied with ``$inc`` to per-group histograms in ``norm_counts``
(collection and ``_id`` scheme like ``hiremate.attempt_counts``), so a page
reads a few documents by ``_id`` whatever the group's size:

* ``kind: "group"``, one per (organisation, task, rule version): ``n``, the
  points in the group, and ``b.<figure>.<bucket>``, how many of their
  values fall in each coarse bucket (``EDGES``: half seconds near zero, up to
  hours far out; a few hundred at most, whatever the number of attempts).
* ``kind: "values"``, one per (group, bucket): ``v.<figure>.<value>``, how
  many points have exactly that value (``value_key``: the float's ``repr``,
  so counting stays exact: the metrics keep seconds to 4 decimals, counts
  and words are whole). A bucket holds values of a bounded range, so a
  document stays small; the four figures share them, so recording a batch
  touches fewer documents (each ``$inc`` upsert costs about 2 ms on the
  embedded store).
* ``kind: "meta"``, one per organisation: its histograms were built in full
  from its points by this ``COUNTS_VERSION``. A reader that finds none
  counts the organisation's points once (a store from before the
  histograms, or a new organisation), so upgrades just work.

"Strictly beyond" a value is then the buckets beyond its bucket plus the
exact values beyond it within its bucket: the same numbers as counting
every point of the group. Points with a figure that is not a number (NaN
included) count in the group and never as beyond, as before.

Drift and repair: there are no transactions, so a process that dies between
a point's write and its ``$inc`` leaves a histogram off by that point until
``python -m hiremate recount``, which rebuilds the points and then the
histograms from them (absolute values; run it with the ingest server
stopped). Readers never count below zero.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DeleteOne, ReplaceOne, UpdateOne
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.models import ComputedMetrics, SkillProfile
from hiremate.timeutil import utcnow

__all__ = [
    "COUNTS_VERSION",
    "EDGES",
    "FIGURES",
    "MIN_GROUP",
    "NormLine",
    "TaskNorms",
    "bucket_of",
    "ensure_counted",
    "forget",
    "norms_for",
    "rebuild",
    "record",
    "recount",
    "value_key",
]

log = logging.getLogger(__name__)

MIN_GROUP = 20

GROUP, VALUES, META = "group", "values", "meta"
COUNTS_VERSION = 1
WRITE_BATCH = 1000
# The coarse buckets' lower edges: bucket i holds the values v with EDGES[i-1] <= v < EDGES[i] (bucket 0:
# below 0, the last: from the last edge up, infinity included). Seconds to 4 decimals give at most
# 5,000 values a bucket near zero, 10,000 between 10 s and a minute (far fewer in practice);
# counts and words are whole, a handful a bucket.
EDGES: tuple[float, ...] = tuple(
    float(edge)
    for edge in (
        *(half / 2 for half in range(20)),  # 0 to 10 s by half seconds
        *range(10, 60),  # by seconds
        *range(60, 300, 5),
        *range(300, 1800, 30),
        *range(1800, 7200, 300),
        *(7200 * 2**power for power in range(30)),  # then doubling, to about 245 years
    )
)

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


# ---------------------------------------------------------------- the histograms' keys


def bucket_of(value: float) -> int | None:
    """The coarse bucket a figure's value is counted in (None for NaN, which
    is never beyond anything): ``a < b`` implies ``bucket_of(a) <= bucket_of(b)``."""
    return None if math.isnan(value) else bisect_right(EDGES, value)


def value_key(value: float) -> str:
    """A value as a field name, exactly (``repr`` round-trips a float; a field name holds no dot)."""
    return repr(float(value)).replace(".", ",")


def _value_of(key: str) -> float:
    return float(key.replace(",", "."))


def _group_id(organization_id: Any, task_id: Any, version: Any) -> str:
    return f"{organization_id}:{task_id}:{version}"


def _values_id(group_id: str, bucket: int) -> str:
    return f"{group_id}:{bucket}"


def _meta_id(organization_id: Any) -> str:
    return f"{organization_id}:{META}"


def _number(value: Any) -> float | None:
    """A figure as the comparison sees it: a number (NaN included), else None (not counted as a value)."""
    return float(value) if isinstance(value, int | float) else None


# A histogram document's _id and a field in it -> a count or a change.
Counts = dict[tuple[str, str], int]


def _cells(point: Mapping[str, Any], identities: dict[str, dict[str, Any]]) -> Iterable[tuple[str, str]]:
    """The histogram cells one point counts in; notes each document's identity fields in ``identities``."""
    group = {"organization_id": point.get("organization_id"), "task_id": point.get("task_id")}
    group["version"] = point.get("version")
    group_id = _group_id(group["organization_id"], group["task_id"], group["version"])
    identities.setdefault(group_id, {"kind": GROUP, **group})
    yield group_id, "n"
    for figure in FIGURES:
        value = _number(point.get(figure))
        bucket = None if value is None else bucket_of(value)
        if value is None or bucket is None:
            continue
        yield group_id, f"b.{figure}.{bucket}"
        values_id = _values_id(group_id, bucket)
        identities.setdefault(values_id, {"kind": VALUES, **group, "bucket": bucket})
        yield values_id, f"v.{figure}.{value_key(value)}"


def _delta(
    added: Iterable[Mapping[str, Any]], removed: Iterable[Mapping[str, Any]], identities: dict[str, dict[str, Any]]
) -> Counts:
    counts: Counts = {}
    for points, sign in ((added, 1), (removed, -1)):
        for point in points:
            for cell in _cells(point, identities):
                counts[cell] = counts.get(cell, 0) + sign
    return {cell: n for cell, n in counts.items() if n}


def _by_document(counts: Counts) -> dict[str, dict[str, int]]:
    grouped: dict[str, dict[str, int]] = {}
    for (doc_id, field), n in counts.items():
        grouped.setdefault(doc_id, {})[field] = n
    return grouped


def _increment(db: Database, counts: Counts, identities: dict[str, dict[str, Any]]) -> None:
    requests = [
        UpdateOne({"_id": doc_id}, {"$inc": fields, "$setOnInsert": identities[doc_id]}, upsert=True)
        for doc_id, fields in sorted(_by_document(counts).items())
    ]
    dbmod.upsert_in_batches(db[dbmod.NORM_COUNTS], requests, WRITE_BATCH)


# ---------------------------------------------------------------- writing


def record(db: Database, computed: Sequence[tuple[ComputedMetrics, SkillProfile]], *, count: bool = True) -> None:
    """Replace the norm points of these attempts (called as profiles are
    stored), and move the histograms by what changed: the points removed
    counted down, the new ones up. ``count=False`` leaves the histograms
    alone, for a bulk load that calls ``recount`` once at its end."""
    _replace(db, computed, count=count)


def _replace(db: Database, computed: Sequence[tuple[ComputedMetrics, SkillProfile]], *, count: bool) -> None:
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
    removed, _ = _delete_points(db, attempt_ids)
    added = [
        point
        for metrics, profile in computed
        if metrics.attempt_id not in accommodated
        for point in _points(profile.organization_id, metrics)
    ]
    if added:
        db[dbmod.NORM_POINTS].insert_many(added, ordered=True)
    if count:
        identities: dict[str, dict[str, Any]] = {}
        _increment(db, _delta(added, removed, identities), identities)


def _delete_points(db: Database, attempt_ids: Sequence[ObjectId]) -> tuple[list[dict[str, Any]], int]:
    """Delete these attempts' points; returns the points for the histograms
    to count down, and how many this call deleted.

    Read by ``attempt_id`` (an ``$in`` on the indexed field alone, which the
    index serves; newly stored attempts have none), then deleted by ``_id``
    in one bulk write (the embedded store takes about 150 ms for each
    ``find_one_and_delete``). When another process deleted some of them
    meanwhile (the same attempt recorded twice at once, or erased while
    recomputed), that process counts them down: all of them when this call
    deleted none; when it deleted only some, which ones is unknown, so none
    are counted down here and a warning says to recount."""
    if not attempt_ids:
        return [], 0
    points = db[dbmod.NORM_POINTS]
    found = list(points.find({"attempt_id": {"$in": list(attempt_ids)}}))
    if not found:
        return [], 0
    deleted = points.bulk_write([DeleteOne({"_id": point["_id"]}) for point in found], ordered=False).deleted_count
    if deleted == len(found):
        return found, deleted
    if deleted:
        log.warning(
            "%d of %d norm points were deleted by another process meanwhile: the norms' histograms may be off "
            "(run `python -m hiremate recount`)",
            len(found) - deleted,
            len(found),
        )
    return [], deleted


def forget(db: Database, attempt_ids: Sequence[ObjectId]) -> int:
    """Delete these attempts' norm points and take them off the histograms
    (the one deletion path, ``hiremate.erasure``); returns the points deleted."""
    removed, deleted = _delete_points(db, attempt_ids)
    if removed:
        identities: dict[str, dict[str, Any]] = {}
        _increment(db, _delta([], removed, identities), identities)
    return deleted


def rebuild(db: Database, organization_id: ObjectId | None = None, *, batch_size: int = 500) -> int:
    """Rebuild the norm points from the stored metrics and profiles, then the
    histograms from the points (``recount``); returns how many attempts they cover."""
    scope: dict[str, Any] = {} if organization_id is None else {"organization_id": organization_id}
    db[dbmod.NORM_POINTS].delete_many(scope)
    covered = 0
    last_id: ObjectId | None = None
    while True:
        query = scope if last_id is None else {**scope, "_id": {"$gt": last_id}}
        profiles = list(db[dbmod.PROFILES].find(query).sort("_id", ASCENDING).limit(batch_size))
        if not profiles:
            break
        last_id = profiles[-1]["_id"]
        by_attempt = {doc["attempt_id"]: SkillProfile.from_doc(doc) for doc in profiles}
        metrics = db[dbmod.METRICS].find({"attempt_id": {"$in": list(by_attempt)}})
        pairs = [(ComputedMetrics.from_doc(doc), by_attempt[doc["attempt_id"]]) for doc in metrics]
        _replace(db, pairs, count=False)  # counted in full below
        covered += len(pairs)
    recount(db, organization_id)
    return covered


def recount(db: Database, organization_id: ObjectId | None = None) -> int:
    """Set the histograms (of one organisation, or all) to what the stored
    points count, absolutely; returns the points counted. Documents that
    count nothing now are deleted. Run it with the ingest server stopped: a
    point recorded while it runs can be counted twice or not at all."""
    scope: dict[str, Any] = {} if organization_id is None else {"organization_id": organization_id}
    projection = {"_id": 0, "organization_id": 1, "task_id": 1, "version": 1, **dict.fromkeys(FIGURES, 1)}
    identities: dict[str, dict[str, Any]] = {}
    counts: Counts = {}
    organizations: set[Any] = set() if organization_id is None else {organization_id}
    counted = 0
    for point in db[dbmod.NORM_POINTS].find(scope, projection):
        counted += 1
        organizations.add(point.get("organization_id"))
        for cell in _cells(point, identities):
            counts[cell] = counts.get(cell, 0) + 1
    now = utcnow()
    documents = [
        {"_id": doc_id, **identities[doc_id], **_nested(fields)} for doc_id, fields in _by_document(counts).items()
    ]
    documents += [
        {"_id": _meta_id(org), "kind": META, "organization_id": org, "version": COUNTS_VERSION, "counted_at": now}
        for org in organizations
    ]
    written = {doc["_id"] for doc in documents}
    collection = db[dbmod.NORM_COUNTS]
    stale = [doc["_id"] for doc in collection.find(scope, {"_id": 1}) if doc["_id"] not in written]
    for first in range(0, len(documents), WRITE_BATCH):
        batch = documents[first : first + WRITE_BATCH]
        collection.bulk_write([ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in batch], ordered=False)
    for first in range(0, len(stale), WRITE_BATCH):
        collection.delete_many({"_id": {"$in": stale[first : first + WRITE_BATCH]}})
    return counted


def _nested(fields: Mapping[str, int]) -> dict[str, Any]:
    """``{"b.changes.3": 2, "n": 5}`` as the document ``$inc`` would have built: ``{"b": {"changes": {"3": 2}}, "n": 5}``."""
    nested: dict[str, Any] = {}
    for path, n in fields.items():
        *parents, leaf = path.split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = n
    return nested


def ensure_counted(db: Database, organization_id: ObjectId) -> bool:
    """Count the organisation's points once when its histograms were never
    built in full by this version (no meta document of ``COUNTS_VERSION``:
    a store from before the histograms, or a new organisation); True when it did."""
    meta = db[dbmod.NORM_COUNTS].find_one({"_id": _meta_id(organization_id)}, {"version": 1})
    if meta is not None and meta.get("version", 0) >= COUNTS_VERSION:
        return False
    recount(db, organization_id)
    return True


# ---------------------------------------------------------------- reading


def norms_for(db: Database, organization_id: ObjectId, metrics: ComputedMetrics) -> list[TaskNorms]:
    """Each completed task's norm lines for this attempt, among the others of its organisation.

    A few reads by ``_id`` or by the attempt, whatever the groups' sizes: the
    attempt's own points (they are in their groups, and not among the
    "others"), the groups' histograms (with the organisation's meta
    document), and the value document of each figure's bucket."""
    items = metrics.per_task_metrics
    if not items:
        return []
    counts = db[dbmod.NORM_COUNTS]
    group_ids = [_group_id(organization_id, item.task_id, metrics.version) for item in items]
    wanted = [*dict.fromkeys(group_ids), _meta_id(organization_id)]
    docs = {doc["_id"]: doc for doc in counts.find({"_id": {"$in": wanted}})}
    meta = docs.get(_meta_id(organization_id))
    if meta is None or meta.get("version", 0) < COUNTS_VERSION:
        recount(db, organization_id)
        docs = {doc["_id"]: doc for doc in counts.find({"_id": {"$in": wanted}})}
    own: dict[str, int] = {}
    for point in db[dbmod.NORM_POINTS].find(
        {"attempt_id": metrics.attempt_id}, {"organization_id": 1, "task_id": 1, "version": 1}
    ):
        key = _group_id(point.get("organization_id"), point.get("task_id"), point.get("version"))
        own[key] = own.get(key, 0) + 1
    others = [
        max(0, dbmod.counter_value(group_id, (docs.get(group_id) or {}).get("n")) - own.get(group_id, 0))
        for group_id in group_ids
    ]
    needed: dict[str, None] = {}
    for item, group_id, group in zip(items, group_ids, others, strict=True):
        if group >= MIN_GROUP:
            for field, _, _ in FIGURES.values():
                bucket = bucket_of(float(getattr(item, field)))
                if bucket is not None:
                    needed[_values_id(group_id, bucket)] = None
    if needed:
        docs |= {doc["_id"]: doc for doc in counts.find({"_id": {"$in": list(needed)}})}
    out = []
    for item, group_id, group in zip(items, group_ids, others, strict=True):
        lines = [] if group < MIN_GROUP else list(_lines(docs, group_id, item, group))
        out.append(TaskNorms(item.task_id, group, lines))
    return out


def _lines(docs: Mapping[str, Mapping[str, Any]], group_id: str, item: Any, others: int) -> Iterable[NormLine]:
    buckets_by_figure = (docs.get(group_id) or {}).get("b") or {}
    for figure, (field, direction, _) in FIGURES.items():
        value = float(getattr(item, field))
        bucket = bucket_of(value)
        beyond = 0
        if bucket is not None:  # NaN is beyond nothing, and nothing is beyond it
            lower = direction == "lower"  # "beyond" is then a greater value
            for key, n in (buckets_by_figure.get(figure) or {}).items():
                if int(key) > bucket if lower else int(key) < bucket:
                    beyond += dbmod.counter_value(f"{group_id}/{figure}/{key}", n)
            values = ((docs.get(_values_id(group_id, bucket)) or {}).get("v") or {}).get(figure) or {}
            for key, n in values.items():
                other = _value_of(key)
                if other > value if lower else other < value:
                    beyond += dbmod.counter_value(f"{group_id}/{figure}/{key}", n)
        yield NormLine(figure, round(100 * beyond / others), others)
