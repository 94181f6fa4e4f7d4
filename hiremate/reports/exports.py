"""CSV exports: candidates, per-task metrics and raw events, for the
organisation (filtered by completion date and position, streamed in
batches) or for one attempt; each export is written to the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bson import ObjectId

from hiremate import db as dbmod
from hiremate import reviews
from hiremate.csvsafe import CsvWriter
from hiremate.errors import ReportError
from hiremate.ids import as_object_id
from hiremate.models import PAYLOAD_MODELS, ComputedMetrics
from hiremate.reports._common import _NEWEST_COMPLETED, _get, _lookup
from hiremate.reports.columns import _PROFILE_LABELS, PROFILE_COLUMNS
from hiremate.scope import Scope

EXPORT_BATCH_SIZE = 500

CANDIDATES_CSV_COLUMNS = [
    "attempt_id",
    "candidate_name",
    "candidate_email",
    "position",
    "status",
    "completed_at",
    *PROFILE_COLUMNS,
    "summary",
    "strengths",
    "considerations",
    "profile_version",
    "generated_at",
    # A person's review (hiremate.reviews): awaiting_review or reviewed for a
    # completed attempt (empty otherwise), the latest decision, who and when.
    "review_state",
    "decision",
    "decided_by",
    "decided_at",
]
PER_TASK_CSV_COLUMNS = [
    "attempt_id",
    "candidate_name",
    "candidate_email",
    "position",
    "task_number",
    "task_id",
    "task_title",
    "time_spent_seconds",
    "hesitation_seconds",
    "first_decision_speed_seconds",
    "decision_change_count",
    "final_option_id",
    "final_option_risk_level",
    "reasoning_depth_score",
    "reasoning_word_count",
    "reasoning_logical_keywords_count",
    "idle_time_seconds",
    "focus_loss_count",
    "metrics_version",
]
# Every payload field of every event type, once, in the protocol's order.
_PAYLOAD_FIELDS = list(dict.fromkeys(field for model in PAYLOAD_MODELS.values() for field in model.model_fields))
EVENTS_CSV_COLUMNS = [
    "attempt_id",
    "sequence_number",
    "task_id",
    "event_type",
    "event_time",
    "timestamp",
    "client_timestamp",
    *_PAYLOAD_FIELDS,
]


def _day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _profile_filter(
    scope: Scope, date_from: date | datetime | None, date_to: date | datetime | None, position: str | None
) -> dict[str, Any]:
    """Profiles (so: attempts that ended after starting) completed in the
    range. A date is a whole UTC day, and ``date_to`` includes its day."""
    query: dict[str, Any] = {}
    completed: dict[str, datetime] = {}
    if date_from is not None:
        completed |= dbmod.at_or_after(_day_start(date_from))
    if date_to is not None:
        if isinstance(date_to, datetime):
            completed["$lte"] = _day_start(date_to)
        else:
            completed["$lt"] = _day_start(date_to + timedelta(days=1))
    if completed:
        query["completed_at"] = completed
    if position:
        query["position"] = position
    return scope.where(query)


def _profiles_in_batches(
    scope: Scope, query: dict[str, Any], projection: dict[str, Any] | None = None
) -> Iterator[list[dict[str, Any]]]:
    cursor = (
        scope.collection(dbmod.PROFILES).find(query, projection).sort(_NEWEST_COMPLETED).batch_size(EXPORT_BATCH_SIZE)
    )
    batch: list[dict[str, Any]] = []
    for doc in cursor:
        batch.append(doc)
        if len(batch) == EXPORT_BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _export_profiled(
    scope: Scope,
    kind: str,
    columns: list[str],
    projection: dict[str, Any],
    write: Callable[[CsvWriter, list[dict[str, Any]]], None],
    date_from: date | datetime | None,
    date_to: date | datetime | None,
    position: str | None,
) -> bytes:
    """A CSV of ``columns`` about the profiles matching the filters (read
    with ``projection``, batch by batch, each batch written by ``write``),
    audited as an export of ``kind``."""
    writer = CsvWriter(columns)
    query = _profile_filter(scope, date_from, date_to, position)
    for batch in _profiles_in_batches(scope, query, projection):
        write(writer, batch)
    # Whether a position narrowed it, not the position typed (no free text in the log).
    _audit_export(scope, kind, writer, date_from=date_from, date_to=date_to, by_position=True if position else None)
    return writer.to_bytes()


def candidates_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
) -> bytes:
    """Every candidate with a profile, newest completion first
    (``CANDIDATES_CSV_COLUMNS``); dates filter on completion."""

    def write(writer: CsvWriter, batch: list[dict[str, Any]]) -> None:
        reviewed = reviews.summaries(scope, [doc["attempt_id"] for doc in batch])
        writer.writerows(_candidate_csv_row(doc, reviewed.get(doc["attempt_id"])) for doc in batch)

    return _export_profiled(
        scope, "candidates", CANDIDATES_CSV_COLUMNS, _CANDIDATES_CSV_PROJECTION, write, date_from, date_to, position
    )


_CANDIDATES_CSV_PROJECTION = {
    "metrics_id": 0,
    "thinking_style.evidence": 0,
    "decision_pattern.evidence": 0,
    "risk_orientation.evidence": 0,
    "communication_style.evidence": 0,
}


def _candidate_csv_row(doc: dict[str, Any], review: reviews.ReviewSummary | None = None) -> list[Any]:
    reviewable = doc.get("attempt_status") == "completed"
    state = (review.state if review else reviews.ReviewState.AWAITING).value if reviewable else None
    decision = review.decision if review and review.decision else None
    values = {
        "attempt_id": doc.get("attempt_id"),
        "candidate_name": doc.get("candidate_name"),
        "candidate_email": doc.get("candidate_email"),
        "position": doc.get("position"),
        "status": doc.get("attempt_status"),
        "completed_at": doc.get("completed_at"),
        "thinking_style_confidence": _get(doc, "thinking_style.confidence"),
        "decision_pattern_confidence": _get(doc, "decision_pattern.confidence"),
        "risk_orientation_confidence": _get(doc, "risk_orientation.confidence"),
        "communication_style_confidence": _get(doc, "communication_style.confidence"),
        "summary": doc.get("overall_summary"),
        "strengths": doc.get("strengths") or [],
        "considerations": doc.get("considerations") or [],
        "profile_version": doc.get("version"),
        "generated_at": doc.get("generated_at"),
        "review_state": state,
        "decision": decision.value if decision else None,
        "decided_by": review.decided_by if decision and review else None,
        "decided_at": review.decided_at if decision and review else None,
        **{column: _get(doc, path) for column, (path, _) in _PROFILE_LABELS.items()},
    }
    return [values[column] for column in CANDIDATES_CSV_COLUMNS]


def per_task_metrics_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
) -> bytes:
    """One row per completed task of every profiled attempt (``PER_TASK_CSV_COLUMNS``)."""
    projection = {"attempt_id": 1, "candidate_name": 1, "candidate_email": 1, "position": 1, "completed_at": 1}

    def write(writer: CsvWriter, batch: list[dict[str, Any]]) -> None:
        _write_per_task_rows(scope, writer, batch)

    return _export_profiled(
        scope, "per_task_metrics", PER_TASK_CSV_COLUMNS, projection, write, date_from, date_to, position
    )


def attempt_metrics_csv(scope: Scope, attempt_id: str | ObjectId) -> bytes:
    """The per-task metrics of one attempt (just the header until it has
    metrics). Raises ValueError when it is not one of this organisation's."""
    attempt = _scoped_attempt(scope, attempt_id)
    writer = CsvWriter(PER_TASK_CSV_COLUMNS)
    candidate = {
        "attempt_id": attempt["_id"],
        "candidate_name": _get(attempt, "candidate_info.name"),
        "candidate_email": _get(attempt, "candidate_info.email"),
        "position": _get(attempt, "candidate_info.position"),
    }
    _write_per_task_rows(scope, writer, [candidate])
    _audit_export(scope, "attempt_metrics", writer, target_id=attempt["_id"])
    return writer.to_bytes()


