"""Organisation scoping, in one place.

Every recruiter-facing read and write goes through a ``Scope``: it adds the
user's ``organization_id`` to each query, so no page or function can forget
it. Domain functions take a ``Scope`` instead of a bare database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.timeutil import utcnow

# ``via`` of what the command line does (python -m hiremate): no user acts.
VIA_CLI = "cli"


@dataclass(frozen=True)
class Scope:
    db: Database
    organization_id: ObjectId
    user_id: ObjectId | None = None
    is_admin: bool = False
    # How an action without a user came about (VIA_CLI); recorded in every
    # audit entry of this scope, so the log and the dashboard can say who acted.
    via: str | None = None

    def where(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """``query`` restricted to this organisation (the org key always wins)."""
        return {**(query or {}), "organization_id": self.organization_id}

    def collection(self, name: str) -> Collection:
        return self.db[name]

    def audit(self, action: str, target_type: str | None = None, target_id: Any = None, **details: Any) -> None:
        """Append to the audit log: who did what to which thing, and when."""
        if self.via:
            details = {"via": self.via, **details}
        audit(
            self.db,
            action,
            organization_id=self.organization_id,
            actor_id=self.user_id,
            target_type=target_type,
            target_id=target_id,
            **details,
        )

    def audit_each(self, action: str, target_type: str, targets: Iterable[tuple[Any, dict[str, Any]]]) -> None:
        """One audit entry per (target id, details), written with one
        ``insert_many`` (bulk issue): the same entries ``audit`` writes."""
        via = {"via": self.via} if self.via else {}
        entries = [
            _entry(
                action,
                organization_id=self.organization_id,
                actor_id=self.user_id,
                target_type=target_type,
                target_id=target_id,
                details={**via, **details},
            )
            for target_id, details in targets
        ]
        if entries:
            self.db[dbmod.AUDIT_LOG].insert_many(entries)


def audit(
    db: Database,
    action: str,
    *,
    organization_id: ObjectId | None,
    actor_id: ObjectId | None = None,
    target_type: str | None = None,
    target_id: Any = None,
    **details: Any,
) -> None:
    """Append to the audit log; ``organization_id`` None for what belongs to
    no organisation yet (a failed login of an unknown account). ``details``
    hold ids, counts and hashes: never a password, never a raw email of an
    unknown account."""
    db[dbmod.AUDIT_LOG].insert_one(
        _entry(
            action,
            organization_id=organization_id,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )
    )


def _entry(
    action: str,
    *,
    organization_id: ObjectId | None,
    actor_id: ObjectId | None,
    target_type: str | None,
    target_id: Any,
    details: dict[str, Any],
) -> dict[str, Any]:
    """One audit log document: the one place its shape is written."""
    return {
        "organization_id": organization_id,
        "actor_id": actor_id,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "at": utcnow(),
        "details": details,
    }
