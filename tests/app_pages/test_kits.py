"""Assessment kits on the Assessments page and the Bulk issue page, through
AppTest against the embedded store: creating a kit, issuing one candidate
with it, a kit whose task was deleted shown and refused, bulk issue from
pasted rows with per-row problems and the links to download, and another
organisation's kits never offered."""

from __future__ import annotations

import csv
import io

import streamlit as st

from hiremate import db as dbmod
from hiremate import kits, tasks
from hiremate import settings as settingsmod
from recruiter import bulk_issue, kit_panel
from tests.app_pages.test_assessments import fill_candidate, library, shown_link, submit
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    open_page,
    run_ok,
    scope_of,
    texts,
)

ASSESSMENTS = "app_pages/assessments.py"
BULK = "app_pages/bulk_issue.py"


def test_a_kit_made_on_the_page_is_issued_to_a_candidate(app_env, db):
    admin = make_admin(db)
    first, second, _ = library(scope_of(db, admin))
    at = open_page(db, admin, ASSESSMENTS)
    click(at, "kits_new")
    at.text_input(key="kit_form_name").input("Analyst screen")
    at.text_input(key="kit_form_position").input("Data analyst")
    at.multiselect(key="kit_form_task_ids").select(str(second.id)).select(str(first.id))
    at.button(key="FormSubmitter:kit_form-Save kit").click()
    run_ok(at)
    assert "Kit “Analyst screen” created." in texts(at)
    [kit] = kits.list_kits(scope_of(db, admin))
    assert (kit.position, kit.task_ids) == ("Data analyst", [second.id, first.id])

    at = open_page(db, admin, ASSESSMENTS)
    assert at.radio(key="assess_task_mode").value == "Use a kit"
    assert "2 tasks in a fixed order · a blank position takes the kit's" in texts(at)
    fill_candidate(at)
    submit(at)
    shown_link(at)
    [doc] = db[dbmod.ATTEMPTS].find()
    assert (doc["kit_id"], doc["task_ids"]) == (kit.id, [second.id, first.id])
    assert doc["candidate_info"]["position"] == "Data analyst"


