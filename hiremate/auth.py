"""Accounts: organisations, users, invitations, passwords, login throttling,
sessions and the admin functions of a team.

Pure domain: no streamlit here. Secrets that leave this module (invitation
and session tokens) are returned once in plain text and stored only as a
SHA-256; passwords only as bcrypt hashes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import bcrypt
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from hiremate import db as dbmod
from hiremate.errors import AuthError, LoginThrottled
from hiremate.ids import as_object_id
from hiremate.models import Invitation, LoginSession, Organization, Role, User
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# The rule ``password_problems`` checks, as forms show it next to a new password.
PASSWORD_RULE = f"At least {MIN_PASSWORD_LENGTH} characters, letters mixed with digits or symbols."
ACCOUNT_FAILURE_LIMIT = 5
CLIENT_FAILURE_LIMIT = 20
FAILURE_WINDOW = timedelta(minutes=15)
# The most pending invitations listed at once (newest first).
MAX_PENDING_INVITATIONS = 200
# How long after its start a session's token may still be swapped for the
# cookie's (the login form hands the token to the cookie route in a URL).
HANDOVER_SECONDS = 120

_BCRYPT_ROUNDS = 12  # about 0.25 s a hash here
_WRONG_CREDENTIALS = "Email or password is incorrect"
_INVITATION_INVALID = "This invitation is not valid any more; ask for a new one."
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0123456789",
        "1q2w3e4r5t",
        "qwertyuiop",
        "password1",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou123",
        "welcome123",
        "welcome1234",
        "letmein123",
        "admin12345",
        "administrator",
        "qwerty1234",
        "qwerty12345",
        "abc1234567",
        "abcdef1234",
        "changeme123",
        "football123",
        "baseball123",
        "sunshine123",
        "princess123",
        "monkey12345",
        "dragon12345",
        "hiremate123",
        "recruiter123",
    }
)


# ---------------------------------------------------------------- passwords and emails


def password_problems(password: str, *, email: str = "") -> list[str]:
    """Why ``password`` is too weak, one message a rule; empty when it is fine."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    has_letter = any(c.isalpha() for c in password)
    has_other = any(not c.isalpha() for c in password)
    if not (has_letter and has_other):
        problems.append("Mix letters with digits or symbols.")
    lowered = password.strip().lower()
    email = _normalise_email(email)
    if email and lowered in {email, email.split("@")[0]}:
        problems.append("Do not use your email address as the password.")
    if lowered in _COMMON_PASSWORDS:
        problems.append("This password is too common; choose another.")
    return problems


def _normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _valid_email(email: str) -> str:
    email = _normalise_email(email)
    if len(email) > 254 or not _EMAIL_PATTERN.match(email):
        raise AuthError("Enter a valid email address.")
    return email


