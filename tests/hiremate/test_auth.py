"""Accounts against the real store: registration, invitations, throttling,
sessions and team administration, organisation by organisation."""

from __future__ import annotations

from datetime import timedelta

import bcrypt
import pytest
from bson import ObjectId

from hiremate import auth, throttle
from hiremate import db as dbmod
from hiremate.models import Role
from hiremate.timeutil import utcnow

PASSWORD = "correct-horse-7"


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt's cheapest cost: the same code path, a fraction of the time."""
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)


def register_admin(db, org="Acme Hiring", email="ada@acme.test", client_key=""):
    return auth.register(
        db, email=email, full_name="Ada Admin", password=PASSWORD, organization_name=org, client_key=client_key
    )


def join(db, admin, email, role=Role.RECRUITER):
    token = auth.invite(auth.scope_for(db, admin), email, role)
    return auth.register(db, email=email, full_name="Rita Recruiter", password=PASSWORD, invitation_token=token)


# ---------------------------------------------------------------- registration


def test_register_creates_organisation_and_its_first_admin(db):
    user = register_admin(db)
    assert user.role == Role.ADMIN and user.is_active
    organization = auth.get_organization(db, user.organization_id)
    assert organization.name == "Acme Hiring" and organization.slug == "acme-hiring"
    assert db[dbmod.USERS].find_one({"_id": user.id})["email"] == "ada@acme.test"


def test_email_is_normalised(db):
    user = auth.register(
        db, email="  Ada@Acme.TEST ", full_name="Ada", password=PASSWORD, organization_name="Acme Hiring"
    )
    assert user.email == "ada@acme.test"
    assert auth.authenticate(db, "ADA@acme.test", PASSWORD).id == user.id


def test_duplicate_email_is_refused_by_the_unique_index(db):
    admin = register_admin(db)
    with pytest.raises(auth.AuthError, match="account with this email already exists"):
        auth.create_user(
            db, email="ADA@acme.test", full_name="Twin", password=PASSWORD, organization_id=admin.organization_id
        )
    assert db[dbmod.USERS].count_documents({}) == 1


def test_failed_registration_leaves_no_orphan_organisation(db):
    register_admin(db)
    with pytest.raises(auth.AuthError, match="account with this email already exists"):
        register_admin(db, org="Another Org")
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == 1
    # and the name is still free for a proper registration
    assert register_admin(db, org="Another Org", email="bob@another.test").role == Role.ADMIN


def test_duplicate_organisation_name_is_refused(db):
    register_admin(db)
    with pytest.raises(auth.AuthError, match="organisation named 'ACME hiring' already exists"):
        register_admin(db, org="ACME hiring", email="eve@acme.test")
    assert db[dbmod.USERS].count_documents({}) == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "at least 10 characters"),
        ("abcdefghijkl", "Mix letters with digits or symbols"),
        ("1234567890123", "Mix letters with digits or symbols"),
        ("Password123", "too common"),
        ("ada@acme.test", "email address"),
        ("x" * 300 + "1", "at most 256"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(db, password, message):
    assert any(message in problem for problem in auth.password_problems(password, email="ada@acme.test"))
    with pytest.raises(auth.AuthError, match=message):
        auth.register(db, email="ada@acme.test", full_name="Ada", password=password, organization_name="Acme")
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == 0
    assert db[dbmod.USERS].count_documents({}) == 0


def test_a_good_password_has_no_problems():
    assert auth.password_problems("violet-river-42", email="ada@acme.test") == []


def test_long_passphrases_keep_every_character(db):
    passphrase = "a" * 80 + "-1"
    admin = auth.register(db, email="ada@acme.test", full_name="Ada", password=passphrase, organization_name="Acme")
    assert auth.authenticate(db, "ada@acme.test", passphrase).id == admin.id
    with pytest.raises(auth.AuthError):
        auth.authenticate(db, "ada@acme.test", "a" * 80 + "-2")  # differs after byte 72


@pytest.mark.parametrize("email", ["", "ada", "ada@", "@acme.test", "ada @acme.test", "ada@acme"])
def test_invalid_emails_are_refused(db, email):
    with pytest.raises(auth.AuthError, match="valid email"):
        auth.register(db, email=email, full_name="Ada", password=PASSWORD, organization_name="Acme")


def test_register_needs_one_of_organisation_and_invitation(db):
    with pytest.raises(auth.AuthError, match="name of your organisation"):
        auth.register(db, email="ada@acme.test", full_name="Ada", password=PASSWORD)
    with pytest.raises(auth.AuthError, match="invitation token you were sent"):
        auth.register(db, email="ada@acme.test", full_name="Ada", password=PASSWORD, invitation_token=" ")
    with pytest.raises(auth.AuthError, match="not both"):
        auth.register(
            db, email="ada@acme.test", full_name="Ada", password=PASSWORD, organization_name="A", invitation_token="t"
        )
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == 0


def test_no_plaintext_password_is_stored_anywhere(db):
    admin = register_admin(db)
    recruiter = join(db, admin, "rita@acme.test")
    auth.reset_password(auth.scope_for(db, admin), recruiter.id, "brand-new-secret-9")
    with pytest.raises(auth.AuthError):
        auth.authenticate(db, "rita@acme.test", "wrong-guess-123", client_key="c1")
    auth.start_session(db, admin, days=1)
    dumped = "".join(str(doc) for name in db.list_collection_names() for doc in db[name].find())
    for secret in (PASSWORD, "brand-new-secret-9", "wrong-guess-123"):
        assert secret not in dumped
    stored = db[dbmod.USERS].find_one({"_id": recruiter.id})["password_hash"]
    assert stored.startswith("$2b$")


# ---------------------------------------------------------------- invitations


def test_invitation_joins_the_organisation_with_its_role_once(db):
    admin = register_admin(db)
    token = auth.invite(auth.scope_for(db, admin), "Rita@Acme.test", Role.ADMIN)
    assert db[dbmod.INVITATIONS].count_documents({"token_hash": {"$exists": True}}) == 1
    assert db[dbmod.INVITATIONS].count_documents({"token_hash": token}) == 0  # stored hashed only
    rita = auth.register(db, email="rita@acme.test", full_name="Rita", password=PASSWORD, invitation_token=token)
    assert rita.organization_id == admin.organization_id and rita.role == Role.ADMIN
    with pytest.raises(auth.AuthError, match="not valid any more"):
        auth.register(db, email="rita2@acme.test", full_name="Rita", password=PASSWORD, invitation_token=token)
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == 1
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "user.invite"}) == 1


