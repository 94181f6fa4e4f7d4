"""The live page through the real path: in-progress attempts stored in the
embedded store, events inserted as the ingest server stores them, and a
rerun standing in for the fragment's one-second tick (run_every does not
tick under AppTest)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from hiremate import auth, live_tickets
from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from hiremate.settings import get_settings
from hiremate.timeutil import utcnow
from tests.support.page_helpers import make_org, seed_completed, seed_session, texts

LIVE = "app_pages/live.py"


def store(db, events):
    db[dbmod.EVENTS].insert_many([event.to_doc() for event in events])


def in_progress(org, **candidate):
    """An in-progress attempt with no events stored yet, and the events its session will produce."""
    attempt, session = seed_session(org, status=AttemptStatus.IN_PROGRESS, stop_after_tasks=1, **candidate)
    org.db[dbmod.EVENTS].delete_many({"attempt_id": attempt.id})  # test set-up: the store starts empty
    return attempt, session.behavior_events


def stream(at):
    return at.dataframe[0].value


def test_lists_an_in_progress_attempt_and_streams_its_events(app_env, db):
    org = make_org(db)
    attempt, events = in_progress(org, name="Grace Hopper")
    store(db, events[:6])

    at = org.open_page(LIVE)
    picker = at.selectbox(key="live_attempt")
    assert picker.value == str(attempt.id)
    assert picker.options[0].startswith("Grace Hopper")
    assert list(stream(at)["Seq"]) == [6, 5, 4, 3, 2, 1]
    assert "Task 1 of 3" in texts(at)

    # More events are stored; the next tick (a rerun here) shows them too.
    store(db, events[6:])
    at.run()
    assert not at.exception
    shown = list(stream(at)["Seq"])
    assert shown == list(range(len(events), 0, -1))
    assert at.session_state["live_state"].last_seq == len(events)
    assert at.session_state["live_state"].events_seen == len(events)
    bar = at.get("progress")[0]
    assert bar.proto.text == "1 of 3 tasks completed"


def test_stream_keeps_the_candidates_text_as_plain_text(app_env, db):
    # Reasoning required: the completed first task always carries submitted text,
    # whatever seed this test happens to draw.
    org = make_org(db, reasoning_required=True)
    attempt, events = in_progress(org)
    store(db, events)
    submitted = [e.payload["final_text"] for e in events if e.event_type == "reasoning_submitted"]
    at = org.open_page(LIVE, attempt=str(attempt.id))
    shown = [text for text in stream(at)["Candidate's text"] if text]
    assert shown == list(reversed(submitted)) and shown


def test_before_the_first_event(app_env, db):
    org = make_org(db)
    in_progress(org)
    at = org.open_page(LIVE)
    assert "Waiting for the first task to start" in texts(at)
    assert not at.dataframe
    assert "No events yet" in texts(at)


def test_completion_links_to_the_profile(app_env, db):
    org = make_org(db)
    attempt, events = in_progress(org)
    store(db, events[:3])
    at = org.open_page(LIVE)
    assert not at.success
    db[dbmod.ATTEMPTS].update_one(
        {"_id": attempt.id}, {"$set": {"status": AttemptStatus.COMPLETED.value, "completed_at": utcnow()}}
    )
    at.run()
    assert not at.exception
    assert "completed the assessment" in at.success[0].value
    links = [link.proto for link in at.get("page_link") if "profile" in link.proto.page]
    assert links and links[0].query_string == f"attempt={attempt.id}"


def test_a_shared_link_opens_that_attempt_even_when_it_has_ended(app_env, db):
    org = make_org(db)
    in_progress(org, name="Someone Else", email="else@example.com")
    done = seed_completed(org, name="Alan Turing")
    at = org.open_page(LIVE, attempt=str(done.id))
    assert at.selectbox(key="live_attempt").value == str(done.id)
    assert "completed the assessment" in at.success[0].value
    assert len(stream(at)) == db[dbmod.EVENTS].count_documents({"attempt_id": done.id})


def test_mint_a_live_ticket(app_env, db):
    org = make_org(db)
    attempt, events = in_progress(org)
    store(db, events[:2])
    at = org.open_page(LIVE)
    at.button(key="live_mint_ticket").click().run()
    assert not at.exception

    url = at.code[0].value
    parts = urlsplit(url)
    assert parts.scheme == "ws"
    assert f"{parts.netloc}" == urlsplit(get_settings().public_url).netloc
    assert parts.path == f"/ws/live/{attempt.id}"
    (ticket,) = parse_qs(parts.query)["ticket"]
    claims = live_tickets.verify_ticket(get_settings().secret, ticket)
    assert claims.attempt_id == str(attempt.id)
    assert claims.user_id == str(org.user.id)
    assert claims.organization_id == str(org.scope.organization_id)
    # Bound to the login session that minted it: it stops working at logout.
    assert claims.session_id == str(auth.live_session_id(db, at.session_state["auth_token"]))
    assert timedelta(minutes=4) < claims.expires_at - utcnow() <= timedelta(minutes=5)
    assert "Expires at" in texts(at)
    audit = db[dbmod.AUDIT_LOG].find_one({"action": "live.ticket_minted"})
    assert audit["target_id"] == str(attempt.id)


def test_nobody_in_progress(app_env, db):
    org = make_org(db)
    seed_completed(org)
    at = org.open_page(LIVE)
    assert "Nobody is taking an assessment right now" in at.info[0].value
    assert not at.selectbox


def test_another_organisation_sees_none_of_it(app_env, db):
    mine, theirs = make_org(db, "Acme"), make_org(db, "Globex")
    attempt, events = in_progress(theirs, name="Secret Candidate")
    store(db, events)

    at = mine.open_page(LIVE)
    assert "Nobody is taking an assessment right now" in at.info[0].value
    assert "Secret" not in texts(at)

    at = mine.open_page(LIVE, attempt=str(attempt.id))
    assert "not found" in at.error[0].value
    assert not at.dataframe
    assert not [button for button in at.button if button.key == "live_mint_ticket"]


def test_picking_another_attempt_follows_it(app_env, db):
    org = make_org(db)
    first, first_events = in_progress(org, name="Grace Hopper", email="grace@example.com")
    second, second_events = in_progress(org, name="Alan Turing", email="alan@example.com")
    store(db, first_events[:4])
    store(db, second_events[:7])
    at = org.open_page(LIVE)
    picker = at.selectbox(key="live_attempt")
    shown = picker.value
    other, count = (second, 7) if shown == str(first.id) else (first, 4)
    picker.set_value(str(other.id)).run()
    assert not at.exception
    assert at.query_params["attempt"] == str(other.id)
    assert len(stream(at)) == count
    assert at.session_state["live_state"].attempt_id == str(other.id)


def test_a_deactivated_user_stops_seeing_the_stream(app_env, db):
    org = make_org(db)
    _, events = in_progress(org)
    store(db, events[:3])
    at = org.open_page(LIVE)
    assert len(stream(at)) == 3
    db[dbmod.USERS].update_one({"_id": org.user.id}, {"$set": {"is_active": False}})
    at.run()
    assert not at.exception
    assert not at.dataframe
    assert at.text_input(key="login_email") is not None


def test_who_watched_which_attempt_live_is_audited_once_per_visit(app_env, db):
    org = make_org(db)
    attempt, events = in_progress(org, name="Grace Hopper")
    store(db, events[:3])
    at = org.open_page(LIVE)
    at.run()  # a tick of the same visit
    entries = list(db[dbmod.AUDIT_LOG].find({"action": "live.viewed"}))
    assert [(e["target_id"], e["actor_id"], e["details"]) for e in entries] == [(str(attempt.id), org.user.id, {})]
