"""The exports page through the real path: files built from the embedded
store on request, counted, offered for download, scoped to the organisation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from hiremate import db as dbmod
from hiremate.timeutil import utcnow
from tests.support.page_helpers import make_org, seed_completed, stored_profile, texts, words

EXPORTS = "app_pages/exports.py"
KINDS = ("candidates", "per_task", "events")


def prepare(at, kind):
    at.button(key=f"exports_prepare_{kind}").click().run()
    assert not at.exception
    return at.session_state["exports_prepared"][kind]


def rows_of(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_each_export_contains_the_attempt(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    profile = stored_profile(org, ada)
    events = db[dbmod.EVENTS].count_documents({"attempt_id": ada.id})
    at = org.open_page(EXPORTS)
    assert not at.get("download_button")  # nothing is built before it is asked for

    candidates = prepare(at, "candidates")
    (row,) = rows_of(candidates["data"])
    assert row["Attempt ID"] == str(ada.id)
    assert row["Candidate"] == "Ada Lovelace"
    assert row["Thinking style"] == words(profile["thinking_style"]["primary"])
    assert candidates["rows"] == 1

    per_task = prepare(at, "per_task")
    assert [r["Attempt ID"] for r in rows_of(per_task["data"])] == [str(ada.id)] * len(org.tasks)

    raw = prepare(at, "events")
    raw_rows = rows_of(raw["data"])
    assert len(raw_rows) == events == raw["rows"]
    assert [int(r["Sequence"]) for r in raw_rows] == list(range(1, events + 1))

    page = texts(at)
    assert "1 row(s) plus the header row." in page
    assert f"{len(org.tasks)} row(s) plus the header row." in page
    assert f"{events} row(s) plus the header row." in page
    assert {button.key for button in at.get("download_button")} == {f"exports_download_{kind}" for kind in KINDS}
    assert all(button.proto.ignore_rerun for button in at.get("download_button"))  # on_click="ignore"
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "export"}) == 3


def test_position_and_date_filters(app_env, db):
    org = make_org(db)
    seed_completed(org, name="Ada Lovelace", position="Analyst")
    alan = seed_completed(org, name="Alan Turing", position="Engineer")
    at = org.open_page(EXPORTS)

    at.selectbox(key="exports_position").set_value("Engineer").run()
    assert [r["Attempt ID"] for r in rows_of(prepare(at, "candidates")["data"])] == [str(alan.id)]

    today = alan.completed_at.date()
    at.date_input(key="exports_from").set_value(today).run()
    at.date_input(key="exports_to").set_value(today).run()
    assert "prepare it again" in texts(at)  # the filters changed since the file was built
    assert [r["Attempt ID"] for r in rows_of(prepare(at, "candidates")["data"])] == [str(alan.id)]

    at.date_input(key="exports_from").set_value(today + timedelta(days=1)).run()
    at.date_input(key="exports_to").set_value(today + timedelta(days=2)).run()
    empty = prepare(at, "candidates")
    assert empty["rows"] == 0
    assert rows_of(empty["data"]) == []
    assert empty["data"].decode("utf-8-sig").startswith("Candidate,Email,Position")
    assert "the file has only the header row" in at.info[0].value


def test_an_inverted_date_range_is_explained(app_env, db):
    org = make_org(db)
    at = org.open_page(EXPORTS)
    today = utcnow().date()
    at.date_input(key="exports_from").set_value(today).run()
    at.date_input(key="exports_to").set_value(today - timedelta(days=3)).run()
    assert "start date is after the end date" in at.error[0].value
    assert not [button for button in at.button if button.key == "exports_prepare_candidates"]


def test_another_organisation_exports_none_of_it(app_env, db):
    mine, theirs = make_org(db, "Acme"), make_org(db, "Globex")
    foreign = seed_completed(theirs, name="Secret Candidate", position="Spy")
    at = mine.open_page(EXPORTS)
    assert at.selectbox(key="exports_position").options == ["All positions"]
    for kind in KINDS:
        prepared = prepare(at, kind)
        assert prepared["rows"] == 0
        assert str(foreign.id).encode() not in prepared["data"]
        assert b"Secret" not in prepared["data"]


def test_raw_is_a_choice_for_scripts(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    at = org.open_page(EXPORTS)
    assert at.radio(key="exports_style").value == "spreadsheet"  # the default
    spreadsheet = prepare(at, "candidates")
    at.radio(key="exports_style").set_value("raw").run()
    assert "prepare it again" in texts(at)  # the format is part of what was prepared
    raw = prepare(at, "candidates")
    (row,) = rows_of(raw["data"])
    assert row["attempt_id"] == str(ada.id) and row["completed_at"].endswith("Z")
    assert raw["file_name"] == "hiremate-candidates-raw.csv"
    assert spreadsheet["file_name"] == "hiremate-candidates.csv"
    audit = [entry["details"]["style"] for entry in db[dbmod.AUDIT_LOG].find({"action": "export"}).sort("at", 1)]
    assert audit == ["spreadsheet", "raw"]