def test_invitation_is_bound_to_its_email(db):
    admin = register_admin(db)
    token = auth.invite(auth.scope_for(db, admin), "rita@acme.test")
    with pytest.raises(auth.AuthError, match="another email"):
        auth.register(db, email="mallory@evil.test", full_name="M", password=PASSWORD, invitation_token=token)
    # the refusal did not use it up
    assert join_with(db, token, "rita@acme.test").organization_id == admin.organization_id


def join_with(db, token, email):
    return auth.register(db, email=email, full_name="Rita", password=PASSWORD, invitation_token=token)


def test_a_failed_join_gives_the_invitation_back(db):
    admin = register_admin(db)
    token = auth.invite(auth.scope_for(db, admin), "rita@acme.test")
    with pytest.raises(auth.AuthError, match="Enter your full name"):
        auth.register(db, email="rita@acme.test", full_name="  ", password=PASSWORD, invitation_token=token)
    assert join_with(db, token, "rita@acme.test").role == Role.RECRUITER


def test_expired_invitation_is_refused(db):
    admin = register_admin(db)
    token = auth.invite(auth.scope_for(db, admin), "rita@acme.test")
    db[dbmod.INVITATIONS].update_many({}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    with pytest.raises(auth.AuthError, match="not valid any more"):
        join_with(db, token, "rita@acme.test")


def test_only_admins_invite(db):
    admin = register_admin(db)
    recruiter = join(db, admin, "rita@acme.test")
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.invite(auth.scope_for(db, recruiter), "sam@acme.test")


def test_inviting_an_existing_account_is_refused(db):
    admin = register_admin(db)
    other = register_admin(db, org="Other", email="olga@other.test")
    with pytest.raises(auth.AuthError, match="already exists"):
        auth.invite(auth.scope_for(db, admin), other.email)


def invitation_id(db, email):
    [doc] = db[dbmod.INVITATIONS].find({"email": email})
    return doc["_id"]


def test_pending_invitations_are_the_open_ones_of_the_organisation_newest_first(db, two_orgs):
    admin_a, recruiter_a, admin_b = two_orgs  # rita's invitation is accepted
    scope_a = auth.scope_for(db, admin_a)
    co_admin = auth.set_role(scope_a, recruiter_a.id, Role.ADMIN)
    auth.invite(scope_a, "first@a.test")
    auth.invite(auth.scope_for(db, co_admin), "second@a.test", Role.ADMIN)
    auth.invite(scope_a, "expired@a.test")
    auth.invite(scope_a, "withdrawn@a.test")
    auth.invite(auth.scope_for(db, admin_b), "other@b.test")
    db[dbmod.INVITATIONS].update_one(
        {"email": "expired@a.test"}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    auth.revoke_invitation(scope_a, invitation_id(db, "withdrawn@a.test"))
    # created_at decides the order, not insertion
    db[dbmod.INVITATIONS].update_one({"email": "first@a.test"}, {"$set": {"created_at": utcnow() - timedelta(days=1)}})

    pending = auth.pending_invitations(scope_a)
    assert [(p.email, p.role, p.invited_by_name) for p in pending] == [
        ("second@a.test", "admin", "Rita Recruiter"),
        ("first@a.test", "recruiter", "Ada Admin"),
    ]
    assert pending[0].id == str(invitation_id(db, "second@a.test"))
    assert pending[0].created_at > pending[1].created_at
    assert pending[0].expires_at > utcnow()
    hashes = [doc["token_hash"] for doc in db[dbmod.INVITATIONS].find()]
    assert not any(h in repr(pending) for h in hashes) and "token" not in repr(pending)
    assert [p.email for p in auth.pending_invitations(auth.scope_for(db, admin_b))] == ["other@b.test"]


def test_pending_invitations_resolve_inviters_in_one_query(db, two_orgs, monkeypatch):
    admin_a, _, _ = two_orgs
    scope = auth.scope_for(db, admin_a)
    for n in range(3):
        auth.invite(scope, f"person{n}@a.test")
    finds = []
    users = type(db[dbmod.USERS])
    original = users.find

    def counting_find(self, *args, **kwargs):
        finds.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(users, "find", counting_find)
    assert len(auth.pending_invitations(scope)) == 3
    assert finds.count(dbmod.USERS) == 1


def test_pending_invitations_are_bounded(db, two_orgs, monkeypatch):
    admin_a, _, _ = two_orgs
    scope = auth.scope_for(db, admin_a)
    for n in range(4):
        auth.invite(scope, f"person{n}@a.test")
    monkeypatch.setattr(auth, "MAX_PENDING_INVITATIONS", 3)
    assert [p.email for p in auth.pending_invitations(scope)] == [f"person{n}@a.test" for n in (3, 2, 1)]
    assert [p.email for p in auth.pending_invitations(scope, limit=2)] == ["person3@a.test", "person2@a.test"]


def test_a_withdrawn_invitation_no_longer_joins_and_is_audited(db):
    admin = register_admin(db)
    scope = auth.scope_for(db, admin)
    token = auth.invite(scope, "rita@acme.test")
    revoked = invitation_id(db, "rita@acme.test")
    auth.revoke_invitation(scope, str(revoked))
    with pytest.raises(auth.AuthError, match="not valid any more"):
        join_with(db, token, "rita@acme.test")
    assert db[dbmod.USERS].count_documents({"email": "rita@acme.test"}) == 0
    assert db[dbmod.INVITATIONS].find_one({"_id": revoked})["accepted_at"] is None
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "user.invite_revoked"})
    assert (entry["actor_id"], entry["organization_id"]) == (admin.id, admin.organization_id)
    assert (entry["target_type"], entry["target_id"], entry["details"]) == (
        "invitation",
        str(revoked),
        {},  # the email stays on the invitation, never in the log
    )
    assert auth.pending_invitations(scope) == []


