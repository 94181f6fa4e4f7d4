"""The candidate profile page through the real path: AppTest on app.py,
attempts stored in the embedded store, profiles computed by the real rules."""

from __future__ import annotations

import random

from hiremate import db as dbmod
from hiremate import profiles, reports
from hiremate.models import AttemptStatus
from hiremate.ops import simulate
from recruiter import session
from tests.support.page_helpers import (
    make_org,
    seed_completed,
    seed_session,
    stored_profile,
    texts,
    unescape,
    words,
)

PROFILE = "app_pages/profile.py"


# ---------------------------------------------------------------- a completed attempt


def test_completed_attempt_shows_its_stored_profile(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    doc = stored_profile(org, attempt)

    at = org.open_page(PROFILE, attempt=str(attempt.id))

    assert at.header[0].value == "Ada Lovelace"
    headings = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert headings == [
        f"### {words(doc['thinking_style']['primary'])}",
        f"### {words(doc['decision_pattern']['speed'])} · {words(doc['decision_pattern']['consistency']).lower()}",
        f"### {words(doc['risk_orientation']['preference'])}",
        f"### {words(doc['communication_style']['reasoning_depth'])} · "
        f"{words(doc['communication_style']['logical_structure']).lower()}",
    ]
    assert not at.get("progress")  # confidence is said in words with its basis, never drawn like a score
    basis = [c.value for c in at.caption if c.value.startswith("Based on ")]
    assert basis == [f"Based on sufficient evidence ({len(org.tasks)} tasks)"] * 4
    page = texts(at)
    first_evidence = doc["thinking_style"]["evidence"][0]
    assert first_evidence.split()[0] in page
    for strength in doc["strengths"]:
        assert strength.split()[0] in page
    assert "Session signals" in page
    # Per-task table (one row a task) and the timeline of every stored event.
    per_task, timeline = at.dataframe[0].value, at.dataframe[1].value
    assert len(per_task) == len(org.tasks)
    assert len(timeline) == db[dbmod.EVENTS].count_documents({"attempt_id": attempt.id})
    assert len(at.get("plotly_chart")) == 4


def test_the_timeline_shows_the_candidates_text_verbatim(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    submitted = [
        doc["payload"]["final_text"]
        for doc in db[dbmod.EVENTS]
        .find({"attempt_id": attempt.id, "event_type": "reasoning_submitted"})
        .sort("sequence_number", 1)
    ]
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    timeline = at.dataframe[1].value
    shown = [text for text in timeline["Candidate's text"] if text]
    assert shown == submitted and shown


def test_a_profile_with_no_completed_task_describes_nothing(app_env, db):
    org = make_org(db)
    attempt, _ = seed_session(org, status=AttemptStatus.LOCKED, stop_after_tasks=0)
    profiles.compute_and_store(db, attempt.id)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert not at.exception
    shown = texts(at)
    assert "Too little was observed to describe this candidate" in shown
    assert "Based on no evidence (0 tasks): no dimension is described." in shown
    assert not [m.value for m in at.markdown if m.value.startswith("### ")]  # no label without evidence


def test_a_candidate_name_is_not_rendered_as_markdown(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org, name="Eve [click](http://evil.test) **x**", email="eve@example.com")
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert at.header[0].value == session.escape_markdown("Eve [click](http://evil.test) **x**")
    assert "](http" not in at.header[0].value


def test_rendering_the_profile_exports_nothing(app_env, db):
    """The CSV downloads are built when clicked (and audited then), not on every view."""
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    keys = {button.key for button in at.get("download_button")}
    assert {"profile_download_pdf", "profile_download_metrics", "profile_download_events"} <= keys
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "export"}) == 0


def test_the_profile_offers_its_pdf_report_and_says_it_is_not_a_score(app_env, db):
    """One click for the PDF report (its contents: tests/hiremate/reports/test_pdf.py)."""
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    (button,) = [button for button in at.get("download_button") if button.key == "profile_download_pdf"]
    assert button.proto.label == "Profile report (PDF)"
    assert button.proto.ignore_rerun  # on_click="ignore": no rerun, built and audited when clicked
    assert reports.NO_SCORE_STATEMENT in texts(at)


