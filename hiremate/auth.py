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
from collections.abc import Callable
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
from hiremate import emails, throttle
from hiremate.errors import AuthError, LoginThrottled, RegistrationThrottled  # noqa: F401 - re-exported
from hiremate.ids import as_object_id
from hiremate.models import Invitation, LoginSession, Organization, Role, User
from hiremate.scope import Scope, audit
from hiremate.settings import get_settings
from hiremate.timeutil import utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# The rule ``password_problems`` checks, as forms show it next to a new password.
PASSWORD_RULE = f"At least {MIN_PASSWORD_LENGTH} characters, letters mixed with digits or symbols."
# The most pending invitations listed at once (newest first).
MAX_PENDING_INVITATIONS = 200
# How long after the login form started a session the browser that sent the
# form may still swap it for a cookie (complete_handover).
HANDOVER_SECONDS = 120
# A session's use is written at most this often (its idle timeout counts from it).
TOUCH_INTERVAL = timedelta(minutes=1)

_BCRYPT_ROUNDS = 12  # about 0.25 s a hash here
_WRONG_CREDENTIALS = "Email or password is incorrect"
_INVITATION_INVALID = "This invitation is not valid any more; ask for a new one."
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
    return emails.normalise(email)


def _valid_email(email: str) -> str:
    email = emails.normalise(email)
    if not emails.is_valid(email):
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
    client_key: str = "",
) -> User:
    """Create an organisation with this user as its first admin, or join one
    with an invitation token (the invitation then is used up).

    Each attempt that gets past the checks of the input costs a bcrypt and
    writes, so ``client_key``'s attempts are throttled
    (``throttle.REGISTRATION_LIMIT`` an hour; RegistrationThrottled)."""
    if organization_name is not None and invitation_token is not None:
        raise AuthError("Give either a new organisation's name or an invitation token, not both.")
    # Refuse bad input before anything is written.
    email = _valid_email(email)
    _check_password(password, email)
    if throttle.count_registration(db, client_key):
        audit(db, "auth.registration_limit_reached", organization_id=None, client=client_key)
    if invitation_token is not None:
        return _join(db, email=email, full_name=full_name, password=password, token=invitation_token)
    organization = create_organization(db, organization_name or "")
    user = _create_or_undo(
        db,
        lambda: db[dbmod.ORGANIZATIONS].delete_one({"_id": organization.id}),  # no orphan organisation
        email=email,
        full_name=full_name,
        password=password,
        organization_id=organization.id,
        role=Role.ADMIN,
    )
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
    user = _create_or_undo(
        db,
        lambda: db[dbmod.INVITATIONS].update_one(
            {"_id": invitation.id, "accepted_at": now}, {"$set": {"accepted_at": None}}
        ),  # the invitation is usable again
        email=email,
        full_name=full_name,
        password=password,
        organization_id=invitation.organization_id,
        role=Role(invitation.role),
    )
    scope_for(db, user).audit("user.join", "user", user.id, invitation_id=str(invitation.id))
    return user


def _create_or_undo(db: Database, undo: Callable[[], object], **fields: Any) -> User:
    """``create_user``; if it fails (a taken email, a crash), ``undo`` what
    was written to make room for the user, then re-raise."""
    try:
        return create_user(db, **fields)
    except BaseException:
        undo()
        raise


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
        projection={"_id": 1},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise AuthError(_why_not_pending(scope, invitation_id, now))
    scope.audit("user.invite_revoked", "invitation", invitation_id)  # the email stays on the invitation


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


def authenticate(db: Database, email: str, password: str, *, client_key: str = "", device: str = "") -> User:
    """The user with these credentials, or AuthError with one message for
    every wrong email or password; LoginThrottled while this account waits
    for this client (``hiremate.throttle``: growing delays per account and
    client, a ceiling per client).

    ``client_key`` names the client (``throttle.client_key``, never the bare
    IP); ``device`` is the browser's device token as the server sealed it
    (``throttle.device_token``), honoured for its own account only: that
    browser is then a client of its own, which no attacker shares."""
    email = _normalise_email(email)[:320]
    account = throttle.account_tag(email)
    check, device_id = _claim(db, account, client_key, device)
    doc = db[dbmod.USERS].find_one({"email": email})
    password_hash = doc["password_hash"] if doc else _dummy_hash(_BCRYPT_ROUNDS)
    if not _password_matches(password or "", password_hash) or doc is None:
        _failed_login(db, doc, account, client_key, throttle.fail(db, check))
        raise AuthError(_WRONG_CREDENTIALS)
    throttle.succeed(db, check)
    user = User.from_doc(doc)
    if not user.is_active:
        _audit_user(db, user, "auth.login_refused", reason="deactivated", client=client_key)
        raise AuthError("This account has been deactivated; ask an admin of your organisation.")
    _audit_user(db, user, "auth.login", client=client_key, device=bool(device_id))
    return user


