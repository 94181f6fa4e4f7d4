"""What ``python -m hiremate`` does is in the audit log, by "the command line".

Found by attacking a running stack: ``create-user`` left no audit entry at all
(an admin could be added to any organisation without a trace), and ``issue``
recorded no actor, which the dashboard showed as "A former team member
issued…". Every command runs here as a real subprocess against the test
store (the ``hiremate`` fixture of test_cli.py).
"""

from __future__ import annotations

import json

from bson import ObjectId

from hiremate import auth, dashboard
from hiremate import db as dbmod
from hiremate.models import User
from hiremate.ops.demo import DEMO_ORG_SLUG, seed_demo
from hiremate.scope import Scope
from tests.hiremate.ops.test_cli import _fast_bcrypt, env, hiremate  # noqa: F401 - fixtures

PASSWORD = "a-long-passphrase-9\n"


def audit_entries(db, action: str) -> list[dict]:
    return list(db[dbmod.AUDIT_LOG].find({"action": action}).sort("_id", 1))


def test_create_user_is_audited_as_the_command_line(db, hiremate):  # noqa: F811
    result = hiremate("create-user", "--email", "mallory@acme.test", "--name", "Mallory", "--org", "Acme Hiring",
                      "--role", "admin", stdin=PASSWORD)  # fmt: skip
    assert result.returncode == 0, result.stderr
    organization = db[dbmod.ORGANIZATIONS].find_one({"slug": "acme-hiring"})
    user = db[dbmod.USERS].find_one({"email": "mallory@acme.test"})

    [created_org] = audit_entries(db, "organization.create")
    assert created_org["organization_id"] == organization["_id"]
    assert (created_org["actor_id"], created_org["target_id"]) == (None, str(organization["_id"]))
    assert created_org["details"] == {"via": "cli"}
    [created_user] = audit_entries(db, "user.create")
    assert created_user["organization_id"] == organization["_id"]
    assert (created_user["actor_id"], created_user["target_type"]) == (None, "user")
    assert created_user["target_id"] == str(user["_id"])
    assert created_user["details"] == {"via": "cli", "role": "admin"}

    # Into an organisation that exists: the user alone.
    again = hiremate("create-user", "--email", "max@acme.test", "--name", "Max", "--org", "acme-hiring", stdin=PASSWORD)
    assert again.returncode == 0, again.stderr
    assert len(audit_entries(db, "organization.create")) == 1
    second = audit_entries(db, "user.create")[1]
    assert (second["actor_id"], second["details"]) == (None, {"via": "cli", "role": "recruiter"})


def test_a_refused_create_user_leaves_no_audit_entry(db, hiremate):  # noqa: F811
    result = hiremate("create-user", "--email", "lin@acme.test", "--name", "Lin", "--org", "acme", stdin="short\n")
    assert result.returncode == 2
    assert db[dbmod.AUDIT_LOG].count_documents({}) == 0


def test_issue_is_audited_as_the_command_line_and_the_dashboard_says_so(db, hiremate):  # noqa: F811
    seed_demo(db, "demo-pass-1234")  # any password: this test never logs in
    result = hiremate("issue", "--candidate-name", "Ada Lovelace", "--candidate-email", "ada@example.com",
                      "--sample", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    attempt_id = json.loads(result.stdout)["attempt_id"]

    [issued] = [entry for entry in audit_entries(db, "attempt.issued") if entry["target_id"] == attempt_id]
    assert issued["actor_id"] is None and issued["details"]["via"] == "cli"
    organization = db[dbmod.ORGANIZATIONS].find_one({"slug": DEMO_ORG_SLUG})
    admin = auth.scope_for(db, User.from_doc(db[dbmod.USERS].find_one({"organization_id": organization["_id"]})))
    [item] = [item for item in dashboard.recent_activity(admin) if item.attempt_id == attempt_id]
    assert item.text == "The command line issued an assessment to Ada Lovelace"


def test_the_dashboard_names_recruiters_and_the_command_line_apart(db):
    """A recruiter's action still shows their name; an entry with no actor
    (recorded before the command line said ``via``) is the command line's,
    since nothing else acts without a user."""
    organization_id = ObjectId()
    attempt_id = ObjectId()
    db[dbmod.ATTEMPTS].insert_one(
        {"_id": attempt_id, "organization_id": organization_id, "candidate_info": {"name": "Grace"}}
    )
    user_id = db[dbmod.USERS].insert_one({"organization_id": organization_id, "full_name": "Rita Recruiter"})
    for scope in (
        Scope(db, organization_id, user_id.inserted_id),
        Scope(db, organization_id),  # an entry from before `via` was recorded
        Scope(db, organization_id, via="cli"),
    ):
        scope.audit("attempt.link_reissued", "attempt", attempt_id)
    actors = [item.actor for item in dashboard.recent_activity(Scope(db, organization_id))]
    assert sorted(actors) == ["Rita Recruiter", "The command line", "The command line"]