# ---------------------------------------------------------------- by email


def test_profile_by_email_with_one_attempt(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org, name="Alan Turing", email="alan@example.com")
    doc = stored_profile(org, attempt)
    at = org.open_page(PROFILE, email="alan@example.com")
    assert at.header[0].value == "Alan Turing"
    assert not [box for box in at.selectbox if box.key == "profile_attempt"]  # nothing to pick
    assert doc["overall_summary"].split()[0] in texts(at)


def test_profile_by_email_lists_several_attempts_to_pick(app_env, db):
    org = make_org(db)
    first = seed_completed(org, name="Alan Turing", email="alan@example.com", position="Analyst")
    second = seed_completed(org, name="Alan Turing", email="alan@example.com", position="Engineer")
    seed_completed(org, name="Someone Else", email="else@example.com")

    at = org.open_page(PROFILE, email="alan@example.com")
    picker = at.selectbox(key="profile_attempt")
    assert set(picker.options) == {
        f"Alan Turing · Analyst · {first.completed_at:%Y-%m-%d} · Completed",
        f"Alan Turing · Engineer · {second.completed_at:%Y-%m-%d} · Completed",
    }
    shown = picker.value
    other = str(first.id) if shown == str(second.id) else str(second.id)
    picker.set_value(other).run()
    assert not at.exception
    doc = stored_profile(org, first if other == str(first.id) else second)
    assert at.markdown[0].value.startswith("alan@example\\.com · ")
    assert ("Engineer" if other == str(second.id) else "Analyst") in at.markdown[0].value
    assert f"### {words(doc['thinking_style']['primary'])}" in [m.value for m in at.markdown]


def test_unknown_email_says_so(app_env, db):
    org = make_org(db)
    at = org.open_page(PROFILE, email="nobody@example.com")
    assert "No assessment for" in at.warning[0].value


def test_without_a_link_the_page_offers_a_search(app_env, db):
    org = make_org(db)
    seed_completed(org, name="Alan Turing", email="alan@example.com")
    at = org.open_page(PROFILE)
    assert "Open a profile from the Candidates page" in at.info[0].value
    at.text_input(key="profile_email_search").input("alan@example.com")
    submit = next(b for b in at.button if b.label == "Find")
    submit.click().run()
    assert not at.exception
    assert at.query_params["email"] == "alan@example.com"
    assert at.header[0].value == "Alan Turing"


# ---------------------------------------------------------------- recompute and unfinished attempts


def test_recompute_replaces_the_profile_in_place(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    before = stored_profile(org, attempt)

    at = org.open_page(PROFILE, attempt=str(attempt.id))
    at.button(key="profile_recompute").click().run()
    assert not at.exception

    assert db[dbmod.PROFILES].count_documents({"attempt_id": attempt.id}) == 1
    assert db[dbmod.METRICS].count_documents({"attempt_id": attempt.id}) == 1
    after = stored_profile(org, attempt)
    assert after["_id"] == before["_id"]
    assert after["generated_at"] >= before["generated_at"]
    assert after["thinking_style"] == before["thinking_style"]
    assert "recomputed" in at.success[0].value
    audit = db[dbmod.AUDIT_LOG].find_one({"action": "attempt.recomputed"})
    assert audit["target_id"] == str(attempt.id)
    assert audit["organization_id"] == org.scope.organization_id


def test_in_progress_attempt_links_to_the_live_page(app_env, db):
    org = make_org(db)
    attempt, _ = seed_session(org, status=AttemptStatus.IN_PROGRESS)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert "in progress" in at.info[0].value
    links = at.get("page_link")
    assert any("live" in link.proto.page and f"attempt={attempt.id}" in link.proto.query_string for link in links)
    assert not at.get("progress")


def test_ended_attempt_without_profile_offers_to_compute_it(app_env, db):
    org = make_org(db)
    attempt, _ = seed_session(org, status=AttemptStatus.LOCKED, stop_after_tasks=2)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert "no computed profile" in at.warning[0].value
    at.button(key="profile_recompute").click().run()
    assert not at.exception
    doc = stored_profile(org, attempt)
    assert doc is not None
    assert f"### {words(doc['thinking_style']['primary'])}" in [m.value for m in at.markdown]
    assert "2 of 3 tasks completed" in texts(at)
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "attempt.recomputed"}) == 1