def test_a_kit_whose_task_was_deleted_is_flagged_and_refused(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    created = library(scope)
    kits.create_kit(scope, {"name": "Broken", "task_ids": [t.id for t in created[:2]]})
    tasks.soft_delete_task(scope, created[1].id)
    st.cache_data.clear()
    at = open_page(db, admin, ASSESSMENTS)
    warnings = " ".join(w.value for w in at.warning)
    assert f"1 task is deleted: “{created[1].title}”" in warnings.replace("\\", "")
    fill_candidate(at)
    submit(at)
    assert "cannot be issued: 1 task is deleted" in at.error[0].value.replace("\\", "")
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def test_a_kit_is_edited_into_a_sampling_rule_and_a_cancel_keeps_it_as_it_was(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    first = library(scope)[0]
    kit = kits.create_kit(scope, {"name": "Screen", "position": "Analyst", "task_ids": [first.id]})
    at = open_page(db, admin, ASSESSMENTS)
    click(at, f"kits_edit_{kit.id}")
    assert at.text_input(key="kit_form_name").value == "Screen"  # the form opens with the kit as it is
    assert at.multiselect(key="kit_form_task_ids").value == [str(first.id)]
    at.text_input(key="kit_form_name").input("Thrown away")
    at.button(key="FormSubmitter:kit_form-Cancel").click()
    run_ok(at)
    assert kits.get_kit(scope, kit.id).name == "Screen"

    click(at, f"kits_edit_{kit.id}")
    assert at.text_input(key="kit_form_name").value == "Screen"  # the cancelled text is gone
    at.radio(key="kit_form_mode").set_value(kit_panel.SAMPLED)
    run_ok(at)
    at.text_input(key="kit_form_name").input("Screen, sampled")
    at.number_input(key="kit_form_count").set_value(2)
    at.button(key="FormSubmitter:kit_form-Save kit").click()
    run_ok(at)
    assert "Kit “Screen, sampled” saved." in texts(at)
    stored = kits.get_kit(scope, kit.id)
    assert (stored.name, stored.position, stored.task_ids, stored.sampling.count) == (
        "Screen, sampled",
        "Analyst",
        None,
        2,
    )
    assert "2 tasks drawn at random" in texts(at)


def test_a_kit_edited_without_a_name_is_refused_and_left_unchanged(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    kit = kits.create_kit(scope, {"name": "Screen", "task_ids": [library(scope)[0].id]})
    at = open_page(db, admin, ASSESSMENTS)
    click(at, f"kits_edit_{kit.id}")
    at.text_input(key="kit_form_name").input("   ")
    at.button(key="FormSubmitter:kit_form-Save kit").click()
    run_ok(at)
    assert at.error, "a refusal is shown"
    assert kits.get_kit(scope, kit.id).name == "Screen"
    assert at.text_input(key="kit_form_name").value == "   "  # the form stays open with the input, to fix it


def test_archiving_a_kit_takes_it_out_of_issuing(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    kit = kits.create_kit(scope, {"name": "Old round", "task_ids": [library(scope)[0].id]})
    at = open_page(db, admin, ASSESSMENTS)
    click(at, f"kits_archive_{kit.id}")
    assert "Kit “Old round” archived." in texts(at)
    assert at.radio(key="assess_task_mode").options == ["Pick tasks by hand", "Sample tasks at random"]
    assert kits.get_kit(scope, kit.id).archived


def test_bulk_issue_from_pasted_rows_shows_problems_and_offers_the_links(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    kit = kits.create_kit(scope, {"name": "Analyst", "position": "Analyst", "task_ids": [library(scope)[0].id]})
    at = open_page(db, admin, BULK)
    at.text_area(key="bulk_paste").input(
        "Name,E-mail\nAda Lovelace,ada@example.com\nGrace Hopper,grace@example.com\n,nobody@example.com\n"
        "Ada again,ADA@example.com"
    )
    click(at, "bulk_check")
    shown = texts(at)
    assert "4 rows: 2 ready, 2 with problems (not issued)." in shown
    assert "- Line 4: Name: is required" in shown and "- Line 5: Email: the same as line 2" in shown
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0

    click(at, "bulk_issue")
    assert "2 assessments issued; 2 rows were not issued." in texts(at)
    docs = list(db[dbmod.ATTEMPTS].find().sort("candidate_info.email", 1))
    assert [d["candidate_info"]["email"] for d in docs] == ["ada@example.com", "grace@example.com"]
    assert all(d["kit_id"] == kit.id for d in docs)
    [download] = [d for d in at.get("download_button") if d.proto.label.startswith("Download 2 links")]
    assert download.proto.label == "Download 2 links to send (CSV)"
    result = at.session_state["bulk_result"]
    rows = list(csv.DictReader(io.StringIO(bulk_csv(result))))
    assert [r["Email"] for r in rows] == ["ada@example.com", "grace@example.com"]
    click(at, "bulk_done")
    assert "bulk_result" not in at.session_state


def bulk_csv(result) -> str:
    return bulk_issue.links_csv(result).decode("utf-8").lstrip("\ufeff")


def test_bulk_issue_without_kits_says_how_to_make_one_and_never_offers_another_organisations(app_env, db):
    acme = make_admin(db)
    acme_scope = scope_of(db, acme)
    kits.create_kit(acme_scope, {"name": "Acme kit", "task_ids": [library(acme_scope)[0].id]})
    other = make_admin(db, org="Globex", email="gina@globex.test", name="Gina")
    at = open_page(db, other, BULK)
    shown = texts(at)
    assert "Create a kit first" in shown and "Acme kit" not in shown
    at = open_page(db, other, ASSESSMENTS)
    assert "Acme kit" not in texts(at)


def test_bulk_issue_emails_the_links_when_a_mail_server_is_set_up(app_env, monkeypatch, db):
    monkeypatch.setenv("HIREMATE_SMTP_URL", "smtp://127.0.0.1:2525")  # queued only: nothing is sent here
    monkeypatch.setenv("HIREMATE_MAIL_FROM", "hiring@acme.test")
    settingsmod.get_settings.cache_clear()
    admin = make_admin(db)
    scope = scope_of(db, admin)
    kits.create_kit(scope, {"name": "Analyst", "task_ids": [library(scope)[0].id]})
    at = open_page(db, admin, BULK)
    at.text_area(key="bulk_paste").input("Ada Lovelace\tada@example.com\nGrace Hopper\tgrace@example.com")
    click(at, "bulk_check")
    assert at.checkbox(key="bulk_send_email").value is True
    click(at, "bulk_issue")
    assert "2 assessments issued, 2 invitations emailed." in texts(at)
    assert not [d for d in at.get("download_button") if d.proto.label.startswith("Download")]
    assert db[dbmod.MAIL_OUTBOX].count_documents({}) == 2
