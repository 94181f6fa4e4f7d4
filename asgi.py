"""The recruiter app's entry point: `streamlit run asgi.py`.

Streamlit's ASGI app around the router (app.py), plus the HTTP routes that
set and clear the HttpOnly cookies, which a Streamlit script cannot do
itself (recruiter/session.py describes the hand-over): the login nonce
(BEGIN_ROUTE), the hand-over (SESSION_ROUTE: a GET page that POSTs) and
logging out (SIGNOUT_ROUTE: POST; a GET only clears a cookie already dead);
and the REST API v1 (``api/``) mounted at ``/api/v1``, so recruiters and
integrations share one address (docs/integrations.md).
"""

from __future__ import annotations

import contextlib
import os
from urllib.parse import urlsplit

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

import api
from api import greenhouse as greenhouse_api
from hiremate import auth
from hiremate.db import get_db
from hiremate.settings import get_settings
from recruiter import session
from recruiter.security_headers import SecurityHeaders, came_over_https

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
HANDOVER_SCRIPT = "/auth/handover.js"
# GET SESSION_ROUTE: a page whose only job is to POST back, at once (by the
# script, from this origin: no inline script) or on a click.
_HANDOVER_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HireMate: signing you in</title></head>
<body><form id="handover" method="post" action="{session.SESSION_ROUTE}">
<p>Signing you in&hellip;</p><button type="submit">Continue</button></form>
<script src="{HANDOVER_SCRIPT}"></script></body></html>
"""
_HANDOVER_JS = 'document.getElementById("handover").submit();\n'
DEVICE_COOKIE_DAYS = 180


def begin_login(request: Request) -> Response:
    """GET BEGIN_ROUTE?next=<path>: give this browser a login nonce (when it
    has none) and go back. Changes nothing else."""
    back = session.local_path(request.query_params.get("next"))
    separator = "&" if "?" in back else "?"
    response = RedirectResponse(f"{back}{separator}{session.BEGUN_PARAM}=1", status_code=303, headers=_NO_STORE)
    if not session.unseal(request.cookies.get(session.LOGIN_COOKIE), session.LOGIN_COOKIE):
        _set_login_nonce(response, request)
    return response


def handover_page(request: Request) -> Response:
    """GET SESSION_ROUTE: the page that POSTs the hand-over (a GET changes nothing)."""
    return HTMLResponse(_HANDOVER_PAGE, headers=_NO_STORE)


def handover_script(request: Request) -> Response:
    return Response(_HANDOVER_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})


def start_cookie_session(request: Request) -> Response:
    """POST SESSION_ROUTE: take over the session this browser's login form
    started (bound to its login nonce cookie), under a fresh token, as the
    session cookie; then go back to where the user was."""
    if not _same_site(request):
        return PlainTextResponse("Cross-site request refused.", status_code=403, headers=_NO_STORE)
    nonce = session.unseal(request.cookies.get(session.LOGIN_COOKIE), session.LOGIN_COOKIE) or ""
    try:
        handed = auth.complete_handover(get_db(), nonce)
    except session.DATABASE_DOWN:
        return PlainTextResponse(session.DATABASE_DOWN_MESSAGE, status_code=503, headers=_NO_STORE)
    if handed is None:  # another browser's hand-over, a second try, or too late
        return RedirectResponse("/", status_code=303, headers=_NO_STORE)
    response = RedirectResponse(session.local_path(handed.next_path), status_code=303, headers=_NO_STORE)
    secure = _is_https(request)
    response.set_cookie(
        session.COOKIE_NAME,
        session.seal(handed.token),
        max_age=get_settings().session_days * 86400,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        session.DEVICE_COOKIE,
        session.new_device_cookie(handed.user, request.cookies.get(session.DEVICE_COOKIE)),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(session.LOGIN_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
    return response


def sign_out(request: Request) -> Response:
    """POST SIGNOUT_ROUTE: end the cookie's session and clear the cookie."""
    if not _same_site(request):
        return PlainTextResponse("Cross-site request refused.", status_code=403, headers=_NO_STORE)
    token = session.unseal(request.cookies.get(session.COOKIE_NAME))
    if token:
        # When the database is down the cookie is cleared all the same.
        with contextlib.suppress(*session.DATABASE_DOWN):
            auth.end_session(get_db(), token)
    return _signed_out(request)


def sign_out_page(request: Request) -> Response:
    """GET SIGNOUT_ROUTE (where the app's logout sends the browser, after
    ending the session): clear a cookie whose session has ended. A live
    session is left alone, so a link or an image elsewhere logs no one out."""
    token = session.unseal(request.cookies.get(session.COOKIE_NAME))
    try:
        live = bool(token) and auth.session_is_live(get_db(), token)
    except session.DATABASE_DOWN:
        live = True  # not known to be over: keep it
    if live:
        return RedirectResponse("/", status_code=303, headers=_NO_STORE)
    return _signed_out(request)


def _signed_out(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303, headers=_NO_STORE)
    response.delete_cookie(session.COOKIE_NAME, path="/", secure=_is_https(request), httponly=True, samesite="lax")
    _set_login_nonce(response, request)  # ready for the next login
    return response


def _set_login_nonce(response: Response, request: Request) -> None:
    # No Max-Age: it lasts as long as the browser session. Its strength is
    # being one-time and bound to a login of the last 120 s, not its age.
    response.set_cookie(
        session.LOGIN_COOKIE,
        session.new_login_nonce(),
        path="/",
        secure=_is_https(request),
        httponly=True,
        samesite="strict",
    )


def _same_site(request: Request) -> bool:
    """Whether a state-changing request comes from this app's own pages:
    Sec-Fetch-Site where the browser sends it, else the Origin's host;
    clients that send neither (not browsers) are let through."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {request.headers.get("host", "")}
    if get_settings().trust_proxy:
        hosts.add(request.headers.get("x-forwarded-host", ""))
    return urlsplit(origin).netloc in hosts - {""}


def _is_https(request: Request) -> bool:
    forwarded = request.headers.getlist("x-forwarded-proto")
    return came_over_https(request.url.scheme, forwarded, trust_proxy=get_settings().trust_proxy)


# Plain (sync) handlers: Starlette runs them in its thread pool, so blocking
# pymongo calls never stall the event loop Streamlit's sockets share.
os.environ[session.COOKIE_ROUTES_ENV] = "1"
app = st.App(
    "app.py",
    on_script_error=session.on_script_error,
    # Outermost: every HTTP answer (pages, assets, the routes below) gets the
    # security headers (recruiter/security_headers.py).
    middleware=[Middleware(SecurityHeaders)],
    routes=[
        Route(session.BEGIN_ROUTE, begin_login, methods=["GET"]),
        Route(session.SESSION_ROUTE, handover_page, methods=["GET"]),
        Route(session.SESSION_ROUTE, start_cookie_session, methods=["POST"]),
        Route(HANDOVER_SCRIPT, handover_script, methods=["GET"]),
        Route(session.SIGNOUT_ROUTE, sign_out_page, methods=["GET"]),
        Route(session.SIGNOUT_ROUTE, sign_out, methods=["POST"]),
        # User routes come before Streamlit's, so /api/v1/... never reaches its page router.
        Mount(api.PREFIX, app=api.create_app()),
        Mount(greenhouse_api.PREFIX, app=greenhouse_api.create_app()),
    ],
)