def _scoped_attempt(scope: Scope, attempt_id: str | ObjectId) -> dict[str, Any]:
    oid = as_object_id(attempt_id)
    attempt = None
    if oid is not None:
        attempt = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}), {"candidate_info": 1})
    if attempt is None:
        raise ReportError(f"no attempt {attempt_id} in your organisation")
    return attempt


def _write_per_task_rows(scope: Scope, writer: CsvWriter, candidates: list[dict[str, Any]]) -> None:
    """``candidates`` carry attempt_id and the candidate fields; one query for
    their metrics, one for their task titles."""
    ids = [doc["attempt_id"] for doc in candidates]
    # Metrics carry no organisation: these ids come from scoped documents.
    metrics = _lookup(scope.collection(dbmod.METRICS), {}, "attempt_id", ids)
    titles = _task_titles(scope, ids)
    for candidate in candidates:
        doc = metrics.get(candidate["attempt_id"])
        if doc is None:
            continue
        computed = ComputedMetrics.from_doc(doc)
        numbers = titles.get(candidate["attempt_id"], {})
        for item in computed.per_task_metrics:
            number, title = numbers.get(item.task_id, (None, None))
            values = {
                **candidate,
                **item.model_dump(),
                "task_number": number,
                "task_title": title,
                "metrics_version": computed.version,
            }
            writer.writerow(values.get(column) for column in PER_TASK_CSV_COLUMNS)