def test_the_join_claim_refuses_an_invitation_withdrawn_meanwhile(db, monkeypatch):
    """The withdrawal lands between _join's read and its compare-and-set."""
    admin = register_admin(db)
    scope = auth.scope_for(db, admin)
    token = auth.invite(scope, "rita@acme.test")
    original = auth.Invitation.from_doc

    def read_then_withdraw(doc):
        auth.revoke_invitation(scope, doc["_id"])
        return original(doc)

    monkeypatch.setattr(auth.Invitation, "from_doc", read_then_withdraw)
    with pytest.raises(auth.AuthError, match="not valid any more"):
        join_with(db, token, "rita@acme.test")
    assert db[dbmod.USERS].count_documents({"email": "rita@acme.test"}) == 0


def test_an_invitation_accepted_meanwhile_cannot_be_withdrawn(db):
    """The registration claims it between the page's list and the withdrawal."""
    admin = register_admin(db)
    scope = auth.scope_for(db, admin)
    token = auth.invite(scope, "rita@acme.test")
    [pending] = auth.pending_invitations(scope)
    rita = join_with(db, token, "rita@acme.test")
    with pytest.raises(auth.AuthError, match=r"for rita@acme\.test was already accepted"):
        auth.revoke_invitation(scope, pending.id)
    assert db[dbmod.INVITATIONS].find_one({"email": "rita@acme.test"}).get("revoked_at") is None
    assert auth.user_for_session(db, auth.start_session(db, rita, days=1)).id == rita.id
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "user.invite_revoked"}) == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("revoked", "was already withdrawn"),
        ("expired", "has already expired"),
        ("other_org", "No such invitation in your organisation"),
        ("unknown", "No such invitation in your organisation"),
        ("malformed", "No such invitation in your organisation"),
        ("not_a_string", "No such invitation in your organisation"),
    ],
)
def test_only_pending_invitations_of_the_organisation_can_be_withdrawn(db, two_orgs, case, message):
    admin_a, _, admin_b = two_orgs
    scope_a = auth.scope_for(db, admin_a)
    auth.invite(scope_a, "sam@a.test")
    auth.invite(auth.scope_for(db, admin_b), "olga@b.test")
    target = {
        "revoked": invitation_id(db, "sam@a.test"),
        "expired": invitation_id(db, "sam@a.test"),
        "other_org": invitation_id(db, "olga@b.test"),
        "unknown": ObjectId(),
        "malformed": "garbage",
        "not_a_string": {"$ne": None},
    }[case]
    if case == "revoked":
        auth.revoke_invitation(scope_a, target)
    if case == "expired":
        db[dbmod.INVITATIONS].update_one({"_id": target}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    before = list(db[dbmod.INVITATIONS].find().sort("_id", 1))
    audits = db[dbmod.AUDIT_LOG].count_documents({"action": "user.invite_revoked"})
    with pytest.raises(auth.AuthError, match=message):
        auth.revoke_invitation(scope_a, target)
    assert list(db[dbmod.INVITATIONS].find().sort("_id", 1)) == before
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "user.invite_revoked"}) == audits
    assert [p.email for p in auth.pending_invitations(auth.scope_for(db, admin_b))] == ["olga@b.test"]