def _claim(db: Database, account: str, client_key: str, device: str) -> tuple[throttle.Claim, str]:
    """Start a password check of ``account`` (LoginThrottled while it waits);
    the device id when ``device`` is a token for this account."""
    device_id = throttle.trusted_device(device, account)
    client = f"device:{device_id}" if device_id else f"ip:{client_key}" if client_key else ""
    return throttle.claim(db, account, client, client_key=client_key, exempt=bool(device_id)), device_id


def _failed_login(
    db: Database,
    doc: dict[str, Any] | None,
    account: str,
    client_key: str,
    failure: throttle.Failure,
    action: str = "auth.login_failed",
) -> None:
    """Audit a wrong password: under the account's organisation when it
    exists, under none otherwise; the account by its tag, never its email."""
    where = {
        "organization_id": doc.get("organization_id") if doc else None,
        "target_type": "user" if doc else None,
        "target_id": doc["_id"] if doc else None,
    }
    audit(db, action, **where, account=account, client=client_key, failures=failure.failures)
    if failure.delay:
        audit(
            db,
            "auth.login_throttled",
            **where,
            account=account,
            client=client_key,
            failures=failure.failures,
            delay_seconds=int(failure.delay.total_seconds()),
        )
    if failure.client_ceiling_reached:
        audit(
            db, "auth.client_throttled", organization_id=None, client=client_key, failures=throttle.CLIENT_FAILURE_LIMIT
        )


def _audit_user(db: Database, user: User, action: str, **details: Any) -> None:
    audit(
        db,
        action,
        organization_id=user.organization_id,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        **details,
    )


# ---------------------------------------------------------------- sessions


def start_session(db: Database, user: User, *, days: int, handover: str = "", next_path: str = "/") -> str:
    """A new login session for ``user``; returns its token (stored hashed).

    ``handover``: the login nonce of the browser that submitted the login
    form (its HttpOnly SameSite=Strict cookie, as the form saw it). That
    browser, and only it, can then swap the session for a cookie within
    HANDOVER_SECONDS (``complete_handover``), and is sent on to ``next_path``."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = LoginSession(
        session_hash=_sha256(token),
        user_id=user.id,
        organization_id=user.organization_id,
        created_at=now,
        expires_at=now + timedelta(days=days),
        last_seen_at=now,
        handover_hash=_sha256(handover) if handover else None,
        handover_next=next_path if handover else None,
    )
    db[dbmod.SESSIONS].insert_one(session.to_doc())
    return token


@dataclass(frozen=True)
class HandOver:
    """A login handed over to a browser's cookie: the session's new token
    (its id changes at login), where to go next, and whose it is."""

    token: str
    next_path: str
    user: User


def complete_handover(db: Database, nonce: str) -> HandOver | None:
    """Give the browser holding ``nonce`` the session its login form started
    (HANDOVER_SECONDS at most after the login), once, under a fresh token:
    the token the form held stops working. None for any other browser, or
    a second time, or late.

    Found attacking the stack: the hand-over was a GET link carrying the
    token, and any browser that opened it got the session, so an attacker
    could put a victim's browser into the attacker's account. Now nothing
    that leaves the logged-in browser in a URL opens a session."""
    if not nonce:
        return None
    now = utcnow()
    new_token = secrets.token_urlsafe(32)
    doc = db[dbmod.SESSIONS].find_one_and_update(
        {
            "handover_hash": _sha256(nonce),
            "ended_at": None,
            "expires_at": {"$gt": now},
            "created_at": {"$gt": now - timedelta(seconds=HANDOVER_SECONDS)},
        },
        {
            "$set": {
                "session_hash": _sha256(new_token),
                "handover_hash": None,
                "rotated_at": now,
                "last_seen_at": now,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        return None
    user = db[dbmod.USERS].find_one({"_id": doc["user_id"], "is_active": True})
    if user is None:
        return None
    return HandOver(new_token, doc.get("handover_next") or "/", User.from_doc(user))


def user_for_session(db: Database, token: str, *, idle_hours: float | None = None, touch: bool = True) -> User | None:
    """The active user of a live session, else None. A session ends after
    ``idle_hours`` (default HIREMATE_SESSION_IDLE_HOURS) without use as well
    as at its ``expires_at``. Use (``touch``) is recorded at most once a
    TOUCH_INTERVAL, not at every rerun of a page."""
    if not token:
        return None
    now = utcnow()
    session = db[dbmod.SESSIONS].find_one(_live_session(token, now))
    if session is None:
        return None
    idle = timedelta(hours=get_settings().session_idle_hours if idle_hours is None else idle_hours)
    seen = session.get("last_seen_at")
    last = seen or session["created_at"]
    if last <= now - idle:
        return None
    doc = db[dbmod.USERS].find_one({"_id": session["user_id"], "is_active": True})
    if doc is None:
        return None
    if touch and now - last >= TOUCH_INTERVAL:  # compare-and-set: of two tabs, one writes
        db[dbmod.SESSIONS].update_one({"_id": session["_id"], "last_seen_at": seen}, {"$set": {"last_seen_at": now}})
    return User.from_doc(doc)


def session_is_live(db: Database, token: str) -> bool:
    """Whether ``token`` names a session that has not ended or expired."""
    return bool(token) and db[dbmod.SESSIONS].find_one(_live_session(token, utcnow()), {"_id": 1}) is not None


def end_session(db: Database, token: str) -> None:
    """Log out: the token is worthless afterwards. Ending twice is harmless;
    the first time is audited."""
    if not token:
        return
    doc = db[dbmod.SESSIONS].find_one_and_update(
        {"session_hash": _sha256(token), "ended_at": None},
        {"$set": {"ended_at": utcnow()}},
        projection={"user_id": 1, "organization_id": 1},
    )
    if doc is not None:
        audit(
            db,
            "auth.logout",
            organization_id=doc.get("organization_id"),
            actor_id=doc["user_id"],
            target_type="user",
            target_id=doc["user_id"],
        )


def _live_session(token: str, now: datetime) -> dict[str, Any]:
    return {"session_hash": _sha256(token), "ended_at": None, "expires_at": {"$gt": now}}


def _end_sessions_of(db: Database, user_id: ObjectId, *, keep_token: str = "") -> int:
    """End the user's sessions (but the one of ``keep_token``); how many ended."""
    query: dict[str, Any] = {"user_id": user_id, "ended_at": None}
    if keep_token:
        query["session_hash"] = {"$ne": _sha256(keep_token)}
    return db[dbmod.SESSIONS].update_many(query, {"$set": {"ended_at": utcnow()}}).modified_count


