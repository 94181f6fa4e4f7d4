"""API keys of an organisation (issue 19): what the REST API v1 (``api/``)
and the Greenhouse partner API authenticate with.

A key is ``hmk_`` + ``secrets.token_urlsafe(32)`` (256 random bits), shown
once when it is made; only its SHA-256 is stored. A password would need a
slow, salted hash because people choose guessable ones; a key is 256 random
bits, so nobody can guess it or brute-force its fast hash, and a fast,
unsalted hash lets a request find its key with one look-up on a unique index
(``key_hash``) instead of a bcrypt per key. The first few characters are kept
in the clear (``prefix``) so people can tell their keys apart in a list.

Keys are made, listed and revoked by admins (``scope.is_admin``: the admin
page and the command line); creation and revocation are audited with ids
only. ``authenticate`` is a plain function of the database: a key's request
has no scope until the key names its organisation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.errors import ApiKeyError
from hiremate.ids import as_object_id
from hiremate.models import Document, PyObjectId, UTCDateTime
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

__all__ = [
    "KEY_PREFIX",
    "Access",
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyPublic",
    "ApiPrincipal",
    "authenticate",
    "create",
    "get_key",
    "list_keys",
    "revoke",
    "via_of",
]

KEY_PREFIX = "hmk_"
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6  # "hmk_" and 6 random characters: enough to tell keys apart
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
MAX_KEYS = 200  # listed at most (an organisation has a handful)
VIA_PREFIX = "api_key:"  # a Scope's ``via`` for what a key did: "api_key:<key id>"


class Access(StrEnum):
    READ = "read"  # GET only
    WRITE = "write"  # everything a key may do


class ApiKeyBase(BaseModel):
    """What a person chooses about a key."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    name: str = Field(min_length=1, max_length=100)
    access: Access = Access.READ

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value


class ApiKeyCreate(ApiKeyBase):
    pass


class ApiKey(Document):
    """The stored key (collection ``api_keys``): its hash, never the key."""

    organization_id: PyObjectId
    name: str
    access: Access
    key_hash: str
    prefix: str
    created_at: UTCDateTime
    created_by: PyObjectId | None = None
    created_via: str | None = None  # "cli" when made by the command line
    last_used_at: UTCDateTime | None = None
    revoked_at: UTCDateTime | None = None
    revoked_by: PyObjectId | None = None


class ApiKeyPublic(BaseModel):
    """A key as lists show it: no hash, no key."""

    id: str
    name: str
    access: Access
    prefix: str
    created_at: datetime
    created_by: str | None
    created_via: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=str(key.id),
            name=key.name,
            access=key.access,
            prefix=key.prefix,
            created_at=key.created_at,
            created_by=str(key.created_by) if key.created_by else None,
            created_via=key.created_via,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@dataclass(frozen=True)
class ApiPrincipal:
    """Who a request with a valid key is: the key's organisation, id, name and access."""

    organization_id: ObjectId
    key_id: ObjectId
    name: str
    access: Access

    @property
    def may_write(self) -> bool:
        return self.access == Access.WRITE

    def scope(self, db: Database) -> Scope:
        """The key's scope: its organisation, no user, not an admin (a key sees
        what any recruiter of the organisation sees, no confidential
        accommodations), audited ``via: "api_key:<id>"``."""
        return Scope(db, self.organization_id, None, is_admin=False, via=via_of(self.key_id))


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def via_of(key_id: ObjectId | str) -> str:
    """The ``via`` a key's scope writes into audit entries."""
    return f"{VIA_PREFIX}{key_id}"


def key_id_of_via(via: str | None) -> ObjectId | None:
    """The key id of an audit entry's ``via`` (None when a key did not act)."""
    if not via or not via.startswith(VIA_PREFIX):
        return None
    return as_object_id(via[len(VIA_PREFIX) :])


# ---------------------------------------------------------------- admins


def create(scope: Scope, name: str, access: Access | str = Access.READ) -> tuple[ApiKeyPublic, str]:
    """A new key for the scope's organisation: (its public form, the key).
    The key is returned once and never stored. Admins only."""
    _require_admin(scope)
    data = _validated(name, access)
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        organization_id=scope.organization_id,
        name=data.name,
        access=data.access,
        key_hash=hash_key(plaintext),
        prefix=plaintext[:SHOWN_PREFIX_LENGTH],
        created_at=utcnow(),
        created_by=scope.user_id,
        created_via=scope.via,
    )
    key.id = scope.collection(dbmod.API_KEYS).insert_one(key.to_doc()).inserted_id
    scope.audit("api_key.created", "api_key", key.id, access=str(key.access))
    return ApiKeyPublic.of(key), plaintext