def _check_password(password: str, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise AuthError("Password too weak: " + " ".join(problems))


def _bcrypt_input(password: str) -> bytes:
    # bcrypt reads at most 72 bytes (bcrypt 5 refuses more), so long
    # passphrases would lose their tail: hash them to a fixed 44 bytes first.
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def _hash_password(password: str) -> str:
    return bcrypt.hashpw(_bcrypt_input(password), bcrypt.gensalt(_BCRYPT_ROUNDS)).decode()


def _password_matches(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_bcrypt_input(password), password_hash.encode())
    except ValueError:  # a malformed stored hash never matches
        return False


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    """Checked for unknown emails, so they cost what known ones do."""
    return bcrypt.hashpw(b"no account has this password", bcrypt.gensalt(rounds)).decode()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- organisations and users


def create_organization(db: Database, name: str, *, slug: str | None = None) -> Organization:
    """A new organisation; its slug (from the name unless given) is unique."""
    name = " ".join((name or "").split())
    if not name:
        raise AuthError("Enter the name of your organisation.")
    slug = _slugify(slug if slug is not None else name)
    if not slug:
        raise AuthError("The organisation name needs at least one letter or digit.")
    organization = Organization(name=name, slug=slug, created_at=utcnow())
    try:
        result = db[dbmod.ORGANIZATIONS].insert_one(organization.to_doc())
    except DuplicateKeyError:
        raise AuthError(f"An organisation named {name!r} already exists.") from None
    return organization.model_copy(update={"id": result.inserted_id})


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def get_organization(db: Database, organization_id: ObjectId | None) -> Organization | None:
    doc = db[dbmod.ORGANIZATIONS].find_one({"_id": organization_id}) if organization_id else None
    return Organization.from_doc(doc) if doc else None


def create_user(
    db: Database,
    *,
    email: str,
    full_name: str,
    password: str,
    organization_id: ObjectId,
    role: Role = Role.RECRUITER,
) -> User:
    """A new active user; the unique email index refuses a second account."""
    email = _valid_email(email)
    full_name = " ".join((full_name or "").split())
    if not full_name:
        raise AuthError("Enter your full name.")
    if len(full_name) > 200:
        raise AuthError("The name is too long (200 characters at most).")
    _check_password(password, email)
    if get_organization(db, organization_id) is None:
        raise AuthError("That organisation does not exist.")
    now = utcnow()
    user = User(
        email=email,
        password_hash=_hash_password(password),
        full_name=full_name,
        role=Role(role),
        organization_id=organization_id,
        created_at=now,
        updated_at=now,
    )
    try:
        result = db[dbmod.USERS].insert_one(user.to_doc())
    except DuplicateKeyError:
        raise AuthError("An account with this email already exists.") from None
    return user.model_copy(update={"id": result.inserted_id})


def register(
    db: Database,
    *,
    email: str,
    full_name: str,
    password: str,
    organization_name: str | None = None,
    invitation_token: str | None = None,
) -> User:
    """Create an organisation with this user as its first admin, or join one
    with an invitation token (the invitation then is used up)."""
    if organization_name is not None and invitation_token is not None:
        raise AuthError("Give either a new organisation's name or an invitation token, not both.")
    # Refuse bad input before anything is written.
    email = _valid_email(email)
    _check_password(password, email)
    if invitation_token is not None:
        return _join(db, email=email, full_name=full_name, password=password, token=invitation_token)
    organization = create_organization(db, organization_name or "")
    try:
        user = create_user(
            db,
            email=email,
            full_name=full_name,
            password=password,
            organization_id=organization.id,
            role=Role.ADMIN,
        )
    except BaseException:
        db[dbmod.ORGANIZATIONS].delete_one({"_id": organization.id})  # no orphan organisation
        raise
    scope_for(db, user).audit("organization.create", "organization", organization.id)
    return user


def _join(db: Database, *, email: str, full_name: str, password: str, token: str) -> User:
    if not token.strip():
        raise AuthError("Enter the invitation token you were sent.")
    now = utcnow()
    doc = db[dbmod.INVITATIONS].find_one({**_open_invitation(now), "token_hash": _sha256(token.strip())})
    if doc is None:  # unknown, used, withdrawn or expired
        raise AuthError(_INVITATION_INVALID)
    invitation = Invitation.from_doc(doc)
    if invitation.email != email:
        raise AuthError("This invitation was sent to another email address.")
    # Compare-and-set: of two registrations with one invitation, one wins;
    # an invitation withdrawn meanwhile is refused here too.
    claimed = db[dbmod.INVITATIONS].update_one(
        {**_open_invitation(now), "_id": invitation.id},
        {"$set": {"accepted_at": now}},
    )
    if claimed.modified_count != 1:
        raise AuthError(_INVITATION_INVALID)
    try:
        user = create_user(
            db,
            email=email,
            full_name=full_name,
            password=password,
            organization_id=invitation.organization_id,
            role=Role(invitation.role),
        )
    except BaseException:
        db[dbmod.INVITATIONS].update_one({"_id": invitation.id, "accepted_at": now}, {"$set": {"accepted_at": None}})
        raise
    scope_for(db, user).audit("user.join", "user", user.id, invitation_id=str(invitation.id))
    return user


def invite(scope: Scope, email: str, role: Role = Role.RECRUITER, *, days: int = 7) -> str:
    """Invite ``email`` to the scope's organisation; returns the token (shown
    once: only its hash is stored)."""
    _require_admin(scope)
    email = _valid_email(email)
    if scope.db[dbmod.USERS].find_one({"email": email}, {"_id": 1}) is not None:
        raise AuthError("An account with this email already exists.")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = Invitation(
        organization_id=scope.organization_id,
        email=email,
        role=Role(role),
        token_hash=_sha256(token),
        invited_by=scope.user_id,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    result = scope.db[dbmod.INVITATIONS].insert_one(invitation.to_doc())
    scope.audit("user.invite", "invitation", result.inserted_id, role=str(role))
    return token


def _open_invitation(now: datetime) -> dict[str, Any]:
    """The query of an invitation that can still be used to join: not
    accepted, not withdrawn, not expired (a missing field counts as None)."""
    return {"accepted_at": None, "revoked_at": None, "expires_at": {"$gt": now}}


@dataclass(frozen=True)
class PendingInvitation:
    """An open invitation as the Team page lists it (never its token or hash)."""

    id: str
    email: str
    role: str
    invited_by_name: str
    created_at: datetime
    expires_at: datetime


def pending_invitations(scope: Scope, *, limit: int = MAX_PENDING_INVITATIONS) -> list[PendingInvitation]:
    """The organisation's invitations that can still be used, newest first,
    at most ``limit`` (admins only)."""
    _require_admin(scope)
    docs = list(
        scope.db[dbmod.INVITATIONS]
        .find(
            scope.where(_open_invitation(utcnow())),
            {"email": 1, "role": 1, "invited_by": 1, "created_at": 1, "expires_at": 1},
        )
        .sort([("created_at", -1), ("_id", -1)])
        .limit(max(1, min(int(limit), MAX_PENDING_INVITATIONS)))
    )
    names = _full_names(scope, {doc["invited_by"] for doc in docs if doc.get("invited_by") is not None})
    return [
        PendingInvitation(
            id=str(doc["_id"]),
            email=doc["email"],
            role=str(doc.get("role") or Role.RECRUITER),
            invited_by_name=names.get(doc.get("invited_by"), "—"),
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
        )
        for doc in docs
    ]


def _full_names(scope: Scope, user_ids: set[ObjectId]) -> dict[ObjectId, str]:
    """The full names of these users of the organisation, in one query."""
    if not user_ids:
        return {}
    users = scope.db[dbmod.USERS].find(scope.where({"_id": {"$in": list(user_ids)}}), {"full_name": 1})
    return {user["_id"]: user.get("full_name") or "—" for user in users}


def revoke_invitation(scope: Scope, invitation_id: ObjectId | str) -> None:
    """Withdraw a pending invitation of the organisation: its token no longer
    joins. An invitation accepted, withdrawn or expired meanwhile is refused."""
    _require_admin(scope)
    oid = as_object_id(invitation_id)
    if oid is None:
        raise AuthError("No such invitation in your organisation.")
    invitation_id = oid
    now = utcnow()
    # Compare-and-set against _join's claim: of a withdrawal and a
    # registration with the same invitation, one wins.
    doc = scope.db[dbmod.INVITATIONS].find_one_and_update(
        scope.where({**_open_invitation(now), "_id": invitation_id}),
        {"$set": {"revoked_at": now}},
        projection={"email": 1},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise AuthError(_why_not_pending(scope, invitation_id, now))
    scope.audit("user.invite_revoked", "invitation", invitation_id, email=doc["email"])


def _why_not_pending(scope: Scope, invitation_id: ObjectId, now: datetime) -> str:
    doc = scope.db[dbmod.INVITATIONS].find_one(
        scope.where({"_id": invitation_id}), {"email": 1, "accepted_at": 1, "revoked_at": 1, "expires_at": 1}
    )
    if doc is None:
        return "No such invitation in your organisation."
    if doc.get("accepted_at") is not None:
        return f"The invitation for {doc['email']} was already accepted; manage that member instead."
    if doc.get("revoked_at") is not None:
        return f"The invitation for {doc['email']} was already withdrawn."
    if doc["expires_at"] <= now:
        return f"The invitation for {doc['email']} has already expired."
    return f"The invitation for {doc['email']} could not be withdrawn; try again."


def scope_for(db: Database, user: User) -> Scope:
    """The scope every recruiter-facing call of this user goes through."""
    if user.organization_id is None:
        raise AuthError("This account belongs to no organisation.")
    return Scope(db, user.organization_id, user.id, is_admin=user.role == Role.ADMIN)


# ---------------------------------------------------------------- logging in


def authenticate(db: Database, email: str, password: str, *, client_key: str = "") -> User:
    """The user with these credentials, or AuthError with one message for
    every wrong email or password. ``client_key`` identifies the client for
    throttling (pass an HMAC of its IP, never the bare IP)."""
    email = _normalise_email(email)
    keys = [f"account:{email[:320]}"] + ([f"client:{client_key[:100]}"] if client_key else [])
    own_failures = _record_failures(db, keys)
    _refuse_if_throttled(db, keys, own_failures)
    doc = db[dbmod.USERS].find_one({"email": email})
    password_hash = doc["password_hash"] if doc else _dummy_hash(_BCRYPT_ROUNDS)
    if not _password_matches(password or "", password_hash) or doc is None:
        raise AuthError(_WRONG_CREDENTIALS)  # the failures recorded above stand
    # Right password: forget this account's failures, but not the client's,
    # so logging into one's own account cannot buy more guesses at others.
    db[dbmod.LOGIN_FAILURES].delete_many({"$or": [{"_id": {"$in": own_failures}}, {"key": keys[0]}]})
    user = User.from_doc(doc)
    if not user.is_active:
        raise AuthError("This account has been deactivated; ask an admin of your organisation.")
    return user


def _record_failures(db: Database, keys: list[str]) -> list[ObjectId]:
    # Recorded before the password is checked, so concurrent attempts count
    # each other; a success deletes them again.
    now = utcnow()
    collection = db[dbmod.LOGIN_FAILURES]
    collection.delete_many({"key": {"$in": keys}, "at": {"$lt": now - FAILURE_WINDOW}})
    return collection.insert_many([{"key": key, "at": now} for key in keys]).inserted_ids


def _refuse_if_throttled(db: Database, keys: list[str], own_failures: list[ObjectId]) -> None:
    now = utcnow()
    waits = []
    for key in keys:
        limit = ACCOUNT_FAILURE_LIMIT if key.startswith("account:") else CLIENT_FAILURE_LIMIT
        # The limit-th newest earlier failure: once it leaves the window,
        # fewer than `limit` remain and logging in is allowed again.
        cursor = (
            db[dbmod.LOGIN_FAILURES]
            .find({"key": key, "at": {"$gte": now - FAILURE_WINDOW}, "_id": {"$nin": own_failures}})
            .sort([("at", -1), ("_id", -1)])
            .skip(limit - 1)
            .limit(1)
        )
        blocking = next(iter(cursor), None)
        if blocking is not None:
            waits.append((blocking["at"] + FAILURE_WINDOW - now).total_seconds())
    if waits:
        # A refused attempt is not a guess: it does not extend the lock.
        db[dbmod.LOGIN_FAILURES].delete_many({"_id": {"$in": own_failures}})
        raise LoginThrottled(max(1, int(max(waits)) + 1))


# ---------------------------------------------------------------- sessions


def start_session(db: Database, user: User, *, days: int) -> str:
    """A new login session for ``user``; returns its token (stored hashed)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = LoginSession(
        session_hash=_sha256(token),
        user_id=user.id,
        organization_id=user.organization_id,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db[dbmod.SESSIONS].insert_one(session.to_doc())
    return token


def user_for_session(db: Database, token: str) -> User | None:
    """The active user of a live session, else None."""
    if not token:
        return None
    session = db[dbmod.SESSIONS].find_one(_live_session(token, utcnow()))
    if session is None:
        return None
    doc = db[dbmod.USERS].find_one({"_id": session["user_id"], "is_active": True})
    return User.from_doc(doc) if doc else None


def end_session(db: Database, token: str) -> None:
    """Log out: the token is worthless afterwards. Ending twice is harmless."""
    if token:
        db[dbmod.SESSIONS].update_one(
            {"session_hash": _sha256(token), "ended_at": None}, {"$set": {"ended_at": utcnow()}}
        )


def rotate_session(db: Database, token: str) -> str | None:
    """Swap a just-started session's token for a new one, once, within
    HANDOVER_SECONDS of its start; None when that is not allowed.

    The login form hands its token to the cookie route in a URL; after the
    swap, that URL (in history or a log) opens nothing.
    """
    if not token:
        return None
    now = utcnow()
    new_token = secrets.token_urlsafe(32)
    swapped = db[dbmod.SESSIONS].update_one(
        {
            **_live_session(token, now),
            "created_at": {"$gte": now - timedelta(seconds=HANDOVER_SECONDS)},
            "rotated_at": None,
        },
        {"$set": {"session_hash": _sha256(new_token), "rotated_at": now}},
    )
    return new_token if swapped.modified_count == 1 else None


def _live_session(token: str, now: datetime) -> dict[str, Any]:
    return {"session_hash": _sha256(token), "ended_at": None, "expires_at": {"$gt": now}}


def _end_sessions_of(db: Database, user_id: ObjectId) -> None:
    db[dbmod.SESSIONS].update_many({"user_id": user_id, "ended_at": None}, {"$set": {"ended_at": utcnow()}})


def live_session_id(db: Database, token: str) -> ObjectId | None:
    """The id of the live session of ``token``, else None. Live tickets carry
    it, so the ingest server can tell when that session ends (read only)."""
    if not token:
        return None
    doc = db[dbmod.SESSIONS].find_one(_live_session(token, utcnow()), {"_id": 1})
    return doc["_id"] if doc else None


def session_is_live(db: Database, session_id: ObjectId, user_id: ObjectId) -> bool:
    """Is ``session_id`` a session of ``user_id`` that has neither ended nor
    expired? (read only; what an open live socket re-checks)"""
    query = {"_id": session_id, "user_id": user_id, "ended_at": None, "expires_at": {"$gt": utcnow()}}
    return db[dbmod.SESSIONS].find_one(query, {"_id": 1}) is not None


# ---------------------------------------------------------------- team administration


def list_users(scope: Scope) -> list[User]:
    """The organisation's users, oldest first (admins only)."""
    _require_admin(scope)
    docs = scope.db[dbmod.USERS].find(scope.where()).sort([("created_at", 1), ("_id", 1)])
    return [User.from_doc(doc) for doc in docs]


def set_active(scope: Scope, user_id: ObjectId | str, active: bool) -> User:
    """Activate or deactivate a member; deactivation ends their sessions."""
    _require_admin(scope)
    target = _member(scope, user_id)
    if not active:
        if target.id == scope.user_id:
            raise AuthError("You cannot deactivate your own account.")
        _keep_an_admin(scope, target)
    user = _update_member(scope, target, {"is_active": bool(active)})
    if not active:
        _end_sessions_of(scope.db, target.id)
    scope.audit("user.activate" if active else "user.deactivate", "user", target.id)
    return user


def set_role(scope: Scope, user_id: ObjectId | str, role: Role) -> User:
    """Change a member's role; an organisation always keeps an active admin."""
    _require_admin(scope)
    role = Role(role)
    target = _member(scope, user_id)
    if role != Role.ADMIN:
        _keep_an_admin(scope, target)
    user = _update_member(scope, target, {"role": str(role)})
    scope.audit("user.role", "user", target.id, role=str(role))
    return user


def reset_password(scope: Scope, user_id: ObjectId | str, new_password: str) -> None:
    """Set a member's password; their sessions end, so they log in again."""
    _require_admin(scope)
    target = _member(scope, user_id)
    _check_password(new_password, target.email)
    _update_member(scope, target, {"password_hash": _hash_password(new_password)})
    _end_sessions_of(scope.db, target.id)
    scope.audit("user.password_reset", "user", target.id)


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise AuthError("Only an admin of your organisation can do this.")


def _member(scope: Scope, user_id: ObjectId | str) -> User:
    """A user of the scope's organisation; users of others are never found."""
    oid = as_object_id(user_id)
    doc = None if oid is None else scope.db[dbmod.USERS].find_one(scope.where({"_id": oid}))
    if doc is None:
        raise AuthError("No such user in your organisation.")
    return User.from_doc(doc)


def _keep_an_admin(scope: Scope, target: User) -> None:
    if target.role != Role.ADMIN or not target.is_active:
        return
    others = scope.db[dbmod.USERS].count_documents(
        scope.where({"role": str(Role.ADMIN), "is_active": True, "_id": {"$ne": target.id}})
    )
    if others == 0:
        raise AuthError("The organisation needs at least one active admin.")


def _update_member(scope: Scope, target: User, changes: dict[str, Any]) -> User:
    doc = scope.db[dbmod.USERS].find_one_and_update(
        scope.where({"_id": target.id}),
        {"$set": {**changes, "updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise AuthError("No such user in your organisation.")
    return User.from_doc(doc)
