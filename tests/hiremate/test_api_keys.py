"""API keys (hiremate/api_keys.py): made by admins, shown once, stored as a
hash, refused once revoked, scoped to their organisation, audited by id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bson import ObjectId

from hiremate import api_keys, auth, dashboard
from hiremate import attempts as attemptsmod
from hiremate import db as dbmod
from hiremate import tasks as tasksmod
from hiremate.errors import ApiKeyError
from hiremate.models import CandidateInfo, Role
from hiremate.ops import simulate
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

PASSWORD = "correct horse battery staple 42"


def member(db, org_name: str, role: Role) -> Scope:
    organization = auth.create_organization(db, org_name)
    user = auth.create_user(
        db,
        email=f"{role}@{organization.slug}.example.com",
        full_name=f"{role.title()} of {org_name}",
        password=PASSWORD,
        organization_id=organization.id,
        role=role,
    )
    return auth.scope_for(db, user)


@pytest.fixture
def admin(db):
    return member(db, "Acme Hiring", Role.ADMIN)


def test_a_key_is_shown_once_and_only_its_hash_is_stored(db, admin):
    public, plaintext = api_keys.create(admin, "  ATS   sync ", "write")
    assert plaintext.startswith("hmk_") and len(plaintext) > 40
    assert public.name == "ATS sync" and public.access == "write" and plaintext.startswith(public.prefix)
    stored = db[dbmod.API_KEYS].find_one({"_id": ObjectId(public.id)})
    assert plaintext not in str(stored) and stored["key_hash"] == api_keys.hash_key(plaintext)
    assert "key_hash" not in public.model_dump()
    listed = api_keys.list_keys(admin)
    assert [key.id for key in listed] == [public.id] and listed[0].last_used_at is None
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "api_key.created"})
    assert entry["target_id"] == public.id and "ATS" not in str(entry["details"])


def test_authenticate_names_the_organisation_and_access_and_refuses_the_rest(db, admin):
    public, plaintext = api_keys.create(admin, "reader")
    principal = api_keys.authenticate(db, plaintext)
    assert principal.organization_id == admin.organization_id and str(principal.key_id) == public.id
    assert principal.access == "read" and not principal.may_write
    for wrong in (None, "", "hmk_" + "x" * 43, plaintext[:-1], plaintext + "x", "Bearer " + plaintext):
        assert api_keys.authenticate(db, wrong) is None
    api_keys.revoke(admin, public.id)
    assert api_keys.authenticate(db, plaintext) is None
    with pytest.raises(ApiKeyError, match="revoked already"):
        api_keys.revoke(admin, public.id)
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "api_key.revoked", "target_id": public.id}) == 1


def test_last_used_is_written_at_most_once_a_minute(db, admin):
    public, plaintext = api_keys.create(admin, "busy")
    now = utcnow()
    api_keys.authenticate(db, plaintext, now=now)
    first = api_keys.get_key(admin, public.id).last_used_at
    api_keys.authenticate(db, plaintext, now=now + timedelta(seconds=30))
    assert api_keys.get_key(admin, public.id).last_used_at == first
    api_keys.authenticate(db, plaintext, now=now + timedelta(seconds=61))
    assert api_keys.get_key(admin, public.id).last_used_at > first


def test_only_admins_manage_keys_and_only_their_organisation_s(db, admin):
    recruiter = member(db, "Acme Two", Role.RECRUITER)
    with pytest.raises(ApiKeyError, match="Only an admin"):
        api_keys.create(recruiter, "mine")
    public, _ = api_keys.create(admin, "theirs")
    other_admin = member(db, "Other Corp", Role.ADMIN)
    assert api_keys.list_keys(other_admin) == []
    with pytest.raises(ApiKeyError, match="No API key"):
        api_keys.revoke(other_admin, public.id)
    for bad_name, bad_access in (("   ", "read"), ("x" * 101, "read"), ("ok", "admin")):
        with pytest.raises(ApiKeyError, match="Invalid API key"):
            api_keys.create(admin, bad_name, bad_access)


def test_what_a_key_did_is_shown_as_the_key_on_the_dashboard(db, admin):
    public, plaintext = api_keys.create(admin, "Greenhouse", "write")
    scope = api_keys.authenticate(db, plaintext).scope(db)
    task = tasksmod.create_task(
        admin,
        simulate.make_tasks(__import__("random").Random(1), 1)[0].model_dump(include=set(tasksmod.AUTHORED_FIELDS)),
    )
    candidate = CandidateInfo(name="Ann Lee", email="ann@example.com", position="Analyst")
    attemptsmod.issue_attempt(scope, candidate=candidate, task_ids=[task.id], public_url="http://x")
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "attempt.issued"})
    assert entry["actor_id"] is None and entry["details"]["via"] == f"api_key:{public.id}"
    [item] = [item for item in dashboard.recent_activity(admin) if item.kind == "issued"]
    assert item.actor == "API key Greenhouse"