def list_keys(scope: Scope, *, include_revoked: bool = True) -> list[ApiKeyPublic]:
    """The organisation's keys, oldest first. Admins only."""
    _require_admin(scope)
    query = {} if include_revoked else {"revoked_at": None}
    cursor = (
        scope.collection(dbmod.API_KEYS)
        .find(scope.where(query))
        .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        .limit(MAX_KEYS)
    )
    return [ApiKeyPublic.of(ApiKey.from_doc(doc)) for doc in cursor]


def get_key(scope: Scope, key_id: ObjectId | str) -> ApiKeyPublic | None:
    oid = as_object_id(key_id)
    doc = scope.collection(dbmod.API_KEYS).find_one(scope.where({"_id": oid})) if oid else None
    return ApiKeyPublic.of(ApiKey.from_doc(doc)) if doc else None


def revoke(scope: Scope, key_id: ObjectId | str) -> ApiKeyPublic:
    """Revoke a key for good: its next request is refused. Admins only;
    ApiKeyError for a key the organisation does not have or one revoked already."""
    _require_admin(scope)
    oid = as_object_id(key_id)
    if oid is None or scope.collection(dbmod.API_KEYS).count_documents(scope.where({"_id": oid}), limit=1) == 0:
        raise ApiKeyError(f"No API key with id “{str(key_id)[:64]}” in this organisation.")
    doc = scope.collection(dbmod.API_KEYS).find_one_and_update(
        scope.where({"_id": oid, "revoked_at": None}),
        {"$set": {"revoked_at": utcnow(), "revoked_by": scope.user_id}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise ApiKeyError("This API key is revoked already.")
    scope.audit("api_key.revoked", "api_key", oid)
    return ApiKeyPublic.of(ApiKey.from_doc(doc))


def names(db: Database, organization_id: ObjectId, key_ids: set[ObjectId]) -> dict[ObjectId, str]:
    """The names of these keys of the organisation (for who-did-it columns)."""
    if not key_ids:
        return {}
    cursor = (
        db[dbmod.API_KEYS]
        .find({"_id": {"$in": sorted(key_ids)}, "organization_id": organization_id}, {"name": 1})
        .limit(len(key_ids))
    )
    return {doc["_id"]: doc.get("name", "") for doc in cursor}


# ---------------------------------------------------------------- requests


def authenticate(db: Database, plaintext: str | None, *, now: datetime | None = None) -> ApiPrincipal | None:
    """Who a request's key is; None for a missing, unknown or revoked key.

    One indexed look-up by the key's hash; the stored hash is compared again
    in constant time (the look-up itself reveals nothing usable: an attacker
    would need a SHA-256 pre-image). ``last_used_at`` is written at most once
    a minute per key, so a busy integration's reads do not each write."""
    if not plaintext or not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 200:
        return None
    digest = hash_key(plaintext)
    doc = db[dbmod.API_KEYS].find_one({"key_hash": digest})
    if doc is None or not hmac.compare_digest(doc.get("key_hash", ""), digest) or doc.get("revoked_at") is not None:
        return None
    now = now or utcnow()
    last = doc.get("last_used_at")
    if last is None or now - last >= LAST_USED_EVERY:
        db[dbmod.API_KEYS].update_one(
            {"_id": doc["_id"], "last_used_at": last}, {"$set": {"last_used_at": now}}
        )  # a compare-and-set: of concurrent requests, one writes
    return ApiPrincipal(doc["organization_id"], doc["_id"], doc.get("name", ""), Access(doc["access"]))


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise ApiKeyError("Only an admin of the organisation can manage API keys.")


def _validated(name: str, access: Access | str) -> ApiKeyCreate:
    try:
        return ApiKeyCreate(name=name or "", access=access)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", lambda: [])()
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors] or [str(exc)]
        raise ApiKeyError("Invalid API key: " + "; ".join(problems)) from None
