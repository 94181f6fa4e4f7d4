"""The REST API v1 application (FastAPI), mounted at ``PREFIX`` by ``asgi.py``.

Routes are relative to the mount (``/tasks`` answers ``/api/v1/tasks``).
OpenAPI at ``/openapi.json`` and its docs page at ``/docs`` need no key. The
docs page is our own HTML loading Swagger UI's files from this server (the
copies fastapi-offline ships) and a small script file of ours: FastAPI's
default page loads them from a CDN with an inline script, which the recruiter
app's Content-Security-Policy (``script-src 'self'``) and offline installs
forbid.

Every answer without a ``Cache-Control`` of its own gets ``no-store``
(answers of a key are the organisation's data); the docs' static files are
cached for a day.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from pymongo.database import Database

from api import problems
from api.deps import CurrentKey, DbDep, RateLimiter
from api.routers import attempts, dashboard, kits, people, tasks
from api.schemas import Me
from hiremate import auth
from hiremate.settings import get_settings

PREFIX = "/api/v1"
VERSION = "1.0.0"
_OFFLINE_STATIC = Path(fastapi_offline.__file__).resolve().parent / "static"
_OUR_STATIC = Path(__file__).resolve().parent / "static"
DOCS_FILES = {
    "swagger-ui.css": _OFFLINE_STATIC / "swagger-ui.css",
    "swagger-ui-bundle.js": _OFFLINE_STATIC / "swagger-ui-bundle.js",
    "favicon.png": _OFFLINE_STATIC / "favicon.png",
    "docs-init.js": _OUR_STATIC / "docs-init.js",
}
_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HireMate REST API v1</title>
<link rel="stylesheet" href="{root}/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="{root}/docs/static/favicon.png">
</head><body>
<main><h1 class="visually-hidden" style="position:absolute;left:-10000px">HireMate REST API v1</h1>
<div id="swagger-ui" data-openapi="{root}/openapi.json"></div></main>
<script src="{root}/docs/static/swagger-ui-bundle.js"></script>
<script src="{root}/docs/static/docs-init.js"></script>
</body></html>
"""
DESCRIPTION = (
    "HireMate's REST API for scripts, front ends and applicant-tracking systems. "
    "Authenticate with an API key of your organisation (`Authorization: Bearer hmk_...`); "
    "errors are `application/problem+json`. The guide is docs/integrations.md."
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class NoStoreByDefault:
    """ASGI middleware: ``Cache-Control: no-store`` on every HTTP answer that sets none."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_no_store)


def create_app(
    *, requests_per_minute: int | None = None, burst: int | None = None, db: Database | None = None
) -> FastAPI:
    """The v1 application; the rate limit defaults to the settings', the
    database to the process's (``hiremate.db.get_db``, at the first request)."""
    settings = get_settings()
    app = FastAPI(
        title="HireMate REST API",
        version=VERSION,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        # Every route may answer these; their bodies are problem+json (FastAPI's own 422 schema replaced).
        responses=problems.documented(401, 403, 404, 409, 422, 429),
    )
    generate = app.openapi

    def openapi_with_problem() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
        return app.openapi_schema

    app.openapi = openapi_with_problem  # type: ignore[method-assign]
    app.state.limiter = RateLimiter(
        requests_per_minute or settings.api_requests_per_minute, burst or settings.api_burst
    )
    app.state.db = db
    problems.install(app)
    app.add_middleware(NoStoreByDefault)

    @app.get("/me", tags=["auth"], summary="The key's organisation, name and access")
    def me(principal: CurrentKey, db: DbDep) -> Me:
        organization = auth.get_organization(db, principal.organization_id)
        return Me(
            organization_id=str(principal.organization_id),
            organization_name=organization.name if organization else "",
            key_id=str(principal.key_id),
            key_name=principal.name,
            access=principal.access.value,
        )

    for router in (tasks.router, attempts.router, people.router, dashboard.router, kits.router):
        app.include_router(router)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""), quote=True)
        return HTMLResponse(_DOCS_PAGE.format(root=root))

    @app.get("/docs/static/{name}", include_in_schema=False)
    def docs_file(name: str) -> FileResponse:
        path = DOCS_FILES.get(name)
        if path is None:
            raise HTTPException(404, "No such file of the API docs.")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/problems/{slug}", include_in_schema=False)
    def problem_type(slug: str) -> dict[str, Any]:
        kind = problems.PROBLEMS.get(slug)
        if kind is None:
            raise HTTPException(404, "No such problem type.")
        return {"type": kind.uri, "title": kind.title, "status": kind.status, "description": kind.description}

    return app
