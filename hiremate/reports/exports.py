"""CSV exports: candidates, per-task metrics and raw events, for the
organisation (filtered by completion date and position, streamed in
batches) or for one attempt; each export is written to the audit log.

Two styles (``ExportStyle``). ``spreadsheet``, the default, is for people:
headers in words, the option's text beside its id, the reasoning text in the
per-task file, times as ``YYYY-MM-DD HH:MM`` in the organisation's time zone
(named in the header: ``Completed (Europe/Paris)``), shares as percentages
with ``(%)`` in the header, labels in words, empty cells for anything
missing. ``raw`` is for scripts: the machine columns (``*_CSV_COLUMNS``),
ISO 8601 UTC times, fractions. Both are UTF-8 with a BOM, CRLF, and safe
against formula injection (``hiremate.csvsafe``). Date filters are whole
days in the organisation's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bson import ObjectId

from hiremate import db as dbmod
from hiremate import organizations, reviews
from hiremate.csvsafe import CsvWriter
from hiremate.errors import ReportError
from hiremate.ids import as_object_id
from hiremate.models import PAYLOAD_MODELS, ComputedMetrics, EventType
from hiremate.reports._common import _NEWEST_COMPLETED, _get, _lookup
from hiremate.reports.columns import _PROFILE_LABELS, PROFILE_COLUMNS, column_label, humanize
from hiremate.scope import Scope
from hiremate.timeutil import local_time

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


class ExportStyle(StrEnum):
    """How an export is written: for people (the default) or for scripts."""

    SPREADSHEET = "spreadsheet"
    RAW = "raw"


ColumnKind = Literal["text", "time", "percent", "words"]


@dataclass(frozen=True)
class SheetColumn:
    """One column of a spreadsheet-style export: the value's key in the row,
    its header, and how the value is shown (``time``: local time, the zone
    added to the header; ``percent``: a 0..1 share as a number of percent;
    ``words``: a stored label in words)."""

    key: str
    header: str
    kind: ColumnKind = "text"


def _col(key: str, kind: ColumnKind = "text", header: str | None = None) -> SheetColumn:
    return SheetColumn(key, header or column_label(key), kind)


def _field_header(field: str) -> str:
    """A payload field in words: ``view_duration_ms`` -> ``View duration (ms)``."""
    if field.endswith("_ms"):
        return f"{humanize(field[:-3])} (ms)"
    words = humanize(field)
    return words[:-3] + " ID" if words.endswith(" id") else words


CANDIDATES_SHEET_COLUMNS = [
    _col("candidate_name"),
    _col("candidate_email"),
    _col("position"),
    _col("status", "words"),
    _col("completed_at", "time"),
    *(
        _col(column, "percent", f"{column_label(column)} (%)")
        if column.endswith("_confidence")
        else _col(column, "words")
        for column in PROFILE_COLUMNS
    ),
    _col("summary", header="Summary"),
    _col("strengths", header="Strengths"),
    _col("considerations", header="Considerations"),
    _col("review_state", "words"),
    _col("decision", "words"),
    _col("decided_by"),
    _col("decided_at", "time"),
    _col("profile_version", header="Rules version"),
    _col("generated_at", "time", "Profile computed"),
    _col("attempt_id", header="Attempt ID"),
]
PER_TASK_SHEET_COLUMNS = [
    _col("candidate_name"),
    _col("candidate_email"),
    _col("position"),
    _col("completed_at", "time"),
    _col("task_number", header="Task number"),
    _col("task_title"),
    _col("final_option"),
    _col("final_option_id", header="Final option ID"),
    _col("final_option_risk_level", "words", "Risk level"),
    _col("reasoning", header="Reasoning"),
    _col("time_spent_seconds"),
    _col("hesitation_seconds"),
    _col("hesitation_share", "percent", "Hesitation (%)"),
    _col("first_decision_speed_seconds", header=column_label("first_decision_seconds")),
    _col("decision_change_count", header=column_label("decision_changes")),
    _col("reasoning_word_count", header=column_label("reasoning_words")),
    _col("reasoning_logical_keywords_count", header=column_label("logical_keywords")),
    _col("reasoning_depth_score"),
    _col("idle_time_seconds", header=column_label("idle_seconds")),
    _col("focus_loss_count", header="Left the window (times)"),
    _col("metrics_version", header="Rules version"),
    _col("attempt_id", header="Attempt ID"),
    _col("task_id", header="Task ID"),
]


def _payload_sheet_columns() -> Iterator[SheetColumn]:
    for field in _PAYLOAD_FIELDS:
        yield _col(field, header=_field_header(field))
        if field.endswith("option_id"):  # the option's text beside its id
            yield _col(f"{field[:-3]}_text", header=humanize(field[:-3]))


EVENTS_SHEET_COLUMNS = [
    _col("attempt_id", header="Attempt ID"),
    _col("sequence_number", header="Sequence"),
    _col("task_number", header="Task number"),
    _col("task_title"),
    _col("event_type", "words"),
    _col("event_time", "time", "Time"),
    _col("timestamp", "time", "Stored"),
    _col("client_timestamp", "time", "Candidate's clock"),
    _col("task_id", header="Task ID"),
    *_payload_sheet_columns(),
]


def _sheet_cell(kind: ColumnKind, value: Any, zone: tzinfo) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return local_time(value, zone)
    if isinstance(value, bool):  # before numbers: bool is an int
        return "Yes" if value else "No"
    if kind == "percent" and isinstance(value, int | float):
        return round(float(value) * 100, 1) if value == value else None
    if kind == "words":
        return humanize(value)
    return value


class _Sheet:
    """A CSV being written in one style: rows go in as values by key."""

    def __init__(
        self, style: ExportStyle | str, raw: Sequence[str], sheet: Sequence[SheetColumn], zone: ZoneInfo
    ) -> None:
        self.style = ExportStyle(style)
        self.zone = zone
        self._raw = list(raw)
        self._sheet = list(sheet)
        if self.style == ExportStyle.RAW:
            self.writer = CsvWriter(self._raw)
        else:
            self.writer = CsvWriter([f"{c.header} ({zone.key})" if c.kind == "time" else c.header for c in self._sheet])

    @property
    def for_people(self) -> bool:
        return self.style == ExportStyle.SPREADSHEET

    def write(self, values: Mapping[str, Any]) -> None:
        if self.style == ExportStyle.RAW:
            self.writer.writerow(values.get(column) for column in self._raw)
        else:
            self.writer.writerow(_sheet_cell(c.kind, values.get(c.key), self.zone) for c in self._sheet)


def _zone(scope: Scope) -> ZoneInfo:
    return organizations.time_zone_for(scope.db, scope.organization_id)


def _day_start(value: date | datetime, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=zone)


def _profile_filter(
    scope: Scope,
    date_from: date | datetime | None,
    date_to: date | datetime | None,
    position: str | None,
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """Profiles (so: attempts that ended after starting) completed in the
    range. A date is a whole day in ``zone`` (the organisation's), and
    ``date_to`` includes its day."""
    query: dict[str, Any] = {}
    completed: dict[str, datetime] = {}
    if date_from is not None:
        completed |= dbmod.at_or_after(_day_start(date_from, zone))
    if date_to is not None:
        if isinstance(date_to, datetime):
            completed["$lte"] = _day_start(date_to, zone)
        else:
            completed["$lt"] = _day_start(date_to + timedelta(days=1), zone)
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
    sheet: _Sheet,
    projection: dict[str, Any],
    write: Callable[[_Sheet, list[dict[str, Any]]], None],
    date_from: date | datetime | None,
    date_to: date | datetime | None,
    position: str | None,
) -> bytes:
    """A CSV (``sheet``) about the profiles matching the filters (read with
    ``projection``, batch by batch, each batch written by ``write``),
    audited as an export of ``kind``."""
    query = _profile_filter(scope, date_from, date_to, position, sheet.zone)
    for batch in _profiles_in_batches(scope, query, projection):
        write(sheet, batch)
    # Whether a position narrowed it, not the position typed (no free text in the log).
    _audit_export(scope, kind, sheet, date_from=date_from, date_to=date_to, by_position=True if position else None)
    return sheet.writer.to_bytes()


def candidates_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
    style: ExportStyle | str = ExportStyle.SPREADSHEET,
) -> bytes:
    """Every candidate with a profile, newest completion first
    (``CANDIDATES_SHEET_COLUMNS``, or ``CANDIDATES_CSV_COLUMNS`` raw); dates
    filter on completion."""

    def write(sheet: _Sheet, batch: list[dict[str, Any]]) -> None:
        reviewed = reviews.summaries(scope, [doc["attempt_id"] for doc in batch])
        for doc in batch:
            sheet.write(_candidate_values(doc, reviewed.get(doc["attempt_id"])))

    sheet = _Sheet(style, CANDIDATES_CSV_COLUMNS, CANDIDATES_SHEET_COLUMNS, _zone(scope))
    return _export_profiled(scope, "candidates", sheet, _CANDIDATES_CSV_PROJECTION, write, date_from, date_to, position)


_CANDIDATES_CSV_PROJECTION = {
    "metrics_id": 0,
    "thinking_style.evidence": 0,
    "decision_pattern.evidence": 0,
    "risk_orientation.evidence": 0,
    "communication_style.evidence": 0,
}


def _candidate_values(doc: dict[str, Any], review: reviews.ReviewSummary | None = None) -> dict[str, Any]:
    reviewable = doc.get("attempt_status") == "completed"
    state = (review.state if review else reviews.ReviewState.AWAITING).value if reviewable else None
    decision = review.decision if review and review.decision else None
    return {
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


def per_task_metrics_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
    style: ExportStyle | str = ExportStyle.SPREADSHEET,
) -> bytes:
    """One row per completed task of every profiled attempt
    (``PER_TASK_SHEET_COLUMNS``, or ``PER_TASK_CSV_COLUMNS`` raw)."""
    projection = {"attempt_id": 1, "candidate_name": 1, "candidate_email": 1, "position": 1, "completed_at": 1}

    def write(sheet: _Sheet, batch: list[dict[str, Any]]) -> None:
        _write_per_task_rows(scope, sheet, batch)

    sheet = _Sheet(style, PER_TASK_CSV_COLUMNS, PER_TASK_SHEET_COLUMNS, _zone(scope))
    return _export_profiled(scope, "per_task_metrics", sheet, projection, write, date_from, date_to, position)


def attempt_metrics_csv(
    scope: Scope, attempt_id: str | ObjectId, *, style: ExportStyle | str = ExportStyle.SPREADSHEET
) -> bytes:
    """The per-task metrics of one attempt (just the header until it has
    metrics). Raises ReportError when it is not one of this organisation's."""
    attempt = _scoped_attempt(scope, attempt_id)
    sheet = _Sheet(style, PER_TASK_CSV_COLUMNS, PER_TASK_SHEET_COLUMNS, _zone(scope))
    candidate = {
        "attempt_id": attempt["_id"],
        "candidate_name": _get(attempt, "candidate_info.name"),
        "candidate_email": _get(attempt, "candidate_info.email"),
        "position": _get(attempt, "candidate_info.position"),
        "completed_at": attempt.get("completed_at"),
    }
    _write_per_task_rows(scope, sheet, [candidate])
    _audit_export(scope, "attempt_metrics", sheet, target_id=attempt["_id"])
    return sheet.writer.to_bytes()


def _scoped_attempt(scope: Scope, attempt_id: str | ObjectId) -> dict[str, Any]:
    oid = as_object_id(attempt_id)
    attempt = None
    if oid is not None:
        attempt = scope.collection(dbmod.ATTEMPTS).find_one(
            scope.where({"_id": oid}), {"candidate_info": 1, "completed_at": 1}
        )
    if attempt is None:
        raise ReportError(f"no attempt {attempt_id} in your organisation")
    return attempt


def _write_per_task_rows(scope: Scope, sheet: _Sheet, candidates: list[dict[str, Any]]) -> None:
    """``candidates`` carry attempt_id and the candidate fields; one query for
    their metrics, one for their tasks and, for people, one for the
    reasoning they submitted."""
    ids = [doc["attempt_id"] for doc in candidates]
    # Metrics carry no organisation: these ids come from scoped documents.
    metrics = _lookup(scope.collection(dbmod.METRICS), {}, "attempt_id", ids)
    tasks = _task_info(scope, ids)
    reasoning = _reasoning_texts(scope, ids) if sheet.for_people else {}
    for candidate in candidates:
        doc = metrics.get(candidate["attempt_id"])
        if doc is None:
            continue
        computed = ComputedMetrics.from_doc(doc)
        numbers = tasks.get(candidate["attempt_id"], {})
        for item in computed.per_task_metrics:
            task = numbers.get(item.task_id)
            spent = item.time_spent_seconds
            sheet.write(
                {
                    **candidate,
                    **item.model_dump(),
                    "task_number": task.number if task else None,
                    "task_title": task.title if task else None,
                    "final_option": task.options.get(item.final_option_id) if task else None,
                    "hesitation_share": item.hesitation_seconds / spent if spent > 0 else None,
                    "reasoning": reasoning.get((candidate["attempt_id"], item.task_id)),
                    "metrics_version": computed.version,
                }
            )


@dataclass(frozen=True)
class _TaskInfo:
    number: int  # in the attempt's order, from 1
    title: str
    options: dict[str, str]  # option id -> text


def _task_info(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[ObjectId, _TaskInfo]]:
    """attempt id -> task id -> its number, title and option texts, reading
    only those fields of the snapshots."""
    projection = {
        "task_ids": 1,
        "task_snapshots._id": 1,
        "task_snapshots.title": 1,
        "task_snapshots.options.id": 1,
        "task_snapshots.options.text": 1,
    }
    attempts = _lookup(scope.collection(dbmod.ATTEMPTS), scope.where(), "_id", attempt_ids, projection)
    result: dict[ObjectId, dict[ObjectId, _TaskInfo]] = {}
    for doc in attempts.values():
        snapshots = {snap.get("_id"): snap for snap in doc.get("task_snapshots") or []}
        tasks: dict[ObjectId, _TaskInfo] = {}
        for number, task_id in enumerate(doc.get("task_ids") or [], start=1):
            snap = snapshots.get(task_id) or {}
            options = {option.get("id"): option.get("text") for option in snap.get("options") or []}
            tasks[task_id] = _TaskInfo(number, snap.get("title") or f"Task {number}", options)
        result[doc["_id"]] = tasks
    return result


def _reasoning_texts(scope: Scope, attempt_ids: list[ObjectId]) -> dict[tuple[ObjectId, ObjectId], str]:
    """(attempt id, task id) -> the reasoning last submitted, exactly as typed."""
    # Events carry no organisation: these ids come from scoped documents.
    cursor = (
        scope.collection(dbmod.EVENTS)
        .find(
            {"attempt_id": {"$in": attempt_ids}, "event_type": EventType.REASONING_SUBMITTED.value},
            {"attempt_id": 1, "task_id": 1, "payload.final_text": 1},
        )
        .sort([("attempt_id", 1), ("sequence_number", 1)])
    )
    texts: dict[tuple[ObjectId, ObjectId], str] = {}
    for doc in cursor:
        text = _get(doc, "payload.final_text")
        if isinstance(text, str):
            texts[(doc["attempt_id"], doc["task_id"])] = text  # the last one wins
    return texts


def events_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
    attempt_id: str | ObjectId | None = None,
    style: ExportStyle | str = ExportStyle.SPREADSHEET,
) -> bytes:
    """Events (``EVENTS_SHEET_COLUMNS``, or ``EVENTS_CSV_COLUMNS`` raw: one
    payload field a column), by attempt and sequence. With ``attempt_id``:
    that attempt's events, whatever its status (ReportError when it is not
    one of this organisation's); otherwise those of every profiled attempt
    matching the filters."""
    sheet = _Sheet(style, EVENTS_CSV_COLUMNS, EVENTS_SHEET_COLUMNS, _zone(scope))
    if attempt_id is not None:
        attempt = _scoped_attempt(scope, attempt_id)
        _write_events(scope, sheet, [attempt["_id"]])
        _audit_export(scope, "attempt_events", sheet, target_id=attempt["_id"])
        return sheet.writer.to_bytes()

    def write(sheet: _Sheet, batch: list[dict[str, Any]]) -> None:
        _write_events(scope, sheet, [doc["attempt_id"] for doc in batch])

    projection = {"attempt_id": 1, "completed_at": 1}
    return _export_profiled(scope, "events", sheet, projection, write, date_from, date_to, position)


