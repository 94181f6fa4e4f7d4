"""Plain HTTP on the ingest port: /healthz, /a/{token}, /static/..., 404."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import json
import re

import pytest
from bson import ObjectId

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from hiremate.settings import Settings
from hiremate.timeutil import utcnow
from ingest_server import httpd
from tests.support.builders import start_attempt
from tests.support.ingest_helpers import (
    OPEN_LIMITS,
    http_get,
    ingest_settings,
    issue,
    own_store,
    page_state,
    running_server,
    server,
)

# ---------------------------------------------------------------- health


async def test_healthz_ok(server):
    answer = await http_get(server.port, "/healthz")
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "db": "ok"}
    assert answer.headers["content-type"] == "application/json"


async def test_healthz_503_when_the_database_is_down(own_store, tmp_path):
    settings, db = own_store.server_setup(tmp_path, "h")
    async with running_server(settings, db) as running:
        assert (await http_get(running.port, "/healthz")).status == 200
        own_store.store.stop()
        answer = await http_get(running.port, "/healthz")
        assert answer.status == 503
        assert answer.json()["db"] == "down"
    db.client.close()


# ---------------------------------------------------------------- the candidate page


async def test_page_pending(server, db):
    issued = issue(db, count=4, name="Ada Lovelace", position="Analyst")
    answer = await http_get(server.port, f"/a/{issued.token}")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    state = page_state(answer.body)
    assert state == {
        "state": "pending",
        "token": issued.token,
        "candidate_name": "Ada Lovelace",
        "position": "Analyst",
        "total_tasks": 4,
        "expires_at": state["expires_at"],
        "ws_path": f"/ws/assessment/{issued.token}",
        "notice": state["notice"],
        "accommodations": None,
        "start_by": state["expires_at"],
        "finish_by": state["finish_by"],
        "grace_hours": 24,
        "accommodation_request": None,
        "self_identification": False,  # protocol 1.3
    }
    assert state["expires_at"].endswith("Z")
    assert b"<!--HIREMATE_STATE-->" not in answer.body


async def test_page_security_headers(server, db):
    issued = issue(db)
    answer = await http_get(server.port, f"/a/{issued.token}")
    csp = answer.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'; connect-src 'self' ws: wss:;")
    assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_page_state_cannot_break_out_of_its_script(server, db):
    issued = issue(db, name="</script><script>alert(1)</script> & <!--", position="<b>Boss</b>")
    answer = await http_get(server.port, f"/a/{issued.token}")
    assert b"<script>alert" not in answer.body and b"<b>Boss" not in answer.body
    state = page_state(answer.body)
    assert state["candidate_name"] == "</script><script>alert(1)</script> & <!--"
    assert state["position"] == "<b>Boss</b>"
    assert answer.body.count(b"</script>") == 2  # the state block and the fixture's module script


@pytest.mark.parametrize("token", ["x" * 43, "short", "bad%20chars%3Cb%3E", "a" * 300])
async def test_page_not_found(server, token):
    answer = await http_get(server.port, f"/a/{token}")
    assert answer.status == 200
    assert page_state(answer.body) == {"state": "not_found", "token": None, "ws_path": None}


async def test_page_in_progress_completed_locked_expired(server, db):
    running = issue(db)
    start_attempt(db, running.attempt)
    assert page_state((await http_get(server.port, f"/a/{running.token}")).body)["state"] == "in_progress"

    done = issue(db)
    start_attempt(db, done.attempt)
    attempts.complete(db, done.attempt_id, completed_at=utcnow())
    assert page_state((await http_get(server.port, f"/a/{done.token}")).body)["state"] == "completed"

    locked = issue(db)
    attempts.lock_attempt(locked.scope, locked.attempt_id, "duplicate application")
    assert page_state((await http_get(server.port, f"/a/{locked.token}")).body)["state"] == "locked"

    late = issue(db)
    db[dbmod.ATTEMPTS].update_one({"_id": late.attempt_id}, {"$set": {"expires_at": utcnow()}})
    assert page_state((await http_get(server.port, f"/a/{late.token}")).body)["state"] == "expired"
    assert db[dbmod.ATTEMPTS].find_one({"_id": late.attempt_id})["status"] == AttemptStatus.EXPIRED  # on access


async def test_reissued_link_old_token_says_replaced(server, db):
    issued = issue(db)
    fresh = attempts.reissue_link(issued.scope, issued.attempt_id, public_url="http://x")
    old = page_state((await http_get(server.port, f"/a/{issued.token}")).body)
    assert old["state"] == "replaced" and old["token"] is None and "candidate_name" not in old
    assert page_state((await http_get(server.port, f"/a/{fresh.token}")).body)["state"] == "pending"


async def test_the_bundled_page_has_the_placeholder(ingest_settings, db):
    """The real candidate page (ingest_server/static) renders with its state."""
    assert httpd.STATE_PLACEHOLDER in (httpd.STATIC_DIR / "index.html").read_text()
    issued = issue(db)
    async with running_server(ingest_settings, db) as running:
        answer = await http_get(running.port, f"/a/{issued.token}")
        assert page_state(answer.body)["state"] == "pending"
        script = await http_get(running.port, "/static/app.js")
        assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")


# ---------------------------------------------------------------- static files


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/static/index.html", "text/html; charset=utf-8"),
        ("/static/sub/data.json", "application/json"),
    ],
)
async def test_static_files(server, path, content_type):
    answer = await http_get(server.port, path)
    assert answer.status == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert int(answer.headers["content-length"]) == len(answer.body) > 0


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static/sub",
        "/static/missing.js",
        "/static/.hidden",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/sub/../../server.py",
        "/static/sub/%2E%2E/%2E%2E/httpd.py",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/..%5Cserver.py",
    ],
)
async def test_static_refuses_traversal_and_missing(server, path):
    answer = await http_get(server.port, path)
    assert answer.status == 404
    assert b"import" not in answer.body


@pytest.mark.parametrize(
    "path", ["/", "/favicon.ico", "/a", "/ws/assessment/abc", "/ws/live/abc", "/healthz/x", "/ws/other"]
)
async def test_anything_else_is_404(server, path):
    assert (await http_get(server.port, path)).status == 404


def test_state_script_escapes():
    text = httpd.state_script({"x": "</script><!-- & \u2028"})
    inner = text[len('<script id="hm-state" type="application/json">') : -len("</script>")]
    assert "<" not in inner and ">" not in inner and "&" not in inner
    assert json.loads(inner) == {"x": "</script><!-- & \u2028"}


async def test_page_with_database_down(own_store, tmp_path):
    settings, db = own_store.server_setup(tmp_path, "p")
    issued = issue(db)
    async with running_server(settings.model_copy(), db) as running:
        own_store.store.stop()
        answer = await http_get(running.port, f"/a/{issued.token}")
        assert answer.status == 503
    db.client.close()


async def test_unused_ids_are_not_pages(server):
    assert (await http_get(server.port, f"/a/{ObjectId()}")).status == 200
