"""The events: what each one's ``data`` holds, and the one-line calls that emit them.

``data`` holds ids, labels, states, times and links only: never a
candidate's name or email, nor what an accommodation request says (a
receiver that needs the person asks HireMate's API with the attempt id,
under its own access rules). Each call reads only when an endpoint of the
organisation wants the event, and never raises.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.settings import Settings, get_settings
from hiremate.timeutil import iso
from hiremate.webhooks._deliveries import emit, subscribers
from hiremate.webhooks._endpoints import (
    ACCOMMODATION_REQUESTED,
    ATTEMPT_COMPLETED,
    ATTEMPT_EXPIRED,
    ATTEMPT_STARTED,
    REVIEW_DECIDED,
)

log = logging.getLogger("hiremate.webhooks")

_ATTEMPT_FIELDS = {
    "organization_id": 1,
    "status": 1,
    "kit_id": 1,
    "started_at": 1,
    "completed_at": 1,
    "expires_at": 1,
    "updated_at": 1,
    "task_ids": 1,
    "accommodation_request.requested_at": 1,
}


def links(attempt_id: ObjectId, settings: Settings) -> dict[str, str]:
    """Where a recruiter reads the attempt in the recruiter app (a login is needed)."""
    return {
        "profile": f"{settings.app_url}/profile?attempt={attempt_id}",
        "assessment": f"{settings.app_url}/assessments?attempt={attempt_id}",
    }


def _attempt_data(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {
        "attempt_id": str(doc["_id"]),
        "status": str(doc.get("status")),
        "kit_id": str(doc["kit_id"]) if doc.get("kit_id") else None,
        "tasks": len(doc.get("task_ids") or []),
        "links": links(doc["_id"], settings),
    }


def _time(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def profile_summary(db: Database, attempt_id: ObjectId) -> dict[str, Any] | None:
    """The profile's labels per dimension, its version and evidence (no score exists)."""
    doc = db[dbmod.PROFILES].find_one(
        {"attempt_id": attempt_id},
        {
            "version": 1,
            "evidence_level": 1,
            "tasks_completed": 1,
            "thinking_style.primary": 1,
            "decision_pattern.speed": 1,
            "decision_pattern.consistency": 1,
            "risk_orientation.preference": 1,
            "communication_style.reasoning_depth": 1,
            "communication_style.logical_structure": 1,
            "generated_at": 1,
        },
    )
    if doc is None:
        return None

    def label(part: str, key: str) -> str | None:
        value = (doc.get(part) or {}).get(key)
        return None if value is None else str(value)

    return {
        "version": doc.get("version"),
        "generated_at": _time(doc.get("generated_at")),
        "evidence_level": doc.get("evidence_level"),
        "tasks_completed": doc.get("tasks_completed"),
        "labels": {
            "thinking_style": label("thinking_style", "primary"),
            "decision_speed": label("decision_pattern", "speed"),
            "decision_consistency": label("decision_pattern", "consistency"),
            "risk_orientation": label("risk_orientation", "preference"),
            "reasoning_depth": label("communication_style", "reasoning_depth"),
            "logical_structure": label("communication_style", "logical_structure"),
        },
    }


def review_state(db: Database, attempt_id: ObjectId) -> dict[str, Any]:
    """``awaiting_review`` or ``reviewed``, and the decision when one is recorded."""
    doc = db[dbmod.REVIEWS].find_one({"_id": attempt_id}, {"decision.value": 1, "decision.decided_at": 1})
    if doc is None:
        return {"state": "awaiting_review", "decision": None, "decided_at": None}
    decision = doc.get("decision") or {}
    return {"state": "reviewed", "decision": decision.get("value"), "decided_at": _time(decision.get("decided_at"))}


def _emit_for_attempt(
    db: Database,
    organization_id: ObjectId | None,
    attempt_id: ObjectId | None,
    event_type: str,
    settings: Settings | None,
    build: Any,
) -> int:
    """Emit ``event_type`` for the attempt when someone wants it; never raises."""
    try:
        if organization_id is None or attempt_id is None:
            return 0
        targets = subscribers(db, organization_id, event_type)
        if not targets:
            return 0
        settings = settings or get_settings()
        doc = db[dbmod.ATTEMPTS].find_one({"_id": attempt_id}, _ATTEMPT_FIELDS)
        if doc is None:
            return 0
        data = _attempt_data(doc, settings) | build(doc)
        return emit(db, organization_id, event_type, data, attempt_id=attempt_id, endpoints=targets)
    except Exception:
        log.exception("the %s webhook of attempt %s failed", event_type, attempt_id)
        return 0


def attempt_started(
    db: Database, organization_id: ObjectId | None, attempt_id: ObjectId | None, *, settings: Settings | None = None
) -> int:
    return _emit_for_attempt(
        db,
        organization_id,
        attempt_id,
        ATTEMPT_STARTED,
        settings,
        lambda doc: {"started_at": _time(doc.get("started_at"))},
    )


def attempt_completed(
    db: Database, organization_id: ObjectId | None, attempt_id: ObjectId | None, *, settings: Settings | None = None
) -> int:
    """After the profile is computed: the data carries its summary and the review state."""
    return _emit_for_attempt(
        db,
        organization_id,
        attempt_id,
        ATTEMPT_COMPLETED,
        settings,
        lambda doc: {
            "completed_at": _time(doc.get("completed_at")),
            "profile": profile_summary(db, doc["_id"]),
            "review": review_state(db, doc["_id"]),
        },
    )


def attempt_expired(
    db: Database, organization_id: ObjectId | None, attempt_id: ObjectId | None, *, settings: Settings | None = None
) -> int:
    return _emit_for_attempt(
        db,
        organization_id,
        attempt_id,
        ATTEMPT_EXPIRED,
        settings,
        lambda doc: {
            "expired_at": _time(doc.get("updated_at")),
            "started": doc.get("started_at") is not None,
            "profile": profile_summary(db, doc["_id"]) if doc.get("started_at") is not None else None,
        },
    )


def accommodation_requested(
    db: Database, organization_id: ObjectId | None, attempt_id: ObjectId | None, *, settings: Settings | None = None
) -> int:
    """What was asked for stays in HireMate (it may concern health): only that, and when."""
    return _emit_for_attempt(
        db,
        organization_id,
        attempt_id,
        ACCOMMODATION_REQUESTED,
        settings,
        lambda doc: {"requested_at": _time((doc.get("accommodation_request") or {}).get("requested_at"))},
    )


def review_decided(
    db: Database, organization_id: ObjectId | None, attempt_id: ObjectId | None, *, settings: Settings | None = None
) -> int:
    return _emit_for_attempt(
        db, organization_id, attempt_id, REVIEW_DECIDED, settings, lambda doc: {"review": review_state(db, doc["_id"])}
    )
