"""A person reviews a profile (issue 16), through AppTest against the
embedded store: the review panel at the end of the profile page, the
dashboard's list of profiles awaiting review and the candidates list's
review filters."""

from __future__ import annotations

from hiremate import auth, reviews
from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from recruiter import review_panel
from tests.support.page_helpers import click, make_org, run_ok, seed_completed, seed_session, texts, unescape

PROFILE = "app_pages/profile.py"
DASHBOARD = "app_pages/dashboard.py"
CANDIDATES = "app_pages/candidates.py"
HOSTILE = "<b>bold</b> [click](http://evil.test) **loud**"


def fill_review(at, *, disagree: dict[str, str] | None = None, notes: str = ""):
    disagree = disagree or {}
    for name in reviews.DIMENSIONS:
        at.radio(key=review_panel.verdict_key(name)).set_value("disagree" if name in disagree else "agree")
        at.text_input(key=review_panel.reason_key(name)).input(disagree.get(name, ""))
    at.text_area(key=review_panel.NOTES_KEY).input(notes)
    return at


def decide(at, decision: str | None, reason: str):
    if decision:
        at.radio(key=review_panel.DECISION_KEY).set_value(decision)
    at.text_area(key=review_panel.DECISION_REASON_KEY).input(reason)
    return click(at, review_panel.DECISION_SUBMIT_KEY)


def errors(at) -> list[str]:
    return [unescape(str(e.value)) for e in at.error]


def test_a_review_and_a_decision_are_recorded_shown_as_text_and_audited(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org, "Ada Lovelace")
    profile_before = db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert "Awaiting review" in texts(at)
    assert not [b for b in at.button if b.key == review_panel.DECISION_SUBMIT_KEY]  # review first

    fill_review(at, disagree={"risk_orientation": HOSTILE}, notes=HOSTILE)
    click(at, review_panel.SUBMIT_KEY)
    assert not errors(at)
    shown = texts(at)
    assert "Your review is recorded." in shown and f"**{org.user.full_name}** reviewed" in shown
    assert HOSTILE in shown  # literally, as typed
    assert not any("<b>" in m.value and not m.value.count("\\<") for m in at.markdown if "bold" in m.value)
    assert all("\\[click\\]" in m.value for m in at.markdown if "click" in m.value)  # escaped: no link
    assert at.radio(key=review_panel.verdict_key("risk_orientation")).value == "disagree"  # own review kept

    decide(at, "advance", "Clear reasoning on every task")
    assert not errors(at)
    shown = texts(at)
    assert "Decision recorded: Advance." in shown and "Clear reasoning on every task" in shown
    stored = reviews.get_review(org.scope, attempt.id)
    assert stored.decision.value == "advance" and stored.decision.decided_by == org.user.id
    assert db[dbmod.PROFILES].find_one({"attempt_id": attempt.id}) == profile_before
    actions = [doc["action"] for doc in db[dbmod.AUDIT_LOG].find({"target_id": str(attempt.id)}).sort("_id", 1)]
    assert actions[-2:] == ["profile.reviewed", "profile.decision_recorded"]


