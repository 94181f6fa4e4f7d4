"""The spreadsheet-style exports (the default) opened as a spreadsheet would
open them: pandas ``read_csv`` with the header row, dates parsed with the
stated format in the organisation's time zone, percentages numeric, option
texts beside their ids, the reasoning text, no "None"/"nan" cells, and the
same formula neutralising as the raw files."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from hiremate import db as dbmod
from hiremate import reports
from hiremate.models import CandidateInfo, EventType
from hiremate.ops import simulate
from hiremate.timeutil import LOCAL_TIME_FORMAT, local_time, utcnow
from tests.hiremate.reports.test_exports import store_session
from tests.support.reports_helpers import START, org_fixture, tasks_fixture  # noqa: F401

ZONE = "America/New_York"  # five hours behind UTC in March 2026 before the 8th, four after


@pytest.fixture(name="zoned_org")
def zoned_org_fixture(org):
    """``org`` with an organisation document whose time zone is ``ZONE``."""
    org.db[dbmod.ORGANIZATIONS].insert_one(
        {
            "_id": org.organization_id,
            "name": "Acme",
            "slug": f"acme-{org.organization_id}",
            "created_at": utcnow(),
            "settings": {"time_zone": ZONE},
        }
    )
    return org


def completed(scope, tasks, *, name="Zoë Ñúñez", reasoning="Because the budget is tight, I chose the safe one."):
    candidate = CandidateInfo(name=name, email="zoe@example.com", position="=Analyst")
    session = simulate.simulate_session(
        random.Random(5), tasks=tasks, organization_id=scope.organization_id, candidate=candidate, started_at=START
    )
    for event in session.events:
        if event.event_type == EventType.REASONING_SUBMITTED:
            event.payload.update(
                final_text=reasoning, word_count=len(reasoning.split()), character_count=len(reasoning)
            )
    return store_session(scope.db, session)


def open_as_spreadsheet(data: bytes) -> pd.DataFrame:
    """What Excel or LibreOffice gets: UTF-8 with a BOM, the first row as headers."""
    assert data.startswith("\ufeff".encode())
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False, na_values=[""])


def parse_local(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, format=LOCAL_TIME_FORMAT)


def no_none_or_nan(data: bytes) -> None:
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    for word in ("None", "nan", "NaN", "NaT", "null"):
        assert not (frame == word).any().any(), word


def test_candidates_spreadsheet_has_words_local_dates_and_percentages(zoned_org, tasks):
    attempt = completed(zoned_org, tasks)
    data = reports.candidates_csv(zoned_org)
    frame = open_as_spreadsheet(data)
    profile = reports.profile_bundle(zoned_org, attempt.id).profile

    assert list(frame.columns) == [
        f"{c.header} ({ZONE})" if c.kind == "time" else c.header for c in reports.CANDIDATES_SHEET_COLUMNS
    ]
    assert "Thinking style confidence (%)" in frame.columns and "thinking_style_confidence" not in frame.columns
    (row,) = frame.to_dict("records")
    assert row["Candidate"] == "Zoë Ñúñez"
    assert row["Position"] == "'=Analyst"  # still neutralised
    assert row["Status"] == "Completed"
    assert row["Thinking style"] == reports.humanize(profile.thinking_style.primary)
    assert row["Thinking style confidence (%)"] == pytest.approx(profile.thinking_style.confidence * 100, abs=0.05)
    assert frame["Thinking style confidence (%)"].dtype.kind == "f"
    assert row["Review"] == "Awaiting review"
    assert pd.isna(row["Decision"]) and pd.isna(row[f"Decided ({ZONE})"])  # empty, never "None"
    completed_at = parse_local(frame[f"Completed ({ZONE})"])[0]
    expected = attempt.completed_at.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None, second=0, microsecond=0)
    assert completed_at == expected
    assert completed_at.hour != attempt.completed_at.hour  # local, not UTC
    assert row["Attempt ID"] == str(attempt.id)
    no_none_or_nan(data)


def test_per_task_spreadsheet_has_option_text_beside_its_id_and_the_reasoning(zoned_org, tasks):
    reasoning = "-2+3 is the margin, so I waited; then I chose."
    attempt = completed(zoned_org, tasks, reasoning=reasoning)
    bundle = reports.profile_bundle(zoned_org, attempt.id)
    metrics = bundle.metrics
    written = {e.task_id for e in bundle.events if e.event_type == EventType.REASONING_SUBMITTED}
    assert written
    data = reports.per_task_metrics_csv(zoned_org)
    frame = open_as_spreadsheet(data)
    assert len(frame) == len(metrics.per_task_metrics) == len(tasks)
    for row, item, task in zip(frame.to_dict("records"), metrics.per_task_metrics, tasks, strict=True):
        assert row["Task"] == task.title
        assert row["Final option ID"] == item.final_option_id
        assert row["Final option"] == task.option(item.final_option_id).text
        assert row["Risk level"] == reports.humanize(item.final_option_risk_level)
        if item.task_id in written:
            assert row["Reasoning"] == "'" + reasoning  # the text, neutralised
        else:
            assert pd.isna(row["Reasoning"])
        assert row["Hesitation (s)"] == pytest.approx(item.hesitation_seconds)
        share = item.hesitation_seconds / item.time_spent_seconds * 100
        assert row["Hesitation (%)"] == pytest.approx(share, abs=0.05)
    assert frame["Hesitation (%)"].dtype.kind == "f" and frame["Time spent (s)"].dtype.kind == "f"
    assert parse_local(frame[f"Completed ({ZONE})"]).notna().all()
    # One attempt's file, from the profile page, has the same rows.
    single = open_as_spreadsheet(reports.attempt_metrics_csv(zoned_org, attempt.id))
    pd.testing.assert_frame_equal(single, frame)
    no_none_or_nan(data)


def test_events_spreadsheet_names_options_and_events_in_words(zoned_org, tasks):
    attempt = completed(zoned_org, tasks)
    events = reports.profile_bundle(zoned_org, attempt.id).events
    data = reports.events_csv(zoned_org)
    frame = open_as_spreadsheet(data)
    assert len(frame) == len(events)
    assert {"View duration (ms)", "Option ID", "Option", "Final option ID", "Final option", "Final text"} <= set(
        frame.columns
    )
    assert frame["Sequence"].tolist() == [event.sequence_number for event in events]
    times = parse_local(frame[f"Time ({ZONE})"])
    for shown, event in zip(times, events, strict=True):
        assert shown.strftime(LOCAL_TIME_FORMAT) == local_time(event.event_time, ZoneInfo(ZONE))
    selected = frame[frame["Event"] == "Option selected"].iloc[0]
    event = next(e for e in events if e.event_type == EventType.OPTION_SELECTED)
    task = next(t for t in tasks if t.id == event.task_id)
    assert selected["Option"] == task.option(event.payload["option_id"]).text
    assert selected["Is first selection"] in ("Yes", "No")
    assert selected["Task"] == task.title
    no_none_or_nan(data)


def test_raw_stays_machine_columns_in_iso_utc(zoned_org, tasks):
    attempt = completed(zoned_org, tasks)
    frame = open_as_spreadsheet(reports.candidates_csv(zoned_org, style="raw"))
    assert list(frame.columns) == reports.CANDIDATES_CSV_COLUMNS
    assert frame["completed_at"][0].endswith("Z")
    assert datetime.fromisoformat(frame["completed_at"][0]) == attempt.completed_at.astimezone(UTC)
    assert 0 <= frame["thinking_style_confidence"][0] <= 1
    assert list(open_as_spreadsheet(reports.events_csv(zoned_org, style="raw")).columns) == reports.EVENTS_CSV_COLUMNS


def test_date_filters_are_days_in_the_organisations_time_zone(zoned_org, tasks):
    """02:30 UTC on 3 March is 2 March in New York: the recruiter's 2 March."""
    attempt = completed(zoned_org, tasks)
    zoned_org.db[dbmod.PROFILES].update_one(
        {"attempt_id": attempt.id}, {"$set": {"completed_at": datetime(2026, 3, 3, 2, 30, tzinfo=UTC)}}
    )  # 21:30 on 2 March in New York
    rows = open_as_spreadsheet(reports.candidates_csv(zoned_org, date_from=datetime(2026, 3, 2).date()))
    assert len(rows) == 1
    assert open_as_spreadsheet(reports.candidates_csv(zoned_org, date_from=datetime(2026, 3, 3).date())).empty
    assert len(open_as_spreadsheet(reports.candidates_csv(zoned_org, date_to=datetime(2026, 3, 2).date()))) == 1
