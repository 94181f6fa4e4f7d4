"""An organisation's settings and the notice its candidates are shown.

The settings (display name, contact, retention, notice additions, time zone)
are edited by the organisation's admins; every field has a default, so an
organisation stored before they existed reads as the defaults, and the
contact falls back to the first admin's email so issuing never fails.

The notice is what the candidate page's welcome states before anything is
observed (docs/protocol.md "Notice and consent"). Its ``version`` is derived
from everything the candidate is told, so the consent stored on an attempt
names exactly the text that candidate acknowledged: change a setting and
the next candidate acknowledges a new version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.auth import get_organization
from hiremate.errors import OrganizationError
from hiremate.models import Organization, OrganizationSettings, Role
from hiremate.scope import Scope

__all__ = [
    "NOTICE_TEMPLATE_VERSION",
    "Notice",
    "OrganizationSettingsUpdate",
    "contact_of",
    "get_organization",
    "notice_for",
    "time_zone_for",
    "time_zone_of",
    "update_settings",
]

# The page's own wording of the notice (ingest_server/static/index.html and
# app.js). Raise it when that wording changes what a candidate is told.
NOTICE_TEMPLATE_VERSION = "1"


class OrganizationSettingsUpdate(BaseModel):
    """What an admin may change; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=320)
    retention_days: int | None = Field(default=None, ge=30, le=3650)
    notice_additions: str | None = Field(default=None, max_length=4000)
    time_zone: str | None = Field(default=None, max_length=64)
    self_identification: bool | None = None
    reminder_hours_before_expiry: int | None = Field(default=None, ge=1, le=168)


class Notice(BaseModel):
    """The notice as the candidate page receives it (``assessment_info.notice``)."""

    version: str
    organization_name: str
    contact: str
    retention_days: int
    additions: str

    def public(self) -> dict[str, Any]:
        return self.model_dump()


def contact_of(db: Database, organization: Organization) -> str:
    """The contact candidates are given: the setting, else the first admin's email."""
    if organization.settings.contact:
        return organization.settings.contact
    admin = db[dbmod.USERS].find_one(
        {"organization_id": organization.id, "role": str(Role.ADMIN), "is_active": True},
        {"email": 1},
        sort=[("created_at", 1), ("_id", 1)],
    )
    return admin["email"] if admin else ""


def time_zone_of(organization: Organization | None) -> ZoneInfo:
    return ZoneInfo(organization.settings.time_zone if organization else "UTC")


def time_zone_for(db: Database, organization_id: ObjectId | None) -> ZoneInfo:
    """The time zone an organisation's people read times in (UTC when unknown):
    what exports and reports format their times in."""
    return time_zone_of(get_organization(db, organization_id))


def notice_for(db: Database, organization_id: ObjectId | None) -> Notice:
    """The notice of the organisation's candidates now (defaults when the organisation is unknown)."""
    organization = get_organization(db, organization_id)
    settings = organization.settings if organization else OrganizationSettings()
    told = {
        "organization_name": (settings.display_name or (organization.name if organization else "")).strip(),
        "contact": contact_of(db, organization) if organization else "",
        "retention_days": settings.retention_days,
        "additions": settings.notice_additions.strip(),
    }
    digest = hashlib.sha256(json.dumps(told, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Notice(version=f"{NOTICE_TEMPLATE_VERSION}-{digest[:10]}", **told)


def update_settings(scope: Scope, changes: OrganizationSettingsUpdate | dict[str, Any]) -> Organization:
    """An admin changes the organisation's settings; audited with the fields changed."""
    if not scope.is_admin:
        raise OrganizationError("Only an admin of your organisation can change its settings.")
    try:
        update = changes if isinstance(changes, OrganizationSettingsUpdate) else OrganizationSettingsUpdate(**changes)
        organization = get_organization(scope.db, scope.organization_id)
        if organization is None:
            raise OrganizationError("Your organisation no longer exists.")
        merged = organization.settings.model_dump() | {
            key: _blank_is_default(key, value) for key, value in update.model_dump(exclude_unset=True).items()
        }
        settings = OrganizationSettings(**merged)
    except ValidationError as exc:
        raise OrganizationError(_explain(exc)) from exc
    changed = sorted(k for k, v in settings.model_dump().items() if v != organization.settings.model_dump()[k])
    if not changed:
        return organization
    scope.db[dbmod.ORGANIZATIONS].update_one(
        {"_id": scope.organization_id}, {"$set": {"settings": settings.model_dump()}}
    )
    scope.audit("organization.settings_changed", "organization", scope.organization_id, fields=changed)
    return organization.model_copy(update={"settings": settings})


def _blank_is_default(key: str, value: Any) -> Any:
    """An emptied display name or contact goes back to its default (None)."""
    if key in {"display_name", "contact"} and isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str):
        return value.strip()
    return value


def _explain(exc: ValidationError) -> str:
    names = {
        "display_name": "Display name",
        "contact": "Contact",
        "retention_days": "Retention (days)",
        "notice_additions": "Notice additions",
        "time_zone": "Time zone",
        "self_identification": "Voluntary self-identification",
        "reminder_hours_before_expiry": "Reminder (hours before expiry)",
    }
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{names.get(field, field)}: {message}")
    return "; ".join(lines)
