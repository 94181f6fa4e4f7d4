"""One-off data migrations, run from the command line.

``migrate_emails``: emails stored before every path normalised them
(``hiremate.emails``) are lower-cased and trimmed in place, so lookups by
email (logging in, joining with an invitation, a candidate's attempts and
profiles) find them. Idempotent: a second run changes nothing.

Two accounts whose addresses differ only by case cannot both keep theirs
(``users.email`` is unique): the one not yet in the stored form is left as
it is and reported by id, for an admin to merge or delete; it cannot log in
meanwhile (logins look up the stored form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from hiremate import db as dbmod
from hiremate import emails

# Only documents whose address has a capital letter or surrounding blanks
# are read (still a scan of the collection on the embedded store, once).
_NOT_NORMAL = {"$regex": r"[A-Z]|^\s|\s$"}


@dataclass
class EmailMigration:
    """What ``migrate_emails`` changed: documents per collection, and the
    users it could not change (id, and the id of the account that already
    has the lower-case address)."""

    users: int = 0
    invitations: int = 0
    attempts: int = 0
    profiles: int = 0
    user_conflicts: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "invitations": self.invitations,
            "attempts": self.attempts,
            "profiles": self.profiles,
            "user_conflicts": self.user_conflicts,
        }


def migrate_emails(db: Database) -> EmailMigration:
    """Lower-case and trim every stored email (see the module docstring)."""
    result = EmailMigration()
    for doc in db[dbmod.USERS].find({"email": _NOT_NORMAL}, {"email": 1}).sort("_id", 1):
        normal = emails.normalise(doc["email"])
        try:
            changed = db[dbmod.USERS].update_one(
                {"_id": doc["_id"], "email": doc["email"]}, {"$set": {"email": normal}}
            )
        except DuplicateKeyError:
            holder = db[dbmod.USERS].find_one({"email": normal}, {"_id": 1})
            result.user_conflicts.append(
                {"user_id": str(doc["_id"]), "conflicts_with": str(holder["_id"]) if holder else ""}
            )
            continue
        result.users += changed.modified_count
    result.invitations = _normalise_field(db, dbmod.INVITATIONS, "email")
    result.attempts = _normalise_field(db, dbmod.ATTEMPTS, "candidate_info.email")
    result.profiles = _normalise_field(db, dbmod.PROFILES, "candidate_email")
    return result


def _normalise_field(db: Database, collection: str, path: str) -> int:
    changed = 0
    for doc in db[collection].find({path: _NOT_NORMAL}, {path: 1}).sort("_id", 1):
        value = _get(doc, path)
        if not isinstance(value, str):
            continue
        # Compare-and-set on the old value: a concurrent write is not undone.
        result = db[collection].update_one({"_id": doc["_id"], path: value}, {"$set": {path: emails.normalise(value)}})
        changed += result.modified_count
    return changed


def _get(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc
