"""``python -m hiremate issue --kit NAME_OR_ID``: a kit of the organisation by
name or id, recorded on the attempt; a kit that cannot be issued, or another
organisation's, refused with one line and exit code 2."""

from __future__ import annotations

import json

from bson import ObjectId

from hiremate import db as dbmod
from hiremate import kits
from hiremate.models import Organization
from hiremate.ops.demo import DEMO_ORG_SLUG, seed_demo
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY
from hiremate.tasks import create_task, soft_delete_task
from tests.hiremate.ops.test_cli import _fast_bcrypt, cli, env, hiremate, one_error_line  # noqa: F401

PASSWORD = "demo-pass-1234"
ISSUE = ("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com")


def demo_scope(db) -> Scope:
    seed_demo(db, PASSWORD)
    organization = Organization.from_doc(db[dbmod.ORGANIZATIONS].find_one({"slug": DEMO_ORG_SLUG}))
    return Scope(db, organization.id, None, is_admin=True)


def test_issue_with_a_kit_by_name_or_id_records_it(db, hiremate):  # noqa: F811
    scope = demo_scope(db)
    task_ids = [doc["_id"] for doc in db[dbmod.TASKS].find({}).sort("_id", 1).limit(2)]
    kit = kits.create_kit(scope, {"name": "Analyst screen", "task_ids": task_ids[::-1]})
    for reference in ("analyst screen", str(kit.id)):
        result = hiremate(*ISSUE, "--kit", reference)
        assert result.returncode == 0, result.stderr
        doc = db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(json.loads(result.stdout)["attempt_id"])})
        assert (doc["kit_id"], doc["task_ids"]) == (kit.id, task_ids[::-1])


def test_a_kit_that_cannot_be_issued_or_is_not_found_is_refused(db, cli):  # noqa: F811
    scope = demo_scope(db)
    task = db[dbmod.TASKS].find_one({})
    kits.create_kit(scope, {"name": "Broken", "task_ids": [task["_id"]]})
    soft_delete_task(scope, task["_id"])
    other = Scope(db, ObjectId(), None)
    create_task(other, next(iter(LIBRARY.values())))
    theirs = kits.create_kit(other, {"name": "Theirs", "sampling": {"count": 1}})
    before = db[dbmod.ATTEMPTS].count_documents({})
    for reference, message in [
        ("Broken", "The kit “Broken” cannot be issued: 1 task is deleted"),
        ("Nope", "No assessment kit named or with id “Nope”"),
        (str(ObjectId()), "No assessment kit named or with id"),
        ("Theirs", "No assessment kit named or with id “Theirs”"),
        (str(theirs.id), "No assessment kit named or with id"),
    ]:
        result = cli(*ISSUE, "--kit", reference)
        assert result.returncode == 2 and message in one_error_line(result)
    result = cli(*ISSUE, "--kit", "Broken", "--sample", "1")
    assert result.returncode == 2 and "not allowed with argument" in one_error_line(result)
    assert db[dbmod.ATTEMPTS].count_documents({}) == before
