"""Greenhouse's assessment partner API, the HTTP adapter, mounted at
``PREFIX`` by ``asgi.py`` beside the REST API (``hiremate.greenhouse`` is
the domain; ``docs/integrations.md`` "Greenhouse" the set-up guide).

Greenhouse calls the partner with HTTP Basic auth: the username is the
organisation's API key (``hiremate.api_keys``, the same keys as the REST
API, with the same rate limit), the password empty. ``send_test`` issues an
assessment, so it needs a write key; ``list_tests`` and ``test_status`` a
read key. Errors are problem+json like the REST API's; an unknown test or
interview answers 404, a request the domain refuses 422 (a callback URL
HireMate will not call) or 409, and ``send_test`` without mail 503.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel

from api import problems
from api.app import NoStoreByDefault
from api.deps import DbDep, RateLimiter, authenticated
from hiremate import greenhouse
from hiremate.api_keys import ApiPrincipal
from hiremate.errors import AttemptNotFound, KitError, MailNotConfigured, WebhookTargetRefused
from hiremate.settings import get_settings

PREFIX = "/integrations/greenhouse"
_basic = HTTPBasic(auto_error=False, description="Username: an API key of your organisation; password: empty.")
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="HireMate"'}
log = logging.getLogger("api.greenhouse")


def greenhouse_key(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Security(_basic)]
) -> ApiPrincipal:
    if credentials is None or not credentials.username:
        raise HTTPException(401, "Send the API key as the Basic auth username (password empty).", headers=_CHALLENGE)
    return authenticated(request, credentials.username, challenge=_CHALLENGE)


GreenhouseKey = Annotated[ApiPrincipal, Security(greenhouse_key)]


class Interview(BaseModel):
    partner_interview_id: str


def create_app(*, requests_per_minute: int | None = None, burst: int | None = None, db: Any = None) -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="HireMate for Greenhouse (assessment partner API)",
        version="1.0.0",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=problems.documented(401, 403, 404, 409, 422, 429),
    )
    app.state.limiter = RateLimiter(
        requests_per_minute or settings.api_requests_per_minute, burst or settings.api_burst
    )
    app.state.db = db
    problems.install(app)
    app.add_exception_handler(KitError, _not_found)
    app.add_exception_handler(AttemptNotFound, _not_found)
    app.add_exception_handler(WebhookTargetRefused, _unprocessable)
    app.add_exception_handler(MailNotConfigured, _no_mail)
    app.add_middleware(NoStoreByDefault)

    @app.get("/list_tests", summary="The organisation's assessment kits, as Greenhouse lists tests")
    def list_tests(principal: GreenhouseKey, db: DbDep) -> list[greenhouse.PartnerTest]:
        return greenhouse.list_tests(principal.scope(db))

    @app.post("/send_test", summary="Issue a kit to the candidate and email them the link")
    def send_test(request: greenhouse.SendTest, principal: GreenhouseKey, db: DbDep) -> Interview:
        if not principal.may_write:
            raise HTTPException(403, "This key is read-only; sending a test issues an assessment (a write key).")
        return Interview(partner_interview_id=greenhouse.send_test(principal.scope(db), request))

    @app.get("/test_status", summary="The assessment in Greenhouse's words (no score: HireMate has none)")
    def test_status(partner_interview_id: str, principal: GreenhouseKey, db: DbDep) -> greenhouse.TestStatus:
        return greenhouse.test_status(principal.scope(db), partner_interview_id)

    @app.post("/response_error", summary="Greenhouse reports a response it could not use; logged")
    def response_error(body: dict[str, Any], principal: GreenhouseKey, db: DbDep) -> dict[str, str]:
        log.warning("Greenhouse reported an unusable response for organisation %s", principal.organization_id)
        principal.scope(db).audit("greenhouse.response_error", fields=len(body))
        return {"status": "received"}

    return app


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problems.problem_response(404, str(exc))


async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
    return problems.problem_response(422, str(exc))


async def _no_mail(request: Request, exc: Exception) -> JSONResponse:
    return problems.problem_response(503, str(exc))
