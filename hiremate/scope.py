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

from hiremate import audit as auditlog

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
        """One audit entry per (target id, details), in order, the entries
        ``audit`` writes, appended to the organisation's chain together
        (``hiremate.audit.append_many``: bulk issue writes hundreds)."""
        via = {"via": self.via} if self.via else {}
        entries = [(action, self.user_id, target_type, target_id, {**via, **details}) for target_id, details in targets]
        if entries:
            auditlog.append_many(self.db, self.organization_id, entries)


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
    """Append to the audit log, onto the organisation's HMAC chain
    (``hiremate.audit``); ``organization_id`` None for what belongs to no
    organisation (a failed login of an unknown account): the system chain.
    ``details`` hold ids, counts, hashes and action names only: never a
    password, a name, an email or free text (those live on the documents the
    entry points at, so an erasure never has to edit the log)."""
    auditlog.append(
        db,
        action,
        organization_id=organization_id,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
