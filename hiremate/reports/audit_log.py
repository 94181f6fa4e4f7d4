"""The admins' audit page: the organisation's audit entries, newest first,
filtered and paged by (at, _id), and their CSV export (itself audited as an
``export`` of kind ``audit``).

A page reads at most ``PAGE_SIZE`` + 1 entries through the index
(organization_id, at, _id); the log grows forever, so nothing here reads it
whole. Actors are named by the dashboard's rule (``dashboard.actor_names``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bson import ObjectId

from hiremate import dashboard
from hiremate import db as dbmod
from hiremate.csvsafe import CsvWriter
from hiremate.ids import as_object_id
from hiremate.scope import Scope
from hiremate.timeutil import iso

PAGE_SIZE = 200
MAX_CSV_ROWS = 50_000
CSV_COLUMNS = ("at", "action", "actor", "actor_id", "target_type", "target_id", "details", "seq", "hmac")
_ACTION_NAME = re.compile(r"[a-z_]+(\.[a-z_]+)*")
ACTOR_COMMAND_LINE = "cli"  # the actor filter's value for what `python -m hiremate` did


@dataclass(frozen=True)
class AuditFilters:
    """Days are whole UTC days, both included; ``actor`` a user id or ``"cli"``."""

    date_from: date | None = None
    date_to: date | None = None
    action: str | None = None
    actor: str | None = None
    target_id: str | None = None

    def as_details(self) -> dict[str, Any]:
        """What the export's audit entry records: ids, dates and the action name only."""
        # Typed filters are kept only when they are what they claim (an action
        # name, an id): anything else typed is free text and stays out of the log.
        action = (self.action or "").strip()
        target = (self.target_id or "").strip()
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "filter_action": action if _ACTION_NAME.fullmatch(action) else (True if action else None),
            "filter_actor": self.actor or None,
            "filter_target_id": target if as_object_id(target) else (True if target else None),
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class AuditRow:
    id: ObjectId
    at: datetime
    action: str
    actor: str
    actor_id: str | None
    target_type: str | None
    target_id: str | None
    details: str  # JSON
    seq: int | None
    hmac: str


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    older: tuple[datetime, ObjectId] | None  # where the next (older) page starts; None: this is the oldest


def _query(scope: Scope, filters: AuditFilters, before: tuple[datetime, ObjectId] | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    at: dict[str, datetime] = {}
    if filters.date_from:
        at["$gte"] = datetime.combine(filters.date_from, time(), UTC)
    if filters.date_to:
        at["$lt"] = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
    if at:
        query["at"] = at
    if filters.action:
        query["action"] = filters.action.strip()
    if filters.actor == ACTOR_COMMAND_LINE:
        query["$or"] = [{"actor_id": None}, {"details.via": "cli"}]
    elif filters.actor:
        query["actor_id"] = as_object_id(filters.actor) or filters.actor
    if filters.target_id:
        query["target_id"] = filters.target_id.strip()
    if before is not None:
        when, last_id = before
        older = {"$or": [{"at": {"$lt": when}}, {"at": when, "_id": {"$lt": last_id}}]}
        query = {"$and": [query, older]} if query else older
    return scope.where(query)


def _rows(scope: Scope, docs: list[dict[str, Any]]) -> list[AuditRow]:
    actors = dashboard.actor_names(scope, docs)
    return [
        AuditRow(
            id=doc["_id"],
            at=doc["at"],
            action=doc.get("action", ""),
            actor=actor,
            actor_id=str(doc["actor_id"]) if doc.get("actor_id") else None,
            target_type=doc.get("target_type"),
            target_id=doc.get("target_id"),
            details=json.dumps(doc.get("details") or {}, sort_keys=True, default=str),
            seq=doc.get("seq"),
            hmac=doc.get("hmac", ""),
        )
        for doc, actor in zip(docs, actors, strict=True)
    ]


def _find(scope: Scope, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    cursor = scope.collection(dbmod.AUDIT_LOG).find(query).sort([("at", -1), ("_id", -1)]).limit(limit)
    return list(cursor)


def audit_page(
    scope: Scope,
    filters: AuditFilters,
    *,
    before: tuple[datetime, ObjectId] | None = None,
    limit: int | None = None,
) -> AuditPage:
    """One page of entries (``PAGE_SIZE`` unless told), newest first, older than ``before`` when given."""
    limit = limit or PAGE_SIZE
    docs = _find(scope, _query(scope, filters, before), limit + 1)
    older = (docs[limit - 1]["at"], docs[limit - 1]["_id"]) if len(docs) > limit else None
    return AuditPage(_rows(scope, docs[:limit]), older)


def actor_choices(scope: Scope) -> dict[str, str]:
    """Actor filter value -> label: the command line, then the organisation's users by name."""
    users = scope.collection(dbmod.USERS).find(scope.where(), {"full_name": 1, "email": 1}).sort("full_name", 1)
    choices = {ACTOR_COMMAND_LINE: dashboard.COMMAND_LINE}
    choices |= {str(doc["_id"]): doc.get("full_name") or doc.get("email") or str(doc["_id"]) for doc in users}
    return choices


def audit_csv(scope: Scope, filters: AuditFilters, *, limit: int = MAX_CSV_ROWS) -> bytes:
    """The filtered entries as CSV (newest first, at most ``limit``), audited
    as an ``export`` of kind ``audit`` with the filters (ids and dates)."""
    writer = CsvWriter(CSV_COLUMNS)
    before: tuple[datetime, ObjectId] | None = None
    while writer.rows_written < limit:
        page = audit_page(scope, filters, before=before, limit=min(1000, limit - writer.rows_written))
        writer.writerows(
            [iso(row.at), row.action, row.actor, row.actor_id, row.target_type, row.target_id, row.details,
             row.seq, row.hmac]
            for row in page.rows
        )  # fmt: skip
        if page.older is None:
            break
        before = page.older
    scope.audit("export", "csv", None, kind="audit", rows=writer.rows_written, **filters.as_details())
    return writer.to_bytes()
