"""The Account page and the login gate's "choose a new password" step,
through AppTest against the embedded store."""

from __future__ import annotations

from hiremate import auth
from hiremate import db as dbmod
from tests.support.page_helpers import (  # noqa: F401
    PASSWORD,
    _fast_bcrypt,
    make_admin,
    make_member,
    open_page,
    run_ok,
    texts,
    unescape,
)
from tests.test_app import assert_logged_out, log_in, new_app

PAGE = "app_pages/account.py"


def change(at, current: str, new: str, repeated: str | None = None, key: str = "account_password") -> None:
    at.text_input(key=f"{key}_current").input(current)
    at.text_input(key=f"{key}_new").input(new)
    at.text_input(key=f"{key}_repeat").input(new if repeated is None else repeated)
    at.button(key=f"{key}_submit").click()
    run_ok(at)


def test_every_role_changes_its_own_password_and_other_browsers_are_logged_out(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    elsewhere = auth.start_session(db, rita, days=1)
    at = open_page(db, rita, PAGE)
    assert "Rita Recruiter" in texts(at) and "rita@acme.test" in texts(at)

    change(at, PASSWORD, "ritas-new-secret-3")

    assert not at.error
    assert "Your password is changed." in at.success[0].value
    assert auth.user_for_session(db, elsewhere) is None  # the other browser
    run_ok(at)
    assert "Account" in [t.value for t in at.title]  # this one stays
    assert auth.authenticate(db, "rita@acme.test", "ritas-new-secret-3").id == rita.id


def test_refusals_are_messages_and_change_nothing(app_env, db):
    admin = make_admin(db)
    before = db[dbmod.USERS].find_one({"_id": admin.id})["password_hash"]
    at = open_page(db, admin, PAGE)
    for current, new, repeated, message in [
        ("not-it-at-all-1", "ada-new-secret-3", None, "Your current password is not correct."),
        (PASSWORD, "ada-new-secret-3", "ada-new-secret-4", "The two new passwords differ"),
        (PASSWORD, "short", None, "at least 10 characters"),
    ]:
        change(at, current, new, repeated)
        assert message in unescape(at.error[0].value)
    assert db[dbmod.USERS].find_one({"_id": admin.id})["password_hash"] == before
    assert "ada-new-secret" not in str([at.session_state[key] for key in at.session_state])


def test_after_an_admins_reset_the_user_chooses_a_password_before_anything_else(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    auth.reset_password(auth.scope_for(db, admin), rita.id, "admin-knows-this-1")
    at = log_in(new_app(), "rita@acme.test", "admin-knows-this-1")

    assert [t.value for t in at.title] == ["Choose a new password"]
    assert not at.sidebar.get("page_link")  # no way around it
    at.switch_page("app_pages/tasks.py").run()  # nor a deep link
    assert [t.value for t in at.title] == ["Choose a new password"]

    change(at, "admin-knows-this-1", "ritas-own-secret-2", key="forced_password")
    assert not at.error
    assert "Choose a new password" not in [t.value for t in at.title]
    assert at.sidebar.get("page_link")
    assert not db[dbmod.USERS].find_one({"_id": rita.id})["must_change_password"]


def test_the_choose_a_password_step_can_log_out(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    auth.reset_password(auth.scope_for(db, admin), rita.id, "admin-knows-this-1")
    at = log_in(new_app(), "rita@acme.test", "admin-knows-this-1")
    at.button(key="forced_logout").click().run()
    assert_logged_out(at)
