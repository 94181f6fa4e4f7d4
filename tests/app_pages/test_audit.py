"""The admins' audit page (AppTest against the embedded store): recruiters are
refused; an admin sees the organisation's entries, filtered, with actors by
name and times in the organisation's zone, and the CSV export is audited."""

from __future__ import annotations

from bson import ObjectId

from hiremate import db as dbmod
from hiremate.models import Role
from hiremate.scope import VIA_CLI, Scope
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    make_member,
    open_page,
    run_ok,
    scope_of,
    texts,
)

PAGE = "app_pages/audit.py"


def shown(at) -> list[dict]:
    return at.table[0].value.to_dict("records") if at.table else []


def test_a_recruiter_is_refused(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    at = open_page(db, rita, PAGE)
    assert "The Audit log page is for admins of your organisation." in texts(at)
    assert not at.table and not at.text_input


def test_an_admin_sees_filtered_entries_and_the_export_is_audited(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    target = ObjectId()
    scope_of(db, rita).audit("attempt.locked", "attempt", target, previous_status="pending")
    scope_of(db, admin).audit("profile.viewed", "attempt", ObjectId())
    Scope(db, admin.organization_id, None, is_admin=True, via=VIA_CLI).audit("attempts.simulated", "organization")
    elsewhere = make_admin(db, org="Other", email="olaf@other.test", name="Olaf Other")
    scope_of(db, elsewhere).audit("attempt.locked", "attempt", ObjectId(), previous_status="pending")

    at = open_page(db, admin, PAGE)
    rows = shown(at)
    actions = [row["Action"] for row in rows]
    assert actions[:3] == ["attempts.simulated", "profile.viewed", "attempt.locked"]
    assert {row["Actor"] for row in rows} >= {"The command line", "Ada Admin", "Rita Recruiter"}
    assert "Olaf Other" not in {row["Actor"] for row in rows}  # another organisation's entries never show
    assert all(row["When"].endswith("UTC") for row in rows)

    at.text_input(key="audit_action").input("attempt.locked")
    run_ok(at)
    [row] = shown(at)
    assert (row["Actor"], row["Target"]) == ("Rita Recruiter", f"attempt {target}")

    at.text_input(key="audit_action").input("")
    at.selectbox(key="audit_actor").select(str(admin.id))
    run_ok(at)
    assert "profile.viewed" in [row["Action"] for row in shown(at)]
    assert {row["Actor"] for row in shown(at)} == {"Ada Admin"}

    at.selectbox(key="audit_actor").select(None)
    at.text_input(key="audit_target").input(str(target))
    run_ok(at)
    assert [row["Action"] for row in shown(at)] == ["attempt.locked"]

    click(at, "audit_prepare")
    [download] = at.get("download_button")
    assert download
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "export", "details.kind": "audit"})
    assert entry["actor_id"] == admin.id
    assert entry["details"] == {"kind": "audit", "rows": 1, "filter_target_id": str(target)}


def test_older_entries_are_paged(app_env, db, monkeypatch):
    from hiremate.reports import audit_log

    monkeypatch.setattr(audit_log, "PAGE_SIZE", 3)
    admin = make_admin(db)
    scope = scope_of(db, admin)
    for n in range(5):
        scope.audit("export", "csv", None, kind="candidates", rows=n)
    at = open_page(db, admin, PAGE)
    first = shown(at)
    assert len(first) == 3
    click(at, "audit_older")
    older = shown(at)
    assert older and not {row["Details"] for row in older} & {row["Details"] for row in first}
    click(at, "audit_newest")
    assert shown(at) == first
