"""The REST API v1 through HTTP on a real loopback socket, against the real
store: every endpoint's status codes and shapes, paging by cursor, scoping
across two organisations, keys refused (missing, invalid, revoked, read-only,
rate limited), errors as problem+json, the OpenAPI document and the docs page."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from bson import ObjectId
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from api import problems
from api.deps import RateLimiter
from api.routers import attempts, dashboard, kits, people, tasks
from hiremate import db as dbmod
from tests.api.conftest import ISSUED_A

ROOT = Path(__file__).resolve().parents[2]
ROUTERS = (attempts.router, dashboard.router, kits.router, people.router, tasks.router)
SECRET_FIELDS = {
    "password_hash",
    "token_hash",
    "session_key_hash",
    "session_hash",
    "key_hash",
    "replaced_token_hashes",
    "handover_hash",
    "ip_hash",
    "user_agent",
    "metadata",
    "accommodations",
    "self_identification",
    "sex",
    "race_ethnicity",
}


def assert_problem(answer, status: int, slug: str) -> dict:
    assert answer.status == status, answer.body
    assert answer.header("Content-Type") == "application/problem+json"
    body = answer.json
    assert body["type"] == f"/api/v1/problems/{slug}" and body["status"] == status
    assert body["title"] == problems.PROBLEMS[slug].title and body["detail"]
    return body


def every_page(server, path: str, limit: int, key: str = "a_write") -> tuple[list[dict], int]:
    items, cursor, pages = [], None, 0
    while True:
        separator = "&" if "?" in path else "?"
        answer = server.get(f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), key=key)
        assert answer.status == 200, answer.body
        items += answer.json["items"]
        pages += 1
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return items, pages


# ---------------------------------------------------------------- keys


def test_me_names_the_key_and_its_organisation(server):
    answer = server.get("/me", key="a_read")
    assert answer.status == 200 and answer.header("Content-Type") == "application/json"
    assert answer.json == {
        "organization_id": str(server.world.a.scope.organization_id),
        "organization_name": "Acme",
        "key_id": server.world.key_ids["a_read"],
        "key_name": "a_read",
        "access": "read",
    }
    assert answer.header("Cache-Control") == "no-store"
    assert answer.header("X-Content-Type-Options") == "nosniff"  # the recruiter app's headers wrap the API


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer hmk_nope"}],
)
def test_a_missing_or_invalid_key_is_401_with_a_bearer_challenge(server, headers):
    answer = server.get("/attempts", key=None, headers=headers)
    body = assert_problem(answer, 401, "unauthorized")
    assert answer.header("WWW-Authenticate").startswith("Bearer")
    assert "items" not in body


def test_a_revoked_key_is_refused(server):
    assert_problem(server.get("/me", key="a_revoked"), 401, "unauthorized")


def test_a_read_key_cannot_write(server):
    task = server.world.a.tasks[0]
    for method, path in (
        ("POST", "/tasks"),
        ("PUT", f"/tasks/{task.id}"),
        ("DELETE", f"/tasks/{task.id}"),
        ("POST", "/attempts"),
        ("POST", f"/attempts/{server.world.a.pending[0].id}/lock"),
        ("POST", "/kits"),
    ):
        assert_problem(server.call(method, path, key="a_read", body={}), 403, "forbidden")
    assert server.world.db[dbmod.TASKS].find_one({"_id": task.id})["is_active"] is True


def test_the_rate_limit_answers_429_with_retry_after(server):
    saved = server.app.state.limiter
    server.app.state.limiter = RateLimiter(per_minute=1, burst=3)
    try:
        answers = [server.get("/me", key="a_burst") for _ in range(4)]
        assert [a.status for a in answers[:3]] == [200, 200, 200]
        assert_problem(answers[3], 429, "rate-limited")
        assert int(answers[3].header("Retry-After")) >= 1
        assert server.get("/me", key="a_read").status == 200  # another key has its own bucket
    finally:
        server.app.state.limiter = saved


# ---------------------------------------------------------------- tasks


def test_tasks_crud_with_soft_delete(server):
    listed = server.get("/tasks", key="a_read").json
    assert {t["id"] for t in listed} == {str(t.id) for t in server.world.a.tasks}
    draft = {
        "title": "Pick a supplier",
        "scenario": "Two suppliers offer the same part.",
        "category": "problem_solving",
        "difficulty": "easy",
        "options": [
            {"id": "a", "text": "The cheap one", "risk_level": "high"},
            {"id": "b", "text": "The known one", "risk_level": "low"},
        ],
    }
    created = server.call("POST", "/tasks", body=draft)
    assert created.status == 201 and created.json["title"] == "Pick a supplier" and created.json["is_active"]
    task_id = created.json["id"]
    assert server.get(f"/tasks/{task_id}").json["scenario"] == draft["scenario"]
    replaced = server.call("PUT", f"/tasks/{task_id}", body={**draft, "title": "Pick a vendor"})
    assert replaced.status == 200 and replaced.json["title"] == "Pick a vendor"
    deleted = server.call("DELETE", f"/tasks/{task_id}")
    assert deleted.status == 200 and deleted.json["is_active"] is False
    assert task_id not in {t["id"] for t in server.get("/tasks").json}
    assert task_id in {t["id"] for t in server.get("/tasks?include_deleted=true").json}
    assert server.call("POST", f"/tasks/{task_id}/restore").json["is_active"] is True
    audited = server.world.db[dbmod.AUDIT_LOG].find({"target_id": task_id}).sort("seq", 1)
    entries = [(e["action"], e["details"]["via"], e["actor_id"]) for e in audited]
    via = f"api_key:{server.world.key_ids['a_write']}"
    assert entries == [(a, via, None) for a in ("task.created", "task.updated", "task.deleted", "task.restored")]


def test_an_invalid_task_is_422_with_its_field_errors_and_stores_nothing(server):
    before = server.world.db[dbmod.TASKS].count_documents({})
    body = assert_problem(server.call("POST", "/tasks", body={"title": "x", "options": []}), 422, "validation-error")
    fields = {error["field"] for error in body["errors"]}
    assert {"body.scenario", "body.category", "body.options"} <= fields
    assert server.world.db[dbmod.TASKS].count_documents({}) == before


def test_another_organisation_s_ids_and_malformed_ids_are_404(server):
    a = server.world.a
    for path in (
        f"/tasks/{a.tasks[0].id}",
        f"/attempts/{a.completed[0].id}",
        f"/attempts/{a.completed[0].id}/events",
        f"/attempts/{a.completed[0].id}/metrics",
        f"/attempts/{a.completed[0].id}/skills",
        f"/attempts/{a.completed[0].id}/review",
        f"/kits/{a.kit_id}",
        "/candidates/done0@1.example.com",
        "/attempts/not-an-id",
        "/tasks/123",
        f"/attempts/{ObjectId()}",
    ):
        assert_problem(server.get(path, key="b_write"), 404, "not-found")
    for method, path in (
        ("DELETE", f"/tasks/{a.tasks[0].id}"),
        ("POST", f"/attempts/{a.pending[0].id}/lock"),
        ("POST", f"/attempts/{a.completed[0].id}/metrics/compute"),
        ("DELETE", f"/kits/{a.kit_id}"),
    ):
        assert_problem(server.call(method, path, key="b_write", body={"reason": "x"}), 404, "not-found")
    assert_problem(
        server.get(f"/compare?attempts={a.completed[0].id},{a.completed[1].id}", key="b_write"), 404, "not-found"
    )
    issued_with_a_s_kit = server.call(
        "POST",
        "/attempts",
        key="b_write",
        body={"candidate": {"name": "X", "email": "x@example.com"}, "kit_id": a.kit_id},
    )
    assert_problem(issued_with_a_s_kit, 404, "not-found")
    assert server.world.db[dbmod.ATTEMPTS].find_one({"_id": a.pending[0].id})["status"] == "pending"


# ---------------------------------------------------------------- attempts


def test_issuing_answers_the_link_once_and_stores_only_its_hash(server):
    a = server.world.a
    body = {
        "candidate": {"name": "Nia Park", "email": "Nia@Example.com", "position": "Analyst"},
        "task_ids": [str(a.tasks[1].id), str(a.tasks[0].id)],
        "expires_days": 3,
    }
    answer = server.call("POST", "/attempts", body=body)
    assert answer.status == 201, answer.body
    issued = answer.json
    assert issued["link"].endswith(issued["token"]) and issued["mail"] is None
    attempt = issued["attempt"]
    assert attempt["status"] == "pending" and attempt["candidate"]["email"] == "nia@example.com"
    assert attempt["task_ids"] == body["task_ids"]
    stored = server.world.db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(attempt["id"])})
    assert stored["token_hash"] == hashlib.sha256(issued["token"].encode()).hexdigest()
    again = server.get(f"/attempts/{attempt['id']}")
    assert again.status == 200 and issued["token"] not in again.body.decode()
    by_kit = server.call(
        "POST", "/attempts", body={"candidate": {"name": "Kit User", "email": "kit@example.com"}, "kit_id": a.kit_id}
    )
    assert by_kit.status == 201 and by_kit.json["attempt"]["kit_id"] == a.kit_id
    sampled = server.call("POST", "/attempts", body={"candidate": {"name": "S", "email": "s@example.com"}, "sample": 2})
    assert sampled.status == 201 and len(sampled.json["attempt"]["task_ids"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"candidate": {"name": "X", "email": "x@example.com"}},
        {"candidate": {"name": "X", "email": "x@example.com"}, "sample": 1, "kit_id": "abc"},
        {"candidate": {"name": "X", "email": "not an email"}, "sample": 1},
        {"candidate": {"name": "X", "email": "x@example.com"}, "sample": 1, "surprise": True},
    ],
)
def test_a_bad_attempt_is_422_and_issues_nothing(server, body):
    before = server.world.db[dbmod.ATTEMPTS].count_documents({})
    problem = assert_problem(server.call("POST", "/attempts", body=body), 422, "validation-error")
    assert problem["errors"]
    assert server.world.db[dbmod.ATTEMPTS].count_documents({}) == before


def test_sending_email_without_a_mail_server_is_refused(server):
    body = {"candidate": {"name": "X", "email": "x@example.com"}, "sample": 1, "send_email": True}
    problem = assert_problem(server.call("POST", "/attempts", body=body), 409, "refused")
    assert "send_email" in problem["detail"]


def test_attempts_page_by_cursor_without_duplicates_or_gaps(server):
    organization_id = server.world.a.scope.organization_id
    expected = [
        str(doc["_id"])
        for doc in server.world.db[dbmod.ATTEMPTS]
        .find({"organization_id": organization_id})
        .sort([("created_at", -1), ("_id", -1)])
    ]
    assert len(expected) >= ISSUED_A + 3
    items, pages = every_page(server, "/attempts", 7, key="a_read")
    assert [item["id"] for item in items] == expected and pages == -(-len(expected) // 7)
    completed, _ = every_page(server, "/attempts?status=completed", 2)
    assert {item["id"] for item in completed} == {str(a.id) for a in server.world.a.completed}
    by_email, _ = every_page(server, "/attempts?email=CAND1@1.example.com", 5)
    assert by_email and {item["candidate"]["email"] for item in by_email} == {"cand1@1.example.com"}
    theirs, _ = every_page(server, "/attempts", 50, key="b_write")
    assert theirs and not {item["id"] for item in theirs} & set(expected)


def test_a_cursor_that_is_not_ours_is_422(server):
    for cursor in ("garbage", "eyJ0IjoxfQ", "czE"):
        problem = assert_problem(server.get(f"/attempts?cursor={cursor}"), 422, "validation-error")
        assert problem["errors"][0]["field"] == "query.cursor"


def test_locking_an_attempt_then_locking_it_again_is_refused(server):
    target = server.world.a.pending[-1]
    locked = server.call("POST", f"/attempts/{target.id}/lock", body={"reason": "duplicate candidate"})
    assert locked.status == 200 and locked.json["status"] == "locked"
    assert locked.json["locked_reason"] == "duplicate candidate"
    assert_problem(server.call("POST", f"/attempts/{target.id}/lock", body={"reason": "again"}), 409, "refused")
    assert_problem(
        server.call("POST", f"/attempts/{server.world.a.pending[-2].id}/lock", body={}), 422, "validation-error"
    )


def test_events_page_in_sequence_without_secrets(server):
    attempt = server.world.a.completed[0]
    stored = server.world.db[dbmod.EVENTS].count_documents({"attempt_id": attempt.id})
    items, pages = every_page(server, f"/attempts/{attempt.id}/events", 10)
    assert [e["sequence_number"] for e in items] == list(range(1, stored + 1))
    assert pages == -(-stored // 10)
    assert {"id", "event_type", "task_id", "timestamp", "payload"} <= set(items[0])


def test_metrics_and_skills_of_a_completed_attempt_and_computing_them(server):
    attempt = server.world.a.completed[1]
    metrics = server.get(f"/attempts/{attempt.id}/metrics", key="a_read")
    assert metrics.status == 200 and metrics.json["attempt_id"] == str(attempt.id)
    assert metrics.json["global_metrics"]["total_tasks"] == 3 and "_id" not in metrics.json
    skills = server.get(f"/attempts/{attempt.id}/skills", key="a_read")
    assert skills.status == 200 and skills.json["attempt_id"] == str(attempt.id) and skills.json["overall_summary"]
    computed = server.call("POST", f"/attempts/{attempt.id}/metrics/compute")
    assert computed.status == 200 and computed.json["rules"] == skills.json["version"]
    entry = server.world.db[dbmod.AUDIT_LOG].find_one({"action": "attempt.recomputed", "target_id": str(attempt.id)})
    assert entry["details"]["via"] == f"api_key:{server.world.key_ids['a_write']}"
    pending = server.world.a.pending[0]
    assert_problem(server.get(f"/attempts/{pending.id}/skills"), 404, "not-found")
    assert_problem(server.call("POST", f"/attempts/{pending.id}/metrics/compute"), 409, "refused")


# ---------------------------------------------------------------- people, compare, dashboard


def test_candidates_are_people_paged_by_cursor(server):
    items, _ = every_page(server, "/candidates", 4, key="a_read")
    emails = [item["candidate_email"] for item in items]
    assert len(emails) == len(set(emails))  # one row per person
    organization_id = server.world.a.scope.organization_id
    assert set(emails) == set(
        server.world.db[dbmod.ATTEMPTS].distinct("candidate_info.email", {"organization_id": organization_id})
    )
    repeated = next(item for item in items if item["candidate_email"] == "cand1@1.example.com")
    assert repeated["attempts"] >= 2
    done = next(item for item in items if item["candidate_email"] == "done0@1.example.com")
    assert done["status"] == "completed" and done["thinking_style"] and done["review_state"] == "awaiting_review"
    person = server.get("/candidates/DONE0@1.example.com", key="a_read")
    assert person.status == 200 and person.json["name"] == "Done 0" and len(person.json["attempts"]) == 1
    assert_problem(server.get("/candidates/nobody@example.com"), 404, "not-found")
    theirs, _ = every_page(server, "/candidates", 50, key="b_write")
    assert not {item["candidate_email"] for item in theirs} & set(emails)


def test_compare_two_completed_attempts(server):
    first, second = server.world.a.completed[:2]
    answer = server.get(f"/compare?attempts={first.id},{second.id}", key="a_read")
    assert answer.status == 200
    assert [c["attempt_id"] for c in answer.json["columns"]] == [str(first.id), str(second.id)]
    assert answer.json["rows"] and all(len(row["values"]) == 2 for row in answer.json["rows"])
    assert_problem(server.get(f"/compare?attempts={first.id}"), 409, "refused")
    assert_problem(server.get("/compare"), 422, "validation-error")


def test_dashboard_stats_and_activity_name_the_key(server):
    stats = server.get("/dashboard/stats", key="a_read").json
    organization_id = server.world.a.scope.organization_id
    assert stats["total_attempts"] == server.world.db[dbmod.ATTEMPTS].count_documents(
        {"organization_id": organization_id}
    )
    assert stats["attempts_by_status"]["completed"] == 3
    server.call("POST", "/attempts", body={"candidate": {"name": "Feed Me", "email": "feed@example.com"}, "sample": 1})
    activity = server.get("/dashboard/activity?limit=5", key="a_read").json
    newest = next(item for item in activity if item["candidate_name"] == "Feed Me")
    assert newest["actor"] == "API key a_write" and newest["text"] == "API key a_write issued an assessment to Feed Me"


# ---------------------------------------------------------------- kits and reviews


def test_kits_crud(server):
    a = server.world.a
    assert server.get("/kits", key="a_read").json[0]["id"] == a.kit_id
    created = server.call("POST", "/kits", body={"name": "Sampled", "sampling": {"count": 2}})
    assert created.status == 201 and created.json["kind"] == "sampled"
    kit_id = created.json["id"]
    changed = server.call("PATCH", f"/kits/{kit_id}", body={"position": "Analyst"})
    assert changed.status == 200 and changed.json["position"] == "Analyst" and changed.json["kind"] == "sampled"
    assert_problem(server.call("POST", "/kits", body={"name": "sampled", "sampling": {"count": 1}}), 409, "refused")
    assert server.call("DELETE", f"/kits/{kit_id}").json["archived"] is True
    assert kit_id not in {k["id"] for k in server.get("/kits").json}
    assert kit_id in {k["id"] for k in server.get("/kits?archived=true").json}
    assert server.call("POST", f"/kits/{kit_id}/restore").json["archived"] is False
    assert_problem(server.call("POST", "/kits", body={"name": ""}), 422, "validation-error")


def test_review_state_and_a_decision_needs_a_named_person(server):
    attempt = server.world.a.completed[2]
    state = server.get(f"/attempts/{attempt.id}/review", key="a_read")
    assert state.status == 200 and state.json == {
        "attempt_id": str(attempt.id),
        "state": "awaiting_review",
        "decision": None,
        "reviews": [],
        "decisions": [],
    }
    assert server.get(f"/attempts/{server.world.a.pending[0].id}/review").json["state"] is None
    refused = server.call(
        "POST", f"/attempts/{attempt.id}/review/decision", body={"decision": "advance", "reason": "strong"}
    )
    assert "named recruiter" in assert_problem(refused, 409, "refused")["detail"]
    assert server.world.db[dbmod.REVIEWS].find_one({"_id": attempt.id}) is None


# ---------------------------------------------------------------- FastAPI's own errors


def test_unknown_paths_methods_and_parameters_are_problems_too(server):
    assert_problem(server.get("/nothing-here"), 404, "not-found")
    assert_problem(server.call("DELETE", "/me"), 405, "method-not-allowed")
    body = assert_problem(server.get("/attempts?limit=0"), 422, "validation-error")
    assert body["errors"][0]["field"] == "query.limit"
    assert_problem(server.get("/attempts?status=finished"), 422, "validation-error")
    broken = server.call("POST", "/tasks", body=None, headers={"Content-Type": "application/json"})
    assert_problem(broken, 422, "validation-error")


def test_every_problem_type_is_served_and_documented(server):
    guide = (ROOT / "docs" / "integrations.md").read_text()
    for slug, kind in problems.PROBLEMS.items():
        answer = server.get(f"/problems/{slug}", key=None)
        assert answer.status == 200 and answer.json["status"] == kind.status
        assert f"`/api/v1/problems/{slug}`" in guide, f"{slug} is not in docs/integrations.md"


# ---------------------------------------------------------------- OpenAPI and the docs


def test_the_openapi_document_is_valid_and_has_every_route(server):
    answer = server.get("/openapi.json", key=None)
    assert answer.status == 200
    document = answer.json
    validate(document)
    routes = [*server.app.routes, *(r for router in ROUTERS for r in router.routes)]
    served = {
        (route.path, method)
        for route in routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    assert served == documented and len(served) >= 28
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    listed = document["paths"]["/attempts"]["get"]["responses"]
    assert listed["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "detail" in document["components"]["schemas"]["Problem"]["properties"]
    assert "HTTPValidationError" not in json.dumps(document)


def test_the_docs_page_loads_only_our_own_files(server):
    page = server.get("/docs", key=None)
    assert page.status == 200 and page.header("Content-Type").startswith("text/html")
    text = page.body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "an inline script: the CSP would block it"
    sources = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert sources and all(source.startswith("/api/v1/docs/static/") for source in sources)
    policy = page.header("Content-Security-Policy")
    assert "script-src 'self'" in policy and "https:" not in policy
    for source in sources:
        asset = server.get(source.removeprefix("/api/v1"), key=None)
        assert asset.status == 200 and len(asset.body) > 100, source
        assert "max-age" in asset.header("Cache-Control")
    assert 'data-openapi="/api/v1/openapi.json"' in text


# ---------------------------------------------------------------- nothing secret, anywhere


def test_no_answer_holds_a_secret_field(server):
    a = server.world.a
    done, pending = a.completed[0].id, a.pending[0].id
    paths = [
        "/me",
        "/tasks?include_deleted=true",
        f"/tasks/{a.tasks[0].id}",
        "/attempts?limit=200",
        f"/attempts/{done}",
        f"/attempts/{pending}",
        f"/attempts/{done}/events?limit=1000",
        f"/attempts/{done}/metrics",
        f"/attempts/{done}/skills",
        f"/attempts/{done}/review",
        "/candidates?limit=200",
        "/candidates/done0@1.example.com",
        f"/compare?attempts={a.completed[0].id},{a.completed[1].id}",
        "/dashboard/stats",
        "/dashboard/activity?limit=100",
        "/kits?archived=true",
        f"/kits/{a.kit_id}",
    ]

    def keys(value):
        if isinstance(value, dict):
            for name, item in value.items():
                yield name
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    for path in paths:
        answer = server.get(path)
        assert answer.status == 200, (path, answer.body)
        found = set(keys(answer.json)) & SECRET_FIELDS
        assert not found, f"{path} answers {found}"
        for plaintext in server.world.keys.values():
            assert plaintext.encode() not in answer.body
