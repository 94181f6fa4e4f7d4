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
from hiremate.scope import Scope, audit
from hiremate.timeutil import utcnow
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


# ---------------------------------------------------------------- verify-audit, migrate-audit


def _chains(result) -> dict[str, dict]:
    return {line["chain"]: line for line in map(json.loads, result.stdout.splitlines())}


def _two_organisations(db):
    acme = auth.create_organization(db, "Acme", slug="acme")
    other = auth.create_organization(db, "Other", slug="other")
    for organization in (acme, other):
        scope = Scope(db, organization.id, ObjectId())
        for rows in range(3):
            scope.audit("export", "csv", None, kind="candidates", rows=rows)
    audit(db, "auth.login_failed", organization_id=None, account="ab" * 16, failures=1)
    return acme, other


def test_verify_audit_prints_each_chains_head(db, hiremate):  # noqa: F811
    acme, other = _two_organisations(db)
    result = hiremate("verify-audit")
    assert result.returncode == 0, result.stderr
    chains = _chains(result)
    assert list(chains) == ["system", *sorted([str(acme.id), str(other.id)])]
    newest = db[dbmod.AUDIT_LOG].find_one({"chain": str(acme.id)}, sort=[("seq", -1)])
    assert chains[str(acme.id)]["ok"] and chains[str(acme.id)]["entries"] == 3
    assert chains[str(acme.id)]["head"] == {"seq": 3, "hmac": newest["hmac"], "_id": str(newest["_id"])}
    assert chains["system"]["head"]["seq"] == 1

    one = hiremate("verify-audit", "--org", "acme")
    assert one.returncode == 0, one.stderr
    [line] = one.stdout.splitlines()
    assert json.loads(line) | {"head": None} == {
        "chain": str(acme.id),
        "organization": "acme",
        "ok": True,
        "entries": 3,
        "head": None,
        "problem": None,
    }
    by_id = hiremate("verify-audit", "--org", str(other.id))
    assert by_id.returncode == 0 and _chains(by_id)[str(other.id)]["entries"] == 3
    assert hiremate("verify-audit", "--org", "nowhere").returncode == 2


def test_verify_audit_names_an_edited_entry_and_leaves_other_chains_ok(db, hiremate):  # noqa: F811
    acme, other = _two_organisations(db)
    edited = db[dbmod.AUDIT_LOG].find_one({"chain": str(acme.id), "seq": 2})
    db[dbmod.AUDIT_LOG].update_one({"_id": edited["_id"]}, {"$set": {"details.rows": 0}})
    result = hiremate("verify-audit")
    assert result.returncode == 3
    assert f"audit chain {acme.id}: entry seq 2 (_id {edited['_id']})" in result.stderr
    chains = _chains(result)
    assert chains[str(acme.id)]["problem"]["_id"] == str(edited["_id"])
    assert chains[str(other.id)]["ok"] and chains["system"]["ok"]
    assert hiremate("verify-audit", "--org", "other").returncode == 0


def test_verify_audit_finds_a_removed_entry_and_the_head_shows_a_removed_newest(db, hiremate):  # noqa: F811
    acme, _ = _two_organisations(db)
    recorded = _chains(hiremate("verify-audit", "--org", "acme"))[str(acme.id)]["head"]
    newest = db[dbmod.AUDIT_LOG].find_one({"chain": str(acme.id), "seq": 3})
    db[dbmod.AUDIT_LOG].delete_one({"_id": newest["_id"]})
    found = hiremate("verify-audit", "--org", "acme")
    assert found.returncode == 3 and "entry 3 was removed" in found.stderr  # the chain's noted head tells
    db[dbmod.AUDIT_HEADS].delete_one({"_id": str(acme.id)})  # ...unless that is removed too:
    after = hiremate("verify-audit", "--org", "acme")
    assert after.returncode == 0  # what is left is intact...
    assert _chains(after)[str(acme.id)]["head"] != recorded  # ...and the head recorded elsewhere shows the loss

    middle = db[dbmod.AUDIT_LOG].find_one({"chain": str(acme.id), "seq": 1})
    db[dbmod.AUDIT_LOG].delete_one({"_id": middle["_id"]})
    result = hiremate("verify-audit", "--org", "acme")
    assert result.returncode == 3
    assert "entry seq 2" in result.stderr and "seq 1 missing" in result.stderr


def test_migrate_audit_chains_older_entries_then_they_verify(db, hiremate):  # noqa: F811
    acme = auth.create_organization(db, "Acme", slug="acme")
    for organization_id in (acme.id, acme.id, None):
        db[dbmod.AUDIT_LOG].insert_one(
            {"organization_id": organization_id, "actor_id": None, "action": "export", "target_type": None,
             "target_id": None, "at": utcnow(), "details": {"rows": 1}}
        )  # fmt: skip
    unchained = hiremate("verify-audit")
    assert unchained.returncode == 3 and "outside the chain" in unchained.stderr
    first = hiremate("migrate-audit")
    assert (first.returncode, json.loads(first.stdout)) == (0, {"chained": 3}), first.stderr
    assert json.loads(hiremate("migrate-audit").stdout) == {"chained": 0}
    verified = hiremate("verify-audit")
    assert verified.returncode == 0, verified.stderr
    assert {chain: line["entries"] for chain, line in _chains(verified).items()} == {"system": 1, str(acme.id): 2}
