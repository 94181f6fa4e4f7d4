"""The CSV exports and their audit (hiremate/reports/exports.py), cell
by cell, through real pymongo against the embedded store."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from hiremate import attempt_counts, reports
from hiremate import db as dbmod
from hiremate.models import CandidateInfo, EventType
from hiremate.ops import simulate
from hiremate.profiles import compute_and_store
from tests.support.reports_helpers import START, as_dicts, bulk_seed, org_fixture, read_csv, seed, tasks_fixture  # noqa: F401


def store_session(db, session):
    """Store a simulated session the way the ingest server leaves it, then
    compute through the real path."""
    doc = session.attempt.to_doc()
    db[dbmod.ATTEMPTS].insert_one(doc)
    attempt_counts.record_new(db, [doc])  # as the ingest server's transitions would have counted it
    db[dbmod.EVENTS].insert_many([event.to_doc() for event in session.behavior_events])
    compute_and_store(db, session.attempt.id)
    return session.attempt


def hostile_session(scope, tasks):
    """A completed session whose candidate fields and reasoning text start
    with formula characters."""
    candidate = CandidateInfo(name="=SUM(A1)", email="-cmd@example.com", position="+1 Analyst")
    session = simulate.simulate_session(
        random.Random(11), tasks=tasks, organization_id=scope.organization_id, candidate=candidate, started_at=START
    )
    submitted = next(event for event in session.events if event.event_type == EventType.REASONING_SUBMITTED)
    text = "-2+3 is the margin, because the deadline is close and the budget is tight"
    submitted.payload.update(final_text=text, word_count=len(text.split()), character_count=len(text))
    return store_session(scope.db, session), text


def test_candidates_csv_cell_by_cell(org, tasks):
    attempt, _ = hostile_session(org, tasks)
    data = reports.candidates_csv(org, style="raw")
    raw = data.decode("utf-8-sig")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")
    header, row = read_csv(data)
    assert header == reports.CANDIDATES_CSV_COLUMNS
    cells = dict(zip(header, row, strict=True))
    profile = reports.profile_bundle(org, attempt.id).profile
    assert cells["attempt_id"] == str(attempt.id)
    assert cells["candidate_name"] == "'=SUM(A1)"
    assert cells["candidate_email"] == "'-cmd@example.com"
    assert cells["position"] == "'+1 Analyst"
    assert cells["status"] == "completed"
    assert cells["completed_at"] == attempt.completed_at.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{attempt.completed_at.microsecond // 1000:03d}Z"
    )
    assert cells["thinking_style"] == profile.thinking_style.primary
    assert float(cells["thinking_style_confidence"]) == profile.thinking_style.confidence
    assert cells["risk_orientation"] == profile.risk_orientation.preference
    assert cells["summary"] == profile.overall_summary
    assert cells["considerations"] == "; ".join(profile.considerations)
    assert cells["profile_version"] == profile.version


def test_per_task_metrics_csv_cell_by_cell(org, tasks):
    attempt, _ = hostile_session(org, tasks)
    metrics = reports.profile_bundle(org, attempt.id).metrics
    rows = as_dicts(reports.per_task_metrics_csv(org, style="raw"))
    assert len(rows) == len(metrics.per_task_metrics) == 4
    for number, (row, item, task) in enumerate(zip(rows, metrics.per_task_metrics, tasks, strict=True), start=1):
        assert row["candidate_name"] == "'=SUM(A1)"
        assert row["task_number"] == str(number)
        assert row["task_id"] == str(task.id)
        assert row["task_title"] == task.title
        assert float(row["time_spent_seconds"]) == item.time_spent_seconds
        assert int(row["decision_change_count"]) == item.decision_change_count
        assert row["final_option_id"] == item.final_option_id
        assert row["final_option_risk_level"] == item.final_option_risk_level
        assert row["metrics_version"] == metrics.version
    assert reports.attempt_metrics_csv(org, attempt.id, style="raw") == reports.per_task_metrics_csv(org, style="raw")


def test_events_csv_cell_by_cell(org, tasks):
    attempt, text = hostile_session(org, tasks)
    events = reports.profile_bundle(org, attempt.id).events
    header, *rows = read_csv(reports.events_csv(org, style="raw"))
    assert header == reports.EVENTS_CSV_COLUMNS
    assert {"option_id", "final_text", "idle_duration_ms", "trigger"} <= set(header)
    assert len(rows) == len(events)
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert [int(c["sequence_number"]) for c in cells] == [event.sequence_number for event in events]
    submitted = next(c for c in cells if c["event_type"] == "reasoning_submitted")
    assert submitted["final_text"] == "'" + text
    assert int(submitted["word_count"]) == len(text.split())
    started = cells[0]
    assert started["event_type"] == "task_started" and started["task_index"] == "0"
    assert started["option_id"] == "" and started["event_time"].endswith("Z")
    selected = next(c for c in cells if c["event_type"] == "option_selected")
    assert selected["is_first_selection"] == "true"
    assert reports.attempt_events_csv(org, str(attempt.id), style="raw") == reports.events_csv(
        org, style="raw", attempt_id=attempt.id
    )


def test_exports_filter_by_completion_date_and_position(org, tasks):
    early = seed(org, tasks, started_at=datetime(2026, 3, 1, 10, tzinfo=UTC), position="Analyst")
    late = seed(org, tasks, started_at=datetime(2026, 3, 5, 10, tzinfo=UTC), position="Engineer")

    def exported(**filters):
        return [row["attempt_id"] for row in as_dicts(reports.candidates_csv(org, style="raw", **filters))]

    assert exported() == [str(late.id), str(early.id)]
    assert exported(date_from=date(2026, 3, 2)) == [str(late.id)]
    assert exported(date_to=date(2026, 3, 1)) == [str(early.id)]  # the whole day is included
    assert exported(date_from=date(2026, 3, 1), date_to=date(2026, 3, 5)) == [str(late.id), str(early.id)]
    assert exported(position="Engineer") == [str(late.id)]
    assert exported(date_to=datetime(2026, 3, 1, 9, tzinfo=UTC)) == []
    per_task = as_dicts(reports.per_task_metrics_csv(org, style="raw", position="Analyst"))
    assert {row["attempt_id"] for row in per_task} == {str(early.id)}
    events = as_dicts(reports.events_csv(org, style="raw", date_from=date(2026, 3, 2)))
    assert {row["attempt_id"] for row in events} == {str(late.id)}


def test_export_from_date_includes_a_completion_at_midnight(org, tasks):
    # SecantusDB 0.7.0b3 serves $gte on a descending index field as $gt: the
    # filter must still include a profile completed on the first instant of the day.
    seeded = seed(org, tasks, started_at=datetime(2026, 3, 1, 10, tzinfo=UTC))
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    org.db[dbmod.PROFILES].update_one({"attempt_id": seeded.id}, {"$set": {"completed_at": midnight}})

    def exported(**filters):
        return [row["attempt_id"] for row in as_dicts(reports.candidates_csv(org, style="raw", **filters))]

    assert exported(date_from=date(2026, 3, 2)) == [str(seeded.id)]
    assert exported(date_from=datetime(2026, 3, 2, 0, 0, 0, 1000, tzinfo=UTC)) == []
    assert exported(date_to=date(2026, 3, 1)) == []


def test_exports_stream_past_one_batch(org):
    _, profiles = bulk_seed(org, reports.EXPORT_BATCH_SIZE * 2 + 25, all_completed=True, batch=5000)
    rows = as_dicts(reports.candidates_csv(org, style="raw"))
    assert len(rows) == len(profiles)
    assert len({row["attempt_id"] for row in rows}) == len(profiles)


def test_each_export_is_audited(org, tasks):
    attempt = seed(org, tasks)
    reports.candidates_csv(org, date_from=date(2026, 1, 1), position="Analyst")
    reports.per_task_metrics_csv(org)
    reports.events_csv(org)
    reports.attempt_metrics_csv(org, attempt.id)
    reports.attempt_events_csv(org, attempt.id)
    entries = list(org.db[dbmod.AUDIT_LOG].find({"action": "export"}).sort("at", 1))
    assert [entry["details"]["kind"] for entry in entries] == [
        "candidates",
        "per_task_metrics",
        "events",
        "attempt_metrics",
        "attempt_events",
    ]
    assert all(entry["actor_id"] == org.user_id for entry in entries)
    assert entries[0]["details"] == {
        "kind": "candidates",
        "rows": 1,
        "style": "spreadsheet",
        "date_from": "2026-01-01",
        "by_position": True,
    }
    assert entries[3]["target_type"] == "attempt" and entries[3]["target_id"] == str(attempt.id)
    assert entries[2]["details"]["rows"] == len(reports.profile_bundle(org, attempt.id).events)
