"""The Dashboard page through AppTest against the embedded store: the counts
of a seeded organisation, the activity feed, the empty state of a new one,
and nothing of another organisation."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta

from hiremate import attempts, task_library, tasks
from hiremate import db as dbmod
from hiremate.models import CandidateInfo
from hiremate.ops import simulate
from hiremate.timeutil import utcnow
from recruiter import ui
from tests.support.builders import start_attempt
from tests.support.page_helpers import _fast_bcrypt, make_admin, open_page, scope_of, texts  # noqa: F401

PAGE = "app_pages/dashboard.py"


def metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def status_counts(at) -> dict[str, str]:
    """Each status badge and the number under it (a metric labelled with the status, not a heading)."""
    badges = [m.value for m in at.markdown]
    assert all(ui.status_markdown(status) in badges for status in ui.STATUS_STYLES)
    assert not any(value.startswith("#") and value.lstrip("# ").isdigit() for value in badges)
    shown = metrics(at)
    return {label: shown[label] for label in (ui.status_label(s) for s in ui.STATUS_STYLES)}


def seed(db, admin):
    scope = scope_of(db, admin)
    created = [tasks.create_task(scope, entry) for entry in list(task_library.LIBRARY.values())[:4]]
    tasks.soft_delete_task(scope, created[0].id)
    live = created[1:]

    def issue(name):
        candidate = CandidateInfo(name=name, email=f"{name.split()[0].lower()}@example.com")
        return attempts.issue_attempt(scope, candidate=candidate, task_ids=[t.id for t in live], expires_days=7)

    issue("Pat Pending")
    locked = issue("Lou Locked")
    attempts.lock_attempt(scope, locked.attempt.id, "Duplicate application")
    running = issue("Rae Running")
    start_attempt(db, attempts.find_by_token(db, running.token))
    now = utcnow()
    for n, days in enumerate([1, 2, 20]):
        simulate.seed_completed_attempt(
            db,
            organization_id=scope.organization_id,
            tasks=live,
            rng=random.Random(300 + n),
            candidate=CandidateInfo(name=f"Cand {n}", email=f"cand{n}@example.com"),
            started_at=now - timedelta(days=days),
        )
    return scope


def test_counts_of_a_seeded_organisation(app_env, db):
    admin = make_admin(db)
    seed(db, admin)
    done = list(db[dbmod.ATTEMPTS].find({"status": "completed"}))
    median = statistics.median((d["completed_at"] - d["started_at"]).total_seconds() for d in done)
    at = open_page(db, admin, PAGE)
    statuses = {ui.status_label(s) for s in ui.STATUS_STYLES}
    assert {label: value for label, value in metrics(at).items() if label not in statuses} == {
        "Active tasks": "3",
        "Assessments issued": "6",
        "In progress now": "1",
        "Completed, last 7 days": "2",
        "Median duration": ui.format_duration(median, parts=1),
    }
    assert status_counts(at) == {"Pending": "1", "In progress": "1", "Completed": "3", "Expired": "0", "Locked": "1"}


def test_recent_activity_says_who_did_what(app_env, db):
    admin = make_admin(db)
    seed(db, admin)
    shown = texts(at := open_page(db, admin, PAGE))
    for line in (
        "Ada Admin issued an assessment to Pat Pending",
        "Ada Admin locked the assessment of Lou Locked (Duplicate application)",
        "Rae Running started the assessment",
        "Cand 0 completed the assessment",
    ):
        assert line in shown
    assert any(" ago · " in m.value for m in at.markdown)
    links = {link.proto.label for link in at.get("page_link")}
    assert {"Author and preview tasks", "Issue an assessment", "Manage the team"} <= links


def test_a_new_organisation_gets_a_welcome_instead_of_zeros(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    assert "Welcome to HireMate" in texts(at)
    assert not at.metric
    assert "Start with tasks" in {link.proto.label for link in at.get("page_link")}


def test_another_organisation_sees_none_of_it(app_env, db):
    seed(db, make_admin(db))
    other = make_admin(db, org="Globex", email="gina@globex.test", name="Gina")
    at = open_page(db, other, PAGE)
    shown = texts(at)
    assert "Welcome to HireMate" in shown
    assert "Pat Pending" not in shown and "Ada Admin" not in shown