def attempt_events_csv(
    scope: Scope, attempt_id: str | ObjectId, *, style: ExportStyle | str = ExportStyle.SPREADSHEET
) -> bytes:
    """The events of one attempt; ReportError when it is not one of this organisation's."""
    return events_csv(scope, attempt_id=attempt_id, style=style)


def _write_events(scope: Scope, sheet: _Sheet, attempt_ids: list[ObjectId]) -> None:
    """Each attempt's events together and in sequence order (the unique
    index's order; attempts within one batch follow their ids)."""
    tasks = _task_info(scope, attempt_ids) if sheet.for_people else {}
    cursor = (
        scope.collection(dbmod.EVENTS)
        .find({"attempt_id": {"$in": attempt_ids}}, {"metadata": 0})
        .sort([("attempt_id", 1), ("sequence_number", 1)])
        .batch_size(EXPORT_BATCH_SIZE * 4)
    )
    for doc in cursor:
        sheet.write(_event_values(doc, tasks.get(doc.get("attempt_id"), {})))


def _event_values(doc: dict[str, Any], tasks: dict[ObjectId, _TaskInfo]) -> dict[str, Any]:
    payload = doc.get("payload") or {}
    values = {field: payload.get(field) for field in _PAYLOAD_FIELDS}
    task = tasks.get(doc.get("task_id"))
    if task is not None:
        for field in _PAYLOAD_FIELDS:
            if field.endswith("option_id") and values[field] is not None:
                values[f"{field[:-3]}_text"] = task.options.get(values[field])
    values.update(
        attempt_id=doc.get("attempt_id"),
        sequence_number=doc.get("sequence_number"),
        task_id=doc.get("task_id"),
        task_number=task.number if task else None,
        task_title=task.title if task else None,
        event_type=doc.get("event_type"),
        event_time=doc.get("event_time"),
        timestamp=doc.get("timestamp"),
        client_timestamp=doc.get("client_timestamp"),
    )
    return values


def _audit_export(scope: Scope, kind: str, sheet: _Sheet | None, *, target_id: Any = None, **filters: Any) -> None:
    """Write one export to the audit log: what, how many rows, which filters.
    Every download of organisation data goes through here (the PDF report too)."""
    details = {key: value for key, value in filters.items() if value is not None}
    for key, value in details.items():
        if isinstance(value, date):  # the audit log stores plain values
            details[key] = value.isoformat()
    if sheet is not None:
        details.setdefault("rows", sheet.writer.rows_written)
        details.setdefault("style", sheet.style.value)
    scope.audit("export", "attempt" if target_id else "csv", target_id, kind=kind, **details)
