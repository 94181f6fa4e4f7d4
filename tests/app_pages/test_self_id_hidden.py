"""Self-identification is never shown for a candidate: not on any recruiter
page that shows candidates (AppTest search of the rendered text, and of
the data frames the pages hold), not in any export. Only the impact report
counts it, per group (tests/hiremate/test_impact.py)."""

from __future__ import annotations

import json

from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from hiremate.ops.sample_impact import store_self_id
from hiremate.reports import compare, exports
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    make_org,
    open_page,
    seed_completed,
    seed_session,
    texts,
)

# Values no page shows for any other reason.
SEX, RACE = "another", "american_indian_alaska_native"
TELLTALES = ("american_indian", "American Indian", "Alaska Native", "self_identification", "self-identification")


def rendered(at) -> str:
    """What a page shows: its text, and every table and data frame it holds."""
    frames = [str(element.value) for element in (*at.dataframe, *at.table)]
    return texts(at) + "\n" + "\n".join(frames)


def test_no_page_or_export_shows_a_candidates_self_identification(app_env, db):
    org = make_org(db)
    admin = org.user
    done = [seed_completed(org, name=f"Candidate {i}", email=f"c{i}@example.com") for i in range(2)]
    running, _ = seed_session(org, status=AttemptStatus.IN_PROGRESS, name="Running Rita", email="rita@example.com")
    for attempt in (*done, running):
        store_self_id(db, org.scope.organization_id, attempt.id, SEX, RACE)
    ids = ",".join(str(attempt.id) for attempt in done)
    pages = [
        ("app_pages/dashboard.py", {}),
        ("app_pages/candidates.py", {}),
        ("app_pages/assessments.py", {}),
        ("app_pages/profile.py", {"attempt": str(done[0].id)}),
        ("app_pages/compare.py", {"attempts": ids}),
        ("app_pages/live.py", {"attempt": str(running.id)}),
        ("app_pages/exports.py", {}),
    ]
    for page, query in pages:
        shown = rendered(open_page(db, admin, page, **query))
        assert "Candidate 0" in shown or page in {"app_pages/live.py", "app_pages/exports.py"}, page
        for telltale in TELLTALES:
            assert telltale not in shown, (page, telltale)

    files = [
        exports.candidates_csv(org.scope),
        exports.per_task_metrics_csv(org.scope),
        exports.events_csv(org.scope),
        exports.attempt_metrics_csv(org.scope, done[0].id),
        exports.attempt_events_csv(org.scope, done[0].id),
        compare.compare_csv(org.scope, [attempt.id for attempt in done]),
    ]
    for data in files:
        text = data.decode("utf-8-sig")
        assert "Candidate 0" in text or "option" in text
        for telltale in TELLTALES:
            assert telltale not in text
    # The stored profiles and metrics carry nothing of it either.
    for collection in (dbmod.PROFILES, dbmod.METRICS, dbmod.ATTEMPTS, dbmod.EVENTS):
        for doc in db[collection].find({}):
            assert RACE not in json.dumps(doc, default=str), collection