def test_only_admins_see_and_withdraw_invitations(db, two_orgs):
    admin_a, recruiter_a, _ = two_orgs
    auth.invite(auth.scope_for(db, admin_a), "sam@a.test")
    scope = auth.scope_for(db, recruiter_a)
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.revoke_invitation(scope, invitation_id(db, "sam@a.test"))
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.pending_invitations(scope)
    assert [p.email for p in auth.pending_invitations(auth.scope_for(db, admin_a))] == ["sam@a.test"]


# ---------------------------------------------------------------- logging in


def test_authenticate_accepts_the_right_password_only(db):
    admin = register_admin(db)
    assert auth.authenticate(db, "ada@acme.test", PASSWORD).id == admin.id
    with pytest.raises(auth.AuthError, match=r"^Email or password is incorrect$"):
        auth.authenticate(db, "ada@acme.test", PASSWORD + "x")


def test_unknown_email_gets_the_same_message_and_does_the_same_work(db, monkeypatch):
    register_admin(db)
    checked = []
    real_checkpw = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, hashed: checked.append(hashed) or real_checkpw(pw, hashed))
    with pytest.raises(auth.AuthError) as unknown:
        auth.authenticate(db, "nobody@acme.test", PASSWORD)
    with pytest.raises(auth.AuthError) as wrong:
        auth.authenticate(db, "ada@acme.test", "not-the-password-1")
    assert str(unknown.value) == str(wrong.value) == "Email or password is incorrect"
    # bcrypt ran for the unknown email too, against a hash of the same cost
    assert len(checked) == 2 and checked[0][:7] == checked[1][:7] == b"$2b$04$"


def test_inactive_user_is_refused(db):
    admin = register_admin(db)
    recruiter = join(db, admin, "rita@acme.test")
    auth.set_active(auth.scope_for(db, admin), recruiter.id, False)
    with pytest.raises(auth.AuthError, match="deactivated"):
        auth.authenticate(db, "rita@acme.test", PASSWORD)
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, "rita@acme.test", "wrong-guess-123")


def fail(db, email, times, client_key="", device=""):
    for _ in range(times):
        with pytest.raises(auth.AuthError, match="incorrect"):
            auth.authenticate(db, email, "wrong-guess-123", client_key=client_key, device=device)


def wait_out(db):
    """The delays run out (the clock moved on)."""
    db[dbmod.LOGIN_THROTTLE].update_many({}, {"$set": {"locked_until": utcnow() - timedelta(milliseconds=1)}})


def test_delays_grow_after_the_free_tries_and_cap_at_fifteen_minutes():
    assert [throttle.delay_after(n).total_seconds() for n in range(1, 9)] == [0, 0, 0, 1, 2, 4, 8, 16]
    assert throttle.delay_after(14) == throttle.delay_after(10_000) == timedelta(minutes=15)


def test_an_attacker_cannot_lock_the_owner_out(db):
    """The attack: wrong passwords for someone else's account, from one
    client. Before, five of them locked the owner out for 15 minutes even
    with the right password."""
    register_admin(db)
    fail(db, "ada@acme.test", throttle.FREE_FAILURES, client_key="attacker")
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, "ada@acme.test", "wrong-guess-123", client_key="attacker")
    for _ in range(6):  # the attacker keeps going as each delay runs out
        wait_out(db)
        fail(db, "ada@acme.test", 1, client_key="attacker")
    # The owner, from their own browser, gets in at once.
    assert auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="owner").email == "ada@acme.test"
    # The attacker is still delayed, even with the right password, and the
    # delay has grown (2**6 s after 10 failures in a row).
    with pytest.raises(auth.LoginThrottled) as throttled:
        auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="attacker")
    assert 32 < throttled.value.retry_after_seconds <= 64
    assert "Try again in 2 minutes" in str(throttled.value)
    # Refused attempts are not guesses: they neither count nor extend the delay.
    pair = db[dbmod.LOGIN_THROTTLE].find_one({"_id": {"$regex": "ip:attacker$"}})
    assert pair["failures"] == throttle.FREE_FAILURES + 7


def test_the_first_delay_is_a_second_and_the_message_says_so(db):
    register_admin(db)
    fail(db, "ada@acme.test", throttle.FREE_FAILURES + 1, client_key="c1")
    with pytest.raises(auth.LoginThrottled, match="Try again in 1 second") as throttled:
        auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="c1")
    assert throttled.value.retry_after_seconds == 1


def test_a_success_forgets_the_pairs_failures(db):
    register_admin(db)
    for _ in range(3):
        fail(db, "ada@acme.test", throttle.FREE_FAILURES, client_key="c1")
        assert auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="c1")
    assert db[dbmod.LOGIN_THROTTLE].count_documents({}) == 0


def test_failures_are_forgotten_a_day_after_the_last(db):
    register_admin(db)
    fail(db, "ada@acme.test", throttle.FREE_FAILURES + 1, client_key="c1")
    wait_out(db)
    fail(db, "ada@acme.test", 1, client_key="c1")
    db[dbmod.LOGIN_THROTTLE].update_many(
        {}, {"$set": {"last_failure_at": utcnow() - throttle.FAILURE_MEMORY, "locked_until": utcnow()}}
    )
    fail(db, "ada@acme.test", throttle.FREE_FAILURES, client_key="c1")  # free again
    assert auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="c1")


