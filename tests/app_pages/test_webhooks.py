"""The admins' Webhooks page (AppTest against the embedded store): recruiters
are refused; an admin registers an endpoint and sees its secret once, sees
each endpoint's delivery log in the organisation's time zone, redelivers by
hand, pauses and removes; an unsafe URL is refused with a message."""

from __future__ import annotations

import streamlit as st

from hiremate import db as dbmod
from hiremate import webhooks
from hiremate.models import Role
from hiremate.organizations import update_settings
from hiremate.scope import Scope
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    make_member,
    open_page,
    run_ok,
    texts,
)
from tests.support.webhook_receiver import receiver

PAGE = "app_pages/webhooks.py"


def register(at):
    at.button(key="FormSubmitter:webhooks_register-Register endpoint").click()
    return run_ok(at)


def admin_scope(db, admin) -> Scope:
    return Scope(db, admin.organization_id, admin.id, is_admin=True)


def test_a_recruiter_is_refused(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    at = open_page(db, rita, PAGE)
    assert "The Webhooks page is for admins of your organisation." in texts(at)
    assert not at.text_input


def test_an_admin_registers_an_endpoint_and_sees_the_secret_once(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    assert "No endpoints yet" in texts(at)
    at.text_input(key="webhooks_url").input("https://10.0.0.5/hooks")
    register(at)
    assert any("private" in str(e.value) for e in at.error)
    assert db[dbmod.WEBHOOK_ENDPOINTS].count_documents({}) == 0
    for name in webhooks.EVENT_TYPES:  # no event chosen
        at.checkbox(key=f"webhooks_event_{name}").uncheck()
    at.text_input(key="webhooks_url").input("http://127.0.0.1:9/hooks")
    register(at)
    assert "Choose at least one event." in texts(at) and db[dbmod.WEBHOOK_ENDPOINTS].count_documents({}) == 0
    for name in webhooks.EVENT_TYPES:
        at.checkbox(key=f"webhooks_event_{name}").check()

    at.text_input(key="webhooks_url").input("http://127.0.0.1:9/hooks")
    for name in webhooks.EVENT_TYPES:
        if name not in ("attempt.completed", "review.decided"):
            at.checkbox(key=f"webhooks_event_{name}").uncheck()
    register(at)
    [secret] = [c.value for c in at.code if str(c.value).startswith("whsec_")]
    stored = db[dbmod.WEBHOOK_ENDPOINTS].find_one({})
    assert stored["events"] == ["attempt.completed", "review.decided"] and secret not in str(stored)
    assert "Endpoint registered for 2 events." in texts(at)
    assert "http://127.0.0.1:9/hooks" in texts(at)
    click(at, "webhooks_secret__done")
    assert not [c for c in at.code if str(c.value).startswith("whsec_")]  # shown once


def test_the_delivery_log_redelivery_pause_and_removal(app_env, db):
    admin = make_admin(db)
    scope = admin_scope(db, admin)
    update_settings(scope, {"time_zone": "Europe/Paris"})
    with receiver([500]) as hook:
        endpoint, _ = webhooks.add_endpoint(scope, hook.url, None, settings=app_env)
        webhooks.emit(db, admin.organization_id, "attempt.started", {})
        webhooks.drain(db, app_env)
        at = open_page(db, admin, PAGE)
        [row] = at.table[0].value.to_dict("records")
        assert row["Event"] == "attempt.started" and row["Status"] == "Waiting to retry"
        assert row["Response"] == "500" and row["Tries"] == 1 and row["Time"].endswith(("CET", "CEST"))
        assert row["Next try"] != "—"
        click(at, f"webhooks_{endpoint.id}_redeliver")
        assert "Sent again within a few seconds, with the same webhook-id." in texts(at)
        webhooks.drain(db, app_env)
        assert len(hook.received) == 2
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "webhook.redelivered"}) == 1
    st.cache_data.clear()  # the page's reads are cached for 5 s; the drain ran outside it
    at = open_page(db, admin, PAGE)
    assert at.table[0].value.to_dict("records")[0]["Status"] == "Delivered"
    click(at, f"webhooks_{endpoint.id}_toggle")
    assert db[dbmod.WEBHOOK_ENDPOINTS].find_one({})["enabled"] is False and "Paused" in texts(at)
    at.checkbox(key=f"webhooks_{endpoint.id}_confirm").check()
    run_ok(at)
    click(at, f"webhooks_{endpoint.id}_remove")
    assert "Endpoint removed with 1 delivery." in texts(at)
    assert db[dbmod.WEBHOOK_ENDPOINTS].count_documents({}) == 0 == db[dbmod.WEBHOOK_DELIVERIES].count_documents({})
