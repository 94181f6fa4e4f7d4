"""The Team page through AppTest against the embedded store: members without
password hashes, invitations shown once, roles, deactivation, password
resets, refusals as messages, and the page closed to recruiters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hiremate import auth
from hiremate import db as dbmod
from hiremate.models import Role
from hiremate.timeutil import utcnow
from tests.support.page_helpers import (  # noqa: F401
    PASSWORD,
    _fast_bcrypt,
    click,
    make_admin,
    make_member,
    open_page,
    run_ok,
    texts,
    unescape,
)

PAGE = "app_pages/team.py"


def members_table(at) -> list[dict]:
    [table] = at.dataframe
    return table.value.to_dict("records")


def choose(at, user) -> None:
    at.selectbox(key="team_member").select(str(user.id))
    run_ok(at)


def test_members_are_listed_without_password_hashes(app_env, db):
    admin = make_admin(db)
    make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    make_admin(db, org="Globex", email="gina@globex.test", name="Gina Globex")
    at = open_page(db, admin, PAGE)
    rows = members_table(at)
    assert [(r["Name"], r["Email"], r["Role"], r["Active"]) for r in rows] == [
        ("Ada Admin (you)", "ada@acme.test", "Admin", True),
        ("Rita Recruiter", "rita@acme.test", "Recruiter", True),
    ]
    assert set(rows[0]) == {"Name", "Email", "Role", "Active", "Member since"}
    everything = texts(at) + str(rows) + str([o for s in at.selectbox for o in s.options])
    assert "$2b$" not in everything and "password_hash" not in everything
    assert "Gina" not in everything  # another organisation's people


def test_invite_shows_a_token_once_that_lets_them_join(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    at.text_input(key="team_invite_email").input("Rita@Acme.test")
    at.selectbox(key="team_invite_role").select("admin")
    at.button(key="FormSubmitter:team_invite_form-Create invitation").click()
    run_ok(at)
    assert not at.error
    [code] = at.code
    token = code.value
    assert "Invitation for rita@acme.test (admin)" in texts(at)
    assert at.text_input(key="team_invite_email").value == ""
    [invitation] = db[dbmod.INVITATIONS].find()
    assert token not in str(invitation) and invitation["token_hash"] == auth._sha256(token)

    rita = auth.register(db, email="rita@acme.test", full_name="Rita", password=PASSWORD, invitation_token=token)
    assert (rita.organization_id, rita.role) == (admin.organization_id, "admin")
    click(at, "team_invite_token__done")
    assert not at.code


def test_inviting_an_existing_account_is_refused_with_a_message(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    at.text_input(key="team_invite_email").input("ada@acme.test")
    at.button(key="FormSubmitter:team_invite_form-Create invitation").click()
    run_ok(at)
    assert unescape(at.error[0].value) == "An account with this email already exists."
    assert not at.code
    assert db[dbmod.INVITATIONS].count_documents({}) == 0


def test_deactivate_reactivate_and_change_role(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    at = open_page(db, admin, PAGE)
    choose(at, rita)
    click(at, f"team_deactivate_{rita.id}")
    assert "Rita Recruiter is deactivated and logged out." in [s.value for s in at.success]
    assert db[dbmod.USERS].find_one({"_id": rita.id})["is_active"] is False
    assert members_table(at)[1]["Active"] is False
    click(at, f"team_activate_{rita.id}")
    assert db[dbmod.USERS].find_one({"_id": rita.id})["is_active"] is True

    at.selectbox(key=f"team_role_{rita.id}").select("admin")
    run_ok(at)
    click(at, f"team_set_role_{rita.id}")
    assert "Rita Recruiter is now an admin." in [s.value for s in at.success]
    assert db[dbmod.USERS].find_one({"_id": rita.id})["role"] == "admin"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("deactivate", "You cannot deactivate your own account."),
        ("role", "The organisation needs at least one active admin."),
    ],
)
def test_refused_actions_are_explained(app_env, db, action, message):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    choose(at, admin)
    if action == "deactivate":
        click(at, f"team_deactivate_{admin.id}")
    else:
        at.selectbox(key=f"team_role_{admin.id}").select("recruiter")
        run_ok(at)
        click(at, f"team_set_role_{admin.id}")
    assert [unescape(e.value) for e in at.error] == [message]
    doc = db[dbmod.USERS].find_one({"_id": admin.id})
    assert (doc["role"], doc["is_active"]) == ("admin", True)


def test_reset_a_password(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter")
    at = open_page(db, admin, PAGE)
    choose(at, rita)
    at.text_input(key=f"team_password_{rita.id}").input("short")
    at.button(key=f"FormSubmitter:team_password_form_{rita.id}-Reset password").click()
    run_ok(at)
    assert "at least 10 characters" in unescape(at.error[0].value)

    at.text_input(key=f"team_password_{rita.id}").input("brand-new-secret-42")
    at.button(key=f"FormSubmitter:team_password_form_{rita.id}-Reset password").click()
    run_ok(at)
    assert (
        "Password reset. Rita Recruiter must log in again with the new password, "
        "then choose a password of their own." in [s.value for s in at.success]
    )
    assert auth.authenticate(db, "rita@acme.test", "brand-new-secret-42").must_change_password


def test_a_recruiter_cannot_use_the_team_page(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    at = open_page(db, rita, PAGE)
    assert [w.value for w in at.warning] == ["The Team page is for admins of your organisation."]
    assert not at.dataframe and not at.code
    assert "team_invite_email" not in [t.key for t in at.text_input]
    assert "ada@acme.test" not in texts(at)


# ---------------------------------------------------------------- pending invitations


def invite_on_page(at, email: str, role: str = "recruiter") -> None:
    at.text_input(key="team_invite_email").input(email)
    at.selectbox(key="team_invite_role").select(role)
    at.button(key="FormSubmitter:team_invite_form-Create invitation").click()
    run_ok(at)
    assert not at.error, [e.value for e in at.error]


def pending_table(at) -> list[dict]:
    *_, table = at.dataframe  # the members' table comes first
    return table.value.to_dict("records")


def test_no_pending_invitations_says_so(app_env, db):
    admin = make_admin(db)
    scope = auth.scope_for(db, admin)
    make_member(db, admin, "rita@acme.test", "Rita Recruiter")  # accepted
    auth.invite(scope, "gone@acme.test")
    auth.revoke_invitation(scope, db[dbmod.INVITATIONS].find_one({"email": "gone@acme.test"})["_id"])  # withdrawn
    auth.invite(scope, "late@acme.test")
    db[dbmod.INVITATIONS].update_one(
        {"email": "late@acme.test"}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )  # expired
    at = open_page(db, admin, PAGE)
    assert "No pending invitations." in [i.value for i in at.info]
    assert len(at.dataframe) == 1  # the members only
    assert "team_withdraw" not in [b.key for b in at.button]


def test_a_new_invitation_is_listed_and_can_be_withdrawn(app_env, db):
    admin = make_admin(db)
    make_admin(db, org="Globex", email="gina@globex.test", name="Gina Globex")
    auth.invite(auth.scope_for(db, auth.authenticate(db, "gina@globex.test", PASSWORD)), "olga@globex.test")
    at = open_page(db, admin, PAGE)
    invite_on_page(at, "Sam@Acme.test")
    invite_on_page(at, "rita@acme.test", "admin")
    token = at.code[0].value
    assert "Pending invitations" in [s.value for s in at.subheader]

    rows = pending_table(at)
    assert [(r["Email"], r["Role"], r["Invited by"]) for r in rows] == [
        ("rita@acme.test", "Admin", "Ada Admin"),
        ("sam@acme.test", "Recruiter", "Ada Admin"),
    ]
    assert set(rows[0]) == {"Email", "Role", "Invited by", "Sent", "Expires"}
    assert rows[0]["Sent"].endswith("UTC") and rows[0]["Expires"] > rows[0]["Sent"]
    hashes = [doc["token_hash"] for doc in db[dbmod.INVITATIONS].find()]
    shown = str(rows) + str([o for s in at.selectbox for o in s.options])
    assert not any(h in shown for h in hashes) and token not in shown
    assert "olga@globex.test" not in shown + texts(at)  # another organisation's invitation

    rita_id = str(db[dbmod.INVITATIONS].find_one({"email": "rita@acme.test"})["_id"])
    at.selectbox(key="team_withdraw_invitation").select(rita_id)
    run_ok(at)
    click(at, "team_withdraw")
    assert [unescape(s.value) for s in at.success] == [
        "The invitation for rita@acme.test is withdrawn; its token no longer works."
    ]
    assert [r["Email"] for r in pending_table(at)] == ["sam@acme.test"]
    [option] = at.selectbox(key="team_withdraw_invitation").options
    assert option.startswith("sam@acme.test · Recruiter · sent ")
    with pytest.raises(auth.AuthError, match="not valid any more"):
        auth.register(db, email="rita@acme.test", full_name="Rita", password=PASSWORD, invitation_token=token)

    click(at, "team_withdraw")  # the last one
    assert "No pending invitations." in [i.value for i in at.info]
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "user.invite_revoked"}) == 2


def test_withdrawing_an_invitation_accepted_meanwhile_is_refused_with_a_message(app_env, db, monkeypatch):
    """Rita registers between the page's read of the list and the withdrawal
    (within one run; a fresh run would no longer list her invitation)."""
    admin = make_admin(db)
    token = auth.invite(auth.scope_for(db, admin), "rita@acme.test")
    at = open_page(db, admin, PAGE)
    assert [r["Email"] for r in pending_table(at)] == ["rita@acme.test"]
    listed = auth.pending_invitations(auth.scope_for(db, admin))
    monkeypatch.setattr(auth, "pending_invitations", lambda scope: listed)
    auth.register(db, email="rita@acme.test", full_name="Rita", password=PASSWORD, invitation_token=token)
    click(at, "team_withdraw")
    assert [unescape(e.value) for e in at.error] == [
        "The invitation for rita@acme.test was already accepted; manage that member instead."
    ]
    assert not at.success
    assert db[dbmod.INVITATIONS].find_one({"email": "rita@acme.test"}).get("revoked_at") is None


HOSTILE_EMAIL = "<script>alert(1)</script>[x](javascript:alert(2))**b**_i_@evil.test"


def test_hostile_email_like_text_is_shown_as_text(app_env, db):
    admin = make_admin(db)
    auth.invite(auth.scope_for(db, admin), HOSTILE_EMAIL)
    at = open_page(db, admin, PAGE)
    assert [r["Email"] for r in pending_table(at)] == [HOSTILE_EMAIL.lower()]
    assert at.selectbox(key="team_withdraw_invitation").options[0].startswith(HOSTILE_EMAIL.lower())
    click(at, "team_withdraw")
    [success] = at.success
    assert (
        unescape(success.value)
        == f"The invitation for {HOSTILE_EMAIL.lower()} is withdrawn; its token no longer works."
    )
    # escaped: no link, tag or emphasis reaches the markdown as markup
    for raw in ("<script>", "[x](", "**b**", "_i_"):
        assert raw not in success.value


def test_hostile_member_names_in_messages_are_shown_as_text(app_env, db):
    admin = make_admin(db)
    hostile = "[x](javascript:alert(1)) **Mallory** <img src=x>"
    mallory = make_member(db, admin, "mallory@acme.test", hostile)
    at = open_page(db, admin, PAGE)
    choose(at, mallory)
    click(at, f"team_deactivate_{mallory.id}")
    [success] = at.success
    assert unescape(success.value) == f"{hostile} is deactivated and logged out."
    for raw in ("[x](", "**Mallory**", " <img"):  # each escaped with a backslash
        assert raw not in success.value