# ---------------------------------------------------------------- one's own password


def change_password(
    db: Database,
    user: User,
    current_password: str,
    new_password: str,
    *,
    keep_token: str = "",
    client_key: str = "",
    device: str = "",
) -> User:
    """Change ``user``'s own password: the current one is required (checked
    through the login throttle, so a borrowed session cannot guess at it
    freely), the new one must meet ``password_problems`` and differ. Every
    other session of the user ends (the one of ``keep_token`` stays); a reset
    by an admin is then no longer pending."""
    account = throttle.account_tag(user.email)
    check, _ = _claim(db, account, client_key, device)
    doc = db[dbmod.USERS].find_one({"_id": user.id, "is_active": True})
    if doc is None or not _password_matches(current_password or "", doc["password_hash"]):
        failure = throttle.fail(db, check)
        _failed_login(db, doc, account, client_key, failure, "user.password_change_failed")
        raise AuthError("Your current password is not correct.")
    throttle.succeed(db, check)
    if new_password == current_password:
        raise AuthError("Choose a new password, not the current one.")
    _check_password(new_password, doc["email"])
    now = utcnow()
    changed = db[dbmod.USERS].find_one_and_update(
        {"_id": user.id, "password_hash": doc["password_hash"]},  # not a concurrent change undone
        {"$set": {"password_hash": _hash_password(new_password), "must_change_password": False, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if changed is None:
        raise AuthError("Your password was changed meanwhile; log in again.")
    ended = _end_sessions_of(db, user.id, keep_token=keep_token)
    _audit_user(db, User.from_doc(changed), "user.password_changed", sessions_ended=ended)
    return User.from_doc(changed)


def live_session_id(db: Database, token: str) -> ObjectId | None:
    """The id of the live session of ``token``, else None. Live tickets carry
    it, so the ingest server can tell when that session ends (read only)."""
    if not token:
        return None
    doc = db[dbmod.SESSIONS].find_one(_live_session(token, utcnow()), {"_id": 1})
    return doc["_id"] if doc else None


def user_session_is_live(db: Database, session_id: ObjectId, user_id: ObjectId) -> bool:
    """Is ``session_id`` a session of ``user_id`` that has not ended, expired
    or gone idle (read only; what an open live socket re-checks, so a ticket
    dies with the login that minted it, idle timeout included)."""
    now = utcnow()
    idle_since = now - timedelta(hours=get_settings().session_idle_hours)
    query = {
        "_id": session_id,
        "user_id": user_id,
        "ended_at": None,
        "expires_at": {"$gt": now},
        "$or": [
            {"last_seen_at": {"$gt": idle_since}},
            {"last_seen_at": None, "created_at": {"$gt": idle_since}},
        ],
    }
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
    """Set a member's password; their sessions end, so they log in again,
    and must then choose a password of their own before anything else (the
    admin knows this one)."""
    _require_admin(scope)
    target = _member(scope, user_id)
    _check_password(new_password, target.email)
    _update_member(scope, target, {"password_hash": _hash_password(new_password), "must_change_password": True})
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