def test_disagreeing_without_a_reason_is_refused(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    fill_review(at, disagree={"thinking_style": ""})
    at.radio(key=review_panel.verdict_key("thinking_style")).set_value("disagree")
    click(at, review_panel.SUBMIT_KEY)
    assert any("Thinking style: give a reason to disagree" in e for e in errors(at)), errors(at)
    assert reviews.get_review(org.scope, attempt.id) is None


def test_every_dimension_needs_a_verdict(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    click(at, review_panel.SUBMIT_KEY)
    assert any("agree or disagree" in e for e in errors(at))
    assert reviews.get_review(org.scope, attempt.id) is None


def test_a_decision_needs_a_choice_and_a_reason(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    click(fill_review(at), review_panel.SUBMIT_KEY)
    decide(at, None, "A reason without a choice")
    assert any("Choose a decision" in e for e in errors(at))
    decide(at, "reject", "   ")
    assert any("Give a reason for the decision" in e for e in errors(at))
    assert reviews.get_review(org.scope, attempt.id).decision is None
    assert not list(db[dbmod.AUDIT_LOG].find({"action": "profile.decision_recorded"}))


def test_a_decision_recorded_meanwhile_by_a_colleague_is_shown_not_overwritten(app_env, db):
    org = make_org(db)
    attempt = seed_completed(org)
    colleague = auth.create_user(
        db,
        email="sam@acme.test",
        full_name="Sam Second",
        password="correct-horse-7",
        organization_id=org.scope.organization_id,
    )
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    click(fill_review(at), review_panel.SUBMIT_KEY)
    sam = auth.scope_for(db, colleague)
    reviews.record_review(sam, attempt.id, {name: ("agree", "") for name in reviews.DIMENSIONS})
    reviews.record_decision(sam, attempt.id, "reject", "Sam's reason", seen_at=None)

    decide(at, "advance", "Mine")
    assert any("Another decision was recorded meanwhile" in e for e in errors(at))
    assert "Sam's reason" in texts(at)
    assert reviews.get_review(org.scope, attempt.id).decision.value == "reject"
    decide(at, "advance", "Mine, having read Sam's")  # now seen: recorded
    assert reviews.get_review(org.scope, attempt.id).decision.value == "advance"


def test_a_locked_attempt_is_not_offered_for_review(app_env, db):
    org = make_org(db)
    attempt, _ = seed_session(org, status=AttemptStatus.LOCKED)
    from hiremate.profiles import compute_and_store

    compute_and_store(db, attempt.id)
    at = org.open_page(PROFILE, attempt=str(attempt.id))
    assert "Only completed assessments are reviewed" in texts(at)
    assert not [b for b in at.button if b.key == review_panel.SUBMIT_KEY]


def test_another_organisation_sees_no_review_and_cannot_write_one(app_env, db):
    org, other = make_org(db, "Acme"), make_org(db, "Globex")
    attempt = seed_completed(org, "Ada Lovelace")
    reviews.record_review(org.scope, attempt.id, {name: ("agree", "Acme's reason") for name in reviews.DIMENSIONS})
    at = other.open_page(PROFILE, attempt=str(attempt.id))
    shown = texts(at)
    assert "Acme's reason" not in shown and "Ada Lovelace" not in shown
    assert not [b for b in at.button if b.key == review_panel.SUBMIT_KEY]
    assert not other.db[dbmod.AUDIT_LOG].find_one({"action": "profile.reviewed", "actor_id": other.user.id})


def test_the_dashboard_lists_completed_profiles_awaiting_review_newest_first(app_env, db):
    org = make_org(db)
    seeded = [seed_completed(org, name) for name in ("Ann One", "Bob Two", "Cy Three")]
    seed_session(org, status=AttemptStatus.IN_PROGRESS, name="Ivy Inprogress", email="ivy@example.com")
    reviews.record_review(org.scope, seeded[1].id, {name: ("agree", "") for name in reviews.DIMENSIONS})
    completed = {doc["attempt_id"]: doc["completed_at"] for doc in db[dbmod.PROFILES].find()}
    expected = sorted((a for a in seeded if a.id != seeded[1].id), key=lambda a: completed[a.id], reverse=True)

    at = org.open_page(DASHBOARD)
    links = [link for link in at.get("page_link") if "completed" in link.proto.label]
    assert [link.proto.query_string for link in links] == [f"attempt={a.id}" for a in expected]
    shown = texts(at)
    assert "2 profiles awaiting review" in shown
    assert not any("Bob" in link.proto.label or "Ivy" in link.proto.label for link in links)


def test_the_candidates_list_filters_by_review_state_and_decision(app_env, db):
    org = make_org(db)
    ann, bob = seed_completed(org, "Ann One"), seed_completed(org, "Bob Two")
    reviews.record_review(org.scope, bob.id, {name: ("agree", "") for name in reviews.DIMENSIONS})
    reviews.record_decision(org.scope, bob.id, "hold", "Second interview", seen_at=None)
    at = org.open_page(CANDIDATES)
    rows = at.dataframe[0].value
    assert dict(zip(rows["Candidate"], rows["Decision"], strict=True)) == {"Ann One": "—", "Bob Two": "Hold"}
    assert dict(zip(rows["Candidate"], rows["Review"], strict=True)) == {
        "Ann One": "Awaiting review",
        "Bob Two": "Reviewed",
    }

    at.selectbox(key="candidates_review").set_value("awaiting_review")
    run_ok(at)
    assert list(at.dataframe[0].value["Candidate"]) == ["Ann One"]
    at.selectbox(key="candidates_review").set_value("")
    at.selectbox(key="candidates_decision").set_value("hold")
    run_ok(at)
    assert list(at.dataframe[0].value["Candidate"]) == ["Bob Two"]
    at.selectbox(key="candidates_decision").set_value("reject")
    run_ok(at)
    assert not at.dataframe and "No candidate matches these filters." in texts(at)
    assert ann  # listed above