def test_old_entries_go_including_the_old_throttles_keys_with_emails(db):
    """The throttle before this one stored 'account:<email>' keys."""
    old = utcnow() - timedelta(hours=2)
    db[dbmod.LOGIN_FAILURES].insert_many([{"key": "account:ada@acme.test", "at": old}, {"key": "client:x", "at": old}])
    fail(db, "nobody@acme.test", 1, client_key="c1")
    assert [doc["key"] for doc in db[dbmod.LOGIN_FAILURES].find({})] == ["client:c1"]


def test_unknown_accounts_are_throttled_too(db):
    fail(db, "nobody@acme.test", throttle.FREE_FAILURES + 1, client_key="c1")
    with pytest.raises(auth.LoginThrottled):
        auth.authenticate(db, "nobody@acme.test", PASSWORD, client_key="c1")


def test_concurrent_guesses_from_one_client_are_not_checked_in_parallel(db, monkeypatch):
    """The second guess arrives while the first is being checked: refused,
    not checked alongside it."""
    register_admin(db)
    inner = []
    original = auth._password_matches

    def slow_check(password, password_hash):
        if not inner:
            inner.append(True)
            with pytest.raises(auth.LoginThrottled):
                auth.authenticate(db, "ada@acme.test", "parallel-guess-1", client_key="attacker")
        return original(password, password_hash)

    monkeypatch.setattr(auth, "_password_matches", slow_check)
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, "ada@acme.test", "first-guess-1", client_key="attacker")
    assert auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="attacker")


def test_one_client_guessing_many_accounts_meets_its_ceiling(db):
    register_admin(db, email="mallory@acme.test")
    register_admin(db, org="Owner", email="owen@owner.test")
    per_victim = throttle.FREE_FAILURES  # stays under every pair's delay
    victims = throttle.CLIENT_FAILURE_LIMIT // per_victim
    for index in range(victims):
        fail(db, f"victim{index}@acme.test", per_victim, client_key="attacker")
        if index < victims - 1:
            # logging into one's own account between rounds buys no more guesses
            auth.authenticate(db, "mallory@acme.test", PASSWORD, client_key="attacker")
    with pytest.raises(auth.LoginThrottled):
        auth.authenticate(db, "fresh-victim@acme.test", "guess-123456", client_key="attacker")
    with pytest.raises(auth.LoginThrottled):  # the ceiling stops the right password from that client too
        auth.authenticate(db, "mallory@acme.test", PASSWORD, client_key="attacker")
    # ... never from another client,
    assert auth.authenticate(db, "owen@owner.test", PASSWORD, client_key="someone-else").email
    # ... nor a browser with its own device token behind the attacker's address.
    device = throttle.device_token("owens-laptop", throttle.account_tag("owen@owner.test"))
    assert auth.authenticate(db, "owen@owner.test", PASSWORD, client_key="attacker", device=device).email
    ceiling = db[dbmod.AUDIT_LOG].find({"action": "auth.client_throttled"})
    assert [(e["organization_id"], e["details"]["client"]) for e in ceiling] == [(None, "attacker")]


def test_a_device_token_gets_the_owner_in_behind_the_attackers_address(db):
    """Attacker and owner share an address (an office, a NAT): the owner's
    browser, which logged in before, is its own client."""
    register_admin(db)
    device = throttle.device_token("adas-laptop", throttle.account_tag("ada@acme.test"))
    fail(db, "ada@acme.test", throttle.FREE_FAILURES + 1, client_key="office")
    with pytest.raises(auth.LoginThrottled):  # from the shared address without the token: delayed
        auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="office")
    assert auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="office", device=device).email


def test_a_device_token_of_another_account_is_just_the_address(db):
    register_admin(db)
    mallory = throttle.device_token("mallorys-laptop", throttle.account_tag("mallory@evil.test"))
    fail(db, "ada@acme.test", throttle.FREE_FAILURES + 1, client_key="office", device=mallory)
    with pytest.raises(auth.LoginThrottled):
        auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="office", device=mallory)


def test_a_flood_of_sign_ups_from_one_client_is_throttled(db):
    """Each sign-up costs a bcrypt and writes an organisation: before, a
    client could make as many as it liked."""
    for n in range(throttle.REGISTRATION_LIMIT):
        register_admin(db, org=f"Spam {n}", email=f"spam{n}@spam.test", client_key="flood")
    with pytest.raises(auth.RegistrationThrottled, match="Too many sign-ups"):
        register_admin(db, org="Spam more", email="more@spam.test", client_key="flood")
    # joining with an invitation counts too
    admin = register_admin(db, org="Real", email="ada@real.test", client_key="elsewhere")
    token = auth.invite(auth.scope_for(db, admin), "rita@real.test")
    with pytest.raises(auth.RegistrationThrottled):
        auth.register(
            db, email="rita@real.test", full_name="Rita", password=PASSWORD, invitation_token=token, client_key="flood"
        )
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == throttle.REGISTRATION_LIMIT + 1
    # another client signs up as usual
    assert auth.register(
        db, email="rita@real.test", full_name="Rita", password=PASSWORD, invitation_token=token, client_key="rita"
    )
    [reached] = db[dbmod.AUDIT_LOG].find({"action": "auth.registration_limit_reached"})
    assert (reached["organization_id"], reached["details"]) == (None, {"client": "flood"})


