"""The API's dependencies, named as FastAPI's project template names them:
``CurrentKey`` (the request's API key, or 401), ``WriteKey`` (a key that
may write, or 403), ``ScopeDep`` (a ``hiremate.scope.Scope`` of the key's
organisation, audited ``via: "api_key:<id>"``) and ``DbDep``.

Every authenticated request also takes a token from its key's bucket
(``RateLimiter``): HIREMATE_API_REQUESTS_PER_MINUTE sustained, bursts of
HIREMATE_API_BURST; an empty bucket answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.database import Database

from hiremate import api_keys
from hiremate import db as dbmod
from hiremate.api_keys import ApiPrincipal
from hiremate.ratelimit import TokenBucket
from hiremate.scope import Scope

_bearer = HTTPBearer(auto_error=False, description="An API key of your organisation: `Authorization: Bearer hmk_...`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class RateLimiter:
    """One token bucket per key, in this process (the recruiter app runs one
    server process; behind several, each allows the rate)."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[object, TokenBucket] = {}
        self._lock = threading.Lock()  # handlers run in a thread pool

    def take(self, key: object) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, updated=now)
            if bucket.take(1, now):
                return 0.0
            return (1 - bucket.tokens) / self.rate


def get_db(request: Request) -> Database:
    """The app's database: the one ``create_app`` was given, else the process's."""
    given = getattr(request.app.state, "db", None)
    return given if given is not None else dbmod.get_db()


DbDep = Annotated[Database, Depends(get_db)]


def current_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> ApiPrincipal:
    if credentials is None:  # no header, or not a Bearer one: refused before the database is asked
        raise HTTPException(401, "Send an API key as `Authorization: Bearer <key>`.", headers=_CHALLENGE)
    return authenticated(request, credentials.credentials, challenge=_INVALID)


def authenticated(request: Request, key: str, *, challenge: dict[str, str]) -> ApiPrincipal:
    """The principal of ``key`` after one token of its rate limit: 401 with
    ``challenge`` for a key that is unknown or revoked, 429 when its bucket is empty
    (the REST API's Bearer keys and Greenhouse's Basic auth alike)."""
    principal = api_keys.authenticate(get_db(request), key)
    if principal is None:
        raise HTTPException(401, "The API key is not valid or has been revoked.", headers=challenge)
    wait = request.app.state.limiter.take(principal.key_id)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            429, f"Rate limit of this key reached; try again in {seconds} s.", headers={"Retry-After": str(seconds)}
        )
    return principal


CurrentKey = Annotated[ApiPrincipal, Depends(current_key)]


def write_key(principal: CurrentKey) -> ApiPrincipal:
    if not principal.may_write:
        raise HTTPException(403, "This key is read-only; a write key is needed to change anything.")
    return principal


WriteKey = Annotated[ApiPrincipal, Depends(write_key)]


def key_scope(principal: CurrentKey, db: DbDep) -> Scope:
    return principal.scope(db)


ScopeDep = Annotated[Scope, Depends(key_scope)]


def write_scope(principal: WriteKey, db: DbDep) -> Scope:
    return principal.scope(db)


WriteScopeDep = Annotated[Scope, Depends(write_scope)]
