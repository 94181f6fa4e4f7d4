"""Candidates list, profile data, compare and CSV exports, through real
pymongo against the embedded store."""

from __future__ import annotations

import csv
import io
import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring

from hiremate import attempt_counts, csvsafe, reports
from hiremate import db as dbmod
from hiremate.models import AttemptStatus, CandidateInfo, EventType, RiskOrientationLabel, ThinkingStyle
from hiremate.ops import simulate
from hiremate.profiles import build_profile, compute_and_store
from hiremate.scope import Scope

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POSITIONS = ["Analyst", "Engineer", "Support (EMEA)"]
STATUSES = list(AttemptStatus)
STYLES = list(ThinkingStyle)
RISKS = list(RiskOrientationLabel)


# ---------------------------------------------------------------- data


@pytest.fixture
def org(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def other_org(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def tasks():
    return simulate.make_tasks(random.Random(7), 4)


_seeds = itertools.count(1000)


def seed(scope, tasks, *, started_at=START, **candidate):
    """One completed attempt with real events, metrics and profile; each
    with its own random seed, since the seed also draws the ids."""
    info = CandidateInfo(**{"name": "Ada Lovelace", "email": "ada@example.com", "position": "Analyst", **candidate})
    return simulate.seed_completed_attempt(
        scope.db,
        organization_id=scope.organization_id,
        tasks=tasks,
        rng=random.Random(next(_seeds)),
        candidate=info,
        started_at=started_at,
    )


def store_session(db, session):
    """Store a simulated session the way the ingest server leaves it, then
    compute through the real path."""
    doc = session.attempt.to_doc()
    db[dbmod.ATTEMPTS].insert_one(doc)
    attempt_counts.record_new(db, [doc])  # as the ingest server's transitions would have counted it
    db[dbmod.EVENTS].insert_many([event.to_doc() for event in session.behavior_events])
    compute_and_store(db, session.attempt.id)
    return session.attempt


def bulk_seed(scope, count, *, all_completed=False, batch=2000):
    """``count`` minimal but valid attempts (and profiles for those that
    ended after starting), cloned from one simulated attempt with
    insert_many. Two attempts share each issue time, so paging relies on
    the ``_id`` tie-breaker. Returns the attempt documents."""
    session = simulate.simulate_session(random.Random(3), task_count=1, organization_id=scope.organization_id)
    _, profile = build_profile(session.attempt, session.behavior_events, now=START)
    attempt_template = session.attempt.model_copy(update={"task_snapshots": []}).to_doc()
    profile_template = profile.to_doc()
    attempts, profiles = [], []
    for i in range(count):
        status = AttemptStatus.COMPLETED if all_completed else STATUSES[i % len(STATUSES)]
        created = START + timedelta(minutes=i // 2)
        started = created + timedelta(hours=1) if status != AttemptStatus.PENDING else None
        completed = created + timedelta(hours=1, minutes=20) if status == AttemptStatus.COMPLETED else None
        attempt = {
            **attempt_template,
            "_id": ObjectId(),
            "token_hash": f"hash-{scope.organization_id}-{i}",
            "candidate_info": {
                "name": f"Candidate {i:05d}",
                "email": f"cand{i:05d}@example.com",
                "position": POSITIONS[(i // 3) % len(POSITIONS)],  # independent of the labels
            },
            "status": status.value,
            "created_at": created,
            "started_at": started,
            "completed_at": completed,
        }
        attempts.append(attempt)
        if status.is_final and started is not None:
            profiles.append(
                {
                    **profile_template,
                    "_id": ObjectId(),
                    "attempt_id": attempt["_id"],
                    "thinking_style": {**profile_template["thinking_style"], "primary": STYLES[i % len(STYLES)].value},
                    "risk_orientation": {
                        **profile_template["risk_orientation"],
                        "preference": RISKS[i % len(RISKS)].value,
                    },
                    "candidate_name": attempt["candidate_info"]["name"],
                    "candidate_email": attempt["candidate_info"]["email"],
                    "position": attempt["candidate_info"]["position"],
                    "completed_at": completed or started + timedelta(days=7),
                    "attempt_status": status.value,
                }
            )
    for first in range(0, count, batch):
        scope.db[dbmod.ATTEMPTS].insert_many(attempts[first : first + batch], ordered=False)
    attempt_counts.record_new(scope.db, attempts)  # inserted directly: counted as seeding counts them
    for first in range(0, len(profiles), batch):
        scope.db[dbmod.PROFILES].insert_many(profiles[first : first + batch], ordered=False)
    return attempts, profiles


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(csvsafe.BOM.encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def as_dicts(data: bytes) -> list[dict[str, str]]:
    header, *rows = read_csv(data)
    return [dict(zip(header, row, strict=True)) for row in rows]


# ---------------------------------------------------------------- csvsafe


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (-3, -3),
        (-2.5, -2.5),
        (0, 0),
        (True, "true"),
        (None, ""),
        (float("nan"), ""),
        (datetime(2026, 3, 2, 9, 0, 1, 234000, tzinfo=UTC), "2026-03-02T09:00:01.234Z"),
        (["=one", "two"], "'=one; two"),
    ],
)
def test_cell_neutralises_text_and_keeps_numbers(value, written):
    assert csvsafe.cell(value) == written


def test_csv_writer_raw_bytes_cell_by_cell():
    writer = csvsafe.CsvWriter(["text", "number", "float"])
    writer.writerow(["=SUM(A1)", -7, -0.5])
    writer.writerow(["-2+3", 12, 1.25])
    writer.writerow(["\tx", 0, None])
    writer.writerow(["@cmd", -1, 3.0])
    writer.writerow(["\rline", 5, 2.0])
    data = writer.to_bytes()
    assert data[:3] == b"\xef\xbb\xbf"
    text = data.decode("utf-8-sig")
    # Every line ends CRLF; the CR cell is quoted, so split on the records.
    assert text.count("\r\n") == 6 and "\n" not in text.replace("\r\n", "")
    assert read_csv(data) == [
        ["text", "number", "float"],
        ["'=SUM(A1)", "-7", "-0.5"],
        ["'-2+3", "12", "1.25"],
        ["'\tx", "0", ""],
        ["'@cmd", "-1", "3.0"],
        ["'\rline", "5", "2.0"],
    ]
    # Numbers are bare in the file, so a spreadsheet reads them as numbers.
    assert "'=SUM(A1),-7,-0.5\r\n'-2+3,12,1.25\r\n" in text
    assert writer.rows_written == 5


# ---------------------------------------------------------------- candidates list


def test_candidates_page_paginates_every_attempt_once_newest_first(org):
    attempts, _ = bulk_seed(org, 300)
    seen = []
    for skip in range(0, 300, 25):
        frame, total = reports.candidates_page(org, skip=skip, limit=25)
        assert total == 300
        assert list(frame.columns) == reports.CANDIDATE_COLUMNS
        seen += frame["attempt_id"].tolist()
    expected = sorted(attempts, key=lambda a: (a["created_at"], a["_id"]), reverse=True)
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
    assert read_csv(reports.candidates_csv(org)) == [reports.CANDIDATES_CSV_COLUMNS]


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
def test_candidates_page_reads_only_its_page_of_10000(org, store_uri):
    bulk_seed(org, 10_000, all_completed=True, batch=5000)
    log = CommandLog()
    client = MongoClient(store_uri, tz_aware=True, event_listeners=[log])
    try:
        scope = Scope(client[org.db.name], org.organization_id, org.user_id)
        for filters in ({}, {"thinking_style": "methodical"}, {"status": "completed", "search": "cand0"}):
            log.clear()
            frame, total = reports.candidates_page(scope, skip=2000, limit=25, **filters)
            assert len(frame) == 25 and total > 1000
            finds = [command for name, command in log.commands if name == "find"]
            assert finds and all(0 < command["limit"] <= 25 for command in finds), finds
            assert all(name in {"find", "aggregate"} for name, _ in log.commands), log.commands
            counts = [command for name, command in log.commands if name == "aggregate"]
            assert len(counts) == 1 and counts[0]["pipeline"][-1] == {"$group": {"_id": 1, "n": {"$sum": 1}}}
            returned = sum(size for name, size in log.replies if name != "aggregate")
            assert returned == 50  # the page, then the other collection's documents for it
            assert all(size <= 1 for name, size in log.replies if name == "aggregate")
    finally:
        client.close()


# ---------------------------------------------------------------- one candidate


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
    assert read_csv(reports.attempt_metrics_csv(org, attempts[0]["_id"])) == [reports.PER_TASK_CSV_COLUMNS]
    assert read_csv(reports.attempt_events_csv(org, attempts[0]["_id"])) == [reports.EVENTS_CSV_COLUMNS]


def test_profile_bundle_refuses_malformed_and_unknown_ids(org):
    assert reports.profile_bundle(org, "not-an-id") is None
    assert reports.profile_bundle(org, ObjectId()) is None


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


# ---------------------------------------------------------------- compare


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
    assert [row[0] for row in rows[1:]] == [reports.COLUMN_LABELS[key] for key in reports.COMPARE_ROWS]
    assert rows[1][1:] == [str(one.id), str(two.id)]
    entry = org.db[dbmod.AUDIT_LOG].find_one({"action": "export"})
    assert entry["details"]["kind"] == "compare" and entry["organization_id"] == org.organization_id


# ---------------------------------------------------------------- exports


def hostile_session(scope, tasks):
    """A completed session whose candidate fields and reasoning text start
    with formula characters."""
    candidate = CandidateInfo(name="=SUM(A1)", email="@cmd@example.com", position="+1 Analyst")
    session = simulate.simulate_session(
        random.Random(11), tasks=tasks, organization_id=scope.organization_id, candidate=candidate, started_at=START
    )
    submitted = next(event for event in session.events if event.event_type == EventType.REASONING_SUBMITTED)
    text = "-2+3 is the margin, because the deadline is close and the budget is tight"
    submitted.payload.update(final_text=text, word_count=len(text.split()), character_count=len(text))
    return store_session(scope.db, session), text


def test_candidates_csv_cell_by_cell(org, tasks):
    attempt, _ = hostile_session(org, tasks)
    data = reports.candidates_csv(org)
    raw = data.decode("utf-8-sig")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")
    header, row = read_csv(data)
    assert header == reports.CANDIDATES_CSV_COLUMNS
    cells = dict(zip(header, row, strict=True))
    profile = reports.profile_bundle(org, attempt.id).profile
    assert cells["attempt_id"] == str(attempt.id)
    assert cells["candidate_name"] == "'=SUM(A1)"
    assert cells["candidate_email"] == "'@cmd@example.com"
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
    rows = as_dicts(reports.per_task_metrics_csv(org))
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
    assert reports.attempt_metrics_csv(org, attempt.id) == reports.per_task_metrics_csv(org)


def test_events_csv_cell_by_cell(org, tasks):
    attempt, text = hostile_session(org, tasks)
    events = reports.profile_bundle(org, attempt.id).events
    header, *rows = read_csv(reports.events_csv(org))
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
    assert reports.attempt_events_csv(org, str(attempt.id)) == reports.events_csv(org, attempt_id=attempt.id)


def test_exports_filter_by_completion_date_and_position(org, tasks):
    early = seed(org, tasks, started_at=datetime(2026, 3, 1, 10, tzinfo=UTC), position="Analyst")
    late = seed(org, tasks, started_at=datetime(2026, 3, 5, 10, tzinfo=UTC), position="Engineer")

    def exported(**filters):
        return [row["attempt_id"] for row in as_dicts(reports.candidates_csv(org, **filters))]

    assert exported() == [str(late.id), str(early.id)]
    assert exported(date_from=date(2026, 3, 2)) == [str(late.id)]
    assert exported(date_to=date(2026, 3, 1)) == [str(early.id)]  # the whole day is included
    assert exported(date_from=date(2026, 3, 1), date_to=date(2026, 3, 5)) == [str(late.id), str(early.id)]
    assert exported(position="Engineer") == [str(late.id)]
    assert exported(date_to=datetime(2026, 3, 1, 9, tzinfo=UTC)) == []
    per_task = as_dicts(reports.per_task_metrics_csv(org, position="Analyst"))
    assert {row["attempt_id"] for row in per_task} == {str(early.id)}
    events = as_dicts(reports.events_csv(org, date_from=date(2026, 3, 2)))
    assert {row["attempt_id"] for row in events} == {str(late.id)}


def test_export_from_date_includes_a_completion_at_midnight(org, tasks):
    # SecantusDB 0.7.0b3 serves $gte on a descending index field as $gt: the
    # filter must still include a profile completed on the first instant of the day.
    seeded = seed(org, tasks, started_at=datetime(2026, 3, 1, 10, tzinfo=UTC))
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    org.db[dbmod.PROFILES].update_one({"attempt_id": seeded.id}, {"$set": {"completed_at": midnight}})

    def exported(**filters):
        return [row["attempt_id"] for row in as_dicts(reports.candidates_csv(org, **filters))]

    assert exported(date_from=date(2026, 3, 2)) == [str(seeded.id)]
    assert exported(date_from=datetime(2026, 3, 2, 0, 0, 0, 1000, tzinfo=UTC)) == []
    assert exported(date_to=date(2026, 3, 1)) == []


def test_exports_stream_past_one_batch(org):
    _, profiles = bulk_seed(org, reports.EXPORT_BATCH_SIZE * 2 + 25, all_completed=True, batch=5000)
    rows = as_dicts(reports.candidates_csv(org))
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
    assert entries[0]["details"] == {"kind": "candidates", "rows": 1, "date_from": "2026-01-01", "position": "Analyst"}
    assert entries[3]["target_type"] == "attempt" and entries[3]["target_id"] == str(attempt.id)
    assert entries[2]["details"]["rows"] == len(reports.profile_bundle(org, attempt.id).events)


# ---------------------------------------------------------------- organisations


def test_another_organisations_data_never_appears(org, other_org, tasks):
    mine = [seed(org, tasks, name="Mine One"), seed(org, tasks, name="Mine Two")]
    theirs = [
        seed(other_org, tasks, name="Theirs One", email="ada@example.com", position="Secret role"),
        seed(other_org, tasks, name="Theirs Two", email="theirs@example.com"),
    ]
    bulk_seed(other_org, 20)
    their_ids = {str(a.id) for a in theirs} | {
        str(doc["_id"]) for doc in org.db[dbmod.ATTEMPTS].find({"organization_id": other_org.organization_id})
    }

    frame, total = reports.candidates_page(org, limit=200)
    assert total == 2 and set(frame["attempt_id"]) == {str(a.id) for a in mine}
    for label in ("methodical", "analytical", "intuitive", "exploratory"):
        assert not set(reports.candidates_page(org, thinking_style=label)[0]["attempt_id"]) & their_ids
    assert reports.candidates_page(org, search="Theirs")[1] == 0
    assert reports.positions(org) == ["Analyst"]
    assert all(s.attempt_id not in their_ids for s in reports.attempts_for_email(org, "ada@example.com"))
    assert {s.attempt_id for s in reports.completed_candidates(org)} == {str(a.id) for a in mine}
    assert reports.profile_bundle(org, theirs[0].id) is None
    with pytest.raises(ValueError):
        reports.compare_frame(org, [mine[0].id, theirs[0].id])
    for single_attempt_export in (reports.attempt_metrics_csv, reports.attempt_events_csv):
        with pytest.raises(ValueError, match="no attempt"):
            single_attempt_export(org, theirs[0].id)
        with pytest.raises(ValueError, match="no attempt"):
            single_attempt_export(org, "junk")
    assert not org.db[dbmod.AUDIT_LOG].find_one({"action": "export", "target_id": str(theirs[0].id)})
    exports = [
        reports.candidates_csv(org),
        reports.per_task_metrics_csv(org),
        reports.events_csv(org),
        reports.compare_csv(org, [a.id for a in mine]),
    ]
    for data in exports:
        text = data.decode("utf-8-sig")
        assert "Theirs" not in text and "Secret role" not in text and "theirs@example.com" not in text
        assert not any(attempt_id in text for attempt_id in their_ids)