# ---------------------------------------------------------------- who the client is


@pytest.mark.parametrize(
    ("forwarded", "hops", "client"),
    [
        (["203.0.113.7"], 1, "203.0.113.7"),
        (["6.6.6.6, 203.0.113.7"], 1, "203.0.113.7"),  # a spoofed left-most entry is ignored
        (["6.6.6.6", "203.0.113.7"], 1, "203.0.113.7"),  # two headers are one list
        (["6.6.6.6, 203.0.113.7, 10.0.0.2"], 2, "203.0.113.7"),
        (["203.0.113.7"], 2, "203.0.113.7"),  # fewer entries than proxies: the outermost one's
        ([], 1, "10.0.0.1"),
    ],
)
def test_the_client_is_the_right_most_entry_no_trusted_proxy_wrote(forwarded, hops, client):
    got = throttle.client_address("10.0.0.1", forwarded, trust_proxy=True, proxy_hops=hops)
    assert got == client
    assert throttle.client_address("10.0.0.1", forwarded, trust_proxy=False, proxy_hops=hops) == "10.0.0.1"


def test_client_keys_are_hmacs_and_an_ipv6_host_is_its_slash_64():
    secret = b"s"
    key = throttle.client_key("203.0.113.7", secret)
    assert len(key) == 32 and "203" not in key
    assert key != throttle.client_key("203.0.113.8", secret) != throttle.client_key("203.0.113.7", b"t")
    assert throttle.client_key("2001:db8::1", secret) == throttle.client_key("2001:db8::ffff:1", secret)
    assert throttle.client_key("2001:db8::1", secret) != throttle.client_key("2001:db8:0:1::1", secret)
    assert throttle.client_key("::ffff:203.0.113.7", secret) == key
    assert throttle.client_key(None, secret) == throttle.client_key("", secret) == ""


# ---------------------------------------------------------------- the audit log


def test_logins_and_failures_are_audited_without_emails_or_passwords(db):
    admin = register_admin(db)
    fail(db, "ada@acme.test", throttle.FREE_FAILURES + 1, client_key="c1")
    fail(db, "Nobody@Acme.test", 1, client_key="c1")
    wait_out(db)
    auth.authenticate(db, "ada@acme.test", PASSWORD, client_key="c2")
    entries = list(db[dbmod.AUDIT_LOG].find({"action": {"$regex": "^auth\\."}}).sort([("at", 1), ("_id", 1)]))
    assert [e["action"] for e in entries] == ["auth.login_failed"] * 4 + [
        "auth.login_throttled",
        "auth.login_failed",
        "auth.login",
    ]
    known, unknown, login = entries[0], entries[-2], entries[-1]
    assert (known["organization_id"], known["target_id"]) == (admin.organization_id, str(admin.id))
    assert known["details"] == {"account": throttle.account_tag("ada@acme.test"), "client": "c1", "failures": 1}
    assert entries[4]["details"]["delay_seconds"] == 1
    assert (unknown["organization_id"], unknown["target_id"], unknown["actor_id"]) == (None, None, None)
    assert unknown["details"]["account"] == throttle.account_tag("nobody@acme.test")
    assert (login["actor_id"], login["details"]) == (admin.id, {"client": "c2", "device": False})
    dumped = str(entries).lower()
    assert "nobody" not in dumped and "ada@" not in dumped and "wrong-guess" not in dumped


# ---------------------------------------------------------------- sessions


def test_session_lives_until_it_ends(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7)
    assert auth.user_for_session(db, token).id == admin.id
    assert db[dbmod.SESSIONS].count_documents({"session_hash": token}) == 0  # stored hashed only
    auth.end_session(db, token)
    assert auth.user_for_session(db, token) is None
    auth.end_session(db, token)  # harmless twice


def test_session_expires(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7)
    db[dbmod.SESSIONS].update_many({}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    assert auth.user_for_session(db, token) is None


def test_a_session_ends_after_hours_without_use(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7)
    db[dbmod.SESSIONS].update_many({}, {"$set": {"last_seen_at": utcnow() - timedelta(hours=7, minutes=59)}})
    assert auth.user_for_session(db, token, idle_hours=8).id == admin.id  # used just in time: lives on
    db[dbmod.SESSIONS].update_many({}, {"$set": {"last_seen_at": utcnow() - timedelta(hours=8, seconds=1)}})
    assert auth.user_for_session(db, token, idle_hours=8) is None


def test_the_idle_timeout_is_a_setting(db, monkeypatch):
    from hiremate.settings import get_settings

    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7)
    db[dbmod.SESSIONS].update_many({}, {"$set": {"last_seen_at": utcnow() - timedelta(minutes=61)}})
    assert auth.user_for_session(db, token).id == admin.id  # 8 hours by default
    db[dbmod.SESSIONS].update_many({}, {"$set": {"last_seen_at": utcnow() - timedelta(minutes=61)}})
    monkeypatch.setenv("HIREMATE_SESSION_IDLE_HOURS", "1")
    get_settings.cache_clear()
    try:
        assert auth.user_for_session(db, token) is None
    finally:
        get_settings.cache_clear()


