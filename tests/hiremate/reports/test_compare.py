"""Completed candidates side by side, as a frame and as a CSV
(hiremate/reports/compare.py), through real pymongo against the embedded
store."""

from __future__ import annotations

import re

import pytest

from hiremate import db as dbmod
from hiremate import reports
from tests.support.reports_helpers import bulk_seed, org_fixture, other_org_fixture, read_csv, seed, tasks_fixture  # noqa: F401


def test_compare_frame_side_by_side(org, tasks):
    one = seed(org, tasks, name="Ada Lovelace")
    two = seed(org, tasks, name="Alan Turing", email="alan@example.com")
    frame = reports.compare_frame(org, [str(two.id), one.id])
    assert list(frame.columns) == ["Alan Turing", "Ada Lovelace"]
    assert list(frame.index) == reports.COMPARE_ROWS and frame.index.name == "metric"
    profile = reports.profile_bundle(org, two.id).profile
    metrics = reports.profile_bundle(org, two.id).metrics
    column = frame["Alan Turing"]
    assert column["attempt_id"] == str(two.id)
    assert column["thinking_style"] == profile.thinking_style.primary
    assert column["thinking_style_confidence"] == profile.thinking_style.confidence
    assert column["decision_speed"] == profile.decision_pattern.speed
    assert column["risk_orientation"] == profile.risk_orientation.preference
    assert column["reasoning_depth"] == profile.communication_style.reasoning_depth
    assert column["high_risk_count"] == metrics.aggregated_patterns.risk_preference.high_count
    assert column["decision_consistency_score"] == metrics.aggregated_patterns.decision_consistency
    assert column["attention_stability"] == metrics.aggregated_patterns.attention_stability
    assert column["total_time_seconds"] == metrics.global_metrics.total_time_seconds
    assert column["tasks_completed"] == 4
    for row in reports.RADAR_ROWS:
        assert 0.0 <= frame.at[row, "Ada Lovelace"] <= 1.0


def test_compare_frame_names_duplicate_candidates_apart(org, tasks):
    one = seed(org, tasks)
    two = seed(org, tasks)
    three = seed(org, tasks, email="ada.other@example.com")
    frame = reports.compare_frame(org, [one.id, two.id, three.id])
    assert len(set(frame.columns)) == 3
    assert all(name.startswith("Ada Lovelace (") for name in frame.columns)


def test_compare_frame_refuses_what_cannot_be_compared(org, other_org, tasks):
    done = [seed(org, tasks) for n in range(6)]
    pending, *_ = bulk_seed(org, 1)[0]
    foreign = seed(other_org, tasks)
    with pytest.raises(ValueError, match="2 to 5"):
        reports.compare_frame(org, [done[0].id])
    with pytest.raises(ValueError, match="2 to 5"):
        reports.compare_frame(org, [done[0].id, str(done[0].id)])
    with pytest.raises(ValueError, match="2 to 5"):
        reports.compare_frame(org, [a.id for a in done])
    with pytest.raises(ValueError, match="not an attempt id"):
        reports.compare_frame(org, [done[0].id, "nope"])
    with pytest.raises(ValueError, match=str(pending["_id"])):
        reports.compare_frame(org, [done[0].id, pending["_id"]])
    with pytest.raises(ValueError, match=str(foreign.id)):
        reports.compare_frame(org, [done[0].id, foreign.id])
    org.db[dbmod.PROFILES].delete_one({"attempt_id": done[1].id})
    with pytest.raises(ValueError, match="no computed profile"):
        reports.compare_frame(org, [done[0].id, done[1].id])


def test_compare_csv_is_labelled_and_audited(org, tasks):
    one = seed(org, tasks, name="=cmd|' /C calc'!A0")
    two = seed(org, tasks, name="Alan")
    rows = read_csv(reports.compare_csv(org, [one.id, two.id]))
    assert rows[0] == ["Metric", "'=cmd|' /C calc'!A0", "Alan"]
    assert [row[0] for row in rows[1:]] == [
        reports.COLUMN_LABELS[key] + (" (UTC)" if key == "completed_at" else "") for key in reports.COMPARE_ROWS
    ]
    assert rows[1][1:] == [str(one.id), str(two.id)]
    completed = rows[1 + reports.COMPARE_ROWS.index("completed_at")][1:]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cell) for cell in completed)  # for people
    entry = org.db[dbmod.AUDIT_LOG].find_one({"action": "export"})
    assert entry["details"]["kind"] == "compare" and entry["organization_id"] == org.organization_id


def test_a_profile_without_dimensions_compares_and_exports_with_empty_cells(org, tasks):
    # rule 1.2.0, no completed task: the four dimensions are null (evidence_level "none")
    one = seed(org, tasks, name="Ada")
    two = seed(org, tasks, name="Alan")
    empty = dict.fromkeys(("thinking_style", "decision_pattern", "risk_orientation", "communication_style"))
    org.db[dbmod.PROFILES].update_one({"attempt_id": two.id}, {"$set": {**empty, "evidence_level": "none"}})
    assert reports.profile_bundle(org, two.id).profile.thinking_style is None
    frame = reports.compare_frame(org, [one.id, two.id])
    for row in ("thinking_style", "thinking_style_confidence", "risk_orientation", "logical_structure"):
        assert frame.at[row, "Alan"] is None or frame.at[row, "Alan"] != frame.at[row, "Alan"]  # None or NaN
    assert read_csv(reports.compare_csv(org, [one.id, two.id]))
    header, *rows = read_csv(reports.candidates_csv(org, style="raw"))
    cells = {row[header.index("candidate_name")]: dict(zip(header, row, strict=True)) for row in rows}
    assert cells["Alan"]["thinking_style"] == cells["Alan"]["thinking_style_confidence"] == ""
    assert cells["Ada"]["thinking_style"] != ""