# ---------------------------------------------------------------- another organisation


def test_another_organisations_attempt_is_not_found(app_env, db):
    mine, theirs = make_org(db, "Acme"), make_org(db, "Globex")
    foreign = seed_completed(theirs, name="Secret Candidate", email="secret@example.com")
    at = mine.open_page(PROFILE, attempt=str(foreign.id))
    assert "not found" in at.error[0].value
    assert "Secret" not in texts(at)
    at = mine.open_page(PROFILE, email="secret@example.com")
    assert "No assessment for" in at.warning[0].value
    assert not at.header


# ---------------------------------------------------------------- answers first


def test_the_profile_opens_with_what_they_picked_and_why(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    shown = texts(at)
    markdown = [m.value for m in at.markdown]
    subheaders = [s.value for s in at.subheader]
    assert subheaders.index("Answers") < subheaders.index("Summary")  # answers first
    completed = {
        doc["task_id"]: doc["payload"]["final_option_id"]
        for doc in db[dbmod.EVENTS].find({"attempt_id": attempt.id, "event_type": "task_completed"})
    }
    for number, task in enumerate(org.tasks, start=1):
        assert any(value.startswith(f"#### {number}. ") for value in markdown), number
        chosen = task.option(completed[task.id])
        marked = [value for value in markdown if "(chosen)" in value and unescape(value).count(chosen.text)]
        assert marked, chosen.text
        for option in task.options:
            assert option.text in shown
    for doc in db[dbmod.EVENTS].find({"attempt_id": attempt.id, "event_type": "reasoning_submitted"}):
        for line in doc["payload"]["final_text"].splitlines():
            assert line.strip() in shown
    paths = [value for value in markdown if value.startswith("Chose ")]
    assert len(paths) == len(org.tasks) and all("Time on the task:" in p for p in paths), paths


def test_typed_markup_in_an_answer_stays_text(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    hostile = "**bold** [link](https://evil.example) <img src=x onerror=alert(1)>"
    db[dbmod.EVENTS].update_many(
        {"attempt_id": attempt.id, "event_type": "reasoning_submitted"}, {"$set": {"payload.final_text": hostile}}
    )
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    rendered = [m.value for m in at.markdown if r"evil\.example" in m.value]
    answered = db[dbmod.EVENTS].distinct("task_id", {"attempt_id": attempt.id, "event_type": "reasoning_submitted"})
    assert len(rendered) == len(answered) > 0, "one reasoning per task that has one, each escaped"
    assert all(value == session.escape_markdown(hostile) for value in rendered)


# ---------------------------------------------------------------- norms, on request


def _others(org, count, seed):
    simulate.seed_completed_attempts(
        org.db,
        organization_id=org.scope.organization_id,
        tasks=org.tasks,
        count=count,
        rng=random.Random(seed),
        tasks_per_attempt=len(org.tasks),
    )


def test_norms_are_shown_only_on_request_and_only_for_20_others(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    _others(org, 12, seed=77)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert "candidates on this task" not in texts(at)  # never the first thing a recruiter sees
    at.toggle(key="profile_show_norms").set_value(True).run()
    assert "Norms appear once at least 20 other candidates have completed this task (12 so far)." in texts(at)

    _others(org, 8, seed=78)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    at.toggle(key="profile_show_norms").set_value(True).run()
    shown = texts(at)
    assert shown.count("A faster first decision than ") == len(org.tasks)
    assert "% of 20 candidates on this task" in shown


def test_who_looked_at_which_profile_is_audited_once_per_visit(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    at.toggle(key="profile_show_norms").set_value(True).run()  # a rerun of the same visit
    entries = list(db[dbmod.AUDIT_LOG].find({"action": "profile.viewed"}))
    assert len(entries) == 1
    assert entries[0]["target_id"] == str(attempt.id) and entries[0]["actor_id"] == org.user.id
    assert entries[0]["details"] == {}  # ids only: no name, no email