def test_use_is_written_at_most_once_a_minute(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7)

    def last_seen():
        return db[dbmod.SESSIONS].find_one({})["last_seen_at"]

    started = last_seen()
    for _ in range(5):
        assert auth.user_for_session(db, token).id == admin.id
    assert last_seen() == started  # no write per rerun
    a_while_ago = utcnow() - auth.TOUCH_INTERVAL - timedelta(seconds=1)
    db[dbmod.SESSIONS].update_many({}, {"$set": {"last_seen_at": a_while_ago}})
    auth.user_for_session(db, token, touch=False)  # a timer's run is not use
    assert last_seen() == a_while_ago
    auth.user_for_session(db, token)
    assert last_seen() > a_while_ago + auth.TOUCH_INTERVAL


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_unknown_session_tokens_open_nothing(db, token):
    register_admin(db)
    assert auth.user_for_session(db, token) is None


def test_the_hand_over_goes_to_the_browser_that_logged_in_once_under_a_fresh_token(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7, handover="nonce-of-adas-browser", next_path="/tasks")
    assert auth.complete_handover(db, "nonce-of-another-browser") is None
    assert auth.complete_handover(db, "") is None
    handed = auth.complete_handover(db, "nonce-of-adas-browser")
    assert (handed.next_path, handed.user.id) == ("/tasks", admin.id)
    assert handed.token != token  # a fresh session id at login
    assert auth.user_for_session(db, token) is None
    assert auth.user_for_session(db, handed.token).id == admin.id
    assert auth.complete_handover(db, "nonce-of-adas-browser") is None  # once only
    stored = str(list(db[dbmod.SESSIONS].find()))
    assert "nonce-of-adas-browser" not in stored and handed.token not in stored


def test_a_session_without_a_hand_over_cannot_be_handed_over(db):
    admin = register_admin(db)
    auth.start_session(db, admin, days=7)
    assert auth.complete_handover(db, "anything") is None


def test_the_hand_over_is_refused_after_its_window(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7, handover="n1")
    db[dbmod.SESSIONS].update_many(
        {}, {"$set": {"created_at": utcnow() - timedelta(seconds=auth.HANDOVER_SECONDS + 1)}}
    )
    assert auth.complete_handover(db, "n1") is None
    assert auth.user_for_session(db, token).id == admin.id  # the tab's own login stands


def test_logging_out_is_audited_once(db):
    admin = register_admin(db)
    token = auth.start_session(db, admin, days=7)
    auth.end_session(db, token)
    auth.end_session(db, token)
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "auth.logout"})
    assert (entry["organization_id"], entry["actor_id"], entry["target_id"]) == (
        admin.organization_id,
        admin.id,
        str(admin.id),
    )


# ---------------------------------------------------------------- team administration


@pytest.fixture
def two_orgs(db):
    """Org A: an admin and a recruiter. Org B: an admin."""
    admin_a = register_admin(db, org="Org A", email="ada@a.test")
    recruiter_a = join(db, admin_a, "rita@a.test")
    admin_b = register_admin(db, org="Org B", email="bob@b.test")
    return admin_a, recruiter_a, admin_b


def test_list_users_shows_only_the_organisation(db, two_orgs):
    admin_a, recruiter_a, admin_b = two_orgs
    assert [u.email for u in auth.list_users(auth.scope_for(db, admin_a))] == ["ada@a.test", "rita@a.test"]
    assert [u.email for u in auth.list_users(auth.scope_for(db, admin_b))] == ["bob@b.test"]
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.list_users(auth.scope_for(db, recruiter_a))


@pytest.mark.parametrize(
    "action",
    [
        lambda scope, uid: auth.set_active(scope, uid, False),
        lambda scope, uid: auth.set_role(scope, uid, Role.ADMIN),
        lambda scope, uid: auth.reset_password(scope, uid, "taken-over-123"),
    ],
    ids=["deactivate", "promote", "reset"],
)
def test_an_admin_never_reaches_another_organisation(db, two_orgs, action):
    _, recruiter_a, admin_b = two_orgs
    before = db[dbmod.USERS].find_one({"_id": recruiter_a.id})
    for user_id in (recruiter_a.id, str(recruiter_a.id)):
        with pytest.raises(auth.AuthError, match="No such user"):
            action(auth.scope_for(db, admin_b), user_id)
    assert db[dbmod.USERS].find_one({"_id": recruiter_a.id}) == before
    assert db[dbmod.AUDIT_LOG].count_documents({"organization_id": admin_b.organization_id, "target_type": "user"}) == 0


@pytest.mark.parametrize("user_id", ["garbage", ObjectId()])
def test_unknown_user_ids_are_not_found(db, two_orgs, user_id):
    admin_a, _, _ = two_orgs
    with pytest.raises(auth.AuthError, match="No such user"):
        auth.set_role(auth.scope_for(db, admin_a), user_id, Role.ADMIN)


def test_recruiters_cannot_administer(db, two_orgs):
    admin_a, recruiter_a, _ = two_orgs
    scope = auth.scope_for(db, recruiter_a)
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.set_role(scope, recruiter_a.id, Role.ADMIN)
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.reset_password(scope, admin_a.id, "taken-over-123")
    with pytest.raises(auth.AuthError, match="Only an admin"):
        auth.set_active(scope, admin_a.id, False)


