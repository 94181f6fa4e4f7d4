"""The candidates list, counts and positions, and the attempt summaries
(hiremate/reports/candidates.py), through real pymongo against the
embedded store."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from pymongo import MongoClient, monitoring

from hiremate import reports
from hiremate.scope import Scope
from hiremate.windowed import MAX_WINDOWED_ROWS
from tests.support.reports_helpers import POSITIONS, START, bulk_seed, org_fixture, read_csv, seed, tasks_fixture  # noqa: F401


def test_candidates_page_paginates_every_attempt_once_newest_first(org):
    attempts, _ = bulk_seed(org, 300)
    seen = []
    for skip in range(0, 300, 25):
        frame, total = reports.candidates_page(org, skip=skip, limit=25)
        assert total == 300
        assert list(frame.columns) == reports.CANDIDATE_COLUMNS
        seen += frame["attempt_id"].tolist()
    # Completed first, newest completion first; then the others, newest issued first.
    done = [a for a in attempts if a["status"] == "completed"]
    others = [a for a in attempts if a["status"] != "completed"]
    assert done and others
    expected = sorted(done, key=lambda a: (a["completed_at"], a["_id"]), reverse=True)
    expected += sorted(others, key=lambda a: (a["created_at"], a["_id"]), reverse=True)
    assert seen == [str(a["_id"]) for a in expected]
    last, total = reports.candidates_page(org, skip=290, limit=25)
    assert total == 300 and len(last) == 10


def test_candidates_page_rows_carry_attempt_fields_and_profile_labels(org):
    attempts, profiles = bulk_seed(org, 10)
    frame, _ = reports.candidates_page(org, limit=10)
    by_id = {row["attempt_id"]: row for row in frame.to_dict("records")}
    for attempt in attempts:
        row = by_id[str(attempt["_id"])]
        assert row["candidate_name"] == attempt["candidate_info"]["name"]
        assert row["candidate_email"] == attempt["candidate_info"]["email"]
        assert row["status"] == attempt["status"]
        assert row["issued_at"] == attempt["created_at"]
    profiled = {str(p["attempt_id"]): p for p in profiles}
    for attempt_id, row in by_id.items():
        if attempt_id in profiled:
            assert row["thinking_style"] == profiled[attempt_id]["thinking_style"]["primary"]
            assert row["risk_orientation"] == profiled[attempt_id]["risk_orientation"]["preference"]
            assert row["decision_speed"] == profiled[attempt_id]["decision_pattern"]["speed"]
        else:
            assert pd.isna(row["thinking_style"])


def test_candidates_page_filters(org):
    attempts, profiles = bulk_seed(org, 240)

    def ids(**filters):
        frame, total = reports.candidates_page(org, limit=200, **filters)
        assert total == len(frame) or total > 200
        return set(frame["attempt_id"]), total

    found, total = ids(status="completed")
    assert total == sum(a["status"] == "completed" for a in attempts)
    assert found == {str(a["_id"]) for a in attempts if a["status"] == "completed"}

    found, total = ids(position="Support (EMEA)")
    assert found == {str(a["_id"]) for a in attempts if a["candidate_info"]["position"] == "Support (EMEA)"}

    found, total = ids(thinking_style="analytical")
    expected = {str(p["attempt_id"]) for p in profiles if p["thinking_style"]["primary"] == "analytical"}
    assert found == expected and total == len(expected)

    found, total = ids(thinking_style="intuitive", risk_orientation="risk_averse", status="expired")
    expected = {
        str(p["attempt_id"])
        for p in profiles
        if p["thinking_style"]["primary"] == "intuitive"
        and p["risk_orientation"]["preference"] == "risk_averse"
        and p["attempt_status"] == "expired"
    }
    assert expected and found == expected

    found, _ = ids(risk_orientation="risk_tolerant", position="Analyst", search="CAND0")
    expected = {
        str(p["attempt_id"])
        for p in profiles
        if p["risk_orientation"]["preference"] == "risk_tolerant" and p["position"] == "Analyst"
    }
    assert expected and found == expected

    # A label filter cannot match an attempt without a profile.
    assert ids(thinking_style="analytical", status="pending") == (set(), 0)


def test_candidates_page_label_filter_pages_by_completion(org):
    _, profiles = bulk_seed(org, 200)
    wanted = sorted(
        (p for p in profiles if p["risk_orientation"]["preference"] == "balanced"),
        key=lambda p: (p["completed_at"], p["_id"]),
        reverse=True,
    )
    seen = []
    for skip in range(0, len(wanted), 7):
        frame, total = reports.candidates_page(org, risk_orientation="balanced", skip=skip, limit=7)
        assert total == len(wanted)
        seen += frame["attempt_id"].tolist()
    assert seen == [str(p["attempt_id"]) for p in wanted]


def test_candidates_search_is_case_insensitive_and_literal(org, tasks):
    seed(org, tasks, name="Zoë (Lead) O'Brien", email="zoe.obrien@example.com")
    seed(org, tasks, name="Zoe Lead", email="zlead@example.com")
    seed(org, tasks, name="Someone .* else", email="other@example.com")
    assert set(reports.candidates_page(org, search="(lead)")[0]["candidate_name"]) == {"Zoë (Lead) O'Brien"}
    assert set(reports.candidates_page(org, search="ZLEAD@")[0]["candidate_email"]) == {"zlead@example.com"}
    assert reports.candidates_page(org, search=".*")[1] == 1
    assert reports.candidates_page(org, search="  ")[1] == 3


def test_candidates_page_rejects_unknown_labels_and_bad_paging(org):
    with pytest.raises(ValueError, match="thinking style"):
        reports.candidates_page(org, thinking_style="anxious")
    with pytest.raises(ValueError, match="status"):
        reports.candidates_page(org, status="done")
    with pytest.raises(ValueError):
        reports.candidates_page(org, limit=0)
    with pytest.raises(ValueError):
        reports.candidates_page(org, skip=-1)


def test_empty_organisation(org):
    frame, total = reports.candidates_page(org)
    assert total == 0 and frame.empty and list(frame.columns) == reports.CANDIDATE_COLUMNS
    assert reports.positions(org) == []
    assert reports.completed_candidates(org) == []
    assert read_csv(reports.candidates_csv(org, style="raw")) == [reports.CANDIDATES_CSV_COLUMNS]


def test_positions_are_distinct_and_sorted(org):
    bulk_seed(org, 12)
    assert reports.positions(org) == sorted(POSITIONS)


class CommandLog(monitoring.CommandListener):
    """Every command a dedicated client sends, with what came back."""

    def __init__(self):
        self.commands = []
        self.replies = []

    def started(self, event):
        if event.command_name not in {"ping", "hello", "isMaster", "endSessions"}:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event):
        if event.command_name in {"find", "getMore", "aggregate"}:
            cursor = event.reply.get("cursor", {})
            self.replies.append(
                (event.command_name, len(cursor.get("firstBatch", [])) + len(cursor.get("nextBatch", [])))
            )

    def failed(self, event):
        pass

    def clear(self):
        self.commands.clear()
        self.replies.clear()


@pytest.mark.slow
def test_candidates_page_reads_only_its_page_however_deep(org, store_uri):
    """A deep page costs the store one bounded find, one count and one lookup:
    skip and limit go to the store, never to Python. 1,200 attempts (10,000
    before 2026-12-05; how the pages' time grows with 10,000 is bench/'s
    `make bench` scaling table) are enough for a page past the recent windows
    (``MAX_WINDOWED_ROWS``: the one plain find) and for a page of a label
    filter deep in its 300 matches."""
    bulk_seed(org, 1_200, all_completed=True)
    log = CommandLog()
    client = MongoClient(store_uri, tz_aware=True, event_listeners=[log])
    try:
        scope = Scope(client[org.db.name], org.organization_id, org.user_id)
        cases = (
            ({}, MAX_WINDOWED_ROWS, 1_200),  # past the windows: read as one find of the organisation
            ({"thinking_style": "methodical"}, 250, 300),  # from the profiles, newest completion first
            ({"status": "completed", "search": "cand0"}, MAX_WINDOWED_ROWS, 1_200),  # a search: one scan
        )
        for filters, skip, matching in cases:
            log.clear()
            frame, total = reports.candidates_page(scope, skip=skip, limit=25, **filters)
            assert len(frame) == 25 and total == matching, (filters, total)
            finds = [command for name, command in log.commands if name == "find"]
            # The page and its other collection's documents, each bounded by the page;
            # then the page's people's attempts, counted (bounded per person).
            *page_finds, per_person = finds
            assert page_finds and all(0 < command["limit"] <= 25 for command in page_finds), finds
            assert "candidate_info.email" in per_person["filter"] and per_person["limit"] <= 25 * 200
            assert all(command.get("skip") == skip for command in finds[:1]), finds
            assert all(name in {"find", "aggregate"} for name, _ in log.commands), log.commands
            counts = [command for name, command in log.commands if name == "aggregate"]
            assert len(counts) == 1 and counts[0]["pipeline"][-1] == {"$group": {"_id": 1, "n": {"$sum": 1}}}
            returned = sum(size for name, size in log.replies if name != "aggregate")
            assert returned == 75  # the page, the other collection's documents for it, each person's attempts
            assert all(size <= 1 for name, size in log.replies if name == "aggregate")
    finally:
        client.close()


def test_attempts_for_email_newest_first_any_case(org, tasks):
    older = seed(org, tasks, started_at=START)
    newer = seed(org, tasks, started_at=START + timedelta(days=3))
    seed(org, tasks, email="someone@example.com")
    found = reports.attempts_for_email(org, " Ada@Example.com ")
    assert [summary.attempt_id for summary in found] == [str(newer.id), str(older.id)]
    assert found[0].status == "completed" and found[0].completed_at == newer.completed_at
    assert "Ada Lovelace" in found[0].label
    assert reports.attempts_for_email(org, "") == []


def test_completed_candidates_for_the_picker(org, tasks):
    first = seed(org, tasks, name="Grace Hopper", email="grace@example.com", started_at=START)
    second = seed(org, tasks, started_at=START + timedelta(days=1))
    attempts, _ = bulk_seed(org, 5)  # one of each status: only the completed one is a choice
    bulk_completed = next(a for a in attempts if a["status"] == "completed")
    picked = reports.completed_candidates(org)
    assert {s.attempt_id for s in picked} == {str(first.id), str(second.id), str(bulk_completed["_id"])}
    assert picked[0].attempt_id == str(second.id)
    assert [s.completed_at for s in picked] == sorted((s.completed_at for s in picked), reverse=True)
    assert all(s.status == "completed" for s in picked)
    assert len(reports.completed_candidates(org, limit=1)) == 1
    assert [s.attempt_id for s in reports.completed_candidates(org, search="hopper")] == [str(first.id)]
