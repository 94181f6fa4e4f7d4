"""One candidate's profile bundle and the profile page's frames
(hiremate/reports/profile.py), through real pymongo against the embedded
store."""

from __future__ import annotations

import random

import pytest
from bson import ObjectId

from hiremate import reports
from hiremate.models import EventType
from hiremate.ops import simulate
from tests.support.reports_helpers import bulk_seed, org_fixture, read_csv, seed, tasks_fixture  # noqa: F401


def test_profile_bundle_and_frames(org, tasks):
    attempt = seed(org, tasks)
    bundle = reports.profile_bundle(org, str(attempt.id))
    assert bundle is not None
    assert bundle.attempt.id == attempt.id
    assert bundle.metrics is not None and bundle.profile is not None
    sequence = [event.sequence_number for event in bundle.events]
    assert sequence == list(range(1, len(sequence) + 1))
    assert all(event.metadata.ip_hash is None for event in bundle.events)

    per_task = reports.per_task_frame(bundle.metrics, bundle.attempt)
    assert list(per_task.columns) == reports.PER_TASK_COLUMNS
    assert per_task["task_title"].tolist() == [task.title for task in tasks]
    assert per_task["task_number"].tolist() == [1, 2, 3, 4]
    for row, item, task in zip(per_task.to_dict("records"), bundle.metrics.per_task_metrics, tasks, strict=True):
        assert row["active_seconds"] + row["hesitation_seconds"] == pytest.approx(item.time_spent_seconds, abs=1e-3)
        assert row["final_option"] == task.option(item.final_option_id).text
        assert row["risk_level"] == item.final_option_risk_level

    timeline = reports.timeline_frame(bundle.events, bundle.attempt)
    assert list(timeline.columns) == reports.TIMELINE_COLUMNS
    assert timeline["sequence_number"].tolist() == sequence
    starts = timeline[timeline["event_type"] == EventType.TASK_STARTED]
    assert starts["seconds_from_task_start"].tolist() == [0.0] * 4
    assert starts["task_title"].tolist() == [task.title for task in tasks]
    submitted = [event for event in bundle.events if event.event_type == EventType.REASONING_SUBMITTED]
    texts = timeline[timeline["event_type"] == EventType.REASONING_SUBMITTED]["candidate_text"].tolist()
    assert texts == [event.payload["final_text"] for event in submitted]
    selected = next(event for event in bundle.events if event.event_type == EventType.OPTION_SELECTED)
    option = next(t for t in tasks if t.id == selected.task_id).option(selected.payload["option_id"])
    row = timeline[timeline["sequence_number"] == selected.sequence_number].iloc[0]
    assert row["description"] == f"Selected option “{option.text}”"
    assert (timeline[timeline["event_type"] != EventType.REASONING_SUBMITTED]["candidate_text"] == "").all()


def test_timeline_measures_from_task_start_by_event_time(org, tasks):
    session = simulate.simulate_session(random.Random(5), tasks=tasks[:1], organization_id=org.organization_id)
    frame = reports.timeline_frame(list(reversed(session.behavior_events)), session.attempt)
    start = session.events[0].at
    assert frame["seconds_from_task_start"].tolist() == [
        round((event.at - start).total_seconds(), 3) for event in session.events
    ]


def test_profile_bundle_of_a_pending_attempt_has_no_metrics(org):
    attempts, _ = bulk_seed(org, 1)
    bundle = reports.profile_bundle(org, attempts[0]["_id"])
    assert bundle.metrics is None and bundle.profile is None and bundle.events == []
    assert reports.per_task_frame(None, bundle.attempt).empty
    assert reports.timeline_frame([], bundle.attempt).empty
    assert read_csv(reports.attempt_metrics_csv(org, attempts[0]["_id"], style="raw")) == [reports.PER_TASK_CSV_COLUMNS]
    assert read_csv(reports.attempt_events_csv(org, attempts[0]["_id"], style="raw")) == [reports.EVENTS_CSV_COLUMNS]


def test_profile_bundle_refuses_malformed_and_unknown_ids(org):
    assert reports.profile_bundle(org, "not-an-id") is None
    assert reports.profile_bundle(org, ObjectId()) is None
