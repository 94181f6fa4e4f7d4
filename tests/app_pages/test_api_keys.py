"""The API keys page through AppTest against the embedded store: a key made
and shown once (only its hash stored), listed with its last use and never
again in full, revoked only after the confirmation, refusals as messages,
and the page closed to recruiters."""

from __future__ import annotations

from hiremate import api_keys
from hiremate import db as dbmod
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    make_member,
    open_page,
    run_ok,
    texts,
)

PAGE = "app_pages/api_keys.py"


def table_rows(at) -> list[dict]:
    [table] = at.table
    frame = table.value
    return frame.to_dict("records")


def make_key(at, name: str, access: str = "read") -> str:
    at.text_input(key="api_keys_name").input(name)
    at.selectbox(key="api_keys_access").select(access)
    [submit] = [b for b in at.button if b.label == "Create key"]
    submit.click()
    run_ok(at)
    [shown] = [code.value for code in at.code]
    return shown


def test_a_key_is_shown_once_listed_and_works(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    assert "No API keys yet" in texts(at)
    key = make_key(at, "Greenhouse", "write")
    assert key.startswith("hmk_")
    shown = texts(at)
    assert "shown only this once" in shown and "Greenhouse" in shown
    principal = api_keys.authenticate(db, key)
    assert principal is not None and principal.access == "write"
    assert key not in str(db[dbmod.API_KEYS].find_one({}))
    [row] = table_rows(at)
    assert row["Name"] == "Greenhouse" and row["Access"] == "Read and write" and row["Status"] == "Active"
    assert row["Key starts with"] == key[:10] + "…" and row["Last used"] == "Never"
    run_ok(at)  # after the key was used above
    assert table_rows(at)[0]["Last used"] != "Never"
    click(at, "api_keys_new__done")
    assert key not in texts(at) + str(table_rows(at))  # dismissed: never shown again


def test_revoking_needs_the_confirmation(app_env, db):
    admin = make_admin(db)
    _, key = api_keys.create(api_keys_scope(db, admin), "Nightly export")
    at = open_page(db, admin, PAGE)
    assert at.button(key="api_keys_revoke").disabled
    at.checkbox(key="api_keys_revoke_confirm").check()
    run_ok(at)
    click(at, "api_keys_revoke")
    assert "is revoked" in texts(at)
    assert api_keys.authenticate(db, key) is None
    [row] = table_rows(at)
    assert row["Status"].startswith("Revoked")
    assert not [s for s in at.selectbox if s.key == "api_keys_revoke_choice"]  # nothing left to revoke


def test_a_blank_name_is_refused_as_a_message(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    [submit] = [b for b in at.button if b.label == "Create key"]
    submit.click()
    run_ok(at)
    assert "Invalid API key" in texts(at) and db[dbmod.API_KEYS].count_documents({}) == 0


def test_recruiters_cannot_open_it(app_env, db):
    admin = make_admin(db)
    recruiter = make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    at = open_page(db, recruiter, PAGE)
    assert "for admins" in texts(at) and not at.text_input


def api_keys_scope(db, user):
    from hiremate import auth

    return auth.scope_for(db, user)
