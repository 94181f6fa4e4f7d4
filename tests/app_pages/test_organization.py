"""The Organisation page through AppTest against the embedded store: an admin
sets what candidates are told (name, contact, retention, notice text) and the
time zone every page uses; bad values are refused with a message and change
nothing; recruiters cannot open it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hiremate import db as dbmod
from hiremate import organizations, self_id
from hiremate.errors import OrganizationError
from hiremate.models import Role
from hiremate.scope import Scope
from recruiter import ui
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    make_member,
    open_page,
    run_ok,
    texts,
)

PAGE = "app_pages/organization.py"


def test_an_admin_sets_what_candidates_are_told(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    assert "ada@acme.test" in texts(at)  # the contact defaults to the first admin
    at.text_input(key="organization_display_name").input("Acme Careers")
    at.text_input(key="organization_contact").input("jobs@acme.test")
    at.number_input(key="organization_retention_days").set_value(365)
    at.text_area(key="organization_notice_additions").input("Ask us for a paper version.")
    at.selectbox(key="organization_time_zone").select("Europe/Paris")
    assert at.checkbox(key="organization_self_identification").value is False  # off by default
    at.checkbox(key="organization_self_identification").check()
    click(at, "organization_save")

    shown = texts(at)
    assert "Candidates who start from now on are shown the new notice." in shown
    assert "Acme Careers" in shown and "jobs@acme.test" in shown and "365 days" in shown
    notice = organizations.notice_for(db, admin.organization_id)
    assert (notice.organization_name, notice.contact, notice.retention_days, notice.additions) == (
        "Acme Careers",
        "jobs@acme.test",
        365,
        "Ask us for a paper version.",
    )
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "organization.settings_changed"})
    assert entry["details"]["fields"] == [
        "contact",
        "display_name",
        "notice_additions",
        "retention_days",
        "self_identification",
        "time_zone",
    ]
    assert self_id.enabled(db, admin.organization_id)


def test_pages_show_times_in_the_organisations_zone(app_env, db):
    admin = make_admin(db)
    scope = Scope(db, admin.organization_id, admin.id, is_admin=True)
    organizations.update_settings(scope, {"time_zone": "America/New_York"})
    ui._zone_name.clear()
    at = open_page(db, admin, PAGE)
    assert str(ui.organization_zone()) == "UTC"  # outside a run: nobody is logged in
    assert at.session_state[ui.ORG_ZONE_KEY] == str(admin.organization_id)
    assert ui.format_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), organizations.time_zone_of(
        organizations.get_organization(db, admin.organization_id)
    )) == "2026-07-01 08:00 EDT"  # fmt: skip


def test_a_bad_value_is_refused_and_changes_nothing(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    at.text_input(key="organization_contact").input("x" * 10)
    at.text_area(key="organization_notice_additions").input("y" * 10)
    at.number_input(key="organization_retention_days").set_value(20)  # below the widget's minimum
    run_ok(at)
    click(at, "organization_save")
    assert organizations.notice_for(db, admin.organization_id).retention_days in {30, 730}
    with pytest.raises(OrganizationError, match=r"Time zone: 'Mars/Base' is not a time zone name"):
        organizations.update_settings(
            Scope(db, admin.organization_id, admin.id, is_admin=True), {"time_zone": "Mars/Base"}
        )
    assert db[dbmod.ORGANIZATIONS].find_one({"_id": admin.organization_id})["settings"]["time_zone"] == "UTC"


def test_recruiters_cannot_open_it_or_change_the_settings(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    at = open_page(db, rita, PAGE)
    assert "for admins of your organisation" in texts(at)
    assert not at.text_input
    scope = Scope(db, rita.organization_id, rita.id, is_admin=False)
    with pytest.raises(OrganizationError, match="Only an admin"):
        organizations.update_settings(scope, {"contact": "me@evil.test"})
    assert organizations.notice_for(db, admin.organization_id).contact == "ada@acme.test"
