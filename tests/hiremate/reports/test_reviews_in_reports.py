"""Reviews in what recruiters read: the candidates list's review state and
decision (columns and filters) and the candidates CSV's review columns,
against the embedded store."""

from __future__ import annotations

import pandas as pd
import pytest

from hiremate import db as dbmod
from hiremate import reports, reviews
from hiremate.models import AttemptStatus
from tests.support.page_helpers import make_org, seed_completed, seed_session
from tests.support.reports_helpers import read_csv

AGREE_ALL = {name: ("agree", "") for name in reviews.DIMENSIONS}


@pytest.fixture
def seeded(db):
    """Four completed candidates: Ann awaiting review, Bob reviewed without a
    decision, Cy advanced, Di rejected; and a locked attempt (never reviewable)."""
    org = make_org(db)
    people = {name: seed_completed(org, f"{name} Person") for name in ("Ann", "Bob", "Cy", "Di")}
    seed_session(org, status=AttemptStatus.LOCKED, name="Lou Locked")
    for name in ("Bob", "Cy", "Di"):
        reviews.record_review(org.scope, people[name].id, AGREE_ALL)
    reviews.record_decision(org.scope, people["Cy"].id, "advance", "Strong", seen_at=None)
    reviews.record_decision(org.scope, people["Di"].id, "reject", "Not a fit", seen_at=None)
    return org, people


def names(org, **filters):
    frame, total = reports.candidates_page(org.scope, limit=50, **filters)
    assert total == len(frame)
    return sorted(name.split()[0] for name in frame["candidate_name"])


def test_the_list_filters_by_review_state_and_decision(seeded):
    org, _ = seeded
    assert names(org) == ["Ann", "Bob", "Cy", "Di", "Lou"]
    assert names(org, review_state="awaiting_review") == ["Ann"]
    assert names(org, review_state="reviewed") == ["Bob", "Cy", "Di"]
    assert names(org, decision="advance") == ["Cy"]
    assert names(org, decision="reject") == ["Di"]
    assert names(org, decision="hold") == []
    assert names(org, decision=reports.DECISION_NONE) == ["Ann", "Bob"]
    assert names(org, review_state="reviewed", decision=reports.DECISION_NONE) == ["Bob"]
    assert names(org, review_state="awaiting_review", decision="advance") == []
    assert names(org, review_state="reviewed", status="locked") == []
    assert names(org, review_state="reviewed", search="cy") == ["Cy"]
    with pytest.raises(ValueError, match="unknown decision"):
        reports.candidates_page(org.scope, decision="maybe")


def test_the_list_shows_each_rows_review_state_and_decision(seeded):
    org, _ = seeded
    frame, _ = reports.candidates_page(org.scope, limit=50)
    rows = {
        name.split()[0]: (None if pd.isna(state) else state, None if pd.isna(decision) else decision)
        for name, state, decision in frame[["candidate_name", "review_state", "decision"]].itertuples(index=False)
    }
    assert rows["Ann"] == ("awaiting_review", None)
    assert rows["Bob"] == ("reviewed", None)
    assert rows["Cy"] == ("reviewed", "advance")
    assert rows["Di"] == ("reviewed", "reject")
    assert rows["Lou"][0] is None  # not completed: no review state


def test_another_organisations_reviews_do_not_show_in_its_list(seeded, db):
    other = make_org(db, "Globex")
    seed_completed(other, "Eve Other")
    assert names(other, review_state="awaiting_review") == ["Eve"]
    assert names(other, review_state="reviewed") == []


def test_the_candidates_csv_has_review_state_decision_and_who_decided_when(seeded):
    org, people = seeded
    header, *rows = read_csv(reports.candidates_csv(org.scope, style="raw"))
    assert header[-4:] == ["review_state", "decision", "decided_by", "decided_at"]
    cells = {row[header.index("candidate_name")].split()[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert (cells["Ann"]["review_state"], cells["Ann"]["decision"], cells["Ann"]["decided_by"]) == (
        "awaiting_review",
        "",
        "",
    )
    assert (cells["Bob"]["review_state"], cells["Bob"]["decision"]) == ("reviewed", "")
    decided = org.db[dbmod.REVIEWS].find_one({"_id": people["Cy"].id})["decision"]["decided_at"]
    assert cells["Cy"]["review_state"] == "reviewed" and cells["Cy"]["decision"] == "advance"
    assert cells["Cy"]["decided_by"] == org.user.full_name
    assert cells["Cy"]["decided_at"].startswith(decided.strftime("%Y-%m-%dT%H:%M:%S"))
    assert cells["Di"]["decision"] == "reject"
