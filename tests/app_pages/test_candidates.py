"""The candidates page through the real path: filters, pagination in the
database, opening a profile, and organisation scoping."""

from __future__ import annotations

import random

from hiremate import db as dbmod
from hiremate.models import AttemptStatus, ThinkingStyle
from hiremate.ops import simulate
from tests.support.page_helpers import make_org, seed_completed, seed_session, stored_profile, texts, words

CANDIDATES = "app_pages/candidates.py"


def table(at):
    return at.dataframe[0].value


def emails_of(db, attempt_ids):
    by_id = {
        str(doc["_id"]): doc["candidate_info"]["email"]
        for doc in db[dbmod.ATTEMPTS].find({}, {"candidate_info.email": 1})
    }
    return [by_id[attempt_id] for attempt_id in attempt_ids]


def test_lists_candidates_with_their_profile_labels(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    seed_session(org, status=AttemptStatus.IN_PROGRESS, name="Grace Hopper", email="grace@example.com")

    at = org.open_page(CANDIDATES)
    rows = table(at)
    assert sorted(rows["Candidate"]) == ["Ada Lovelace", "Grace Hopper"]
    profile = stored_profile(org, ada)
    row = rows[rows["Candidate"] == "Ada Lovelace"].iloc[0]
    assert row["Thinking style"] == words(profile["thinking_style"]["primary"])
    assert row["Risk orientation"] == words(profile["risk_orientation"]["preference"])
    assert row["Reasoning depth"] == words(profile["communication_style"]["reasoning_depth"])
    assert row["Status"] == "Completed"
    grace = rows[rows["Candidate"] == "Grace Hopper"].iloc[0]
    assert grace["Status"] == "In progress"
    assert grace["Thinking style"] == "—"  # no profile yet
    assert "2 candidates" in texts(at).splitlines()  # the whole caption
    assert not at.pagination  # one page: no page picker


def test_search_by_name_or_email(app_env, db):
    org = make_org(db)
    seed_completed(org, name="Ada Lovelace", email="ada@example.com")
    seed_completed(org, name="Alan Turing", email="alan@bletchley.test")
    at = org.open_page(CANDIDATES)

    at.text_input(key="candidates_search").input("lovelace").run()
    assert list(table(at)["Candidate"]) == ["Ada Lovelace"]
    at.text_input(key="candidates_search").input("BLETCHLEY").run()
    assert list(table(at)["Candidate"]) == ["Alan Turing"]
    at.text_input(key="candidates_search").input("nobody").run()
    assert not at.dataframe
    assert "No candidate matches these filters" in at.info[0].value
    at.button(key="candidates_clear").click().run()
    assert len(table(at)) == 2


def test_filters_by_position_status_and_labels(app_env, db):
    org = make_org(db)
    analyst = seed_completed(org, name="Ada Lovelace", position="Analyst")
    seed_completed(org, name="Alan Turing", position="Engineer")
    seed_session(org, status=AttemptStatus.IN_PROGRESS, name="Grace Hopper", position="Analyst")
    at = org.open_page(CANDIDATES)

    at.selectbox(key="candidates_position").set_value("Analyst").run()
    assert set(table(at)["Candidate"]) == {"Ada Lovelace", "Grace Hopper"}
    at.selectbox(key="candidates_status").set_value("completed").run()
    assert list(table(at)["Candidate"]) == ["Ada Lovelace"]

    profile = stored_profile(org, analyst)
    style = profile["thinking_style"]["primary"]
    risk = profile["risk_orientation"]["preference"]
    at.selectbox(key="candidates_style").set_value(style).run()
    at.selectbox(key="candidates_risk").set_value(risk).run()
    assert list(table(at)["Candidate"]) == ["Ada Lovelace"]
    # Another style: Ada is the only completed Analyst, so nobody matches.
    other = next(value for value in ThinkingStyle if value != style)
    at.selectbox(key="candidates_style").set_value(other.value).run()
    assert not at.dataframe
    assert "No candidate matches these filters" in at.info[0].value


def test_paginates_in_the_database(app_env, db):
    org = make_org(db)
    simulate.seed_completed_attempts(
        db,
        organization_id=org.scope.organization_id,
        tasks=org.tasks,
        count=30,
        rng=random.Random(31),
        tasks_per_attempt=2,
        with_events=False,
    )
    newest_first = [
        str(doc["_id"])
        for doc in db[dbmod.ATTEMPTS]
        .find({"organization_id": org.scope.organization_id}, {"_id": 1})
        .sort([("completed_at", -1), ("_id", -1)])  # all completed: newest completion first
    ]
    at = org.open_page(CANDIDATES)
    assert len(table(at)) == 25
    assert "Showing 1–25 of 30 candidates" in texts(at).splitlines()
    assert list(table(at)["Email"]) == emails_of(db, newest_first[:25])

    at.pagination(key="candidates_page").select(2).run()
    assert not at.exception
    assert len(table(at)) == 5
    assert "Showing 26–30 of 30 candidates" in texts(at).splitlines()
    assert list(table(at)["Email"]) == emails_of(db, newest_first[25:])

    # Opening a row of the second page opens that candidate.
    at.session_state["candidates_table"] = {"selection": {"rows": [4], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params["attempt"] == newest_first[29]
    assert at.title[0].value == "Candidate profile"

    at.switch_page(CANDIDATES).run()
    at.selectbox(key="candidates_page_size").set_value(50).run()
    assert len(table(at)) == 30
    assert not at.pagination


def test_selecting_a_row_opens_the_profile(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    at = org.open_page(CANDIDATES)
    at.session_state["candidates_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params["attempt"] == str(ada.id)
    assert at.header[0].value == "Ada Lovelace"


def test_empty_organisation_and_another_organisation(app_env, db):
    mine, theirs = make_org(db, "Acme"), make_org(db, "Globex")
    seed_completed(theirs, name="Secret Candidate", position="Spy")
    at = mine.open_page(CANDIDATES)
    assert "No candidates yet" in at.info[0].value
    assert not at.dataframe
    assert at.selectbox(key="candidates_position").options == ["All positions"]
    at.text_input(key="candidates_search").input("secret").run()
    assert "Secret" not in texts(at)
    assert not at.dataframe
