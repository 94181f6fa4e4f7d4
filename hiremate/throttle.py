"""Throttling of logins and sign-ups, and who the client is.

Found by attacking a running stack: the old lock (5 failures an account,
20 a client, 15 minutes) was checked before the password, so anyone could
lock anyone out by typing their email five times, or lock out a whole
office by failing 20 times from its address. The rules now:

* **Per (account, client)**: failures of one account from one client earn
  growing delays: ``FREE_FAILURES`` free, then 1 s, 2 s, 4 s ... up to 15
  minutes (``delay_after``). While the delay runs that pair is refused
  without checking the password (no bcrypt, not counted). The same account
  from another client is not affected: the owner logs in from their own
  browser while an attacker waits. A success forgets the pair; failures are
  forgotten ``FAILURE_MEMORY`` after the last one.
* **Per client**: at most ``CLIENT_FAILURE_LIMIT`` failures within
  ``CLIENT_WINDOW`` over all accounts, so one address cannot spray guesses
  over many accounts. It stops further logins from that client only; a
  browser with a device token for the account (below) is exempt, so people
  sharing an address with an attacker still get in.
* **Device tokens**: a browser that logged into an account gets a token
  (``recruiter/session.py`` keeps it in a signed HttpOnly cookie). Logins to
  that account from that browser are their own client: an attacker cannot
  share it, so neither the account's nor the address's delays reach it.
* **Sign-ups** (creating an organisation, joining with an invitation; each
  costs a bcrypt and writes): at most ``REGISTRATION_LIMIT`` a client within
  ``REGISTRATION_WINDOW``.

A check is claimed before the password is compared (the pair's
``locked_until`` moves ``CHECK_SECONDS`` ahead), so concurrent guesses from
one pair are refused, not checked in parallel. An unknown client ("": no
address, as on localhost) has no per-client limits, which would otherwise be
global; its pairs still apply.

Clients are named by ``client_key``: an HMAC of the address (IPv6 by its
/64, which one host usually holds whole). Behind ``HIREMATE_TRUST_PROXY``
the address is the right-most ``X-Forwarded-For`` entry that no trusted
proxy wrote (``client_address``): the left-most entries are whatever the
client sent. Accounts are named by ``account_tag``, a hash of the email:
nothing here stores an email.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from hiremate import db as dbmod
from hiremate.errors import LoginThrottled, RegistrationThrottled
from hiremate.timeutil import utcnow

FREE_FAILURES = 3
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(hours=24)
CLIENT_FAILURE_LIMIT = 30
CLIENT_WINDOW = timedelta(minutes=15)
REGISTRATION_LIMIT = 10
REGISTRATION_WINDOW = timedelta(hours=1)
CHECK_SECONDS = 10

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


# ---------------------------------------------------------------- who is asking


def client_address(peer: str | None, forwarded: list[str], *, trust_proxy: bool, proxy_hops: int = 1) -> str | None:
    """The client's address: the peer's, or with ``trust_proxy`` the
    right-most ``X-Forwarded-For`` entry not written by one of the
    ``proxy_hops`` trusted proxies (each appends the address it saw, so the
    last ``proxy_hops - 1`` entries are proxies and the one before them is
    the client; anything further left came from the client and is ignored).
    ``forwarded`` holds every X-Forwarded-For header, in order."""
    if not trust_proxy:
        return peer
    hops = [hop.strip() for header in forwarded for hop in header.split(",") if hop.strip()]
    if not hops:
        return peer
    return hops[-proxy_hops] if len(hops) >= proxy_hops else hops[0]


def client_key(address: str | None, secret: bytes) -> str:
    """An HMAC naming the client at ``address`` ("" when unknown): never the
    bare address. IPv6 addresses count by their /64."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        name = address
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        name = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    return hmac.new(secret, b"client-ip:" + name.encode(), hashlib.sha256).hexdigest()[:32]


def account_tag(email: str) -> str:
    """A fixed-length name of an account (of its normalised email) for the
    throttle and the audit log, which never store the email itself."""
    return hashlib.sha256(b"hiremate-account:" + email.encode()).hexdigest()[:32]


def device_token(device_id: str, account: str) -> str:
    """What a device cookie holds: the browser's id and the account's tag."""
    return f"{device_id}:{account}"


def trusted_device(token: str, account: str) -> str:
    """The device id of ``token`` when it was issued for ``account``, else ""."""
    device_id, _, for_account = (token or "").partition(":")
    return device_id if device_id and hmac.compare_digest(for_account, account) else ""


# ---------------------------------------------------------------- delays


def delay_after(failures: int) -> timedelta:
    """How long a pair waits after its ``failures``-th failure in a row."""
    if failures <= FREE_FAILURES:
        return timedelta(0)
    doublings = failures - FREE_FAILURES - 1
    if doublings >= 20:
        return MAX_DELAY
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