def _task_titles(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[ObjectId, tuple[int, str]]]:
    """attempt id -> task id -> (number in the attempt, title), reading only
    the snapshots' ids and titles."""
    projection = {"task_ids": 1, "task_snapshots._id": 1, "task_snapshots.title": 1}
    attempts = _lookup(scope.collection(dbmod.ATTEMPTS), scope.where(), "_id", attempt_ids, projection)
    result: dict[ObjectId, dict[ObjectId, tuple[int, str]]] = {}
    for doc in attempts.values():
        titles = {snap.get("_id"): snap.get("title") for snap in doc.get("task_snapshots") or []}
        result[doc["_id"]] = {
            task_id: (number, titles.get(task_id) or f"Task {number}")
            for number, task_id in enumerate(doc.get("task_ids") or [], start=1)
        }
    return result


def events_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
    attempt_id: str | ObjectId | None = None,
) -> bytes:
    """Raw events (``EVENTS_CSV_COLUMNS``, one payload field a column), by
    attempt and sequence. With ``attempt_id``: that attempt's events,
    whatever its status (ValueError when it is not one of this
    organisation's); otherwise those of every profiled attempt matching the
    filters."""
    if attempt_id is not None:
        attempt = _scoped_attempt(scope, attempt_id)
        writer = CsvWriter(EVENTS_CSV_COLUMNS)
        _write_events(scope, writer, [attempt["_id"]])
        _audit_export(scope, "attempt_events", writer, target_id=attempt["_id"])
        return writer.to_bytes()

    def write(writer: CsvWriter, batch: list[dict[str, Any]]) -> None:
        _write_events(scope, writer, [doc["attempt_id"] for doc in batch])

    projection = {"attempt_id": 1, "completed_at": 1}
    return _export_profiled(scope, "events", EVENTS_CSV_COLUMNS, projection, write, date_from, date_to, position)


def attempt_events_csv(scope: Scope, attempt_id: str | ObjectId) -> bytes:
    """The events of one attempt; ValueError when it is not one of this organisation's."""
    return events_csv(scope, attempt_id=attempt_id)


def _write_events(scope: Scope, writer: CsvWriter, attempt_ids: list[ObjectId]) -> None:
    """Each attempt's events together and in sequence order (the unique
    index's order; attempts within one batch follow their ids)."""
    cursor = (
        scope.collection(dbmod.EVENTS)
        .find({"attempt_id": {"$in": attempt_ids}}, {"metadata": 0})
        .sort([("attempt_id", 1), ("sequence_number", 1)])
        .batch_size(EXPORT_BATCH_SIZE * 4)
    )
    writer.writerows(_event_row(doc) for doc in cursor)


def _event_row(doc: dict[str, Any]) -> list[Any]:
    payload = doc.get("payload") or {}
    head = [
        doc.get("attempt_id"),
        doc.get("sequence_number"),
        doc.get("task_id"),
        doc.get("event_type"),
        doc.get("event_time"),
        doc.get("timestamp"),
        doc.get("client_timestamp"),
    ]
    return head + [payload.get(field) for field in _PAYLOAD_FIELDS]


def _audit_export(scope: Scope, kind: str, writer: CsvWriter, *, target_id: Any = None, **filters: Any) -> None:
    details = {key: value for key, value in filters.items() if value is not None}
    for key, value in details.items():
        if isinstance(value, date):  # the audit log stores plain values
            details[key] = value.isoformat()
    scope.audit("export", "attempt" if target_id else "csv", target_id, kind=kind, rows=writer.rows_written, **details)
