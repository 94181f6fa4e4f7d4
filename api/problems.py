"""Errors as ``application/problem+json`` (RFC 9457).

Every error answer of the API, FastAPI's own 404, 405 and 422 included,
has ``type`` (a stable URI, ``/api/v1/problems/<slug>``, relative to the
server, which answers it with the problem's description), ``title``
(fixed per type), ``status``, ``detail`` (this occurrence, safe to show)
and, for validation errors, ``errors`` (one ``{field, message}`` per
problem). ``docs/integrations.md`` lists every type; a test checks the list
and ``PROBLEMS`` agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from hiremate.errors import Refusal, StoreUnavailable, TaskValidationError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/api/v1/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return TYPE_BASE + self.slug


PROBLEMS: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType(
            "unauthorized",
            401,
            "Missing or invalid API key",
            "Send a key that is not revoked as `Authorization: Bearer <key>`.",
        ),
        ProblemType(
            "forbidden", 403, "Not allowed with this key", "A read key cannot change anything: use a write key."
        ),
        ProblemType(
            "not-found",
            404,
            "Not found",
            "No such path, or no such thing in the key's organisation (ids of other organisations and malformed "
            "ids answer this too).",
        ),
        ProblemType("method-not-allowed", 405, "Method not allowed", "The path exists but not with this method."),
        ProblemType(
            "refused",
            409,
            "Refused",
            "The request is well formed but the organisation's data does not allow it now (a closed attempt, "
            "an archived kit, a profile not computed yet ...); `detail` says why.",
        ),
        ProblemType(
            "validation-error",
            422,
            "Invalid request",
            "The body, a path or a query parameter is not valid; `errors` has one `{field, message}` per problem.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests",
            "This key made more requests than its rate allows; wait `Retry-After` seconds.",
        ),
        ProblemType("internal-error", 500, "Internal error", "A bug on our side; it is logged. Try again or tell us."),
        ProblemType("unavailable", 503, "Database unavailable", "The database does not answer; try again in a moment."),
    )
}
_BY_STATUS = {problem.status: problem for problem in PROBLEMS.values()}


class Problem(BaseModel):
    """An error answer (``application/problem+json``), for the OpenAPI document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, as problem+json."""
    return {
        status: {
            "description": _BY_STATUS[status].title,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    kind = PROBLEMS[slug] if slug else _BY_STATUS.get(status)
    body: dict[str, Any] = {
        "type": kind.uri if kind else "about:blank",
        "title": kind.title if kind else "Error",
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else PROBLEMS.get("not-found").description
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such path in the API."
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on this path."
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": _field(error.get("loc", ())), "message": str(error.get("msg", ""))} for error in exc.errors()]
    return problem_response(422, f"{len(errors)} problem(s) with the request.", errors=errors)


async def _task_invalid(request: Request, exc: TaskValidationError) -> JSONResponse:
    errors = [{"field": problem.split(":", 1)[0], "message": problem} for problem in exc.problems]
    return problem_response(422, str(exc), errors=errors)


async def _refusal(request: Request, exc: Refusal) -> JSONResponse:
    return problem_response(409, str(exc))


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(503, "The database does not answer; try again in a moment.", headers={"Retry-After": "5"})


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("REST API: %s %s failed", request.method, request.url.path)
    return problem_response(500, "An internal error occurred; it has been logged.")


def install(app: FastAPI) -> None:
    """Every error of ``app`` as problem+json."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TaskValidationError, _task_invalid)
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(ConnectionFailure, _unavailable)
    app.add_exception_handler(Exception, _bug)