def _seconds(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


@dataclass(frozen=True)
class Claim:
    """A login check in progress for one (account, client) pair."""

    pair_id: str
    failures: int  # the pair's failures in a row before this check
    ceiling_key: str = ""  # the client's count this attempt is in ("" for none)
    ceiling_entry: ObjectId | None = None  # its entry there


@dataclass(frozen=True)
class Failure:
    """What a failed check changed: the pair's failures in a row, the delay
    they earned, and whether the client has just reached its ceiling."""

    failures: int
    delay: timedelta
    client_ceiling_reached: bool


def claim(db: Database, account: str, client: str, *, client_key: str = "", exempt: bool = False) -> Claim:
    """Start a login check of ``account`` by ``client`` (a device id or a
    client key), or raise LoginThrottled with the time to wait. Unless
    ``exempt`` (a trusted device), the attempt also counts against the
    ``client_key``'s ceiling until it succeeds."""
    now = utcnow()
    ceiling_key = "" if exempt or not client_key else f"client:{client_key}"
    entry = _enter(db, ceiling_key, CLIENT_FAILURE_LIMIT, CLIENT_WINDOW) if ceiling_key else None
    pair_id = f"{account}|{client or 'unknown'}"
    pairs = db[dbmod.LOGIN_THROTTLE]
    try:
        before = pairs.find_one_and_update(
            {"_id": pair_id, "locked_until": {"$lt": now + _ONE_MS}},
            {
                "$set": {"locked_until": now + timedelta(seconds=CHECK_SECONDS)},
                "$setOnInsert": {"failures": 0, "last_failure_at": _EPOCH},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
    except DuplicateKeyError:  # the pair exists and is locked (or being checked)
        if entry is not None:  # a refused attempt is not a guess
            db[dbmod.LOGIN_FAILURES].delete_one({"_id": entry})
        doc = pairs.find_one({"_id": pair_id}, {"locked_until": 1}) or {}
        raise LoginThrottled(_seconds(doc.get("locked_until") or now, now)) from None
    failures = 0
    if before is not None and before.get("last_failure_at", _EPOCH) > now - FAILURE_MEMORY:
        failures = int(before.get("failures", 0))
    return Claim(pair_id, failures, ceiling_key, entry)


def fail(db: Database, check: Claim) -> Failure:
    """The password was wrong: the pair's failures grow and so does its delay."""
    now = utcnow()
    failures = check.failures + 1
    delay = delay_after(failures)
    db[dbmod.LOGIN_THROTTLE].update_one(
        {"_id": check.pair_id},
        {"$set": {"failures": failures, "last_failure_at": now, "locked_until": now + delay}},
    )
    # Forget pairs whose last failure is long past (and that are not locked),
    # and entries older than every window (of any key: this also clears the
    # per-account entries of the old throttle, whose keys held the email).
    db[dbmod.LOGIN_THROTTLE].delete_many(
        {"last_failure_at": {"$lt": now - FAILURE_MEMORY}, "locked_until": {"$lt": now}}
    )
    db[dbmod.LOGIN_FAILURES].delete_many({"at": {"$lt": now - max(CLIENT_WINDOW, REGISTRATION_WINDOW)}})
    reached = bool(check.ceiling_key) and (
        _count(db, check.ceiling_key, CLIENT_WINDOW, CLIENT_FAILURE_LIMIT + 1) == CLIENT_FAILURE_LIMIT
    )
    return Failure(failures, delay, reached)


def succeed(db: Database, check: Claim) -> None:
    """The password was right: forget the pair's failures and this attempt's
    entry in the client's count (not the client's earlier failures, so
    logging into one's own account buys no guesses at others)."""
    db[dbmod.LOGIN_THROTTLE].delete_one({"_id": check.pair_id})
    if check.ceiling_entry is not None:
        db[dbmod.LOGIN_FAILURES].delete_one({"_id": check.ceiling_entry})


def count_registration(db: Database, client_key: str) -> bool:
    """Count a sign-up attempt of ``client_key`` or raise RegistrationThrottled;
    True when this one reached the limit (the next will wait)."""
    if not client_key:
        return False
    key = f"register:{client_key}"
    _enter(db, key, REGISTRATION_LIMIT, REGISTRATION_WINDOW, error=RegistrationThrottled)
    return _count(db, key, REGISTRATION_WINDOW, REGISTRATION_LIMIT + 1) == REGISTRATION_LIMIT


# ---------------------------------------------------------------- sliding windows


def _enter(
    db: Database,
    key: str,
    limit: int,
    window: timedelta,
    *,
    error: type[LoginThrottled] | type[RegistrationThrottled] = LoginThrottled,
) -> ObjectId:
    """Record an entry under ``key``, or refuse (and record nothing) when
    ``limit`` entries are already within ``window``.

    Recorded before it is checked, so concurrent attempts count each other."""
    now = utcnow()
    entries = db[dbmod.LOGIN_FAILURES]
    entries.delete_many({"key": key, "at": {"$lt": now - window}})
    own = entries.insert_one({"key": key, "at": now}).inserted_id
    # The limit-th newest earlier entry: once it leaves the window, fewer
    # than `limit` remain and the client may try again.
    cursor = (
        entries.find({"key": key, "at": dbmod.at_or_after(now - window), "_id": {"$ne": own}})
        .sort([("at", -1), ("_id", -1)])
        .skip(limit - 1)
        .limit(1)
    )
    blocking = next(iter(cursor), None)
    if blocking is not None:
        entries.delete_one({"_id": own})
        raise error(_seconds(blocking["at"] + window, now))
    return own


def _count(db: Database, key: str, window: timedelta, at_most: int) -> int:
    since = dbmod.at_or_after(utcnow() - window)
    return len(list(db[dbmod.LOGIN_FAILURES].find({"key": key, "at": since}, {"_id": 1}).limit(at_most)))