def test_deactivation_ends_sessions_and_is_audited(db, two_orgs):
    admin_a, recruiter_a, _ = two_orgs
    token = auth.start_session(db, recruiter_a, days=7)
    assert auth.set_active(auth.scope_for(db, admin_a), recruiter_a.id, False).is_active is False
    assert auth.user_for_session(db, token) is None
    assert auth.set_active(auth.scope_for(db, admin_a), recruiter_a.id, True).is_active is True
    assert auth.user_for_session(db, token) is None  # reactivation does not revive old sessions
    actions = [e["action"] for e in db[dbmod.AUDIT_LOG].find({"target_id": str(recruiter_a.id)}).sort("at", 1)]
    assert actions == ["user.join", "user.deactivate", "user.activate"]


def test_role_change(db, two_orgs):
    admin_a, recruiter_a, _ = two_orgs
    scope = auth.scope_for(db, admin_a)
    promoted = auth.set_role(scope, recruiter_a.id, Role.ADMIN)
    assert promoted.role == Role.ADMIN
    assert auth.scope_for(db, promoted).is_admin
    assert auth.set_role(scope, admin_a.id, Role.RECRUITER).role == Role.RECRUITER  # another admin remains


def test_an_organisation_keeps_an_active_admin(db, two_orgs):
    admin_a, _, _ = two_orgs
    scope = auth.scope_for(db, admin_a)
    with pytest.raises(auth.AuthError, match="at least one active admin"):
        auth.set_role(scope, admin_a.id, Role.RECRUITER)
    with pytest.raises(auth.AuthError, match="your own account"):
        auth.set_active(scope, admin_a.id, False)
    assert db[dbmod.USERS].find_one({"_id": admin_a.id})["role"] == "admin"


def test_reset_password(db, two_orgs):
    admin_a, recruiter_a, _ = two_orgs
    scope = auth.scope_for(db, admin_a)
    token = auth.start_session(db, recruiter_a, days=7)
    with pytest.raises(auth.AuthError, match="too weak"):
        auth.reset_password(scope, recruiter_a.id, "short")
    auth.reset_password(scope, recruiter_a.id, "a-fresh-secret-5")
    assert auth.user_for_session(db, token) is None
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, "rita@a.test", PASSWORD)
    rita = auth.authenticate(db, "rita@a.test", "a-fresh-secret-5")
    assert rita.id == recruiter_a.id and rita.must_change_password  # the admin knows it
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "user.password_reset"}) == 1
    auth.change_password(db, rita, "a-fresh-secret-5", "ritas-own-secret-6")
    assert not auth.authenticate(db, "rita@a.test", "ritas-own-secret-6").must_change_password


# ---------------------------------------------------------------- one's own password


def test_changing_ones_password_logs_out_every_other_session(db, two_orgs):
    _, rita, _ = two_orgs
    here, laptop, phone = (auth.start_session(db, rita, days=7) for _ in range(3))
    changed = auth.change_password(db, rita, PASSWORD, "a-brand-new-one-8", keep_token=here)
    assert changed.id == rita.id
    assert auth.user_for_session(db, here).id == rita.id
    assert auth.user_for_session(db, laptop) is None and auth.user_for_session(db, phone) is None
    assert auth.authenticate(db, "rita@a.test", "a-brand-new-one-8").id == rita.id
    with pytest.raises(auth.AuthError, match="incorrect"):
        auth.authenticate(db, "rita@a.test", PASSWORD)
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "user.password_changed"})
    assert (entry["actor_id"], entry["organization_id"], entry["details"]) == (
        rita.id,
        rita.organization_id,
        {"sessions_ended": 2},
    )


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("not-my-password-1", "a-brand-new-one-8", "current password is not correct"),
        (PASSWORD, PASSWORD, "not the current one"),
        (PASSWORD, "short", "at least 10 characters"),
        (PASSWORD, "rita@a.test", "email address"),
    ],
)
def test_a_password_change_needs_the_current_password_and_a_good_new_one(db, two_orgs, current, new, message):
    _, rita, _ = two_orgs
    token = auth.start_session(db, rita, days=7)
    before = db[dbmod.USERS].find_one({"_id": rita.id})["password_hash"]
    with pytest.raises(auth.AuthError, match=message):
        auth.change_password(db, rita, current, new)
    assert db[dbmod.USERS].find_one({"_id": rita.id})["password_hash"] == before
    assert auth.user_for_session(db, token).id == rita.id


def test_guessing_the_current_password_is_throttled_like_a_login(db, two_orgs):
    """Someone at an unlocked, signed-in browser cannot guess at the password freely."""
    _, rita, _ = two_orgs
    for _ in range(throttle.FREE_FAILURES + 1):
        with pytest.raises(auth.AuthError, match="not correct"):
            auth.change_password(db, rita, "guess-123456", "a-brand-new-one-8", client_key="intruder")
    with pytest.raises(auth.LoginThrottled):
        auth.change_password(db, rita, PASSWORD, "a-brand-new-one-8", client_key="intruder")
    failed = db[dbmod.AUDIT_LOG].count_documents({"action": "user.password_change_failed"})
    assert failed == throttle.FREE_FAILURES + 1
